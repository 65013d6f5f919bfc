/*
 * Unit tests for stt-worker/filter.c, the Whisper hallucination filter.
 *
 * From reference/ai-apis.md §2: the Hebrew whole-utterance list (תודה,
 * תודה רבה, תודה שצפיתם, כתוביות, subtitle credits...), matched after
 * niqqud, punctuation and bidi marks are removed; repetition loops
 * ("תודה, תודה, תודה"); prompt echo; Whisper's gates (no_speech_prob 0.6,
 * avg_logprob -1.0, compression_ratio 2.4). A hit silences a turn only
 * when a signal agrees, because callers really say "תודה רבה" and
 * "להתראות".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt.h"

/* A clean, loud utterance with confident Whisper statistics. */
static struct stt_filter_in
clean(const char *text)
{
	struct stt_filter_in in;

	memset(&in, 0, sizeof(in));
	in.text = text;
	in.has_segments = true;
	in.no_speech_prob = 0.02;
	in.avg_logprob = -0.25;
	in.has_logprob = true;
	in.compression_ratio = 1.1;
	in.rms_dbfs = -22.0;
	in.silence_dbfs = -50.0;
	return in;
}

static void
test_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {"תּוֹדָה רַבָּה!", "תודה רבה"},
	    {"  תודה,  רבה.  ", "תודה רבה"},
	    {"\xe2\x80\x8fתודה רבה\xe2\x80\x8e", "תודה רבה"}, /* RLM, LRM */
	    {"[מוזיקה]", "מוזיקה"},
	    {"Thank You.", "thank you"},
	    {"מ״ר", "מר"},
	    {"בית־ספר", "בית ספר"}, /* maqaf */
	    {"“כתוביות”…", "כתוביות"},
	    {"", ""},
	    {NULL, ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *n = stt_filter_normalize(t[i].in);

		assert_string_equal(n, t[i].out);
		free(n);
	}
}

static void
test_blocklist(void **state)
{
	static const char *const hits[] = {"תודה.", "תודה רבה!", "תודה רבה לכם",
	    "תודה שצפיתם!", "תודה על הצפייה.", "כתוביות",
	    "הכתוביות נעשו על ידי אשר להב", "כתוביות: אלעד שם טוב", "(מוזיקה)",
	    "Thanks for watching!",
	    "Subtitles by the Amara.org "
	    "community",
	    "תּוֹדָה רַבָּה", "להתראות.", NULL};
	static const char *const misses[] = {"אני מחפש דירה בתל אביב",
	    "תודה רבה, אני אחשוב על זה ואחזור אליכם",
	    "תודה רבה על העזרה שלך היום עם הדירה", "שלום", "כן", NULL};

	(void)state;
	for (size_t i = 0; hits[i] != NULL; i++) {
		char *n = stt_filter_normalize(hits[i]);

		if (!stt_filter_is_blocklisted(n))
			fail_msg("not blocklisted: %s", hits[i]);
		free(n);
	}
	for (size_t i = 0; misses[i] != NULL; i++) {
		char *n = stt_filter_normalize(misses[i]);

		if (stt_filter_is_blocklisted(n))
			fail_msg("blocklisted: %s", misses[i]);
		free(n);
	}
}

static void
test_repetition(void **state)
{
	static const char *const loops[] = {"תודה, תודה, תודה, תודה.",
	    "כן כן כן", "אני רוצה אני רוצה אני רוצה",
	    "דירה בתל אביב דירה בתל אביב דירה בתל אביב", "שלום שלום שלום שלום",
	    NULL};
	static const char *const fine[] = {"כן כן", "אני רוצה דירה, אני רוצה",
	    "שלוש ארבע שלוש ארבע", "דירה בתל אביב או דירה ברמת גן", NULL};

	(void)state;
	for (size_t i = 0; loops[i] != NULL; i++) {
		char *n = stt_filter_normalize(loops[i]);

		if (!stt_filter_is_repetition(n))
			fail_msg("no loop seen in: %s", loops[i]);
		free(n);
	}
	for (size_t i = 0; fine[i] != NULL; i++) {
		char *n = stt_filter_normalize(fine[i]);

		if (stt_filter_is_repetition(n))
			fail_msg("loop seen in: %s", fine[i]);
		free(n);
	}
}

static void
test_prompt_echo(void **state)
{
	(void)state;
	assert_true(stt_filter_is_prompt_echo("שאלה נפוצה", "שאלה נפוצה"));
	assert_true(
	    stt_filter_is_prompt_echo("דירה ממד", "דירה ממד מרפסת חניה"));
	assert_false(stt_filter_is_prompt_echo("כן", "כן לא דירה"));
	assert_false(stt_filter_is_prompt_echo(
	    "אני רוצה דירה בחולון", "דירה ממד מרפסת חניה"));
	assert_false(stt_filter_is_prompt_echo("שלום", NULL));
	assert_false(stt_filter_is_prompt_echo("", "שלום"));
}

static void
test_rms(void **state)
{
	int16_t pcm[800];

	(void)state;
	assert_true(stt_filter_rms_dbfs(NULL, 0) <= -119.0);
	memset(pcm, 0, sizeof(pcm));
	assert_true(stt_filter_rms_dbfs(pcm, 800) <= -119.0);
	for (size_t i = 0; i < 800; i++)
		pcm[i] = (int16_t)((i % 2) ? 16384 : -16384);
	assert_true(stt_filter_rms_dbfs(pcm, 800) > -6.1);
	assert_true(stt_filter_rms_dbfs(pcm, 800) < -5.9);
	for (size_t i = 0; i < 800; i++)
		pcm[i] = (int16_t)((i % 2) ? 30 : -30);
	assert_true(stt_filter_rms_dbfs(pcm, 800) < -50.0);
}

/* A hit with no agreeing signal: a real caller's words are kept. */
static void
test_real_thanks_kept(void **state)
{
	static const char *const real[] = {
	    "תודה רבה", "תודה רבה!", "להתראות", "תודה", "כן כן כן", NULL};
	struct stt_filter_out out;

	(void)state;
	for (size_t i = 0; real[i] != NULL; i++) {
		struct stt_filter_in in = clean(real[i]);

		stt_filter_judge(&in, &out);
		if (out.no_speech)
			fail_msg(
			    "real \"%s\" silenced (%s)", real[i], out.reason);
		assert_non_null(out.hit);
		assert_null(out.signal);
	}
}

/* The same hits with each agreeing signal: no speech. */
static void
test_hit_with_signal(void **state)
{
	struct stt_filter_in in;
	struct stt_filter_out out;

	(void)state;
	in = clean("תודה רבה.");
	in.no_speech_prob = 0.8;
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.hit, "blocklist");
	assert_string_equal(out.signal, "no_speech_prob");

	in = clean("תודה שצפיתם!");
	in.avg_logprob = -1.3;
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.signal, "avg_logprob");

	in = clean("תודה, תודה, תודה, תודה, תודה, תודה.");
	in.compression_ratio = 2.9;
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.hit, "repetition");
	assert_string_equal(out.signal, "compression_ratio");

	/* gpt-4o-transcribe: no segments, energy is the signal. */
	in = clean("תודה רבה");
	in.has_segments = false;
	in.has_logprob = false;
	in.rms_dbfs = -65.0;
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.signal, "low_energy");

	in = clean("שאלה נפוצה");
	in.prompt = "שאלה נפוצה";
	in.rms_dbfs = -70.0;
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.hit, "prompt_echo");
}

/* Signals without a hit: real speech in a noisy line is kept. */
static void
test_signal_without_hit(void **state)
{
	struct stt_filter_in in = clean("אני מחפש דירת שלושה חדרים בחיפה");
	struct stt_filter_out out;

	(void)state;
	in.rms_dbfs = -60.0;
	in.avg_logprob = -1.2;
	stt_filter_judge(&in, &out);
	assert_false(out.no_speech);
	assert_null(out.hit);
}

/* Whisper's own silence rule and an empty transcript stand alone. */
static void
test_whisper_silence_and_empty(void **state)
{
	struct stt_filter_in in = clean("אני מחפש דירה");
	struct stt_filter_out out;

	(void)state;
	in.all_silent = true;
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.reason, "whisper_silence");
	in = clean(" ... ");
	stt_filter_judge(&in, &out);
	assert_true(out.no_speech);
	assert_string_equal(out.reason, "empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_blocklist),
	    cmocka_unit_test(test_repetition),
	    cmocka_unit_test(test_prompt_echo),
	    cmocka_unit_test(test_rms),
	    cmocka_unit_test(test_real_thanks_kept),
	    cmocka_unit_test(test_hit_with_signal),
	    cmocka_unit_test(test_signal_without_hit),
	    cmocka_unit_test(test_whisper_silence_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
