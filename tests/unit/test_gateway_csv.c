/*
 * Unit tests for gateway/csv.c: the CSV of a leads import as spreadsheets
 * write it. Quoted fields with delimiters, line breaks and doubled quotes;
 * CRLF, LF and CR endings; a BOM; blank lines skipped; the line each row
 * starts on; semicolon and tab files found by csv_sniff; and the errors
 * (an open quote, too many rows, a NUL) named with their line.
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
parse_ok(const char *text, struct csv *c)
{
	char why[128] = "";

	if (csv_parse(text, strlen(text), csv_sniff(text, strlen(text)), 100, c,
		why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
}

static void
test_simple(void **state)
{
	struct csv c;

	(void)state;
	parse_ok("\xEF\xBB\xBFשם,טלפון\r\nדנה כהן,050-1234567\r\n"
		 "יוסי,0541112222\r\n",
	    &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.rows[0].n, 2);
	assert_string_equal(c.rows[0].f[0], "שם");
	assert_string_equal(c.rows[1].f[0], "דנה כהן");
	assert_string_equal(c.rows[2].f[1], "0541112222");
	assert_int_equal(c.rows[2].line, 3);
	csv_free(&c);
}

static void
test_quotes(void **state)
{
	struct csv c;

	(void)state;
	parse_ok(
	    "name,notes,phone\n"
	    "\"Cohen, Dana\",\"said \"\"call me\"\"\nafter 5\",0501234567\n"
	    "\n"
	    "Levi,,\"0529998888\"",
	    &c);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.rows[1].f[0], "Cohen, Dana");
	assert_string_equal(c.rows[1].f[1], "said \"call me\"\nafter 5");
	assert_int_equal(c.rows[1].line, 2);
	/* the quoted line break and the blank line are counted */
	assert_int_equal(c.rows[2].line, 5);
	assert_string_equal(c.rows[2].f[1], "");
	assert_string_equal(c.rows[2].f[2], "0529998888");
	csv_free(&c);
}

static void
test_delimiters(void **state)
{
	struct csv c;

	(void)state;
	assert_int_equal(csv_sniff("a;b;c\n1,5;2;3", 13), ';');
	assert_int_equal(csv_sniff("a\tb\n", 4), '\t');
	assert_int_equal(csv_sniff("a,b;c\n", 6), ',');
	assert_int_equal(csv_sniff("phone\n", 6), ',');
	parse_ok("name;phone\rRina;03-5550100\r", &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.rows[1].f[1], "03-5550100");
	assert_int_equal(c.rows[1].line, 2);
	csv_free(&c);
	parse_ok("phone\n0501234567", &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.rows[1].n, 1);
	csv_free(&c);
}

static void
test_errors(void **state)
{
	struct csv c;
	char why[128];
	const char nul[] = "a,b\n1,\0\n";

	(void)state;
	assert_int_equal(csv_parse("a,b\n\"open,1\n2,3\n", 16, ',', 100, &c,
			     why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "line 2"));
	csv_free(&c);
	assert_int_equal(
	    csv_parse("a\n1\n2\n3\n", 8, ',', 3, &c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "rows"));
	csv_free(&c);
	assert_int_equal(
	    csv_parse(nul, sizeof(nul) - 1, ',', 10, &c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "NUL"));
	csv_free(&c);
	/* empty text: no rows, no error */
	assert_int_equal(csv_parse("", 0, ',', 10, &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 0);
	csv_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_quotes),
	    cmocka_unit_test(test_delimiters),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
