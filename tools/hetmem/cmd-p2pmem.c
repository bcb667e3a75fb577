// SPDX-License-Identifier: MIT
/*
 * hetmem p2pmem - the machine's peer-to-peer memory: every provider with
 * its pool (what the kernel shows in /sys/bus/pci/devices/<bdf>/p2pmem/),
 * and for every endpoint the provider pci_p2pmem_find() would give it.
 *
 * The GPUs' memory BARs are made p2pmem first, as the demo does. The
 * report comes from p2p.c; this file only prints it, as text or as JSON
 * (json-c) for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include <hetmem/machine.h>
#include <hetmem/pci.h>

#include "hetmem.h"
#include "p2p.h"

static const char p2pmem_usage[] =
	"Usage: hetmem p2pmem [--machine FILE] [--json]\n"
	"\n"
	"Make every GPU's memory BAR peer-to-peer memory (p2pmem), as the demo does,\n"
	"then list the providers with their pool's size, available bytes and whether\n"
	"it is published (the kernel's p2pmem/ attributes), and for every device the\n"
	"closest provider pci_p2pmem_find() picks, with its distance and map type.\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -j, --json          write JSON instead of tables\n"
	"  -h, --help          show this help\n";

static const struct option p2pmem_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* --- text -------------------------------------------------------------------- */

static void print_text(const struct cli_p2p_report *r)
{
	char size[32], avail[32], addr[16], dist[16];

	printf("Providers:\n");
	if (!r->nr_prov)
		printf("  none\n");
	else
		printf("  %-10s %-14s %-5s %-10s %-10s %s\n", "DEVICE", "ADDRESS", "BAR", "SIZE",
		       "AVAILABLE", "PUBLISHED");
	for (size_t i = 0; i < r->nr_prov; i++) {
		const struct cli_p2p_provider *p = &r->prov[i];
		char bar[16] = "-";

		if (p->bar >= 0)
			snprintf(bar, sizeof(bar), "%d", p->bar);
		printf("  %-10s %-14s %-5s %-10s %-10s %s\n", pci_dev_label(p->dev),
		       pci_name(p->dev), bar, cli_format_size(size, sizeof(size), p->size),
		       cli_format_size(avail, sizeof(avail), p->available),
		       p->published ? "yes" : "no");
	}

	printf("\nClosest provider per client (pci_p2pmem_find):\n");
	printf("  %-10s %-14s %-10s %-9s %s\n", "CLIENT", "ADDRESS", "PROVIDER", "DISTANCE",
	       "MAP TYPE");
	for (size_t i = 0; i < r->nr_client; i++) {
		const struct cli_p2p_client *c = &r->client[i];

		/* pci_name() reuses one buffer: copy before the next call. */
		snprintf(addr, sizeof(addr), "%s", pci_name(c->dev));
		if (!c->provider) {
			printf("  %-10s %-14s %s\n", pci_dev_label(c->dev), addr,
			       "none: no published provider it can reach");
			continue;
		}
		snprintf(dist, sizeof(dist), "%d", c->distance);
		printf("  %-10s %-14s %-10s %-9s %s\n", pci_dev_label(c->dev), addr,
		       pci_dev_label(c->provider), dist, c->map_type);
		if (c->reason[0])
			printf("      %s\n", c->reason);
	}
}

/* --- JSON --------------------------------------------------------------------- */

/*
 * json_object_object_add() takes ownership of the value and ignores NULL:
 * a failed allocation shows up as a missing key, caught by the final
 * check of every constructor's result.
 */
static bool add(json_object *obj, const char *key, json_object *val, bool *ok)
{
	if (!val) {
		*ok = false;
		return false;
	}
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		*ok = false;
		return false;
	}
	return true;
}

static json_object *provider_json(const struct cli_p2p_provider *p, bool *ok)
{
	json_object *o = json_object_new_object();

	if (!o) {
		*ok = false;
		return NULL;
	}
	add(o, "name", json_object_new_string(pci_dev_label(p->dev)), ok);
	add(o, "address", json_object_new_string(pci_name(p->dev)), ok);
	add(o, "bar", p->bar >= 0 ? json_object_new_int(p->bar) : json_object_new_null(), ok);
	add(o, "size", json_object_new_int64((int64_t)p->size), ok);
	add(o, "available", json_object_new_int64((int64_t)p->available), ok);
	add(o, "published", json_object_new_boolean(p->published), ok);
	return o;
}

static json_object *client_json(const struct cli_p2p_client *c, bool *ok)
{
	json_object *o = json_object_new_object();

	if (!o) {
		*ok = false;
		return NULL;
	}
	add(o, "name", json_object_new_string(pci_dev_label(c->dev)), ok);
	add(o, "address", json_object_new_string(pci_name(c->dev)), ok);
	if (!c->provider) {
		/* json-c's null is a NULL object, which add() would take for a failure. */
		json_object_object_add(o, "provider", NULL);
		return o;
	}
	add(o, "provider", json_object_new_string(pci_dev_label(c->provider)), ok);
	add(o, "provider_address", json_object_new_string(pci_name(c->provider)), ok);
	add(o, "distance", json_object_new_int(c->distance), ok);
	add(o, "map_type", json_object_new_string(c->map_type), ok);
	if (c->reason[0])
		add(o, "reason", json_object_new_string(c->reason), ok);
	return o;
}

static int print_json(const struct cli_p2p_report *r, const char *machine_path)
{
	json_object *root = json_object_new_object();
	json_object *prov = json_object_new_array();
	json_object *clients = json_object_new_array();
	const char *text;
	bool ok = root && prov && clients;
	int ret = -ENOMEM;

	if (!ok) {
		json_object_put(prov);
		json_object_put(clients);
		goto out;
	}
	add(root, "machine",
	    machine_path ? json_object_new_string(machine_path) : json_object_new_string("default"),
	    &ok);
	add(root, "providers", prov, &ok);
	add(root, "clients", clients, &ok);
	for (size_t i = 0; ok && i < r->nr_prov; i++) {
		json_object *o = provider_json(&r->prov[i], &ok);

		if (o && json_object_array_add(prov, o)) {
			json_object_put(o);
			ok = false;
		}
	}
	for (size_t i = 0; ok && i < r->nr_client; i++) {
		json_object *o = client_json(&r->client[i], &ok);

		if (o && json_object_array_add(clients, o)) {
			json_object_put(o);
			ok = false;
		}
	}
	if (!ok)
		goto out;

	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_SPACED |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text && printf("%s\n", text) >= 0)
		ret = 0;
	else if (text)
		ret = -EIO;
out:
	json_object_put(root);
	return ret;
}

int cmd_p2pmem(int argc, char **argv)
{
	const char *prog = argv[0], *machine_path = NULL;
	struct cli_p2p_report r = { 0 };
	struct machine *m;
	bool json = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "m:jh", p2pmem_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			machine_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(p2pmem_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(prog, NULL);
		}
	}
	if (optind < argc)
		return cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);

	m = cli_load_machine(prog, machine_path);
	if (!m)
		return HETMEM_EXIT_FAILURE;

	ret = cli_p2p_add_providers(prog, m);
	if (ret < 0)
		goto out;
	ret = cli_p2p_report_get(m, &r);
	if (ret) {
		fprintf(stderr, "%s: cannot describe the machine's p2pmem: %s\n", prog,
			strerror(-ret));
		goto out;
	}

	if (json) {
		ret = print_json(&r, machine_path);
		if (ret == -ENOMEM)
			fprintf(stderr, "%s: out of memory\n", prog);
	} else {
		print_text(&r);
	}
	if (!ret && (fflush(stdout) || ferror(stdout)))
		ret = -EIO;
	if (ret == -EIO)
		fprintf(stderr, "%s: writing to standard output failed\n", prog);
out:
	cli_p2p_report_free(&r);
	machine_destroy(m);
	return ret < 0 ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}
