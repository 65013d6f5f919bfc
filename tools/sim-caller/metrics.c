/*
 * metrics.c: the figures a load run prints (p50 / p99 / max of a set).
 *
 * Why: benchmarks compare runs by percentiles of webhook, greeting and
 * reply latency over many calls; one definition, written once, keeps
 * them comparable. Percentiles are nearest-rank (the smallest value with
 * at least p percent of the values at or below it): always one of the
 * measured values, never interpolated.
 *
 * Sets too large to keep whole (every inter-frame gap of every call of a
 * long run, the caller's own tick lag) go into a histogram of fixed-width
 * bins instead: memory stays bounded, and the nearest-rank percentile is
 * the upper edge of the bin it falls in (never above the exact maximum,
 * which is kept), so it errs by less than one bin width, upwards.
 *
 * Pure; sorts the caller's array in place. Unit-tested by #including it.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "sim_caller.h"
#include "xmalloc.h"

static int
metrics_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort the n values at v and return their p-th percentile (0 < p <=
 * 100), nearest rank; NAN when n is 0. */
double
metrics_percentile(double *v, size_t n, double p)
{
	double rank;
	size_t i;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), metrics_cmp);
	rank = ceil(p / 100.0 * (double)n);
	i = rank < 1.0 ? 0 : (size_t)rank - 1;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* Return {"n", "p50", "p99", "max"} of the n values at v (sorted in
 * place; the figures are null when n is 0). */
json_t *
metrics_summary(double *v, size_t n)
{
	double p50, p99;

	if (n == 0)
		return json_pack(
		    "{s:i, s:n, s:n, s:n}", "n", 0, "p50", "p99", "max");
	p50 = metrics_percentile(v, n, 50.0); /* sorts v */
	p99 = metrics_percentile(v, n, 99.0);
	return json_pack("{s:I, s:f, s:f, s:f}", "n", (json_int_t)n, "p50", p50,
	    "p99", p99, "max", v[n - 1]);
}

/* Set up h for values from 0 in bins of width (> 0) up to top; larger
 * values count in the last bin. */
void
metrics_hist_init(struct metrics_hist *h, double width, double top)
{
	h->width = width;
	h->nbins = (size_t)ceil(top / width) + 1;
	h->bins = xcalloc(h->nbins, sizeof(*h->bins));
	h->n = 0;
	h->max = 0.0;
}

/* Count v (NAN is ignored, a negative value counts as 0). */
void
metrics_hist_add(struct metrics_hist *h, double v)
{
	size_t i;

	if (isnan(v))
		return;
	if (v < 0.0)
		v = 0.0;
	i = v / h->width >= (double)(h->nbins - 1) ? h->nbins - 1
						   : (size_t)(v / h->width);
	h->bins[i]++;
	if (h->n == 0 || v > h->max)
		h->max = v;
	h->n++;
}

/* Return the p-th percentile (0 < p <= 100), nearest rank, as the upper
 * edge of its bin but at most the maximum; NAN when h is empty. */
double
metrics_hist_percentile(const struct metrics_hist *h, double p)
{
	double rank;
	uint64_t k, seen = 0;

	if (h->n == 0)
		return NAN;
	rank = ceil(p / 100.0 * (double)h->n);
	k = rank < 1.0 ? 1 : (uint64_t)rank;
	if (k > h->n)
		k = h->n;
	for (size_t i = 0; i < h->nbins; i++) {
		seen += h->bins[i];
		if (seen >= k) {
			double edge = (double)(i + 1) * h->width;

			return i == h->nbins - 1 || edge > h->max ? h->max
								  : edge;
		}
	}
	return h->max;
}

/* Return {"n", "p50", "p99", "max"} of h, as metrics_summary does. */
json_t *
metrics_hist_summary(const struct metrics_hist *h)
{
	if (h->n == 0)
		return json_pack(
		    "{s:i, s:n, s:n, s:n}", "n", 0, "p50", "p99", "max");
	return json_pack("{s:I, s:f, s:f, s:f}", "n", (json_int_t)h->n, "p50",
	    metrics_hist_percentile(h, 50.0), "p99",
	    metrics_hist_percentile(h, 99.0), "max", h->max);
}

void
metrics_hist_free(struct metrics_hist *h)
{
	free(h->bins);
	h->bins = NULL;
	h->nbins = 0;
	h->n = 0;
}
