// SPDX-License-Identifier: MIT
/*
 * p2p-check-gen-fixtures DIR: write every fixture machine's dump to
 * DIR/NAME.txt (tests/p2p-check/fixtures/ in the source tree). Run it after
 * changing fixtures.c; the p2p-check-fixtures test checks that the files
 * are what it writes.
 */
#include <stdio.h>

#include "fixtures.h"

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (unsigned int i = 0; i < nr_p2p_fixtures; i++) {
		FILE *out;
		int ret;

		snprintf(path, sizeof(path), "%s/%s.txt", argv[1], p2p_fixtures[i].name);
		out = fopen(path, "w");
		if (!out) {
			perror(path);
			return 1;
		}
		ret = p2p_fixtures[i].write(out);
		if (fclose(out) || ret) {
			fprintf(stderr, "%s: could not be written\n", path);
			return 1;
		}
		printf("%s: %s\n", path, p2p_fixtures[i].what);
	}
	return 0;
}
