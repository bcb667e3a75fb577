// SPDX-License-Identifier: MIT
/*
 * Fault guards (lib/fault_guard.h): a SIGSEGV/SIGBUS handler that turns a
 * fault inside a declared range into a jump back to the guarded access.
 *
 * sigsetjmp() with savemask 0 saves no mask, which keeps the guard free
 * of system calls; the handler runs with SA_NODEFER and unblocks the
 * signal before it jumps, so the signal is not left blocked after. Guards nest per thread. Faults the
 * guards do not cover go to the handler installed before ours: when that
 * was the default action, it is restored and the faulting instruction
 * runs again, so the process dies of the fault as it would have.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "lib/fault_guard.h"

static const int guarded_signals[] = { SIGSEGV, SIGBUS };

static struct sigaction previous[2];
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static __thread struct fault_guard *current __attribute__((tls_model("initial-exec")));

static int signal_index(int sig)
{
	return sig == SIGSEGV ? 0 : 1;
}

static void pass_on(int sig, siginfo_t *info, void *uctx)
{
	struct sigaction *old = &previous[signal_index(sig)];

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, info, uctx);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/* Default (or ignored, which a fault cannot be): fault again, and die of it. */
	signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
	struct fault_guard *g = current;
	uintptr_t addr = (uintptr_t)info->si_addr;

	if (g && addr >= g->start && addr - g->start < g->len) {
		sigset_t set;

		/*
		 * The mask is not restored by the jump; SA_NODEFER kept the
		 * signal unblocked, unless a runtime that wraps handlers
		 * (ThreadSanitizer's) dropped the flag: unblock it here, on
		 * the rare path, rather than saving masks on every guard.
		 */
		sigemptyset(&set);
		sigaddset(&set, sig);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		current = g->outer;
		siglongjmp(g->env, 1);
	}
	pass_on(sig, info, uctx);
}

void fault_guard_install(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct sigaction sa, cur;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&lock);
	for (unsigned int i = 0; i < 2; i++) {
		if (sigaction(guarded_signals[i], NULL, &cur) ||
		    ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault))
			continue;
		sigaction(guarded_signals[i], &sa, &previous[i]);
	}
	pthread_mutex_unlock(&lock);
}

static void install_first(void)
{
	fault_guard_install();
}

struct fault_guard *fault_guard_arm(struct fault_guard *g, uintptr_t start, size_t len)
{
	pthread_once(&install_once, install_first);
	g->start = start;
	g->len = len;
	g->outer = current;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	current = g;
	return g;
}

void fault_guard_leave(struct fault_guard *g)
{
	current = g->outer;
}
