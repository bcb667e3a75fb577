// SPDX-License-Identifier: MIT
/*
 * Description: a process using a file-backed namespace is killed. The
 * child loads a machine whose nvme0 has a namespace in a file (nsN-file,
 * the way a user configures it), drives it with the host driver, and
 * writes generations of 4 KiB blocks, telling the parent after each Flush
 * which generation is durable. The parent SIGKILLs it at a moment of its
 * choosing; a new machine over the same file then reads every block back:
 *
 *   killed at a random moment       every block holds the last flushed
 *                                   generation or the one being written
 *                                   (unflushed data may be lost), never
 *                                   anything else
 *   killed between write and flush  every block holds the flushed
 *                                   generation or the unflushed one
 *   killed between flush and exit   every block holds the flushed data
 *   exit after nvme_ctrl_remove()   the shutdown it does writes the cache
 *   without a Flush                 back: every block is there
 *
 * tests/nvme-emu/nvme-emu-durability.c covers the same rules one command
 * at a time with a raw driver that kills itself at chosen points; here the
 * kill comes from outside, in the middle of a stream of writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <hetmem/machine.h>
#include "../nvme-host/nvme-fixture.h"

#define NS_SIZE	 (4 << 20)
#define BLK	 4096
#define NBLOCKS	 256 /* 1 MiB of the namespace is written */
#define MAX_GENS 1000

struct ctx {
	char dir[64];
	char path[96];
	char config[512];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/hetmem-killed-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/nvme0n1.img", c->dir);
	snprintf(c->config, sizeof(c->config),
		 "[host-bridge hb0]\n"
		 "[root-port rp0]\nparent = hb0\n"
		 "[endpoint nvme0]\nparent = rp0\nmodel = nvme\n"
		 "ns1 = 4M\nns1-lba = 4096\nns1-file = %s\n",
		 c->path);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	unlink(c->path);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* A driven controller over the file. */
struct rig {
	struct machine *m;
	struct nvme_transport t;
	struct nvme_ctrl *ctrl;
	struct nvme_qpair *qp;
	struct nvme_ns *ns;
};

static int rig_up(struct rig *g, const struct ctx *c)
{
	char err[256] = "";

	memset(g, 0, sizeof(*g));
	g->m = machine_load_string(c->config, "killed", err, sizeof(err));
	if (IS_ERR_OR_NULL(g->m)) {
		fprintf(stderr, "machine: %s\n", err);
		return -1;
	}
	if (nvme_transport_emu_init(&g->t, machine_find(g->m, "nvme0")))
		return -1;
	g->ctrl = nvme_ctrl_probe(&g->t, NULL);
	if (IS_ERR(g->ctrl))
		return -1;
	g->qp = nvme_qpair_alloc(g->ctrl);
	g->ns = nvme_ctrl_ns(g->ctrl, 1);
	return IS_ERR(g->qp) || !g->ns ? -1 : 0;
}

static void rig_down(struct rig *g)
{
	nvme_qpair_free(g->qp);
	nvme_ctrl_remove(g->ctrl);
	nvme_transport_emu_fini(&g->t);
	machine_destroy(g->m);
}

/* Generation @gen of block @b; generation 0 is the zeroes of a fresh file. */
static void pattern(uint8_t *buf, uint32_t gen, uint32_t b)
{
	if (!gen)
		memset(buf, 0, BLK);
	else
		nfix_fill(buf, BLK, gen * 65536 + b);
}

static void report(int fd, uint32_t gen)
{
	if (write(fd, &gen, sizeof(gen)) != sizeof(gen))
		_exit(30);
}

enum mode {
	KILL_STREAM, /* keep writing and flushing generations until killed */
	KILL_UNFLUSHED, /* flush generation 1, write generation 2, wait to be killed */
	KILL_FLUSHED, /* write and flush generation 1, wait to be killed */
	EXIT_CLEAN, /* write without a flush, remove the controller, exit */
};

/* Reports carry a generation; this bit says "written, not flushed". */
#define UNFLUSHED 0x80000000u

/* The child: a failing step exits with a code instead of being killed. */
static void child(const struct ctx *c, enum mode mode, int fd)
{
	uint8_t *buf = nfix_alloc(BLK);
	struct rig g;

	if (rig_up(&g, c))
		_exit(20);
	for (uint32_t gen = 1; gen <= MAX_GENS; gen++) {
		for (uint32_t b = 0; b < NBLOCKS; b++) {
			pattern(buf, gen, b);
			if (nvme_write(g.ns, g.qp, buf, b, 1))
				_exit(21);
		}
		if (mode == EXIT_CLEAN) {
			/* No Flush: the shutdown in nvme_ctrl_remove() writes the cache back. */
			rig_down(&g);
			free(buf);
			report(fd, gen);
			_exit(0);
		}
		if (mode == KILL_UNFLUSHED && gen == 2) {
			report(fd, gen | UNFLUSHED);
			for (;;)
				pause();
		}
		if (nvme_flush(g.ns, g.qp))
			_exit(22);
		report(fd, gen);
		if (mode == KILL_FLUSHED)
			for (;;)
				pause();
	}
	_exit(23);
}

static uint32_t read_gen(int fd)
{
	uint32_t gen = 0;

	assert_int_equal(read(fd, &gen, sizeof(gen)), sizeof(gen));
	return gen;
}

/*
 * Run the child; for the killing modes kill it @delay_us after it reported
 * generation @after flushed. Returns the last generation it reported.
 */
static uint32_t run(const struct ctx *c, enum mode mode, uint32_t after, long delay_us)
{
	int p[2], status;
	uint32_t gen = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child(c, mode, p[1]);
	}
	close(p[1]);
	if (mode == EXIT_CLEAN) {
		gen = read_gen(p[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		close(p[0]);
		return gen;
	}
	while (gen < after)
		gen = read_gen(p[0]);
	if (delay_us)
		usleep((useconds_t)delay_us);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		fail_msg("child exited with %d before it was killed", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Generations flushed between our read and the kill count too. */
	{
		uint32_t more;

		while (read(p[0], &more, sizeof(more)) == sizeof(more))
			gen = more;
	}
	close(p[0]);
	return gen;
}

/*
 * Read every block in a fresh machine; each must hold a generation in
 * [@lo, @hi]. Returns how many hold @hi.
 */
static unsigned int check_blocks(const struct ctx *c, uint32_t lo, uint32_t hi)
{
	uint8_t *buf = nfix_alloc(BLK), want[BLK];
	unsigned int newest = 0;
	struct rig g;

	assert_int_equal(rig_up(&g, c), 0);
	for (uint32_t b = 0; b < NBLOCKS; b++) {
		bool found = false;

		assert_int_equal(nvme_read(g.ns, g.qp, buf, b, 1), 0);
		for (uint32_t gen = lo; gen <= hi && !found; gen++) {
			pattern(want, gen, b);
			if (!memcmp(buf, want, BLK)) {
				found = true;
				newest += gen == hi;
			}
		}
		if (!found)
			fail_msg("block %u holds none of generations %u-%u", b, lo, hi);
	}
	rig_down(&g);
	free(buf);
	return newest;
}

/* Killed at a random moment of a stream of writes and flushes: each block is g or g+1. */
static void test_killed_mid_stream(void **state)
{
	struct ctx *c = *state;
	struct timespec ts;
	uint32_t flushed;
	unsigned int newer;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	flushed = run(c, KILL_STREAM, 2, 1000 + ts.tv_nsec / 1000 % 20000);
	assert_true(flushed >= 2);
	newer = check_blocks(c, flushed, flushed + 1);
	print_message("killed after generation %u was flushed: %u of %u blocks of the next "
		      "generation were on the media (its Flush may have been under way)\n",
		      flushed, newer, NBLOCKS);
}

/* Killed after writing generation 2 and before flushing it: each block is 1 or 2. */
static void test_killed_between_write_and_flush(void **state)
{
	struct ctx *c = *state;
	unsigned int newer;

	assert_int_equal(run(c, KILL_UNFLUSHED, 2 | UNFLUSHED, 0), 2 | UNFLUSHED);
	newer = check_blocks(c, 1, 2);
	print_message("%u of %u unflushed blocks survived the kill\n", newer, NBLOCKS);
}

/* Killed after its Flush, before it exited: nothing is lost. */
static void test_killed_between_flush_and_exit(void **state)
{
	struct ctx *c = *state;
	uint32_t flushed = run(c, KILL_FLUSHED, 1, 0);

	assert_int_equal(flushed, 1);
	assert_int_equal(check_blocks(c, 1, 1), NBLOCKS);
}

/* No Flush, but a clean removal before exit: its shutdown makes everything durable. */
static void test_clean_exit_without_flush(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(run(c, EXIT_CLEAN, 0, 0), 1);
	assert_int_equal(check_blocks(c, 1, 1), NBLOCKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_killed_mid_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_between_write_and_flush, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_killed_between_flush_and_exit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_clean_exit_without_flush, setup, teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
