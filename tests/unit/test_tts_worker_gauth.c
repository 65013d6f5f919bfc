/*
 * Unit tests for tts-worker/gauth.c without a network: base64url vectors
 * (no padding, '-' and '_'), a JWT built from a service-account file
 * holding a key generated here, its header and claims checked field by
 * field and its RS256 signature verified with OpenSSL against the key's
 * public half (and refused after one changed byte), and every way the
 * credentials file can be wrong, each named in the error without a byte
 * of the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base64.h"
#include "../../tts-worker/tts.h"
#include "xmalloc.h"

struct fixture {
	char dir[64];
	EVP_PKEY *key;
	char *pem;
};

static char *
pem_of(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(bio);
	assert_int_equal(
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	out = xstrndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/gauth.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->key = EVP_RSA_gen(2048);
	if (f->key == NULL)
		return -1;
	f->pem = pem_of(f->key);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf %s", f->dir);

	(void)system(cmd);
	free(cmd);
	EVP_PKEY_free(f->key);
	free(f->pem);
	free(f);
	return 0;
}

/* Write doc to <dir>/name and return the path (caller frees). */
static char *
write_json(const struct fixture *f, const char *name, json_t *doc)
{
	char *path = xasprintf("%s/%s", f->dir, name);

	assert_int_equal(json_dump_file(doc, path, 0), 0);
	json_decref(doc);
	return path;
}

static json_t *
account(const struct fixture *f)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type",
	    "service_account", "project_id", "p", "private_key_id", "0123abcd",
	    "private_key", f->pem, "client_email",
	    "tts@p.iam.gserviceaccount.com", "token_uri",
	    "http://127.0.0.1:9/token");
}

/* Decode base64url without padding. */
static uint8_t *
unurl(const char *s, size_t len, size_t *outlen)
{
	char *std = xmalloc(len + 4);
	uint8_t *out = NULL;
	size_t n = len;

	for (size_t i = 0; i < len; i++) {
		assert_true(s[i] != '=' && s[i] != '+' && s[i] != '/');
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	while (n % 4)
		std[n++] = '=';
	assert_int_equal(base64_decode_alloc(std, n, &out, outlen), 0);
	free(std);
	return out;
}

static void
test_base64url(void **state)
{
	static const struct {
		const char *raw;
		size_t len;
		const char *url;
	} v[] = {
	    {"", 0, ""},
	    {"f", 1, "Zg"},
	    {"fo", 2, "Zm8"},
	    {"foo", 3, "Zm9v"},
	    {"\xfb\xff", 2, "-_8"},
	    {"\xff\xfe\xfd", 3, "__79"},
	    {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 27,
		"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *s = gauth_base64url(v[i].raw, v[i].len);

		assert_string_equal(s, v[i].url);
		free(s);
	}
}

static void
test_jwt(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	char *path = write_json(f, "sa.json", account(f));
	struct gauth *g = gauth_new(NULL, path, err, sizeof(err));
	char *jwt, *dot1, *dot2;
	uint8_t *hdr, *claims, *sig;
	size_t hl, cl, sl;
	json_t *h, *c;
	EVP_MD_CTX *ctx;

	(void)state;
	assert_non_null(g);
	assert_string_equal(gauth_token_uri(g), "http://127.0.0.1:9/token");
	jwt = gauth_jwt(g, 1700000000);
	assert_non_null(jwt);
	dot1 = strchr(jwt, '.');
	assert_non_null(dot1);
	dot2 = strchr(dot1 + 1, '.');
	assert_non_null(dot2);
	assert_null(strchr(dot2 + 1, '.'));
	hdr = unurl(jwt, (size_t)(dot1 - jwt), &hl);
	claims = unurl(dot1 + 1, (size_t)(dot2 - dot1 - 1), &cl);
	sig = unurl(dot2 + 1, strlen(dot2 + 1), &sl);
	h = json_loadb((const char *)hdr, hl, 0, NULL);
	c = json_loadb((const char *)claims, cl, 0, NULL);
	assert_non_null(h);
	assert_non_null(c);
	assert_string_equal(
	    json_string_value(json_object_get(h, "alg")), "RS256");
	assert_string_equal(
	    json_string_value(json_object_get(h, "typ")), "JWT");
	assert_string_equal(
	    json_string_value(json_object_get(h, "kid")), "0123abcd");
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
	    "tts@p.iam.gserviceaccount.com");
	assert_string_equal(json_string_value(json_object_get(c, "scope")),
	    "https://www.googleapis.com/auth/cloud-platform");
	assert_string_equal(json_string_value(json_object_get(c, "aud")),
	    "http://127.0.0.1:9/token");
	assert_int_equal(
	    json_integer_value(json_object_get(c, "iat")), 1700000000);
	assert_int_equal(
	    json_integer_value(json_object_get(c, "exp")), 1700000000 + 3600);
	assert_null(json_object_get(c, "sub"));
	/* RS256 over "header.claims" with the public half of the key. */
	assert_int_equal(sl, 256);
	ctx = EVP_MD_CTX_new();
	assert_int_equal(
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, f->key), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, sl,
			     (const unsigned char *)jwt, (size_t)(dot2 - jwt)),
	    1);
	EVP_MD_CTX_free(ctx);
	/* One changed byte of the signed part: refused. */
	jwt[3] ^= 1;
	ctx = EVP_MD_CTX_new();
	assert_int_equal(
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, f->key), 1);
	assert_int_not_equal(
	    EVP_DigestVerify(
		ctx, sig, sl, (const unsigned char *)jwt, (size_t)(dot2 - jwt)),
	    1);
	EVP_MD_CTX_free(ctx);
	/* No token yet, and none before a fetch. */
	assert_null(gauth_token(g));
	json_decref(h);
	json_decref(c);
	free(hdr);
	free(claims);
	free(sig);
	free(jwt);
	free(path);
	gauth_free(g);
}

static void
test_jwt_defaults(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	json_t *doc = account(f);
	char *path, *jwt, *dot;
	uint8_t *hdr, *claims;
	size_t hl, cl;
	json_t *h, *c;
	struct gauth *g;

	/* No token_uri: Google's; no private_key_id: no kid. */
	json_object_del(doc, "token_uri");
	json_object_del(doc, "private_key_id");
	path = write_json(f, "sa2.json", doc);
	g = gauth_new(NULL, path, err, sizeof(err));
	assert_non_null(g);
	jwt = gauth_jwt(g, 1700000000);
	dot = strchr(jwt, '.');
	hdr = unurl(jwt, (size_t)(dot - jwt), &hl);
	claims = unurl(dot + 1, (size_t)(strchr(dot + 1, '.') - dot - 1), &cl);
	h = json_loadb((const char *)hdr, hl, 0, NULL);
	c = json_loadb((const char *)claims, cl, 0, NULL);
	assert_null(json_object_get(h, "kid"));
	assert_string_equal(json_string_value(json_object_get(c, "aud")),
	    "https://oauth2.googleapis.com/token");
	json_decref(h);
	json_decref(c);
	free(hdr);
	free(claims);
	free(jwt);
	free(path);
	gauth_free(g);
}

/* gauth_new must refuse path, naming want, never showing key bytes. */
static void
expect_refused(const struct fixture *f, const char *path, const char *want)
{
	char err[512] = "";
	struct gauth *g = gauth_new(NULL, path, err, sizeof(err));

	assert_null(g);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	assert_null(strstr(err, "MII"));
	assert_null(strstr(err, "PRIVATE KEY"));
	assert_null(strstr(err, f->pem + 40));
}

static void
test_bad_credentials(void **state)
{
	struct fixture *f = *state;
	json_t *doc;
	char *path;
	EVP_PKEY *ec;
	char *ecpem;
	FILE *fp;

	expect_refused(f, "/nonexistent/sa.json", "cannot read");
	expect_refused(f, "", "empty");
	path = xasprintf("%s/notjson", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("client_email = x\n", fp);
	fclose(fp);
	expect_refused(f, path, "not a JSON");
	free(path);

	doc = account(f);
	json_object_del(doc, "client_email");
	path = write_json(f, "a.json", doc);
	expect_refused(f, path, "no client_email");
	free(path);

	doc = account(f);
	json_object_del(doc, "private_key");
	path = write_json(f, "b.json", doc);
	expect_refused(f, path, "no private_key");
	free(path);

	doc = account(f);
	json_object_set_new(doc, "private_key",
	    json_string("-----BEGIN PRIVATE KEY-----\nMIIEvgarbage\n"
			"-----END PRIVATE KEY-----\n"));
	path = write_json(f, "c.json", doc);
	expect_refused(f, path, "not a PEM RSA private key");
	free(path);

	ec = EVP_EC_gen("P-256");
	assert_non_null(ec);
	ecpem = pem_of(ec);
	doc = account(f);
	json_object_set_new(doc, "private_key", json_string(ecpem));
	path = write_json(f, "d.json", doc);
	expect_refused(f, path, "not a PEM RSA private key");
	free(path);
	free(ecpem);
	EVP_PKEY_free(ec);

	doc = account(f);
	json_object_set_new(doc, "type", json_string("authorized_user"));
	path = write_json(f, "e.json", doc);
	expect_refused(f, path, "not a service_account");
	free(path);

	doc = account(f);
	json_object_set_new(doc, "token_uri", json_string("file:///etc/x"));
	path = write_json(f, "f.json", doc);
	expect_refused(f, path, "token_uri");
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64url),
	    cmocka_unit_test_setup_teardown(test_jwt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jwt_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_credentials, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
