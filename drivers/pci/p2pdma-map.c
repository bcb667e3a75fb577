// SPDX-License-Identifier: MIT
/*
 * Map type and distance between a P2P provider and a client, computed as
 * the kernel computes them, and the search for the closest provider.
 *
 * Walk up from the provider; for each bridge on the way, walk up from the
 * client looking for it. The first common one ends the search: the
 * distance is the sum of the two walks. Below a common bridge the traffic
 * stays in the switch (BUS_ADDR) unless a bridge on either path has ACS
 * redirect (RR, CR or EC) enabled; then it goes to the root complex. With
 * no common bridge the devices sit below different root ports or host
 * bridges: the traffic must cross the root complex.
 *
 *                 root port
 *                     |
 *              upstream port            distance a -> b: 4
 *               /          \            (a, DSP0, USP | DSP1, b)
 *            DSP0          DSP1
 *             |              |
 *             a              b
 *
 * Crossing the root complex is THRU_HOST_BRIDGE when the host bridge is one
 * the kernel trusts with peer traffic (its allow-list of host bridge IDs,
 * read from the first function of the root bus), else NOT_SUPPORTED. The
 * result is cached per provider and client and recomputed after any bridge
 * configuration write.
 *
 * pci_p2p_check_pair() is the computation itself, uncached, for any fabric:
 * hetmem p2p-check runs it on topologies imported from real machines, with
 * the inputs a real machine adds (the kernel's CPU rule, the allow-list of
 * the running kernel) and what-ifs.
 */
#define pr_fmt(fmt) "p2pdma: " fmt

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include <hetmem/pci-import.h>
#include "lib/trace.h"
#include "p2pdma.h"

#define ACS_REDIR_BITS (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)

/* The allow-list the emulator's machines are judged by: Linux 6.1's. */
#define EMULATED_KERNEL PCI_P2P_KERNEL(6, 1)

/*
 * The kernel's allow-list of host bridges that route peer traffic, with the
 * release each entry first appeared in: 5.4 (Sandy Bridge and Haswell
 * Xeons, one host bridge only), 5.5 (Skylake-E port A and host bridge),
 * 5.9 (Skylake-E ports B-D), 5.14 (Ice Lake-SP). The table up to there is
 * 6.1's; the Google entry came after 6.1 and only that bound is recorded.
 */
static const struct {
	uint16_t vendor, device;
	bool any_device;       /* every device ID of @vendor */
	bool same_host_bridge; /* only between ports of one host bridge */
	unsigned int since;
	bool since_exact;
	const char *what;
} host_bridge_whitelist[] = {
	{ 0x8086, 0x3c00, false, true, PCI_P2P_KERNEL(5, 4), true, "Intel Xeon E5/Core i7" },
	{ 0x8086, 0x3c01, false, true, PCI_P2P_KERNEL(5, 4), true, "Intel Xeon E5/Core i7" },
	{ 0x8086, 0x2f00, false, true, PCI_P2P_KERNEL(5, 4), true,
	  "Intel Xeon E7 v3/Xeon E5 v3/Core i7" },
	{ 0x8086, 0x2f01, false, true, PCI_P2P_KERNEL(5, 4), true,
	  "Intel Xeon E7 v3/Xeon E5 v3/Core i7" },
	{ 0x8086, 0x2030, false, false, PCI_P2P_KERNEL(5, 5), true, "Intel Skylake-E" },
	{ 0x8086, 0x2031, false, false, PCI_P2P_KERNEL(5, 9), true, "Intel Skylake-E" },
	{ 0x8086, 0x2032, false, false, PCI_P2P_KERNEL(5, 9), true, "Intel Skylake-E" },
	{ 0x8086, 0x2033, false, false, PCI_P2P_KERNEL(5, 9), true, "Intel Skylake-E" },
	{ 0x8086, 0x2020, false, false, PCI_P2P_KERNEL(5, 5), true, "Intel Skylake-E" },
	{ 0x8086, 0x09a2, false, false, PCI_P2P_KERNEL(5, 14), true,
	  "Intel 3rd Gen Xeon Scalable (Ice Lake)" },
	{ 0x1ae0, 0, true, false, PCI_P2P_KERNEL(6, 2), false, "Google SoCs" },
};

#define NR_WHITELIST (sizeof(host_bridge_whitelist) / sizeof(host_bridge_whitelist[0]))

static const struct pci_p2p_env emulated_env = { .kernel = EMULATED_KERNEL };

/*
 * The function the kernel reads the host bridge's IDs from: the first one
 * on the root bus, if it is at 00.0 or is a root port.
 */
static struct pci_dev *host_bridge_first_dev(struct pci_host_bridge *hb)
{
	for (int i = 0; i < 256; i++)
		if (hb->bus->devfn[i])
			return hb->bus->devfn[i];
	return NULL;
}

static struct pci_dev *host_bridge_id_dev(struct pci_host_bridge *hb)
{
	struct pci_dev *d = host_bridge_first_dev(hb);

	if (d && (d->devfn == PCI_DEVFN(0, 0) || d->kind == PCI_KIND_ROOT_PORT))
		return d;
	return NULL;
}

static bool env_assumes(const struct pci_p2p_env *env, const struct pci_host_bridge *hb,
			uint16_t vendor, uint16_t device, bool identified)
{
	for (unsigned int i = 0; i < env->nr_allowed_hb && i < PCI_P2P_MAX_ASSUMED; i++)
		if (env->allowed_hb[i] == hb)
			return true;
	for (unsigned int i = 0; identified && i < env->nr_allowed_id && i < PCI_P2P_MAX_ASSUMED;
	     i++)
		if (env->allowed_id[i].vendor == vendor && env->allowed_id[i].device == device)
			return true;
	return false;
}

enum pci_p2p_hb_verdict pci_p2p_check_host_bridge(struct pci_host_bridge *hb,
						  bool same_host_bridge,
						  const struct pci_p2p_env *env,
						  struct pci_p2p_hb_check *out)
{
	struct pci_dev *root = host_bridge_id_dev(hb);

	if (!env)
		env = &emulated_env;
	memset(out, 0, sizeof(*out));
	out->first = host_bridge_first_dev(hb);
	out->id_dev = root;
	if (root) {
		out->vendor = pci_dev_vendor(root);
		out->device = pci_dev_device(root);
	}
	out->verdict = root ? PCI_P2P_HB_UNLISTED : PCI_P2P_HB_UNIDENTIFIED;
	for (size_t i = 0; root && i < NR_WHITELIST; i++) {
		if (host_bridge_whitelist[i].vendor != out->vendor ||
		    (!host_bridge_whitelist[i].any_device &&
		     host_bridge_whitelist[i].device != out->device))
			continue;
		out->since = host_bridge_whitelist[i].since;
		out->since_exact = host_bridge_whitelist[i].since_exact;
		out->what = host_bridge_whitelist[i].what;
		if (env->kernel && env->kernel < host_bridge_whitelist[i].since)
			out->verdict = PCI_P2P_HB_NEWER_KERNEL;
		else if (host_bridge_whitelist[i].same_host_bridge && !same_host_bridge)
			out->verdict = PCI_P2P_HB_SAME_ONLY;
		else
			out->verdict = PCI_P2P_HB_ALLOWED;
		break;
	}
	if (out->verdict != PCI_P2P_HB_ALLOWED &&
	    env_assumes(env, hb, out->vendor, out->device, root))
		out->verdict = PCI_P2P_HB_ASSUMED;
	return out->verdict;
}

unsigned int pci_p2p_allow_list_since(uint16_t vendor, uint16_t device, bool *exact)
{
	for (size_t i = 0; i < NR_WHITELIST; i++) {
		if (host_bridge_whitelist[i].vendor != vendor ||
		    (!host_bridge_whitelist[i].any_device && host_bridge_whitelist[i].device != device))
			continue;
		if (exact)
			*exact = host_bridge_whitelist[i].since_exact;
		return host_bridge_whitelist[i].since;
	}
	return 0;
}

static bool hb_trusted(enum pci_p2p_hb_verdict v)
{
	return v == PCI_P2P_HB_ALLOWED || v == PCI_P2P_HB_ASSUMED;
}

/* Why @hb was refused, in the words the emulator has always used. */
static void describe_denied(char *why, size_t len, const struct pci_host_bridge *hb,
			    const struct pci_p2p_hb_check *c)
{
	switch (c->verdict) {
	case PCI_P2P_HB_UNIDENTIFIED:
		snprintf(why, len, "host bridge %s has no function at 00.0 or root port first on its root bus to identify it",
			 hb->name);
		break;
	case PCI_P2P_HB_SAME_ONLY:
		snprintf(why, len, "host bridge %s (%04x:%04x) routes peer traffic only between its own root ports",
			 hb->name, c->vendor, c->device);
		break;
	case PCI_P2P_HB_NEWER_KERNEL:
		snprintf(why, len, "host bridge %s (%s, %04x:%04x) is in the P2PDMA whitelist only from Linux %u.%u%s",
			 hb->name, pci_name(c->id_dev), c->vendor, c->device,
			 PCI_P2P_KERNEL_MAJOR(c->since), PCI_P2P_KERNEL_MINOR(c->since),
			 c->since_exact ? "" : " or later");
		break;
	default:
		snprintf(why, len, "host bridge %s (%s, %04x:%04x) is not in the P2PDMA whitelist",
			 hb->name, pci_name(c->id_dev), c->vendor, c->device);
		break;
	}
}

/*
 * The kernel asks every function on the path that has an ACS capability,
 * endpoints included (a multi-function device may redirect between its
 * functions). The emulator gives one only to root and downstream ports, so
 * elsewhere acs_ctrl stays zero.
 */
static bool has_acs_redir(const struct pci_dev *dev)
{
	return dev->acs_ctrl & ACS_REDIR_BITS;
}

static void note_acs(struct pci_p2p_result *res, struct pci_dev *dev)
{
	if (!has_acs_redir(dev))
		return;
	if (res->nr_acs < PCI_P2P_MAX_PATH)
		res->acs[res->nr_acs] = dev;
	else
		res->acs_truncated = true;
	res->nr_acs++;
}

/* "a;b;c", the form pci=disable_acs_redir= takes. */
static void describe_acs(char *buf, size_t len, const struct pci_p2p_result *res)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < res->nr_acs && i < PCI_P2P_MAX_PATH && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", used ? ";" : "",
				 pci_name(res->acs[i]));

		if (n > 0)
			used += (size_t)n;
	}
}

/* A sentence for @res->reason; a long one is cut, as the buffer's size says. */
static void say(struct pci_p2p_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct pci_p2p_result *res, const char *fmt, ...)
{
	size_t n = strlen(res->reason);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->reason + n, sizeof(res->reason) - n, fmt, ap);
	va_end(ap);
}

static void describe(struct pci_p2p_result *res, struct pci_dev *provider,
		     struct pci_dev *client, const char *why)
{
	char acs[256];
	bool allowed = res->type == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;

	res->reason[0] = '\0';
	if (res->type == PCI_P2PDMA_MAP_BUS_ADDR)
		return;
	describe_acs(acs, sizeof(acs), res);
	if (res->nr_acs && allowed)
		say(res,
		    "ACS redirect is set between %s and %s on %s: traffic goes through the host bridge; to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=%s",
		    pci_dev_label(client), pci_dev_label(provider), acs, acs);
	else if (res->nr_acs)
		say(res,
		    "ACS redirect is set between %s and %s on %s (pci=disable_acs_redir=%s would keep it below the switch), and %s",
		    pci_dev_label(client), pci_dev_label(provider), acs, acs, why);
	else if (allowed)
		say(res, "%s and %s share no upstream bridge: traffic goes through the host bridge",
		    pci_dev_label(client), pci_dev_label(provider));
	else
		say(res, "%s and %s share no upstream bridge, and %s", pci_dev_label(client),
		    pci_dev_label(provider), why);
	if (allowed && res->cpu_rule)
		say(res, " (the CPU routes peer traffic through any host bridge)");
}

enum pci_p2pdma_map_type pci_p2p_check_pair(struct pci_dev *provider, struct pci_dev *client,
					    const struct pci_p2p_env *env,
					    struct pci_p2p_result *res)
{
	struct pci_dev *a = provider, *bb;
	struct pci_p2p_hb_check other;
	char why[256] = "";
	int dist_a = 0, dist_b = 0;
	bool same = provider->host == client->host;

	if (!env)
		env = &emulated_env;
	memset(res, 0, sizeof(*res));
	for (; a; a = a->bus->self, dist_a++) {
		note_acs(res, a);
		dist_b = 0;
		for (bb = client; bb; bb = bb->bus->self, dist_b++)
			if (bb == a)
				break;
		if (bb) {
			res->common = a;
			break;
		}
	}
	if (res->common) {
		/* The client's side of the path, below the common bridge. */
		for (bb = client; bb != a; bb = bb->bus->self)
			note_acs(res, bb);
		res->distance = dist_a + dist_b;
		if (!res->nr_acs) {
			res->type = PCI_P2PDMA_MAP_BUS_ADDR;
			return res->type;
		}
	} else {
		/* No common bridge: both walks went all the way up. */
		for (bb = client, dist_b = 0; bb; bb = bb->bus->self)
			dist_b++;
		res->distance = dist_a + dist_b;
		/*
		 * The traffic crosses the host bridge whatever ACS says: redirect
		 * bits on the way are not the reason, and clearing them would
		 * change nothing (the kernel names them only below a common
		 * bridge too).
		 */
		res->nr_acs = 0;
		res->acs_truncated = false;
	}

	/*
	 * As the kernel: the CPU rule first; else the provider's host bridge,
	 * then (for traffic between host bridges) the client's.
	 */
	res->type = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;
	pci_p2p_check_host_bridge(provider->host, same, env, &res->hb);
	if (env->cpu_supports_p2pdma) {
		res->cpu_rule = true;
	} else if (!hb_trusted(res->hb.verdict)) {
		res->denied = provider->host;
	} else if (!same && !hb_trusted(pci_p2p_check_host_bridge(client->host, false, env,
								  &other))) {
		res->denied = client->host;
		res->hb = other;
	}
	if (res->denied) {
		res->type = PCI_P2PDMA_MAP_NOT_SUPPORTED;
		describe_denied(why, sizeof(why), res->denied, &res->hb);
	}
	describe(res, provider, client, why);
	return res->type;
}

enum pci_p2pdma_map_type p2pdma_calc_map_type(struct pci_dev *provider, struct pci_dev *client,
					      int *dist, char *reason, size_t len)
{
	struct pci_p2p_result res;

	pci_p2p_check_pair(provider, client, NULL, &res);
	*dist = res.distance;
	if (reason && len)
		snprintf(reason, len, "%s", res.reason);
	return res.type;
}

/*
 * The cached answer for @client, or compute and remember it. Entries carry
 * the fabric's configuration generation: an ACS or window write makes them
 * stale. The reason is never cached; asking for it recomputes.
 */
static enum pci_p2pdma_map_type map_type_dist(struct pci_dev *provider, struct pci_dev *client,
					      int *dist, char *reason, size_t len)
{
	struct pci_p2pdma *p;
	unsigned long gen = __atomic_load_n(&provider->fabric->cfg_gen, __ATOMIC_ACQUIRE);
	enum pci_p2pdma_map_type type;

	pthread_rwlock_rdlock(&provider->p2p_lock);
	p = provider->p2pdma;
	if (p && !reason) {
		pthread_mutex_lock(&p->cache_lock);
		for (int i = 0; i < P2P_MAP_CACHE; i++)
			if (p->cache[i].client == client && p->cache[i].gen == gen) {
				*dist = p->cache[i].dist;
				type = p->cache[i].type;
				pthread_mutex_unlock(&p->cache_lock);
				pthread_rwlock_unlock(&provider->p2p_lock);
				return type;
			}
		pthread_mutex_unlock(&p->cache_lock);
	}
	pthread_rwlock_rdlock(&provider->fabric->lock);
	type = p2pdma_calc_map_type(provider, client, dist, reason, len);
	pthread_rwlock_unlock(&provider->fabric->lock);
	if (p) {
		pthread_mutex_lock(&p->cache_lock);
		p->cache[p->cache_next] =
			(struct p2p_map_entry){ .client = client, .gen = gen, .type = type,
						.dist = *dist };
		p->cache_next = (p->cache_next + 1) % P2P_MAP_CACHE;
		pthread_mutex_unlock(&p->cache_lock);
	}
	pthread_rwlock_unlock(&provider->p2p_lock);
	trace_probe(p2pdma_map_type, provider->name, client->name, (int)type, *dist);
	return type;
}

enum pci_p2pdma_map_type pci_p2pdma_map_type_of(struct pci_dev *provider, struct pci_dev *client,
						char *reason, size_t len)
{
	int dist;

	return map_type_dist(provider, client, &dist, reason, len);
}

int pci_p2pdma_distance_many(struct pci_dev *provider, struct pci_dev **clients, int num_clients,
			     bool verbose)
{
	bool not_supported = false;
	int total = 0;

	if (num_clients <= 0)
		return -1;
	for (int i = 0; i < num_clients; i++) {
		char why[512];
		int dist;
		enum pci_p2pdma_map_type type;

		if (!clients[i]) {
			pr_warn("client %d is not a PCI device", i);
			return -1;
		}
		type = map_type_dist(provider, clients[i], &dist, verbose ? why : NULL,
				     sizeof(why));
		if (type == PCI_P2PDMA_MAP_NOT_SUPPORTED) {
			if (verbose)
				pr_warn("%s: cannot use %s for peer-to-peer DMA: %s", clients[i]->name,
					provider->name, why);
			not_supported = true;
			if (!verbose)
				break;
		} else if (verbose && type == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE) {
			pr_info("%s: %s", clients[i]->name, why);
		}
		total += dist;
	}
	return not_supported ? -1 : total;
}

int pci_p2pdma_distance(struct pci_dev *provider, struct pci_dev *client, bool verbose)
{
	return pci_p2pdma_distance_many(provider, &client, 1, verbose);
}

struct pci_dev *pci_p2pmem_find_many(struct pci_dev **clients, int num_clients)
{
	struct pci_dev *pdev = NULL, **closest = NULL;
	int closest_dist = INT_MAX, n = 0, cap = 0;
	struct pci_fabric *f;

	if (num_clients <= 0 || !clients[0])
		return NULL;
	f = clients[0]->fabric;
	while ((pdev = pci_fabric_next_dev(f, pdev))) {
		int dist;

		if (!pci_has_p2pmem(pdev))
			continue;
		dist = pci_p2pdma_distance_many(pdev, clients, num_clients, false);
		if (dist < 0 || dist > closest_dist)
			continue;
		if (dist < closest_dist) {
			closest_dist = dist;
			n = 0;
		}
		if (n == cap) {
			struct pci_dev **grown = realloc(closest, (cap ? 2 * cap : 8) * sizeof(*grown));

			if (!grown)
				break;
			closest = grown;
			cap = cap ? 2 * cap : 8;
		}
		closest[n++] = pdev;
	}
	/* Ties go to a random provider, spreading clients over equal choices. */
	pdev = n ? closest[random() % n] : NULL;
	free(closest);
	return pdev;
}

struct pci_dev *pci_p2pmem_find(struct pci_dev *client)
{
	return pci_p2pmem_find_many(&client, 1);
}
