// SPDX-License-Identifier: MIT
/*
 * hetmem demo: progress of a long transfer. On a terminal one bar is
 * redrawn in place, at most once per percent, so drawing costs nothing
 * next to the transfer; into a file or a pipe, where a carriage return
 * would only make a mess, a plain line per quarter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "demo.h"

#define BAR_WIDTH   30
#define LABEL_WIDTH 16

/* "done of total", in whole MiB (KiB for less than a MiB). */
static void print_amount(const struct demo_progress *p, uint64_t done)
{
	unsigned int shift = p->total >= (1 << 20) ? 20 : 10;

	printf("%4" PRIu64 " of %" PRIu64 " %s", done >> shift, p->total >> shift,
	       shift == 20 ? "MiB" : "KiB");
}

static void draw_bar(const struct demo_progress *p, uint64_t done, int pct)
{
	int fill = pct * BAR_WIDTH / 100;

	printf("\r  %-*s [%.*s%*s] %3d%%  ", LABEL_WIDTH, p->label, fill,
	       "##############################", BAR_WIDTH - fill, "", pct);
	print_amount(p, done);
}

void demo_progress_start(struct demo_progress *p, const char *label, uint64_t total)
{
	p->label = label;
	p->total = total;
	p->tty = isatty(STDOUT_FILENO);
	p->shown = -1;
	p->start = demo_now();
	demo_progress_update(p, 0);
}

void demo_progress_update(struct demo_progress *p, uint64_t done)
{
	int pct = p->total ? (int)(done * 100 / p->total) : 100;

	if (p->tty) {
		if (pct == p->shown)
			return;
		p->shown = pct;
		draw_bar(p, done, pct);
		fflush(stdout);
		return;
	}
	/* Plain lines at 25, 50 and 75%; demo_progress_end() prints 100%. */
	if (pct / 25 == p->shown || pct < 25 || pct >= 100)
		return;
	p->shown = pct / 25;
	printf("  %-*s %3d%%  ", LABEL_WIDTH, p->label, p->shown * 25);
	print_amount(p, done);
	printf("\n");
}

void demo_progress_end(struct demo_progress *p, uint64_t done, double seconds)
{
	int pct = p->total ? (int)(done * 100 / p->total) : 100;

	if (p->tty) {
		draw_bar(p, done, pct);
	} else {
		printf("  %-*s %3d%%  ", LABEL_WIDTH, p->label, pct);
		print_amount(p, done);
	}
	printf(" in %.1f ms, %.2f GB/s\n", seconds * 1e3, demo_gbps(done, seconds));
	fflush(stdout);
}
