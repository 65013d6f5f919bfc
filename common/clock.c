/*
 * Monotonic and wall clocks, ISO-8601 UTC text (see clock.h for why).
 *
 * Formatting splits milliseconds with floor division so times before 1970
 * still print a non-negative millisecond field, and uses gmtime_r (never
 * the process time zone) so output does not depend on TZ.
 */
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "log.h"

static struct timespec
clock_now(clockid_t id, const char *name)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) == -1)
		fatal("clock_gettime(%s)", name);
	return ts;
}

int64_t
clock_mono_ms(void)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_us(void)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");

	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_wall_ms(void)
{
	struct timespec ts = clock_now(CLOCK_REALTIME, "CLOCK_REALTIME");

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
clock_iso8601(int64_t wall_ms, char *buf, size_t size)
{
	int64_t sec = wall_ms / 1000;
	int64_t ms = wall_ms % 1000;
	time_t t;
	struct tm tm;
	int n;

	if (ms < 0) {
		ms += 1000;
		sec -= 1;
	}
	t = (time_t)sec;
	if (size < CLOCK_ISO8601_SIZE || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		goto fail;
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)ms);
	if (n != CLOCK_ISO8601_SIZE - 1)
		goto fail;
	return 0;
fail:
	if (size > 0)
		buf[0] = '\0';
	return -1;
}
