/*
 * Unit tests for gateway/form.c: application/x-www-form-urlencoded bodies
 * as Twilio sends them. Repeated names stay in order, '+' is a space,
 * %XX decodes in either case, Hebrew UTF-8 survives both percent-encoded
 * and raw, and everything the file comment rejects is rejected: bad
 * escapes, decoded NULs, invalid UTF-8, too many pairs, too long a body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"
#include "xmalloc.h"

static void
parse_ok(const char *body, struct form *f)
{
	assert_int_equal(form_parse(body, strlen(body), f), 0);
}

static void
test_basic_twilio_body(void **state)
{
	struct form f;

	(void)state;
	parse_ok("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"
		 "&From=%2B14158675309&To=%2B18005551212",
	    &f);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.pairs[0].key, "CallSid");
	assert_string_equal(f.pairs[0].value, "CA1234567890ABCDE");
	assert_string_equal(form_get(&f, "Caller"), "+14158675309");
	assert_string_equal(form_get(&f, "To"), "+18005551212");
	assert_int_equal(f.pairs[1].value_len, 12);
	assert_null(form_get(&f, "caller")); /* names are case-sensitive */
	form_free(&f);
	assert_int_equal(f.n, 0);
	assert_null(f.pairs);
}

static void
test_repeated_keys_in_order(void **state)
{
	struct form f;

	(void)state;
	parse_ok("Digits=5678&Sid=CA123&Digits=1234&Digits=1234", &f);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.pairs[0].value, "5678");
	assert_string_equal(f.pairs[2].value, "1234");
	assert_string_equal(f.pairs[3].value, "1234");
	assert_string_equal(form_get(&f, "Digits"), "5678");
	form_free(&f);
}

static void
test_plus_and_escapes(void **state)
{
	struct form f;

	(void)state;
	parse_ok("Body=It%27s+amazing%21&a+b=c%2bd&x=%2B%2b&lower=%7e%7E", &f);
	assert_string_equal(form_get(&f, "Body"), "It's amazing!");
	assert_string_equal(form_get(&f, "a b"), "c+d");
	assert_string_equal(form_get(&f, "x"), "++");
	assert_string_equal(form_get(&f, "lower"), "~~");
	form_free(&f);
}

static void
test_hebrew(void **state)
{
	struct form f;

	(void)state;
	/* "שלום" percent-encoded and "דני" raw, as a WhatsApp webhook. */
	parse_ok("Body=%D7%A9%D7%9C%D7%95%D7%9D&ProfileName=דני"
		 "&From=whatsapp%3A%2B972501234567",
	    &f);
	assert_string_equal(form_get(&f, "Body"), "שלום");
	assert_int_equal(f.pairs[0].value_len, 8);
	assert_string_equal(form_get(&f, "ProfileName"), "דני");
	assert_string_equal(form_get(&f, "From"), "whatsapp:+972501234567");
	form_free(&f);
}

static void
test_empty_parts(void **state)
{
	struct form f;

	(void)state;
	parse_ok("", &f);
	assert_int_equal(f.n, 0);
	form_free(&f);
	parse_ok("&&a=&b&&=v&", &f);
	assert_int_equal(f.n, 3);
	assert_string_equal(form_get(&f, "a"), "");
	assert_string_equal(form_get(&f, "b"), "");
	assert_string_equal(f.pairs[2].key, "");
	assert_string_equal(f.pairs[2].value, "v");
	form_free(&f);
	parse_ok("k=a=b", &f); /* only the first '=' splits */
	assert_string_equal(form_get(&f, "k"), "a=b");
	form_free(&f);
}

static void
test_rejects(void **state)
{
	static const char *const bad[] = {
	    "a=%",	     /* escape cut at the end */
	    "a=%4",	     /* one digit */
	    "a=%zz",	     /* not hex */
	    "a=%4g",	     /* second digit not hex */
	    "%xx=1",	     /* bad escape in the name */
	    "a=%00",	     /* decoded NUL */
	    "a=%FF",	     /* not UTF-8 */
	    "a=%D7",	     /* cut UTF-8 sequence */
	    "a=%C0%AF",	     /* overlong */
	    "a=%ED%A0%80",   /* surrogate */
	    "a=%F4%90%80%80" /* above U+10FFFF */
	};
	struct form f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		f.n = 99;
		assert_int_equal(form_parse(bad[i], strlen(bad[i]), &f), -1);
		assert_int_equal(f.n, 0);
		assert_null(f.pairs);
	}
	/* a NUL byte in the raw body is refused too */
	assert_int_equal(form_parse("a=b\0c", 5, &f), -1);
}

static void
test_limits(void **state)
{
	size_t n = FORM_PAIRS_MAX + 1;
	char *body = xmalloc(n * 4 + 1);
	size_t len = 0;
	struct form f;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		memcpy(body + len, "a=1&", 4);
		len += 4;
	}
	body[len] = '\0';
	assert_int_equal(form_parse(body, len, &f), -1);
	/* exactly FORM_PAIRS_MAX pairs are fine */
	assert_int_equal(form_parse(body, len - 4, &f), 0);
	assert_int_equal(f.n, FORM_PAIRS_MAX);
	form_free(&f);
	free(body);
	assert_int_equal(form_parse("a=1", (size_t)FORM_LEN_MAX + 1, &f), -1);
}

static void
test_content_type(void **state)
{
	(void)state;
	assert_true(form_is_urlencoded("application/x-www-form-urlencoded"));
	assert_true(form_is_urlencoded(
	    "application/x-www-form-urlencoded; charset=UTF-8"));
	assert_true(form_is_urlencoded("Application/X-WWW-Form-URLEncoded"));
	assert_false(form_is_urlencoded("application/json"));
	assert_false(form_is_urlencoded("application/x-www-form-urlencodedx"));
	assert_false(form_is_urlencoded(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_twilio_body),
	    cmocka_unit_test(test_repeated_keys_in_order),
	    cmocka_unit_test(test_plus_and_escapes),
	    cmocka_unit_test(test_hebrew),
	    cmocka_unit_test(test_empty_parts),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_content_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
