// SPDX-License-Identifier: MIT
/*
 * The "nvme" machine model: the default machine's nvme0 is a running
 * emulated controller (1 GiB RAM namespace, 64 MiB CMB); a config's
 * namespace, CMB, queue, serial and model-number keys reach the
 * controller; bad values are refused with the line that holds them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/machine.h>

#include "fabric-fixture.h"
#include "raw.h"

/* Drive @name of @m with the raw driver: enable, then Identify. */
static void attach(struct raw *r, struct machine *m, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->f = machine_fabric(m);
	r->pdev = machine_find(m, name);
	assert_non_null(r->pdev);
	r->emu = nvme_emu_from_pdev(r->pdev);
	assert_non_null(r->emu);
	pci_set_master(r->pdev);
	assert_true(raw_enable(r));
}

static void identify(struct raw *r, uint8_t cns, uint32_t nsid, struct raw_buf *buf)
{
	struct nvme_command c = raw_identify(cns, nsid, buf->dma);

	assert_int_equal(raw_admin(r, &c, NULL), 0);
}

/* nvme0 of the default machine: 4854:0001, class 010802, BAR0 16K, BAR2 64M CMB, 1 GiB ns. */
static void test_default_machine(void **state)
{
	char err[256] = "";
	struct machine *m = machine_load(NULL, err, sizeof(err));
	struct raw r;
	struct raw_buf buf;
	uint32_t sz;

	assert_false(IS_ERR_OR_NULL(m));
	attach(&r, m, "nvme0");
	assert_int_equal(pci_dev_vendor(r.pdev), 0x4854);
	assert_int_equal(pci_dev_device(r.pdev), 0x0001);
	assert_int_equal(pci_dev_class(r.pdev), 0x010802);
	assert_int_equal(pci_resource_len(r.pdev, 0), 16 << 10);
	assert_int_equal(pci_resource_flags(r.pdev, 0), PCI_BAR_MEM64);
	assert_int_equal(pci_resource_len(r.pdev, 2), 64 << 20);
	assert_int_equal(pci_resource_flags(r.pdev, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	assert_null(nvme_emu_from_pdev(machine_find(m, "gpu0")));

	buf = raw_alloc(&r, 4096);
	identify(&r, NVME_ID_CNS_CTRL, 0, &buf);
	assert_int_equal(((struct nvme_id_ctrl *)buf.cpu)->nn, 1);
	identify(&r, NVME_ID_CNS_NS, 1, &buf);
	assert_int_equal(((struct nvme_id_ns *)buf.cpu)->nsze, (1ULL << 30) / 512);
	assert_int_equal(((struct nvme_id_ns *)buf.cpu)->flbas & 0xf, 0);
	raw_wr32(&r, NVME_REG_CMBMSC, NVME_CMBMSC_CRE);
	sz = raw_rd32(&r, NVME_REG_CMBSZ);
	assert_int_equal(NVME_CMBSZ_SZ(sz) << 20, 64 << 20);
	raw_release_bufs(&r);
	machine_destroy(m);
}

/* Every key of the model reaches the controller. */
static void test_model_keys(void **state)
{
	char dir[] = "/tmp/nvme-emu-mc-XXXXXX", text[1024], path[64], err[256] = "";
	struct machine *m;
	struct raw r;
	struct raw_buf buf;
	struct nvme_id_ctrl *id;
	uint64_t cap;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ns2.img", dir);
	snprintf(text, sizeof(text),
		 "[host-bridge hb]\n"
		 "[root-port rp]\nparent = hb\n"
		 "[endpoint ssd]\nparent = rp\nmodel = nvme\ndevice = 0x0042\n"
		 "ns1 = 8M\nns2 = 16M\nns2-lba = 4096\nns2-file = %s\nns3 = 1M\n"
		 "cmb = 2M\nqueues = 2\nmqes = 31\n"
		 "serial = SN-TEST-42\nmodel-number = Test Controller\n",
		 path);
	m = machine_load_string(text, "keys.ini", err, sizeof(err));
	if (IS_ERR(m))
		fail_msg("%s", err);
	attach(&r, m, "ssd");
	assert_int_equal(pci_dev_device(r.pdev), 0x0042);
	assert_int_equal(pci_resource_len(r.pdev, 2), 2 << 20);
	cap = raw_rd64(&r, NVME_REG_CAP);
	assert_int_equal(NVME_CAP_MQES(cap), 31);
	assert_int_equal(nvme_emu_irq_fd(r.emu, 3), -EINVAL); /* two I/O queues: vectors 0-2 */
	assert_true(nvme_emu_irq_fd(r.emu, 2) >= 0);

	buf = raw_alloc(&r, 4096);
	identify(&r, NVME_ID_CNS_CTRL, 0, &buf);
	id = (struct nvme_id_ctrl *)buf.cpu;
	assert_int_equal(id->nn, 3);
	assert_memory_equal(id->sn, "SN-TEST-42          ", 20);
	assert_memory_equal(id->mn, "Test Controller ", 16);
	identify(&r, NVME_ID_CNS_NS, 2, &buf);
	assert_int_equal(((struct nvme_id_ns *)buf.cpu)->nsze, 4096);
	assert_int_equal(((struct nvme_id_ns *)buf.cpu)->flbas & 0xf, 1);
	identify(&r, NVME_ID_CNS_NS, 3, &buf);
	assert_int_equal(((struct nvme_id_ns *)buf.cpu)->nsze, 2048);
	raw_release_bufs(&r);
	machine_destroy(m);
	/* The backing file was created, sparse, at the namespace's size. */
	assert_int_equal(access(path, R_OK | W_OK), 0);
	unlink(path);
	rmdir(dir);
}

static void expect_error(const char *keys, const char *msg)
{
	char text[512], err[256] = "";
	struct machine *m;

	snprintf(text, sizeof(text),
		 "[host-bridge hb]\n[root-port rp]\nparent = hb\n"
		 "[endpoint ssd]\nparent = rp\nmodel = nvme\n%s",
		 keys);
	m = machine_load_string(text, "bad.ini", err, sizeof(err));
	if (!IS_ERR(m)) {
		machine_destroy(m);
		fail_msg("accepted: %s", keys);
	}
	if (!strstr(err, msg))
		fail_msg("for \"%s\": got \"%s\", expected \"%s\"", keys, err, msg);
}

/* Bad values, gaps, keys the model owns, files that cannot be made. */
static void test_bad_keys(void **state)
{
	expect_error("ns2 = 1M\n", "bad.ini:7: ns2 without ns1: namespaces are numbered from 1");
	expect_error("ns1 = 1M\nns1-lba = 1024\n", "bad.ini:8: ns1-lba = 1024: the LBA size is");
	expect_error("ns1 = 6K\nns1-lba = 4096\n", "bad.ini:7: ns1 = 6K: not a whole number");
	expect_error("ns1 = 0\n", "bad.ini:7: ns1 = 0: expected a size");
	expect_error("ns1-file = /tmp/x\n", "bad.ini:7: ns1-file without ns1 = SIZE");
	expect_error("ns17 = 1M\n", "bad.ini:7: unknown key 'ns17'");
	expect_error("cmb = 3M\n", "bad.ini:7: cmb = 3M: a power of two");
	expect_error("cmb = 64K\n", "bad.ini:7: cmb = 64K: a power of two");
	expect_error("queues = 64\n", "bad.ini:7: queues = 64: expected a number from 1 to 63");
	expect_error("mqes = 0\n", "bad.ini:7: mqes = 0: expected a number from 1 to 65535");
	expect_error("serial = 012345678901234567890\n", "bad.ini:7: serial = ");
	expect_error("bar0 = 16K 64\n", "bad.ini:7: bar0: set by the nvme model");
	expect_error("class = 0x058000\n", "bad.ini:7: class = 0x058000: an NVMe controller");
	expect_error("ns1 = 1M\nns1-file = /nonexistent/dir/ns1\n",
		     "nvme ssd: cannot create the controller: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_machine),
		cmocka_unit_test(test_model_keys),
		cmocka_unit_test(test_bad_keys),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
