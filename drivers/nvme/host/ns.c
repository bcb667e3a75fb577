// SPDX-License-Identifier: MIT
/*
 * Namespaces: Identify the active namespace list (CNS 02h, sec. 5.15),
 * then each namespace (CNS 00h). Controllers older than 1.1 have no list:
 * they get every NSID from 1 to Identify Controller's NN, and the ones
 * whose NSZE reads zero are inactive.
 *
 * The LBA format in use is FLBAS bits 3:0 (Identify Namespace): its LBADS is
 * log2 of the block size, its MS the metadata bytes per block.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "host.h"

#define NSIDS_PER_LIST (NVME_PAGE_SIZE / 4)

static int identify(struct nvme_ctrl *ctrl, uint32_t nsid, uint32_t cns, void *buf)
{
	struct nvme_command cmd = { .opcode = nvme_admin_identify };
	int ret;

	cmd.nsid = htole32(nsid);
	cmd.cdw10 = htole32(cns);
	ret = nvme_admin_cmd(ctrl, &cmd, buf, NVME_PAGE_SIZE, DMA_FROM_DEVICE, NULL);
	return ret > 0 ? -EIO : ret;
}

static int add_ns(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	struct nvme_id_ns *id = aligned_alloc(NVME_PAGE_SIZE, sizeof(*id));
	struct nvme_ns *ns;
	unsigned int fmt;
	int ret;

	if (!id)
		return -ENOMEM;
	ret = identify(ctrl, nsid, NVME_ID_CNS_NS, id);
	if (ret || !le64toh(id->nsze)) {
		free(id);
		if (ret)
			pr_warn("Identify Namespace %u failed: %d", nsid, ret);
		return ret == -ENOMEM ? ret : 0;
	}
	fmt = id->flbas & NVME_NS_FLBAS_LBA_MASK;
	if (fmt > id->nlbaf || id->lbaf[fmt].ds < 9 || id->lbaf[fmt].ds > 16) {
		pr_warn("namespace %u: unusable LBA format %u (LBADS %u): ignored", nsid, fmt,
			id->lbaf[fmt].ds);
		free(id);
		return 0;
	}
	ns = &ctrl->ns[ctrl->nr_ns++];
	ns->ctrl = ctrl;
	ns->nsid = nsid;
	ns->lba_shift = id->lbaf[fmt].ds;
	ns->nr_blocks = le64toh(id->nsze);
	ns->size = ns->nr_blocks << ns->lba_shift;
	ns->ms = le16toh(id->lbaf[fmt].ms);
	ns->id = id;
	return 0;
}

/**
 * nvme_ns_scan - identify the active namespaces
 * @ctrl: the controller, identified
 *
 * Return: 0, -ENOMEM. A namespace that fails to identify is logged and
 * skipped; so is the active list when the controller does not have it.
 */
int nvme_ns_scan(struct nvme_ctrl *ctrl)
{
	uint32_t *list = aligned_alloc(NVME_PAGE_SIZE, NVME_PAGE_SIZE);
	uint32_t nn = le32toh(ctrl->id->nn);
	unsigned int n = 0;
	int ret;

	if (!list)
		return -ENOMEM;
	memset(list, 0, NVME_PAGE_SIZE);
	/* NSIDs greater than 0 (the list starts after cdw1.NSID), in increasing order. */
	if (identify(ctrl, 0, NVME_ID_CNS_NS_ACTIVE_LIST, list) == 0) {
		while (n < NSIDS_PER_LIST && list[n])
			n++;
	} else {
		for (n = 0; n < nn && n < NSIDS_PER_LIST; n++)
			list[n] = htole32(n + 1);
	}
	ctrl->ns = calloc(n ? n : 1, sizeof(*ctrl->ns));
	ret = ctrl->ns ? 0 : -ENOMEM;
	for (unsigned int i = 0; !ret && i < n; i++)
		ret = add_ns(ctrl, le32toh(list[i]));
	free(list);
	return ret;
}

/**
 * nvme_ns_free - forget the namespaces
 * @ctrl: the controller
 */
void nvme_ns_free(struct nvme_ctrl *ctrl)
{
	for (unsigned int i = 0; ctrl->ns && i < ctrl->nr_ns; i++)
		free(ctrl->ns[i].id);
	free(ctrl->ns);
	ctrl->ns = NULL;
	ctrl->nr_ns = 0;
}

unsigned int nvme_ctrl_nr_ns(const struct nvme_ctrl *ctrl)
{
	return ctrl->nr_ns;
}

struct nvme_ns *nvme_ctrl_ns(struct nvme_ctrl *ctrl, uint32_t nsid)
{
	for (unsigned int i = 0; i < ctrl->nr_ns; i++)
		if (ctrl->ns[i].nsid == nsid)
			return &ctrl->ns[i];
	return NULL;
}

struct nvme_ns *nvme_ctrl_ns_at(struct nvme_ctrl *ctrl, unsigned int i)
{
	return i < ctrl->nr_ns ? &ctrl->ns[i] : NULL;
}
