/*
 * Time: monotonic milliseconds and microseconds, wall-clock milliseconds,
 * ISO-8601 UTC text.
 *
 * Why: deadlines, pacing (20 ms media frames) and latency figures need a
 * clock that never jumps, so they use CLOCK_MONOTONIC; timestamps stored in
 * the CRM, sent to the UI and written in logs need wall-clock UTC in one
 * text form. Keeping both here makes it obvious which one a caller uses.
 *
 * Monotonic values are only comparable within one boot of one host: never
 * send them to another process (messages carry remaining budgets instead,
 * see msg.h). Values are int64_t so differences may go negative. A failing
 * clock_gettime is a broken invariant and fatal. Thread-safe; owns nothing.
 */
#ifndef MERKAZIA_CLOCK_H
#define MERKAZIA_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size for clock_iso8601: "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL. */
#define CLOCK_ISO8601_SIZE 25

/* clock.c */
/* Return monotonic time in milliseconds (arbitrary origin). */
int64_t clock_mono_ms(void);
/* Return monotonic time in microseconds (arbitrary origin). */
int64_t clock_mono_us(void);
/* Return wall-clock time in milliseconds since the Unix epoch (UTC). */
int64_t clock_wall_ms(void);
/*
 * Format wall_ms (milliseconds since the epoch, may be negative) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf of size bytes (at least
 * CLOCK_ISO8601_SIZE). Return 0, or -1 (buf set to "" if size > 0) when
 * buf is too small or the year is outside 0000-9999.
 */
int clock_iso8601(int64_t wall_ms, char *buf, size_t size);

#endif
