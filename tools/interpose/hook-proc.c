// SPDX-License-Identifier: MIT
/*
 * Process-wide hooks: syscall() (io_uring is refused), and the ways a
 * process ends or replaces itself without running destructors (_exit,
 * _Exit, exec), where its counters are added to the run's first. fio's
 * forked jobs end with _exit().
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose.h"

REAL_SLOT(syscall);
REAL_SLOT(_exit);
REAL_SLOT(_Exit);
REAL_SLOT(execve);
REAL_SLOT(execv);
REAL_SLOT(execvp);
REAL_SLOT(execvpe);

/*
 * io_uring_setup is refused: fio issues io_uring_enter as a raw system
 * call instruction, which no interposer sees, so its requests would reach
 * the placeholder descriptors instead of the machine. The other engines
 * work. HETMEM_ALLOW_IO_URING=1 lets io_uring through for programs that
 * use it on their own files only.
 */
long syscall(long nr, ...)
{
	static int told;
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == __NR_io_uring_setup && hi_active()) {
		const char *allow = getenv("HETMEM_ALLOW_IO_URING");

		if (!allow || *allow != '1') {
			hi_msg(&told, "io_uring cannot be interposed (io_uring_enter is a raw "
				      "system call): use another I/O engine, e.g. fio's psync, "
				      "pvsync2 or libaio");
			errno = ENOSYS;
			return -1;
		}
	}
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void leaving(void)
{
	if (hi_active())
		hi_inst_fold(true);
}

void _exit(int status)
{
	leaving();
	REAL(_exit)(status);
	__builtin_unreachable();
}

void _Exit(int status)
{
	leaving();
	REAL(_Exit)(status);
	__builtin_unreachable();
}

/* exec: the machine goes with the old image; what it counted must not. */
static void replacing(void)
{
	if (hi_active())
		hi_inst_fold(false);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	replacing();
	return REAL(execve)(path, argv, envp);
}

int execv(const char *path, char *const argv[])
{
	replacing();
	return REAL(execv)(path, argv);
}

int execvp(const char *file, char *const argv[])
{
	replacing();
	return REAL(execvp)(file, argv);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	replacing();
	return REAL(execvpe)(file, argv, envp);
}
