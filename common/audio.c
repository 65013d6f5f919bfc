/*
 * libsndfile, libsoxr and libespeak-ng behind one file (see audio.h for
 * why and for the contracts).
 *
 * WAV in memory goes through sf_open_virtual with struct audio_mem as the
 * "file": reads come from a borrowed const buffer, writes grow an owned
 * buffer (libsndfile seeks back to patch the header, so writes honour the
 * position). Reading always asks libsndfile for floats, which it
 * normalises to [-1, 1) with 1/32768 for 16-bit and mu-law data, so
 * scaling back by 32768 is exact for those and every other layout (24-bit,
 * float, several channels) comes out at the right level.
 *
 * espeak-ng runs in AUDIO_OUTPUT_SYNCHRONOUS mode: espeak_Synth returns
 * when the text is rendered, after calling audio_espeak_collect with every
 * block of samples. The library keeps global state, so it is initialised
 * once per process (on first use) and the collected samples go to one
 * static sink; audio_shutdown releases it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/speak_lib.h>
#include <sndfile.h>
#include <soxr.h>

#include "audio.h"
#include "log.h"
#include "mulaw.h"
#include "xmalloc.h"

/* Frames asked from libsndfile per read call. */
#define AUDIO_READ_CHUNK 4096
/* More channels than this is not a sound file we expect. */
#define AUDIO_MAX_CHANNELS 16

/* A sound "file" in memory for sf_open_virtual. */
struct audio_mem {
	const uint8_t *rdata; /* reading: borrowed bytes, else NULL */
	uint8_t *wdata;	      /* writing: owned, grown on demand */
	size_t len;	      /* bytes in the file */
	size_t cap;	      /* bytes allocated at wdata */
	size_t pos;	      /* current offset */
};

static struct {
	int state; /* 0 not tried, 1 ready, -1 failed for good */
	int rate;  /* native output rate reported by espeak_Initialize */
	int16_t *samples;
	size_t n, cap, max;
	int overflow;
} audio_espeak;

static sf_count_t
audio_mem_filelen(void *user)
{
	const struct audio_mem *m = user;

	return (sf_count_t)m->len;
}

static sf_count_t
audio_mem_seek(sf_count_t offset, int whence, void *user)
{
	struct audio_mem *m = user;
	sf_count_t base;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (sf_count_t)m->pos;
		break;
	case SEEK_END:
		base = (sf_count_t)m->len;
		break;
	default:
		return -1;
	}
	if (offset < -base || offset > INT32_MAX - base)
		return -1;
	m->pos = (size_t)(base + offset);
	return (sf_count_t)m->pos;
}

static sf_count_t
audio_mem_read(void *ptr, sf_count_t count, void *user)
{
	struct audio_mem *m = user;
	const uint8_t *data = m->rdata ? m->rdata : m->wdata;
	size_t want;

	if (count <= 0 || m->pos >= m->len || data == NULL)
		return 0;
	want = (size_t)count;
	if (want > m->len - m->pos)
		want = m->len - m->pos;
	memcpy(ptr, data + m->pos, want);
	m->pos += want;
	return (sf_count_t)want;
}

static sf_count_t
audio_mem_write(const void *ptr, sf_count_t count, void *user)
{
	struct audio_mem *m = user;
	size_t n, end;

	if (m->rdata != NULL || count <= 0)
		return 0;
	n = (size_t)count;
	if (n > INT32_MAX || m->pos > INT32_MAX - n)
		return 0;
	end = m->pos + n;
	if (end > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;

		while (cap < end)
			cap *= 2;
		m->wdata = xreallocarray(m->wdata, cap, 1);
		m->cap = cap;
	}
	if (m->pos > m->len)
		memset(m->wdata + m->len, 0, m->pos - m->len);
	memcpy(m->wdata + m->pos, ptr, n);
	m->pos = end;
	if (end > m->len)
		m->len = end;
	return count;
}

static sf_count_t
audio_mem_tell(void *user)
{
	const struct audio_mem *m = user;

	return (sf_count_t)m->pos;
}

static SF_VIRTUAL_IO audio_mem_io = {
    audio_mem_filelen,
    audio_mem_seek,
    audio_mem_read,
    audio_mem_write,
    audio_mem_tell,
};

static int
audio_rate_ok(int rate)
{
	return rate >= AUDIO_MIN_RATE && rate <= AUDIO_MAX_RATE;
}

static int16_t
audio_float_to_s16(float v)
{
	if (isnan(v))
		return 0;
	v *= 32768.0f;
	if (v >= 32767.0f)
		return INT16_MAX;
	if (v <= -32768.0f)
		return INT16_MIN;
	return (int16_t)lrintf(v);
}

/*
 * Read every frame of sf (opened for reading with info) as mono PCM16 into
 * *pcm / *n / *rate; what names the source in log lines. Does not close sf.
 */
static int
audio_read_sf(SNDFILE *sf, const SF_INFO *info, const char *what, int16_t **pcm,
    size_t *n, int *rate)
{
	int ch = info->channels;
	size_t max, have = 0, cap = AUDIO_READ_CHUNK;
	int16_t *out = NULL;
	float *chunk = NULL;
	sf_count_t got;

	if (ch < 1 || ch > AUDIO_MAX_CHANNELS ||
	    !audio_rate_ok(info->samplerate)) {
		log_warnx("audio: %s: unsupported layout (%d channels, %d Hz)",
		    what, ch, info->samplerate);
		return -1;
	}
	max = (size_t)info->samplerate * AUDIO_MAX_SECONDS;
	if (info->frames > 0 && info->frames != SF_COUNT_MAX &&
	    (uint64_t)info->frames > max) {
		log_warnx("audio: %s: too long (%lld frames at %d Hz)", what,
		    (long long)info->frames, info->samplerate);
		return -1;
	}
	out = xreallocarray(NULL, cap, sizeof(*out));
	chunk =
	    xreallocarray(NULL, AUDIO_READ_CHUNK * (size_t)ch, sizeof(*chunk));
	while ((got = sf_readf_float(sf, chunk, AUDIO_READ_CHUNK)) > 0) {
		if (have + (size_t)got > max) {
			log_warnx("audio: %s: longer than %d s", what,
			    AUDIO_MAX_SECONDS);
			goto fail;
		}
		if (have + (size_t)got > cap) {
			while (cap < have + (size_t)got)
				cap *= 2;
			out = xreallocarray(out, cap, sizeof(*out));
		}
		for (sf_count_t f = 0; f < got; f++) {
			const float *fr = chunk + (size_t)f * (size_t)ch;
			float sum = 0.0f;

			for (int c = 0; c < ch; c++)
				sum += fr[c];
			out[have++] = audio_float_to_s16(sum / (float)ch);
		}
	}
	if (got < 0 || sf_error(sf) != SF_ERR_NO_ERROR) {
		log_warnx("audio: %s: read error: %s", what, sf_strerror(sf));
		goto fail;
	}
	free(chunk);
	*pcm = out;
	*n = have;
	*rate = info->samplerate;
	return 0;
fail:
	free(chunk);
	free(out);
	return -1;
}

/* Check the arguments of a WAV write; what names the target in log lines. */
static int
audio_write_args_ok(const int16_t *pcm, size_t n, int rate, const char *what)
{
	if (!audio_rate_ok(rate)) {
		log_warnx("audio: %s: bad sample rate %d", what, rate);
		return 0;
	}
	if (n > (size_t)rate * AUDIO_MAX_SECONDS || (n > 0 && pcm == NULL)) {
		log_warnx(
		    "audio: %s: bad sample buffer (%zu samples)", what, n);
		return 0;
	}
	return 1;
}

/* Write n samples to sf and close it; return 0 or -1 (sf closed anyway). */
static int
audio_write_sf(SNDFILE *sf, const int16_t *pcm, size_t n, const char *what)
{
	sf_count_t put = 0;
	int rc;

	if (n > 0)
		put = sf_writef_short(sf, pcm, (sf_count_t)n);
	if (put != (sf_count_t)n) {
		log_warnx("audio: %s: short write (%lld of %zu samples): %s",
		    what, (long long)put, n, sf_strerror(sf));
		sf_close(sf);
		return -1;
	}
	rc = sf_close(sf);
	if (rc != 0) {
		log_warnx("audio: %s: close: %s", what, sf_error_number(rc));
		return -1;
	}
	return 0;
}

static SF_INFO
audio_wav_info(int rate)
{
	SF_INFO info;

	memset(&info, 0, sizeof(info));
	info.samplerate = rate;
	info.channels = 1;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	return info;
}

int
audio_wav_encode(
    const int16_t *pcm, size_t n, int rate, uint8_t **wav, size_t *wavlen)
{
	struct audio_mem m = {NULL, NULL, 0, 0, 0};
	SF_INFO info = audio_wav_info(rate);
	SNDFILE *sf;

	*wav = NULL;
	*wavlen = 0;
	if (!audio_write_args_ok(pcm, n, rate, "wav encode"))
		return -1;
	sf = sf_open_virtual(&audio_mem_io, SFM_WRITE, &info, &m);
	if (sf == NULL) {
		log_warnx("audio: wav encode: %s", sf_strerror(NULL));
		free(m.wdata);
		return -1;
	}
	if (audio_write_sf(sf, pcm, n, "wav encode") == -1) {
		free(m.wdata);
		return -1;
	}
	*wav = m.wdata;
	*wavlen = m.len;
	return 0;
}

int
audio_wav_decode(
    const uint8_t *wav, size_t len, int16_t **pcm, size_t *n, int *rate)
{
	struct audio_mem m = {wav, NULL, len, 0, 0};
	SF_INFO info;
	SNDFILE *sf;
	int rc;

	*pcm = NULL;
	*n = 0;
	*rate = 0;
	if (wav == NULL || len == 0 || len > INT32_MAX) {
		log_warnx("audio: wav decode: bad input size %zu", len);
		return -1;
	}
	memset(&info, 0, sizeof(info));
	sf = sf_open_virtual(&audio_mem_io, SFM_READ, &info, &m);
	if (sf == NULL) {
		log_warnx("audio: wav decode: %zu bytes refused: %s", len,
		    sf_strerror(NULL));
		return -1;
	}
	rc = audio_read_sf(sf, &info, "wav decode", pcm, n, rate);
	sf_close(sf);
	return rc;
}

int
audio_wav_write_file(const char *path, const int16_t *pcm, size_t n, int rate)
{
	SF_INFO info = audio_wav_info(rate);
	SNDFILE *sf;

	if (!audio_write_args_ok(pcm, n, rate, path))
		return -1;
	sf = sf_open(path, SFM_WRITE, &info);
	if (sf == NULL) {
		log_warnx("audio: %s: %s", path, sf_strerror(NULL));
		return -1;
	}
	return audio_write_sf(sf, pcm, n, path);
}

int
audio_wav_read_file(const char *path, int16_t **pcm, size_t *n, int *rate)
{
	SF_INFO info;
	SNDFILE *sf;
	int rc;

	*pcm = NULL;
	*n = 0;
	*rate = 0;
	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (sf == NULL) {
		log_warnx("audio: %s: %s", path, sf_strerror(NULL));
		return -1;
	}
	rc = audio_read_sf(sf, &info, path, pcm, n, rate);
	sf_close(sf);
	return rc;
}

size_t
audio_resampled_len(size_t n, int from, int to)
{
	if (from <= 0 || to <= 0)
		return 0;
	/* n is bounded by the callers (AUDIO_MAX_SECONDS), so no overflow. */
	return (size_t)(((uint64_t)n * (uint64_t)to + (uint64_t)from / 2) /
			(uint64_t)from);
}

int
audio_resample(
    const int16_t *in, size_t n, int from, int to, int16_t **out, size_t *outn)
{
	soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	size_t want, idone = 0, odone = 0;
	soxr_error_t err;
	int16_t *buf;

	/* No dither: the same text must render to the same bytes every time
	 * (the caller's audio and the transcription stand-in's expectation). */
	io.flags |= SOXR_NO_DITHER;
	*out = NULL;
	*outn = 0;
	if (!audio_rate_ok(from) || !audio_rate_ok(to)) {
		log_warnx("audio: resample: bad rates %d -> %d", from, to);
		return -1;
	}
	if (n > (size_t)from * AUDIO_MAX_SECONDS || (n > 0 && in == NULL)) {
		log_warnx("audio: resample: bad input (%zu samples at %d Hz)",
		    n, from);
		return -1;
	}
	want = audio_resampled_len(n, from, to);
	/* Room for soxr's rounding (it may give one sample more). */
	buf = xreallocarray(NULL, want + 2, sizeof(*buf));
	if (n == 0) {
		*out = buf;
		return 0;
	}
	if (from == to) {
		memcpy(buf, in, n * sizeof(*buf));
		*out = buf;
		*outn = n;
		return 0;
	}
	err = soxr_oneshot(
	    from, to, 1, in, n, &idone, buf, want + 2, &odone, &io, &q, NULL);
	if (err != NULL) {
		log_warnx("audio: resample %d -> %d of %zu samples: %s", from,
		    to, n, err);
		free(buf);
		return -1;
	}
	/* Pin the length to round(n * to / from); soxr may differ by one. */
	if (odone < want)
		memset(buf + odone, 0, (want - odone) * sizeof(*buf));
	*out = buf;
	*outn = want;
	return 0;
}

static int
audio_espeak_collect(short *wav, int numsamples, espeak_EVENT *events)
{
	size_t k;

	(void)events;
	if (wav == NULL || numsamples <= 0)
		return 0;
	k = (size_t)numsamples;
	if (audio_espeak.n + k > audio_espeak.max) {
		audio_espeak.overflow = 1;
		return 1; /* abort the synthesis */
	}
	if (audio_espeak.n + k > audio_espeak.cap) {
		size_t cap = audio_espeak.cap ? audio_espeak.cap : 8192;

		while (cap < audio_espeak.n + k)
			cap *= 2;
		audio_espeak.samples = xreallocarray(
		    audio_espeak.samples, cap, sizeof(*audio_espeak.samples));
		audio_espeak.cap = cap;
	}
	memcpy(audio_espeak.samples + audio_espeak.n, wav,
	    k * sizeof(*audio_espeak.samples));
	audio_espeak.n += k;
	return 0;
}

/* Initialise espeak-ng with the Hebrew voice once; return 0 or -1. */
static int
audio_espeak_init(void)
{
	int rate;
	espeak_ERROR err;

	if (audio_espeak.state == 1)
		return 0;
	if (audio_espeak.state == -1) {
		log_warnx("audio: espeak-ng is unavailable (failed to "
			  "initialise earlier)");
		return -1;
	}
	audio_espeak.state = -1;
	rate = espeak_Initialize(
	    AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
	if (!audio_rate_ok(rate)) {
		log_warnx("audio: espeak_Initialize failed (%d)", rate);
		return -1;
	}
	espeak_SetSynthCallback(audio_espeak_collect);
	err = espeak_SetVoiceByName("he");
	if (err != EE_OK) {
		log_warnx("audio: espeak-ng has no voice \"he\" (error %d)",
		    (int)err);
		espeak_Terminate();
		return -1;
	}
	audio_espeak.rate = rate;
	audio_espeak.state = 1;
	return 0;
}

/* Render text at the native rate into audio_espeak.samples; 0 or -1. */
static int
audio_espeak_render(const char *text, int wpm)
{
	espeak_ERROR err;

	if (text == NULL || text[0] == '\0') {
		log_warnx("audio: espeak: empty text");
		return -1;
	}
	if (wpm == 0)
		wpm = AUDIO_WPM_DEFAULT;
	if (wpm < AUDIO_WPM_MIN || wpm > AUDIO_WPM_MAX) {
		log_warnx("audio: espeak: rate %d wpm outside %d..%d", wpm,
		    AUDIO_WPM_MIN, AUDIO_WPM_MAX);
		return -1;
	}
	if (audio_espeak_init() == -1)
		return -1;
	err = espeak_SetParameter(espeakRATE, wpm, 0);
	if (err != EE_OK) {
		log_warnx("audio: espeak: cannot set rate %d (error %d)", wpm,
		    (int)err);
		return -1;
	}
	audio_espeak.n = 0;
	audio_espeak.overflow = 0;
	audio_espeak.max = (size_t)audio_espeak.rate * AUDIO_ESPEAK_MAX_SECONDS;
	err = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
	    espeakCHARS_UTF8, NULL, NULL);
	if (audio_espeak.overflow) {
		log_warnx("audio: espeak: text of %zu bytes is longer than %d "
			  "s of speech",
		    strlen(text), AUDIO_ESPEAK_MAX_SECONDS);
		return -1;
	}
	if (err != EE_OK) {
		log_warnx("audio: espeak_Synth failed (error %d)", (int)err);
		return -1;
	}
	if (audio_espeak.n == 0) {
		log_warnx("audio: espeak: text of %zu bytes gave no audio",
		    strlen(text));
		return -1;
	}
	return 0;
}

int
audio_espeak_pcm8k(const char *text, int wpm, int16_t **pcm, size_t *n)
{
	*pcm = NULL;
	*n = 0;
	if (audio_espeak_render(text, wpm) == -1)
		return -1;
	return audio_resample(audio_espeak.samples, audio_espeak.n,
	    audio_espeak.rate, AUDIO_PHONE_RATE, pcm, n);
}

int
audio_espeak_mulaw(const char *text, int wpm, uint8_t **mulaw, size_t *n)
{
	int16_t *pcm;
	size_t count;

	*mulaw = NULL;
	*n = 0;
	if (audio_espeak_pcm8k(text, wpm, &pcm, &count) == -1)
		return -1;
	*mulaw = xmalloc(count);
	mulaw_encode_buf(pcm, count, *mulaw);
	*n = count;
	free(pcm);
	return 0;
}

void
audio_shutdown(void)
{
	if (audio_espeak.state == 1)
		espeak_Terminate();
	free(audio_espeak.samples);
	memset(&audio_espeak, 0, sizeof(audio_espeak));
}
