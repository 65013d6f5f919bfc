/*
 * sig.c: the form body Twilio posts, the X-Twilio-Signature it puts on
 * it, and the random SIDs it invents.
 *
 * Why: the gateway refuses (403) any webhook or Media Streams upgrade
 * whose signature is wrong, so the simulated caller must sign exactly as
 * Twilio does (shared reference twilio.md section 3.1): HMAC-SHA1 keyed
 * with the auth token over the full URL, then, for a form POST, every
 * parameter's name and value (decoded) sorted by name in byte order,
 * identical pairs once; base64 of the 20-byte MAC. An upgrade is a GET:
 * no parameters (section 3.2). Tools may not link gateway/, so this is a
 * second, independent implementation (OpenSSL's one-shot HMAC) checked
 * against the reference's vectors in tests/unit/test_sim_caller_sig.c;
 * two implementations agreeing is also a test of the gateway's.
 *
 * The form is application/x-www-form-urlencoded the way Twilio sends it:
 * unreserved bytes as is, space as '+', everything else %XX (so '+' in a
 * phone number travels as %2B and Hebrew as UTF-8 percent-escapes).
 *
 * Pure apart from sig_random_hex (OpenSSL's RAND_bytes; no randomness is
 * a broken invariant, fatal). The token is a
 * secret: it goes only into the MAC.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base64.h"
#include "log.h"
#include "sim_caller.h"
#include "xmalloc.h"

static bool
sig_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '*';
}

/* Append s form-encoded at out + *o (room for 3 * strlen(s)). */
static void
sig_encode_into(const char *s, char *out, size_t *o)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (sig_is_unreserved(c)) {
			out[(*o)++] = (char)c;
		} else if (c == ' ') {
			out[(*o)++] = '+';
		} else {
			out[(*o)++] = '%';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 0xF];
		}
	}
}

/* Return the n pairs at p as a new form body "a=1&b=2" (caller frees). */
char *
sig_form_encode(const struct sig_param *p, size_t n)
{
	size_t room = 1, o = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		room += 3 * (strlen(p[i].name) + strlen(p[i].value)) + 2;
	out = xmalloc(room);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out[o++] = '&';
		sig_encode_into(p[i].name, out, &o);
		out[o++] = '=';
		sig_encode_into(p[i].value, out, &o);
	}
	out[o] = '\0';
	return out;
}

static int
sig_pair_cmp(const void *a, const void *b)
{
	const struct sig_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/*
 * Compute Twilio's signature of url and the n parameters at p (none for
 * a GET or an upgrade) under token into out as base64 and a NUL. Return
 * 0, or -1 for an empty token or an OpenSSL failure.
 */
int
sig_compute(const char *token, const char *url, const struct sig_param *p,
    size_t n, char out[SIG_LEN + 1])
{
	struct sig_param *sorted = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = strlen(url), o;
	char *data;
	int rc = -1;

	out[0] = '\0';
	if (token == NULL || token[0] == '\0')
		return -1;
	if (n > 0) {
		sorted = xmemdup(p, n * sizeof(*p));
		qsort(sorted, n, sizeof(*sorted), sig_pair_cmp);
	}
	for (size_t i = 0; i < n; i++)
		len += strlen(sorted[i].name) + strlen(sorted[i].value);
	data = xmalloc(len + 1);
	o = strlen(url);
	memcpy(data, url, o);
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(sorted[i].name);
		size_t vl = strlen(sorted[i].value);

		if (i > 0 && sig_pair_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		memcpy(data + o, sorted[i].name, kl);
		memcpy(data + o + kl, sorted[i].value, vl);
		o += kl + vl;
	}
	if (HMAC(EVP_sha1(), token, (int)strlen(token),
		(const unsigned char *)data, o, md, &mdlen) != NULL &&
	    mdlen == 20 && base64_encode(md, mdlen, out, SIG_LEN + 1) == 0)
		rc = 0;
	OPENSSL_cleanse(md, sizeof(md));
	free(data);
	free(sorted);
	return rc;
}

/* Write ndigits random lowercase hex digits and a NUL into out. */
void
sig_random_hex(char *out, size_t ndigits)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[64];

	if (ndigits > 2 * sizeof(b))
		ndigits = 2 * sizeof(b);
	if (RAND_bytes(b, (int)sizeof(b)) != 1)
		fatalx("sim-caller: no random bytes from OpenSSL");
	for (size_t i = 0; i < ndigits; i++)
		out[i] = hex[(b[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
	out[ndigits] = '\0';
}
