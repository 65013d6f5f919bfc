/*
 * Unit tests for common/clock.c: monotonic clocks never go back and measure
 * a sleep, the wall clock agrees with time(2), and ISO-8601 formatting of
 * known instants (epoch, before 1970, leap day, the year limits) plus its
 * failures (small buffer, years outside 0000-9999).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static const struct {
	int64_t ms;
	const char *text;
} iso_cases[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {1, "1970-01-01T00:00:00.001Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {1700000000123, "2023-11-14T22:13:20.123Z"},
    {951782400000, "2000-02-29T00:00:00.000Z"},
    {253402300799999, "9999-12-31T23:59:59.999Z"},
    {-62167219200000, "0000-01-01T00:00:00.000Z"},
};

static const int64_t iso_bad[] = {
    253402300800000, /* 10000-01-01 */
    -62167219200001, /* year -1 */
    INT64_MAX,
    INT64_MIN,
};

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1)
		;
}

static void
test_monotonic(void **state)
{
	int64_t ms0, us0, ms1, us1, prev;

	(void)state;
	ms0 = clock_mono_ms();
	us0 = clock_mono_us();
	assert_true(us0 / 1000 >= ms0);
	assert_true(us0 / 1000 - ms0 < 1000);
	prev = us0;
	for (int i = 0; i < 1000; i++) {
		int64_t now = clock_mono_us();

		assert_true(now >= prev);
		prev = now;
	}
	sleep_ms(20);
	ms1 = clock_mono_ms();
	us1 = clock_mono_us();
	assert_true(ms1 - ms0 >= 20);
	assert_true(ms1 - ms0 < 5000);
	assert_true(us1 - us0 >= 20000);
}

static void
test_wall(void **state)
{
	int64_t before, ms, after;

	(void)state;
	before = (int64_t)time(NULL) * 1000;
	ms = clock_wall_ms();
	after = (int64_t)time(NULL) * 1000 + 1000;
	assert_true(ms >= before);
	assert_true(ms < after);
	assert_true(ms > 1577836800000); /* after 2020-01-01 */
}

static void
test_iso8601_known(void **state)
{
	char buf[CLOCK_ISO8601_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(iso_cases) / sizeof(*iso_cases); i++) {
		assert_int_equal(
		    clock_iso8601(iso_cases[i].ms, buf, sizeof(buf)), 0);
		assert_string_equal(buf, iso_cases[i].text);
		assert_int_equal(strlen(buf), CLOCK_ISO8601_SIZE - 1);
	}
}

static void
test_iso8601_now(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(clock_iso8601(clock_wall_ms(), buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), CLOCK_ISO8601_SIZE - 1);
	assert_int_equal(buf[10], 'T');
	assert_int_equal(buf[23], 'Z');
}

static void
test_iso8601_failures(void **state)
{
	char buf[CLOCK_ISO8601_SIZE];
	char one = 'x';

	(void)state;
	for (size_t i = 0; i < sizeof(iso_bad) / sizeof(*iso_bad); i++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(
		    clock_iso8601(iso_bad[i], buf, sizeof(buf)), -1);
		assert_string_equal(buf, "");
	}
	/* One byte short of the text and its NUL. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(clock_iso8601(0, buf, sizeof(buf) - 1), -1);
	assert_string_equal(buf, "");
	/* Size 0: nothing is written. */
	assert_int_equal(clock_iso8601(0, &one, 0), -1);
	assert_int_equal(one, 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_monotonic),
	    cmocka_unit_test(test_wall),
	    cmocka_unit_test(test_iso8601_known),
	    cmocka_unit_test(test_iso8601_now),
	    cmocka_unit_test(test_iso8601_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
