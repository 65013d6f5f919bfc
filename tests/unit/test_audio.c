/*
 * Unit tests for common/audio.c: WAV round trips in memory and on disk,
 * WAV files built byte by byte here (a LIST chunk before the data, mu-law,
 * stereo), garbage and truncated input refused, resampling length and
 * level, and espeak-ng speaking Hebrew at 8 kHz.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>

#include <cmocka.h>

#include "audio.h"
#include "mulaw.h"

/* A little-endian byte builder for hand-made RIFF files. */
struct bytes {
	uint8_t data[8192];
	size_t len;
};

static void
put_bytes(struct bytes *b, const void *p, size_t n)
{
	assert_true(b->len + n <= sizeof(b->data));
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
put_le16(struct bytes *b, unsigned v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put_bytes(b, x, 2);
}

static void
put_le32(struct bytes *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 24)};

	put_bytes(b, x, 4);
}

/* Patch the RIFF size once the file is complete. */
static void
riff_finish(struct bytes *b)
{
	uint32_t v = (uint32_t)(b->len - 8);

	b->data[4] = (uint8_t)v;
	b->data[5] = (uint8_t)(v >> 8);
	b->data[6] = (uint8_t)(v >> 16);
	b->data[7] = (uint8_t)(v >> 24);
}

static void
riff_start(struct bytes *b)
{
	b->len = 0;
	put_bytes(b, "RIFF", 4);
	put_le32(b, 0);
	put_bytes(b, "WAVE", 4);
}

/* A "fmt " chunk; tag 1 is PCM, 7 is mu-law. */
static void
riff_fmt(struct bytes *b, unsigned tag, unsigned channels, uint32_t rate,
    unsigned bits)
{
	unsigned align = channels * bits / 8;

	put_bytes(b, "fmt ", 4);
	put_le32(b, tag == 1 ? 16 : 18);
	put_le16(b, tag);
	put_le16(b, channels);
	put_le32(b, rate);
	put_le32(b, rate * align);
	put_le16(b, align);
	put_le16(b, bits);
	if (tag != 1)
		put_le16(b, 0); /* cbSize */
}

static int16_t
test_sample(size_t i)
{
	static const int16_t edge[] = {0, 1, -1, INT16_MAX, INT16_MIN, 12345};

	if (i < sizeof(edge) / sizeof(*edge))
		return edge[i];
	return (int16_t)((i * 2654435761u) >> 16);
}

static double
rms(const int16_t *x, size_t n)
{
	double sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += (double)x[i] * (double)x[i];
	return n ? sqrt(sum / (double)n) : 0.0;
}

static void
test_wav_round_trip_memory(void **state)
{
	static const struct {
		size_t n;
		int rate;
	} cases[] = {{0, 8000}, {1, 8000}, {160, 8000}, {16000, 16000},
	    {44100, 44100}, {24001, 24000}};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		size_t n = cases[c].n, wavlen = 0, got = 99;
		int16_t *pcm = malloc((n ? n : 1) * sizeof(*pcm)), *back;
		uint8_t *wav;
		int rate = 0;

		assert_non_null(pcm);
		for (size_t i = 0; i < n; i++)
			pcm[i] = test_sample(i);
		assert_int_equal(
		    audio_wav_encode(pcm, n, cases[c].rate, &wav, &wavlen), 0);
		assert_non_null(wav);
		assert_int_equal(wavlen, 44 + 2 * n);
		assert_memory_equal(wav, "RIFF", 4);
		assert_memory_equal(wav + 8, "WAVE", 4);
		assert_int_equal(
		    audio_wav_decode(wav, wavlen, &back, &got, &rate), 0);
		assert_non_null(back);
		assert_int_equal(got, n);
		assert_int_equal(rate, cases[c].rate);
		if (n > 0)
			assert_memory_equal(back, pcm, n * sizeof(*pcm));
		free(back);
		free(wav);
		free(pcm);
	}
}

/* A LIST/INFO chunk between "fmt " and "data" must be skipped. */
static void
test_wav_list_chunk(void **state)
{
	struct bytes b;
	int16_t *pcm;
	size_t n;
	int rate;

	(void)state;
	riff_start(&b);
	riff_fmt(&b, 1, 1, 16000, 16);
	put_bytes(&b, "LIST", 4);
	put_le32(&b, 4 + 8 + 6);
	put_bytes(&b, "INFOISFT", 8);
	put_le32(&b, 6);
	put_bytes(&b, "test\0\0", 6);
	put_bytes(&b, "data", 4);
	put_le32(&b, 300 * 2);
	for (size_t i = 0; i < 300; i++)
		put_le16(&b, (uint16_t)test_sample(i));
	riff_finish(&b);

	assert_int_equal(audio_wav_decode(b.data, b.len, &pcm, &n, &rate), 0);
	assert_int_equal(n, 300);
	assert_int_equal(rate, 16000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pcm[i], test_sample(i));
	free(pcm);
}

/* A mu-law WAV (format tag 7, with a fact chunk) of all 256 codes. */
static void
test_wav_mulaw(void **state)
{
	struct bytes b;
	int16_t *pcm;
	size_t n;
	int rate;

	(void)state;
	riff_start(&b);
	riff_fmt(&b, 7, 1, 8000, 8);
	put_bytes(&b, "fact", 4);
	put_le32(&b, 4);
	put_le32(&b, 256);
	put_bytes(&b, "data", 4);
	put_le32(&b, 256);
	for (unsigned c = 0; c < 256; c++) {
		uint8_t code = (uint8_t)c;

		put_bytes(&b, &code, 1);
	}
	riff_finish(&b);

	assert_int_equal(audio_wav_decode(b.data, b.len, &pcm, &n, &rate), 0);
	assert_int_equal(n, 256);
	assert_int_equal(rate, 8000);
	/* libsndfile's G.711 table and ours agree on every code. */
	for (unsigned c = 0; c < 256; c++)
		assert_int_equal(pcm[c], mulaw_decode((uint8_t)c));
	free(pcm);
}

/* Two channels are averaged into one. */
static void
test_wav_stereo_downmix(void **state)
{
	static const int16_t frames[][2] = {{1000, 3000}, {-2000, -4000},
	    {INT16_MAX, INT16_MAX}, {INT16_MIN, INT16_MIN}, {100, -100}};
	static const int16_t mono[] = {2000, -3000, INT16_MAX, INT16_MIN, 0};
	struct bytes b;
	int16_t *pcm;
	size_t n;
	int rate;

	(void)state;
	riff_start(&b);
	riff_fmt(&b, 1, 2, 22050, 16);
	put_bytes(&b, "data", 4);
	put_le32(&b, (uint32_t)sizeof(frames));
	for (size_t i = 0; i < 5; i++) {
		put_le16(&b, (uint16_t)frames[i][0]);
		put_le16(&b, (uint16_t)frames[i][1]);
	}
	riff_finish(&b);

	assert_int_equal(audio_wav_decode(b.data, b.len, &pcm, &n, &rate), 0);
	assert_int_equal(n, 5);
	assert_int_equal(rate, 22050);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(pcm[i], mono[i]);
	free(pcm);
}

/* IEEE float data is scaled to 16 bits and clipped at full scale. */
static void
test_wav_float(void **state)
{
	static const float in[] = {0.0f, 0.5f, -0.5f, 1.5f, -2.0f, 0.25f};
	static const int16_t want[] = {
	    0, 16384, -16384, INT16_MAX, INT16_MIN, 8192};
	struct bytes b;
	int16_t *pcm;
	size_t n;
	int rate;

	(void)state;
	riff_start(&b);
	riff_fmt(&b, 3, 1, 8000, 32);
	put_bytes(&b, "fact", 4);
	put_le32(&b, 4);
	put_le32(&b, 6);
	put_bytes(&b, "data", 4);
	put_le32(&b, (uint32_t)sizeof(in));
	for (size_t i = 0; i < 6; i++) {
		uint32_t bits;

		memcpy(&bits, &in[i], sizeof(bits));
		put_le32(&b, bits);
	}
	riff_finish(&b);

	assert_int_equal(audio_wav_decode(b.data, b.len, &pcm, &n, &rate), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(pcm[i], want[i]);
	free(pcm);
}

/* Garbage, truncated headers and impossible layouts are refused. */
static void
test_wav_rejects(void **state)
{
	static const int16_t ten[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct bytes good, b;
	uint8_t *wav;
	size_t wavlen;
	uint8_t noise[512];
	int16_t sentinel[1];

	(void)state;
	assert_int_equal(audio_wav_encode(ten, 10, 8000, &wav, &wavlen), 0);
	memcpy(good.data, wav, wavlen);
	good.len = wavlen;
	free(wav);
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)((i * 7919u + 13u) >> 3);

	const struct {
		const char *why;
		const uint8_t *data;
		size_t len;
	} cases[] = {
	    {"text", (const uint8_t *)"hello", 5},
	    {"noise", noise, sizeof(noise)},
	    {"empty", good.data, 0},
	    {"4 bytes", good.data, 4},
	    {"12 bytes", good.data, 12},
	    {"20 bytes", good.data, 20},
	    {"30 bytes", good.data, 30},
	    {"NULL", NULL, 44},
	};
	const size_t nc = sizeof(cases) / sizeof(*cases);

	for (size_t i = 0; i < nc; i++) {
		int16_t *pcm = sentinel;
		size_t n = 7;
		int rate = 7;

		if (audio_wav_decode(
			cases[i].data, cases[i].len, &pcm, &n, &rate) != -1)
			fail_msg("accepted %s", cases[i].why);
		assert_null(pcm);
		assert_int_equal(n, 0);
		assert_int_equal(rate, 0);
	}

	/* Zero channels, then a zero sample rate, in a valid-looking file. */
	for (int k = 0; k < 2; k++) {
		int16_t *pcm;
		size_t n;
		int rate;

		riff_start(&b);
		riff_fmt(&b, 1, k == 0 ? 0 : 1, k == 0 ? 8000 : 0, 16);
		put_bytes(&b, "data", 4);
		put_le32(&b, 20);
		put_bytes(&b, ten, 20);
		riff_finish(&b);
		assert_int_equal(
		    audio_wav_decode(b.data, b.len, &pcm, &n, &rate), -1);
		assert_null(pcm);
	}
}

/* Data cut short after a whole header: the samples present are read. */
static void
test_wav_truncated_data(void **state)
{
	int16_t src[1000], *pcm;
	uint8_t *wav;
	size_t wavlen, n;
	int rate;

	(void)state;
	for (size_t i = 0; i < 1000; i++)
		src[i] = test_sample(i);
	assert_int_equal(audio_wav_encode(src, 1000, 8000, &wav, &wavlen), 0);
	assert_int_equal(audio_wav_decode(wav, 44 + 500, &pcm, &n, &rate), 0);
	assert_int_equal(n, 250);
	assert_memory_equal(pcm, src, 250 * sizeof(*src));
	free(pcm);
	free(wav);
}

static void
test_wav_encode_rejects(void **state)
{
	static const int16_t one[1] = {0};
	static const int bad_rates[] = {0, -8000, 999, 384001, INT32_MAX};
	uint8_t sentinel[1], *wav = sentinel;
	size_t wavlen = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_rates) / sizeof(*bad_rates); i++) {
		assert_int_equal(
		    audio_wav_encode(one, 1, bad_rates[i], &wav, &wavlen), -1);
		assert_null(wav);
		assert_int_equal(wavlen, 0);
	}
	assert_int_equal(audio_wav_encode(NULL, 5, 8000, &wav, &wavlen), -1);
	assert_int_equal(audio_wav_encode(one, 8000u * AUDIO_MAX_SECONDS + 1,
			     8000, &wav, &wavlen),
	    -1);
}

static void
test_wav_file_round_trip(void **state)
{
	char path[] = "/tmp/merkazia-test-audio-XXXXXX";
	char path2[] = "/tmp/merkazia-test-audio-XXXXXX";
	int16_t src[800], *pcm = NULL;
	size_t n = 0;
	int rate = 0, fd;

	(void)state;
	for (size_t i = 0; i < 800; i++)
		src[i] = test_sample(i);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(audio_wav_write_file(path, src, 800, 8000), 0);
	assert_int_equal(audio_wav_read_file(path, &pcm, &n, &rate), 0);
	assert_int_equal(n, 800);
	assert_int_equal(rate, 8000);
	assert_memory_equal(pcm, src, sizeof(src));
	free(pcm);
	unlink(path);

	/* Missing file, unwritable directory, and a file of garbage. */
	assert_int_equal(audio_wav_read_file(path, &pcm, &n, &rate), -1);
	assert_null(pcm);
	assert_int_equal(
	    audio_wav_write_file("/nonexistent-dir/x.wav", src, 800, 8000), -1);
	fd = mkstemp(path2);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a wav file at all", 21), 21);
	close(fd);
	assert_int_equal(audio_wav_read_file(path2, &pcm, &n, &rate), -1);
	assert_null(pcm);
	unlink(path2);
}

static void
test_resample_length(void **state)
{
	static const int rates[][2] = {{22050, 8000}, {8000, 16000},
	    {8000, 22050}, {16000, 8000}, {24000, 8000}, {44100, 8000},
	    {48000, 8000}, {8000, 8000}};
	static const size_t lens[] = {0, 1, 2, 3, 7, 160, 1000, 12345, 22051};
	static int16_t in[22051];

	(void)state;
	for (size_t i = 0; i < 22051; i++)
		in[i] = (int16_t)(8000.0 * sin((double)i * 0.05));
	for (size_t r = 0; r < sizeof(rates) / sizeof(*rates); r++) {
		for (size_t k = 0; k < sizeof(lens) / sizeof(*lens); k++) {
			int from = rates[r][0], to = rates[r][1];
			double exact = (double)lens[k] * to / from;
			int16_t *out = NULL;
			size_t outn = 99;

			assert_int_equal(
			    audio_resample(in, lens[k], from, to, &out, &outn),
			    0);
			assert_non_null(out);
			assert_int_equal(
			    outn, audio_resampled_len(lens[k], from, to));
			assert_true(fabs((double)outn - exact) <= 1.0);
			if (from == to && lens[k] > 0)
				assert_memory_equal(
				    out, in, lens[k] * sizeof(*in));
			free(out);
		}
	}
}

static void
test_resample_rejects(void **state)
{
	static const int16_t in[4] = {0};
	static const int bad[][2] = {
	    {0, 8000}, {8000, 0}, {-8000, 8000}, {8000, 999999}};
	int16_t sentinel[1], *out = sentinel;
	size_t outn = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(
		    audio_resample(in, 4, bad[i][0], bad[i][1], &out, &outn),
		    -1);
		assert_null(out);
		assert_int_equal(outn, 0);
	}
	assert_int_equal(audio_resample(NULL, 4, 8000, 16000, &out, &outn), -1);
}

/* A 1 kHz sine keeps its level and its frequency through 22050 -> 8000. */
static void
test_resample_level(void **state)
{
	static const int rates[][2] = {
	    {22050, 8000}, {8000, 16000}, {16000, 8000}, {8000, 22050}};

	(void)state;
	for (size_t r = 0; r < sizeof(rates) / sizeof(*rates); r++) {
		int from = rates[r][0], to = rates[r][1];
		size_t n = (size_t)from, outn, cross = 0, edge;
		int16_t *in = malloc(n * sizeof(*in)), *out;
		double rin, rout;

		assert_non_null(in);
		for (size_t i = 0; i < n; i++)
			in[i] = (int16_t)lrint(
			    10000.0 * sin(2.0 * M_PI * 1000.0 * (double)i /
					  (double)from));
		assert_int_equal(
		    audio_resample(in, n, from, to, &out, &outn), 0);
		assert_int_equal(outn, (size_t)to);
		/* Skip the filter's start-up and tail. */
		edge = (size_t)to / 50;
		rin = rms(in, n);
		rout = rms(out + edge, outn - 2 * edge);
		assert_true(fabs(rout - rin) <= 0.05 * rin);
		for (size_t i = edge + 1; i < outn - edge; i++)
			if ((out[i - 1] < 0) != (out[i] < 0))
				cross++;
		/* 1 kHz: two zero crossings per millisecond. */
		assert_true(
		    fabs((double)cross - 2.0 * (double)(outn - 2 * edge) *
					     1000.0 / (double)to) <= 20.0);
		free(out);
		free(in);
	}
}

static void
test_espeak_hebrew(void **state)
{
	static const char *const texts[] = {"שלום", "שלום, איך אפשר לעזור?"};
	int16_t *pcm, *dec;
	uint8_t *mu;
	size_t n, mun;

	(void)state;
	for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); t++) {
		assert_int_equal(audio_espeak_pcm8k(texts[t], 0, &pcm, &n), 0);
		assert_non_null(pcm);
		if (t == 0) {
			/* Plausible duration for one word: 0.2 - 3 s. */
			assert_true(n >= 8000 / 5);
			assert_true(n <= (size_t)3 * 8000);
		}
		assert_true(rms(pcm, n) > 300.0);

		assert_int_equal(audio_espeak_mulaw(texts[t], 0, &mu, &mun), 0);
		/* Same text, same audio, give or take a few samples. */
		assert_true(mun + 80 >= n && mun <= n + 80);
		dec = malloc(mun * sizeof(*dec));
		assert_non_null(dec);
		mulaw_decode_buf(mu, mun, dec);
		assert_true(rms(dec, mun) > 300.0);
		free(dec);
		free(mu);
		free(pcm);
	}
}

/* A slower speaking rate gives longer audio. */
static void
test_espeak_rate(void **state)
{
	static const char text[] = "שלום, איך אפשר לעזור לך היום?";
	int16_t *slow, *fast;
	size_t nslow, nfast;

	(void)state;
	assert_int_equal(
	    audio_espeak_pcm8k(text, AUDIO_WPM_MIN, &slow, &nslow), 0);
	assert_int_equal(
	    audio_espeak_pcm8k(text, AUDIO_WPM_MAX, &fast, &nfast), 0);
	assert_true(nslow > nfast * 2);
	free(slow);
	free(fast);
}

static void
test_espeak_rejects(void **state)
{
	static const struct {
		const char *text;
		int wpm;
	} bad[] = {{NULL, 0}, {"", 0}, {"שלום", AUDIO_WPM_MIN - 1},
	    {"שלום", AUDIO_WPM_MAX + 1}, {"שלום", -1}};
	uint8_t musentinel[1], *mu = musentinel;
	int16_t sentinel[1], *pcm = sentinel;
	size_t n = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(
		    audio_espeak_pcm8k(bad[i].text, bad[i].wpm, &pcm, &n), -1);
		assert_null(pcm);
		assert_int_equal(n, 0);
		assert_int_equal(
		    audio_espeak_mulaw(bad[i].text, bad[i].wpm, &mu, &n), -1);
		assert_null(mu);
	}
}

static int
teardown(void **state)
{
	(void)state;
	audio_shutdown();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wav_round_trip_memory),
	    cmocka_unit_test(test_wav_list_chunk),
	    cmocka_unit_test(test_wav_mulaw),
	    cmocka_unit_test(test_wav_stereo_downmix),
	    cmocka_unit_test(test_wav_float),
	    cmocka_unit_test(test_wav_rejects),
	    cmocka_unit_test(test_wav_truncated_data),
	    cmocka_unit_test(test_wav_encode_rejects),
	    cmocka_unit_test(test_wav_file_round_trip),
	    cmocka_unit_test(test_resample_length),
	    cmocka_unit_test(test_resample_rejects),
	    cmocka_unit_test(test_resample_level),
	    cmocka_unit_test(test_espeak_hebrew),
	    cmocka_unit_test(test_espeak_rate),
	    cmocka_unit_test(test_espeak_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
