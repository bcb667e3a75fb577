// SPDX-License-Identifier: MIT
/*
 * The device reads a buffer while another thread unmaps it, 500 times
 * (the kernel's hmm-tests anon_teardown, made to hit the race every run):
 * every read either fails or returns exactly what the buffer held, and the
 * process lives. The device's copy can reach pages the munmap() already
 * took; it must fail, not kill the process.
 */
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/ioctl.h>
#include <hetmem/hmm-dmirror.h>
#include "interpose-test.h"

#define HMM_DMIRROR_READ _IOWR('H', 0x00, struct hmm_dmirror_cmd)
#define NPAGES		 16
#define SIZE		 (NPAGES * 4096UL)
#define ROUNDS		 500

struct victim {
	int *ptr;
	unsigned int delay;
};

static void *unmap_it(void *arg)
{
	struct victim *v = arg;

	usleep(v->delay);
	munmap(v->ptr, SIZE);
	return NULL;
}

int main(void)
{
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	int *mirror = malloc(SIZE);
	unsigned int ok = 0, failed = 0;

	if (fd < 0 || !mirror) {
		fprintf(stderr, "hmm-teardown: /dev/hmm_dmirror0: %s\n", strerror(errno));
		return 1;
	}
	for (unsigned int round = 0; round < ROUNDS && it_failures < 5; round++) {
		struct victim v = { .delay = round % 32 };
		struct hmm_dmirror_cmd cmd = { .ptr = (uintptr_t)mirror, .npages = NPAGES };
		pthread_t t;

		v.ptr = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(v.ptr != MAP_FAILED, "mmap: %s", strerror(errno));
		if (v.ptr == MAP_FAILED)
			break;
		for (size_t i = 0; i < SIZE / sizeof(int); i++)
			v.ptr[i] = (int)(i + round);
		cmd.addr = (uintptr_t)v.ptr;
		memset(mirror, 0, SIZE);
		CHECK(pthread_create(&t, NULL, unmap_it, &v) == 0, "pthread_create");
		if (!ioctl(fd, HMM_DMIRROR_READ, &cmd)) {
			ok++;
			CHECK(cmd.cpages == NPAGES, "round %u: %llu pages read", round,
			      (unsigned long long)cmd.cpages);
			for (size_t i = 0; i < SIZE / sizeof(int); i++)
				if (mirror[i] != (int)(i + round)) {
					CHECK(0, "round %u: int %zu is %d", round, i, mirror[i]);
					break;
				}
		} else {
			failed++;
			/*
			 * EFAULT or ENOENT: the range was gone when the
			 * device looked; EBUSY: it kept changing; EIO: the
			 * device's copy found the pages gone mid-transfer.
			 */
			CHECK(errno == EFAULT || errno == ENOENT || errno == EBUSY || errno == EIO,
			      "round %u: read failed with %s", round, strerror(errno));
		}
		pthread_join(t, NULL);
	}
	printf("hmm-teardown: %u reads returned the data, %u failed cleanly\n", ok, failed);
	close(fd);
	free(mirror);
	return it_result("hmm-teardown");
}
