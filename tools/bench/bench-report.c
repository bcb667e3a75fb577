// SPDX-License-Identifier: MIT
/*
 * What a benchmark run reports: the table people read, the JSON scripts
 * read, and the charts gnuplot draws. Everything comes from what
 * harness.c kept; nothing here measures.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *met_name(enum bench_met met)
{
	switch (met) {
	case BENCH_MET_YES:
		return "yes";
	case BENCH_MET_NO:
		return "no";
	default:
		return "n.a.";
	}
}

static const char *module_status(const struct bench_module_run *r)
{
	if (!r->ret)
		return "ran";
	return r->ret == -ENODEV ? "skipped" : "failed";
}

/* Three significant digits, without switching to exponents for the sizes a table shows. */
static const char *fmt_num(char *s, size_t n, double v)
{
	double a = fabs(v);

	if (a >= 1000)
		snprintf(s, n, "%.0f", v);
	else if (a >= 100)
		snprintf(s, n, "%.1f", v);
	else if (a >= 10)
		snprintf(s, n, "%.2f", v);
	else if (a >= 0.01 || a == 0)
		snprintf(s, n, "%.3f", v);
	else
		snprintf(s, n, "%.2g", v);
	return s;
}

/* --- the table ------------------------------------------------------------------------- */

static int max_width(int w, const char *s)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

void bench_print_table(struct bench *b, FILE *out)
{
	unsigned int missed = 0, judged = 0;
	int w_fig = 6, w_unit = 4, w_runit = 4, w_ref = 12, w_tgt = 6;
	char v[24], r[24], q[24];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	fprintf(out, "hetmem bench on %s, %ld CPU%s%s\n",
		b->opts.machine_name ? b->opts.machine_name : "no machine", cpus,
		cpus == 1 ? "" : "s",
		b->opts.quick ? " (--quick: tiny runs, the figures mean nothing)" : "");
	fprintf(out,
		"Each figure is the median of the last %d samples once they agree within 5%%\n"
		"(± is their spread); ratio = figure / reference, both from this run.\n\n",
		BENCH_WINDOW);
	if (b->nr_refs) {
		fprintf(out, "References measured in this run:\n");
		for (size_t i = 0; i < b->nr_refs; i++) {
			const struct bench_ref *ref = &b->refs[i];

			fprintf(out, "  %-24s %9s %-5s ±%2.0f%%\n", ref->name,
				fmt_num(v, sizeof(v), ref->st.median), ref->unit,
				100 * ref->st.spread);
		}
		fputc('\n', out);
	}
	/* Columns as wide as their widest entry, so that long figures keep the table straight. */
	for (size_t i = 0; i < b->nr_rows; i++) {
		const struct bench_row *row = &b->rows[i];

		w_fig = max_width(w_fig, row->figure);
		w_unit = max_width(w_unit, row->unit);
		w_runit = max_width(w_runit, row->ref_unit);
		w_ref = max_width(w_ref, row->ref_name);
		w_tgt = max_width(w_tgt, row->target);
	}
	fprintf(out, "%-8s %-*s %9s %-*s %5s  %9s %-*s %-*s %7s  %-*s %s\n", "bench", w_fig,
		"figure", "value", w_unit, "unit", "±", "reference", w_runit, "unit", w_ref,
		"reference is", "ratio", w_tgt, "target", "met");
	for (size_t i = 0; i < b->nr_rows; i++) {
		const struct bench_row *row = &b->rows[i];

		fprintf(out, "%-8s %-*s %9s %-*s %3.0f%%  %9s %-*s %-*s %7s  %-*s %s\n",
			row->bench, w_fig, row->figure, fmt_num(v, sizeof(v), row->value), w_unit,
			row->unit, 100 * row->spread, fmt_num(r, sizeof(r), row->ref), w_runit,
			row->ref_unit, w_ref, row->ref_name, fmt_num(q, sizeof(q), row->ratio), w_tgt,
			row->target,
			row->met == BENCH_MET_NO ? "NO" : met_name(row->met));
		if (row->met != BENCH_MET_NA)
			judged++;
		if (row->met == BENCH_MET_NO)
			missed++;
	}
	fputc('\n', out);
	for (size_t i = 0; i < b->nr_mods; i++) {
		const struct bench_module_run *m = &b->mods[i];

		if (m->ret || m->note[0])
			fprintf(out, "%s: %s%s%s\n", m->name, module_status(m),
				m->note[0] ? ": " : "", m->note);
	}
	fprintf(out, "%zu rows; %u with a target, %u missed%s\n", b->nr_rows, judged, missed,
		missed ? " (Documentation/performance.md says where the time goes)" : "");
}

/* --- JSON ------------------------------------------------------------------------------- */

/* json-c prints NaN and infinities as bare words, which are not JSON: write null instead. */
static struct json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static void jadd(struct json_object *o, const char *key, struct json_object *v, bool *ok)
{
	if (json_object_object_add(o, key, v))
		*ok = false;
}

static struct json_object *json_stat_obj(const char *name, const char *unit,
					 const struct bench_stat *st, bool *ok)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		*ok = false;
		return NULL;
	}
	jadd(o, "name", json_object_new_string(name), ok);
	jadd(o, "unit", json_object_new_string(unit), ok);
	jadd(o, "value", jnum(st->median), ok);
	jadd(o, "spread", jnum(st->spread), ok);
	jadd(o, "samples", json_object_new_int((int)st->samples), ok);
	return o;
}

static struct json_object *json_row(const struct bench_row *r, bool *ok)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		*ok = false;
		return NULL;
	}
	jadd(o, "id", json_object_new_string(r->id), ok);
	jadd(o, "benchmark", json_object_new_string(r->bench), ok);
	jadd(o, "figure", json_object_new_string(r->figure), ok);
	jadd(o, "unit", json_object_new_string(r->unit), ok);
	jadd(o, "value", jnum(r->value), ok);
	jadd(o, "spread", jnum(r->spread), ok);
	jadd(o, "samples", json_object_new_int((int)r->samples), ok);
	jadd(o, "reference", jnum(r->ref), ok);
	jadd(o, "reference_unit", json_object_new_string(r->ref_unit), ok);
	jadd(o, "reference_name", json_object_new_string(r->ref_name), ok);
	jadd(o, "ratio", jnum(r->ratio), ok);
	jadd(o, "target", json_object_new_string(r->target), ok);
	jadd(o, "met", json_object_new_string(met_name(r->met)), ok);
	return o;
}

static struct json_object *json_chart(const struct bench_chart *c, bool *ok)
{
	struct json_object *o = json_object_new_object(), *series = json_object_new_array();

	if (!o || !series) {
		json_object_put(o);
		json_object_put(series);
		*ok = false;
		return NULL;
	}
	jadd(o, "id", json_object_new_string(c->id), ok);
	jadd(o, "title", json_object_new_string(c->title), ok);
	jadd(o, "xlabel", json_object_new_string(c->xlabel), ok);
	jadd(o, "ylabel", json_object_new_string(c->ylabel), ok);
	jadd(o, "kind", json_object_new_string(c->flags & BENCH_CHART_CDF ? "cdf" : "xy"), ok);
	for (size_t i = 0; i < c->nr_series; i++) {
		const struct bench_series *s = &c->series[i];
		struct json_object *so = json_object_new_object(), *pts = json_object_new_array();

		if (!so || !pts) {
			json_object_put(so);
			json_object_put(pts);
			*ok = false;
			break;
		}
		for (size_t j = 0; j < s->n; j++) {
			struct json_object *p = json_object_new_array();

			if (!p) {
				*ok = false;
				break;
			}
			json_object_array_add(p, jnum(s->x[j]));
			json_object_array_add(p, jnum(s->y[j]));
			json_object_array_add(pts, p);
		}
		jadd(so, "name", json_object_new_string(s->name), ok);
		jadd(so, "points", pts, ok);
		json_object_array_add(series, so);
	}
	jadd(o, "series", series, ok);
	return o;
}

int bench_write_json(struct bench *b, const char *path)
{
	struct json_object *doc = json_object_new_object(), *a;
	bool to_stdout = !strcmp(path, "-"), ok = doc != NULL;
	const char *text;
	char date[32];
	time_t now = time(NULL);
	FILE *f;
	int ret = 0;

	if (!ok)
		return -ENOMEM;
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	jadd(doc, "tool", json_object_new_string("hetmem bench"), &ok);
	jadd(doc, "date", json_object_new_string(date), &ok);
	jadd(doc, "machine",
	     json_object_new_string(b->opts.machine_name ? b->opts.machine_name : ""), &ok);
	jadd(doc, "cpus", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)), &ok);
	jadd(doc, "quick", json_object_new_boolean(b->opts.quick), &ok);

	a = json_object_new_array();
	for (size_t i = 0; a && i < b->nr_refs; i++)
		json_object_array_add(
			a, json_stat_obj(b->refs[i].name, b->refs[i].unit, &b->refs[i].st, &ok));
	jadd(doc, "references", a, &ok);

	a = json_object_new_array();
	for (size_t i = 0; a && i < b->nr_mods; i++) {
		struct json_object *m = json_object_new_object();

		if (!m) {
			ok = false;
			break;
		}
		jadd(m, "name", json_object_new_string(b->mods[i].name), &ok);
		jadd(m, "status", json_object_new_string(module_status(&b->mods[i])), &ok);
		jadd(m, "note", json_object_new_string(b->mods[i].note), &ok);
		json_object_array_add(a, m);
	}
	jadd(doc, "modules", a, &ok);

	a = json_object_new_array();
	for (size_t i = 0; a && i < b->nr_rows; i++)
		json_object_array_add(a, json_row(&b->rows[i], &ok));
	jadd(doc, "rows", a, &ok);

	a = json_object_new_array();
	for (size_t i = 0; a && i < b->nr_charts; i++)
		json_object_array_add(a, json_chart(&b->charts[i], &ok));
	jadd(doc, "charts", a, &ok);

	text = ok ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE) :
		    NULL;
	if (!text) {
		json_object_put(doc);
		fprintf(stderr, "%s: out of memory writing JSON\n", b->opts.prog);
		return -ENOMEM;
	}
	f = to_stdout ? stdout : fopen(path, "w");
	if (!f) {
		ret = -errno;
		fprintf(stderr, "%s: %s: %s\n", b->opts.prog, path, strerror(errno));
		json_object_put(doc);
		return ret;
	}
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
		ret = -EIO;
	if (to_stdout ? fflush(f) : fclose(f))
		ret = -EIO;
	if (ret) {
		fprintf(stderr, "%s: %s: write error\n", b->opts.prog, path);
		if (!to_stdout)
			unlink(path);
	}
	json_object_put(doc);
	return ret;
}

/* --- charts through gnuplot -------------------------------------------------------------- */

static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (len && len + sizeof("/gnuplot") < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/gnuplot", (int)len, path);
			if (access(buf, X_OK) == 0)
				return true;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* A gnuplot single-quoted string: quotes are doubled, nothing else is special. */
static void gp_string(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int write_chart_files(const struct bench_chart *c, const char *dat, const char *gp,
			     const char *png)
{
	FILE *d = fopen(dat, "w"), *g = fopen(gp, "w");
	bool first = true;
	int ret = 0;

	if (!d || !g) {
		ret = -errno;
		goto out;
	}
	/* One block per series, two blank lines apart: gnuplot's "index N". */
	for (size_t i = 0; i < c->nr_series; i++) {
		fprintf(d, "# %s\n", c->series[i].name);
		for (size_t j = 0; j < c->series[i].n; j++)
			fprintf(d, "%.9g %.9g\n", c->series[i].x[j], c->series[i].y[j]);
		fputs("\n\n", d);
	}

	/* noenhanced: an underscore in a name is an underscore, not a subscript. */
	fputs("set terminal pngcairo size 720,440 font ',10' noenhanced\nset output ", g);
	gp_string(g, png);
	fputs("\nset title ", g);
	gp_string(g, c->title);
	fputs("\nset xlabel ", g);
	gp_string(g, c->xlabel);
	fputs("\nset ylabel ", g);
	gp_string(g, c->flags & BENCH_CHART_CDF ? "fraction of samples at or below" : c->ylabel);
	fputs("\nset grid\nset key top left\n", g);
	/* Sizes double from point to point; latencies spread over decades. */
	if (c->flags & BENCH_CHART_LOGX)
		fputs(c->flags & BENCH_CHART_CDF ? "set logscale x 10\n" : "set logscale x 2\n", g);
	if (c->flags & BENCH_CHART_LOGY)
		fputs("set logscale y\n", g);
	if (c->flags & BENCH_CHART_CDF)
		fputs("set yrange [0:1]\nset key bottom right\n", g);
	else if (!(c->flags & BENCH_CHART_LOGY))
		fputs("set yrange [0:*]\n", g);
	fputs("plot ", g);
	for (size_t i = 0; i < c->nr_series; i++) {
		if (!c->series[i].n)
			continue;
		fprintf(g, "%s", first ? "" : ", \\\n     ");
		gp_string(g, dat);
		fprintf(g, " index %zu using 1:2 with %s lw 2 title ", i,
			c->flags & BENCH_CHART_CDF ? "steps" : "linespoints pt 7 ps 0.8");
		gp_string(g, c->series[i].name);
		first = false;
	}
	fputc('\n', g);
	if (first)
		ret = -ENODATA;
out:
	if (d && fclose(d) && !ret)
		ret = -EIO;
	if (g && fclose(g) && !ret)
		ret = -EIO;
	return ret;
}

static int run_gnuplot(const char *gp)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execlp("gnuplot", "gnuplot", gp, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int bench_write_plots(struct bench *b, const char *dir)
{
	char dat[PATH_MAX], gp[PATH_MAX], png[PATH_MAX];
	int written = 0;

	if (!have_gnuplot()) {
		fprintf(stderr,
			"%s: gnuplot is not installed (Debian: apt-get install gnuplot-nox): "
			"no plots written\n",
			b->opts.prog);
		return -ENOENT;
	}
	if (mkdir(dir, 0777) && errno != EEXIST) {
		int ret = -errno;

		fprintf(stderr, "%s: %s: %s\n", b->opts.prog, dir, strerror(errno));
		return ret;
	}
	for (size_t i = 0; i < b->nr_charts; i++) {
		const struct bench_chart *c = &b->charts[i];
		int ret;

		if ((size_t)snprintf(png, sizeof(png), "%s/%s.png", dir, c->id) >= sizeof(png)) {
			fprintf(stderr, "%s: %s: path too long\n", b->opts.prog, dir);
			return -ENAMETOOLONG;
		}
		snprintf(dat, sizeof(dat), "%s/%s.dat", dir, c->id);
		snprintf(gp, sizeof(gp), "%s/%s.gp", dir, c->id);
		ret = write_chart_files(c, dat, gp, png);
		if (ret == -ENODATA)
			continue;
		if (!ret)
			ret = run_gnuplot(gp);
		if (ret) {
			fprintf(stderr, "%s: chart %s: %s\n", b->opts.prog, c->id,
				ret == -EIO ? "gnuplot failed" : strerror(-ret));
			continue;
		}
		written++;
	}
	return written;
}
