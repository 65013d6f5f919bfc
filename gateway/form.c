/*
 * application/x-www-form-urlencoded bodies: every Twilio webhook is one.
 *
 * Why a file of its own: the signature (twilio_sig.c) is computed over the
 * decoded pairs, so decoding must be exact, and the input comes from the
 * network, so it is fuzzed. The parser is pure (bytes and a length in,
 * pairs out; no sockets, no logging, R15).
 *
 * Rules (WHATWG URL "application/x-www-form-urlencoded" parsing, made
 * strict): pairs are separated by '&' and empty segments are skipped; the
 * first '=' splits name from value (no '=': empty value); '+' decodes to a
 * space and %XX to the byte XX (either case). Rejected, so that nothing
 * later has to guess: a '%' not followed by two hex digits, a decoded NUL
 * byte (names and values are C strings), bytes that are not valid UTF-8
 * (Hebrew arrives as UTF-8; jansson needs it), more than FORM_PAIRS_MAX
 * pairs or more than FORM_LEN_MAX bytes. Repeated names are all kept, in
 * the order they came.
 *
 * Ownership: form_parse fills a struct form the caller frees with
 * form_free; every string in it is owned by the form.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "xmalloc.h"

static int
form_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Return true when the len bytes at s are well-formed UTF-8 (RFC 3629). */
static bool
form_is_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0u) != 0x80u)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/*
 * Decode len bytes of one form-encoded name or value at src into a new
 * NUL-terminated string in *out (caller frees) with its length in *outlen.
 * Return 0, or -1 (*out NULL) for a bad escape, a NUL or invalid UTF-8.
 */
int
form_decode(const char *src, size_t len, char **out, size_t *outlen)
{
	char *dst = xmalloc(len + 1);
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = form_hex(src[i + 1])) < 0 ||
			    (lo = form_hex(src[i + 2])) < 0) {
				free(dst);
				return -1;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0') {
			free(dst);
			return -1;
		}
		dst[n++] = c;
	}
	dst[n] = '\0';
	if (!form_is_utf8((const uint8_t *)dst, n)) {
		free(dst);
		return -1;
	}
	*out = dst;
	*outlen = n;
	return 0;
}

/* Free every pair of f and leave it empty; f itself is the caller's. */
void
form_free(struct form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->pairs[i].key);
		free(f->pairs[i].value);
	}
	free(f->pairs);
	f->pairs = NULL;
	f->n = 0;
}

/*
 * Parse the form body of len bytes at buf into out (overwritten). Return
 * 0, or -1 with out empty when the body breaks a rule of the file comment.
 */
int
form_parse(const char *buf, size_t len, struct form *out)
{
	size_t cap = 0, i = 0;

	out->pairs = NULL;
	out->n = 0;
	if (len > FORM_LEN_MAX)
		return -1;
	while (i < len) {
		const char *seg = buf + i;
		const char *amp = memchr(seg, '&', len - i);
		size_t seglen = amp ? (size_t)(amp - seg) : len - i;
		const char *eq = memchr(seg, '=', seglen);
		size_t klen = eq ? (size_t)(eq - seg) : seglen;
		struct form_pair p;

		i += seglen + 1;
		if (seglen == 0)
			continue;
		if (out->n == FORM_PAIRS_MAX)
			goto fail;
		if (form_decode(seg, klen, &p.key, &p.key_len) < 0)
			goto fail;
		if (eq == NULL) {
			p.value = xstrdup("");
			p.value_len = 0;
		} else if (form_decode(eq + 1, seglen - klen - 1, &p.value,
			       &p.value_len) < 0) {
			free(p.key);
			goto fail;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 16;
			out->pairs =
			    xreallocarray(out->pairs, cap, sizeof(*out->pairs));
		}
		out->pairs[out->n++] = p;
	}
	return 0;
fail:
	form_free(out);
	return -1;
}

/* Return the first value of key in f, or NULL when f has no such name. */
const char *
form_get(const struct form *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->pairs[i].key, key) == 0)
			return f->pairs[i].value;
	return NULL;
}

/* Return true when a Content-Type value names a form body. */
bool
form_is_urlencoded(const char *content_type)
{
	static const char type[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(type) - 1;

	if (content_type == NULL)
		return false;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	if (strncasecmp(content_type, type, n) != 0)
		return false;
	content_type += n;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	return *content_type == '\0' || *content_type == ';';
}
