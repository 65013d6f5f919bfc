/*
 * Unit tests for gateway/playout.c against a fake clock (the core takes
 * now_ms from its caller). Covered: frames of 160 bytes 20 ms apart, the
 * lead never above its setting (and never over PLAYOUT_LEAD_MAX_MS), never
 * late with a fine-grained timer, the last frame padded with silence, a
 * mark after each item in queue order, mark echoes building the heard
 * list, clear dropping the queue and turning later echoes into "cleared",
 * late frames counted after a stall without a catch-up burst, stop, a
 * failed send stopping the playout, and a shared clip (a phrase) held by
 * reference until the last playout sends or drops it.
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
#include "mulaw.h"

#define MAXEV 2048

enum ev_type { EV_MEDIA, EV_MARK, EV_CLEAR };

struct ev {
	enum ev_type type;
	int64_t t;
	char name[32];
	uint8_t first;
	uint8_t last;
};

struct rec {
	struct ev ev[MAXEV];
	size_t n;
	int64_t now; /* the fake clock */
	bool fail;   /* make sends fail */
};

static int
rec_add(struct rec *r, enum ev_type type, const char *name,
    const uint8_t *frame, size_t len)
{
	struct ev *e;

	if (r->fail)
		return -1;
	assert_true(r->n < MAXEV);
	e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->t = r->now;
	if (name != NULL)
		snprintf(e->name, sizeof(e->name), "%s", name);
	if (frame != NULL) {
		assert_int_equal(len, PLAYOUT_FRAME_BYTES);
		e->first = frame[0];
		e->last = frame[len - 1];
	}
	return 0;
}

static int
op_media(void *arg, const uint8_t *frame, size_t len)
{
	return rec_add(arg, EV_MEDIA, NULL, frame, len);
}

static int
op_mark(void *arg, const char *name)
{
	return rec_add(arg, EV_MARK, name, NULL, 0);
}

static int
op_clear(void *arg)
{
	return rec_add(arg, EV_CLEAR, NULL, NULL, 0);
}

static const struct playout_ops ops = {op_media, op_mark, op_clear};

static size_t
count(const struct rec *r, enum ev_type type)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].type == type)
			k++;
	return k;
}

/* Tick every step ms from r->now until r->now reaches end. */
static void
run(struct playout *po, struct rec *r, int64_t end, int64_t step, long lead)
{
	for (; r->now <= end; r->now += step) {
		playout_tick(po, r->now);
		assert_true(playout_ahead_ms(po, r->now) <= lead);
	}
}

static void
test_pacing(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t audio[8000]; /* one second */
	size_t k = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.now = 1000;
	memset(audio, 0x55, sizeof(audio));
	po = playout_new(&ops, &r, 60, 40, &st);
	assert_int_equal(
	    playout_enqueue(po, audio, sizeof(audio), "s1", 1000), 1);
	run(po, &r, 2200, 1, 60);
	assert_int_equal(count(&r, EV_MEDIA), 50);
	assert_int_equal(st.frames_sent, 50);
	assert_int_equal(st.late_frames, 0);
	for (size_t i = 0; i < r.n; i++) {
		int64_t due = 1000 + (int64_t)k * PLAYOUT_FRAME_MS;

		if (r.ev[i].type != EV_MEDIA)
			continue;
		/* never later than due, never more than the lead early */
		assert_true(r.ev[i].t <= due);
		assert_true(r.ev[i].t >= due + PLAYOUT_FRAME_MS - 60);
		/* after the start-up burst, exactly 20 ms apart */
		if (k >= 3)
			assert_int_equal(r.ev[i].t - r.ev[i - 1].t, 20);
		k++;
	}
	/* three frames (60 ms) go out at once when the greeting starts */
	assert_int_equal(r.ev[0].t, 1000);
	assert_int_equal(r.ev[2].t, 1000);
	assert_int_equal(r.ev[3].t, 1020);
	assert_int_equal(r.ev[r.n - 1].type, EV_MARK);
	assert_string_equal(r.ev[r.n - 1].name, "item-1");
	assert_true(playout_is_idle(po));
	playout_free(po);
}

static void
test_lead_clamped(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t audio[4000];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(audio, 1, sizeof(audio));
	po = playout_new(&ops, &r, 5000, 40, &st);
	playout_enqueue(po, audio, sizeof(audio), "x", 0);
	playout_tick(po, 0);
	assert_int_equal(count(&r, EV_MEDIA), PLAYOUT_LEAD_MAX_MS / 20);
	assert_true(playout_ahead_ms(po, 0) <= PLAYOUT_LEAD_MAX_MS);
	run(po, &r, 1000, 7, PLAYOUT_LEAD_MAX_MS);
	assert_int_equal(count(&r, EV_MEDIA), 25);
	playout_free(po);
}

static void
test_marks_and_heard(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t a[100], b[400];
	const char *heard[4];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	po = playout_new(&ops, &r, 60, 40, &st);
	assert_int_equal(playout_enqueue(po, a, sizeof(a), "first", 0), 1);
	assert_int_equal(playout_enqueue(po, b, sizeof(b), "second", 0), 2);
	assert_int_equal(playout_enqueue(po, NULL, 0, "empty", 0), 3);
	run(po, &r, 500, 10, 60);
	/* A: 1 frame, mark; B: 3 frames, mark; the empty item: mark */
	assert_int_equal(r.n, 7);
	assert_int_equal(r.ev[0].type, EV_MEDIA);
	assert_int_equal(r.ev[0].first, 0x11);
	assert_int_equal(r.ev[0].last, MULAW_SILENCE); /* padded */
	assert_int_equal(r.ev[1].type, EV_MARK);
	assert_string_equal(r.ev[1].name, "item-1");
	assert_int_equal(r.ev[2].type, EV_MEDIA);
	assert_int_equal(r.ev[4].type, EV_MEDIA);
	assert_int_equal(r.ev[4].first, 0x22);
	assert_int_equal(r.ev[4].last, MULAW_SILENCE);
	assert_int_equal(r.ev[5].type, EV_MARK);
	assert_string_equal(r.ev[5].name, "item-2");
	assert_string_equal(r.ev[6].name, "item-3");
	assert_int_equal(playout_item_state(po, 0), PLAYOUT_SENT);
	assert_int_equal(playout_heard(po, heard, 4), 0);
	/* Twilio echoes in order */
	assert_int_equal(playout_mark_echo(po, "item-1"), 0);
	assert_int_equal(playout_heard(po, heard, 4), 1);
	assert_string_equal(heard[0], "first");
	assert_int_equal(playout_mark_echo(po, "item-1"), -1); /* twice */
	assert_int_equal(playout_mark_echo(po, "bogus"), -1);
	assert_int_equal(playout_mark_echo(po, "item-2"), 0);
	assert_int_equal(playout_heard(po, heard, 4), 2);
	assert_string_equal(heard[1], "second");
	assert_int_equal(playout_item_state(po, 1), PLAYOUT_HEARD);
	assert_int_equal(playout_item_state(po, 2), PLAYOUT_SENT);
	assert_string_equal(playout_item_label(po, 2), "empty");
	assert_null(playout_item_label(po, 3));
	assert_int_equal(st.marks_sent, 3);
	assert_int_equal(st.marks_heard, 2);
	assert_string_equal(playout_state_name(PLAYOUT_HEARD), "heard");
	playout_free(po);
}

static void
test_clear(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t a[320], b[8000];
	const char *heard[4];
	size_t before;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	po = playout_new(&ops, &r, 60, 40, &st);
	playout_enqueue(po, a, sizeof(a), "short", 0);
	playout_enqueue(po, b, sizeof(b), "long", 0);
	playout_enqueue(po, a, sizeof(a), "after", 0);
	run(po, &r, 200, 10, 60);
	assert_int_equal(playout_item_state(po, 0), PLAYOUT_SENT);
	assert_int_equal(playout_item_state(po, 1), PLAYOUT_QUEUED);
	/* barge-in half way through "long" */
	assert_int_equal(playout_clear(po, r.now), 0);
	assert_int_equal(r.ev[r.n - 1].type, EV_CLEAR);
	assert_true(playout_is_idle(po));
	assert_int_equal(playout_item_state(po, 1), PLAYOUT_CLEARED);
	assert_int_equal(playout_item_state(po, 2), PLAYOUT_CLEARED);
	before = r.n;
	run(po, &r, 1000, 10, 60);
	assert_int_equal(r.n, before); /* the queue is gone */
	/* the mark of "short" is echoed after the clear: not heard */
	assert_int_equal(playout_mark_echo(po, "item-1"), 0);
	assert_int_equal(playout_item_state(po, 0), PLAYOUT_CLEARED);
	assert_int_equal(playout_heard(po, heard, 4), 0);
	assert_int_equal(st.marks_cleared, 1);
	assert_int_equal(st.clears, 1);
	/* the next item plays from now, within the lead, and is heard */
	playout_enqueue(po, a, sizeof(a), "next", r.now);
	run(po, &r, 1200, 10, 60);
	assert_int_equal(r.ev[r.n - 1].type, EV_MARK);
	assert_int_equal(playout_mark_echo(po, r.ev[r.n - 1].name), 0);
	assert_int_equal(playout_heard(po, heard, 4), 1);
	assert_string_equal(heard[0], "next");
	playout_free(po);
}

static void
test_late_and_resync(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t audio[16000];
	size_t before;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(audio, 3, sizeof(audio));
	po = playout_new(&ops, &r, 60, 40, &st);
	playout_enqueue(po, audio, sizeof(audio), "x", 0);
	playout_tick(po, 0);
	assert_int_equal(st.frames_sent, 3);
	/* the loop stalls 150 ms: frames due at 60..100 go out late */
	playout_tick(po, 150);
	assert_int_equal(st.late_frames, 3);
	assert_true(playout_ahead_ms(po, 150) <= 60);
	/* a stall of a second: no burst of 50 frames, a restart */
	before = st.frames_sent;
	playout_tick(po, 1100);
	assert_true(st.frames_sent - before <= 5);
	assert_true(playout_ahead_ms(po, 1100) <= 60);
	playout_free(po);
}

static void
test_idle_gap_not_late(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t audio[800];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(audio, 4, sizeof(audio));
	po = playout_new(&ops, &r, 60, 40, &st);
	playout_enqueue(po, audio, sizeof(audio), "a", 0);
	run(po, &r, 200, 10, 60);
	/* silence for 5 s, then a new sentence */
	r.now = 5200;
	playout_enqueue(po, audio, sizeof(audio), "b", r.now);
	run(po, &r, 5500, 10, 60);
	assert_int_equal(st.frames_sent, 10);
	assert_int_equal(st.late_frames, 0);
	/* back-to-back items keep the lead bounded too */
	playout_enqueue(po, audio, sizeof(audio), "c", r.now);
	playout_tick(po, r.now);
	playout_enqueue(po, audio, sizeof(audio), "d", r.now);
	playout_tick(po, r.now);
	assert_true(playout_ahead_ms(po, r.now) <= 60);
	playout_free(po);
}

static void
test_stop_and_failure(void **state)
{
	static struct rec r;
	struct playout_stats st = {0};
	struct playout *po;
	uint8_t audio[1600];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(audio, 5, sizeof(audio));
	po = playout_new(&ops, &r, 60, 40, &st);
	playout_enqueue(po, audio, sizeof(audio), "a", 0);
	playout_tick(po, 0);
	playout_stop(po);
	assert_int_equal(playout_item_state(po, 0), PLAYOUT_CLEARED);
	assert_int_equal(playout_enqueue(po, audio, 10, "b", 0), 0);
	playout_tick(po, 500);
	assert_int_equal(r.n, 3);
	assert_int_equal(playout_clear(po, 500), -1);
	playout_free(po);

	/* a send that fails (connection over) stops the playout */
	memset(&r, 0, sizeof(r));
	po = playout_new(&ops, &r, 60, 40, &st);
	playout_enqueue(po, audio, sizeof(audio), "a", 0);
	r.fail = true;
	playout_tick(po, 0);
	r.fail = false;
	playout_tick(po, 100);
	assert_int_equal(r.n, 0);
	playout_free(po);
}

/*
 * A clip queued by reference (a phrase every call shares): each playout
 * holds its own reference, plays the clip's bytes, and lets go once the
 * item is sent (one playout) or dropped by clear (the other); the clip is
 * freed with the last reference, after its owner let go first.
 */
static void
test_clip_shared(void **state)
{
	static struct rec r1, r2;
	struct playout_stats st = {0};
	struct playout *p1, *p2;
	uint8_t audio[400]; /* 2.5 frames */
	struct clip *c;
	size_t base = clip_live();
	size_t media = 0;

	(void)state;
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	memset(audio, 0x42, sizeof(audio));
	c = clip_new(audio, sizeof(audio));
	assert_int_equal(clip_live(), base + 1);
	assert_int_equal(clip_len(c), sizeof(audio));
	p1 = playout_new(&ops, &r1, 60, 40, &st);
	p2 = playout_new(&ops, &r2, 20, 40, &st);
	assert_int_equal(playout_enqueue_clip(p1, c, "greeting", 0), 1);
	assert_int_equal(playout_enqueue_clip(p2, c, "greeting", 0), 1);
	assert_int_equal(playout_enqueue_clip(p2, NULL, "none", 0), 0);
	/* the owner lets go (a phrase replaced): the playouts keep it */
	clip_unref(c);
	assert_int_equal(clip_live(), base + 1);
	playout_tick(p2, 0); /* one frame of p2, then barge-in */
	assert_int_equal(count(&r2, EV_MEDIA), 1);
	assert_int_equal(playout_clear(p2, 0), 0);
	assert_int_equal(playout_item_state(p2, 0), PLAYOUT_CLEARED);
	assert_int_equal(clip_live(), base + 1); /* p1 still plays it */
	r1.now = 0;
	run(p1, &r1, 200, 5, 60);
	for (size_t i = 0; i < r1.n; i++) {
		if (r1.ev[i].type != EV_MEDIA)
			continue;
		assert_int_equal(r1.ev[i].first, 0x42);
		/* the last frame: 80 bytes of audio, then silence */
		assert_int_equal(
		    r1.ev[i].last, media < 2 ? 0x42 : MULAW_SILENCE);
		media++;
	}
	assert_int_equal(media, 3);
	assert_int_equal(playout_item_state(p1, 0), PLAYOUT_SENT);
	assert_int_equal(clip_live(), base); /* freed with the last frame */
	playout_free(p1);
	playout_free(p2);

	/* a copied item's clip goes with playout_free, sent or not */
	p1 = playout_new(&ops, &r1, 60, 40, &st);
	playout_enqueue(p1, audio, sizeof(audio), "copy", 0);
	assert_int_equal(clip_live(), base + 1);
	playout_free(p1);
	assert_int_equal(clip_live(), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pacing),
	    cmocka_unit_test(test_lead_clamped),
	    cmocka_unit_test(test_marks_and_heard),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_late_and_resync),
	    cmocka_unit_test(test_idle_gap_not_late),
	    cmocka_unit_test(test_stop_and_failure),
	    cmocka_unit_test(test_clip_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
