// SPDX-License-Identifier: MIT
/*
 * Identify (NVMe 1.4 sec. 5.15): 4096 bytes to the host for
 *
 *   CNS 00h  Identify Namespace of an active NSID. NSID FFFFFFFFh would ask
 *            for the capabilities common to all namespaces, which only
 *            controllers with Namespace Management report: Invalid
 *            Namespace or Format, as for 0 and inactive NSIDs.
 *   CNS 01h  Identify Controller (NSID ignored)
 *   CNS 02h  active NSIDs above NSID, ascending (FFFFFFFEh and FFFFFFFFh
 *            are Invalid Namespace or Format)
 *   CNS 03h  namespace identification descriptors: EUI64, NGUID, UUID
 *
 * Other CNS values are Invalid Field in Command. CNTID (cdw10 bits 31:16)
 * is ignored: there is one controller.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <stdio.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define ID_SIZE		       4096
#define MAX_NSID_LIST	       1024
#define FR		       "1.0"
#define WCTEMP		       343 /* 70 C, in Kelvin */
#define CCTEMP		       358 /* 85 C */
#define SGLS_DWORD_GRANULARITY 0x2 /* SGLS bits 1:0 = 10b */
#define VWC_FLUSH_BROADCAST    (3 << 1) /* Flush with NSID FFFFFFFFh supported */
#define LPA_EXTENDED_DATA      (1 << 2) /* NUMDU, LPOL/LPOU */
#define FRMW_SLOT1_RO_ONE_SLOT 0x03
#define CNTRLTYPE_IO	       1
#define DLFEAT_ZEROES_WZ_DEAC  0x09 /* deallocated reads zero; Write Zeroes DEAC */

/* Identify strings: ASCII, space padded, not terminated. */
static void pad(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

static void id_ctrl(struct nvme_emu *emu, struct nvme_id_ctrl *id)
{
	id->vid = emu->vendor;
	id->ssvid = emu->vendor;
	pad(id->sn, sizeof(id->sn), emu->serial);
	pad(id->mn, sizeof(id->mn), emu->model);
	pad(id->fr, sizeof(id->fr), FR);
	id->rab = 6;
	id->mdts = NVME_EMU_MDTS;
	id->cntlid = 1;
	id->ver = NVME_VS(1, 4, 0);
	id->cntrltype = CNTRLTYPE_IO;
	id->oacs = NVME_CTRL_OACS_FORMAT;
	id->acl = NVME_EMU_ACL;
	id->aerl = NVME_EMU_AERL;
	id->frmw = FRMW_SLOT1_RO_ONE_SLOT;
	id->lpa = LPA_EXTENDED_DATA;
	id->elpe = NVME_EMU_ERR_LOG - 1;
	id->npss = 0;
	id->wctemp = WCTEMP;
	id->cctemp = CCTEMP;
	id->sqes = NVME_EMU_SQES << 4 | NVME_EMU_SQES;
	id->cqes = NVME_EMU_CQES << 4 | NVME_EMU_CQES;
	id->nn = emu->nr_ns;
	id->oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES;
	id->vwc = NVME_CTRL_VWC_PRESENT | VWC_FLUSH_BROADCAST;
	id->sgls = SGLS_DWORD_GRANULARITY;
	snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2024-01.org.hetmem:nvme:%s", emu->serial);
	id->psd[0].max_power = 2500; /* 25 W, in centiwatts */
}

static void id_ns(const struct nvme_emu_ns *ns, struct nvme_id_ns *id)
{
	id->nsze = ns->nlb;
	id->ncap = ns->nlb;
	id->nuse = ns->nlb;
	id->nlbaf = 1; /* two formats, 0-based */
	id->flbas = ns->lba_shift == 12 ? 1 : 0;
	id->dlfeat = DLFEAT_ZEROES_WZ_DEAC;
	memcpy(id->nvmcap, &ns->size, sizeof(ns->size));
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	memcpy(id->eui64, ns->eui64, sizeof(id->eui64));
	id->lbaf[0].ds = 9;
	id->lbaf[0].rp = 1; /* better */
	id->lbaf[1].ds = 12;
	id->lbaf[1].rp = 0; /* best */
}

static void id_active_list(struct nvme_emu *emu, uint32_t above, uint32_t *list)
{
	unsigned int n = 0;

	for (uint32_t nsid = above + 1; nsid <= emu->nr_ns && n < MAX_NSID_LIST; nsid++)
		list[n++] = nsid;
}

static uint8_t *add_desc(uint8_t *p, uint8_t type, const void *id, uint8_t len)
{
	struct nvme_ns_id_desc d = { .nidt = type, .nidl = len };

	memcpy(p, &d, sizeof(d));
	memcpy(p + sizeof(d), id, len);
	return p + sizeof(d) + len;
}

static void id_descs(const struct nvme_emu_ns *ns, uint8_t *buf)
{
	buf = add_desc(buf, NVME_NIDT_EUI64, ns->eui64, sizeof(ns->eui64));
	buf = add_desc(buf, NVME_NIDT_NGUID, ns->nguid, sizeof(ns->nguid));
	add_desc(buf, NVME_NIDT_UUID, ns->uuid, sizeof(ns->uuid));
}

uint16_t nvme_emu_identify(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint8_t cns = (uint8_t)req->cmd.cdw10;
	uint32_t nsid = req->cmd.nsid;
	struct nvme_emu_ns *ns = nvme_emu_ns_get(emu, nsid);
	uint8_t *buf = emu->bounce;

	memset(buf, 0, ID_SIZE);
	switch (cns) {
	case NVME_ID_CNS_NS:
		if (!ns)
			return nvme_emu_reject(
				req, NVME_DNR(NVME_SC_INVALID_NS),
				"CNS 00h: NSID 0x%x is not an active namespace%s", nsid,
				nsid == 0xffffffff ? " (no namespace management)" : "");
		id_ns(ns, (struct nvme_id_ns *)buf);
		break;
	case NVME_ID_CNS_CTRL:
		id_ctrl(emu, (struct nvme_id_ctrl *)buf);
		break;
	case NVME_ID_CNS_NS_ACTIVE_LIST:
		if (nsid >= 0xfffffffe)
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_NS),
					       "CNS 02h: NSID 0x%x", nsid);
		id_active_list(emu, nsid, (uint32_t *)buf);
		break;
	case NVME_ID_CNS_NS_DESC_LIST:
		if (!ns)
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_NS),
					       "CNS 03h: NSID 0x%x is not an active namespace",
					       nsid);
		id_descs(ns, buf);
		break;
	default:
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "CNS %02xh not supported", cns);
	}
	return nvme_emu_xfer(emu, req, buf, ID_SIZE, true);
}
