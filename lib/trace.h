/* SPDX-License-Identifier: MIT */
/*
 * USDT probes, provider "hetmem". trace_probe(name, args...) compiles to a
 * NOP plus an ELF note when CONFIG_USDT is set, and to nothing otherwise.
 */
#ifndef HETMEM_LIB_TRACE_H
#define HETMEM_LIB_TRACE_H

#ifdef CONFIG_USDT
#define SDT_USE_VARIADIC 1
#include <sys/sdt.h>
#define trace_probe(name, ...) STAP_PROBEV(hetmem, name, ##__VA_ARGS__)
#else
#define trace_probe(name, ...) do { } while (0)
#endif

#endif /* HETMEM_LIB_TRACE_H */
