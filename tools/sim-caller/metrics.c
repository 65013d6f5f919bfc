/*
 * metrics.c: the figures a load run prints (p50 / p99 / max of a set).
 *
 * Why: benchmarks compare runs by percentiles of webhook, greeting and
 * reply latency over many calls; one definition, written once, keeps
 * them comparable. Percentiles are nearest-rank (the smallest value with
 * at least p percent of the values at or below it): always one of the
 * measured values, never interpolated.
 *
 * Pure; sorts the caller's array in place. Unit-tested by #including it.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include <jansson.h>

#include "sim_caller.h"

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
