/*
 * X-Twilio-Signature: proof that a webhook or a Media Streams upgrade
 * comes from Twilio (shared reference twilio.md section 3, copied into
 * tests/unit/test_gateway_twilio_sig.c as vectors).
 *
 * Algorithm: HMAC-SHA1, keyed with the account's auth token, over the full
 * URL Twilio requested (scheme to end of query, byte for byte) followed,
 * for a form POST, by name + value of every decoded parameter sorted by
 * name in plain byte order. A name sent several times contributes each of
 * its distinct values once, in byte order (what Twilio's own libraries
 * do). The result is base64 and is compared in constant time
 * (CRYPTO_memcmp).
 *
 * Twilio signs voice webhooks over HTTPS without the port and others with
 * it, so the *_any and *_ws checks also try the URL with the scheme's
 * default port added or removed, like the official libraries; the
 * upgrade check also tries a trailing '/' (Twilio's note for WSS).
 *
 * Pure functions over buffers: no sockets, no logging. The token is a
 * secret: nothing here copies it anywhere but into OpenSSL's MAC context.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base64.h"
#include "gateway.h"
#include "xmalloc.h"

#define TWILIO_SIG_MD_LEN 20 /* SHA-1 */

/* A pair to sort without moving the caller's form. */
struct twilio_sig_ref {
	const struct form_pair *p;
};

static int
twilio_sig_pair_cmp(const void *a, const void *b)
{
	const struct form_pair *x = ((const struct twilio_sig_ref *)a)->p;
	const struct form_pair *y = ((const struct twilio_sig_ref *)b)->p;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static bool
twilio_sig_same_pair(const struct form_pair *x, const struct form_pair *y)
{
	return strcmp(x->key, y->key) == 0 && strcmp(x->value, y->value) == 0;
}

/*
 * Compute the signature of url and params (NULL or empty for a GET or an
 * upgrade) with token into out as base64 and a NUL. Return 0, or -1 when
 * the token is empty or OpenSSL fails.
 */
int
twilio_sig_compute(const char *token, const char *url,
    const struct form *params, char out[TWILIO_SIG_LEN + 1])
{
	static char digest[] = "SHA1";
	struct twilio_sig_ref *sorted = NULL;
	size_t n = params != NULL ? params->n : 0;
	unsigned char md[TWILIO_SIG_MD_LEN];
	size_t mdlen = 0;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM mp[2];
	int rc = -1;

	out[0] = '\0';
	if (token == NULL || token[0] == '\0' || url == NULL)
		return -1;
	mp[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	mp[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    !EVP_MAC_init(
		ctx, (const unsigned char *)token, strlen(token), mp) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)url, strlen(url)))
		goto done;
	if (n > 0) {
		sorted = xreallocarray(NULL, n, sizeof(*sorted));
		for (size_t i = 0; i < n; i++)
			sorted[i].p = &params->pairs[i];
		qsort(sorted, n, sizeof(*sorted), twilio_sig_pair_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		const struct form_pair *p = sorted[i].p;

		if (i > 0 && twilio_sig_same_pair(sorted[i - 1].p, p))
			continue;
		if (!EVP_MAC_update(
			ctx, (const unsigned char *)p->key, p->key_len) ||
		    !EVP_MAC_update(
			ctx, (const unsigned char *)p->value, p->value_len))
			goto done;
	}
	if (!EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) ||
	    mdlen != TWILIO_SIG_MD_LEN ||
	    base64_encode(md, mdlen, out, TWILIO_SIG_LEN + 1) < 0)
		goto done;
	rc = 0;
done:
	free(sorted);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/*
 * Return true when sig is the signature of exactly url and params under
 * token. A NULL or malformed sig is simply invalid.
 */
bool
twilio_sig_is_valid(const char *token, const char *url,
    const struct form *params, const char *sig)
{
	char want[TWILIO_SIG_LEN + 1];
	bool ok;

	if (sig == NULL || strlen(sig) != TWILIO_SIG_LEN)
		return false;
	if (twilio_sig_compute(token, url, params, want) < 0)
		return false;
	ok = CRYPTO_memcmp(want, sig, TWILIO_SIG_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* Return the default port of a URL scheme as text, or NULL. */
static const char *
twilio_sig_default_port(const char *scheme, size_t len)
{
	if ((len == 5 && strncasecmp(scheme, "https", 5) == 0) ||
	    (len == 3 && strncasecmp(scheme, "wss", 3) == 0))
		return "443";
	if ((len == 4 && strncasecmp(scheme, "http", 4) == 0) ||
	    (len == 2 && strncasecmp(scheme, "ws", 2) == 0))
		return "80";
	return NULL;
}

/*
 * Return url with the scheme's default port added (with_port) or removed
 * (!with_port) as a new string (caller frees), or NULL when that variant
 * is the URL itself (a port is already there, or a non-default one) or
 * the URL has no known scheme.
 */
char *
twilio_sig_url_variant(const char *url, bool with_port)
{
	const char *sep = strstr(url, "://");
	const char *auth, *end, *host, *colon = NULL, *def;
	size_t authlen;

	if (sep == NULL ||
	    (def = twilio_sig_default_port(url, (size_t)(sep - url))) == NULL)
		return NULL;
	auth = sep + 3;
	authlen = strcspn(auth, "/?#");
	end = auth + authlen;
	host = auth;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			host = p + 1;
	if (host < end && *host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (rb == NULL)
			return NULL;
		if (rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
	}
	if (with_port) {
		if (colon != NULL)
			return NULL;
		return xasprintf("%.*s:%s%s", (int)(end - url), url, def, end);
	}
	if (colon == NULL || (size_t)(end - colon - 1) != strlen(def) ||
	    strncmp(colon + 1, def, strlen(def)) != 0)
		return NULL;
	return xasprintf("%.*s%s", (int)(colon - url), url, end);
}

/*
 * Return true when sig signs url (as is, with the default port added, or
 * with it removed) and params under token.
 */
bool
twilio_sig_is_valid_any(const char *token, const char *url,
    const struct form *params, const char *sig)
{
	bool ok = twilio_sig_is_valid(token, url, params, sig);

	for (int v = 0; v < 2 && !ok; v++) {
		char *alt = twilio_sig_url_variant(url, v == 0);

		if (alt != NULL)
			ok = twilio_sig_is_valid(token, alt, params, sig);
		free(alt);
	}
	return ok;
}

/*
 * Check the signature of a Media Streams upgrade (reference section 3.2):
 * a GET signed over the stream URL exactly as written in the TwiML
 * (wss://..., no query), no parameters. Also accept it over the URL with a
 * trailing '/' and over either with the default port added or removed.
 */
bool
twilio_sig_is_valid_ws(
    const char *token, const char *stream_url, const char *sig)
{
	size_t len;
	char *slash;
	bool ok;

	if (stream_url == NULL)
		return false;
	if (twilio_sig_is_valid_any(token, stream_url, NULL, sig))
		return true;
	len = strlen(stream_url);
	if (len > 0 && stream_url[len - 1] == '/')
		return false;
	slash = xasprintf("%s/", stream_url);
	ok = twilio_sig_is_valid_any(token, slash, NULL, sig);
	free(slash);
	return ok;
}
