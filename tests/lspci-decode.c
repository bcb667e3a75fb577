// SPDX-License-Identifier: MIT
/*
 * lspci-decode: Debian's own lspci decodes the fabric's configuration space
 * the way the fabric means it.
 *
 * The default machine is written in the `lspci -xxxx` text format and read
 * back by the real `lspci -F FILE` (pciutils' dump access method): its idea
 * of IDs, classes, BARs, capabilities, bus numbers, bridge windows and the
 * tree must agree with what the fabric reports through its API. pciutils
 * knows nothing of hetmem, which makes it the independent check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/machine.h>
#include <hetmem/pci.h>
#include <hetmem/pci-dump.h>

struct fixture {
	struct machine *m;
	struct pci_fabric *f;
	char lspci[PATH_MAX]; /* empty when pciutils is not installed */
	char dump[PATH_MAX];
	char *vv; /* lspci -F dump -vv */
	char *tv; /* lspci -F dump -tv */
	char *n; /* lspci -F dump -n */
};

/* --- running lspci ----------------------------------------------------------- */

static bool find_lspci(char *path, size_t len)
{
	static const char *const fallback = "/usr/bin:/bin:/usr/sbin:/sbin";
	const char *dirs = getenv("PATH");
	char buf[4096];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s:%s", dirs ? dirs : "", fallback);
	for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(path, len, "%s/lspci", dir);
		if (!access(path, X_OK))
			return true;
	}
	path[0] = '\0';
	return false;
}

/*
 * The whole output of `lspci -F dump ARGS`. Its stderr goes to a file shown
 * only on failure: lspci warns on stderr that it cannot load libkmod, which
 * is harmless in dump mode.
 */
static char *run_lspci(const struct fixture *fx, const char *args)
{
	size_t len = 0, cap = 1 << 16;
	char *cmd = NULL, *errpath = NULL, *out = malloc(cap);
	FILE *p;
	int status;

	if (!out)
		goto fail;
	/* asprintf() leaves its pointer undefined on failure. */
	if (asprintf(&errpath, "%s.err", fx->dump) < 0) {
		errpath = NULL;
		goto fail;
	}
	if (asprintf(&cmd, "'%s' -F '%s' %s 2>'%s'", fx->lspci, fx->dump, args, errpath) < 0) {
		cmd = NULL;
		goto fail;
	}
	p = popen(cmd, "r");
	if (!p)
		goto fail;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *bigger = realloc(out, cap * 2);

			if (!bigger)
				break;
			out = bigger;
			cap *= 2;
		}
		n = fread(out + len, 1, cap - len - 1, p);
		if (!n)
			break;
		len += n;
	}
	out[len] = '\0';
	status = pclose(p);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		char msg[1024] = "";
		FILE *err = fopen(errpath, "r");

		if (err) {
			msg[fread(msg, 1, sizeof(msg) - 1, err)] = '\0';
			fclose(err);
		}
		print_error("%s failed (status %d): %s\n", cmd, status, msg);
		free(out);
		out = NULL;
	}
	unlink(errpath);
	free(errpath);
	free(cmd);
	return out;

fail:
	print_error("cannot run lspci: %s\n", strerror(errno));
	free(errpath);
	free(cmd);
	free(out);
	return NULL;
}

/* --- reading lspci's output ------------------------------------------------------ */

/*
 * The -vv block of the function at @addr: its header line up to the blank
 * line after it. Freed by the caller.
 */
static char *dev_block(const char *vv, const char *addr)
{
	size_t alen = strlen(addr);
	const char *p = vv, *end;

	while (p && *p) {
		if (!strncmp(p, addr, alen) && p[alen] == ' ')
			break;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return NULL;
	end = strstr(p, "\n\n");
	return strndup(p, end ? (size_t)(end - p + 1) : strlen(p));
}

/* The line of @block that contains @key, without its newline. Freed by the caller. */
static char *line_with(const char *block, const char *key)
{
	const char *hit = strstr(block, key), *start, *end;

	if (!hit)
		return NULL;
	for (start = hit; start > block && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

static bool contains(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool contains(const char *text, const char *fmt, ...)
{
	char needle[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(needle, sizeof(needle), fmt, ap);
	va_end(ap);
	return strstr(text, needle) != NULL;
}

/* Fails the test naming what was looked for and where. */
#define assert_contains(text, fmt, ...)                                                  \
	do {                                                                             \
		if (!contains((text), fmt, ##__VA_ARGS__)) {                             \
			char needle_[512];                                               \
			snprintf(needle_, sizeof(needle_), fmt, ##__VA_ARGS__);          \
			fail_msg("lspci did not print \"%s\" in:\n%s", needle_, (text)); \
		}                                                                        \
	} while (0)

#define assert_not_contains(text, fmt, ...)                                        \
	do {                                                                       \
		if (contains((text), fmt, ##__VA_ARGS__)) {                        \
			char needle_[512];                                         \
			snprintf(needle_, sizeof(needle_), fmt, ##__VA_ARGS__);    \
			fail_msg("lspci printed \"%s\" in:\n%s", needle_, (text)); \
		}                                                                  \
	} while (0)

/* lspci's size notation: the largest unit that divides the size exactly. */
static void lspci_size(char *buf, size_t len, uint64_t size)
{
	static const char *const suffix[] = { "", "K", "M", "G", "T" };
	unsigned int i = 0;

	while (i < 4 && !(size % 1024)) {
		size /= 1024;
		i++;
	}
	snprintf(buf, len, "%" PRIu64 "%s", size, suffix[i]);
}

/* --- the machine -------------------------------------------------------------- */

static struct pci_dev *dev_by_name(struct fixture *fx, const char *name)
{
	struct pci_dev *dev = machine_find(fx->m, name);

	if (!dev)
		fail_msg("the default machine has no \"%s\"", name);
	return dev;
}

static uint8_t cfg8(struct pci_dev *dev, int where)
{
	uint8_t v;

	assert_int_equal(pci_read_config_byte(dev, where, &v), 0);
	return v;
}

static uint16_t cfg16(struct pci_dev *dev, int where)
{
	uint16_t v;

	assert_int_equal(pci_read_config_word(dev, where, &v), 0);
	return v;
}

static uint32_t cfg32(struct pci_dev *dev, int where)
{
	uint32_t v;

	assert_int_equal(pci_read_config_dword(dev, where, &v), 0);
	return v;
}

#define for_each_dev(fx, dev)                                               \
	for (struct pci_dev *dev = pci_fabric_next_dev((fx)->f, NULL); dev; \
	     dev = pci_fabric_next_dev((fx)->f, dev))

/*
 * The machine, one ACS bit set where the fabric would not set it (request
 * redirect on the switch port above gpu0), the dump, and lspci's three
 * readings of it.
 */
static int group_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[512] = "";
	struct pci_dev *dsp;
	unsigned int acs;
	FILE *out;
	int fd;

	if (!fx)
		return -1;
	*state = fx;

	fx->m = machine_load(NULL, err, sizeof(err));
	if (IS_ERR_OR_NULL(fx->m)) {
		print_error("machine_load: %s\n", err);
		fx->m = NULL;
		return -1;
	}
	fx->f = machine_fabric(fx->m);

	dsp = machine_find(fx->m, "sw0.1");
	acs = dsp ? pci_find_ext_capability(dsp, PCI_EXT_CAP_ID_ACS) : 0;
	if (!acs) {
		print_error("sw0.1 is missing or has no ACS capability\n");
		return -1;
	}
	if (pci_write_config_word(dsp, (int)acs + PCI_ACS_CTRL, PCI_ACS_RR))
		return -1;

	snprintf(fx->dump, sizeof(fx->dump), "%s/hetmem-lspci-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(fx->dump);
	if (fd < 0)
		return -1;
	out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		return -1;
	}
	if (pci_fabric_write_lspci_dump(fx->f, out)) {
		fclose(out);
		return -1;
	}
	if (fclose(out))
		return -1;

	if (!find_lspci(fx->lspci, sizeof(fx->lspci)))
		return 0;
	fx->vv = run_lspci(fx, "-vv");
	fx->tv = run_lspci(fx, "-tv");
	fx->n = run_lspci(fx, "-n");
	return fx->vv && fx->tv && fx->n ? 0 : -1;
}

static int group_teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	if (fx->dump[0])
		unlink(fx->dump);
	free(fx->vv);
	free(fx->tv);
	free(fx->n);
	machine_destroy(fx->m);
	free(fx);
	return 0;
}

static struct fixture *fixture_or_skip(void **state)
{
	struct fixture *fx = *state;

	if (!fx->lspci[0]) {
		print_message("lspci not found (Debian package pciutils): skipping\n");
		skip();
	}
	return fx;
}

/* --- the tests ------------------------------------------------------------------- */

static unsigned int hex_byte(const char *p)
{
	unsigned int v = 0;

	for (int i = 0; i < 2; i++) {
		char c = p[i];

		v = v * 16 + (unsigned int)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

/*
 * The dump keeps to what pciutils' reader accepts (a header with a space
 * after the address, 16 lowercase bytes per line, lines well under its
 * 256-byte buffer, a blank line after each function) and holds every
 * function's 4096 bytes exactly. Needs no lspci.
 */
static void dump_format_as_lspci_reads_it(void **state)
{
	struct fixture *fx = *state;
	struct pci_dev *dev = NULL, *prev = NULL;
	uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];
	unsigned int off = 0, functions = 0;
	char line[1024];
	FILE *in = fopen(fx->dump, "r");

	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		size_t len = strlen(line);

		/* Every line is whole, and far from the reader's 256-byte limit. */
		assert_true(len > 0 && line[len - 1] == '\n');
		assert_true(len < 200);
		line[strcspn(line, "\n")] = '\0';
		len = strlen(line);

		if (!dev) {
			/* A header: "dddd:bb:dd.f label" for the next function, in order. */
			dev = pci_fabric_next_dev(fx->f, prev);
			assert_non_null(dev);
			assert_true(len > 13 && line[12] == ' ');
			assert_memory_equal(line, pci_name(dev), 12);
			assert_string_equal(line + 13, pci_dev_label(dev));
			pci_config_snapshot(dev, cfg);
			off = 0;
			continue;
		}
		if (!len) {
			/* The blank line ends the function, after all 4096 bytes. */
			assert_int_equal(off, PCI_CFG_SPACE_SIZE_HM);
			functions++;
			prev = dev;
			dev = NULL;
			continue;
		}
		/* "ooo: xx xx ... xx" */
		assert_int_equal(len, 4 + 16 * 3);
		assert_int_equal(strtoul(line, NULL, 16), off);
		assert_true(line[3] == ':');
		for (unsigned int i = 0; i < 16; i++) {
			const char *b = line + 4 + 3 * i;

			assert_true(b[0] == ' ' && strspn(b + 1, "0123456789abcdef") >= 2);
			assert_int_equal(hex_byte(b + 1), cfg[off + i]);
		}
		off += 16;
	}
	fclose(in);
	assert_null(dev);
	assert_null(pci_fabric_next_dev(fx->f, prev));
	assert_true(functions >= 9);
}

/* Every function is listed once, with its class and vendor:device IDs. */
static void every_function_listed_with_ids(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	unsigned int functions = 0, lines = 0;

	for_each_dev(fx, dev)
	{
		char line[64];

		snprintf(line, sizeof(line), "%s ", pci_name(dev));
		assert_contains(fx->n, "%s%04x: %04x:%04x", line, pci_dev_class(dev) >> 8,
				pci_dev_vendor(dev), pci_dev_device(dev));
		functions++;
	}
	for (const char *p = fx->n; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, functions);
}

/* Class codes decode to the names pci.ids gives them, NVMe's prog-if included. */
static void classes_decode_by_name(void **state)
{
	static const struct {
		const char *name;
		const char *class_name;
	} expect[] = {
		{ "nvme0", "Non-Volatile memory controller" },
		{ "gpu0", "3D controller" },
		{ "gpu1", "3D controller" },
		{ "rp0", "PCI bridge" },
		{ "rp1", "PCI bridge" },
		{ "sw0", "PCI bridge" },
		{ "sw0.0", "PCI bridge" },
		{ "sw0.1", "PCI bridge" },
	};
	struct fixture *fx = fixture_or_skip(state);
	struct pci_host_bridge *hb;
	char *block;

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		struct pci_dev *dev = dev_by_name(fx, expect[i].name);
		char addr[32];

		snprintf(addr, sizeof(addr), "%s", pci_name(dev));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		assert_contains(block, "%s %s: ", addr, expect[i].class_name);
		if (!strcmp(expect[i].name, "nvme0"))
			assert_contains(block, "(prog-if 02 [NVM Express])");
		free(block);
	}

	/* The host bridge function at 00.0 of every root bus. */
	hb = pci_fabric_next_host_bridge(fx->f, NULL);
	assert_non_null(hb);
	for (; hb; hb = pci_fabric_next_host_bridge(fx->f, hb)) {
		struct pci_dev *host = pci_host_bridge_dev(hb);
		char addr[32];

		if (!host)
			continue;
		snprintf(addr, sizeof(addr), "%s", pci_name(host));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		assert_contains(block, "%s Host bridge: ", addr);
		assert_not_contains(block, "Express (v");
		free(block);
	}
}

/*
 * BARs decode at the bus addresses enumeration programmed, with their width
 * and prefetchability. Dump mode cannot size BARs, and it takes the upper
 * half of a 64-bit BAR for a BAR of its own when that half is non-zero
 * (printed as "Memory at <unassigned>"): assert that too, so a change in
 * either pciutils or our placement shows up here.
 */
static void bars_decode_as_programmed(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	unsigned int bars = 0, above_4g = 0;

	for_each_dev(fx, dev)
	{
		char addr[32], *block;

		if (pci_is_bridge(dev))
			continue;
		snprintf(addr, sizeof(addr), "%s", pci_name(dev));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);

		for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
			unsigned int flags = pci_resource_flags(dev, bar);
			uint64_t bus = pci_bus_address(dev, bar);

			if (!pci_resource_len(dev, bar))
				continue;
			bars++;
			assert_contains(block, "Region %d: Memory at %08" PRIx64 " (%s, %s)", bar,
					bus, flags & PCI_BAR_MEM64 ? "64-bit" : "32-bit",
					flags & PCI_BAR_PREFETCH ? "prefetchable" :
								   "non-prefetchable");
			if (!(flags & PCI_BAR_MEM64))
				continue;

			/* The upper half, as lspci sees it. */
			assert_int_equal(cfg32(dev, PCI_BASE_ADDRESS_0 + 4 * (bar + 1)),
					 (uint32_t)(bus >> 32));
			if (bus >> 32) {
				above_4g++;
				assert_contains(block, "Region %d: Memory at <unassigned>",
						bar + 1);
			} else {
				assert_not_contains(block, "Region %d:", bar + 1);
			}
			bar++;
		}
		free(block);
	}
	/* nvme0's BAR0, gpu0's and gpu1's BAR0 and BAR2. */
	assert_true(bars >= 5);
	print_message("%u BARs decoded, %u of them above 4 GiB\n", bars, above_4g);
}

/* Every port and endpoint carries a PCI Express v2 capability of the right type. */
static void express_capability_types(void **state)
{
	struct fixture *fx = fixture_or_skip(state);

	for_each_dev(fx, dev)
	{
		unsigned int pos = pci_find_capability(dev, PCI_CAP_ID_EXP);
		const char *type;
		char addr[32], *block;

		switch (pci_pcie_type(dev)) {
		case PCI_EXP_TYPE_ROOT_PORT:
			type = "Root Port";
			break;
		case PCI_EXP_TYPE_UPSTREAM:
			type = "Upstream Port";
			break;
		case PCI_EXP_TYPE_DOWNSTREAM:
			type = "Downstream Port";
			break;
		case PCI_EXP_TYPE_ENDPOINT:
			type = "Endpoint";
			break;
		default:
			continue;
		}
		assert_int_not_equal(pos, 0);
		snprintf(addr, sizeof(addr), "%s", pci_name(dev));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		assert_contains(block, "Capabilities: [%x] Express (v2) %s", pos, type);
		free(block);
	}

	/* The default machine's shape, by name. */
	assert_int_equal(pci_pcie_type(dev_by_name(fx, "rp0")), PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(pci_pcie_type(dev_by_name(fx, "sw0")), PCI_EXP_TYPE_UPSTREAM);
	assert_int_equal(pci_pcie_type(dev_by_name(fx, "sw0.0")), PCI_EXP_TYPE_DOWNSTREAM);
	assert_int_equal(pci_pcie_type(dev_by_name(fx, "nvme0")), PCI_EXP_TYPE_ENDPOINT);
}

/* ACS is found on the downstream ports and ACSCtl shows the control bits as written. */
static void acs_control_as_written(void **state)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} bits[] = {
		{ PCI_ACS_SV, "SrcValid" },    { PCI_ACS_TB, "TransBlk" },
		{ PCI_ACS_RR, "ReqRedir" },    { PCI_ACS_CR, "CmpltRedir" },
		{ PCI_ACS_UF, "UpstreamFwd" }, { PCI_ACS_EC, "EgressCtrl" },
		{ PCI_ACS_DT, "DirectTrans" },
	};
	struct fixture *fx = fixture_or_skip(state);
	unsigned int ports = 0;

	for_each_dev(fx, dev)
	{
		unsigned int acs = pci_find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
		char addr[32], *block, *ctl;
		uint16_t ctrl;

		if (!acs)
			continue;
		ports++;
		ctrl = cfg16(dev, (int)acs + PCI_ACS_CTRL);
		snprintf(addr, sizeof(addr), "%s", pci_name(dev));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		assert_contains(block, "Capabilities: [%x v%u] Access Control Services", acs,
				(cfg32(dev, (int)acs) >> 16) & 0xf);
		ctl = line_with(block, "ACSCtl:");
		assert_non_null(ctl);
		for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
			assert_contains(ctl, "%s%c", bits[i].name, ctrl & bits[i].bit ? '+' : '-');
		free(ctl);
		free(block);
	}
	assert_true(ports >= 2);

	/* What group_setup() wrote, seen by lspci: redirect on sw0.1 only. */
	{
		char addr[32], *block, *ctl;

		snprintf(addr, sizeof(addr), "%s", pci_name(dev_by_name(fx, "sw0.1")));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		ctl = line_with(block, "ACSCtl:");
		assert_non_null(ctl);
		assert_contains(ctl, "ReqRedir+");
		free(ctl);
		free(block);

		snprintf(addr, sizeof(addr), "%s", pci_name(dev_by_name(fx, "sw0.0")));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		ctl = line_with(block, "ACSCtl:");
		assert_non_null(ctl);
		assert_contains(ctl, "ReqRedir-");
		free(ctl);
		free(block);
	}
}

/* Bridges show their bus numbers, and each secondary bus is where the children sit. */
static void bridge_bus_numbers(void **state)
{
	struct fixture *fx = fixture_or_skip(state);

	for_each_dev(fx, dev)
	{
		struct pci_dev *up = pci_upstream_bridge(dev);
		char addr[32], *block;

		if (up)
			assert_int_equal(cfg8(up, PCI_SECONDARY_BUS), pci_dev_busnr(dev));
		if (!pci_is_bridge(dev))
			continue;

		snprintf(addr, sizeof(addr), "%s", pci_name(dev));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);
		assert_int_equal(cfg8(dev, PCI_PRIMARY_BUS), pci_dev_busnr(dev));
		assert_contains(block, "Bus: primary=%02x, secondary=%02x, subordinate=%02x",
				cfg8(dev, PCI_PRIMARY_BUS), cfg8(dev, PCI_SECONDARY_BUS),
				cfg8(dev, PCI_SUBORDINATE_BUS));
		free(block);
	}
}

struct window {
	uint64_t base, limit; /* limit inclusive; empty when base > limit */
	bool is64;
};

static struct window mem_window(struct pci_dev *dev)
{
	struct window w = {
		.base = (uint64_t)(cfg16(dev, PCI_MEMORY_BASE) & 0xfff0) << 16,
		.limit = ((uint64_t)(cfg16(dev, PCI_MEMORY_LIMIT) & 0xfff0) << 16) | 0xfffff,
	};

	return w;
}

static struct window pref_window(struct pci_dev *dev)
{
	uint16_t base = cfg16(dev, PCI_PREF_MEMORY_BASE), limit = cfg16(dev, PCI_PREF_MEMORY_LIMIT);
	struct window w = {
		.base = (uint64_t)(base & 0xfff0) << 16,
		.limit = ((uint64_t)(limit & 0xfff0) << 16) | 0xfffff,
		.is64 = (base & PCI_PREF_RANGE_TYPE_MASK) == PCI_PREF_RANGE_TYPE_64,
	};

	if (w.is64) {
		w.base |= (uint64_t)cfg32(dev, PCI_PREF_BASE_UPPER32) << 32;
		w.limit |= (uint64_t)cfg32(dev, PCI_PREF_LIMIT_UPPER32) << 32;
	}
	return w;
}

static bool in_window(const struct window *w, uint64_t addr, uint64_t len)
{
	return w->base <= w->limit && addr >= w->base && addr + len - 1 <= w->limit;
}

static bool is_below(const struct pci_dev *dev, const struct pci_dev *bridge)
{
	for (const struct pci_dev *up = pci_upstream_bridge(dev); up; up = pci_upstream_bridge(up))
		if (up == bridge)
			return true;
	return false;
}

/*
 * Bridge windows decode as programmed, and contain every BAR behind them:
 * non-prefetchable ones in the memory window, prefetchable ones in either.
 */
static void bridge_windows(void **state)
{
	struct fixture *fx = fixture_or_skip(state);

	for_each_dev(fx, bridge)
	{
		struct window mem, pref;
		char addr[32], size[32], *block;

		if (!pci_is_bridge(bridge))
			continue;
		mem = mem_window(bridge);
		pref = pref_window(bridge);
		snprintf(addr, sizeof(addr), "%s", pci_name(bridge));
		block = dev_block(fx->vv, addr);
		assert_non_null(block);

		if (mem.base <= mem.limit) {
			lspci_size(size, sizeof(size), mem.limit - mem.base + 1);
			assert_contains(block,
					"Memory behind bridge: %08" PRIx64 "-%08" PRIx64
					" [size=%s]",
					mem.base, mem.limit, size);
		} else {
			assert_contains(block, "Memory behind bridge: [disabled]");
		}
		if (pref.base <= pref.limit) {
			lspci_size(size, sizeof(size), pref.limit - pref.base + 1);
			assert_contains(block,
					"Prefetchable memory behind bridge: %0*" PRIx64
					"-%0*" PRIx64 " [size=%s] [%s]",
					pref.is64 ? 16 : 8, pref.base, pref.is64 ? 16 : 8,
					pref.limit, size, pref.is64 ? "64-bit" : "32-bit");
		} else {
			assert_contains(block, "Prefetchable memory behind bridge: [disabled]");
		}
		free(block);

		for_each_dev(fx, dev)
		{
			if (!is_below(dev, bridge) || pci_is_bridge(dev))
				continue;
			for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
				uint64_t len = pci_resource_len(dev, bar);
				uint64_t bus = pci_bus_address(dev, bar);
				bool inside;

				if (!len)
					continue;
				inside = in_window(&mem, bus, len);
				if (pci_resource_flags(dev, bar) & PCI_BAR_PREFETCH)
					inside = inside || in_window(&pref, bus, len);
				if (!inside)
					fail_msg("%s BAR%d at 0x%" PRIx64
						 " is outside the windows of %s",
						 pci_dev_label(dev), bar, bus,
						 pci_dev_label(bridge));
			}
		}
	}
}

/* "[ss-uu]" or "[ss]": how the tree shows a bridge's bus range. */
static void tree_bus_range(char *buf, size_t len, struct pci_dev *bridge)
{
	uint8_t sec = cfg8(bridge, PCI_SECONDARY_BUS), sub = cfg8(bridge, PCI_SUBORDINATE_BUS);

	if (sec == sub)
		snprintf(buf, len, "[%02x]", sec);
	else
		snprintf(buf, len, "[%02x-%02x]", sec, sub);
}

/* "dd.f": how the tree shows a function on its bus. */
static void tree_slot(char *buf, size_t len, struct pci_dev *dev)
{
	snprintf(buf, len, "%02x.%x", (pci_dev_devfn(dev) >> 3) & 0x1f, pci_dev_devfn(dev) & 7);
}

/*
 * The tree: domain 1000 with a root port leading to a switch whose two
 * downstream ports each lead to one device (nvme0, gpu0), and a second
 * root port leading straight to gpu1.
 */
static void tree_shape(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct pci_dev *rp0 = dev_by_name(fx, "rp0"), *sw0 = dev_by_name(fx, "sw0");
	struct pci_dev *dsp0 = dev_by_name(fx, "sw0.0"), *dsp1 = dev_by_name(fx, "sw0.1");
	struct pci_dev *rp1 = dev_by_name(fx, "rp1");
	char slot[5][16], range[5][16], *line;

	assert_int_equal(pci_dev_domain(rp0), 0x1000);
	assert_contains(fx->tv, "[1000:00]");
	assert_ptr_equal(pci_upstream_bridge(sw0), rp0);
	assert_ptr_equal(pci_upstream_bridge(dsp0), sw0);
	assert_ptr_equal(pci_upstream_bridge(dsp1), sw0);
	assert_ptr_equal(pci_upstream_bridge(dev_by_name(fx, "nvme0")), dsp0);
	assert_ptr_equal(pci_upstream_bridge(dev_by_name(fx, "gpu0")), dsp1);
	assert_ptr_equal(pci_upstream_bridge(dev_by_name(fx, "gpu1")), rp1);

	tree_slot(slot[0], sizeof(slot[0]), rp0);
	tree_slot(slot[1], sizeof(slot[1]), sw0);
	tree_slot(slot[2], sizeof(slot[2]), dsp0);
	tree_slot(slot[3], sizeof(slot[3]), dsp1);
	tree_slot(slot[4], sizeof(slot[4]), rp1);
	tree_bus_range(range[0], sizeof(range[0]), rp0);
	tree_bus_range(range[1], sizeof(range[1]), sw0);
	tree_bus_range(range[2], sizeof(range[2]), dsp0);
	tree_bus_range(range[3], sizeof(range[3]), dsp1);
	tree_bus_range(range[4], sizeof(range[4]), rp1);

	/*
	 * One line runs root port -> upstream port -> first downstream port ->
	 * its device; the branch ("+-" then "\-") is the switch's internal bus.
	 */
	{
		char key[64];

		snprintf(key, sizeof(key), "%s-%s--", slot[0], range[0]);
		line = line_with(fx->tv, key);
		if (!line)
			fail_msg("no \"%s\" (rp0) in:\n%s", key, fx->tv);
		assert_contains(line, "%s-%s----%s-%s--+-%s-%s----00.0", slot[0], range[0], slot[1],
				range[1], slot[2], range[2]);
		free(line);
	}
	assert_contains(fx->tv, "\\-%s-%s----00.0", slot[3], range[3]);
	assert_contains(fx->tv, "%s-%s----00.0", slot[4], range[4]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dump_format_as_lspci_reads_it),
		cmocka_unit_test(every_function_listed_with_ids),
		cmocka_unit_test(classes_decode_by_name),
		cmocka_unit_test(bars_decode_as_programmed),
		cmocka_unit_test(express_capability_types),
		cmocka_unit_test(acs_control_as_written),
		cmocka_unit_test(bridge_bus_numbers),
		cmocka_unit_test(bridge_windows),
		cmocka_unit_test(tree_shape),
	};

	char lspci[PATH_MAX];
	int failed;

	failed = cmocka_run_group_tests_name("lspci-decode", tests, group_setup, group_teardown);
	/* Without pciutils the point of the test is missed: report a skip (77), not a pass. */
	if (!failed && !find_lspci(lspci, sizeof(lspci)))
		return 77;
	return failed;
}
