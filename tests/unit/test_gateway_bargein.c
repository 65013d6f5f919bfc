/*
 * Unit tests for gateway/bargein.c (the barge-in state machine), and the
 * pieces of playout.c and reply.c barge-in uses (pause, "is playing",
 * reply_cut). The VAD is modelled frame by frame as vad.c reports it:
 * speech_ms grows by 20 per speech frame of a VAD turn, silence_ms counts
 * from the last speech frame, and the turn ends (both 0) after the 600 ms
 * hangover; the energy spread is 5 dB (speech) unless a test says 0.3
 * (steady noise). Covered: a long burst over the agent pauses then cuts at
 * min_ms; a 160 ms backchannel pauses and resumes without a cut and is
 * dropped as a backchannel; two backchannels in one VAD turn do not add
 * up; speech while the agent is silent is the caller's turn; the agent
 * ending during a hold resumes; a hold never outlasts
 * BARGEIN_HOLD_MAX_MS; steady noise resumes after BARGEIN_NOISE_CHECK_MS
 * and never cuts; min_ms 0 cuts at once; the real VAD's energy spread
 * (energy gate alone, so the case is exact) stays under
 * BARGEIN_SPEECH_SPREAD_DB for steady noise and clears it for a signal
 * whose level moves like syllables; the playout sends nothing
 * while paused and restarts its schedule on resume; reply_cut leaves the
 * reply played once the queued marks are back.
 */
#include <math.h>
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

/* A VAD as bargein.c sees it. */
struct fakevad {
	int speech_ms;
	int silence_ms;
	bool in_turn;
	double spread; /* of the frames' energy: 0.3 noise, 5 speech */
};

static void
fakevad_frame(struct fakevad *v, bool speech)
{
	if (speech) {
		v->in_turn = true;
		v->speech_ms += 20;
		v->silence_ms = 0;
		return;
	}
	if (!v->in_turn)
		return;
	v->silence_ms += 20;
	if (v->silence_ms >= 600) {
		v->in_turn = false;
		v->speech_ms = 0;
		v->silence_ms = 0;
	}
}

/* Count of each action over n frames of (speech or not). */
struct tally {
	int pause, resume, cut;
	int64_t cut_at; /* frame time of the cut, -1 */
};

/* A barge-in state machine with its VAD, tally and clock: one a test. */
struct rig {
	struct bargein b;
	struct fakevad v;
	struct tally t;
	int64_t now;
};

static void
rig_init(struct rig *g, int min_ms, double spread)
{
	memset(g, 0, sizeof(*g));
	g->v.spread = spread;
	g->t.cut_at = -1;
	bargein_init(&g->b, min_ms);
}

/* Feed frames 20 ms frames of (speech or not) while the agent is playing
 * or not, tallying the actions. */
static void
rig_run(struct rig *g, int frames, bool speech, bool playing)
{
	for (int i = 0; i < frames; i++) {
		enum bargein_action a;

		fakevad_frame(&g->v, speech);
		g->now += 20;
		a = bargein_step(&g->b, playing, g->v.speech_ms,
		    g->v.silence_ms, g->v.spread > 0 ? g->v.spread : 5.0,
		    g->now);
		if (a == BARGEIN_PAUSE)
			g->t.pause++;
		else if (a == BARGEIN_RESUME)
			g->t.resume++;
		else if (a == BARGEIN_CUT) {
			g->t.cut++;
			g->t.cut_at = g->now;
		}
	}
}

static void
test_long_burst_cuts(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0);
	rig_run(&g, 10, false, true);
	assert_int_equal(g.t.pause, 0);
	rig_run(&g, 3, true, true);
	assert_int_equal(g.t.pause, 1);
	assert_true(bargein_is_holding(&g.b));
	assert_int_equal(g.t.cut, 0);
	rig_run(&g, 40, true, true);
	assert_int_equal(g.t.cut, 1);
	assert_int_equal(g.t.resume, 0);
	/* cut at the 13th speech frame: 260 ms >= 250 */
	assert_int_equal(g.t.cut_at, 200 + 13 * 20);
	assert_false(bargein_is_holding(&g.b));
	/* the caller goes on talking: no second cut */
	rig_run(&g, 50, false, false);
	rig_run(&g, 20, true, true);
	assert_int_equal(g.t.cut, 2); /* a new VAD turn over new agent audio */
}

static void
test_backchannel_resumes(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0);
	rig_run(&g, 8, true, true); /* 160 ms "כן" */
	assert_int_equal(g.t.pause, 1);
	rig_run(&g, (BARGEIN_GAP_MS / 20) - 1, false, true);
	assert_int_equal(g.t.resume, 0);
	rig_run(&g, 1, false, true);
	assert_int_equal(g.t.resume, 1);
	assert_false(bargein_is_holding(&g.b));
	/* the hangover runs out: the utterance is a backchannel while the
	 * agent plays, a turn once the agent has finished */
	assert_true(bargein_is_backchannel(&g.b, true));
	assert_false(bargein_is_backchannel(&g.b, false));
	rig_run(&g, 40, false, true);
	assert_int_equal(g.t.cut, 0);
	assert_false(bargein_is_backchannel(&g.b, true));
	assert_int_equal(g.b.backchannels, 1);
}

static void
test_two_backchannels_do_not_add_up(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0);
	rig_run(&g, 8, true, true);
	rig_run(&g, 25, false, true); /* 500 ms: inside the turn */
	assert_int_equal(g.v.speech_ms, 160);
	rig_run(&g, 8, true, true); /* 320 ms in the VAD turn */
	rig_run(&g, 15, false, true);
	assert_int_equal(g.t.pause, 2);
	assert_int_equal(g.t.resume, 2);
	assert_int_equal(g.t.cut, 0);
}

static void
test_short_pause_joins_bursts(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0);
	rig_run(&g, 10, true, true);  /* "רגע," 200 ms */
	rig_run(&g, 12, false, true); /* its comma, 240 ms */
	assert_int_equal(g.t.resume, 1);
	rig_run(&g, 2, true, true); /* "יש": 240 ms in all */
	assert_int_equal(g.t.cut, 0);
	rig_run(&g, 1, true, true); /* 260 ms: one interruption */
	assert_int_equal(g.t.cut, 1);
	assert_int_equal(g.t.pause, 2);
}

static void
test_caller_turn_not_barge_in(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0);
	rig_run(&g, 30, true, false);
	/* the agent starts (a reply) while the caller still talks */
	rig_run(&g, 30, true, true);
	assert_int_equal(g.t.pause + g.t.resume + g.t.cut, 0);
	assert_false(bargein_is_backchannel(&g.b, true));
}

static void
test_agent_ends_during_hold(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0);
	rig_run(&g, 4, true, true);
	assert_int_equal(g.t.pause, 1);
	rig_run(&g, 1, true, false);
	assert_int_equal(g.t.resume, 1);
	rig_run(&g, 40, true, false);
	assert_int_equal(g.t.cut, 0);
	assert_false(bargein_is_backchannel(&g.b, true));
}

static void
test_hold_is_bounded(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 5000, 0);
	for (int i = 0; i < 100 && g.t.resume == 0; i++)
		rig_run(&g, 1, true, true);
	assert_int_equal(g.t.pause, 1);
	assert_int_equal(g.t.resume, 1);
	assert_true(g.now <= 20 + BARGEIN_HOLD_MAX_MS + 40);
}

static void
test_noise_never_cuts(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 250, 0.3);
	rig_run(&g, BARGEIN_NOISE_CHECK_MS / 20 - 1, true, true);
	assert_int_equal(g.t.pause, 1);
	assert_int_equal(g.t.resume, 0);
	rig_run(&g, 1, true, true);
	assert_int_equal(g.t.resume, 1);
	rig_run(&g, 30, true, true); /* 600 ms more of it */
	assert_int_equal(g.t.cut, 0);
	assert_int_equal(g.t.pause, 1);
	assert_int_equal(g.b.noises, 1);
	assert_false(bargein_is_backchannel(&g.b, true));
}

static void
test_zero_min_cuts_at_once(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g, 0, 0);
	rig_run(&g, 1, true, true);
	assert_int_equal(g.t.cut, 1);
	assert_int_equal(g.t.pause, 0);
}

/* ---- the VAD's energy spread ------------------------------------------ */

/* Deterministic Gaussian noise (xorshift and Box-Muller). */
static double
gauss(uint64_t *st)
{
	double u1, u2;

	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	u1 = ((double)(*st >> 11) + 1.0) / 9007199254740993.0;
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	u2 = (double)(*st >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/*
 * Feed 1 s of digital silence, then 1 s of noise whose RMS follows
 * level(frame) (dBFS); return the largest spread seen once the VAD has
 * counted `after` ms of speech, or -1 if it never did.
 */
static double
spread_after(double (*level)(int), int after)
{
	struct vad *v = vad_new(NULL);
	uint8_t frame[VAD_FRAME_BYTES];
	int16_t pcm[VAD_FRAME_BYTES];
	uint64_t st = 88172645463325252ULL;
	double best = -1;

	assert_int_equal(vad_set_detector(v, VAD_DETECT_ENERGY), 0);
	memset(frame, 0xff, sizeof(frame));
	for (int f = 0; f < 50; f++)
		(void)vad_feed(v, frame, sizeof(frame));
	for (int f = 0; f < 50; f++) {
		double amp = 32768.0 * pow(10.0, level(f) / 20.0);

		for (int i = 0; i < VAD_FRAME_BYTES; i++) {
			double x = gauss(&st) * amp;

			pcm[i] = (int16_t)(x > 32767	? 32767
					   : x < -32768 ? -32768
							: x);
		}
		mulaw_encode_buf(pcm, VAD_FRAME_BYTES, frame);
		(void)vad_feed(v, frame, sizeof(frame));
		if (vad_speech_ms(v) >= after && vad_speech_spread_db(v) > best)
			best = vad_speech_spread_db(v);
	}
	vad_free(v);
	return best;
}

static double
level_steady(int f)
{
	(void)f;
	return -30.0;
}

/* Syllables: about 5 a second, 12 dB between loud and soft frames. */
static double
level_syllables(int f)
{
	static const double shape[10] = {
	    -30, -24, -20, -18, -22, -28, -32, -26, -21, -25};

	return shape[f % 10];
}

static void
test_vad_spread(void **state)
{
	double noise = spread_after(level_steady, BARGEIN_NOISE_CHECK_MS);
	double voice = spread_after(level_syllables, BARGEIN_NOISE_CHECK_MS);

	(void)state;
	assert_true(noise >= 0);
	assert_true(noise < BARGEIN_SPEECH_SPREAD_DB);
	assert_true(voice >= BARGEIN_SPEECH_SPREAD_DB);
}

/* ---- playout pause ---------------------------------------------------- */

static int frames_sent;

static int
fake_media(void *arg, const uint8_t *frame, size_t len)
{
	(void)arg;
	(void)frame;
	(void)len;
	frames_sent++;
	return 0;
}

static int
fake_mark(void *arg, const char *name)
{
	(void)arg;
	(void)name;
	return 0;
}

static int
fake_clear(void *arg)
{
	(void)arg;
	return 0;
}

static const struct playout_ops fake_ops = {fake_media, fake_mark, fake_clear};

static void
test_playout_pause(void **state)
{
	struct playout_stats st = {0};
	struct playout *po = playout_new(&fake_ops, NULL, 20, 10, &st);
	uint8_t audio[1600];
	int64_t now = 1000;

	(void)state;
	memset(audio, 0x55, sizeof(audio)); /* 200 ms, 10 frames */
	assert_false(playout_is_playing(po));
	playout_enqueue(po, audio, sizeof(audio), "s", now);
	assert_true(playout_is_playing(po));
	frames_sent = 0;
	playout_tick(po, now);
	assert_int_equal(frames_sent, 1);
	playout_pause(po, true, now);
	assert_true(playout_is_paused(po));
	for (int i = 0; i < 20; i++)
		playout_tick(po, now += 20);
	assert_int_equal(frames_sent, 1);
	playout_pause(po, false, now);
	playout_tick(po, now); /* no burst to catch up */
	assert_int_equal(frames_sent, 2);
	for (int i = 0; i < 20; i++)
		playout_tick(po, now += 20);
	assert_int_equal(frames_sent, 10);
	/* sent whole, mark pending: still playing until the echo */
	assert_true(playout_is_playing(po));
	assert_int_equal(playout_mark_echo(po, "item-1"), 0);
	assert_false(playout_is_playing(po));
	/* clear unpauses */
	playout_pause(po, true, now);
	playout_clear(po, now);
	assert_false(playout_is_paused(po));
	playout_free(po);
}

static void
test_reply_cut(void **state)
{
	struct playout_stats st = {0};
	struct playout *po = playout_new(&fake_ops, NULL, 20, 10, &st);
	struct reply *r = reply_new();
	uint8_t audio[160];
	int64_t now = 0;
	char *heard;

	(void)state;
	memset(audio, 0x55, sizeof(audio));
	assert_int_equal(reply_sentence(r, 0, "אחת."), 0);
	assert_int_equal(reply_sentence(r, 1, "שתיים."), 0);
	assert_int_equal(reply_sentence(r, 2, "שלוש."), 0);
	assert_int_equal(reply_audio(r, 0, audio, sizeof(audio), po, now), 0);
	assert_int_equal(reply_audio(r, 2, audio, sizeof(audio), po, now), 1);
	playout_tick(po, now);
	assert_false(reply_is_played(r, po));
	/* barge-in: sentence 1 never came, 2 waits: both are dropped */
	playout_clear(po, now);
	reply_cut(r);
	assert_true(reply_is_queued(r));
	assert_false(reply_is_played(r, po)); /* item-1's echo pending */
	assert_int_equal(playout_mark_echo(po, "item-1"), 0);
	assert_true(reply_is_played(r, po));
	assert_true(reply_is_interrupted(r, po));
	heard = reply_heard(r, po, NULL);
	assert_string_equal(heard, "");
	free(heard);
	assert_int_equal(playout_nitems(po), 1);
	reply_free(r);
	playout_free(po);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long_burst_cuts),
	    cmocka_unit_test(test_backchannel_resumes),
	    cmocka_unit_test(test_two_backchannels_do_not_add_up),
	    cmocka_unit_test(test_short_pause_joins_bursts),
	    cmocka_unit_test(test_caller_turn_not_barge_in),
	    cmocka_unit_test(test_agent_ends_during_hold),
	    cmocka_unit_test(test_hold_is_bounded),
	    cmocka_unit_test(test_noise_never_cuts),
	    cmocka_unit_test(test_zero_min_cuts_at_once),
	    cmocka_unit_test(test_vad_spread),
	    cmocka_unit_test(test_playout_pause),
	    cmocka_unit_test(test_reply_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
