// SPDX-License-Identifier: MIT
/*
 * The interposer's foundation: the definitions it hides, the run it
 * belongs to, and fork.
 *
 * Nothing here runs at load time but a constructor that records it ran:
 * the run is set up by whichever hook is called first, possibly from
 * another library's constructor before ours. The re-entry guard is a
 * per-thread counter: the interposer's own calls into libc (mapping the
 * state, building the machine) go straight through while it is raised.
 *
 * fork(): a child must not use its parent's machine (the device models'
 * threads did not come along), so it builds its own on first use; the
 * fd table's and other locks are reset, liburcu's registry is told, and
 * p2pmem chunks the parent maps become the child's too.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include <hetmem/err.h>

#include "interpose.h"

struct hi_ctx hi_ctx;
__thread int hi_busy __attribute__((tls_model("initial-exec")));

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static bool run_on;
static bool urcu_forking;
static bool constructed;

REAL_SLOT(write);

void *hi_next(const char *name, void **slot)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!p) {
		p = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}

void hi_msg(int *once, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (once && __atomic_exchange_n(once, 1, __ATOMIC_RELAXED))
		return;
	n = snprintf(buf, sizeof(buf), "hetmem: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	REAL(write)(2, buf, (size_t)n);
}

/* --- fork --------------------------------------------------------------------------------- */


static void fork_prepare(void)
{
	hi_busy++;
	hi_p2pmem_atfork_prepare();
	urcu_forking = hi_inst_current() != NULL;
	if (urcu_forking)
		urcu_bp_before_fork();
}

static void fork_parent(void)
{
	if (urcu_forking)
		urcu_bp_after_fork_parent();
	hi_p2pmem_atfork_parent();
	hi_busy--;
}

static void fork_child(void)
{
	if (urcu_forking)
		urcu_bp_after_fork_child();
	hi_fd_atfork_child();
	hi_inst_atfork_child();
	hi_p2pmem_atfork_child();
	hi_aio_atfork_child();
	hi_busy--;
}

/* --- the run ---------------------------------------------------------------------------------- */

static void setup(void)
{
	static int warned;
	const char *dir = getenv(HI_ENV_RUN_DIR);
	struct hi_state *st;
	int n;

	hi_busy++;
	if (!dir || !*dir || strlen(dir) >= sizeof(hi_ctx.dir) - 8)
		goto out;
	st = hi_state_map(dir);
	if (IS_ERR(st)) {
		hi_msg(&warned, "%s: no run state there (%s): nothing is interposed", dir,
		       strerror((int)-PTR_ERR(st)));
		goto out;
	}
	snprintf(hi_ctx.dir, sizeof(hi_ctx.dir), "%s", dir);
	n = snprintf(hi_ctx.sys, sizeof(hi_ctx.sys), "%s/%s", dir, HI_SYS_DIR);
	hi_ctx.syslen = (size_t)n;
	hi_ctx.st = st;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	run_on = true;
out:
	hi_busy--;
}

bool hi_running(void)
{
	return __atomic_load_n(&run_on, __ATOMIC_ACQUIRE);
}

bool hi_active(void)
{
	if (hi_busy)
		return false;
	pthread_once(&setup_once, setup);
	return run_on;
}

/*
 * Records that the constructor ran, for the test that hooks work before it
 * (tests/interpose/early-hooks.c); nothing depends on it.
 */
__attribute__((constructor)) static void hi_constructor(void)
{
	constructed = true;
}

/**
 * hetmem_preload_constructed - whether the interposer's constructor has run
 *
 * Return: 1 when it has.
 */
int hetmem_preload_constructed(void);
int hetmem_preload_constructed(void)
{
	return constructed;
}

/* exit() and a return from main: the process's counters join the run's. */
__attribute__((destructor)) static void hi_destructor(void)
{
	if (run_on && !hi_busy)
		hi_inst_fold(true);
}

/* --- /dev/hmm_dmirrorN until its device layer (hmm-dev.c) is built in ------------------------ */

__attribute__((weak)) int hi_hmm_open(unsigned int minor, int flags, void **priv)
{
	return -ENODEV;
}

__attribute__((weak)) int hi_hmm_ioctl(void *priv, unsigned long request, void *arg)
{
	return -ENOTTY;
}

__attribute__((weak)) int hi_hmm_mmap(void *priv, void *addr, size_t length, int prot, int flags,
				      off_t offset, void **mapped)
{
	return -ENODEV;
}

__attribute__((weak)) void hi_hmm_close(void *priv)
{
}
