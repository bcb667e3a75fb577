// SPDX-License-Identifier: MIT
/*
 * Description: a device reads memory while another thread unmaps half of
 * it: the read either completes with the right data or fails cleanly
 * (-EFAULT), never crashes, ten times over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "hmm-fixture.h"

static void *unmap_buffer(void *p)
{
	struct hmm_buffer *buffer = p;
	struct timespec t = { .tv_nsec = rand() % 32000 };

	nanosleep(&t, NULL);
	munmap((char *)buffer->ptr + buffer->size / 2, buffer->size / 2);
	return NULL;
}

static void test_anon_teardown(void **state)
{
	struct hmm_fixture *f = *state;

	for (unsigned long c = 0; c < NTIMES; c++) {
		struct hmm_buffer *buffer = hmm_anon_buffer();
		unsigned long i;
		pthread_t thread;
		int *ptr, rc;

		assert_non_null(buffer);
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			ptr[i] = (int)(i + c);
		assert_int_equal(pthread_create(&thread, NULL, unmap_buffer, buffer), 0);
		rc = hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES);
		if (rc == 0) {
			assert_int_equal(buffer->cpages, HMM_NPAGES);
			for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
				assert_int_equal(ptr[i], (int)(i + c));
		} else {
			assert_int_equal(rc, -EFAULT);
		}
		pthread_join(thread, NULL);
		buffer->size /= 2;
		hmm_buffer_free(buffer);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_teardown, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
