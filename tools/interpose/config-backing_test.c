// SPDX-License-Identifier: MIT
/*
 * White-box test of config-backing.c: the run's copy of a machine config
 * backs every namespace with a file, and only namespaces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config-backing.c"

static char *backed(const char *text, struct hi_image *img, unsigned int *nr)
{
	char *out = NULL;

	assert_int_equal(hi_config_back_namespaces(text, "/run/x", &out, img, nr), 0);
	assert_non_null(out);
	return out;
}

/* Namespaces without a file get one below their section header; others keep theirs. */
static void test_adds_files(void **state)
{
	static const char text[] = "[endpoint nvme0]\n"
				   "parent = sw0.0\n"
				   "model = nvme\n"
				   "ns1 = 1G\n"
				   "ns2 = 16G\n"
				   "ns2-file = /var/tmp/two.img\n"
				   "ns3: 4G ; a comment\n";
	struct hi_image img[HI_MAX_IMAGES];
	unsigned int nr = 0;
	char *out = backed(text, img, &nr);

	assert_non_null(strstr(out, "[endpoint nvme0]\nns1-file = /run/x/nvme0n1.img\n"
				    "ns3-file = /run/x/nvme0n3.img\nparent = sw0.0\n"));
	assert_null(strstr(out, "ns2-file = /run/x"));
	assert_non_null(strstr(out, "ns2-file = /var/tmp/two.img\n"));
	assert_int_equal(nr, 3);
	assert_string_equal(img[0].label, "nvme0");
	assert_int_equal(img[0].nsid, 1);
	assert_string_equal(img[0].path, "/run/x/nvme0n1.img");
	assert_string_equal(img[1].path, "/var/tmp/two.img");
	assert_int_equal(img[2].nsid, 3);
	free(out);
}

/* Other endpoints, other sections, comments: copied as they are. */
static void test_leaves_the_rest(void **state)
{
	static const char text[] = "# ns1 = 1G in a comment\n"
				   "[endpoint gpu0]\n"
				   "ns1 = 1G\n"
				   "[host-bridge hb0]\n"
				   "domain = 0x1000";
	struct hi_image img[HI_MAX_IMAGES];
	unsigned int nr = 7;
	char *out = backed(text, img, &nr);

	assert_string_equal(out, "# ns1 = 1G in a comment\n[endpoint gpu0]\nns1 = 1G\n"
				 "[host-bridge hb0]\ndomain = 0x1000\n");
	assert_int_equal(nr, 0);
	free(out);
}

/* A relative file is made absolute: each process of a run loads from its own directory. */
static void test_relative_file(void **state)
{
	static const char text[] = "\xef\xbb\xbf[endpoint nvme1]\r\n"
				   "  model = nvme\r\n"
				   "  ns1 = 64M\r\n"
				   "  ns1-file = disk.img ; here\r\n";
	struct hi_image img[HI_MAX_IMAGES];
	char cwd[PATH_MAX], want[PATH_MAX + 32];
	unsigned int nr = 0;
	char *out = backed(text, img, &nr);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "ns1-file = %s/disk.img\n", cwd);
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "disk.img ; here"));
	assert_int_equal(nr, 1);
	assert_string_equal(img[0].label, "nvme1");
	free(out);
}

/* No directory: nothing added, the namespaces with files still listed. */
static void test_no_dir(void **state)
{
	static const char text[] = "[endpoint n]\nmodel = nvme\nns1 = 1G\n";
	struct hi_image img[HI_MAX_IMAGES];
	unsigned int nr = 5;
	char *out = NULL;

	assert_int_equal(hi_config_back_namespaces(text, NULL, &out, img, &nr), 0);
	assert_string_equal(out, text);
	assert_int_equal(nr, 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adds_files),
		cmocka_unit_test(test_leaves_the_rest),
		cmocka_unit_test(test_relative_file),
		cmocka_unit_test(test_no_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
