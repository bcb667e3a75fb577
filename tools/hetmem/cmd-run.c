// SPDX-License-Identifier: MIT
/*
 * hetmem run - run a program with the emulated machine where real programs
 * look for devices.
 *
 * The run directory (tools/interpose/run.h) is prepared here: the machine
 * config with its namespaces backed by files, the shared state, the BAR
 * backing of the p2pmem providers, the sysfs tree. The program then runs
 * with the interposer preloaded (HETMEM_RUN_DIR names the directory) and,
 * where the kernel allows it, in a private mount namespace in which the
 * merged listings are bind-mounted over /sys/bus/pci/devices and friends.
 * The interposer alone is enough: it rewrites those paths too, and /dev
 * and the ioctls are its alone.
 *
 * When the program exits, every process it started has added its link
 * counters to the state; --counters and --counters-json report them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <hetmem/err.h>

#include "../interpose/run.h"
#include "../interpose/rundir.h"
#include "hetmem.h"

#ifndef HETMEM_PRELOAD_INSTALLED
#define HETMEM_PRELOAD_INSTALLED "/usr/local/lib/hetmem/libhetmem-preload.so"
#endif

/* Like env(1) and the shells: our own failure, cannot execute, not found. */
#define EXIT_RUN_FAILED 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

static const char run_usage[] =
	"Usage: hetmem run [OPTIONS] [--] COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND with the emulated machine where real programs look for devices:\n"
	"its PCI functions in /sys/bus/pci/devices (domain 1000 and up, beside the\n"
	"host's own), its NVMe controllers as /dev/nvmeN, /dev/nvmeNnM and\n"
	"/sys/class/nvme, the GPUs' p2pmem in /sys/bus/pci/devices/BDF/p2pmem/. An\n"
	"interposer (LD_PRELOAD) turns opens, ioctls, reads, writes and mmaps of them\n"
	"into operations on the machine, built in each process from the same run\n"
	"directory: namespaces are files there, so data written by one process is\n"
	"read by the next. For instance:\n"
	"\n"
	"  hetmem run -- lspci -tv\n"
	"  hetmem run -- nvme list\n"
	"  hetmem run --counters -- fio --name=w --filename=/dev/nvme0n1 --direct=1 \\\n"
	"      --rw=randwrite --bs=64k --size=16m --verify=crc32c \\\n"
	"      --iomem=mmapshared:/sys/bus/pci/devices/1000:04:00.0/p2pmem/allocate\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE         machine config (default: the embedded default machine)\n"
	"  -d, --dir DIR              run directory to use and keep (created when missing;\n"
	"                             one reused keeps its namespace images and SMART data)\n"
	"  -k, --keep                 keep the temporary run directory, and say where it is\n"
	"  -c, --counters             print the fabric's link counters, summed over every\n"
	"                             process of the run, when COMMAND exits\n"
	"  -j, --counters-json FILE   write them, with the SMART and p2pmem state, as JSON\n"
	"  -n, --no-namespace         no private mount namespace: the interposer alone\n"
	"  -v, --verbose              say what is set up\n"
	"  -h, --help                 show this help\n"
	"\n"
	"io_uring cannot be interposed (io_uring_enter is a raw system call): use fio's\n"
	"psync, pvsync, pvsync2 or libaio engines.\n"
	"\n"
	"Exit status: COMMAND's (128+N when signal N ended it); 125 when hetmem run\n"
	"itself fails, 126 when COMMAND cannot be run, 127 when it is not found,\n"
	"2 for a usage error.\n";

static const struct option run_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "dir", required_argument, NULL, 'd' },
	{ "keep", no_argument, NULL, 'k' },
	{ "counters", no_argument, NULL, 'c' },
	{ "counters-json", required_argument, NULL, 'j' },
	{ "no-namespace", no_argument, NULL, 'n' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct run_opts {
	const char *prog;
	const char *machine;
	const char *dir;
	const char *json;
	bool keep;
	bool counters;
	bool no_namespace;
	bool verbose;
};

/* --- the preload library ---------------------------------------------------------- */

static bool find_preload(char *out, size_t len)
{
	const char *env = getenv(HI_ENV_PRELOAD);
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return !access(out, R_OK);
	}
	/* In the build tree: build/tools/hetmem/hetmem and build/tools/interpose/. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(out, len, "%s/../interpose/libhetmem-preload.so", exe) <
				    (int)len &&
			    !access(out, R_OK))
				return true;
		}
	}
	snprintf(out, len, "%s", HETMEM_PRELOAD_INSTALLED);
	return !access(out, R_OK);
}

/* --- the run directory --------------------------------------------------------------- */

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");
	struct stat sb;

	/* Namespaces and BARs live here: memory-backed when it can be. */
	if (!stat("/dev/shm", &sb) && S_ISDIR(sb.st_mode) && !access("/dev/shm", W_OK | X_OK))
		return "/dev/shm";
	return t && *t ? t : "/tmp";
}

static int make_dir(const struct run_opts *o, char *dir, size_t len)
{
	if (o->dir) {
		char real[PATH_MAX];

		if (mkdir(o->dir, 0700) && errno != EEXIST) {
			fprintf(stderr, "%s: %s: %s\n", o->prog, o->dir, strerror(errno));
			return -1;
		}
		if (!realpath(o->dir, real)) {
			fprintf(stderr, "%s: %s: %s\n", o->prog, o->dir, strerror(errno));
			return -1;
		}
		snprintf(dir, len, "%s", real);
		return 0;
	}
	if (snprintf(dir, len, "%s/hetmem-run.XXXXXX", tmp_base()) >= (int)len ||
	    !mkdtemp(dir)) {
		fprintf(stderr, "%s: cannot make a run directory in %s: %s\n", o->prog, tmp_base(),
			strerror(errno));
		return -1;
	}
	return 0;
}

/* --- the mount namespace -------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* A user namespace that maps us to ourselves: mount rights, the same identity. */
static int user_namespace(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
		return -errno;
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	if (write_file("/proc/self/uid_map", map))
		return -EPERM;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	if (write_file("/proc/self/gid_map", map))
		return -EPERM;
	return 0;
}

/* In the child: bind the merged listings over the host's directories. */
static void mount_views(const struct run_opts *o, const char *dir)
{
	const char *host, *name;
	int bound = 0;

	if (unshare(CLONE_NEWNS) && user_namespace()) {
		if (o->verbose)
			fprintf(stderr, "%s: no mount namespace (%s): the interposer alone\n", o->prog,
				strerror(errno));
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		if (o->verbose)
			fprintf(stderr, "%s: cannot make mounts private: %s\n", o->prog,
				strerror(errno));
		return;
	}
	for (unsigned int i = 0; !hi_view_host_dir(i, &host, &name); i++) {
		char view[PATH_MAX];

		if (hi_fmt(view, sizeof(view), "%s/%s/%s", dir, HI_VIEW_DIR, name) ||
		    access(view, F_OK) || access(host, F_OK))
			continue;
		if (mount(view, host, NULL, MS_BIND, NULL)) {
			if (o->verbose)
				fprintf(stderr, "%s: cannot bind %s over %s: %s\n", o->prog, view,
					host, strerror(errno));
			continue;
		}
		bound++;
		if (o->verbose)
			fprintf(stderr, "%s: %s shows the machine beside the host\n", o->prog, host);
	}
	if (o->verbose && !bound)
		fprintf(stderr, "%s: nothing to bind: the interposer alone\n", o->prog);
}

/* --- running the command ----------------------------------------------------------------- */

static pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int run_child(const struct run_opts *o, const char *dir, const char *preload, char **argv)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, fwd = { .sa_handler = forward };
	struct sigaction old_int, old_quit, old_term, old_hup;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", o->prog, strerror(errno));
		return EXIT_RUN_FAILED;
	}
	if (!pid) {
		const char *old = getenv("LD_PRELOAD");
		char *ld;

		if (!o->no_namespace)
			mount_views(o, dir);
		if (asprintf(&ld, "%s%s%s", preload, old && *old ? " " : "", old ? old : "") < 0)
			_exit(EXIT_RUN_FAILED);
		setenv("LD_PRELOAD", ld, 1);
		setenv(HI_ENV_RUN_DIR, dir, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s: %s\n", o->prog, argv[0], strerror(errno));
		_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
	}
	/* The terminal signals the whole group: the command decides, we wait. */
	child_pid = pid;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGTERM, &fwd, &old_term);
	sigaction(SIGHUP, &fwd, &old_hup);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* --- counters ---------------------------------------------------------------------------------- */

static void print_counters(const struct hi_state *st)
{
	fprintf(stderr, "\nFabric traffic of the run (%" PRIu64 " process%s with a machine):\n",
		st->processes, st->processes == 1 ? "" : "es");
	fprintf(stderr, "  %-10s %-14s %16s %16s\n", "LINK", "ADDRESS", "BYTES UP", "BYTES DOWN");
	for (uint32_t i = 0; i < st->nr_links; i++) {
		const struct hi_link_rec *l = &st->link[i];

		fprintf(stderr, "  %-10s %-14s %16" PRIu64 " %16" PRIu64 "\n", l->label, l->bdf,
			l->bytes[0], l->bytes[1]);
	}
	for (uint32_t i = 0; i < st->nr_rc; i++) {
		const struct hi_rc_rec *r = &st->rc[i];

		fprintf(stderr,
			"  root complex %s: host memory written %" PRIu64 ", read %" PRIu64
			"; peer-to-peer through it %" PRIu64 "; IOMMU faults %" PRIu64 "\n",
			r->label, r->mem_bytes[0], r->mem_bytes[1], r->p2p_bytes, r->iommu_faults);
	}
}

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* json-c drops NULL values and we check the result once: a missing key is a failure. */
static void add(json_object *o, const char *key, json_object *v, bool *ok)
{
	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		*ok = false;
	}
}

static json_object *counters_json(const struct hi_state *st, bool *ok)
{
	json_object *root = json_object_new_object(), *links = json_object_new_array();
	json_object *rcs = json_object_new_array(), *ctrls = json_object_new_array();
	json_object *provs = json_object_new_array();

	if (!root || !links || !rcs || !ctrls || !provs) {
		*ok = false;
		json_object_put(root);
		json_object_put(links);
		json_object_put(rcs);
		json_object_put(ctrls);
		json_object_put(provs);
		return NULL;
	}
	add(root, "processes", u64(st->processes), ok);
	for (uint32_t i = 0; i < st->nr_links; i++) {
		const struct hi_link_rec *l = &st->link[i];
		json_object *o = json_object_new_object();

		if (!o) {
			*ok = false;
			break;
		}
		add(o, "name", json_object_new_string(l->label), ok);
		add(o, "address", json_object_new_string(l->bdf), ok);
		add(o, "bytes_up", u64(l->bytes[0]), ok);
		add(o, "bytes_down", u64(l->bytes[1]), ok);
		add(o, "tlps_up", u64(l->tlps[0]), ok);
		add(o, "tlps_down", u64(l->tlps[1]), ok);
		json_object_array_add(links, o);
	}
	for (uint32_t i = 0; i < st->nr_rc; i++) {
		const struct hi_rc_rec *r = &st->rc[i];
		json_object *o = json_object_new_object();

		if (!o) {
			*ok = false;
			break;
		}
		add(o, "name", json_object_new_string(r->label), ok);
		add(o, "mem_bytes_written", u64(r->mem_bytes[0]), ok);
		add(o, "mem_bytes_read", u64(r->mem_bytes[1]), ok);
		add(o, "p2p_bytes", u64(r->p2p_bytes), ok);
		add(o, "iommu_faults", u64(r->iommu_faults), ok);
		add(o, "unsupported", u64(r->unsupported), ok);
		json_object_array_add(rcs, o);
	}
	for (uint32_t i = 0; i < st->nr_ctrl; i++) {
		const struct hi_ctrl_desc *c = &st->ctrl[i];
		json_object *o = json_object_new_object();
		char dev[32];

		if (!o) {
			*ok = false;
			break;
		}
		snprintf(dev, sizeof(dev), "/dev/nvme%u", c->instance);
		add(o, "name", json_object_new_string(c->label), ok);
		add(o, "address", json_object_new_string(c->bdf), ok);
		add(o, "device", json_object_new_string(dev), ok);
		add(o, "host_reads", u64(c->smart.host_reads), ok);
		add(o, "host_writes", u64(c->smart.host_writes), ok);
		add(o, "data_units_read", u64(c->smart.data_units_read), ok);
		add(o, "data_units_written", u64(c->smart.data_units_written), ok);
		add(o, "power_cycles", u64(c->smart.power_cycles), ok);
		json_object_array_add(ctrls, o);
	}
	for (uint32_t i = 0; i < st->nr_prov; i++) {
		const struct hi_prov_desc *p = &st->prov[i];
		json_object *o = json_object_new_object();

		if (!o) {
			*ok = false;
			break;
		}
		add(o, "name", json_object_new_string(p->label), ok);
		add(o, "address", json_object_new_string(p->bdf), ok);
		add(o, "bar", json_object_new_int(p->bar), ok);
		add(o, "size", u64(p->size), ok);
		add(o, "available", u64(p->size - p->used), ok);
		json_object_array_add(provs, o);
	}
	add(root, "links", links, ok);
	add(root, "root_complexes", rcs, ok);
	add(root, "nvme", ctrls, ok);
	add(root, "p2pmem", provs, ok);
	return root;
}

static int report(const struct run_opts *o, const char *dir)
{
	struct hi_state *st = hi_state_map(dir);
	int ret = 0;

	if (IS_ERR(st)) {
		fprintf(stderr, "%s: %s/%s: %s\n", o->prog, dir, HI_STATE_FILE,
			strerror((int)-PTR_ERR(st)));
		return -1;
	}
	hi_state_lock(st);
	if (o->counters)
		print_counters(st);
	if (o->json) {
		bool ok = true;
		json_object *j = counters_json(st, &ok);

		if (!ok || json_object_to_file_ext(o->json, j, JSON_C_TO_STRING_PRETTY)) {
			fprintf(stderr, "%s: cannot write %s\n", o->prog, o->json);
			ret = -1;
		}
		json_object_put(j);
	}
	hi_state_unlock(st);
	hi_state_unmap(st);
	return ret;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { .prog = argv[0] };
	char dir[PATH_MAX], preload[PATH_MAX], err[1024];
	int opt, status;

	while ((opt = getopt_long(argc, argv, "+m:d:kcj:nvh", run_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			o.machine = optarg;
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'k':
			o.keep = true;
			break;
		case 'c':
			o.counters = true;
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'n':
			o.no_namespace = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			fputs(run_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(o.prog, NULL);
		}
	}
	if (optind == argc)
		return cli_usage_error(o.prog, "a command to run is needed");
	if (!find_preload(preload, sizeof(preload))) {
		fprintf(stderr, "%s: the interposer library is not at %s (set %s)\n", o.prog,
			preload, HI_ENV_PRELOAD);
		return EXIT_RUN_FAILED;
	}
	if (make_dir(&o, dir, sizeof(dir)))
		return EXIT_RUN_FAILED;
	if (hi_run_prepare(dir, o.machine, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", o.prog, err);
		if (!o.dir && !o.keep)
			hi_remove_tree(dir);
		return EXIT_RUN_FAILED;
	}
	if (o.verbose)
		fprintf(stderr, "%s: run directory %s, interposer %s\n", o.prog, dir, preload);

	status = run_child(&o, dir, preload, argv + optind);

	if ((o.counters || o.json) && report(&o, dir) && !status)
		status = EXIT_RUN_FAILED;
	if (o.keep && !o.dir)
		fprintf(stderr, "%s: run directory kept: %s\n", o.prog, dir);
	else if (!o.dir)
		hi_remove_tree(dir);
	return status;
}
