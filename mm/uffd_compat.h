/* SPDX-License-Identifier: MIT */
/*
 * Userfaultfd definitions newer than Debian 12's uapi headers (Linux 6.1),
 * from include/uapi/linux/userfaultfd.h of the kernels that added them.
 */
#ifndef HETMEM_MM_UFFD_COMPAT_H
#define HETMEM_MM_UFFD_COMPAT_H

#include <linux/types.h>
#include <linux/userfaultfd.h>

/* Linux 6.8. */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE	 ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

/* /dev/userfaultfd, Linux 6.1 has it; older headers may not. */
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC	    0xAA
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

#endif /* HETMEM_MM_UFFD_COMPAT_H */
