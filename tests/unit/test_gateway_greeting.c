/*
 * Unit tests for gateway/greeting.c's sentence builder: the known
 * caller's personal greeting is built from the first word of the CRM's
 * name ("דני לוי" -> "שלום דני, ..."), and a name that cannot be spoken
 * as a first name (empty, blanks, digits only, markup, control
 * characters, absurdly long) gives no sentence at all, so the caller
 * hears the generic greeting only. The timing rule (in time only while
 * the generic greeting plays) is exercised end to end by
 * tests/e2e/scenarios/97_conversation_known_caller.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"

static void
test_first_name(void **state)
{
	static const struct {
		const char *name, *want;
	} cases[] = {
	    {"דני לוי", "שלום דני, טוב לשמוע ממך שוב."},
	    {"  דנה   כהן ", "שלום דנה, טוב לשמוע ממך שוב."},
	    {"מיכל", "שלום מיכל, טוב לשמוע ממך שוב."},
	    {"Dana Cohen", "שלום Dana, טוב לשמוע ממך שוב."},
	    {"יוסי, לוי", "שלום יוסי, טוב לשמוע ממך שוב."},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = greeting_sentence(cases[i].name);

		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
}

static void
test_no_usable_name(void **state)
{
	char longname[128];
	const char *bad[] = {
	    "",
	    "   ",
	    "12345",
	    "<b>דני</b>",
	    "דני\x01",
	    "\t",
	    "&amp;",
	};

	(void)state;
	assert_null(greeting_sentence(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(greeting_sentence(bad[i]));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_null(greeting_sentence(longname));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_name),
	    cmocka_unit_test(test_no_usable_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
