// SPDX-License-Identifier: MIT
/*
 * Values in machine configs: numbers, sizes, ACS bit lists, windows and BAR
 * descriptions. Parsing is strict on purpose: a value that is not exactly
 * what the documentation says is rejected, never half read (strtoull would
 * take "12abc" as 12 and "010" as octal 8).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int digit_value(char ch, unsigned int base)
{
	int d;

	if (ch >= '0' && ch <= '9')
		d = ch - '0';
	else if (ch >= 'a' && ch <= 'f')
		d = ch - 'a' + 10;
	else if (ch >= 'A' && ch <= 'F')
		d = ch - 'A' + 10;
	else
		return -1;
	return d < (int)base ? d : -1;
}

/* Digits of @s up to @end in @base, no sign, no blanks. */
static int parse_digits(const char *s, const char *end, unsigned int base, uint64_t *val)
{
	uint64_t v = 0;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		int d = digit_value(*s, base);

		if (d < 0)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -ERANGE;
		v = v * base + (uint64_t)d;
	}
	*val = v;
	return 0;
}

static int parse_number(const char *s, const char *end, uint64_t *val)
{
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_digits(s + 2, end, 16, val);
	return parse_digits(s, end, 10, val);
}

/**
 * mc_parse_u64 - a number: decimal, or hexadecimal with a 0x prefix
 * @s: the text
 * @val: the number
 *
 * Return: 0, -EINVAL when @s is not a number, -ERANGE when it does not fit
 * 64 bits.
 */
int mc_parse_u64(const char *s, uint64_t *val)
{
	return parse_number(s, s + strlen(s), val);
}

/**
 * mc_parse_size - a number with an optional binary suffix K, M, G or T
 * @s: the text, e.g. "16K", "0x1000", "256M"
 * @val: the number of bytes
 *
 * Return: 0, -EINVAL when @s is not a size, -ERANGE when it does not fit
 * 64 bits.
 */
int mc_parse_size(const char *s, uint64_t *val)
{
	const char *end = s + strlen(s);
	unsigned int shift = 0;
	uint64_t v;
	int ret;

	if (end > s) {
		switch (end[-1]) {
		case 'K':
		case 'k':
			shift = 10;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'G':
		case 'g':
			shift = 30;
			break;
		case 'T':
		case 't':
			shift = 40;
			break;
		}
	}
	ret = parse_number(s, shift ? end - 1 : end, &v);
	if (ret)
		return ret;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*val = v << shift;
	return 0;
}

static const struct {
	const char *name;
	uint16_t bit;
} acs_bits[] = {
	{ "sv", PCI_ACS_SV }, { "tb", PCI_ACS_TB }, { "rr", PCI_ACS_RR }, { "cr", PCI_ACS_CR },
	{ "uf", PCI_ACS_UF }, { "ec", PCI_ACS_EC }, { "dt", PCI_ACS_DT },
};

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/**
 * mc_parse_acs - ACS control bits: "none" or a comma list of sv, tb, rr,
 * cr, uf, ec, dt
 * @s: the text
 * @val: PCI_ACS_* bits
 *
 * Return: 0, or -EINVAL for an empty item or an unknown name.
 */
int mc_parse_acs(const char *s, uint16_t *val)
{
	uint16_t acs = 0;

	if (!strcmp(s, "none")) {
		*val = 0;
		return 0;
	}
	for (;;) {
		const char *item, *end;
		size_t len, i;

		while (is_blank(*s))
			s++;
		item = s;
		while (*s && *s != ',' && !is_blank(*s))
			s++;
		end = s;
		while (is_blank(*s))
			s++;
		if (*s && *s != ',')
			return -EINVAL;
		len = (size_t)(end - item);
		for (i = 0; i < sizeof(acs_bits) / sizeof(acs_bits[0]); i++)
			if (strlen(acs_bits[i].name) == len && !memcmp(acs_bits[i].name, item, len))
				break;
		if (i == sizeof(acs_bits) / sizeof(acs_bits[0]))
			return -EINVAL;
		acs |= acs_bits[i].bit;
		if (!*s)
			break;
		s++;
	}
	*val = acs;
	return 0;
}

/* The next blank-separated word of *@p into @buf; 0 at the end. */
static int next_word(const char **p, char *buf, size_t len)
{
	const char *s = *p, *start;
	size_t n;

	while (is_blank(*s))
		s++;
	start = s;
	while (*s && !is_blank(*s))
		s++;
	n = (size_t)(s - start);
	if (n >= len)
		return -EINVAL;
	memcpy(buf, start, n);
	buf[n] = '\0';
	*p = s;
	return (int)n;
}

/**
 * mc_parse_window - "BASE SIZE", both sizes in the mc_parse_size() sense
 * @s: the text
 * @base: the base
 * @size: the size
 *
 * Return: 0, -EINVAL when @s is not two sizes, -ERANGE when one does not
 * fit 64 bits.
 */
int mc_parse_window(const char *s, uint64_t *base, uint64_t *size)
{
	char word[32];
	int ret;

	if (next_word(&s, word, sizeof(word)) <= 0)
		return -EINVAL;
	ret = mc_parse_size(word, base);
	if (ret)
		return ret;
	if (next_word(&s, word, sizeof(word)) <= 0)
		return -EINVAL;
	ret = mc_parse_size(word, size);
	if (ret)
		return ret;
	if (next_word(&s, word, sizeof(word)) != 0)
		return -EINVAL;
	return 0;
}

/**
 * mc_parse_bar - "SIZE [64] [pref]"
 * @s: the text
 * @size: the size
 * @flags: PCI_BAR_MEM64 for "64", PCI_BAR_PREFETCH for "pref"
 *
 * Whether the size and flags make a valid BAR is for the caller to say.
 *
 * Return: 0, -EINVAL when @s does not have that shape, -ERANGE when the
 * size does not fit 64 bits.
 */
int mc_parse_bar(const char *s, uint64_t *size, unsigned int *flags)
{
	char word[32];
	int ret, n;

	if (next_word(&s, word, sizeof(word)) <= 0)
		return -EINVAL;
	ret = mc_parse_size(word, size);
	if (ret)
		return ret;
	*flags = 0;
	while ((n = next_word(&s, word, sizeof(word))) > 0) {
		if (!strcmp(word, "64"))
			*flags |= PCI_BAR_MEM64;
		else if (!strcmp(word, "pref"))
			*flags |= PCI_BAR_PREFETCH;
		else
			return -EINVAL;
	}
	return n;
}

/**
 * mc_format_size - a size the way configs write it: "16K", "256M", "3G"
 * @size: the size
 * @buf: where to
 * @len: size of @buf (24 bytes hold any value)
 *
 * Return: @buf. Sizes that are not a multiple of 1K are written in bytes.
 */
const char *mc_format_size(uint64_t size, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (size && u < 5 && !(size & 1023)) {
		size >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)size);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)size, units[u]);
	return buf;
}

/**
 * mc_format_acs - ACS control bits as "SV RR CR" or "-" for none
 * @acs: PCI_ACS_* bits
 * @buf: where to
 * @len: size of @buf (24 bytes hold every bit)
 *
 * Return: @buf. Bits without a name are left out.
 */
const char *mc_format_acs(uint16_t acs, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(acs_bits) / sizeof(acs_bits[0]); i++) {
		if (!(acs & acs_bits[i].bit))
			continue;
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%c%c", n ? " " : "",
				      acs_bits[i].name[0] - 'a' + 'A',
				      acs_bits[i].name[1] - 'a' + 'A');
		if (n >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "-");
	return buf;
}

/**
 * mc_align_up - @v rounded up to a multiple of @align
 * @v: the value
 * @align: a power of two
 *
 * Return: the rounded value, or the largest multiple of @align when that
 * would overflow: callers compare it against window sizes, and a saturated
 * value still compares as too large.
 */
uint64_t mc_align_up(uint64_t v, uint64_t align)
{
	if (v > UINT64_MAX - (align - 1))
		return UINT64_MAX & ~(align - 1);
	return (v + align - 1) & ~(align - 1);
}
