// SPDX-License-Identifier: MIT
/*
 * Description: the tests of migrate-unmap.c without the system page pool:
 * every page a migration to the device takes stays in place,
 * write-protected, and the device reads the migration's copy of it; pages
 * come home with UFFDIO_COPY.
 */
#define MIGRATE_UNMAP_NO_POOL 1
#include "migrate-unmap.c"
