/*
 * Unit tests for gateway/import.c: a parsed CSV and a column mapping
 * become the rows crm-store imports (phones in E.164, values typed) and
 * the gateway's own report lines (invalid rows with why, a phone repeated
 * in the file skipped); a bad mapping is refused naming the field; the
 * final report merges both sides by line and counts each action.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"

static const char *const file_text =
    "Name, Phone ,City,Budget,Rooms,Stage\n"
    "דנה כהן,050-1234567,\"תל אביב, רמת גן\",\"₪2,500,000\",3.5,new\n"
    "Yossi,972541112222,חיפה,,4,contacted\n"
    "Bad phone,12,,,,\n"
    "Dana again,+972501234567,,,,\n"
    "Bad stage,0529998888,,,,sold\n"
    "Bad rooms,0529998887,,,3.3,\n";

static void
prepare(const char *text, json_t *mapping, json_t **rows, json_t **report,
    int want_rc, const char **field)
{
	struct csv c;
	char why[160] = "";

	assert_int_equal(
	    csv_parse(text, strlen(text), ',', 100, &c, why, sizeof(why)), 0);
	assert_int_equal(
	    import_prepare(&c, mapping, rows, report, field, why, sizeof(why)),
	    want_rc);
	csv_free(&c);
}

static void
test_rows(void **state)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", "name",
	    "phone", "PHONE", "cities", "City", "budget_max", "Budget",
	    "rooms_min", "Rooms", "stage", "Stage");
	json_t *rows, *report, *r0, *r1;
	const char *field = NULL;

	(void)state;
	prepare(file_text, m, &rows, &report, 0, &field);
	assert_int_equal(json_array_size(rows), 2);
	r0 = json_array_get(rows, 0);
	assert_int_equal(json_integer_value(json_object_get(r0, "line")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(r0, "phone")), "+972501234567");
	assert_string_equal(
	    json_string_value(json_object_get(r0, "name")), "דנה כהן");
	assert_int_equal(json_array_size(json_object_get(r0, "cities")), 2);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(r0, "cities"), 1)),
	    "רמת גן");
	assert_int_equal(
	    json_integer_value(json_object_get(r0, "budget_max")), 2500000);
	assert_true(json_real_value(json_object_get(r0, "rooms_min")) == 3.5);
	r1 = json_array_get(rows, 1);
	assert_string_equal(
	    json_string_value(json_object_get(r1, "phone")), "+972541112222");
	assert_null(json_object_get(r1, "budget_max"));
	/* lines 4 (phone), 5 (duplicate), 6 (stage), 7 (rooms) */
	assert_int_equal(json_array_size(report), 4);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(report, 0), "action")),
	    "invalid");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(report, 1), "error")),
	    "duplicate in file");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(report, 1), "action")),
	    "skip");
	assert_non_null(strstr(json_string_value(json_object_get(
				   json_array_get(report, 2), "error")),
	    "stage"));
	assert_non_null(strstr(json_string_value(json_object_get(
				   json_array_get(report, 3), "error")),
	    "rooms_min"));
	json_decref(rows);
	json_decref(report);
	json_decref(m);
}

static void
test_bad_mapping(void **state)
{
	json_t *rows, *report;
	const char *field = NULL;
	json_t *m;

	(void)state;
	m = json_pack("{s:s}", "name", "Name");
	prepare(file_text, m, &rows, &report, -1, &field);
	assert_string_equal(field, "mapping");
	json_decref(rows);
	json_decref(report);
	json_decref(m);
	m = json_pack("{s:s}", "phone", "Telephone");
	prepare(file_text, m, &rows, &report, -1, &field);
	json_decref(rows);
	json_decref(report);
	json_decref(m);
	m = json_pack("{s:s, s:s}", "phone", "Phone", "password", "Name");
	prepare(file_text, m, &rows, &report, -1, &field);
	json_decref(rows);
	json_decref(report);
	json_decref(m);
	m = json_pack("{s:s}", "phone", "Phone");
	prepare("Phone\n", m, &rows, &report, -1, &field);
	assert_string_equal(field, "csv");
	json_decref(rows);
	json_decref(report);
	json_decref(m);
}

static void
test_report(void **state)
{
	json_t *mine = json_pack("[{s:i, s:s, s:s}]", "line", 3, "action",
	    "invalid", "error", "no phone");
	json_t *store =
	    json_pack("[{s:i, s:s, s:i}, {s:i, s:s, s:i}]", "line", 4, "action",
		"update", "id", 9, "line", 2, "action", "create", "id", 10);
	json_t *rep = import_report(mine, store, false);
	json_t *rows = json_object_get(rep, "rows");
	json_t *counts = json_object_get(rep, "counts");

	(void)state;
	assert_false(json_is_true(json_object_get(rep, "dry_run")));
	assert_int_equal(json_array_size(rows), 3);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(rows, 0), "line")),
	    2);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(rows, 2), "line")),
	    4);
	assert_int_equal(
	    json_integer_value(json_object_get(counts, "create")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(counts, "update")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(counts, "skip")), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(counts, "invalid")), 1);
	json_decref(rep);
	json_decref(mine);
	json_decref(store);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_bad_mapping),
	    cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
