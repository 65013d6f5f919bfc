/*
 * Unit tests for gateway/phone.c: phone numbers as Israelis type them
 * (05X-XXXXXXX, +972..., 972..., 00972..., a spreadsheet's 501234567,
 * landlines 0X-XXXXXXX) all become the same E.164 number, foreign "+"
 * numbers are kept, and text that is not a phone number is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"

static void
norm_ok(const char *in, const char *want)
{
	char out[PHONE_E164_MAX + 1];

	if (phone_normalize(in, strlen(in), out, sizeof(out)) != 0)
		fail_msg("refused %s", in);
	assert_string_equal(out, want);
	assert_true(phone_is_e164(out));
}

static void
norm_bad(const char *in)
{
	char out[PHONE_E164_MAX + 1];

	if (phone_normalize(in, strlen(in), out, sizeof(out)) == 0)
		fail_msg("accepted %s as %s", in, out);
}

static void
test_israeli_mobile(void **state)
{
	(void)state;
	norm_ok("050-1234567", "+972501234567");
	norm_ok("0501234567", "+972501234567");
	norm_ok("050 123 4567", "+972501234567");
	norm_ok("(050)1234567", "+972501234567");
	norm_ok("  054.765.4321 ", "+972547654321");
	norm_ok("+972501234567", "+972501234567");
	norm_ok("+972 50-123-4567", "+972501234567");
	norm_ok("972501234567", "+972501234567");
	norm_ok("00972501234567", "+972501234567");
	norm_ok("+972-050-1234567", "+972501234567");
	norm_ok("501234567", "+972501234567"); /* Excel ate the 0 */
	norm_ok("077-1234567", "+972771234567");
}

static void
test_israeli_landline(void **state)
{
	(void)state;
	norm_ok("03-5550100", "+97235550100");
	norm_ok("02-6543210", "+97226543210");
	norm_ok("+97235550100", "+97235550100");
	norm_ok("97235550100", "+97235550100");
	norm_ok("35550100", "+97235550100");
}

static void
test_foreign(void **state)
{
	(void)state;
	norm_ok("+1 212 555 1234", "+12125551234");
	norm_ok("0044 20 7946 0958", "+442079460958");
	norm_ok("+33 1 23 45 67 89", "+33123456789");
}

static void
test_refused(void **state)
{
	char small[8];

	(void)state;
	norm_bad("");
	norm_bad("   ");
	norm_bad("abc");
	norm_bad("050-123456");	  /* one digit short */
	norm_bad("050-12345678"); /* one digit long */
	norm_bad("0501234567 ext 5");
	norm_bad("+972");
	norm_bad("+9720");
	norm_bad("+1234");
	norm_bad("+0501234567");
	norm_bad("12345");
	norm_bad("061234567"); /* 06 is not a prefix in use */
	norm_bad("+12345678901234567");
	norm_bad("05０1234567"); /* a full-width digit */
	assert_int_equal(
	    phone_normalize("0501234567", 10, small, sizeof(small)), -1);
	assert_false(phone_is_e164("0501234567"));
	assert_false(phone_is_e164("+0501"));
	assert_false(phone_is_e164(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_israeli_mobile),
	    cmocka_unit_test(test_israeli_landline),
	    cmocka_unit_test(test_foreign),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
