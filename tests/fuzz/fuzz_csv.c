/*
 * Fuzz target: the leads import's CSV parser (gateway/csv.c) and phone
 * normalisation (gateway/phone.c), both fed the file a browser uploads.
 * Rows must start on increasing lines, fields must be C strings within
 * the limits, and a phone that normalises must be E.164 and normalise to
 * itself again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct csv c;
	char why[160];
	size_t last = 0;

	if (csv_parse(buf, size, csv_sniff(buf, size), 1000, &c, why,
		sizeof(why)) == 0) {
		if (c.n > 1000)
			abort();
		for (size_t r = 0; r < c.n; r++) {
			if (c.rows[r].line <= last || c.rows[r].n == 0 ||
			    c.rows[r].n > CSV_FIELDS_MAX)
				abort();
			last = c.rows[r].line;
			for (size_t i = 0; i < c.rows[r].n; i++) {
				const char *f = c.rows[r].f[i];
				char e[PHONE_E164_MAX + 1],
				    e2[PHONE_E164_MAX + 1];

				if (strlen(f) > CSV_FIELD_MAX)
					abort();
				if (phone_normalize(
					f, strlen(f), e, sizeof(e)) == 0) {
					if (!phone_is_e164(e) ||
					    phone_normalize(e, strlen(e), e2,
						sizeof(e2)) != 0 ||
					    strcmp(e, e2) != 0)
						abort();
				}
			}
		}
	}
	csv_free(&c);
	return 0;
}
