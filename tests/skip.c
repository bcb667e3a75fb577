// SPDX-License-Identifier: MIT
/*
 * Stands in for a test whose feature is configured out: says why and exits
 * with 77, the skip code.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	fprintf(stderr, "%s: skipped, needs %s\n", argc > 1 ? argv[1] : "test",
		argc > 2 ? argv[2] : "an option that is off");
	return 77;
}
