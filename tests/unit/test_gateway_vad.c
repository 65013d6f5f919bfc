/*
 * Unit tests for gateway/vad.c on Hebrew speech rendered by espeak-ng
 * (audio_espeak_pcm8k): silence and seeded line noise give no turn; one
 * sentence between silences gives one SPEECH_START then one UTTERANCE_END
 * about hangover_ms after the speech, with the pre-roll; a click or a
 * cough is no turn; a phone number dictated in groups stays one turn (the
 * long hangover after a run of short bursts) where a sentence followed by
 * the same pause does not; two sentences 1.5 s apart are two turns;
 * max_utterance_ms cuts endless speech with no audio in two utterances;
 * chunks of 80, 240 and 7 bytes give the same events and bytes as 160;
 * vad_speech_ms grows during speech and counts no pauses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "audio.h"
#include "gateway.h"
#include "mulaw.h"
#include "xmalloc.h"

#define RATE	 8000
#define MS(x)	 ((size_t)(x)*RATE / 1000)
#define TO_MS(n) ((long)((n)*1000 / RATE))

/* A signal being built: PCM16 at 8 kHz. */
struct sig {
	int16_t *pcm;
	size_t n, cap;
};

static void
sig_put(struct sig *s, const int16_t *pcm, size_t n)
{
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->pcm = xreallocarray(s->pcm, s->cap, sizeof(*s->pcm));
	}
	if (pcm != NULL)
		memcpy(s->pcm + s->n, pcm, n * sizeof(*pcm));
	else
		memset(s->pcm + s->n, 0, n * sizeof(*pcm));
	s->n += n;
}

static void
sig_silence(struct sig *s, int ms)
{
	sig_put(s, NULL, MS(ms));
}

/* First and last sample of speech in pcm: frames over 40 dB. */
static void
speech_bounds(const int16_t *pcm, size_t n, size_t *first, size_t *last)
{
	*first = n;
	*last = 0;
	for (size_t f = 0; f + 160 <= n; f += 160) {
		double e = 0;

		for (size_t i = f; i < f + 160; i++)
			e += (double)pcm[i] * pcm[i];
		if (10.0 * log10(e / 160.0 + 1.0) < 40.0)
			continue;
		if (*first == n)
			*first = f;
		*last = f + 160;
	}
}

/* Append Hebrew speech; store where its speech begins and ends. */
static void
sig_say(struct sig *s, const char *text, size_t *begin, size_t *end)
{
	int16_t *pcm;
	size_t n, a, b;

	assert_int_equal(audio_espeak_pcm8k(text, 0, &pcm, &n), 0);
	speech_bounds(pcm, n, &a, &b);
	assert_true(a < b);
	if (begin != NULL)
		*begin = s->n + a;
	if (end != NULL)
		*end = s->n + b;
	sig_put(s, pcm, n);
	free(pcm);
}

/* Seeded Gaussian noise (xorshift64 and Box-Muller). */
static uint64_t rng_state;

static double
rng_uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double
rng_gauss(void)
{
	return sqrt(-2.0 * log(rng_uniform())) *
	       cos(6.283185307179586 * rng_uniform());
}

static int16_t
clip(double x)
{
	return (int16_t)(x > 32767.0 ? 32767.0 : x < -32768.0 ? -32768.0 : x);
}

/* Add Gaussian noise of the given RMS to samples [from, to). */
static void
sig_noise(struct sig *s, size_t from, size_t to, double rms, uint64_t seed)
{
	rng_state = seed;
	for (size_t i = from; i < to && i < s->n; i++)
		s->pcm[i] = clip(s->pcm[i] + rms * rng_gauss());
}

/* What one run of the detector saw; positions in samples. */
#define EV_MAX 16
struct run {
	enum vad_event ev[EV_MAX];
	size_t at[EV_MAX];
	size_t len[EV_MAX]; /* utterance length, for UTTERANCE_END */
	uint8_t *utt[EV_MAX];
	int nev, nstart, nend;
	int max_speech_ms;
	bool speech_ms_monotonic;
};

static void
run_clean(struct run *r)
{
	for (int i = 0; i < r->nev; i++)
		free(r->utt[i]);
}

static void
run_note(struct vad *v, struct run *r, enum vad_event e, size_t at)
{
	size_t len;
	const uint8_t *u;

	if (e == VAD_NONE)
		return;
	assert_true(r->nev < EV_MAX);
	r->ev[r->nev] = e;
	r->at[r->nev] = at;
	r->utt[r->nev] = NULL;
	r->len[r->nev] = 0;
	u = vad_utterance(v, &len);
	if (e == VAD_SPEECH_START) {
		/* events alternate: a START only after an END, or first */
		assert_true(r->nstart == r->nend);
		assert_true(vad_in_speech(v));
		assert_null(u);
		r->nstart++;
	} else {
		assert_true(r->nstart == r->nend + 1);
		assert_false(vad_in_speech(v));
		assert_int_equal(vad_speech_ms(v), 0);
		assert_non_null(u);
		assert_true(len > 0 && len % VAD_FRAME_BYTES == 0);
		r->len[r->nev] = len;
		r->utt[r->nev] = xmemdup(u, len);
		r->nend++;
	}
	r->nev++;
}

/* Feed s as mu-law in chunks of `chunk` bytes through a new detector. */
static void
run_sig(const struct sig *s, const struct vad_params *p, size_t chunk,
    struct run *r)
{
	struct vad *v = vad_new(p);
	uint8_t *mu = xmalloc(s->n + 1);
	size_t fed = 0;
	int last_ms = 0;

	memset(r, 0, sizeof(*r));
	r->speech_ms_monotonic = true;
	mulaw_encode_buf(s->pcm, s->n, mu);
	while (fed < s->n) {
		size_t k = s->n - fed < chunk ? s->n - fed : chunk;
		enum vad_event e = vad_feed(v, mu + fed, k);
		int ms;

		fed += k;
		for (;;) {
			run_note(v, r, e, fed - vad_pending(v));
			ms = vad_speech_ms(v);
			if (vad_in_speech(v) && ms < last_ms)
				r->speech_ms_monotonic = false;
			last_ms = ms;
			if (ms > r->max_speech_ms)
				r->max_speech_ms = ms;
			if (vad_pending(v) < VAD_FRAME_BYTES)
				break;
			e = vad_feed(v, NULL, 0);
		}
	}
	assert_true(vad_pending(v) < VAD_FRAME_BYTES);
	free(mu);
	vad_free(v);
}

static const char *sentence1 =
    "שלום, אני רוצה לקבוע תור לראות את הדירה ביום שלישי";
static const char *sentence2 = "והאם יש חניה בבניין או ברחוב";

static void
test_defaults(void **state)
{
	struct vad_params p;
	struct vad *v;
	size_t len;

	(void)state;
	vad_params_default(&p);
	assert_int_equal(p.hangover_ms, 600);
	assert_int_equal(p.hangover_long_ms, 1200);
	assert_int_equal(p.min_speech_ms, 120);
	assert_int_equal(p.max_utterance_ms, 15000);
	assert_int_equal(p.preroll_ms, 200);
	assert_int_equal(p.mode, 2);
	vad_free(NULL);
	v = vad_new(NULL);
	assert_false(vad_in_speech(v));
	assert_int_equal(vad_speech_ms(v), 0);
	assert_null(vad_utterance(v, &len));
	assert_int_equal(len, 0);
	assert_int_equal(vad_feed(v, NULL, 0), VAD_NONE);
	assert_int_equal(vad_feed(v, NULL, 5), VAD_NONE);
	assert_int_equal(vad_set_detector(v, VAD_DETECT_ENERGY), 0);
	assert_int_equal(vad_set_detector(v, (enum vad_detector)7), -1);
	assert_string_equal(vad_event_name(VAD_UTTERANCE_END), "utterance_end");
	assert_string_equal(vad_event_name((enum vad_event)9), "?");
	vad_free(v);
	/* absurd parameters are clamped, not trusted */
	p.hangover_ms = -5;
	p.hangover_long_ms = 0;
	p.min_speech_ms = 1000000;
	p.max_utterance_ms = -1;
	p.preroll_ms = 1 << 30;
	p.mode = 99;
	v = vad_new(&p);
	assert_int_equal(vad_feed(v, (const uint8_t *)"\xff", 1), VAD_NONE);
	vad_free(v);
}

static void
test_silence(void **state)
{
	struct sig s = {0};
	struct run r;

	(void)state;
	sig_silence(&s, 5000);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nev, 0);
	/* a faint hiss (RMS 20) is silence too */
	sig_noise(&s, 0, s.n, 20.0, 7);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nev, 0);
	free(s.pcm);
}

static void
test_one_sentence(void **state)
{
	struct sig s = {0};
	struct run r;
	size_t b, e, ustart;
	long end_delay, len_ms, want_ms;

	(void)state;
	sig_silence(&s, 1000);
	sig_say(&s, sentence1, &b, &e);
	sig_silence(&s, 2000);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nev, 2);
	assert_int_equal(r.ev[0], VAD_SPEECH_START);
	assert_int_equal(r.ev[1], VAD_UTTERANCE_END);
	/* START comes once min_speech_ms of speech is in */
	assert_true(r.at[0] > b + MS(100) && r.at[0] < b + MS(300));
	/* END about hangover_ms after the speech ends */
	end_delay = TO_MS(r.at[1]) - TO_MS(e);
	print_message("end delay %ld ms\n", end_delay);
	assert_true(end_delay >= 560 && end_delay <= 760);
	/* the utterance: pre-roll + speech + hangover */
	len_ms = TO_MS(r.len[1]);
	want_ms = TO_MS(e - b) + 200 + 600;
	print_message("utterance %ld ms, expected ~%ld\n", len_ms, want_ms);
	assert_true(labs(len_ms - want_ms) <= 150);
	/* the pre-roll keeps the first syllable: it begins before the speech */
	ustart = r.at[1] - r.len[1];
	assert_true(ustart + MS(100) <= b);
	/* and it is the very audio fed */
	{
		uint8_t *mu = xmalloc(s.n);

		mulaw_encode_buf(s.pcm, s.n, mu);
		assert_memory_equal(mu + ustart, r.utt[1], r.len[1]);
		free(mu);
	}
	assert_true(r.speech_ms_monotonic);
	assert_true(r.max_speech_ms > 2000);
	run_clean(&r);
	free(s.pcm);
}

/* One frame-sized click and a 100 ms cough (noise bursts): no turn. */
static void
test_click_and_cough(void **state)
{
	struct sig s = {0};
	struct run r;
	size_t at;

	(void)state;
	sig_silence(&s, 1000);
	at = s.n;
	sig_silence(&s, 20);
	sig_noise(&s, at, s.n, 6000.0, 11);
	sig_silence(&s, 1500);
	at = s.n;
	sig_silence(&s, 100);
	sig_noise(&s, at, s.n, 4000.0, 12);
	sig_silence(&s, 1500);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nend, 0);
	assert_int_equal(r.nstart, 0);
	run_clean(&r);
	free(s.pcm);
}

/* The phone number 052-345-6789 in three groups. */
static void
say_number(struct sig *s, int pause1_ms, int pause2_ms, size_t *e)
{
	sig_say(s, "אפס חמש שתיים", NULL, NULL);
	sig_silence(s, pause1_ms);
	sig_say(s, "שלוש ארבע חמש", NULL, NULL);
	sig_silence(s, pause2_ms);
	sig_say(s, "שש שבע שמונה תשע", NULL, e);
}

static void
test_dictated_number(void **state)
{
	struct sig s = {0};
	struct run r;
	size_t e;
	long end_delay;

	(void)state;
	/* 400 ms pauses: one turn */
	sig_silence(&s, 800);
	say_number(&s, 400, 400, &e);
	sig_silence(&s, 2500);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nstart, 1);
	assert_int_equal(r.nend, 1);
	/* after the run of short groups the turn waits hangover_long_ms */
	end_delay = TO_MS(r.at[1]) - TO_MS(e);
	print_message("dictation end delay %ld ms\n", end_delay);
	assert_true(end_delay >= 1100 && end_delay <= 1350);
	run_clean(&r);

	/* a 900 ms pause after two groups still does not end the turn ... */
	s.n = 0;
	sig_silence(&s, 800);
	say_number(&s, 400, 900, &e);
	sig_silence(&s, 2500);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nstart, 1);
	assert_int_equal(r.nend, 1);
	run_clean(&r);

	/* ... where a sentence followed by 900 ms ends at hangover_ms */
	s.n = 0;
	sig_silence(&s, 800);
	sig_say(&s, sentence1, NULL, &e);
	sig_silence(&s, 900);
	sig_say(&s, "שש שבע שמונה תשע", NULL, NULL);
	sig_silence(&s, 2500);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nstart, 2);
	assert_int_equal(r.nend, 2);
	end_delay = TO_MS(r.at[1]) - TO_MS(e);
	assert_true(end_delay >= 560 && end_delay <= 760);
	run_clean(&r);
	free(s.pcm);
}

static void
test_two_sentences(void **state)
{
	struct sig s = {0};
	struct run r;
	size_t b1, e1, b2, e2;

	(void)state;
	sig_silence(&s, 700);
	sig_say(&s, sentence1, &b1, &e1);
	sig_silence(&s, 1500);
	sig_say(&s, sentence2, &b2, &e2);
	sig_silence(&s, 1500);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nev, 4);
	assert_int_equal(r.ev[0], VAD_SPEECH_START);
	assert_int_equal(r.ev[1], VAD_UTTERANCE_END);
	assert_int_equal(r.ev[2], VAD_SPEECH_START);
	assert_int_equal(r.ev[3], VAD_UTTERANCE_END);
	assert_true(r.at[1] > e1 && r.at[1] < b2);
	assert_true(r.at[3] > e2);
	/* the second pre-roll does not reach into the first utterance */
	assert_true(r.at[3] - r.len[3] >= r.at[1]);
	run_clean(&r);
	free(s.pcm);
}

static void
test_line_noise(void **state)
{
	struct sig s = {0};
	struct run r;
	size_t b, e;
	double rms[] = {100.0, 300.0, 1000.0};

	(void)state;
	for (size_t i = 0; i < sizeof(rms) / sizeof(rms[0]); i++) {
		s.n = 0;
		sig_silence(&s, 10000);
		sig_noise(&s, 0, s.n, rms[i], 100 + i);
		run_sig(&s, NULL, 160, &r);
		print_message("noise RMS %.0f: %d events\n", rms[i], r.nev);
		assert_int_equal(r.nev, 0);
	}
	/* speech over steady noise (about 15 dB SNR): one turn */
	s.n = 0;
	sig_silence(&s, 3000);
	sig_say(&s, sentence1, &b, &e);
	sig_silence(&s, 3000);
	sig_noise(&s, 0, s.n, 300.0, 5);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nstart, 1);
	assert_int_equal(r.nend, 1);
	assert_true(r.at[0] > b && r.at[0] < b + MS(400));
	/* hangover_ms, or hangover_long_ms where noise splits the speech */
	assert_true(r.at[1] > e + MS(400) && r.at[1] < e + MS(1400));
	run_clean(&r);
	free(s.pcm);
}

static void
test_max_utterance(void **state)
{
	struct sig s = {0};
	struct vad_params p;
	struct run r;
	size_t total = 0;

	(void)state;
	vad_params_default(&p);
	p.max_utterance_ms = 3000;
	sig_silence(&s, 500);
	for (int i = 0; i < 4; i++)
		sig_say(&s, sentence1, NULL, NULL);
	sig_silence(&s, 1500);
	run_sig(&s, &p, 160, &r);
	print_message("%d turns in %ld ms of speech\n", r.nend, TO_MS(s.n));
	assert_true(r.nend >= 4);
	assert_int_equal(r.nstart, r.nend);
	for (int i = 0; i < r.nev; i++) {
		if (r.ev[i] != VAD_UTTERANCE_END)
			continue;
		assert_true(r.len[i] <= MS(3000 + 200));
		if (i > 1) /* no audio in two utterances */
			assert_true(r.at[i] - r.len[i] >= r.at[i - 2]);
		total += r.len[i];
	}
	assert_true(total <= s.n);
	run_clean(&r);
	free(s.pcm);
}

/* Chunks of 80, 240 and 7 bytes: the events, positions and bytes of 160. */
static void
test_chunk_sizes(void **state)
{
	struct sig s = {0};
	struct run ref, r;
	size_t chunks[] = {80, 240, 7, 1000};

	(void)state;
	sig_silence(&s, 500);
	sig_say(&s, sentence2, NULL, NULL);
	sig_silence(&s, 1000);
	sig_say(&s, sentence1, NULL, NULL);
	sig_silence(&s, 1000);
	run_sig(&s, NULL, 160, &ref);
	assert_int_equal(ref.nev, 4);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		run_sig(&s, NULL, chunks[c], &r);
		assert_int_equal(r.nev, ref.nev);
		for (int i = 0; i < r.nev; i++) {
			assert_int_equal(r.ev[i], ref.ev[i]);
			assert_int_equal(r.at[i], ref.at[i]);
			assert_int_equal(r.len[i], ref.len[i]);
			if (r.len[i] > 0)
				assert_memory_equal(
				    r.utt[i], ref.utt[i], r.len[i]);
		}
		run_clean(&r);
	}
	run_clean(&ref);
	free(s.pcm);
}

/* One feed holding a whole turn: each event still comes, in order. */
static void
test_one_big_feed(void **state)
{
	struct sig s = {0};
	struct vad *v = vad_new(NULL);
	uint8_t *mu;
	enum vad_event e;
	size_t len;

	(void)state;
	sig_silence(&s, 500);
	sig_say(&s, sentence2, NULL, NULL);
	sig_silence(&s, 1000);
	mu = xmalloc(s.n);
	mulaw_encode_buf(s.pcm, s.n, mu);
	assert_int_equal(vad_feed(v, mu, s.n), VAD_SPEECH_START);
	assert_true(vad_pending(v) > 0);
	assert_true(vad_speech_ms(v) >= 120);
	assert_int_equal(vad_feed(v, NULL, 0), VAD_UTTERANCE_END);
	assert_non_null(vad_utterance(v, &len));
	assert_true(len > MS(1000));
	e = vad_feed(v, NULL, 0);
	assert_int_equal(e, VAD_NONE);
	assert_null(vad_utterance(v, &len));
	assert_true(vad_pending(v) < VAD_FRAME_BYTES);
	free(mu);
	vad_free(v);
	free(s.pcm);
}

/* vad_speech_ms counts speech, not the pauses inside a turn. */
static void
test_speech_ms_counts_speech(void **state)
{
	struct sig s = {0};
	struct run r;
	size_t b, e;

	(void)state;
	sig_silence(&s, 800);
	b = s.n;
	say_number(&s, 500, 500, &e);
	sig_silence(&s, 2000);
	run_sig(&s, NULL, 160, &r);
	assert_int_equal(r.nend, 1);
	print_message("speech %d ms in a turn of %ld ms\n", r.max_speech_ms,
	    TO_MS(e - b));
	assert_true(r.speech_ms_monotonic);
	assert_true(r.max_speech_ms >= 1500);
	assert_true(r.max_speech_ms <= TO_MS(e - b) - 900);
	run_clean(&r);
	free(s.pcm);
}

static int
teardown_all(void **state)
{
	(void)state;
	audio_shutdown();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_silence),
	    cmocka_unit_test(test_one_sentence),
	    cmocka_unit_test(test_click_and_cough),
	    cmocka_unit_test(test_dictated_number),
	    cmocka_unit_test(test_two_sentences),
	    cmocka_unit_test(test_line_noise),
	    cmocka_unit_test(test_max_utterance),
	    cmocka_unit_test(test_chunk_sizes),
	    cmocka_unit_test(test_one_big_feed),
	    cmocka_unit_test(test_speech_ms_counts_speech),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
