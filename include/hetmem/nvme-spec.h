/* SPDX-License-Identifier: MIT */
/*
 * NVM Express 1.4 as data: controller registers, submission and completion
 * queue entries, status codes, opcodes, and the structures commands move
 * (identify, logs, SGL descriptors). Shared by the emulated controller and
 * the host driver. Section numbers refer to the NVMe Base Specification 1.4.
 * All multi-byte fields are little-endian, as on the wire.
 */
#ifndef HETMEM_NVME_SPEC_H
#define HETMEM_NVME_SPEC_H

#include <stdint.h>

/* --- controller registers (sec. 3.1) ------------------------------------------ */

enum nvme_reg {
	NVME_REG_CAP = 0x00,	 /* controller capabilities, 64 bit */
	NVME_REG_VS = 0x08,	 /* version */
	NVME_REG_INTMS = 0x0c,	 /* interrupt mask set */
	NVME_REG_INTMC = 0x10,	 /* interrupt mask clear */
	NVME_REG_CC = 0x14,	 /* controller configuration */
	NVME_REG_CSTS = 0x1c,	 /* controller status */
	NVME_REG_NSSR = 0x20,	 /* NVM subsystem reset */
	NVME_REG_AQA = 0x24,	 /* admin queue attributes */
	NVME_REG_ASQ = 0x28,	 /* admin SQ base, 64 bit */
	NVME_REG_ACQ = 0x30,	 /* admin CQ base, 64 bit */
	NVME_REG_CMBLOC = 0x38,	 /* CMB location */
	NVME_REG_CMBSZ = 0x3c,	 /* CMB size */
	NVME_REG_BPINFO = 0x40,	 /* boot partition information */
	NVME_REG_BPRSEL = 0x44,	 /* boot partition read select */
	NVME_REG_BPMBL = 0x48,	 /* boot partition memory buffer location, 64 bit */
	NVME_REG_CMBMSC = 0x50,	 /* CMB memory space control, 64 bit */
	NVME_REG_CMBSTS = 0x58,	 /* CMB status */
	NVME_REG_DBS = 0x1000,	 /* first doorbell */
};

#define NVME_CAP_MQES(cap) ((uint32_t)((cap) & 0xffff))
#define NVME_CAP_CQR(cap) (((cap) >> 16) & 0x1)
#define NVME_CAP_TIMEOUT(cap) (((cap) >> 24) & 0xff) /* 500 ms units */
#define NVME_CAP_DSTRD(cap) (((cap) >> 32) & 0xf)
#define NVME_CAP_NSSRS(cap) (((cap) >> 36) & 0x1)
#define NVME_CAP_CSS(cap) (((cap) >> 37) & 0xff)
#define NVME_CAP_MPSMIN(cap) (((cap) >> 48) & 0xf)
#define NVME_CAP_MPSMAX(cap) (((cap) >> 52) & 0xf)
#define NVME_CAP_CMBS(cap) (((cap) >> 57) & 0x1)
#define NVME_CAP_CSS_NVM (1 << 0)

#define NVME_VS(major, minor, tertiary) (((major) << 16) | ((minor) << 8) | (tertiary))

#define NVME_CC_ENABLE (1 << 0)
#define NVME_CC_CSS_SHIFT 4
#define NVME_CC_CSS_MASK (7 << 4)
#define NVME_CC_CSS_NVM (0 << 4)
#define NVME_CC_MPS_SHIFT 7
#define NVME_CC_MPS_MASK (0xf << 7)
#define NVME_CC_AMS_SHIFT 11
#define NVME_CC_AMS_MASK (7 << 11)
#define NVME_CC_SHN_SHIFT 14
#define NVME_CC_SHN_MASK (3 << 14)
#define NVME_CC_SHN_NONE (0 << 14)
#define NVME_CC_SHN_NORMAL (1 << 14)
#define NVME_CC_SHN_ABRUPT (2 << 14)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOSQES_MASK (0xf << 16)
#define NVME_CC_IOCQES_SHIFT 20
#define NVME_CC_IOCQES_MASK (0xf << 20)

#define NVME_CSTS_RDY (1 << 0)
#define NVME_CSTS_CFS (1 << 1)
#define NVME_CSTS_SHST_MASK (3 << 2)
#define NVME_CSTS_SHST_NORMAL (0 << 2)
#define NVME_CSTS_SHST_OCCUR (1 << 2)
#define NVME_CSTS_SHST_CMPLT (2 << 2)
#define NVME_CSTS_NSSRO (1 << 4)

#define NVME_AQA_ASQS(aqa) ((aqa) & 0xfff)
#define NVME_AQA_ACQS(aqa) (((aqa) >> 16) & 0xfff)

#define NVME_CMBLOC_BIR(v) ((v) & 0x7)
#define NVME_CMBLOC_OFST(v) ((v) >> 12)

#define NVME_CMBSZ_SQS (1 << 0)
#define NVME_CMBSZ_CQS (1 << 1)
#define NVME_CMBSZ_LISTS (1 << 2)
#define NVME_CMBSZ_RDS (1 << 3)
#define NVME_CMBSZ_WDS (1 << 4)
#define NVME_CMBSZ_SZU(v) (((v) >> 8) & 0xf)
#define NVME_CMBSZ_SZ(v) ((v) >> 12)

#define NVME_CMBMSC_CRE (1ULL << 0)
#define NVME_CMBMSC_CMSE (1ULL << 1)
#define NVME_CMBMSC_CBA_MASK (~0xfffULL)

#define NVME_CMBSTS_CBAI (1 << 0)

/* Doorbell of queue @qid, tail (SQ) or head (CQ), with stride 4 << @dstrd. */
#define NVME_SQ_DB(qid, dstrd) (NVME_REG_DBS + (2 * (qid)) * (4U << (dstrd)))
#define NVME_CQ_DB(qid, dstrd) (NVME_REG_DBS + (2 * (qid) + 1) * (4U << (dstrd)))

/* --- queue entries (sec. 4.2, 4.6) ------------------------------------------------ */

/**
 * struct nvme_sgl_desc - an SGL descriptor (sec. 4.4)
 * @addr: address
 * @length: bytes
 * @rsvd: reserved
 * @type: descriptor type in bits 7:4, subtype in bits 3:0
 */
struct nvme_sgl_desc {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type;
};

enum {
	NVME_SGL_FMT_DATA_DESC = 0x00,
	NVME_SGL_FMT_BIT_BUCKET = 0x01,
	NVME_SGL_FMT_SEG_DESC = 0x02,
	NVME_SGL_FMT_LAST_SEG_DESC = 0x03,
	NVME_SGL_FMT_ADDRESS = 0x00, /* subtype */
};

#define NVME_SGL_TYPE(type, subtype) ((uint8_t)(((type) << 4) | (subtype)))

/**
 * struct nvme_command - a submission queue entry, 64 bytes
 * @opcode: command opcode
 * @flags: bits 1:0 fused operation, bits 7:6 PSDT (0 PRP, 1 SGL)
 * @command_id: command identifier, unique per SQ while outstanding
 * @nsid: namespace
 * @cdw2: command dword 2
 * @cdw3: command dword 3
 * @metadata: metadata pointer
 * @prp1: data pointer, first PRP entry
 * @prp2: data pointer, second PRP entry or PRP list
 * @sgl: data pointer as an SGL descriptor (PSDT 1)
 * @cdw10: command dword 10
 * @cdw11: command dword 11
 * @cdw12: command dword 12
 * @cdw13: command dword 13
 * @cdw14: command dword 14
 * @cdw15: command dword 15
 */
struct nvme_command {
	uint8_t opcode;
	uint8_t flags;
	uint16_t command_id;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t metadata;
	union {
		struct {
			uint64_t prp1;
			uint64_t prp2;
		};
		struct nvme_sgl_desc sgl;
	};
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};

#define NVME_CMD_FUSE_MASK 0x3
#define NVME_CMD_PSDT_SHIFT 6
#define NVME_CMD_PSDT_MASK (3 << 6)
#define NVME_CMD_PSDT_PRP (0 << 6)
#define NVME_CMD_PSDT_SGL (1 << 6)

/**
 * struct nvme_completion - a completion queue entry, 16 bytes
 * @result: command specific
 * @rsvd: reserved
 * @sq_head: how far the controller consumed the SQ
 * @sq_id: the SQ the command came from
 * @command_id: the command's identifier
 * @status: phase tag in bit 0, status field in bits 15:1
 */
struct nvme_completion {
	uint32_t result;
	uint32_t rsvd;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t command_id;
	uint16_t status;
};

/*
 * Status values as the kernel writes them: the status field shifted right
 * by one (phase dropped): bits 7:0 code, 10:8 type, 14 DNR.
 */
enum nvme_status {
	/* generic (type 0) */
	NVME_SC_SUCCESS = 0x0,
	NVME_SC_INVALID_OPCODE = 0x1,
	NVME_SC_INVALID_FIELD = 0x2,
	NVME_SC_CMDID_CONFLICT = 0x3,
	NVME_SC_DATA_XFER_ERROR = 0x4,
	NVME_SC_POWER_LOSS = 0x5,
	NVME_SC_INTERNAL = 0x6,
	NVME_SC_ABORT_REQ = 0x7,
	NVME_SC_ABORT_QUEUE = 0x8,
	NVME_SC_FUSED_FAIL = 0x9,
	NVME_SC_FUSED_MISSING = 0xa,
	NVME_SC_INVALID_NS = 0xb,
	NVME_SC_CMD_SEQ_ERROR = 0xc,
	NVME_SC_SGL_INVALID_LAST = 0xd,
	NVME_SC_SGL_INVALID_COUNT = 0xe,
	NVME_SC_SGL_INVALID_DATA = 0xf,
	NVME_SC_SGL_INVALID_METADATA = 0x10,
	NVME_SC_SGL_INVALID_TYPE = 0x11,
	NVME_SC_CMB_INVALID_USE = 0x12,
	NVME_SC_PRP_INVALID_OFFSET = 0x13,
	NVME_SC_SGL_INVALID_OFFSET = 0x16,
	NVME_SC_SGL_INVALID_SUBTYPE = 0x17,
	NVME_SC_SGL_INVALID_GRANULARITY = 0x1e, /* SGL Data Block Granularity Invalid */
	NVME_SC_LBA_RANGE = 0x80,
	NVME_SC_CAP_EXCEEDED = 0x81,
	NVME_SC_NS_NOT_READY = 0x82,
	/* command specific (type 1) */
	NVME_SC_CQ_INVALID = 0x100,
	NVME_SC_QID_INVALID = 0x101,
	NVME_SC_QUEUE_SIZE = 0x102,
	NVME_SC_ABORT_LIMIT = 0x103,
	NVME_SC_ASYNC_LIMIT = 0x105,
	NVME_SC_INVALID_LOG_PAGE = 0x109,
	NVME_SC_INVALID_FORMAT = 0x10a,
	NVME_SC_INVALID_QUEUE_DELETION = 0x10c, /* 1.4: "Invalid Queue Deletion" */
	NVME_SC_FEATURE_NOT_SAVEABLE = 0x10d,
	NVME_SC_FEATURE_NOT_CHANGEABLE = 0x10e,
	NVME_SC_INVALID_VECTOR = 0x108,
	/* media and data integrity (type 2) */
	NVME_SC_WRITE_FAULT = 0x280,
	NVME_SC_READ_ERROR = 0x281,
	NVME_SC_COMPARE_FAILED = 0x285,
	NVME_SC_ACCESS_DENIED = 0x286,
	NVME_SC_DNR = 0x4000,
};

#define NVME_SCT(status) (((status) >> 8) & 0x7)
#define NVME_SC(status) ((status) & 0xff)

/* --- opcodes (sec. 5, 6) ------------------------------------------------------------ */

enum nvme_admin_opcode {
	nvme_admin_delete_sq = 0x00,
	nvme_admin_create_sq = 0x01,
	nvme_admin_get_log_page = 0x02,
	nvme_admin_delete_cq = 0x04,
	nvme_admin_create_cq = 0x05,
	nvme_admin_identify = 0x06,
	nvme_admin_abort_cmd = 0x08,
	nvme_admin_set_features = 0x09,
	nvme_admin_get_features = 0x0a,
	nvme_admin_async_event = 0x0c,
	nvme_admin_activate_fw = 0x10,
	nvme_admin_download_fw = 0x11,
	nvme_admin_format_nvm = 0x80,
};

enum nvme_io_opcode {
	nvme_cmd_flush = 0x00,
	nvme_cmd_write = 0x01,
	nvme_cmd_read = 0x02,
	nvme_cmd_compare = 0x05,
	nvme_cmd_write_zeroes = 0x08,
	nvme_cmd_dsm = 0x09,
};

/* Create I/O CQ/SQ flags (cdw11) */
#define NVME_QUEUE_PHYS_CONTIG (1 << 0)
#define NVME_CQ_IRQ_ENABLED (1 << 1)
#define NVME_SQ_PRIO_MASK (3 << 1)

/* Identify CNS values */
enum {
	NVME_ID_CNS_NS = 0x00,
	NVME_ID_CNS_CTRL = 0x01,
	NVME_ID_CNS_NS_ACTIVE_LIST = 0x02,
	NVME_ID_CNS_NS_DESC_LIST = 0x03,
};

/* Log page identifiers */
enum {
	NVME_LOG_ERROR = 0x01,
	NVME_LOG_SMART = 0x02,
	NVME_LOG_FW_SLOT = 0x03,
};

/* Feature identifiers */
enum {
	NVME_FEAT_ARBITRATION = 0x01,
	NVME_FEAT_POWER_MGMT = 0x02,
	NVME_FEAT_TEMP_THRESH = 0x04,
	NVME_FEAT_ERR_RECOVERY = 0x05,
	NVME_FEAT_VOLATILE_WC = 0x06,
	NVME_FEAT_NUM_QUEUES = 0x07,
	NVME_FEAT_IRQ_COALESCE = 0x08,
	NVME_FEAT_IRQ_CONFIG = 0x09,
	NVME_FEAT_WRITE_ATOMIC = 0x0a,
	NVME_FEAT_ASYNC_EVENT = 0x0b,
};

/* Dataset management attributes (cdw11) and range */
#define NVME_DSMGMT_AD (1 << 2)

/**
 * struct nvme_dsm_range - one range of a Dataset Management command
 * @cattr: context attributes
 * @nlb: number of logical blocks
 * @slba: starting LBA
 */
struct nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};

/* Asynchronous event types and infos (sec. 5.2) */
enum {
	NVME_AER_TYPE_ERROR = 0,
	NVME_AER_TYPE_SMART = 1,
	NVME_AER_TYPE_NOTICE = 2,
	NVME_AER_ERROR_INVALID_DB_REG = 0x00,
	NVME_AER_ERROR_INVALID_DB_VALUE = 0x01,
};

/* --- data structures (sec. 5.15, 5.14.1) ------------------------------------------- */

/**
 * struct nvme_id_power_state - a power state descriptor, 32 bytes
 * @max_power: maximum power, centiwatts
 * @rsvd2: reserved
 * @flags: MXPS, NOPS
 * @entry_lat: entry latency, us
 * @exit_lat: exit latency, us
 * @read_tput: relative read throughput
 * @read_lat: relative read latency
 * @write_tput: relative write throughput
 * @write_lat: relative write latency
 * @idle_power: idle power
 * @idle_scale: its scale
 * @rsvd19: reserved
 * @active_power: active power
 * @active_work_scale: its workload and scale
 * @rsvd23: reserved
 */
struct nvme_id_power_state {
	uint16_t max_power;
	uint8_t rsvd2;
	uint8_t flags;
	uint32_t entry_lat;
	uint32_t exit_lat;
	uint8_t read_tput;
	uint8_t read_lat;
	uint8_t write_tput;
	uint8_t write_lat;
	uint16_t idle_power;
	uint8_t idle_scale;
	uint8_t rsvd19;
	uint16_t active_power;
	uint8_t active_work_scale;
	uint8_t rsvd23[9];
};

/** struct nvme_id_ctrl - Identify Controller data, 4096 bytes (fields as named by the spec) */
struct nvme_id_ctrl {
	uint16_t vid;
	uint16_t ssvid;
	char sn[20];
	char mn[40];
	char fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts;
	uint16_t cntlid;
	uint32_t ver;
	uint32_t rtd3r;
	uint32_t rtd3e;
	uint32_t oaes;
	uint32_t ctratt;
	uint16_t rrls;
	uint8_t rsvd102[9];
	uint8_t cntrltype;
	uint8_t fguid[16];
	uint16_t crdt1;
	uint16_t crdt2;
	uint16_t crdt3;
	uint8_t rsvd134[122];
	uint16_t oacs;
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	uint16_t wctemp;
	uint16_t cctemp;
	uint16_t mtfa;
	uint32_t hmpre;
	uint32_t hmmin;
	uint8_t tnvmcap[16];
	uint8_t unvmcap[16];
	uint32_t rpmbs;
	uint16_t edstt;
	uint8_t dsto;
	uint8_t fwug;
	uint16_t kas;
	uint16_t hctma;
	uint16_t mntmt;
	uint16_t mxtmt;
	uint32_t sanicap;
	uint32_t hmminds;
	uint16_t hmmaxd;
	uint16_t nsetidmax;
	uint16_t endgidmax;
	uint8_t anatt;
	uint8_t anacap;
	uint32_t anagrpmax;
	uint32_t nanagrpid;
	uint32_t pels;
	uint8_t rsvd356[156];
	uint8_t sqes;
	uint8_t cqes;
	uint16_t maxcmd;
	uint32_t nn;
	uint16_t oncs;
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;
	uint16_t awun;
	uint16_t awupf;
	uint8_t nvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint8_t rsvd534[2];
	uint32_t sgls;
	uint32_t mnan;
	uint8_t rsvd544[224];
	char subnqn[256];
	uint8_t rsvd1024[768];
	uint32_t ioccsz;
	uint32_t iorcsz;
	uint16_t icdoff;
	uint8_t ctrattr;
	uint8_t msdbd;
	uint8_t rsvd1804[244];
	struct nvme_id_power_state psd[32];
	uint8_t vs[1024];
};

/* id_ctrl bits */
#define NVME_CTRL_ONCS_COMPARE (1 << 0)
#define NVME_CTRL_ONCS_DSM (1 << 2)
#define NVME_CTRL_ONCS_WRITE_ZEROES (1 << 3)
#define NVME_CTRL_VWC_PRESENT (1 << 0)
#define NVME_CTRL_OACS_FORMAT (1 << 1)
#define NVME_CTRL_SGLS_SUPPORTED (1 << 0)
#define NVME_CTRL_LPA_CMD_EFFECTS (1 << 1)

/**
 * struct nvme_lbaf - an LBA format
 * @ms: metadata bytes per block
 * @ds: log2 of the block size
 * @rp: relative performance
 */
struct nvme_lbaf {
	uint16_t ms;
	uint8_t ds;
	uint8_t rp;
};

/** struct nvme_id_ns - Identify Namespace data, 4096 bytes (fields as named by the spec) */
struct nvme_id_ns {
	uint64_t nsze;
	uint64_t ncap;
	uint64_t nuse;
	uint8_t nsfeat;
	uint8_t nlbaf;
	uint8_t flbas;
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	uint16_t nawun;
	uint16_t nawupf;
	uint16_t nacwu;
	uint16_t nabsn;
	uint16_t nabo;
	uint16_t nabspf;
	uint16_t noiob;
	uint8_t nvmcap[16];
	uint16_t npwg;
	uint16_t npwa;
	uint16_t npdg;
	uint16_t npda;
	uint16_t nows;
	uint8_t rsvd74[18];
	uint32_t anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvme_lbaf lbaf[16];
	uint8_t rsvd192[192];
	uint8_t vs[3712];
};

#define NVME_NS_FLBAS_LBA_MASK 0xf
#define NVME_NS_FEAT_THIN (1 << 0)
#define NVME_NS_DLFEAT_READS_ZERO 0x1

/* Namespace identification descriptor types (CNS 03h) */
enum {
	NVME_NIDT_EUI64 = 0x01,
	NVME_NIDT_NGUID = 0x02,
	NVME_NIDT_UUID = 0x03,
};

/** struct nvme_ns_id_desc - header of one namespace identification descriptor */
struct nvme_ns_id_desc {
	uint8_t nidt;
	uint8_t nidl;
	uint16_t reserved;
};

/** struct nvme_smart_log - SMART / Health Information log, 512 bytes */
struct nvme_smart_log {
	uint8_t critical_warning;
	uint8_t temperature[2];
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn_sumry;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_comp_time;
	uint16_t temp_sensor[8];
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time;
	uint32_t thm_temp2_total_time;
	uint8_t rsvd232[280];
};

/** struct nvme_error_log_entry - one Error Information log entry, 64 bytes */
struct nvme_error_log_entry {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cmdid;
	uint16_t status_field;
	uint16_t parm_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t cs;
	uint16_t trtype_spec_info;
	uint8_t rsvd42[22];
};

/** struct nvme_fw_slot_log - Firmware Slot Information log, 512 bytes */
struct nvme_fw_slot_log {
	uint8_t afi;
	uint8_t rsvd1[7];
	char frs[7][8];
	uint8_t rsvd64[448];
};

_Static_assert(sizeof(struct nvme_command) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct nvme_completion) == 16, "CQE is 16 bytes");
_Static_assert(__builtin_offsetof(struct nvme_completion, sq_head) == 8, "CQE second half at 8");
_Static_assert(sizeof(struct nvme_sgl_desc) == 16, "SGL descriptor is 16 bytes");
_Static_assert(sizeof(struct nvme_id_power_state) == 32, "power state is 32 bytes");
_Static_assert(sizeof(struct nvme_id_ctrl) == 4096, "identify controller is 4 KiB");
_Static_assert(sizeof(struct nvme_id_ns) == 4096, "identify namespace is 4 KiB");
_Static_assert(sizeof(struct nvme_smart_log) == 512, "SMART log is 512 bytes");
_Static_assert(sizeof(struct nvme_error_log_entry) == 64, "error log entry is 64 bytes");
_Static_assert(sizeof(struct nvme_fw_slot_log) == 512, "firmware slot log is 512 bytes");
_Static_assert(sizeof(struct nvme_dsm_range) == 16, "DSM range is 16 bytes");
_Static_assert(__builtin_offsetof(struct nvme_id_ctrl, oacs) == 256, "oacs at 256");
_Static_assert(__builtin_offsetof(struct nvme_id_ctrl, sqes) == 512, "sqes at 512");
_Static_assert(__builtin_offsetof(struct nvme_id_ctrl, sgls) == 536, "sgls at 536");
_Static_assert(__builtin_offsetof(struct nvme_id_ctrl, subnqn) == 768, "subnqn at 768");
_Static_assert(__builtin_offsetof(struct nvme_id_ctrl, psd) == 2048, "psd at 2048");
_Static_assert(__builtin_offsetof(struct nvme_id_ns, nguid) == 104, "nguid at 104");
_Static_assert(__builtin_offsetof(struct nvme_id_ns, lbaf) == 128, "lbaf at 128");
_Static_assert(__builtin_offsetof(struct nvme_smart_log, data_units_read) == 32, "dur at 32");
_Static_assert(__builtin_offsetof(struct nvme_smart_log, num_err_log_entries) == 176,
	       "error entries at 176");

#endif /* HETMEM_NVME_SPEC_H */
