// SPDX-License-Identifier: MIT
/*
 * What the running machine adds to a topology: which kernel it runs and
 * whether that kernel was built with P2PDMA, which CPU it has (the
 * kernel's AMD Zen rule), whether an IOMMU translates DMA, and what the
 * command line already says about ACS.
 *
 *   ROOT/proc/sys/kernel/osrelease    the release ("uname -r")
 *   ROOT/boot/config-RELEASE          the kernel's configuration, or
 *   ROOT/proc/config.gz               the same, gzip'd (CONFIG_IKCONFIG_PROC)
 *   ROOT/proc/cpuinfo                 vendor_id, cpu family
 *   ROOT/proc/cmdline                 intel_iommu=, amd_iommu=, iommu=,
 *                                     iommu.passthrough=, pci=disable_acs_redir=
 *   ROOT/sys/class/iommu/             one entry per registered IOMMU unit
 *
 * ROOT is "/" for this machine; a directory holding copies of those files
 * stands for another one. config.gz is read with zlib when the process can
 * load it, else through `gzip -dc`.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hetmem/pci-import.h>

typedef void (*line_fn)(const char *line, void *arg);

static int root_path(char *out, size_t len, const char *root, const char *path)
{
	int n = snprintf(out, len, "%s%s", strcmp(root, "/") ? root : "", path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int each_line(FILE *f, line_fn fn, void *arg)
{
	char line[1024];

	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		fn(line, arg);
	}
	return ferror(f) ? -EIO : 0;
}

static int read_lines(const char *path, line_fn fn, void *arg)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f)
		return -errno;
	ret = each_line(f, fn, arg);
	fclose(f);
	return ret;
}

/* zlib, if this process can load it: not a build dependency. */
static int read_gz_zlib(const char *path, line_fn fn, void *arg)
{
	void *(*gzopen_p)(const char *, const char *);
	char *(*gzgets_p)(void *, char *, int);
	int (*gzclose_p)(void *);
	void *lib = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL), *gz;
	char line[1024];

	if (!lib)
		return -ENOSYS;
	*(void **)&gzopen_p = dlsym(lib, "gzopen");
	*(void **)&gzgets_p = dlsym(lib, "gzgets");
	*(void **)&gzclose_p = dlsym(lib, "gzclose");
	if (!gzopen_p || !gzgets_p || !gzclose_p) {
		dlclose(lib);
		return -ENOSYS;
	}
	gz = gzopen_p(path, "rb");
	if (!gz) {
		dlclose(lib);
		return -ENOENT;
	}
	while (gzgets_p(gz, line, sizeof(line))) {
		line[strcspn(line, "\n")] = '\0';
		fn(line, arg);
	}
	gzclose_p(gz);
	dlclose(lib);
	return 0;
}

/* `gzip -dc PATH`, without a shell: the path is never parsed. */
static int read_gz_gzip(const char *path, line_fn fn, void *arg)
{
	int fds[2], status, ret;
	pid_t pid;
	FILE *f;

	if (access(path, R_OK))
		return -errno;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execlp("gzip", "gzip", "-dc", "--", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f) {
		close(fds[0]);
		waitpid(pid, &status, 0);
		return -ENOMEM;
	}
	ret = each_line(f, fn, arg);
	fclose(f);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		ret = ret ? ret : -EIO;
	return ret;
}

static int read_gz(const char *path, line_fn fn, void *arg)
{
	int ret = read_gz_zlib(path, fn, arg);

	return ret == -ENOSYS ? read_gz_gzip(path, fn, arg) : ret;
}

static void config_line(const char *line, void *arg)
{
	struct pci_p2p_host *h = arg;

	if (!strcmp(line, "CONFIG_PCI_P2PDMA=y"))
		h->p2pdma = 1;
	else if (!strcmp(line, "CONFIG_IOMMU_DEFAULT_PASSTHROUGH=y"))
		h->config_iommu_passthrough = 1;
}

/* One configuration file; an option not in it is not set. Return: 0, or -errno. */
static int read_config_file(const char *path, bool gz, struct pci_p2p_host *h)
{
	int ret;

	h->p2pdma = 0;
	h->config_iommu_passthrough = 0;
	ret = gz ? read_gz(path, config_line, h) : read_lines(path, config_line, h);
	if (ret) {
		h->p2pdma = -1;
		h->config_iommu_passthrough = -1;
	}
	return ret;
}

static void read_config(const char *root, struct pci_p2p_host *h)
{
	char path[PATH_MAX], name[sizeof(h->config_source)];

	h->p2pdma = -1;
	h->config_iommu_passthrough = -1;
	snprintf(name, sizeof(name), "/boot/config-%s", h->release);
	if (h->release[0] && !root_path(path, sizeof(path), root, name) &&
	    !read_config_file(path, false, h)) {
		memcpy(h->config_source, name, sizeof(name));
		return;
	}
	if (!root_path(path, sizeof(path), root, "/proc/config.gz") &&
	    !read_config_file(path, true, h))
		snprintf(h->config_source, sizeof(h->config_source), "/proc/config.gz");
}

static void cpuinfo_line(const char *line, void *arg)
{
	struct pci_p2p_host *h = arg;
	unsigned int family;

	if (!h->cpu_vendor[0] && sscanf(line, "vendor_id : %15s", h->cpu_vendor) == 1)
		return;
	if (!h->cpu_family && sscanf(line, "cpu family : %u", &family) == 1)
		h->cpu_family = family;
}

static void read_cpu(const char *root, struct pci_p2p_host *h)
{
	char path[PATH_MAX];

	if (root_path(path, sizeof(path), root, "/proc/cpuinfo") ||
	    read_lines(path, cpuinfo_line, h))
		return;
	h->cpu_known = true;
	/* The kernel's cpu_supports_p2pdma(): X86_VENDOR_AMD, family 0x17 (Zen) or later. */
	h->cpu_supports_p2pdma = !strcmp(h->cpu_vendor, "AuthenticAMD") && h->cpu_family >= 0x17;
}

static void append(char *buf, size_t len, const char *word)
{
	size_t used = strlen(buf);

	if (used + 1 + strlen(word) < len)
		snprintf(buf + used, len - used, "%s%s", used ? " " : "", word);
}

static bool truthy(const char *v)
{
	return !strcmp(v, "1") || !strcmp(v, "y") || !strcmp(v, "on") || !strcmp(v, "Y");
}

static void cmdline_word(struct pci_p2p_host *h, const char *w)
{
	const char *v = strchr(w, '=');

	if (!v)
		return;
	v++;
	if (!strncmp(w, "pci=", 4)) {
		const char *acs = strstr(v, "disable_acs_redir=");

		if (acs) {
			acs += strlen("disable_acs_redir=");
			snprintf(h->disable_acs_redir, sizeof(h->disable_acs_redir), "%.*s",
				 (int)strcspn(acs, ","), acs);
			append(h->cmdline_iommu, sizeof(h->cmdline_iommu), w);
		}
		return;
	}
	if (strncmp(w, "intel_iommu=", 12) && strncmp(w, "amd_iommu=", 10) &&
	    strncmp(w, "iommu=", 6) && strncmp(w, "iommu.passthrough=", 18) &&
	    strncmp(w, "iommu.strict=", 13))
		return;
	append(h->cmdline_iommu, sizeof(h->cmdline_iommu), w);
	if (!strncmp(w, "iommu.passthrough=", 18))
		h->cmdline_passthrough = truthy(v) ? 1 : 0;
	else if (!strcmp(w, "iommu=pt"))
		h->cmdline_passthrough = 1;
	else if (!strcmp(w, "iommu=nopt"))
		h->cmdline_passthrough = 0;
	else if (!strcmp(v, "off") && strncmp(w, "iommu.", 6))
		h->cmdline_off = true;
}

static void cmdline_line(const char *line, void *arg)
{
	struct pci_p2p_host *h = arg;
	char word[512];

	for (const char *p = line; *p;) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (!n)
			break;
		if (n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			cmdline_word(h, word);
		}
		p += n;
	}
	h->cmdline_known = true;
}

static void read_iommu(const char *root, struct pci_p2p_host *h)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	h->cmdline_passthrough = -1;
	if (!root_path(path, sizeof(path), root, "/proc/cmdline"))
		read_lines(path, cmdline_line, h);
	if (root_path(path, sizeof(path), root, "/sys/class/iommu"))
		return;
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		h->nr_iommu++;
		append(h->iommu_names, sizeof(h->iommu_names), de->d_name);
	}
	if (d)
		closedir(d);

	if (!h->nr_iommu) {
		h->iommu = PCI_P2P_IOMMU_OFF;
		snprintf(h->iommu_why, sizeof(h->iommu_why),
			 "no IOMMU is registered (/sys/class/iommu is empty)");
	} else if (h->cmdline_passthrough >= 0) {
		h->iommu = h->cmdline_passthrough ? PCI_P2P_IOMMU_PASSTHROUGH :
						    PCI_P2P_IOMMU_TRANSLATED;
		snprintf(h->iommu_why, sizeof(h->iommu_why), "%s on the kernel command line",
			 h->cmdline_passthrough ? "passthrough" : "translation");
	} else if (h->config_iommu_passthrough >= 0) {
		h->iommu = h->config_iommu_passthrough ? PCI_P2P_IOMMU_PASSTHROUGH :
							 PCI_P2P_IOMMU_TRANSLATED;
		snprintf(h->iommu_why, sizeof(h->iommu_why),
			 "the kernel's default (CONFIG_IOMMU_DEFAULT_%s)",
			 h->config_iommu_passthrough ? "PASSTHROUGH=y" : "DMA_*");
	} else {
		h->iommu = PCI_P2P_IOMMU_UNKNOWN;
		snprintf(h->iommu_why, sizeof(h->iommu_why),
			 "the kernel's default mode is unknown");
	}
}

int pci_p2p_host_read(const char *root, struct pci_p2p_host *h)
{
	char path[PATH_MAX];
	FILE *f;
	unsigned int major, minor;

	memset(h, 0, sizeof(*h));
	if (!root || !*root)
		root = "/";
	if (root_path(path, sizeof(path), root, "/proc/sys/kernel/osrelease"))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (f) {
		if (fgets(h->release, sizeof(h->release), f))
			h->release[strcspn(h->release, "\n")] = '\0';
		fclose(f);
	}
	if (sscanf(h->release, "%u.%u", &major, &minor) == 2 && major < 256 && minor < 256)
		h->kernel = PCI_P2P_KERNEL(major, minor);
	read_config(root, h);
	read_cpu(root, h);
	read_iommu(root, h);
	h->valid = h->release[0] || h->cpu_known || h->cmdline_known;
	return h->valid ? 0 : -ENOENT;
}
