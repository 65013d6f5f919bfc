/*
 * CSV text into rows of fields: the parser behind the leads import
 * (POST /api/import, gateway/import.c). The browser uploads the file's
 * text as is, from Excel, Google Sheets or a CRM's export.
 *
 * Pure (R15): a buffer and its length in, a struct out, no I/O; unit-
 * tested in tests/unit/test_gateway_csv.c.
 *
 * What it accepts (RFC 4180 and what spreadsheets really write): a UTF-8
 * byte order mark at the start is skipped; records end with LF, CRLF or
 * CR; fields are separated by one delimiter (csv_sniff picks comma,
 * semicolon or tab from the header line); a field in double quotes may
 * hold delimiters, line breaks and doubled quotes ("" is one "); text
 * after a closing quote up to the next delimiter is kept; blank lines are
 * skipped. Each row records the line it started on (1-based, the header
 * is line 1), for the import's report.
 *
 * Limits: at most max_rows records (the header included), CSV_FIELDS_MAX
 * fields a row, CSV_FIELD_MAX bytes a field; more is an error naming the
 * line, as is a quote left open at the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "xmalloc.h"

/* A field being built. */
struct csv_buf {
	char *s;
	size_t n;
	size_t cap;
};

static void
csv_buf_add(struct csv_buf *b, char c)
{
	if (b->n + 1 >= b->cap) {
		b->cap = b->cap == 0 ? 32 : b->cap * 2;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	b->s[b->n++] = c;
	b->s[b->n] = '\0';
}

/* End the field in b: append it to row (taking its text). */
static int
csv_field_end(struct csv_row *row, struct csv_buf *b)
{
	if (row->n >= CSV_FIELDS_MAX)
		return -1;
	row->f = xreallocarray(row->f, row->n + 1, sizeof(*row->f));
	row->f[row->n++] = b->s != NULL ? b->s : xstrdup("");
	memset(b, 0, sizeof(*b));
	return 0;
}

static bool
csv_row_is_blank(const struct csv_row *row)
{
	return row->n == 1 && row->f[0][0] == '\0';
}

static void
csv_row_free(struct csv_row *row)
{
	for (size_t i = 0; i < row->n; i++)
		free(row->f[i]);
	free(row->f);
	memset(row, 0, sizeof(*row));
}

/*
 * Choose the delimiter of the text from its first line: a comma when it
 * has one, else a semicolon, else a tab, else a comma (one column).
 */
char
csv_sniff(const char *buf, size_t len)
{
	size_t end = 0;
	size_t commas = 0, semis = 0, tabs = 0;

	while (end < len && buf[end] != '\n' && buf[end] != '\r')
		end++;
	for (size_t i = 0; i < end; i++) {
		if (buf[i] == ',')
			commas++;
		else if (buf[i] == ';')
			semis++;
		else if (buf[i] == '\t')
			tabs++;
	}
	if (commas > 0)
		return ',';
	if (semis > 0)
		return ';';
	return tabs > 0 ? '\t' : ',';
}

/* Finish the row being built into out (or drop it when blank). */
static int
csv_row_end(struct csv *out, struct csv_row *row, size_t max_rows)
{
	if (csv_row_is_blank(row)) {
		csv_row_free(row);
		return 0;
	}
	if (out->n >= max_rows)
		return -1;
	out->rows = xreallocarray(out->rows, out->n + 1, sizeof(*out->rows));
	out->rows[out->n++] = *row;
	memset(row, 0, sizeof(*row));
	return 0;
}

/*
 * Parse len bytes of buf as CSV with delimiter delim into out (free it
 * with csv_free, also after an error). Return 0, or -1 with why filled.
 */
int
csv_parse(const char *buf, size_t len, char delim, size_t max_rows,
    struct csv *out, char *why, size_t whylen)
{
	struct csv_row row = {0};
	struct csv_buf b = {0};
	size_t i = 0, line = 1;
	bool quoted = false, started = false;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	row.line = line;
	for (; i < len && rc == 0; i++) {
		char c = buf[i];

		if (c == '\0') {
			snprintf(why, whylen, "line %zu: a NUL byte", line);
			rc = -1;
			break;
		}
		if (quoted) {
			if (c == '"' && i + 1 < len && buf[i + 1] == '"') {
				csv_buf_add(&b, '"');
				i++;
			} else if (c == '"') {
				quoted = false;
			} else {
				if (c == '\n' ||
				    (c == '\r' &&
					(i + 1 >= len || buf[i + 1] != '\n')))
					line++;
				csv_buf_add(&b, c);
			}
		} else if (c == '"' && !started) {
			quoted = true;
			started = true;
		} else if (c == delim) {
			if (csv_field_end(&row, &b) < 0) {
				snprintf(why, whylen,
				    "line %zu: more than %d fields", row.line,
				    CSV_FIELDS_MAX);
				rc = -1;
			}
			started = false;
			continue;
		} else if (c == '\n' || c == '\r') {
			if (c == '\r' && i + 1 < len && buf[i + 1] == '\n')
				i++;
			line++;
			if (csv_field_end(&row, &b) < 0 ||
			    csv_row_end(out, &row, max_rows) < 0) {
				snprintf(why, whylen,
				    "line %zu: more than %zu rows or %d fields",
				    line - 1, max_rows, CSV_FIELDS_MAX);
				rc = -1;
			}
			row.line = line;
			started = false;
			continue;
		} else {
			csv_buf_add(&b, c);
			started = true;
		}
		if (b.n > CSV_FIELD_MAX) {
			snprintf(why, whylen, "line %zu: a field over %d bytes",
			    line, CSV_FIELD_MAX);
			rc = -1;
		}
	}
	if (rc == 0 && quoted) {
		snprintf(
		    why, whylen, "line %zu: a quote is not closed", row.line);
		rc = -1;
	}
	if (rc == 0 && (row.n > 0 || b.n > 0)) {
		if (csv_field_end(&row, &b) < 0 ||
		    csv_row_end(out, &row, max_rows) < 0) {
			snprintf(why, whylen,
			    "line %zu: more than %zu rows or %d fields",
			    row.line, max_rows, CSV_FIELDS_MAX);
			rc = -1;
		}
	}
	free(b.s);
	csv_row_free(&row);
	return rc;
}

/* Free the rows of c (c itself is the caller's). */
void
csv_free(struct csv *c)
{
	for (size_t i = 0; i < c->n; i++)
		csv_row_free(&c->rows[i]);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}
