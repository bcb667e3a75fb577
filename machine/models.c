// SPDX-License-Identifier: MIT
/*
 * Device models an endpoint section can name with "model = NAME". The
 * generic endpoint is the default: a function with the IDs, class and
 * memory BARs the section gives, no registers, no behaviour. Its BARs are
 * plain memory the fabric backs with a memfd, which is all a P2P provider
 * needs.
 */
#define pr_fmt(fmt) "machine: " fmt

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/err.h>
#include "internal.h"

static int endpoint_create(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	struct pci_dev *dev = pci_endpoint_add(port, &s->ep.info);

	if (IS_ERR(dev))
		return (int)PTR_ERR(dev);
	s->dev = dev;
	return 0;
}

static const struct machine_model endpoint_model = {
	.name = "endpoint",
	.create = endpoint_create,
};

static const struct machine_model *const models[] = {
	&endpoint_model,
};

#define NR_MODELS (sizeof(models) / sizeof(models[0]))

/**
 * mc_model_find - a device model by name
 * @name: the value of a "model" key
 *
 * Return: the model, or NULL when there is none by that name.
 */
const struct machine_model *mc_model_find(const char *name)
{
	for (size_t i = 0; i < NR_MODELS; i++)
		if (!strcmp(models[i]->name, name))
			return models[i];
	return NULL;
}

/**
 * mc_model_names - the known models' names, for messages
 * @buf: where to, comma separated
 * @len: size of @buf
 */
void mc_model_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NR_MODELS && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", models[i]->name);
}
