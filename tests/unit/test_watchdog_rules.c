/*
 * Unit tests for watchdog/rules.c over a fake clock: a call whose stream
 * never starts is due exactly at the start timeout; media ticks keep a
 * live call from being due and a stall makes it due one media timeout
 * after the last tick; handoff, stop and end mean no redirect (and a
 * late tick after a handoff revives nothing); a call is chosen at most
 * once, and Twilio's "gone" forgets it; unknown calls are adopted only
 * from events that prove a live stream; the table is capped (tombstones
 * make room first, then new calls are refused) and entries age out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../watchdog/watchdog.h"

#define START_MS 5000
#define MEDIA_MS 4000
#define AGE_MS	 60000
#define CAP	 16

#define SID_A "CA00000000000000000000000000000001"
#define SID_B "CA00000000000000000000000000000002"
#define MZ_A  "MZ00000000000000000000000000000001"

static struct rules_table *
table(size_t cap)
{
	struct rules_limits lim = {START_MS, MEDIA_MS, AGE_MS, cap};

	return rules_new(&lim);
}

/* How many calls are due at now (marking them, as the daemon does). */
static size_t
due(struct rules_table *t, int64_t now, struct rules_due *out)
{
	struct rules_due scratch[CAP * 2];

	return rules_due(t, now, out != NULL ? out : scratch, CAP * 2);
}

static void
test_never_started(void **state)
{
	struct rules_table *t = table(CAP);
	struct rules_due d[CAP * 2];
	int64_t t0 = 1000000;

	(void)state;
	assert_int_equal(
	    rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, "biz-1", t0),
	    RULES_TRACKED);
	assert_int_equal(rules_find(t, SID_A)->state, RULES_WAITING);
	/* A retried webhook changes nothing (not even the clock). */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, t0 + 2000),
	    RULES_IGNORED);
	assert_int_equal(due(t, t0 + START_MS - 1, NULL), 0);
	assert_int_equal(due(t, t0 + START_MS, d), 1);
	assert_string_equal(d[0].call_sid, SID_A);
	assert_string_equal(d[0].business_id, "biz-1");
	assert_int_equal(d[0].reason, RULES_NEVER_STARTED);
	assert_int_equal(d[0].waited_ms, START_MS);
	assert_false(d[0].adopted);
	assert_int_equal(rules_find(t, SID_A)->state, RULES_REDIRECTING);
	rules_free(t);
}

static void
test_media_keeps_alive_then_stall(void **state)
{
	struct rules_table *t = table(CAP);
	struct rules_due d[CAP * 2];
	int64_t t0 = 0, now;

	(void)state;
	rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, t0);
	assert_int_equal(rules_on_event(t, RULES_EV_STREAM_START, SID_A, MZ_A,
			     NULL, t0 + 800),
	    RULES_UPDATED);
	assert_int_equal(rules_find(t, SID_A)->state, RULES_LIVE);
	assert_string_equal(rules_find(t, SID_A)->stream_sid, MZ_A);
	/* A minute of ticks, one a second: never due, whatever the timeout
	 * after the webhook says. */
	for (now = t0 + 1000; now <= t0 + 60000; now += 1000) {
		assert_int_equal(due(t, now, NULL), 0);
		assert_int_equal(
		    rules_on_event(t, RULES_EV_MEDIA, SID_A, MZ_A, NULL, now),
		    RULES_UPDATED);
	}
	now -= 1000; /* the last tick */
	assert_int_equal(rules_find(t, SID_A)->ticks, 60);
	assert_int_equal(due(t, now + MEDIA_MS - 1, NULL), 0);
	assert_int_equal(due(t, now + MEDIA_MS, d), 1);
	assert_int_equal(d[0].reason, RULES_STALLED);
	assert_string_equal(d[0].stream_sid, MZ_A);
	assert_int_equal(d[0].waited_ms, MEDIA_MS);
	rules_free(t);
}

static void
test_stream_start_without_media_stalls(void **state)
{
	struct rules_table *t = table(CAP);
	struct rules_due d[CAP * 2];

	(void)state;
	rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 0);
	rules_on_event(t, RULES_EV_STREAM_START, SID_A, MZ_A, NULL, 100);
	assert_int_equal(due(t, 100 + MEDIA_MS - 1, NULL), 0);
	assert_int_equal(due(t, 100 + MEDIA_MS, d), 1);
	assert_int_equal(d[0].reason, RULES_STALLED);
	rules_free(t);
}

static void
test_handoff_stop_end_no_redirect(void **state)
{
	static const enum rules_event ends[] = {
	    RULES_EV_HANDOFF, RULES_EV_STOP, RULES_EV_END};

	(void)state;
	for (size_t i = 0; i < sizeof(ends) / sizeof(*ends); i++) {
		struct rules_table *t = table(CAP);

		/* ended while waiting for the stream */
		rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 0);
		assert_int_equal(
		    rules_on_event(t, ends[i], SID_A, NULL, NULL, 1000),
		    RULES_FORGOTTEN);
		/* ended while live */
		rules_on_event(t, RULES_EV_WEBHOOK, SID_B, NULL, NULL, 0);
		rules_on_event(
		    t, RULES_EV_STREAM_START, SID_B, MZ_A, NULL, 500);
		rules_on_event(t, RULES_EV_MEDIA, SID_B, MZ_A, NULL, 1500);
		assert_int_equal(
		    rules_on_event(t, ends[i], SID_B, NULL, NULL, 2000),
		    RULES_FORGOTTEN);
		assert_int_equal(due(t, 10 * 60 * 1000, NULL), 0);
		rules_free(t);
	}
}

static void
test_handoff_then_late_tick(void **state)
{
	struct rules_table *t = table(CAP);

	(void)state;
	rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 0);
	rules_on_event(t, RULES_EV_STREAM_START, SID_A, MZ_A, NULL, 500);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_HANDOFF, SID_A, NULL, NULL, 1000),
	    RULES_FORGOTTEN);
	/* The gateway may still tick until the transfer takes the stream:
	 * the call stays handed off. */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_MEDIA, SID_A, MZ_A, NULL, 1200),
	    RULES_IGNORED);
	assert_int_equal(due(t, 60000, NULL), 0);
	/* A handoff of a call never heard of also blocks later ticks. */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_HANDOFF, SID_B, NULL, NULL, 2000),
	    RULES_FORGOTTEN);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_MEDIA, SID_B, MZ_A, NULL, 2100),
	    RULES_IGNORED);
	assert_int_equal(due(t, 60000, NULL), 0);
	/* The end event clears the tombstone. */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_END, SID_A, NULL, NULL, 3000),
	    RULES_FORGOTTEN);
	assert_null(rules_find(t, SID_A));
	rules_free(t);
}

static void
test_one_redirect_only(void **state)
{
	struct rules_table *t = table(CAP);

	(void)state;
	rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 0);
	assert_int_equal(due(t, START_MS, NULL), 1);
	/* Still in flight: never chosen again. */
	assert_int_equal(due(t, START_MS * 3, NULL), 0);
	/* Twilio said OK (or failed for good): a tombstone. */
	rules_redirect_done(t, SID_A, false);
	assert_int_equal(rules_find(t, SID_A)->state, RULES_REDIRECTED);
	/* Nothing revives it: a tick, a stream start, a webhook. */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_MEDIA, SID_A, MZ_A, NULL, 7000),
	    RULES_IGNORED);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_STREAM_START, SID_A, MZ_A, NULL, 7000),
	    RULES_IGNORED);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 7000),
	    RULES_IGNORED);
	assert_int_equal(due(t, 60000, NULL), 0);
	/* Our redirect ends the stream: stop forgets it. */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_STOP, SID_A, MZ_A, NULL, 8000),
	    RULES_FORGOTTEN);
	assert_int_equal(rules_count(t), 0);
	rules_free(t);
}

static void
test_gone_forgets(void **state)
{
	struct rules_table *t = table(CAP);

	(void)state;
	rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 0);
	rules_on_event(t, RULES_EV_STREAM_START, SID_A, MZ_A, NULL, 10);
	assert_int_equal(due(t, 10 + MEDIA_MS, NULL), 1);
	rules_redirect_done(t, SID_A, true);
	assert_null(rules_find(t, SID_A));
	assert_int_equal(rules_count(t), 0);
	/* A result for a call already forgotten changes nothing. */
	rules_redirect_done(t, SID_B, false);
	assert_int_equal(rules_count(t), 0);
	rules_free(t);
}

static void
test_unknown_calls(void **state)
{
	struct rules_table *t = table(CAP);
	struct rules_due d[CAP * 2];

	(void)state;
	/* stop/end of a call never heard of: nothing */
	assert_int_equal(rules_on_event(t, RULES_EV_STOP, SID_A, NULL, NULL, 0),
	    RULES_IGNORED);
	assert_int_equal(rules_on_event(t, RULES_EV_END, SID_A, NULL, NULL, 0),
	    RULES_IGNORED);
	assert_int_equal(rules_count(t), 0);
	/* a media tick of an unknown call: a live stream, watched */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_MEDIA, SID_A, MZ_A, "7", 100),
	    RULES_TRACKED);
	assert_int_equal(rules_find(t, SID_A)->state, RULES_LIVE);
	/* adopted from crm-store: live, with one media timeout of grace */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_ADOPT, SID_B, NULL, "8", 100),
	    RULES_TRACKED);
	assert_int_equal(due(t, 100 + MEDIA_MS - 1, NULL), 0);
	assert_int_equal(due(t, 100 + MEDIA_MS, d), 2);
	assert_true(d[1].adopted);
	assert_false(d[0].adopted);
	/* empty, missing and over-long SIDs are ignored */
	assert_int_equal(rules_on_event(t, RULES_EV_WEBHOOK, "", NULL, NULL, 0),
	    RULES_IGNORED);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_WEBHOOK, NULL, NULL, NULL, 0),
	    RULES_IGNORED);
	{
		char longsid[MSG_SID_MAX + 2];

		memset(longsid, 'A', sizeof(longsid) - 1);
		longsid[sizeof(longsid) - 1] = '\0';
		assert_int_equal(
		    rules_on_event(t, RULES_EV_WEBHOOK, longsid, NULL, NULL, 0),
		    RULES_IGNORED);
	}
	rules_free(t);
}

static void
test_table_cap(void **state)
{
	struct rules_table *t = table(CAP);
	char sid[40];
	size_t i;

	(void)state;
	for (i = 0; i < CAP; i++) {
		snprintf(sid, sizeof(sid), "CAf%031zu", i);
		assert_int_equal(rules_on_event(t, RULES_EV_WEBHOOK, sid, NULL,
				     NULL, (int64_t)i),
		    RULES_TRACKED);
	}
	assert_int_equal(rules_count(t), CAP);
	/* full of watched calls: a new one is refused, an old one is not
	 * pushed out */
	assert_int_equal(
	    rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 100),
	    RULES_REFUSED);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_MEDIA, SID_A, MZ_A, NULL, 100),
	    RULES_REFUSED);
	assert_int_equal(t->refused, 2);
	assert_int_equal(rules_count(t), CAP);
	assert_non_null(rules_find(t, "CAf0000000000000000000000000000000"));
	/* one of them handed off: its tombstone makes room */
	snprintf(sid, sizeof(sid), "CAf%031d", 3);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_HANDOFF, sid, NULL, NULL, 200),
	    RULES_FORGOTTEN);
	assert_int_equal(
	    rules_on_event(t, RULES_EV_WEBHOOK, SID_A, NULL, NULL, 300),
	    RULES_TRACKED);
	assert_null(rules_find(t, sid));
	assert_int_equal(t->evicted, 1);
	assert_int_equal(rules_count(t), CAP);
	/* every entry goes once it is older than the age limit */
	assert_int_equal(rules_expire(t, AGE_MS - 1, NULL, NULL), 0);
	assert_int_equal(rules_expire(t, AGE_MS + CAP, NULL, NULL), CAP - 1);
	assert_int_equal(rules_count(t), 1); /* SID_A, first heard at 300 */
	assert_int_equal(rules_expire(t, AGE_MS + 300, NULL, NULL), 1);
	assert_int_equal(rules_count(t), 0);
	rules_free(t);
}

static void
test_flood(void **state)
{
	struct rules_table *t = table(1000);
	char sid[40];
	size_t refused = 0, tracked = 0;

	(void)state;
	/* 100000 webhooks with no stream: the table never holds more than
	 * its cap, and each wave is resolved by the redirect (gone) */
	for (size_t i = 0; i < 100000; i++) {
		enum rules_verdict v;

		snprintf(sid, sizeof(sid), "CAf%031zu", i);
		v = rules_on_event(
		    t, RULES_EV_WEBHOOK, sid, NULL, NULL, (int64_t)i);
		refused += v == RULES_REFUSED;
		tracked += v == RULES_TRACKED;
		assert_true(rules_count(t) <= 1000);
	}
	assert_int_equal(tracked, 1000);
	assert_int_equal(refused, 99000);
	rules_free(t);
}

static void
test_names(void **state)
{
	enum rules_event ev;

	(void)state;
	assert_int_equal(rules_event_parse("stream_start", &ev), 0);
	assert_int_equal(ev, RULES_EV_STREAM_START);
	assert_int_equal(rules_event_parse("handoff", &ev), 0);
	assert_int_equal(ev, RULES_EV_HANDOFF);
	assert_int_equal(rules_event_parse("mark", &ev), -1);
	assert_int_equal(rules_event_parse(NULL, &ev), -1);
	assert_string_equal(rules_event_name(RULES_EV_END), "end");
	assert_string_equal(rules_reason_name(RULES_STALLED), "stalled");
	assert_string_equal(
	    rules_reason_name(RULES_NEVER_STARTED), "never_started");
	assert_string_equal(rules_state_name(RULES_HANDED_OFF), "handed_off");
	assert_string_equal(rules_verdict_name(RULES_REFUSED), "refused");
}

/* alerts.c over the same fake clock */
static struct health_worker
worker(const char *stage, long pid, bool live, bool reachable, const char *err)
{
	struct health_worker w;

	memset(&w, 0, sizeof(w));
	snprintf(w.stage, sizeof(w.stage), "%s", stage);
	snprintf(w.instance, sizeof(w.instance), "%ld", pid);
	w.pid = pid;
	w.live = live;
	w.provider_reachable = reachable;
	snprintf(w.last_error, sizeof(w.last_error), "%s", err);
	return w;
}

static void
test_alerts(void **state)
{
	struct alerts a;
	struct health_worker llm = worker("llm", 10, true, true, "");
	struct health_worker stt = worker("stt", 11, true, true, "");
	const struct health_worker *ws[2] = {&llm, &stt};

	(void)state;
	alerts_init(&a, 3000, 0);
	/* stt and llm live; tts and crm-store never heard of: down only
	 * after one timeout and two heartbeat intervals */
	alerts_check(&a, ws, 2, 100);
	assert_false(a.stages[2].down);
	alerts_check(&a, ws, 2, 3000 + 2 * HEALTH_INTERVAL_MS - 1);
	assert_false(a.stages[2].down);
	alerts_check(&a, ws, 2, 3000 + 2 * HEALTH_INTERVAL_MS);
	assert_false(a.stages[0].down);
	assert_false(a.stages[1].down);
	assert_true(a.stages[2].down);
	assert_true(a.stages[3].down);
	/* the last llm worker lost: down at once (the follower waited) */
	llm.live = false;
	alerts_check(&a, ws, 2, 6000);
	assert_true(a.stages[1].down);
	llm.live = true;
	alerts_check(&a, ws, 2, 6500);
	assert_false(a.stages[1].down);
	/* a provider out of quota, once per outage */
	stt.provider_reachable = false;
	snprintf(stt.last_error, sizeof(stt.last_error), "insufficient_quota");
	alerts_check(&a, ws, 2, 7000);
	assert_int_equal(a.nprov, 2);
	assert_true(a.prov[1].down || a.prov[0].down);
	alerts_check(&a, ws, 2, 8000);
	stt.provider_reachable = true;
	alerts_check(&a, ws, 2, 9000);
	assert_false(a.prov[0].down);
	assert_false(a.prov[1].down);
	/* a worker gone from the follower is dropped */
	alerts_check(&a, ws, 1, 10000);
	assert_int_equal(a.nprov, 1);
	alerts_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_never_started),
	    cmocka_unit_test(test_media_keeps_alive_then_stall),
	    cmocka_unit_test(test_stream_start_without_media_stalls),
	    cmocka_unit_test(test_handoff_stop_end_no_redirect),
	    cmocka_unit_test(test_handoff_then_late_tick),
	    cmocka_unit_test(test_one_redirect_only),
	    cmocka_unit_test(test_gone_forgets),
	    cmocka_unit_test(test_unknown_calls),
	    cmocka_unit_test(test_table_cap),
	    cmocka_unit_test(test_flood),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_alerts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
