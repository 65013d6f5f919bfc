/*
 * Unit tests for tts-worker/google_tts.c, its pure parts: the WAV header
 * walked chunk by chunk in several layouts (the plain 44 bytes, LIST
 * before data, a fact chunk, an odd-sized chunk and its pad byte, an
 * 18-byte fmt, WAVE_FORMAT_EXTENSIBLE, a data size of 0xFFFFFFFF), the
 * refusals (truncated, garbage, no fmt, no data, wrong rate or format),
 * 16-bit PCM encoded to mu-law, the split of text over Google's 5000
 * bytes (sentence, word, character boundaries; Hebrew stays whole UTF-8),
 * the request body's fields and the parse of an answer and of an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base64.h"
#include "mulaw.h"
#include "../../tts-worker/tts.h"
#include "xmalloc.h"

/* A WAV file built chunk by chunk. */
struct wavb {
	uint8_t buf[4096];
	size_t len;
};

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8 & 0xff);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void
wav_start(struct wavb *w)
{
	memcpy(w->buf, "RIFF\0\0\0\0WAVE", 12);
	w->len = 12;
}

/* Add a chunk with a pad byte when odd; size_field overrides the size. */
static void
wav_chunk(struct wavb *w, const char *id, const void *data, size_t n,
    uint32_t size_field)
{
	memcpy(w->buf + w->len, id, 4);
	put32(w->buf + w->len + 4, size_field ? size_field : (uint32_t)n);
	if (n > 0)
		memcpy(w->buf + w->len + 8, data, n);
	w->len += 8 + n;
	if (n & 1)
		w->buf[w->len++] = 0;
}

static void
wav_fmt(struct wavb *w, unsigned int format, unsigned int channels,
    uint32_t rate, unsigned int bits, size_t size)
{
	uint8_t f[40];

	memset(f, 0, sizeof(f));
	put16(f, format);
	put16(f + 2, channels);
	put32(f + 4, rate);
	put32(f + 8, rate * channels * bits / 8);
	put16(f + 12, channels * bits / 8);
	put16(f + 14, bits);
	if (size >= 18)
		put16(f + 16, (unsigned int)(size - 18));
	if (format == 0xfffe)
		put16(f + 24, GOOGLE_TTS_WAV_MULAW);
	wav_chunk(w, "fmt ", f, size, 0);
}

static void
wav_finish(struct wavb *w)
{
	put32(w->buf + 4, (uint32_t)(w->len - 8));
}

static const uint8_t samples[] = {0x01, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x30};

static void
expect_samples(const struct wavb *w)
{
	struct google_tts_wav out;
	uint8_t *mu;
	size_t n;
	const char *why = NULL;

	assert_int_equal(google_tts_wav_parse(w->buf, w->len, &out), 0);
	assert_int_equal(out.format, GOOGLE_TTS_WAV_MULAW);
	assert_int_equal(out.channels, 1);
	assert_int_equal(out.rate, 8000);
	assert_int_equal(out.bits, 8);
	assert_int_equal(out.data_len, sizeof(samples));
	assert_memory_equal(out.data, samples, sizeof(samples));
	assert_int_equal(
	    google_tts_wav_mulaw(w->buf, w->len, &mu, &n, &why), 0);
	assert_int_equal(n, sizeof(samples));
	assert_memory_equal(mu, samples, n);
	free(mu);
}

static void
test_wav_plain_44(void **state)
{
	struct wavb w;

	(void)state;
	wav_start(&w);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	assert_int_equal(w.len, 36);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	wav_finish(&w);
	expect_samples(&w);
}

static void
test_wav_list_before_data(void **state)
{
	static const char info[] = "INFOISFT\x0e\0\0\0Lavf58.76.100\0";
	struct wavb w;

	(void)state;
	wav_start(&w);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	wav_chunk(&w, "LIST", info, sizeof(info) - 1, 0);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	wav_finish(&w);
	expect_samples(&w);
}

static void
test_wav_fact_and_fmt18(void **state)
{
	uint8_t fact[4];
	struct wavb w;

	(void)state;
	put32(fact, sizeof(samples));
	wav_start(&w);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 18);
	wav_chunk(&w, "fact", fact, sizeof(fact), 0);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	wav_finish(&w);
	expect_samples(&w);
}

static void
test_wav_odd_chunk_padding(void **state)
{
	static const char odd[] = "abc"; /* 3 bytes, then a pad byte */
	struct wavb w;

	(void)state;
	wav_start(&w);
	wav_chunk(&w, "junk", odd, 3, 0);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	wav_chunk(&w, "LIST", odd, 3, 0);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	/* data is odd too: its pad byte ends the file. */
	assert_int_equal(w.buf[w.len - 1], 0);
	wav_finish(&w);
	expect_samples(&w);
	/* Without the last pad byte it is still whole. */
	w.len--;
	expect_samples(&w);
}

static void
test_wav_extensible_and_unknown_size(void **state)
{
	struct wavb w;

	(void)state;
	wav_start(&w);
	wav_fmt(&w, 0xfffe, 1, 8000, 8, 40);
	wav_chunk(&w, "data", samples, sizeof(samples), 0xffffffffu);
	w.len--; /* no pad byte: the data runs to the end */
	expect_samples(&w);
}

static void
test_wav_data_before_fmt(void **state)
{
	struct wavb w;

	(void)state;
	wav_start(&w);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	wav_finish(&w);
	expect_samples(&w);
}

static void
test_wav_pcm16_encoded(void **state)
{
	int16_t pcm[4] = {0, 1000, -1000, 32767};
	uint8_t raw[8], *mu;
	size_t n;
	const char *why = NULL;
	struct wavb w;

	(void)state;
	for (int i = 0; i < 4; i++)
		put16(raw + 2 * i, (unsigned int)(uint16_t)pcm[i]);
	wav_start(&w);
	wav_fmt(&w, GOOGLE_TTS_WAV_PCM, 1, 8000, 16, 16);
	wav_chunk(&w, "data", raw, sizeof(raw), 0);
	wav_finish(&w);
	assert_int_equal(google_tts_wav_mulaw(w.buf, w.len, &mu, &n, &why), 0);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mu[i], mulaw_encode(pcm[i]));
	free(mu);
}

static void
expect_refused(const uint8_t *buf, size_t len)
{
	struct google_tts_wav out;
	uint8_t *mu = (uint8_t *)1;
	size_t n = 1;
	const char *why = NULL;

	assert_int_equal(google_tts_wav_parse(buf, len, &out), -1);
	assert_int_equal(google_tts_wav_mulaw(buf, len, &mu, &n, &why), -1);
	assert_null(mu);
	assert_int_equal(n, 0);
	assert_non_null(why);
}

static void
test_wav_refusals(void **state)
{
	struct wavb w, t;
	static const uint8_t garbage[] = "this is not a WAV file at all....";

	(void)state;
	expect_refused(NULL, 0);
	expect_refused(garbage, sizeof(garbage));
	/* Truncated: the data chunk claims more than there is. */
	wav_start(&w);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	wav_finish(&w);
	for (size_t cut = 0; cut < w.len - 1; cut++)
		expect_refused(w.buf, cut);
	/* A chunk size that runs past the end. */
	t = w;
	put32(t.buf + 16, 1000);
	expect_refused(t.buf, t.len);
	/* No data chunk; no fmt chunk; a short fmt chunk. */
	wav_start(&t);
	wav_fmt(&t, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	expect_refused(t.buf, t.len);
	wav_start(&t);
	wav_chunk(&t, "data", samples, sizeof(samples), 0);
	expect_refused(t.buf, t.len);
	wav_start(&t);
	wav_fmt(&t, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 14);
	wav_chunk(&t, "data", samples, sizeof(samples), 0);
	expect_refused(t.buf, t.len);
	/* RIFF but not WAVE. */
	t = w;
	memcpy(t.buf + 8, "AVI ", 4);
	expect_refused(t.buf, t.len);
}

static void
test_wav_wrong_format(void **state)
{
	struct wavb w;
	uint8_t *mu;
	size_t n;
	const char *why = NULL;

	(void)state;
	wav_start(&w); /* well formed, but 16 kHz */
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 16000, 8, 16);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	assert_int_equal(google_tts_wav_mulaw(w.buf, w.len, &mu, &n, &why), -1);
	assert_non_null(strstr(why, "8000"));
	wav_start(&w); /* A-law */
	wav_fmt(&w, GOOGLE_TTS_WAV_ALAW, 1, 8000, 8, 16);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	assert_int_equal(google_tts_wav_mulaw(w.buf, w.len, &mu, &n, &why), -1);
	wav_start(&w); /* stereo */
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 2, 8000, 8, 16);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	assert_int_equal(google_tts_wav_mulaw(w.buf, w.len, &mu, &n, &why), -1);
}

/* Split text the way job.c does; check every piece. */
static size_t
split_all(const char *text, size_t max, size_t *lens, size_t cap)
{
	size_t len = strlen(text), off = 0, n = 0;

	while (off < len) {
		size_t k = google_tts_split_len(text + off, len - off, max);

		assert_true(k > 0 && k <= max);
		assert_true(n < cap);
		lens[n++] = k;
		/* Never inside a UTF-8 sequence. */
		if (off + k < len)
			assert_true(
			    ((unsigned char)text[off + k] & 0xc0) != 0x80);
		off += k;
		while (off < len && (text[off] == ' ' || text[off] == '\n'))
			off++;
	}
	return n;
}

static size_t
split1(const char *text, size_t max)
{
	return google_tts_split_len(text, strlen(text), max);
}

static void
test_split(void **state)
{
	size_t lens[64], n;
	char *big;
	const char *heb = "שלום"; /* 8 bytes */
	size_t hl = strlen(heb);

	(void)state;
	/* Fits: one piece, whatever it holds. */
	assert_int_equal(google_tts_split_len("abc. def", 8, 5000), 8);
	/* A sentence end wins over a later space. */
	assert_int_equal(google_tts_split_len("aaaa. bbb ccc", 13, 12), 5);
	/* A sentence end too early (under max/4) loses to the last space. */
	assert_int_equal(
	    google_tts_split_len("a. bbbbbbbbbb cccccccc dd", 25, 24), 22);
	/* No sentence end: the last space. */
	assert_int_equal(google_tts_split_len("aaa bbb ccc", 11, 9), 7);
	/* No space: the last character boundary (Hebrew is 2 bytes). */
	assert_int_equal(google_tts_split_len("שלוםשלום", 16, 7), 6);
	/* Hebrew question mark and the ellipsis end sentences. */
	assert_int_equal(split1("מה? כן כן כן", 19), 5);
	assert_int_equal(split1("אבג… דהו זחט", 22), 9);
	/* "3.5" is not a sentence end: no space after the point. */
	assert_int_equal(split1("3.5 חדרים גדולים", 20), 14);

	/* 12,000 bytes of Hebrew sentences: pieces of at most 5000. */
	big = xmalloc(13000);
	big[0] = '\0';
	while (strlen(big) < 12000) {
		strcat(big, heb);
		strcat(big, " ");
		strcat(big, heb);
		strcat(big, ". ");
	}
	n = split_all(big, GOOGLE_TTS_MAX_TEXT, lens, 64);
	assert_int_equal(n, 3);
	for (size_t i = 0; i + 1 < n; i++) {
		assert_true(lens[i] > GOOGLE_TTS_MAX_TEXT - 2 * hl - 4);
		assert_int_equal(big[lens[0] - 1], '.');
	}
	/* One endless word of Hebrew letters. */
	big[0] = '\0';
	while (strlen(big) < 11000)
		strcat(big, heb);
	n = split_all(big, GOOGLE_TTS_MAX_TEXT, lens, 64);
	assert_int_equal(n, 3);
	assert_int_equal(lens[0], 5000);
	free(big);
}

static void
test_request_json(void **state)
{
	char *body = google_tts_request_json(
	    "שלום, 3 חדרים", strlen("שלום, 3 חדרים"), "he-IL-Wavenet-C", 1.25);
	json_t *doc, *ac;

	(void)state;
	assert_non_null(body);
	doc = json_loads(body, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(doc, "input"), "text")),
	    "שלום, 3 חדרים");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(doc, "voice"), "languageCode")),
	    "he-IL");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(doc, "voice"), "name")),
	    "he-IL-Wavenet-C");
	ac = json_object_get(doc, "audioConfig");
	assert_string_equal(
	    json_string_value(json_object_get(ac, "audioEncoding")), "MULAW");
	assert_int_equal(
	    json_integer_value(json_object_get(ac, "sampleRateHertz")), 8000);
	assert_true(
	    json_real_value(json_object_get(ac, "speakingRate")) == 1.25);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(ac, "effectsProfileId"), 0)),
	    "telephony-class-application");
	json_decref(doc);
	free(body);
	/* Invalid UTF-8 cannot be sent. */
	assert_null(google_tts_request_json("\xff\xfe", 2, "v", 1.0));
}

static void
test_parse_response(void **state)
{
	struct wavb w;
	char *b64, *body;
	uint8_t *mu;
	size_t n;
	const char *why = NULL;
	char err[200];
	static const char gerr[] =
	    "{\"error\":{\"code\":503,\"message\":\"The service is currently "
	    "unavailable.\",\"status\":\"UNAVAILABLE\"}}";

	(void)state;
	wav_start(&w);
	wav_fmt(&w, GOOGLE_TTS_WAV_MULAW, 1, 8000, 8, 16);
	wav_chunk(&w, "LIST", "INFOabcd", 8, 0);
	wav_chunk(&w, "data", samples, sizeof(samples), 0);
	wav_finish(&w);
	b64 = base64_encode_alloc(w.buf, w.len);
	body = xasprintf("{\"audioContent\": \"%s\"}", b64);
	assert_int_equal(
	    google_tts_parse_response(body, strlen(body), &mu, &n, &why), 0);
	assert_int_equal(n, sizeof(samples));
	assert_memory_equal(mu, samples, n);
	free(mu);
	free(body);
	free(b64);
	body = xstrdup("{\"audioContent\": \"***\"}");
	assert_int_equal(
	    google_tts_parse_response(body, strlen(body), &mu, &n, &why), -1);
	assert_non_null(strstr(why, "base64"));
	free(body);
	assert_int_equal(google_tts_parse_response("{}", 2, &mu, &n, &why), -1);
	assert_int_equal(
	    google_tts_parse_response("nope", 4, &mu, &n, &why), -1);
	google_tts_error_text(gerr, strlen(gerr), 503, err, sizeof(err));
	assert_string_equal(err, "HTTP 503 UNAVAILABLE: The service is "
				 "currently unavailable.");
	google_tts_error_text("<html>", 6, 502, err, sizeof(err));
	assert_string_equal(err, "HTTP 502");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wav_plain_44),
	    cmocka_unit_test(test_wav_list_before_data),
	    cmocka_unit_test(test_wav_fact_and_fmt18),
	    cmocka_unit_test(test_wav_odd_chunk_padding),
	    cmocka_unit_test(test_wav_extensible_and_unknown_size),
	    cmocka_unit_test(test_wav_data_before_fmt),
	    cmocka_unit_test(test_wav_pcm16_encoded),
	    cmocka_unit_test(test_wav_refusals),
	    cmocka_unit_test(test_wav_wrong_format),
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_request_json),
	    cmocka_unit_test(test_parse_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
