// SPDX-License-Identifier: MIT
/*
 * hetmem p2p-check as users run it: on this machine (whatever it has, even
 * no PCI device at all, it answers and exits 0), on dumps with what-ifs, on
 * a machine's files under --root (kernel configuration plain and gzip'd,
 * CPU, IOMMU, command line), as text, JSON and Graphviz; and its exit
 * codes: 1 when the input cannot be read, 2 on a usage error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/pci_regs.h>

#define HETMEM	 HETMEM_BUILDDIR "/tools/hetmem/hetmem"
#define FIXTURES HETMEM_SRCDIR "/tests/p2p-check/fixtures/"

#define PATHF(buf, ...) assert_true(snprintf(buf, sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static char out[1 << 20];

/* Run `hetmem p2p-check ARGS` (a shell fragment); its output lands in @out. Return: its exit code. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char args[2048], cmd[4096];
	size_t len = 0, n;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	PATHF(cmd, "NO_COLOR= %s p2p-check %s 2>&1", HETMEM, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(out + len, 1, sizeof(out) - 1 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	status = pclose(p);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* @phrase in the output, where text wrapped onto several lines counts as one. */
static void expect(const char *phrase)
{
	static char flat[sizeof(out)];
	size_t n = 0;

	for (const char *p = out; *p; p++) {
		if (*p == '\n' || *p == ' ') {
			if (n && flat[n - 1] == ' ')
				continue;
			flat[n++] = ' ';
		} else {
			flat[n++] = *p;
		}
	}
	flat[n] = '\0';
	if (!strstr(out, phrase) && !strstr(flat, phrase))
		fail_msg("no '%s' in:\n%s", phrase, out);
}

static void expect_not(const char *phrase)
{
	if (strstr(out, phrase))
		fail_msg("'%s' should not be in:\n%s", phrase, out);
}

/* When python3 is there, the JSON must parse. */
static void expect_json(const char *args)
{
	char cmd[4096];

	if (system("command -v python3 >/dev/null 2>&1"))
		return;
	PATHF(cmd, "%s p2p-check --json %s | python3 -c 'import json, sys; json.load(sys.stdin)'",
	      HETMEM, args);
	assert_int_equal(system(cmd), 0);
}

static void put_file(const char *root, const char *name, const void *data, size_t len)
{
	char path[4096], dir[4096], *slash;
	FILE *f;

	PATHF(path, "%s/%s", root, name);
	PATHF(dir, "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	PATHF(path, "mkdir -p '%s'", dir);
	assert_int_equal(system(path), 0);
	PATHF(path, "%s/%s", root, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void rm_rf(const char *path)
{
	char cmd[4200];

	PATHF(cmd, "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* This machine: exit 0 and an answer, whether it has PCI devices, one, or many. */
static void test_live(void **state)
{
	assert_int_equal(run("%s", ""), 0);
	expect("P2P readiness of ");
	if (!strstr(out, "no PCI devices"))
		expect("Summary");
	expect_not("\033[");
	assert_int_equal(run("--all"), 0);
	assert_int_equal(run("--json"), 0);
	expect("\"source\": ");
	expect_json("");
	assert_int_equal(run("--dot"), 0);
	assert_int_equal(strncmp(out, "graph p2p_check {", 17), 0);
}

/* A machine without PCI devices says so and exits 0. */
static void test_no_devices(void **state)
{
	char root[] = "/tmp/p2p-check-cli-XXXXXX";

	assert_non_null(mkdtemp(root));
	assert_int_equal(run("--root %s", root), 0);
	expect("no PCI devices");
	expect("sudo lspci -vvv -xxxx");
	assert_int_equal(run("--root %s --json", root), 0);
	expect("\"devices\": []");
	rm_rf(root);
}

/*
 * Another machine's files: a root port with an NVMe device of two
 * functions, kernel 6.1 with P2PDMA, an AMD Zen CPU, an IOMMU in
 * passthrough, and pci=disable_acs_redir= on the command line.
 */
static void fake_machine(const char *root, bool gz)
{
	static const char cpuinfo[] =
		"processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n";
	static const char cmdline[] =
		"BOOT_IMAGE=/vmlinuz root=/dev/sda1 iommu=pt pci=noaer,disable_acs_redir=0000:00:01.0 quiet\n";
	static const char config[] =
		"CONFIG_PCI=y\nCONFIG_PCI_P2PDMA=y\n# CONFIG_IOMMU_DEFAULT_PASSTHROUGH is not set\n";
	uint8_t cfg[3][4096] = { { 0 } };
	char path[4096];
	const char *bdf[] = { "0000:00:01.0", "0000:01:00.0", "0000:01:00.1" };

	put_file(root, "proc/sys/kernel/osrelease", "6.1.0-13-amd64\n", 15);
	put_file(root, "proc/cpuinfo", cpuinfo, sizeof(cpuinfo) - 1);
	put_file(root, "proc/cmdline", cmdline, sizeof(cmdline) - 1);
	put_file(root, "sys/class/iommu/ivhd0/.keep", "", 0);
	if (gz) {
		put_file(root, "config", config, sizeof(config) - 1);
		PATHF(path, "gzip -c '%s/config' > '%s/proc/config.gz' && rm '%s/config'", root,
		      root, root);
		assert_int_equal(system(path), 0);
	} else {
		put_file(root, "boot/config-6.1.0-13-amd64", config, sizeof(config) - 1);
	}
	/* The root port (PCIe type 4, bus 01), then two NVMe functions. */
	for (int i = 0; i < 3; i++) {
		cfg[i][0] = 0x86;
		cfg[i][1] = 0x80;
		cfg[i][PCI_STATUS] = PCI_STATUS_CAP_LIST;
		cfg[i][PCI_CAPABILITY_LIST] = 0x40;
		cfg[i][0x40] = PCI_CAP_ID_EXP;
		cfg[i][0x42] =
			(uint8_t)(2 | (i ? PCI_EXP_TYPE_ENDPOINT : PCI_EXP_TYPE_ROOT_PORT) << 4);
	}
	cfg[0][PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	cfg[0][PCI_CLASS_DEVICE] = 0x04;
	cfg[0][PCI_CLASS_DEVICE + 1] = 0x06;
	cfg[0][PCI_SECONDARY_BUS] = 1;
	cfg[0][PCI_SUBORDINATE_BUS] = 1;
	for (int i = 1; i < 3; i++) {
		cfg[i][PCI_HEADER_TYPE] = 0x80;
		cfg[i][PCI_CLASS_PROG] = 0x02;
		cfg[i][PCI_CLASS_DEVICE] = 0x08;
		cfg[i][PCI_CLASS_DEVICE + 1] = 0x01;
	}
	for (int i = 0; i < 3; i++) {
		PATHF(path, "sys/bus/pci/devices/%s/config", bdf[i]);
		put_file(root, path, cfg[i], sizeof(cfg[i]));
	}
	/* The first NVMe function publishes its controller memory buffer. */
	put_file(root, "sys/bus/pci/devices/0000:01:00.0/p2pmem/size", "2097152\n", 8);
	put_file(root, "sys/bus/pci/devices/0000:01:00.0/p2pmem/available", "2097152\n", 8);
	put_file(root, "sys/bus/pci/devices/0000:01:00.0/p2pmem/published", "1\n", 2);
}

/* What the machine adds, read from its files: with /boot/config-R, then with /proc/config.gz. */
static void test_machine_files(void **state)
{
	char root[] = "/tmp/p2p-check-cli-XXXXXX";

	assert_non_null(mkdtemp(root));
	fake_machine(root, false);
	assert_int_equal(run("--root %s --json", root), 0);
	expect("\"kernel\": \"6.1.0-13-amd64\"");
	expect("\"config_pci_p2pdma\": true");
	expect("\"config_source\": \"/boot/config-6.1.0-13-amd64\"");
	expect("\"p2pmem_allocate\": false");
	expect("\"mode\": \"passthrough\"");
	expect("\"disable_acs_redir\": \"0000:00:01.0\"");
	expect("\"cpu_rule\": {\"on\": true, \"from\": \"cpuinfo\"}");
	expect("\"map_type\": \"BUS_ADDR\", \"distance\": 2");
	expect("\"p2pmem_providers\": [\"0000:01:00.0\"]");
	expect("\"p2pmem\": {\"size\": 2097152, \"available\": 2097152, \"published\": true, \"allocate\": false}");
	assert_int_equal(run("--root %s --no-amd-zen --json", root), 0);
	expect("\"cpu_rule\": {\"on\": false, \"from\": \"flag\"}");
	assert_int_equal(run("--root %s", root), 0);
	expect("CONFIG_PCI_P2PDMA=y");
	expect("older than 6.2: no p2pmem/allocate");
	expect("AuthenticAMD family 0x19: AMD Zen or later");
	expect("passthrough: passthrough on the kernel command line");
	expect("p2pmem 0000:01:00.0 (2 MiB, published).");
	expect("p2pmem: 2 MiB, 2 MiB available, published");
	rm_rf(root);

	if (system("command -v gzip >/dev/null 2>&1"))
		return;
	assert_non_null(mkdtemp(strcpy(root, "/tmp/p2p-check-cli-XXXXXX")));
	fake_machine(root, true);
	assert_int_equal(run("--root %s --json", root), 0);
	expect("\"config_pci_p2pdma\": true");
	expect("\"config_source\": \"/proc/config.gz\"");
	rm_rf(root);
}

/* Dumps: answers, what-ifs, standard input, the three outputs. */
static void test_dumps(void **state)
{
	assert_int_equal(run("--dump " FIXTURES "switch-acs-redirect-unlisted.txt"), 0);
	expect("Why, and what would change it");
	expect("pci=disable_acs_redir=0000:02:00.0;0000:02:01.0");
	expect("NOT_SUPPORTED, distance 4");
	assert_int_equal(run("--dump " FIXTURES "switch-acs-redirect-unlisted.txt --json"), 0);
	expect("\"machine\": null");
	expect("\"provider\": \"0000:03:00.0\", \"client\": \"0000:04:00.0\", \"map_type\": \"NOT_SUPPORTED\"");
	expect_json("--dump " FIXTURES "switch-acs-redirect-unlisted.txt");
	assert_int_equal(run("--dump " FIXTURES "switch-acs-redirect-unlisted.txt --json "
			     "--assume-allowed 8086:3e30"),
			 0);
	expect("\"client\": \"0000:04:00.0\", \"map_type\": \"THRU_HOST_BRIDGE\"");
	expect("\"allowed_ids\": [\"8086:3e30\"]");
	assert_int_equal(run("--dump " FIXTURES "switch-acs-redirect-unlisted.txt --json "
			     "--assume-acs-off 0000:02:00.0 --assume-acs-off 02:01.0"),
			 0);
	expect("\"client\": \"0000:04:00.0\", \"map_type\": \"BUS_ADDR\"");
	expect("\"disable_acs_redir\": \"pci=disable_acs_redir=0000:02:00.0;0000:02:01.0\"}");
	assert_int_equal(run("--dump - --amd-zen --json < " FIXTURES "amd-zen.txt"), 0);
	expect("\"source\": \"standard input\"");
	expect_not("NOT_SUPPORTED\", \"distance\"");
	assert_int_equal(run("--dump " FIXTURES "first-not-host-bridge.txt --dot"), 0);
	expect("\"pci0000:3a\" [shape=box3d");
	expect("label=\"NOT_SUPPORTED 4\"");
	assert_int_equal(run("--dump " FIXTURES "root-ports-allowed.txt --kernel 5.10"), 0);
	expect("Boot Linux 5.14 or newer");
	expect("Resizable BAR capability allows 16 GiB");
}

/* Usage errors exit 2, unreadable input 1. */
static void test_exit_codes(void **state)
{
	char dir[] = "/tmp/p2p-check-cli-XXXXXX", garbage[4200];

	assert_int_equal(run("--help"), 0);
	expect("Usage: hetmem p2p-check");
	assert_int_equal(run("--no-such-option"), 2);
	assert_int_equal(run("extra"), 2);
	assert_int_equal(run("--sysfs /sys/bus/pci --dump x"), 2);
	assert_int_equal(run("--json --dot"), 2);
	assert_int_equal(run("--kernel six"), 2);
	assert_int_equal(run("--dump " FIXTURES "amd-zen.txt --assume-acs-off 0000:99:00.0"), 2);
	expect("no such function");
	assert_int_equal(run("--dump " FIXTURES "amd-zen.txt --assume-allowed nonsense"), 2);
	assert_int_equal(run("--dump /nonexistent/dump.txt"), 1);
	assert_int_equal(run("--sysfs /nonexistent/sysfs"), 1);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(run("--sysfs %s", dir), 1);
	expect("lists no PCI function");
	PATHF(garbage, "%s/garbage.txt", dir);
	put_file(dir, "garbage.txt", "not an lspci dump\n", 18);
	assert_int_equal(run("--dump %s", garbage), 1);
	expect("no lspci function found");
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live),	      cmocka_unit_test(test_no_devices),
		cmocka_unit_test(test_machine_files), cmocka_unit_test(test_dumps),
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
