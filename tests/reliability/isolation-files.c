// SPDX-License-Identifier: MIT
/*
 * Description: nothing hetmem creates is world-writable, even with a
 * umask of 0. What hetmem keeps open while a machine with a file-backed
 * namespace runs and a driver is bound is looked at through
 * /proc/self/fd: no sockets, no FIFOs; every file on disk (the namespace
 * files) has no write permission for group or others; the BAR backing
 * memory is a memfd linked nowhere, so no other process can open it by
 * name. The namespace file is created 0644 whatever the umask, and the
 * directory it sits in gets no other files. hetmem has no daemon: it
 * creates no sockets and no run directories.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <hetmem/machine.h>
#include "../nvme-host/nvme-fixture.h"

struct seen {
	unsigned int files, memfds, sockets, fifos;
};

#define MAX_FD 4096
/* Descriptors open before hetmem ran (inherited from the test harness, say). */
static bool before[MAX_FD];

static void note_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) < MAX_FD)
			before[atoi(e->d_name)] = true;
	closedir(d);
}

/* Look at every descriptor hetmem opened. */
static struct seen scan_fds(void)
{
	struct seen s = { 0 };
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		char link[64], target[512] = "";
		struct stat st;
		ssize_t n;

		if (e->d_name[0] == '.' || fd == dirfd(d) || fd >= MAX_FD || before[fd])
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		assert_true(n > 0);
		target[n] = '\0';
		assert_int_equal(fstat(fd, &st), 0);
		if (S_ISSOCK(st.st_mode)) {
			s.sockets++;
		} else if (S_ISFIFO(st.st_mode)) {
			s.fifos++;
		} else if (!strncmp(target, "/memfd:", 7)) {
			/* Reachable only through this process's /proc entry. */
			assert_int_equal(st.st_nlink, 0);
			s.memfds++;
		} else if (S_ISREG(st.st_mode) && target[0] == '/') {
			if (st.st_mode & (S_IWGRP | S_IWOTH))
				fail_msg("%s is writable by group or others (mode %04o)", target,
					 (unsigned int)(st.st_mode & 07777));
			s.files++;
		}
	}
	closedir(d);
	return s;
}

static void test_nothing_world_writable(void **state)
{
	char dir[] = "/tmp/hetmem-files-XXXXXX", path[96], config[512], err[256] = "";
	struct nvme_transport t;
	struct nvme_ctrl *ctrl;
	struct machine *m;
	struct dirent *e;
	struct stat st;
	struct seen s;
	mode_t old;
	DIR *d;
	int n = 0;

	note_fds();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nvme0n1.img", dir);
	snprintf(config, sizeof(config),
		 "[host-bridge hb0]\n[root-port rp0]\nparent = hb0\n"
		 "[endpoint nvme0]\nparent = rp0\nmodel = nvme\ncmb = 1M\n"
		 "ns1 = 1M\nns1-file = %s\n"
		 "[endpoint gpu0]\nparent = rp0\nfunction = 1\nbar2 = 16M 64 pref\n",
		 path);
	old = umask(0);
	m = machine_load_string(config, "files", err, sizeof(err));
	umask(old);
	if (IS_ERR_OR_NULL(m))
		fail_msg("machine: %s", err);
	assert_int_equal(nvme_transport_emu_init(&t, machine_find(m, "nvme0")), 0);
	ctrl = nvme_ctrl_probe(&t, NULL);
	assert_false(IS_ERR(ctrl));

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	s = scan_fds();
	print_message("open while running: %u files on disk, %u memfds, %u sockets, %u FIFOs\n",
		      s.files, s.memfds, s.sockets, s.fifos);
	assert_true(s.files >= 1); /* the namespace file */
	assert_true(s.memfds >= 1); /* BAR memory */
	assert_int_equal(s.sockets, 0);
	assert_int_equal(s.fifos, 0);
	/* The namespace file is all hetmem put in the directory. */
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			assert_string_equal(e->d_name, "nvme0n1.img");
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);

	nvme_ctrl_remove(ctrl);
	nvme_transport_emu_fini(&t);
	machine_destroy(m);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_world_writable),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
