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
 */
#define pr_fmt(fmt) "p2pdma: " fmt

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "lib/trace.h"
#include "p2pdma.h"

#define ACS_REDIR_BITS (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)

/* The kernel's allow-list of host bridges that route peer traffic (6.1). */
static const struct {
	uint16_t vendor, device;
	bool same_host_bridge; /* only between ports of one host bridge */
} host_bridge_whitelist[] = {
	{ 0x8086, 0x3c00, true }, /* Intel Xeon E5/Core i7 */
	{ 0x8086, 0x3c01, true },
	{ 0x8086, 0x2f00, true }, /* Intel Xeon E7 v3/Xeon E5 v3/Core i7 */
	{ 0x8086, 0x2f01, true },
	{ 0x8086, 0x2030, false }, /* Intel SkyLake-E */
	{ 0x8086, 0x2031, false },
	{ 0x8086, 0x2032, false },
	{ 0x8086, 0x2033, false },
	{ 0x8086, 0x2020, false },
	{ 0x8086, 0x09a2, false },
};

/*
 * The function the kernel reads the host bridge's IDs from: the first one
 * on the root bus, if it is at 00.0 or is a root port.
 */
static struct pci_dev *host_bridge_id_dev(struct pci_host_bridge *hb)
{
	struct pci_bus *bus = hb->bus;

	for (int i = 0; i < 256; i++) {
		struct pci_dev *d = bus->devfn[i];

		if (!d)
			continue;
		if (d->devfn == PCI_DEVFN(0, 0) || d->kind == PCI_KIND_ROOT_PORT)
			return d;
		return NULL;
	}
	return NULL;
}

static bool host_bridge_allowed(struct pci_host_bridge *hb, bool same, char *why, size_t len)
{
	struct pci_dev *root = host_bridge_id_dev(hb);
	uint16_t vendor, device;

	if (!root) {
		snprintf(why, len, "host bridge %s has no function at 00.0 or root port first on its root bus to identify it",
			 hb->name);
		return false;
	}
	vendor = pci_dev_vendor(root);
	device = pci_dev_device(root);
	for (size_t i = 0; i < sizeof(host_bridge_whitelist) / sizeof(host_bridge_whitelist[0]);
	     i++) {
		if (host_bridge_whitelist[i].vendor != vendor ||
		    host_bridge_whitelist[i].device != device)
			continue;
		if (host_bridge_whitelist[i].same_host_bridge && !same) {
			snprintf(why, len, "host bridge %s (%04x:%04x) routes peer traffic only between its own root ports",
				 hb->name, vendor, device);
			return false;
		}
		return true;
	}
	snprintf(why, len, "host bridge %s (%s, %04x:%04x) is not in the P2PDMA whitelist", hb->name,
		 pci_name(root), vendor, device);
	return false;
}

static bool has_acs_redir(const struct pci_dev *dev)
{
	return (dev->kind == PCI_KIND_ROOT_PORT || dev->kind == PCI_KIND_DSP) &&
	       (dev->acs_ctrl & ACS_REDIR_BITS);
}

static void describe_acs(char *buf, size_t len, size_t *used, const struct pci_dev *dev)
{
	int n;

	if (*used >= len)
		return;
	n = snprintf(buf + *used, len - *used, "%s%s", *used ? ";" : "", pci_name(dev));
	if (n > 0)
		*used += (size_t)n;
}

enum pci_p2pdma_map_type p2pdma_calc_map_type(struct pci_dev *provider, struct pci_dev *client,
					      int *dist, char *reason, size_t len)
{
	struct pci_dev *a = provider, *bb;
	char acs[256] = "", why[256] = "";
	size_t acs_len = 0;
	int dist_a = 0, dist_b = 0, acs_cnt = 0;
	bool common = false, allowed;

	if (reason && len)
		reason[0] = '\0';
	for (; a; a = a->bus->self, dist_a++) {
		if (has_acs_redir(a)) {
			describe_acs(acs, sizeof(acs), &acs_len, a);
			acs_cnt++;
		}
		dist_b = 0;
		for (bb = client; bb; bb = bb->bus->self, dist_b++)
			if (bb == a)
				break;
		if (bb) {
			common = true;
			break;
		}
	}
	if (common) {
		/* The client's side of the path, below the common bridge. */
		for (bb = client; bb != a; bb = bb->bus->self)
			if (has_acs_redir(bb)) {
				describe_acs(acs, sizeof(acs), &acs_len, bb);
				acs_cnt++;
			}
		*dist = dist_a + dist_b;
		if (!acs_cnt)
			return PCI_P2PDMA_MAP_BUS_ADDR;
	} else {
		/* No common bridge: both walks went all the way up. */
		for (bb = client, dist_b = 0; bb; bb = bb->bus->self)
			dist_b++;
		*dist = dist_a + dist_b;
	}

	if (provider->host == client->host)
		allowed = host_bridge_allowed(provider->host, true, why, sizeof(why));
	else
		allowed = host_bridge_allowed(provider->host, false, why, sizeof(why)) &&
			  host_bridge_allowed(client->host, false, why, sizeof(why));

	if (reason && len) {
		if (acs_cnt && allowed)
			snprintf(reason, len,
				 "ACS redirect is set between %s and %s on %s: traffic goes through the host bridge; to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=%s",
				 pci_dev_label(client), pci_dev_label(provider), acs, acs);
		else if (acs_cnt)
			snprintf(reason, len,
				 "ACS redirect is set between %s and %s on %s (pci=disable_acs_redir=%s would keep it below the switch), and %s",
				 pci_dev_label(client), pci_dev_label(provider), acs, acs, why);
		else if (allowed)
			snprintf(reason, len,
				 "%s and %s share no upstream bridge: traffic goes through the host bridge",
				 pci_dev_label(client), pci_dev_label(provider));
		else
			snprintf(reason, len,
				 "%s and %s share no upstream bridge, and %s",
				 pci_dev_label(client), pci_dev_label(provider), why);
	}
	return allowed ? PCI_P2PDMA_MAP_THRU_HOST_BRIDGE : PCI_P2PDMA_MAP_NOT_SUPPORTED;
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
