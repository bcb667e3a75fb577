// SPDX-License-Identifier: MIT
/*
 * Fuzz the machine config parser: any text either builds a machine, which
 * is then torn down, or is refused with an error; nothing crashes, leaks or
 * trips a sanitizer.
 *
 * Inputs naming a backing file ("nsN-file") are skipped: the parser would
 * create the file wherever the input says, and a fuzzer must not write
 * files outside its corpus.
 */
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/machine.h>

#include "fuzz-common.h"

/* Larger inputs add nothing the parser has not seen in smaller ones. */
#define FZ_MAX_CONFIG 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct machine *m;
	char err[256];
	char *text;

	if (!quiet) {
		fz_quiet();
		quiet = 1;
	}
	if (size > FZ_MAX_CONFIG)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strcasestr(text, "file")) {
		free(text);
		return 0;
	}
	m = machine_load_string(text, "fuzz.ini", err, sizeof(err));
	if (!IS_ERR(m))
		machine_destroy(m);
	free(text);
	return 0;
}
