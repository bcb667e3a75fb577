/* SPDX-License-Identifier: MIT */
/*
 * What the interposer's test programs share. They run under `hetmem run`
 * and use nothing of hetmem: plain libc calls on the paths real programs
 * use, checked by their results. Exit codes: 0 pass, 1 fail, 77 skip.
 */
#ifndef HETMEM_TESTS_INTERPOSE_H
#define HETMEM_TESTS_INTERPOSE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int it_failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			it_failures++;                                         \
		}                                                              \
	} while (0)

/* A sysfs attribute as a number (hex with 0x, else decimal); -1 when unreadable. */
static inline long long it_attr(const char *dir, const char *name)
{
	char path[512], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 0);
}

/*
 * The @nth function of @class in /sys/bus/pci/devices (domain 1000 and up:
 * the machine's), its directory into @dir. Return: 0, or -1 when none.
 */
static inline int it_find_class(long long class, int nth, char *dir, size_t len)
{
	struct dirent **names;
	int n = scandir("/sys/bus/pci/devices", &names, NULL, alphasort), ret = -1;

	for (int i = 0; i < n; i++) {
		char d[512];

		snprintf(d, sizeof(d), "/sys/bus/pci/devices/%s", names[i]->d_name);
		if (ret && strncmp(names[i]->d_name, "0000:", 5) && it_attr(d, "class") == class &&
		    !nth--) {
			snprintf(dir, len, "%s", d);
			ret = 0;
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return ret;
}

static inline int it_result(const char *name)
{
	if (it_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, it_failures);
	return it_failures ? 1 : 0;
}

#endif /* HETMEM_TESTS_INTERPOSE_H */
