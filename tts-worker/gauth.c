/*
 * Google service-account authentication without an SDK: the key file, the
 * RS256 JWT, the token request and the access-token cache
 * (reference/ai-apis.md §5.1-5.2).
 *
 * Why here and by hand: Google's client libraries are C++ or need gRPC;
 * what TTS needs is one signed JWT an hour. gauth_new() reads
 * GOOGLE_APPLICATION_CREDENTIALS at start (client_email, private_key,
 * private_key_id, token_uri) and signs one JWT to prove the key works, so
 * a missing, unreadable or wrong file stops the daemon at start with a
 * message naming the file and the problem -- the prototype's TTS died
 * silently of a renamed secret.
 *
 * The JWT: header {"alg":"RS256","typ":"JWT","kid":<private_key_id>},
 * claims {iss: client_email, scope: cloud-platform, aud: token_uri, iat,
 * exp = iat + 3600}, each base64url without padding, signed with
 * RSASSA-PKCS1-v1_5 SHA-256 (EVP_DigestSign). It is POSTed as
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT to
 * token_uri, whose answer {"access_token","expires_in"} is kept until
 * GAUTH_EARLY_S before it expires; from then on the next user starts a
 * refresh in the background and keeps using the old token, which is still
 * good. One fetch serves every job waiting for it (gauth_fetch). After a
 * failed fetch, jobs are told at once for GAUTH_RETRY_MS so a down token
 * endpoint sends every job to the fallback voice without waiting. On a 401
 * from synthesize, job.c calls gauth_invalidate() and fetches once more.
 *
 * Security: the private key, the JWT and the access token never reach a
 * log line or an error message; errors name the file and the field only.
 * The key file's bytes are wiped after parsing. OpenSSL is used only here
 * and in cache.c (R14).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"
#include "clock.h"
#include "httpc.h"
#include "log.h"
#include "tts.h"
#include "xmalloc.h"

#define GAUTH_FILE_MAX ((size_t)64 * 1024)

struct gauth_wait {
	TAILQ_ENTRY(gauth_wait) entry;
	struct gauth *g;
	void (*cb)(const char *token, const char *error, void *arg);
	void *arg;
};

struct gauth {
	struct httpc *h;
	char *client_email;
	char *key_id; /* may be "" */
	char *token_uri;
	EVP_PKEY *pkey;
	char *token;
	unsigned long gen;  /* counts tokens, so a refused one is named */
	int64_t expires_ms; /* monotonic: the token is no good after this */
	int64_t refresh_ms; /* monotonic: fetch a new one from then on */
	struct httpc_req *req;
	int64_t failed_ms; /* monotonic time of the last failed fetch */
	char error[GAUTH_ERROR_MAX];
	TAILQ_HEAD(gauth_waits, gauth_wait) waits;
};

/* Return data as base64url without padding (RFC 7515 §2); caller frees. */
char *
gauth_base64url(const void *data, size_t len)
{
	char *s = base64_encode_alloc(data, len);
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '=')
		s[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
	return s;
}

/* Read the whole file at path (at most GAUTH_FILE_MAX bytes). */
static char *
gauth_read_file(const char *path, size_t *len, char *err, size_t errsize)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(
		    err, errsize, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(GAUTH_FILE_MAX + 1);
	n = fread(buf, 1, GAUTH_FILE_MAX + 1, f);
	if (ferror(f) || n > GAUTH_FILE_MAX) {
		snprintf(err, errsize, "cannot read %s: %s", path,
		    ferror(f) ? strerror(errno) : "file too large");
		(void)fclose(f);
		OPENSSL_cleanse(buf, GAUTH_FILE_MAX + 1);
		free(buf);
		return NULL;
	}
	(void)fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const char *
gauth_field(json_t *doc, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, name));

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Sign len bytes at data with the key; return base64url text or NULL. */
static char *
gauth_sign(EVP_PKEY *pkey, const char *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out = NULL;

	if (ctx == NULL)
		return NULL;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestSign(
		ctx, NULL, &siglen, (const unsigned char *)data, len) == 1) {
		sig = xmalloc(siglen);
		if (EVP_DigestSign(ctx, sig, &siglen,
			(const unsigned char *)data, len) == 1)
			out = gauth_base64url(sig, siglen);
		free(sig);
	}
	EVP_MD_CTX_free(ctx);
	return out;
}

/*
 * Return a new signed JWT assertion for the token endpoint, issued at now
 * (caller frees), or NULL when signing fails.
 */
char *
gauth_jwt(const struct gauth *g, time_t now)
{
	json_t *hdr, *claims;
	char *h, *c, *hb, *cb, *input, *sig, *jwt = NULL;

	hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	if (g->key_id[0] != '\0')
		json_object_set_new(hdr, "kid", json_string(g->key_id));
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", g->client_email,
	    "scope", GAUTH_SCOPE, "aud", g->token_uri, "iat", (json_int_t)now,
	    "exp", (json_int_t)now + GAUTH_LIFETIME_S);
	h = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	c = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(hdr);
	json_decref(claims);
	if (h == NULL || c == NULL) {
		free(h);
		free(c);
		return NULL;
	}
	hb = gauth_base64url(h, strlen(h));
	cb = gauth_base64url(c, strlen(c));
	input = xasprintf("%s.%s", hb, cb);
	sig = gauth_sign(g->pkey, input, strlen(input));
	if (sig != NULL)
		jwt = xasprintf("%s.%s", input, sig);
	free(h);
	free(c);
	free(hb);
	free(cb);
	free(input);
	free(sig);
	return jwt;
}

static EVP_PKEY *
gauth_load_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey;

	if (bio == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey != NULL && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static bool
gauth_is_http_url(const char *s)
{
	return strncasecmp(s, "https://", 8) == 0 ||
	       strncasecmp(s, "http://", 7) == 0;
}

/*
 * Load the service-account key file at path and check that its key signs.
 * Return the new state, or NULL with the problem (naming the file and the
 * field, never the key) written to err.
 */
struct gauth *
gauth_new(struct httpc *h, const char *path, char *err, size_t errsize)
{
	struct gauth *g = NULL;
	json_error_t jerr;
	json_t *doc;
	const char *type, *email, *pem, *uri, *missing = NULL;
	size_t len = 0;
	char *buf, *probe;

	if (path == NULL || path[0] == '\0') {
		snprintf(
		    err, errsize, "GOOGLE_APPLICATION_CREDENTIALS is empty");
		return NULL;
	}
	if ((buf = gauth_read_file(path, &len, err, errsize)) == NULL)
		return NULL;
	doc = json_loadb(buf, len, 0, &jerr);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (!json_is_object(doc)) {
		snprintf(err, errsize,
		    "%s is not a JSON service-account key (line %d)", path,
		    jerr.line);
		json_decref(doc);
		return NULL;
	}
	type = gauth_field(doc, "type");
	email = gauth_field(doc, "client_email");
	pem = gauth_field(doc, "private_key");
	uri = gauth_field(doc, "token_uri");
	if (type != NULL && strcmp(type, "service_account") != 0) {
		snprintf(err, errsize,
		    "%s is a \"%.40s\" credential, not a service_account key",
		    path, type);
		json_decref(doc);
		return NULL;
	}
	if (email == NULL)
		missing = "client_email";
	else if (pem == NULL)
		missing = "private_key";
	if (missing != NULL) {
		snprintf(err, errsize, "%s has no %s", path, missing);
		json_decref(doc);
		return NULL;
	}
	if (uri != NULL && !gauth_is_http_url(uri)) {
		snprintf(
		    err, errsize, "%s: token_uri is not an http(s) URL", path);
		json_decref(doc);
		return NULL;
	}
	g = xcalloc(1, sizeof(*g));
	g->h = h;
	TAILQ_INIT(&g->waits);
	g->client_email = xstrdup(email);
	g->key_id = xstrdup(gauth_field(doc, "private_key_id")
				? gauth_field(doc, "private_key_id")
				: "");
	g->token_uri = xstrdup(uri != NULL ? uri : GAUTH_TOKEN_URI);
	g->pkey = gauth_load_key(pem);
	json_decref(doc);
	if (g->pkey == NULL) {
		snprintf(err, errsize,
		    "%s: private_key is not a PEM RSA private key", path);
		gauth_free(g);
		return NULL;
	}
	probe = gauth_jwt(g, time(NULL));
	if (probe == NULL) {
		snprintf(err, errsize, "%s: private_key cannot sign", path);
		gauth_free(g);
		return NULL;
	}
	OPENSSL_cleanse(probe, strlen(probe));
	free(probe);
	return g;
}

static void
gauth_forget_token(struct gauth *g)
{
	if (g->token != NULL) {
		OPENSSL_cleanse(g->token, strlen(g->token));
		X_FREE(g->token);
	}
}

/* Free g; pending waits are dropped without their callbacks. Takes NULL. */
void
gauth_free(struct gauth *g)
{
	struct gauth_wait *wt;

	if (g == NULL)
		return;
	while ((wt = TAILQ_FIRST(&g->waits)) != NULL) {
		TAILQ_REMOVE(&g->waits, wt, entry);
		free(wt);
	}
	httpc_cancel(g->req);
	gauth_forget_token(g);
	EVP_PKEY_free(g->pkey);
	free(g->client_email);
	free(g->key_id);
	free(g->token_uri);
	free(g);
}

const char *
gauth_last_error(const struct gauth *g)
{
	return g->error;
}

const char *
gauth_token_uri(const struct gauth *g)
{
	return g->token_uri;
}

/* Tell every waiter the outcome; each wait is freed before its call. */
static void
gauth_notify(struct gauth *g, const char *token, const char *error)
{
	struct gauth_wait *wt;

	/*
	 * Each wait is unlinked from g->waits before it is freed; the analyzer
	 * cannot see that and reports the next head as freed.
	 */
	/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
	while ((wt = TAILQ_FIRST(&g->waits)) != NULL) {
		void (*cb)(const char *, const char *, void *) = wt->cb;
		void *arg = wt->arg;

		TAILQ_REMOVE(&g->waits, wt, entry);
		free(wt);
		cb(token, error, arg);
	}
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
}

static void
gauth_token_error(const struct httpc_result *res, char *buf, size_t size)
{
	json_t *doc = json_loadb(res->body, res->body_len, 0, NULL);
	const char *e = json_string_value(json_object_get(doc, "error"));
	const char *d =
	    json_string_value(json_object_get(doc, "error_description"));

	if (res->status != HTTPC_OK)
		snprintf(buf, size, "token endpoint: %s",
		    httpc_status_name(res->status));
	else
		snprintf(buf, size, "token endpoint: HTTP %ld%s%.40s%s%.100s",
		    res->code, e ? " " : "", e ? e : "", d ? ": " : "",
		    d ? d : "");
	json_decref(doc);
}

static void
gauth_token_done(struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct gauth *g = arg;
	json_t *doc = NULL, *tok, *exp;
	json_int_t life = GAUTH_LIFETIME_S;
	int64_t now = clock_mono_ms();

	(void)r;
	g->req = NULL;
	if (res->status == HTTPC_OK && res->code == 200)
		doc = json_loadb(res->body, res->body_len, 0, NULL);
	tok = json_object_get(doc, "access_token");
	if (!json_is_string(tok) || json_string_length(tok) == 0 ||
	    strpbrk(json_string_value(tok), "\r\n") != NULL) {
		if (doc != NULL)
			snprintf(g->error, sizeof(g->error),
			    "token endpoint: answer has no access_token");
		else
			gauth_token_error(res, g->error, sizeof(g->error));
		json_decref(doc);
		g->failed_ms = now;
		log_warnx("google auth: %s", g->error);
		gauth_notify(g, NULL, g->error);
		return;
	}
	exp = json_object_get(doc, "expires_in");
	if (json_is_integer(exp) && json_integer_value(exp) > 0)
		life = json_integer_value(exp);
	gauth_forget_token(g);
	g->token = xstrdup(json_string_value(tok));
	g->gen++;
	json_decref(doc);
	/* Stop using it a little early: clocks and flight time. */
	g->expires_ms = now + (int64_t)life * 1000 -
			(life > 40 ? 10000 : (int64_t)life * 250);
	/* Refresh GAUTH_EARLY_S early; a short-lived token at half-life. */
	g->refresh_ms = life > (json_int_t)2 * GAUTH_EARLY_S
			    ? now + (int64_t)(life - GAUTH_EARLY_S) * 1000
			    : now + (int64_t)life * 500;
	g->failed_ms = 0;
	g->error[0] = '\0';
	log_info("google auth: access token valid for %lld s", (long long)life);
	gauth_notify(g, g->token, NULL);
}

/* Start a token request unless one is in flight. */
static void
gauth_start_fetch(struct gauth *g)
{
	char *jwt, *body;

	if (g->req != NULL)
		return;
	jwt = gauth_jwt(g, time(NULL));
	if (jwt == NULL) {
		snprintf(g->error, sizeof(g->error), "cannot sign the JWT");
		g->failed_ms = clock_mono_ms();
		return;
	}
	/* base64url and '.' need no URL encoding. */
	body = xasprintf("grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-"
			 "type%%3Ajwt-bearer&assertion=%s",
	    jwt);
	OPENSSL_cleanse(jwt, strlen(jwt));
	free(jwt);
	g->req = httpc_req_new(g->h, "POST", g->token_uri, GAUTH_TOKEN_MS);
	httpc_req_header(
	    g->req, "Content-Type", "application/x-www-form-urlencoded");
	httpc_req_body_take(g->req, body, strlen(body));
	httpc_start(g->req, gauth_token_done, g);
}

/*
 * Return the cached access token when it is good, else NULL. A token in
 * its last GAUTH_EARLY_S is still returned, and a refresh starts in the
 * background.
 */
const char *
gauth_token(struct gauth *g)
{
	int64_t now = clock_mono_ms();

	if (g->token == NULL || now >= g->expires_ms)
		return NULL;
	if (now >= g->refresh_ms)
		gauth_start_fetch(g);
	return g->token;
}

/*
 * Get a fresh token: cb(token, NULL, arg) or cb(NULL, error, arg) runs
 * once from the loop when the fetch ends (never from here). Within
 * GAUTH_RETRY_MS of a failed fetch, NULL is returned and nothing is
 * started: the caller reads gauth_last_error(). Otherwise return a handle
 * that gauth_wait_cancel() drops.
 */
struct gauth_wait *
gauth_fetch(struct gauth *g,
    void (*cb)(const char *token, const char *error, void *arg), void *arg)
{
	struct gauth_wait *wt;

	if (g->req == NULL && g->failed_ms != 0 &&
	    clock_mono_ms() - g->failed_ms < GAUTH_RETRY_MS)
		return NULL;
	gauth_start_fetch(g);
	if (g->req == NULL)
		return NULL;
	wt = xcalloc(1, sizeof(*wt));
	wt->g = g;
	wt->cb = cb;
	wt->arg = arg;
	TAILQ_INSERT_TAIL(&g->waits, wt, entry);
	return wt;
}

/* Drop a wait: its callback is not called. Takes NULL. */
void
gauth_wait_cancel(struct gauth_wait *wt)
{
	if (wt == NULL)
		return;
	TAILQ_REMOVE(&wt->g->waits, wt, entry);
	free(wt);
}

/* The number of the cached token (it changes with every new token). */
unsigned long
gauth_token_gen(const struct gauth *g)
{
	return g->gen;
}

/* Forget the cached token if it is token number gen (a 401 refused it). */
void
gauth_invalidate(struct gauth *g, unsigned long gen)
{
	if (g->token != NULL && g->gen == gen)
		gauth_forget_token(g);
}
