// SPDX-License-Identifier: MIT
/*
 * Set/Get Features: stored values come back, bad values and unknown
 * features are refused with the spec's statuses, nothing is saveable, and
 * a controller reset restores the defaults. (Number of Queues is in
 * nvme-emu-queues, the write cache's effect in nvme-emu-durability.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

static int setup(void **state)
{
	struct raw *r = calloc(1, sizeof(*r));
	struct nvme_emu_params p = raw_params();

	if (!r || raw_setup(r, &p) || !raw_enable(r))
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	raw_teardown(*state);
	free(*state);
	return 0;
}

static uint16_t set_feat(struct raw *r, uint8_t fid, uint32_t v)
{
	struct nvme_command c = raw_feat(nvme_admin_set_features, fid, v);

	return raw_admin(r, &c, NULL);
}

static uint16_t get_feat(struct raw *r, uint8_t fid, uint32_t cdw11, uint32_t *result)
{
	struct nvme_command c = raw_feat(nvme_admin_get_features, fid, cdw11);
	struct nvme_completion cqe = { 0 };
	uint16_t st = raw_admin(r, &c, &cqe);

	*result = cqe.result;
	return st;
}

/* Values set come back from Get Features. */
static void test_stored_values(void **state)
{
	struct raw *r = *state;
	const struct {
		uint8_t fid;
		uint32_t v;
	} cases[] = {
		{ NVME_FEAT_ARBITRATION, 0x03020103 }, { NVME_FEAT_POWER_MGMT, 0 },
		{ NVME_FEAT_ERR_RECOVERY, 0x20 },      { NVME_FEAT_IRQ_COALESCE, 0x0a04 },
		{ NVME_FEAT_WRITE_ATOMIC, 1 },	       { NVME_FEAT_ASYNC_EVENT, 0x1ff },
		{ NVME_FEAT_VOLATILE_WC, 0 },	       { NVME_FEAT_VOLATILE_WC, 1 },
	};
	uint32_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(set_feat(r, cases[i].fid, cases[i].v), 0);
		assert_int_equal(get_feat(r, cases[i].fid, 0, &v), 0);
		assert_int_equal(v, cases[i].v);
	}
	/* Temperature thresholds of sensor 0: over (THSEL 0), under (THSEL 1). */
	assert_int_equal(get_feat(r, NVME_FEAT_TEMP_THRESH, 0, &v), 0);
	assert_int_equal(v & 0xffff, 343);
	assert_int_equal(set_feat(r, NVME_FEAT_TEMP_THRESH, 350), 0);
	assert_int_equal(set_feat(r, NVME_FEAT_TEMP_THRESH, 1u << 20 | 270), 0);
	assert_int_equal(get_feat(r, NVME_FEAT_TEMP_THRESH, 0, &v), 0);
	assert_int_equal(v & 0xffff, 350);
	assert_int_equal(get_feat(r, NVME_FEAT_TEMP_THRESH, 1u << 20, &v), 0);
	assert_int_equal(v & 0xffff, 270);
	/* Interrupt vector configuration is per vector. */
	assert_int_equal(get_feat(r, NVME_FEAT_IRQ_CONFIG, 3, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(set_feat(r, NVME_FEAT_IRQ_CONFIG, 1u << 16 | 3), 0);
	assert_int_equal(get_feat(r, NVME_FEAT_IRQ_CONFIG, 3, &v), 0);
	assert_int_equal(v, 1u << 16 | 3);
	assert_int_equal(get_feat(r, NVME_FEAT_IRQ_CONFIG, 2, &v), 0);
	assert_int_equal(v, 2);
}

/* Bad values, unknown FIDs, SV and SEL. */
static void test_refusals(void **state)
{
	struct raw *r = *state;
	struct nvme_command c;
	uint32_t v;

	assert_int_equal(set_feat(r, NVME_FEAT_POWER_MGMT, 1), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(set_feat(r, NVME_FEAT_ERR_RECOVERY, 1u << 16),
			 RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(set_feat(r, NVME_FEAT_TEMP_THRESH, 1u << 16 | 300),
			 RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(set_feat(r, NVME_FEAT_TEMP_THRESH, 2u << 20 | 300),
			 RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(set_feat(r, NVME_FEAT_IRQ_CONFIG, 9), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(get_feat(r, NVME_FEAT_IRQ_CONFIG, 9, &v), RAW_DNR(NVME_SC_INVALID_FIELD));
	for (uint8_t fid = 0x0c; fid < 0x20; fid++) {
		assert_int_equal(set_feat(r, fid, 0), RAW_DNR(NVME_SC_INVALID_FIELD));
		assert_int_equal(get_feat(r, fid, 0, &v), RAW_DNR(NVME_SC_INVALID_FIELD));
	}
	assert_int_equal(set_feat(r, 0, 0), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(set_feat(r, 0x80, 0), RAW_DNR(NVME_SC_INVALID_FIELD));

	c = raw_feat(nvme_admin_set_features, NVME_FEAT_ARBITRATION, 0);
	c.cdw10 |= 1u << 31; /* SV */
	assert_int_equal(raw_admin(r, &c, NULL), RAW_DNR(NVME_SC_FEATURE_NOT_SAVEABLE));
	for (uint32_t sel = 1; sel < 4; sel++) {
		c = raw_feat(nvme_admin_get_features, NVME_FEAT_ARBITRATION, 0);
		c.cdw10 |= sel << 8;
		assert_int_equal(raw_admin(r, &c, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
	}
}

/* A controller reset puts every feature back to its default. */
static void test_reset_restores_defaults(void **state)
{
	struct raw *r = *state;
	uint32_t v;

	assert_int_equal(set_feat(r, NVME_FEAT_VOLATILE_WC, 0), 0);
	assert_int_equal(set_feat(r, NVME_FEAT_ARBITRATION, 7), 0);
	assert_int_equal(set_feat(r, NVME_FEAT_ASYNC_EVENT, 0xff), 0);
	assert_true(raw_disable(r));
	assert_true(raw_enable(r));
	assert_int_equal(get_feat(r, NVME_FEAT_VOLATILE_WC, 0, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(get_feat(r, NVME_FEAT_ARBITRATION, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(get_feat(r, NVME_FEAT_ASYNC_EVENT, 0, &v), 0);
	assert_int_equal(v, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_restores_defaults, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
