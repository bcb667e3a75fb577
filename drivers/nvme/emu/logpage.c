// SPDX-License-Identifier: MIT
/*
 * Get Log Page (NVMe 1.4 sec. 5.14) and what feeds it: the Error
 * Information ring, the live SMART / Health counters, and asynchronous
 * events.
 *
 *   LID  log                   size   NSID
 *   01h  Error Information     64 x 64 entries, newest first (ELPE = 63)
 *   02h  SMART / Health        512    0 or FFFFFFFFh (LPA bit 0 clear)
 *   03h  Firmware Slot         512    ignored
 *
 * NUMD is NUMDU:NUMDL + 1 dwords, and LPOU:LPOL a dword-aligned offset
 * (LPA bit 2); bytes past the end of a log read as zeroes, an offset past
 * it is Invalid Field. Other LIDs are Invalid Log Page. A read with RAE
 * clear re-arms the event type that log page reports (sec. 5.2).
 *
 * Every failed command leaves an Error Information entry (cmd.c), and so
 * does a bad doorbell write, which also raises an Error event with
 * information "invalid doorbell register" or "invalid doorbell write
 * value" and log page 01h.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define LOG_PAGE_MAX  4096
#define RAE	      (1u << 15)
#define TEMPERATURE_K 313 /* 40 C */
#define NSID_ALL      0xffffffffu

/**
 * nvme_emu_log_error - record an Error Information entry
 * @emu: the controller
 * @sqid: the command's SQ, FFFFh when no command is involved
 * @cid: the command, FFFFh likewise
 * @status_field: the CQE's status field, phase tag in bit 0
 * @req: the command, or NULL
 */
void nvme_emu_log_error(struct nvme_emu *emu, uint16_t sqid, uint16_t cid, uint16_t status_field,
			const struct nvme_emu_req *req)
{
	struct nvme_error_log_entry *e = &emu->err_log[emu->err_next];

	emu->err_next = (emu->err_next + 1) % NVME_EMU_ERR_LOG;
	memset(e, 0, sizeof(*e));
	e->error_count = ++emu->smart.errors;
	e->sqid = sqid;
	e->cmdid = cid;
	e->status_field = status_field;
	e->parm_error_location = req ? req->err_loc : 0xffff;
	e->lba = req && req->has_lba ? req->err_lba : 0;
	e->nsid = req ? req->cmd.nsid : 0;
}

/**
 * nvme_emu_event_add - queue an asynchronous event for the next AER
 * @emu: the controller
 * @type: NVME_AER_TYPE_*
 * @info: event information
 * @lid: the log page that clears it
 *
 * An event already waiting is not queued twice; when the queue is full
 * the event is dropped (and said so).
 */
void nvme_emu_event_add(struct nvme_emu *emu, uint8_t type, uint8_t info, uint8_t lid)
{
	for (unsigned int i = 0; i < emu->nr_events; i++)
		if (emu->events[i].type == type && emu->events[i].info == info)
			return;
	if (emu->nr_events == NVME_EMU_MAX_EVENTS) {
		pr_warn("%s: asynchronous event %u/%u dropped: %u already waiting", emu->name, type,
			info, emu->nr_events);
		return;
	}
	emu->events[emu->nr_events].type = type;
	emu->events[emu->nr_events].info = info;
	emu->events[emu->nr_events].lid = lid;
	emu->nr_events++;
}

/**
 * nvme_emu_db_errors - turn the bad doorbell writes the BAR handler saw into events
 * @emu: the controller
 *
 * Return: true when there were any.
 */
bool nvme_emu_db_errors(struct nvme_emu *emu)
{
	struct nvme_emu_db_err errs[NVME_EMU_MAX_DB_ERRS];
	unsigned int n;

	pthread_mutex_lock(&emu->ev_lock);
	n = emu->nr_db_err;
	memcpy(errs, emu->db_err, n * sizeof(errs[0]));
	emu->nr_db_err = 0;
	__atomic_store_n(&emu->db_err_any, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&emu->ev_lock);

	for (unsigned int i = 0; i < n; i++) {
		nvme_emu_log_error(emu, 0xffff, 0xffff, 0, NULL);
		nvme_emu_event_add(emu, NVME_AER_TYPE_ERROR, errs[i].info, NVME_LOG_ERROR);
	}
	return n > 0;
}

/* --- the log pages ------------------------------------------------------------------ */

static void put128(uint8_t field[16], uint64_t v)
{
	memcpy(field, &v, sizeof(v)); /* little-endian host; upper half stays zero */
}

/* Thousands of 512-byte units, rounded up (sec. 5.14.1.2). */
static uint64_t data_units(uint64_t bytes)
{
	return (bytes / 512 + 999) / 1000;
}

static void smart_log(struct nvme_emu *emu, struct nvme_smart_log *s)
{
	struct timespec now;
	uint16_t temp = TEMPERATURE_K;

	clock_gettime(CLOCK_MONOTONIC, &now);
	memcpy(s->temperature, &temp, sizeof(temp));
	s->avail_spare = 100;
	s->spare_thresh = 10;
	put128(s->data_units_read, data_units(emu->smart.bytes_read));
	put128(s->data_units_written, data_units(emu->smart.bytes_written));
	put128(s->host_reads, emu->smart.host_reads);
	put128(s->host_writes, emu->smart.host_writes);
	put128(s->ctrl_busy_time, emu->smart.busy_ns / 60000000000ULL);
	put128(s->power_cycles, 1);
	put128(s->power_on_hours, (uint64_t)(now.tv_sec - emu->created.tv_sec) / 3600);
	put128(s->unsafe_shutdowns, emu->smart.unsafe_shutdowns);
	put128(s->num_err_log_entries, emu->smart.errors);
	s->temp_sensor[0] = TEMPERATURE_K;
}

static void error_log(struct nvme_emu *emu, struct nvme_error_log_entry *e)
{
	for (unsigned int i = 0; i < NVME_EMU_ERR_LOG; i++) {
		unsigned int idx =
			(emu->err_next + 2 * NVME_EMU_ERR_LOG - 1 - i) % NVME_EMU_ERR_LOG;

		e[i] = emu->err_log[idx];
	}
}

static void fw_slot_log(struct nvme_fw_slot_log *f)
{
	f->afi = 1; /* slot 1 active */
	memcpy(f->frs[0], "1.0     ", 8);
}

/* Event types whose reports a read of @lid re-arms. */
static uint8_t events_of(uint8_t lid)
{
	switch (lid) {
	case NVME_LOG_ERROR:
		return 1u << NVME_AER_TYPE_ERROR;
	case NVME_LOG_SMART:
		return 1u << NVME_AER_TYPE_SMART;
	default:
		return 0;
	}
}

uint16_t nvme_emu_get_log_page(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint32_t cdw10 = req->cmd.cdw10;
	uint8_t lid = (uint8_t)cdw10;
	uint64_t numd = ((uint64_t)(req->cmd.cdw11 & 0xffff) << 16 | cdw10 >> 16) + 1;
	uint64_t len = numd * 4, lpo = req->cmd.cdw12 | (uint64_t)req->cmd.cdw13 << 32;
	uint8_t *log = emu->bounce2, *out = emu->bounce;
	uint64_t size;
	uint16_t status;

	memset(log, 0, LOG_PAGE_MAX);
	switch (lid) {
	case NVME_LOG_ERROR:
		size = NVME_EMU_ERR_LOG * sizeof(struct nvme_error_log_entry);
		error_log(emu, (struct nvme_error_log_entry *)log);
		break;
	case NVME_LOG_SMART:
		if (req->cmd.nsid && req->cmd.nsid != NSID_ALL)
			return nvme_emu_reject(
				req, NVME_DNR(NVME_SC_INVALID_FIELD),
				"SMART log of NSID %u: only controller-wide (LPA bit 0)",
				req->cmd.nsid);
		size = sizeof(struct nvme_smart_log);
		smart_log(emu, (struct nvme_smart_log *)log);
		break;
	case NVME_LOG_FW_SLOT:
		size = sizeof(struct nvme_fw_slot_log);
		fw_slot_log((struct nvme_fw_slot_log *)log);
		break;
	default:
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_LOG_PAGE),
				       "log page %02xh not supported", lid);
	}
	if ((lpo & 3) || lpo > size)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "offset %llu: not dword aligned or past the %llu-byte log",
				       (unsigned long long)lpo, (unsigned long long)size);
	if (len > NVME_EMU_MAX_XFER)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "%llu bytes, above MDTS (%zu)", (unsigned long long)len,
				       NVME_EMU_MAX_XFER);
	memset(out, 0, len);
	memcpy(out, log + lpo, nvme_emu_min(len, size - lpo));
	status = nvme_emu_xfer(emu, req, out, len, true);
	if (!status && !(cdw10 & RAE))
		emu->ev_masked &= (uint8_t)~events_of(lid);
	return status;
}
