/*
 * Unit tests for gateway/phrases.c: the fixed phrases rendered with
 * espeak-ng (as gateway_init does at start) are all there as 8 kHz mu-law
 * of a plausible length, the greeting text can be replaced, a business
 * without its own audio falls back to the default set, and a business's
 * own phrase (as a TTS result will set it) wins.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_default),
	    cmocka_unit_test(test_business_override),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	/* once: espeak-ng hangs when initialised again after terminating */
	audio_shutdown();
	return rc;
}
