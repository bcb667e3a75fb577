// SPDX-License-Identifier: MIT
/*
 * What every subcommand shares: building the machine, complaining about the
 * command line in one voice, printing sizes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/machine.h>

#include "hetmem.h"

struct machine *cli_load_machine(const char *prog, const char *path)
{
	char err[512] = "";
	struct machine *m;

	m = machine_load(path, err, sizeof(err));
	if (!IS_ERR_OR_NULL(m))
		return m;

	/* The loader's message names the file and line; the errno is the fallback. */
	if (!err[0])
		snprintf(err, sizeof(err), "%s: %s", path ? path : "the default machine",
			 strerror(m ? (int)-PTR_ERR(m) : ENOMEM));
	fprintf(stderr, "%s: %s\n", prog, err);
	return NULL;
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fprintf(stderr, "%s: ", prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try '%s --help'.\n", prog);
	return HETMEM_EXIT_USAGE;
}

const char *cli_format_size(char *s, size_t n, uint64_t bytes)
{
	if (bytes >= (1ULL << 30) && !(bytes & ((1ULL << 30) - 1)))
		snprintf(s, n, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes >= (1 << 20) && !(bytes & ((1 << 20) - 1)))
		snprintf(s, n, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes >= (1 << 10) && !(bytes & ((1 << 10) - 1)))
		snprintf(s, n, "%" PRIu64 " KiB", bytes >> 10);
	else
		snprintf(s, n, "%" PRIu64 " bytes", bytes);
	return s;
}
