/* SPDX-License-Identifier: MIT */
/*
 * Compiler helpers shared by the library's sources.
 */
#ifndef HETMEM_LIB_COMPILER_H
#define HETMEM_LIB_COMPILER_H

/*
 * Functions shared between the library's files but not part of its
 * interface. The version map exports by prefix (pci_*, iommu_*, ...);
 * hidden visibility keeps these out of libhetmem.so whatever their names.
 */
#define __internal __attribute__((visibility("hidden")))

#endif /* HETMEM_LIB_COMPILER_H */
