// SPDX-License-Identifier: MIT
/*
 * Unit test of the fault guards: a fault inside the declared range comes
 * back as an error, again and again on the same thread; nested guards;
 * faults outside every guard still kill the process, or reach the handler
 * the program installed first; threads guard independently.
 *
 * Not a cmocka test: cmocka installs its own SIGSEGV handler around each
 * test and restores the one before after it, replacing the guards'
 * handler between tests. Not in the Valgrind suite: memcheck reports each
 * caught fault as the invalid read it is.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fault_guard.h"

#define PAGE 4096UL

static int failed;

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, \
				__LINE__, __func__, #cond);                     \
			failed++;                                               \
		}                                                               \
	} while (0)

/* Reads [p, p + n) under a guard: 0 and the sum, or -1 when it faulted. */
static int guarded_sum(const volatile uint8_t *p, size_t n, unsigned long *sum)
{
	struct fault_guard g;

	if (fault_guard_enter(&g, (uintptr_t)p, n))
		return -1;
	*sum = 0;
	for (size_t i = 0; i < n; i++)
		*sum += p[i];
	fault_guard_leave(&g);
	return 0;
}

static uint8_t *map_pages(size_t n)
{
	uint8_t *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void test_fault_comes_back(void)
{
	uint8_t *p = map_pages(2);
	unsigned long sum = 0;

	memset(p, 1, 2 * PAGE);
	CHECK((guarded_sum(p, 2 * PAGE, &sum)) == 0);
	CHECK(sum == 2 * PAGE);
	CHECK((mprotect(p + PAGE, PAGE, PROT_NONE)) == 0);
	/* Many times over: the signal must not stay blocked after a jump. */
	for (int i = 0; i < 1000; i++)
		CHECK((guarded_sum(p, 2 * PAGE, &sum)) == -1);
	CHECK((guarded_sum(p, PAGE, &sum)) == 0);
	CHECK((sum) == PAGE);
	CHECK((munmap(p, 2 * PAGE)) == 0);
	/* Gone altogether, as after a racing munmap(). */
	CHECK((guarded_sum(p, PAGE, &sum)) == -1);
}

static void test_nested(void)
{
	uint8_t *p = map_pages(2);
	struct fault_guard outer;
	volatile int inner_faulted = 0;
	unsigned long sum;

	CHECK((mprotect(p + PAGE, PAGE, PROT_NONE)) == 0);
	if (fault_guard_enter(&outer, (uintptr_t)p, 2 * PAGE))
		CHECK(!"the inner guard's fault reached the outer one");
	inner_faulted = guarded_sum(p + PAGE, PAGE, &sum) == -1;
	fault_guard_leave(&outer);
	CHECK(inner_faulted);
	/* The outer guard catches what is outside the inner one. */
	if (fault_guard_enter(&outer, (uintptr_t)p, 2 * PAGE)) {
		munmap(p, 2 * PAGE);
		return;
	}
	(void)guarded_sum(p, PAGE, &sum);
	(void)*(volatile uint8_t *)(p + PAGE);
	fault_guard_leave(&outer);
	CHECK(!"a fault inside the outer guard came back");
}

/* Runs fn in a child; its wait status. */
static int in_child(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		exit(1);
	if (!pid) {
		fn();
		_exit(0);
	}
	CHECK((waitpid(pid, &status, 0)) == pid);
	return status;
}

static void fault_outside_guard(void)
{
	uint8_t *p = map_pages(2);
	struct fault_guard g;

	mprotect(p + PAGE, PAGE, PROT_NONE);
	if (fault_guard_enter(&g, (uintptr_t)p, PAGE))
		_exit(3); /* wrongly caught */
	(void)*(volatile uint8_t *)(p + PAGE);
	fault_guard_leave(&g);
}

static void test_fault_outside_kills(void)
{
	int status = in_child(fault_outside_guard);

	/* Killed by the fault (or by a sanitizer's report of it): never caught, never survived. */
	CHECK(!(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3)));
}

static void own_handler(int sig)
{
	(void)sig;
	_exit(42);
}

static void fault_with_own_handler(void)
{
	uint8_t *p = map_pages(1);
	unsigned long sum;

	signal(SIGSEGV, own_handler);
	mprotect(p, PAGE, PROT_NONE);
	if (guarded_sum(p, PAGE, &sum) != -1) /* installs the guards' handler */
		_exit(4);
	(void)*(volatile uint8_t *)p;
}

static void test_previous_handler_runs(void)
{
	int status = in_child(fault_with_own_handler);

	CHECK(WIFEXITED(status));
	CHECK((WEXITSTATUS(status)) == 42);
}

/* A handler installed after the guards' takes over until they install again. */
static void fault_after_reinstall(void)
{
	uint8_t *p = map_pages(1);
	unsigned long sum;

	mprotect(p, PAGE, PROT_NONE);
	if (guarded_sum(p, PAGE, &sum) != -1)
		_exit(4);
	signal(SIGSEGV, own_handler);
	fault_guard_install();
	fault_guard_install(); /* twice: the handler it keeps must not become itself */
	if (guarded_sum(p, PAGE, &sum) != -1)
		_exit(5);
	(void)*(volatile uint8_t *)p;
}

static void test_reinstall(void)
{
	int status = in_child(fault_after_reinstall);

	CHECK(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 42);
}

static void *fault_loop(void *arg)
{
	uint8_t *p = arg;
	unsigned long sum;
	long bad = 0;

	for (int i = 0; i < 2000; i++) {
		bad += guarded_sum(p, PAGE, &sum) != 0 || sum != PAGE; /* readable page */
		bad += guarded_sum(p + PAGE, PAGE, &sum) != -1;	       /* PROT_NONE page */
	}
	return (void *)bad;
}

static void test_threads(void)
{
	uint8_t *p = map_pages(2);
	pthread_t t[4];

	memset(p, 1, PAGE);
	CHECK((mprotect(p + PAGE, PAGE, PROT_NONE)) == 0);
	for (int i = 0; i < 4; i++)
		CHECK((pthread_create(&t[i], NULL, fault_loop, p)) == 0);
	for (int i = 0; i < 4; i++) {
		void *bad;

		CHECK((pthread_join(t[i], &bad)) == 0);
		CHECK(bad == NULL);
	}
	munmap(p, 2 * PAGE);
}

int main(void)
{
	/* Before any guard is armed: what the process had is what stays. */
	test_fault_outside_kills();
	test_previous_handler_runs();
	test_fault_comes_back();
	test_nested();
	test_threads();
	test_reinstall();
	printf("fault_guard_test: %s\n", failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}
