/*
 * Unit tests for gateway/twilio_sig.c against the test vectors of the
 * shared Twilio reference (section 3.3: Twilio's helper libraries' suites,
 * recomputed there independently; section 3.4: extra vectors for the
 * WebSocket upgrade and a Hebrew WhatsApp form), copied here because the
 * build and tests must not read ../shared.
 *
 * Covered: V1-V6, V14 (the key-sorted signature passes, the
 * concatenated-string-sorted one is refused), V15, D1, V13 (both port
 * variants, no parameters), the section 3.4 vectors, repeated names
 * (sorted, de-duplicated values), port variants added and removed, the
 * upgrade rule (trailing '/'), and refusals: a wrong, truncated, missing
 * or empty-token signature, a changed parameter, a changed query.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"
#include "xmalloc.h"

#define TOKEN "12345"
#define BASE  "https://mycompany.com/myapp.php?foo=1&bar=2"

/* Build a form from name, value, name, value, ..., NULL. */
static struct form
form_of(const char *first, ...)
{
	struct form f = {NULL, 0};
	va_list ap;
	const char *k = first;

	va_start(ap, first);
	while (k != NULL) {
		const char *v = va_arg(ap, const char *);

		f.pairs = xreallocarray(f.pairs, f.n + 1, sizeof(*f.pairs));
		f.pairs[f.n].key = xstrdup(k);
		f.pairs[f.n].key_len = strlen(k);
		f.pairs[f.n].value = xstrdup(v);
		f.pairs[f.n].value_len = strlen(v);
		f.n++;
		k = va_arg(ap, const char *);
	}
	va_end(ap);
	return f;
}

/* The params P of the reference, in a scrambled order. */
static struct form
form_p(void)
{
	return form_of("To", "+18005551212", "Digits", "1234", "CallSid",
	    "CA1234567890ABCDE", "From", "+14158675309", "Caller",
	    "+14158675309", (const char *)NULL);
}

static void
expect_sig(const char *url, const struct form *f, const char *want)
{
	char got[TWILIO_SIG_LEN + 1];

	assert_int_equal(twilio_sig_compute(TOKEN, url, f, got), 0);
	assert_string_equal(got, want);
	assert_true(twilio_sig_is_valid(TOKEN, url, f, want));
}

static void
test_v1_to_v4(void **state)
{
	struct form p = form_p();

	(void)state;
	expect_sig(BASE, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	expect_sig("https://mycompany.com:443/myapp.php?foo=1&bar=2", &p,
	    "kvajT1Ptam85bY51eRf/AJRuM3w=");
	expect_sig("http://mycompany.com:1234/myapp.php?foo=1&bar=2", &p,
	    "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
	expect_sig("http://mycompany.com:80/myapp.php?foo=1&bar=2", &p,
	    "0ZXoZLH/DfblKGATFgpif+LLRf4=");
	form_free(&p);
}

static void
test_v5_repeated_values(void **state)
{
	struct form f = form_of("Sid", "CA123", "SidAccount", "AC123", "Digits",
	    "5678", "Digits", "1234", "Digits", "1234", (const char *)NULL);

	(void)state;
	expect_sig(BASE, &f, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
	form_free(&f);
}

static void
test_v6_any_order(void **state)
{
	struct form a = form_of("MessagingBinding.Address", "+1325xxxxxxx",
	    "MessagingBinding.Address", "+1415xxxxxxx", (const char *)NULL);
	struct form b = form_of("MessagingBinding.Address", "+1415xxxxxxx",
	    "MessagingBinding.Address", "+1325xxxxxxx", (const char *)NULL);

	(void)state;
	expect_sig(BASE, &a, "83O6e2vORAoJHUNzJjDWN1jz+BA=");
	expect_sig(BASE, &b, "83O6e2vORAoJHUNzJjDWN1jz+BA=");
	form_free(&a);
	form_free(&b);
}

static void
test_v14_v15_key_sort(void **state)
{
	struct form f = form_p();

	(void)state;
	f.pairs = xreallocarray(f.pairs, f.n + 2, sizeof(*f.pairs));
	f.pairs[f.n].key = xstrdup("ReasonConferenceEnded");
	f.pairs[f.n].key_len = strlen(f.pairs[f.n].key);
	f.pairs[f.n].value = xstrdup("test");
	f.pairs[f.n].value_len = 4;
	f.n++;
	f.pairs[f.n].key = xstrdup("Reason");
	f.pairs[f.n].key_len = 6;
	f.pairs[f.n].value = xstrdup("Participant");
	f.pairs[f.n].value_len = 11;
	f.n++;
	expect_sig(BASE, &f, "vOEb5UThFn24KEfnOFLQY2AE5FY=");
	assert_false(twilio_sig_is_valid(
	    TOKEN, BASE, &f, "95+Bu0JVPi0r/SsESZCVf0dWAjw="));
	assert_false(twilio_sig_is_valid_any(
	    TOKEN, BASE, &f, "95+Bu0JVPi0r/SsESZCVf0dWAjw="));
	expect_sig("http://mycompany.com/myapp.php?foo=1&bar=2", &f,
	    "n2xBNyzSW7rfYStDtOFiFMv7qNo=");
	form_free(&f);
}

static void
test_d1_docs_example(void **state)
{
	struct form f = form_of("CallSid", "CA1234567890ABCDE", "Caller",
	    "+14158675310", "Digits", "1234", "From", "+14158675310", "To",
	    "+18005551212", (const char *)NULL);

	(void)state;
	expect_sig("https://example.com/myapp.php?foo=1&bar=2", &f,
	    "L/OH5YylLD5NRKLltdqwSvS0BnU=");
	form_free(&f);
}

static void
test_v13_ports_without_params(void **state)
{
	const char *with = "https://mycompany.com:443/myapp.php?foo=1&bar=2&"
			   "bodySHA256=44136fa355b3678a1146ad16f7e8649e94fb4fc"
			   "21fe77e8310c060f61caaff8a";
	const char *without = "https://mycompany.com/myapp.php?foo=1&bar=2&"
			      "bodySHA256=44136fa355b3678a1146ad16f7e8649e94f"
			      "b4fc21fe77e8310c060f61caaff8a";

	(void)state;
	expect_sig(with, NULL, "Ldidvp12m26NI7eqEvxnEpkd9Hc=");
	expect_sig(without, NULL, "rw/jVviOgicj2+kHZULvebnA4ag=");
	/* each URL is accepted with the other variant's signature */
	assert_true(twilio_sig_is_valid_any(
	    TOKEN, with, NULL, "rw/jVviOgicj2+kHZULvebnA4ag="));
	assert_true(twilio_sig_is_valid_any(
	    TOKEN, without, NULL, "Ldidvp12m26NI7eqEvxnEpkd9Hc="));
	assert_false(twilio_sig_is_valid(
	    TOKEN, with, NULL, "rw/jVviOgicj2+kHZULvebnA4ag="));
}

static void
test_port_variants(void **state)
{
	struct form p = form_p();
	char *s;

	(void)state;
	/* V2 (":443") and V4 (":80") signatures over the bare URLs */
	assert_true(twilio_sig_is_valid_any(
	    TOKEN, BASE, &p, "kvajT1Ptam85bY51eRf/AJRuM3w="));
	assert_true(twilio_sig_is_valid_any(TOKEN,
	    "http://mycompany.com/myapp.php?foo=1&bar=2", &p,
	    "0ZXoZLH/DfblKGATFgpif+LLRf4="));
	/* a non-default port is never dropped */
	assert_false(twilio_sig_is_valid_any(TOKEN,
	    "http://mycompany.com/myapp.php?foo=1&bar=2", &p,
	    "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
	form_free(&p);

	s = twilio_sig_url_variant("https://a.example/x?y=1", true);
	assert_string_equal(s, "https://a.example:443/x?y=1");
	free(s);
	s = twilio_sig_url_variant("wss://a.example:443/m", false);
	assert_string_equal(s, "wss://a.example/m");
	free(s);
	s = twilio_sig_url_variant("http://u:p@a.example", true);
	assert_string_equal(s, "http://u:p@a.example:80");
	free(s);
	s = twilio_sig_url_variant("https://[::1]/x", true);
	assert_string_equal(s, "https://[::1]:443/x");
	free(s);
	s = twilio_sig_url_variant("https://[::1]:443/x", false);
	assert_string_equal(s, "https://[::1]/x");
	free(s);
	assert_null(twilio_sig_url_variant("https://a.example:8443/x", false));
	assert_null(twilio_sig_url_variant("https://a.example:443/x", true));
	assert_null(twilio_sig_url_variant("https://a.example/x", false));
	assert_null(twilio_sig_url_variant("ftp://a.example/x", true));
	assert_null(twilio_sig_url_variant("not a url", true));
}

static void
test_extra_vectors(void **state)
{
	struct form wa =
	    form_of("AccountSid", "AC00000000000000000000000000000001", "Body",
		"שלום", "From", "whatsapp:+972501234567", "MessageSid",
		"SM00000000000000000000000000000001", "NumMedia", "0",
		"ProfileName", "דני", "To", "whatsapp:+14155238886", "WaId",
		"972501234567", (const char *)NULL);

	(void)state;
	expect_sig(
	    "wss://example.com/media", NULL, "7PR3qMkpDyEJtMrVOY/LDyNq8J8=");
	expect_sig(
	    "wss://example.com/media/", NULL, "T+WBXwUXC0/CyoZ1DA+p9ilZORs=");
	expect_sig("https://gw.example.co.il/twilio/whatsapp", &wa,
	    "ppwG/UkcWj6KmCx5wbr5g/v30C8=");
	form_free(&wa);
}

static void
test_ws_upgrade_rule(void **state)
{
	(void)state;
	assert_true(twilio_sig_is_valid_ws(
	    TOKEN, "wss://example.com/media", "7PR3qMkpDyEJtMrVOY/LDyNq8J8="));
	/* signed with the trailing '/' (Twilio's note): still accepted */
	assert_true(twilio_sig_is_valid_ws(
	    TOKEN, "wss://example.com/media", "T+WBXwUXC0/CyoZ1DA+p9ilZORs="));
	/* with the default port written in the configured URL */
	assert_true(twilio_sig_is_valid_ws(TOKEN, "wss://example.com:443/media",
	    "7PR3qMkpDyEJtMrVOY/LDyNq8J8="));
	/* the https form of the same URL is not what Twilio signs */
	assert_false(twilio_sig_is_valid_ws(TOKEN, "https://example.com/media",
	    "7PR3qMkpDyEJtMrVOY/LDyNq8J8="));
	assert_false(
	    twilio_sig_is_valid_ws(TOKEN, "wss://example.com/media", NULL));
	assert_false(twilio_sig_is_valid_ws(
	    TOKEN, "wss://example.com/other", "7PR3qMkpDyEJtMrVOY/LDyNq8J8="));
}

static void
test_refusals(void **state)
{
	struct form p = form_p();
	char out[TWILIO_SIG_LEN + 1];

	(void)state;
	assert_false(twilio_sig_is_valid(
	    TOKEN, BASE, &p, "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8="));
	assert_false(twilio_sig_is_valid(TOKEN, BASE, &p, "WRONG_SIGNATURE"));
	assert_false(twilio_sig_is_valid(
	    TOKEN, BASE, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
	assert_false(twilio_sig_is_valid(TOKEN, BASE, &p, ""));
	assert_false(twilio_sig_is_valid(TOKEN, BASE, &p, NULL));
	assert_false(twilio_sig_is_valid(
	    "12346", BASE, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	assert_false(
	    twilio_sig_is_valid("", BASE, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	assert_int_equal(twilio_sig_compute("", BASE, &p, out), -1);
	assert_false(twilio_sig_is_valid(TOKEN,
	    "https://mycompany.com/myapp.php?foo=1&bar=3", &p,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	/* a trailing '/' on a webhook URL is a different URL */
	assert_false(twilio_sig_is_valid_any(TOKEN,
	    "https://mycompany.com/myapp.php/?foo=1&bar=2", &p,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	free(p.pairs[1].value);
	p.pairs[1].value = xstrdup("1235");
	assert_false(twilio_sig_is_valid(
	    TOKEN, BASE, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	/* the V1 URL with no parameters is not V1 */
	assert_false(twilio_sig_is_valid(
	    TOKEN, BASE, NULL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	form_free(&p);
}

/* Parsing a real body then signing gives the same answer as V1. */
static void
test_form_then_sign(void **state)
{
	const char *body = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&"
			   "Digits=1234&From=%2B14158675309&To=%2B18005551212";
	struct form f;

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f), 0);
	assert_true(twilio_sig_is_valid(
	    TOKEN, BASE, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	form_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_to_v4),
	    cmocka_unit_test(test_v5_repeated_values),
	    cmocka_unit_test(test_v6_any_order),
	    cmocka_unit_test(test_v14_v15_key_sort),
	    cmocka_unit_test(test_d1_docs_example),
	    cmocka_unit_test(test_v13_ports_without_params),
	    cmocka_unit_test(test_port_variants),
	    cmocka_unit_test(test_extra_vectors),
	    cmocka_unit_test(test_ws_upgrade_rule),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_form_then_sign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
