/*
 * Unit tests for gateway/phrases.c: the fixed phrases rendered with
 * espeak-ng (as gateway_init does at start) are all there as 8 kHz mu-law
 * of a plausible length, the greeting text can be replaced, a business
 * without its own audio falls back to the default set, and a business's
 * own phrase (as a TTS result will set it) wins, and a phrase replaced
 * while a call still plays it keeps playing whole, freed after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"
#include "audio.h"

static void
test_render_default(void **state)
{
	struct gateway g;
	const struct phrase *p;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_null(phrases_get(&g, NULL, PHRASE_GREETING));
	assert_int_equal(phrases_render(&g, NULL, NULL), 0);
	for (int k = 0; k < PHRASE_N; k++) {
		p = phrases_get(&g, "any-business", (enum phrase_kind)k);
		assert_non_null(p);
		assert_string_equal(
		    p->text, phrases_default_text((enum phrase_kind)k));
		/* at least half a second, at most the espeak limit */
		assert_true(p->len >= 4000);
		assert_true(p->len <= (size_t)AUDIO_ESPEAK_MAX_SECONDS * 8000);
	}
	assert_string_equal(phrases_kind_name(PHRASE_FILLER), "filler");
	assert_null(phrases_get(&g, NULL, PHRASE_N));
	phrases_free(&g);
	assert_null(g.phrases);
}

static void
test_business_override(void **state)
{
	struct gateway g;
	const uint8_t own[] = {1, 2, 3};
	const struct phrase *p;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    phrases_render(&g, NULL, "שלום, הגעתם למשרד הבדיקות"), 0);
	p = phrases_get(&g, NULL, PHRASE_GREETING);
	assert_string_equal(p->text, "שלום, הגעתם למשרד הבדיקות");
	assert_int_equal(
	    phrases_set(&g, "shai", PHRASE_GREETING, "own", own, sizeof(own)),
	    0);
	p = phrases_get(&g, "shai", PHRASE_GREETING);
	assert_int_equal(p->len, 3);
	assert_memory_equal(p->mulaw, own, 3);
	/* shai has no goodbye of its own: the default one */
	p = phrases_get(&g, "shai", PHRASE_GOODBYE);
	assert_non_null(p);
	assert_true(p->len > 3);
	/* replacing keeps one entry */
	assert_int_equal(
	    phrases_set(&g, "shai", PHRASE_GREETING, "again", own, 1), 0);
	assert_int_equal(phrases_get(&g, "shai", PHRASE_GREETING)->len, 1);
	phrases_free(&g);
}

struct sink {
	size_t frames;
	size_t marks;
	size_t old_bytes; /* audio bytes of the old greeting heard */
	size_t new_bytes; /* ... of the new one */
};

static int
sink_media(void *arg, const uint8_t *frame, size_t len)
{
	struct sink *k = arg;

	k->frames++;
	for (size_t i = 0; i < len; i++) {
		if (frame[i] == 0x11)
			k->old_bytes++;
		else if (frame[i] == 0x22)
			k->new_bytes++;
	}
	return 0;
}

static int
sink_mark(void *arg, const char *name)
{
	struct sink *k = arg;

	(void)name;
	k->marks++;
	return 0;
}

static int
sink_clear(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * A business's greeting replaced (its business reloaded) while a call
 * still plays the old one: the call plays the old one whole, the next
 * call gets the new one, and the old audio is freed once the call has
 * sent it (clip_live counts the clips; ASan catches a use after free).
 */
static void
test_replaced_while_playing(void **state)
{
	static const struct playout_ops ops = {
	    sink_media, sink_mark, sink_clear};
	struct gateway g;
	struct playout_stats st = {0};
	struct sink k1 = {0}, k2 = {0};
	struct playout *p1, *p2;
	uint8_t old_audio[1000], new_audio[500];
	const struct phrase *p;
	size_t base = clip_live();
	int64_t now = 0;

	(void)state;
	memset(&g, 0, sizeof(g));
	memset(old_audio, 0x11, sizeof(old_audio));
	memset(new_audio, 0x22, sizeof(new_audio));
	assert_int_equal(phrases_set(&g, "shai", PHRASE_GREETING, "old",
			     old_audio, sizeof(old_audio)),
	    0);
	assert_int_equal(clip_live(), base + 1);
	p1 = playout_new(&ops, &k1, 20, 40, &st);
	p = phrases_get(&g, "shai", PHRASE_GREETING);
	assert_int_equal(playout_enqueue_clip(p1, p->clip, "greeting", now), 1);
	playout_tick(p1, now); /* the first frame */
	assert_int_equal(k1.frames, 1);
	assert_int_equal(phrases_set(&g, "shai", PHRASE_GREETING, "new",
			     new_audio, sizeof(new_audio)),
	    0);
	assert_int_equal(clip_live(), base + 2); /* the old one still plays */
	p = phrases_get(&g, "shai", PHRASE_GREETING);
	assert_string_equal(p->text, "new");
	assert_int_equal(p->len, sizeof(new_audio));
	p2 = playout_new(&ops, &k2, 20, 40, &st);
	assert_int_equal(playout_enqueue_clip(p2, p->clip, "greeting", now), 1);
	for (int i = 0; i < 200 && !playout_is_idle(p1); i++) {
		now += 10;
		playout_tick(p1, now);
		playout_tick(p2, now);
	}
	assert_true(playout_is_idle(p1));
	assert_true(playout_is_idle(p2));
	assert_int_equal(k1.old_bytes, sizeof(old_audio));
	assert_int_equal(k1.new_bytes, 0);
	assert_int_equal(k1.marks, 1);
	assert_int_equal(k2.new_bytes, sizeof(new_audio));
	assert_int_equal(k2.old_bytes, 0);
	assert_int_equal(clip_live(), base + 1); /* old freed once sent */
	playout_free(p1);
	playout_free(p2);
	phrases_free(&g);
	assert_int_equal(clip_live(), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_default),
	    cmocka_unit_test(test_business_override),
	    cmocka_unit_test(test_replaced_while_playing),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	/* once: espeak-ng hangs when initialised again after terminating */
	audio_shutdown();
	return rc;
}
