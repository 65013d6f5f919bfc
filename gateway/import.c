/*
 * The leads import (POST /api/import): CSV text and a column mapping into
 * the rows crm-store imports, and crm-store's answer into the report the
 * browser shows (docs/api.md, "CSV import of leads").
 *
 * Why in the gateway: parsing and checking a file is plain work on a
 * buffer, and doing it before crm-store is asked means crm-store gets
 * only well-formed rows (one statement imports them all or none, and one
 * bad value would refuse the whole file). What is checked here: the
 * mapping names known fields and headers of the file, each row's phone
 * becomes E.164 (phone.c), enumerations (pipeline, stage, source,
 * deal_type) hold known values, numbers are numbers; a row that fails is
 * reported "invalid" with why, a phone seen earlier in the file is
 * reported "skip" ("duplicate in file"). What crm-store decides: whether
 * the phone exists in the business (create, update or skip).
 *
 * Pure (R15): no sockets, unit-tested in tests/unit/test_gateway_import.c.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "xmalloc.h"

enum import_type {
	IMPORT_TEXT,
	IMPORT_ENUM,
	IMPORT_LIST,
	IMPORT_INT,
	IMPORT_ROOMS,
};

struct import_field {
	const char *name;
	enum import_type type;
	const char *const *values; /* IMPORT_ENUM: the allowed values */
};

static const char *const import_pipelines[] = {
    "buyer_renter", "seller_landlord", NULL};
static const char *const import_sources[] = {
    "call", "whatsapp", "sms", "web", "referral", NULL};
static const char *const import_deals[] = {"buy", "rent", "sell", "let", NULL};

/* The customers' stages, in the pipeline's order (docs/api.md). */
const char *const import_stages[] = {"new", "contacted", "qualified", "viewing",
    "negotiation", "won", "lost", NULL};

static const struct import_field import_fields[] = {
    {"phone", IMPORT_TEXT, NULL},
    {"name", IMPORT_TEXT, NULL},
    {"pipeline", IMPORT_ENUM, import_pipelines},
    {"stage", IMPORT_ENUM, import_stages},
    {"source", IMPORT_ENUM, import_sources},
    {"deal_type", IMPORT_ENUM, import_deals},
    {"cities", IMPORT_LIST, NULL},
    {"neighbourhoods", IMPORT_LIST, NULL},
    {"rooms_min", IMPORT_ROOMS, NULL},
    {"rooms_max", IMPORT_ROOMS, NULL},
    {"budget_min", IMPORT_INT, NULL},
    {"budget_max", IMPORT_INT, NULL},
    {"property_type", IMPORT_TEXT, NULL},
    {"timeline", IMPORT_TEXT, NULL},
};

#define IMPORT_NFIELDS (sizeof(import_fields) / sizeof(import_fields[0]))

/* Return true when v is one of the NULL-terminated list. */
bool
import_is_one_of(const char *v, const char *const *list)
{
	for (; v != NULL && *list != NULL; list++)
		if (strcmp(v, *list) == 0)
			return true;
	return false;
}

/* A copy of s without spaces at either end. */
static char *
import_trim(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return xstrndup(s, n);
}

/* Whole shekels: digits, with "₪", ",", spaces and a leading "NIS"
 * ignored. Return 0 with *out, or -1. */
static int
import_int(const char *s, long long *out)
{
	long long v = 0;
	int digits = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9') {
			if (++digits > 15)
				return -1;
			v = v * 10 + (*s - '0');
		} else if (strncmp(s, "\xE2\x82\xAA", 3) == 0) { /* ₪ */
			s += 2;
		} else if (*s != ',' && *s != ' ') {
			return -1;
		}
	}
	if (digits == 0)
		return -1;
	*out = v;
	return 0;
}

/* Rooms in halves ("3", "3.5", "3,5"). Return 0 with *out, or -1. */
static int
import_rooms(const char *s, double *out)
{
	char *end;
	char tmp[16];
	double v;

	if (strlen(s) >= sizeof(tmp))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s", s);
	for (char *p = tmp; *p != '\0'; p++)
		if (*p == ',')
			*p = '.';
	v = strtod(tmp, &end);
	if (end == tmp || *end != '\0' || v < 0 || v > 99 ||
	    (double)(long)(v * 2) != v * 2)
		return -1;
	*out = v;
	return 0;
}

/* A list ("תל אביב, רמת גן") as a JSON array of trimmed items. */
static json_t *
import_list(const char *s)
{
	json_t *a = json_array();
	char *copy = xstrdup(s), *save = NULL;

	for (char *t = strtok_r(copy, ",;|", &save); t != NULL;
	     t = strtok_r(NULL, ",;|", &save)) {
		char *item = import_trim(t);

		if (item[0] != '\0')
			json_array_append_new(a, json_string(item));
		free(item);
	}
	free(copy);
	return a;
}

/* Set field f of row from text v. Return 0, or -1 with why. */
static int
import_value(json_t *row, const struct import_field *f, const char *v,
    char *why, size_t whylen)
{
	long long n;
	double r;

	switch (f->type) {
	case IMPORT_TEXT:
		json_object_set_new(row, f->name, json_string(v));
		return 0;
	case IMPORT_ENUM:
		if (!import_is_one_of(v, f->values))
			break;
		json_object_set_new(row, f->name, json_string(v));
		return 0;
	case IMPORT_LIST:
		json_object_set_new(row, f->name, import_list(v));
		return 0;
	case IMPORT_INT:
		if (import_int(v, &n) < 0)
			break;
		json_object_set_new(row, f->name, json_integer(n));
		return 0;
	case IMPORT_ROOMS:
		if (import_rooms(v, &r) < 0)
			break;
		json_object_set_new(row, f->name, json_real(r));
		return 0;
	}
	snprintf(why, whylen, "%s: not a valid value", f->name);
	return -1;
}

/* A report row {line, phone, name, action, error}. */
static json_t *
import_note(size_t line, const char *phone, const char *name,
    const char *action, const char *error)
{
	return json_pack("{s:I, s:s?, s:s?, s:s, s:s?}", "line",
	    (json_int_t)line, "phone", phone, "name", name, "action", action,
	    "error", error);
}

/*
 * Turn the parsed file c (header first) and mapping {field: header} into
 * *rows (for crm-store: {line, phone, ...}) and *report (the rows the
 * gateway itself judged: invalid, duplicate in file). Return 0, or -1
 * with *field naming the request's field at fault and why filled; the
 * caller frees *rows and *report.
 */
int
import_prepare(const struct csv *c, json_t *mapping, json_t **rows,
    json_t **report, const char **field, char *why, size_t whylen)
{
	int col[IMPORT_NFIELDS];
	const char *key;
	json_t *v, *seen;

	*rows = json_array();
	*report = json_array();
	*field = "mapping";
	if (!json_is_object(mapping) ||
	    !json_is_string(json_object_get(mapping, "phone"))) {
		snprintf(why, whylen, "the mapping must name the phone column");
		return -1;
	}
	json_object_foreach(mapping, key, v) {
		bool known = false;

		for (size_t i = 0; i < IMPORT_NFIELDS; i++)
			if (strcmp(key, import_fields[i].name) == 0)
				known = true;
		if (!known || !(json_is_string(v) || json_is_null(v))) {
			snprintf(why, whylen, "unknown field %s", key);
			return -1;
		}
	}
	if (c->n < 2) {
		*field = "csv";
		snprintf(why, whylen, "a header row and at least one row");
		return -1;
	}
	for (size_t i = 0; i < IMPORT_NFIELDS; i++) {
		const char *h = json_string_value(
		    json_object_get(mapping, import_fields[i].name));
		char *want;

		col[i] = -1;
		if (h == NULL || h[0] == '\0')
			continue;
		want = import_trim(h);
		for (size_t k = 0; k < c->rows[0].n && col[i] < 0; k++) {
			char *got = import_trim(c->rows[0].f[k]);

			if (strcasecmp(got, want) == 0)
				col[i] = (int)k;
			free(got);
		}
		if (col[i] < 0) {
			snprintf(why, whylen, "no column \"%.64s\" in the file",
			    want);
			free(want);
			return -1;
		}
		free(want);
	}
	seen = json_object();
	for (size_t r = 1; r < c->n; r++) {
		const struct csv_row *cr = &c->rows[r];
		json_t *row = json_pack("{s:I}", "line", (json_int_t)cr->line);
		char e164[PHONE_E164_MAX + 1], err[96] = "";
		char *raw;
		const char *name;

		for (size_t i = 1; i < IMPORT_NFIELDS && err[0] == '\0'; i++) {
			char *t;

			if (col[i] < 0 || (size_t)col[i] >= cr->n)
				continue;
			t = import_trim(cr->f[col[i]]);
			if (t[0] != '\0')
				(void)import_value(row, &import_fields[i], t,
				    err, sizeof(err));
			free(t);
		}
		name = json_string_value(json_object_get(row, "name"));
		raw = (size_t)col[0] < cr->n ? import_trim(cr->f[col[0]])
					     : xstrdup("");
		if (phone_normalize(raw, strlen(raw), e164, sizeof(e164)) < 0) {
			json_array_append_new(*report,
			    import_note(cr->line, NULL, name, "invalid",
				raw[0] == '\0' ? "no phone"
					       : "phone: not a phone number"));
		} else if (err[0] != '\0') {
			json_array_append_new(*report,
			    import_note(cr->line, e164, name, "invalid", err));
		} else if (json_object_get(seen, e164) != NULL) {
			json_array_append_new(
			    *report, import_note(cr->line, e164, name, "skip",
					 "duplicate in file"));
		} else {
			json_object_set_new(seen, e164, json_true());
			json_object_set_new(row, "phone", json_string(e164));
			json_array_append(*rows, row);
		}
		free(raw);
		json_decref(row);
	}
	json_decref(seen);
	return 0;
}

static int
import_by_line(const void *a, const void *b)
{
	json_int_t la =
	    json_integer_value(json_object_get(*(json_t *const *)a, "line"));
	json_int_t lb =
	    json_integer_value(json_object_get(*(json_t *const *)b, "line"));

	return la < lb ? -1 : la > lb;
}

/*
 * The ImportReport: the gateway's own report rows (borrowed) and
 * crm-store's rows (borrowed), merged by line, with the counts.
 */
json_t *
import_report(json_t *mine, json_t *store_rows, bool dry_run)
{
	size_t n = json_array_size(mine) + json_array_size(store_rows), k = 0;
	json_t **all = xcalloc(n > 0 ? n : 1, sizeof(json_t *));
	json_t *rows = json_array(), *row;
	long long cnt[4] = {0, 0, 0, 0};
	static const char *const names[] = {
	    "create", "update", "skip", "invalid"};
	size_t i;

	json_array_foreach(mine, i, row)
		all[k++] = row;
	json_array_foreach(store_rows, i, row)
		all[k++] = row;
	qsort(all, k, sizeof(json_t *), import_by_line);
	for (i = 0; i < k; i++) {
		const char *a =
		    json_string_value(json_object_get(all[i], "action"));

		for (size_t j = 0; j < 4; j++)
			if (a != NULL && strcmp(a, names[j]) == 0)
				cnt[j]++;
		json_array_append(rows, all[i]);
	}
	free(all);
	return json_pack("{s:b, s:{s:I, s:I, s:I, s:I}, s:o}", "dry_run",
	    dry_run, "counts", "create", (json_int_t)cnt[0], "update",
	    (json_int_t)cnt[1], "skip", (json_int_t)cnt[2], "invalid",
	    (json_int_t)cnt[3], "rows", rows);
}
