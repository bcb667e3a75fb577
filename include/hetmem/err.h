/* SPDX-License-Identifier: MIT */
/*
 * Error pointers: a pointer-returning function returns either a valid
 * pointer or a negative errno encoded in the top page of the address space,
 * as the kernel does.
 */
#ifndef HETMEM_ERR_H
#define HETMEM_ERR_H

#include <stdbool.h>
#include <stdint.h>

#define HETMEM_MAX_ERRNO 4095

static inline void *ERR_PTR(long error)
{
	return (void *)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (uintptr_t)ptr >= (uintptr_t)-HETMEM_MAX_ERRNO;
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}

#endif /* HETMEM_ERR_H */
