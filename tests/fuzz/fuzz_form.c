/*
 * Fuzz target: application/x-www-form-urlencoded parsing (gateway/form.c),
 * the body of every Twilio webhook. Every accepted pair must be a C
 * string of its stated length; re-encoding the pairs (every byte outside
 * [A-Za-z0-9] as %XX) and parsing again must give the same pairs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
encode(const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f, g;
	char *buf;
	size_t len = 0;

	if (form_parse((const char *)data, size, &f) < 0) {
		if (f.n != 0 || f.pairs != NULL)
			abort();
		return 0;
	}
	buf = malloc(size * 3 + 16);
	if (buf == NULL)
		abort();
	for (size_t i = 0; i < f.n; i++) {
		const struct form_pair *p = &f.pairs[i];

		if (strlen(p->key) != p->key_len ||
		    strlen(p->value) != p->value_len)
			abort();
		if (i > 0)
			buf[len++] = '&';
		len += encode(p->key, p->key_len, buf + len);
		buf[len++] = '=';
		len += encode(p->value, p->value_len, buf + len);
	}
	/* an empty key with an empty value re-encodes as "=", still a pair */
	if (form_parse(buf, len, &g) < 0 || g.n != f.n)
		abort();
	for (size_t i = 0; i < f.n; i++)
		if (strcmp(f.pairs[i].key, g.pairs[i].key) != 0 ||
		    strcmp(f.pairs[i].value, g.pairs[i].value) != 0)
			abort();
	(void)form_get(&f, "CallSid");
	form_free(&g);
	form_free(&f);
	free(buf);
	return 0;
}
