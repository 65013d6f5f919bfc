/*
 * Unit tests for tools/sim-caller/player.c: playing the gateway's audio
 * the way Twilio does (shared reference twilio.md section 2.5).
 *
 * Covered: the jitter buffer (by size and by time, never before the audio
 * arrived); real-time consumption, 160 bytes a frame, silence padding; a
 * mark echoed at once when nothing is buffered, and only after its audio
 * has played otherwise; clear dropping the buffer and echoing every
 * pending mark as not played; underruns inside a sentence counted with
 * their length, none at a mark boundary; the outbox order; the
 * audibility threshold. player.c is pure and #included whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/sim-caller/player.c"

/* A loud mu-law byte (about -6 dBFS). */
#define LOUD 0x8F

static void
audio(struct player *p, size_t n, int64_t now)
{
	uint8_t *b = xmalloc(n);

	memset(b, LOUD, n);
	player_audio(p, b, n, now);
	free(b);
}

static size_t
echoes(struct player *p, size_t *idx)
{
	return player_take_outbox(p, idx, 16);
}

static void
test_jitter(void **state)
{
	struct player p;
	uint8_t f[SIM_FRAME_BYTES];

	(void)state;
	player_init(&p, 60);
	assert_true(player_is_idle(&p));
	assert_int_equal(player_frame(&p, 0, f), 0);
	assert_int_equal(f[0], 0xFF);
	/* 320 bytes < 480: waits for the time rule. */
	audio(&p, 320, 10);
	assert_false(player_is_idle(&p));
	assert_int_equal(player_frame(&p, 0, f), 0);  /* before arrival */
	assert_int_equal(player_frame(&p, 40, f), 0); /* 30 ms waited */
	assert_int_equal(player_frame(&p, 70, f), 160);
	assert_int_equal(f[0], LOUD);
	assert_int_equal(player_frame(&p, 90, f), 160);
	assert_true(player_is_idle(&p));
	assert_int_equal(player_frame(&p, 110, f), 0);
	player_free(&p);

	/* Enough bytes start playback at once; a short frame is padded. */
	player_init(&p, 60);
	audio(&p, 500, 0);
	assert_int_equal(player_frame(&p, 0, f), 160);
	assert_int_equal(player_frame(&p, 20, f), 160);
	assert_int_equal(player_frame(&p, 40, f), 160);
	assert_int_equal(player_frame(&p, 60, f), 20);
	assert_int_equal(f[19], LOUD);
	assert_int_equal(f[20], 0xFF);
	assert_int_equal(p.played_bytes, 500);
	player_free(&p);
}

static void
test_marks(void **state)
{
	struct player p;
	uint8_t f[SIM_FRAME_BYTES];
	size_t idx[16];

	(void)state;
	player_init(&p, 0);
	/* Nothing buffered: echoed at once, as played. */
	player_mark(&p, "m0", 5);
	assert_int_equal(echoes(&p, idx), 1);
	assert_int_equal(idx[0], 0);
	assert_true(p.marks[0].played);
	assert_int_equal(p.marks[0].echo_ms, 5);
	/* After audio: only once it has played. */
	audio(&p, 300, 10);
	player_mark(&p, "m1", 11);
	audio(&p, 100, 12);
	player_mark(&p, "m2", 13);
	assert_int_equal(echoes(&p, idx), 0);
	assert_int_equal(player_frame(&p, 20, f), 160);
	assert_int_equal(echoes(&p, idx), 0);
	assert_int_equal(player_frame(&p, 40, f), 160); /* 320 >= 300 */
	assert_int_equal(echoes(&p, idx), 1);
	assert_int_equal(idx[0], 1);
	assert_int_equal(p.marks[1].echo_ms, 40);
	assert_true(p.marks[1].played);
	assert_int_equal(player_frame(&p, 60, f), 80);
	assert_int_equal(echoes(&p, idx), 1);
	assert_int_equal(idx[0], 2);
	assert_int_equal(p.underruns, 0);
	assert_false(p.dry); /* ended on a mark */
	player_free(&p);
}

static void
test_clear(void **state)
{
	struct player p;
	uint8_t f[SIM_FRAME_BYTES];
	size_t idx[16];

	(void)state;
	player_init(&p, 0);
	audio(&p, 1600, 0);
	player_mark(&p, "a", 0);
	audio(&p, 1600, 0);
	player_mark(&p, "b", 0);
	assert_int_equal(player_frame(&p, 0, f), 160);
	player_clear(&p, 20);
	assert_true(player_is_idle(&p));
	assert_int_equal(p.clears, 1);
	assert_int_equal(p.cleared_bytes, 3040);
	assert_int_equal(echoes(&p, idx), 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1);
	assert_false(p.marks[0].played);
	assert_false(p.marks[1].played);
	assert_int_equal(p.marks[1].echo_ms, 20);
	assert_int_equal(player_frame(&p, 20, f), 0);
	/* A mark after the clear, nothing buffered: at once, played. */
	player_mark(&p, "c", 30);
	assert_int_equal(echoes(&p, idx), 1);
	assert_true(p.marks[2].played);
	/* New audio after a clear is no underrun. */
	audio(&p, 160, 40);
	assert_int_equal(p.underruns, 0);
	player_free(&p);
}

static void
test_underrun(void **state)
{
	struct player p;
	uint8_t f[SIM_FRAME_BYTES];

	(void)state;
	player_init(&p, 0);
	audio(&p, 160, 0);
	assert_int_equal(player_frame(&p, 0, f), 160);
	assert_true(p.dry);
	audio(&p, 160, 50); /* the rest of the sentence, 50 ms late */
	assert_int_equal(p.underruns, 1);
	assert_int_equal(p.underrun_ms, 50);
	assert_int_equal(player_frame(&p, 60, f), 160);
	/* A mark closing the sentence after the gap: no underrun. */
	player_mark(&p, "end", 100);
	audio(&p, 160, 200);
	assert_int_equal(p.underruns, 1);
	player_free(&p);
}

static void
test_outbox_and_audible(void **state)
{
	struct player p;
	size_t idx[2];
	uint8_t quiet[SIM_FRAME_BYTES], loud[SIM_FRAME_BYTES];

	(void)state;
	player_init(&p, 0);
	for (int i = 0; i < 5; i++)
		player_mark(&p, "m", i);
	assert_int_equal(player_take_outbox(&p, idx, 2), 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1);
	assert_int_equal(player_take_outbox(&p, idx, 2), 2);
	assert_int_equal(idx[0], 2);
	assert_int_equal(player_take_outbox(&p, idx, 2), 1);
	assert_int_equal(idx[0], 4);
	assert_int_equal(player_take_outbox(&p, idx, 2), 0);
	player_free(&p);

	memset(quiet, 0xFF, sizeof(quiet));
	memset(loud, LOUD, sizeof(loud));
	assert_false(player_frame_is_audible(quiet, sizeof(quiet)));
	assert_true(player_frame_is_audible(loud, sizeof(loud)));
	assert_false(player_frame_is_audible(loud, 0));
	/* A faint tone (RMS 120, about -49 dBFS) is not speech. */
	memset(quiet, 0xF0, sizeof(quiet));
	assert_false(player_frame_is_audible(quiet, sizeof(quiet)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jitter),
	    cmocka_unit_test(test_marks),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_underrun),
	    cmocka_unit_test(test_outbox_and_audible),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
