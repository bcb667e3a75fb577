// SPDX-License-Identifier: MIT
/*
 * Description: hmm_mprotect() tells the mirrors. A device that mapped
 * memory writable is refused a write (-EPERM) once the memory is made
 * read-only; device-private pages lose write permission with their
 * mapping and come home read-only with their data; made writable again,
 * the device writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/hmm.h>

#include "hmm-fixture.h"

static void test_mprotect(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned char perm[HMM_NPAGES];
	struct hmm_buffer snap;
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), 0);

	/* Read-only: the device's writable mappings go. */
	assert_int_equal(hmm_mprotect(buffer->ptr, buffer->size, PROT_READ), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), -EPERM);

	/* Device-private pages of a read-only mapping are read-only too. */
	assert_int_equal(hmm_mprotect(buffer->ptr, buffer->size, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(hmm_mprotect(buffer->ptr, buffer->size, PROT_READ), 0);
	snap = *buffer;
	snap.mirror = perm;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_snapshot, &snap, HMM_NPAGES), 0);
	for (i = 0; i < HMM_NPAGES; i++)
		assert_int_equal(perm[i],
				 HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_READ);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);

	/* Writable again. */
	assert_int_equal(hmm_mprotect(buffer->ptr, buffer->size, PROT_READ | PROT_WRITE), 0);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = -(int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), 0);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], -(int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mprotect, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
