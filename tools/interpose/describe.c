// SPDX-License-Identifier: MIT
/*
 * Describing a machine for a run: its NVMe controllers as they identify
 * themselves to the host driver, its p2pmem providers, and the links and
 * root complexes whose counters processes add up.
 *
 * The controllers are asked, not their configs read: what sysfs and the
 * state say (serial, model, firmware, sizes) is what a driver gets back
 * from Identify, which is also what nvme-cli later checks against.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/machine.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/nvme.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "prepare.h"

#define PCI_BASE_CLASS_DISPLAY_HM 0x03

int hi_vram_bar(struct pci_dev *dev)
{
	uint64_t best_len = 0;
	int best = -1;

	if (pci_is_bridge(dev) || pci_pcie_type(dev) < 0 ||
	    pci_dev_class(dev) >> 16 != PCI_BASE_CLASS_DISPLAY_HM)
		return -1;
	for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
		uint64_t len = pci_resource_len(dev, bar);

		if (!(pci_resource_flags(dev, bar) & PCI_BAR_PREFETCH) || !pci_iomap(dev, bar))
			continue;
		if (len > best_len) {
			best_len = len;
			best = bar;
		}
	}
	return best;
}

int hi_make_providers(struct machine *m, struct pci_dev **prov, unsigned int max)
{
	struct pci_fabric *f = machine_fabric(m);
	struct pci_dev *dev = NULL;
	unsigned int n = 0;

	while ((dev = pci_fabric_next_dev(f, dev))) {
		int bar = hi_vram_bar(dev), ret;

		if (bar < 0)
			continue;
		if (n == max)
			return -E2BIG;
		if (!pci_has_p2pmem(dev)) {
			ret = pci_p2pdma_add_resource(dev, bar, 0, 0);
			if (ret)
				return ret;
			pci_p2pmem_publish(dev, true);
		}
		prov[n++] = dev;
	}
	return (int)n;
}

/* Fixed-width Identify strings: trailing blanks go, as the kernel's sysfs drops them. */
static void id_string(char *out, size_t outlen, const char *in, size_t len)
{
	while (len && (in[len - 1] == ' ' || in[len - 1] == '\0'))
		len--;
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, in, len);
	out[len] = '\0';
}

static bool taken_instance(unsigned int n, const unsigned int *taken, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		if (taken[i] == n)
			return true;
	return false;
}

static const char *image_of(const struct hi_image *img, unsigned int nr, const char *label,
			    uint32_t nsid)
{
	for (unsigned int i = 0; i < nr; i++)
		if (img[i].nsid == nsid && !strcmp(img[i].label, label))
			return img[i].path;
	return "";
}

/* CNS 03h: the UUID descriptor, when the controller gives one. */
static void ns_uuid(struct nvme_ctrl *ctrl, uint32_t nsid, uint8_t uuid[16])
{
	struct nvme_command cmd = { .opcode = nvme_admin_identify, .nsid = nsid,
				    .cdw10 = NVME_ID_CNS_NS_DESC_LIST };
	uint8_t *buf = aligned_alloc(4096, 4096);
	size_t off = 0;

	memset(uuid, 0, 16);
	if (!buf)
		return;
	if (nvme_admin_cmd(ctrl, &cmd, buf, 4096, DMA_FROM_DEVICE, NULL))
		goto out;
	while (off + sizeof(struct nvme_ns_id_desc) <= 4096) {
		struct nvme_ns_id_desc d;

		memcpy(&d, buf + off, sizeof(d));
		if (!d.nidt || off + sizeof(d) + d.nidl > 4096)
			break;
		if (d.nidt == NVME_NIDT_UUID && d.nidl == 16)
			memcpy(uuid, buf + off + sizeof(d), 16);
		off += sizeof(d) + d.nidl;
	}
out:
	free(buf);
}

static int probe_one(struct hi_tree_ctrl *tc, struct hi_ctrl_desc *cd, const struct hi_image *img,
		     unsigned int nr_img, char *err, size_t errlen)
{
	struct nvme_ctrl_opts opts = { .io_queue_depth = HI_QUEUE_DEPTH };
	const struct nvme_id_ctrl *id;
	struct nvme_transport t;
	struct nvme_ctrl *ctrl;
	int ret;

	ret = nvme_transport_emu_init(&t, tc->pdev);
	if (ret) {
		snprintf(err, errlen, "%s: %s", cd->label, strerror(-ret));
		return ret;
	}
	ctrl = nvme_ctrl_probe(&t, &opts);
	if (IS_ERR(ctrl)) {
		ret = (int)PTR_ERR(ctrl);
		snprintf(err, errlen, "%s: the controller does not come up: %s", cd->label,
			 strerror(-ret));
		nvme_transport_emu_fini(&t);
		return ret;
	}
	id = nvme_ctrl_identify(ctrl);
	tc->vid = id->vid;
	id_string(tc->serial, sizeof(tc->serial), id->sn, sizeof(id->sn));
	id_string(tc->model, sizeof(tc->model), id->mn, sizeof(id->mn));
	id_string(tc->fw, sizeof(tc->fw), id->fr, sizeof(id->fr));
	id_string(tc->subnqn, sizeof(tc->subnqn), id->subnqn, sizeof(id->subnqn));
	tc->cntlid = id->cntlid;
	tc->queue_count = nvme_ctrl_nr_io_queues(ctrl) + 1;
	tc->sqsize = NVME_CAP_MQES(nvme_ctrl_cap(ctrl));
	if (tc->sqsize > HI_QUEUE_DEPTH - 1)
		tc->sqsize = HI_QUEUE_DEPTH - 1;
	cd->nr_ns = 0;
	for (unsigned int i = 0; i < nvme_ctrl_nr_ns(ctrl) && cd->nr_ns < HI_MAX_NS; i++) {
		struct nvme_ns *ns = nvme_ctrl_ns_at(ctrl, i);
		struct hi_ns_desc *nd = &cd->ns[cd->nr_ns];
		struct hi_tree_ns *tn = &tc->ns[cd->nr_ns];

		nd->nsid = ns->nsid;
		nd->lba_shift = ns->lba_shift;
		nd->size = ns->size;
		nd->nuse = ns->id->nuse;
		snprintf(nd->image, sizeof(nd->image), "%s",
			 image_of(img, nr_img, cd->label, ns->nsid));
		memcpy(tn->eui64, ns->id->eui64, sizeof(tn->eui64));
		memcpy(tn->nguid, ns->id->nguid, sizeof(tn->nguid));
		ns_uuid(ctrl, ns->nsid, tn->uuid);
		cd->nr_ns++;
	}
	nvme_ctrl_remove(ctrl);
	nvme_transport_emu_fini(&t);
	return 0;
}

static int describe_ctrls(struct hi_tree *t, const struct hi_image *img, unsigned int nr_img,
			  const unsigned int *taken, unsigned int nr_taken, char *err, size_t errlen)
{
	struct pci_fabric *f = machine_fabric(t->m);
	struct pci_dev *dev = NULL;
	unsigned int next = 0;
	int ret;

	while ((dev = pci_fabric_next_dev(f, dev))) {
		struct hi_ctrl_desc *cd;
		struct hi_tree_ctrl *tc;

		if (!nvme_emu_from_pdev(dev))
			continue;
		if (t->st->nr_ctrl == HI_MAX_CTRL) {
			snprintf(err, errlen, "more than %d NVMe controllers", HI_MAX_CTRL);
			return -E2BIG;
		}
		cd = &t->st->ctrl[t->st->nr_ctrl];
		tc = &t->ctrl[t->nr_ctrl];
		memset(tc, 0, sizeof(*tc));
		tc->pdev = dev;
		tc->desc = cd;
		snprintf(cd->label, sizeof(cd->label), "%s", pci_dev_label(dev));
		snprintf(cd->bdf, sizeof(cd->bdf), "%s", pci_name(dev));
		while (taken_instance(next, taken, nr_taken))
			next++;
		cd->instance = next;
		cd->subsys = next;
		next++;
		ret = probe_one(tc, cd, img, nr_img, err, errlen);
		if (ret)
			return ret;
		t->st->nr_ctrl++;
		t->nr_ctrl++;
	}
	return 0;
}

static int describe_links(struct hi_tree *t, char *err, size_t errlen)
{
	struct pci_fabric *f = machine_fabric(t->m);
	struct pci_host_bridge *hb = NULL;
	struct pci_dev *dev = NULL;

	while ((dev = pci_fabric_next_dev(f, dev))) {
		struct hi_link_rec *l = &t->st->link[t->st->nr_links];

		if (t->st->nr_links == HI_MAX_LINKS) {
			snprintf(err, errlen, "more than %d functions and ports", HI_MAX_LINKS);
			return -E2BIG;
		}
		snprintf(l->label, sizeof(l->label), "%s", pci_dev_label(dev));
		snprintf(l->bdf, sizeof(l->bdf), "%s", pci_name(dev));
		t->st->nr_links++;
	}
	while ((hb = pci_fabric_next_host_bridge(f, hb))) {
		if (t->st->nr_rc == HI_MAX_RC) {
			snprintf(err, errlen, "more than %d host bridges", HI_MAX_RC);
			return -E2BIG;
		}
		snprintf(t->st->rc[t->st->nr_rc].label, sizeof(t->st->rc[0].label), "%s",
			 pci_host_bridge_name(hb));
		t->st->nr_rc++;
	}
	return 0;
}

int hi_describe(struct hi_tree *t, const struct hi_image *img, unsigned int nr_img,
		const unsigned int *taken, unsigned int nr_taken, char *err, size_t errlen)
{
	int n, ret;

	ret = describe_ctrls(t, img, nr_img, taken, nr_taken, err, errlen);
	if (ret)
		return ret;
	n = hi_make_providers(t->m, t->prov, HI_MAX_PROV);
	if (n < 0) {
		snprintf(err, errlen, "cannot make the GPUs' memory p2pmem: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct hi_prov_desc *p = &t->st->prov[i];
		int bar = hi_vram_bar(t->prov[i]);

		snprintf(p->label, sizeof(p->label), "%s", pci_dev_label(t->prov[i]));
		snprintf(p->bdf, sizeof(p->bdf), "%s", pci_name(t->prov[i]));
		p->bar = bar;
		p->size = pci_resource_len(t->prov[i], bar);
	}
	t->st->nr_prov = (uint32_t)n;
	return describe_links(t, err, errlen);
}
