// SPDX-License-Identifier: MIT
/*
 * Description: the stress test of stress.c without the system page pool:
 * migrations write-protect pages in place and discard them with
 * MADV_DONTNEED, and faults install them with UFFDIO_COPY.
 */
#define HMM_STRESS_NO_POOL 1
#include "stress.c"
