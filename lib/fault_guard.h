/* SPDX-License-Identifier: MIT */
/*
 * Fault guards: an access to process memory that may vanish under it.
 *
 * A device thread copies to and from process memory by address. The
 * kernel's devices reach pages the IOMMU keeps referenced, so a munmap()
 * racing a DMA leaves the page alive until the IOMMU lets go; here the
 * copy reads the address itself, and munmap() takes the page at once.
 * The userfaultfd UNMAP event that stops the device comes after the
 * unmap, so the window cannot be closed: the copy must survive it. A
 * guarded copy that faults inside the range it declared is abandoned and
 * reported, as the kernel's copy_from_user() reports through its
 * exception table, instead of taking the process down.
 *
 *	struct fault_guard g;
 *
 *	if (fault_guard_enter(&g, addr, len))	// a macro: sigsetjmp
 *		return -EFAULT;			// the access faulted
 *	... access [addr, addr + len) ...
 *	fault_guard_leave(&g);
 *
 * A fault outside the declared range, or on a thread with no guard, is
 * handed to whatever handler was installed before (the default action
 * when there was none), so real bugs still crash where they happen.
 *
 * The handler is installed by the first guard. A program that installs
 * its own SIGSEGV or SIGBUS handler later replaces it, and its handler
 * then gets the faults the guards would have caught, until
 * fault_guard_install() runs again (test harnesses that swap handlers
 * around each test call it at the start of the test). A thread that may
 * take a guarded fault must not block SIGSEGV or SIGBUS: the kernel kills
 * a process whose thread faults with the signal blocked, handler or not.
 */
#ifndef HETMEM_LIB_FAULT_GUARD_H
#define HETMEM_LIB_FAULT_GUARD_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

struct fault_guard {
	sigjmp_buf env;
	uintptr_t start;
	size_t len;
	struct fault_guard *outer;
};

/**
 * fault_guard_install() - make the guards' handler the installed one
 *
 * Installs the SIGSEGV/SIGBUS handler unless it is installed already,
 * keeping the handler it replaces for the faults no guard covers.
 * Thread-safe; a system call or two.
 */
__internal void fault_guard_install(void);

/**
 * fault_guard_arm() - declare the range the guarded access may fault in
 * @g: the guard, on the caller's stack
 * @start: first byte of the range
 * @len: its length
 *
 * Installs the SIGSEGV/SIGBUS handler on first use. Called through
 * fault_guard_enter() only.
 *
 * Return: @g.
 */
__internal struct fault_guard *fault_guard_arm(struct fault_guard *g, uintptr_t start, size_t len);

/**
 * fault_guard_leave() - end a guarded access
 * @g: the guard fault_guard_enter() armed
 *
 * Must be called on the path where the access completed; the faulting
 * path has left the guard already.
 */
__internal void fault_guard_leave(struct fault_guard *g);

/**
 * fault_guard_enter() - start a guarded access
 * @g: a struct fault_guard on the caller's stack
 * @start: first byte (uintptr_t) the access may touch
 * @len: how many bytes
 *
 * A macro: sigsetjmp() must run in the frame that does the access.
 *
 * Return: 0 when armed; non-zero when the access faulted inside
 * [@start, @start + @len) and control came back here (the guard is left).
 */
#define fault_guard_enter(g, start, len) sigsetjmp(fault_guard_arm((g), (start), (len))->env, 0)

#endif /* HETMEM_LIB_FAULT_GUARD_H */
