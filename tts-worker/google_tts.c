/*
 * Google Cloud Text-to-Speech over REST: the text:synthesize request and
 * the parsers of what comes back.
 *
 * Why a file of its own: the request's shape (he-IL, MULAW at 8000 Hz, the
 * telephony effects profile) and the answer's quirks live here and nowhere
 * else. The answer is {"audioContent": base64}, and for MULAW the audio is
 * a whole WAV file, header included (reference/ai-apis.md §4.2). The header
 * is walked chunk by chunk (RIFF/WAVE, fmt, then LIST, fact or any other
 * chunk skipped with its pad byte, up to data); cutting a fixed 44 bytes
 * would play a LIST chunk as noise, or cut speech, the day Google adds one.
 *
 * Google refuses input.text over 5000 UTF-8 bytes; google_tts_split_len()
 * finds where to cut a longer text (a sentence end, else a space, else a
 * character boundary) and job.c concatenates the pieces' audio.
 *
 * Purity: every function here but google_tts_start() is a pure function
 * over buffers (R15): no I/O, no logging, so they are unit-tested
 * (tests/unit/test_tts_worker_google.c) and fuzzed
 * (tests/fuzz/fuzz_tts_wav.c). Failures come back as -1 with a static
 * reason string for the caller's log line.
 *
 * Security: google_tts_start() puts the access token in a header; httpc
 * never logs headers or bodies, and nothing here logs at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "httpc.h"
#include "mulaw.h"
#include "tts.h"
#include "xmalloc.h"

#define GOOGLE_TTS_RATE	    8000u
#define GOOGLE_TTS_MAX_BODY ((size_t)16 * 1024 * 1024)
#define WAV_FORMAT_EXT	    0xfffeu

static unsigned int
google_tts_le16(const uint8_t *p)
{
	return (unsigned int)p[0] | (unsigned int)p[1] << 8;
}

static uint32_t
google_tts_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int
google_tts_wav_fmt(const uint8_t *p, size_t sz, struct google_tts_wav *out)
{
	if (sz < 16)
		return -1;
	out->format = google_tts_le16(p);
	out->channels = google_tts_le16(p + 2);
	out->rate = google_tts_le32(p + 4);
	out->bits = google_tts_le16(p + 14);
	/* WAVE_FORMAT_EXTENSIBLE: the real format opens the sub-format GUID. */
	if (out->format == WAV_FORMAT_EXT) {
		if (sz < 40)
			return -1;
		out->format = google_tts_le16(p + 24);
	}
	return 0;
}

/*
 * Parse the WAV file in the len bytes at buf chunk by chunk and store its
 * format and the place of its samples (pointing into buf) in *out. Chunks
 * other than fmt and data are skipped, odd-sized chunks with their pad
 * byte. A data chunk whose size is 0xFFFFFFFF (a streaming writer's
 * "unknown") runs to the end of buf. Return 0, or -1 for anything that is
 * not a whole RIFF/WAVE file with a fmt and a data chunk.
 */
int
google_tts_wav_parse(const uint8_t *buf, size_t len, struct google_tts_wav *out)
{
	bool have_fmt = false, have_data = false;
	size_t off = 12;

	memset(out, 0, sizeof(*out));
	if (buf == NULL || len < 12 || memcmp(buf, "RIFF", 4) != 0 ||
	    memcmp(buf + 8, "WAVE", 4) != 0)
		return -1;
	while (!(have_fmt && have_data)) {
		const uint8_t *ck = buf + off;
		size_t left, sz;

		if (len - off < 8)
			return -1;
		sz = google_tts_le32(ck + 4);
		left = len - off - 8;
		if (memcmp(ck, "data", 4) == 0) {
			if (sz > left) {
				if (sz != 0xffffffffu)
					return -1; /* truncated */
				sz = left;
			}
			out->data = ck + 8;
			out->data_len = sz;
			have_data = true;
		} else if (sz > left) {
			return -1;
		} else if (memcmp(ck, "fmt ", 4) == 0) {
			if (have_fmt || google_tts_wav_fmt(ck + 8, sz, out) < 0)
				return -1;
			have_fmt = true;
		}
		/* The next chunk, after the pad byte of an odd-sized one. */
		if (sz + (sz & 1) >= left) {
			if (!(have_fmt && have_data))
				return -1;
			break;
		}
		off += 8 + sz + (sz & 1);
	}
	return 0;
}

/*
 * Turn the WAV file at buf into 8 kHz mono mu-law: mu-law is copied,
 * 16-bit PCM at 8 kHz is encoded. Store the new bytes in *mulaw (never
 * NULL on success) and their count in *n. Return 0, or -1 with *why set.
 */
int
google_tts_wav_mulaw(const uint8_t *buf, size_t len, uint8_t **mulaw, size_t *n,
    const char **why)
{
	struct google_tts_wav w;

	*mulaw = NULL;
	*n = 0;
	if (google_tts_wav_parse(buf, len, &w) < 0) {
		*why = "audio is not a well-formed WAV file";
		return -1;
	}
	if (w.channels != 1 || w.rate != GOOGLE_TTS_RATE) {
		*why = "audio is not mono at 8000 Hz";
		return -1;
	}
	if (w.format == GOOGLE_TTS_WAV_MULAW && w.bits == 8) {
		*mulaw = xmalloc(w.data_len > 0 ? w.data_len : 1);
		if (w.data_len > 0)
			memcpy(*mulaw, w.data, w.data_len);
		*n = w.data_len;
		return 0;
	}
	if (w.format == GOOGLE_TTS_WAV_PCM && w.bits == 16) {
		size_t samples = w.data_len / 2;

		*mulaw = xmalloc(samples > 0 ? samples : 1);
		for (size_t i = 0; i < samples; i++)
			(*mulaw)[i] = mulaw_encode(
			    (int16_t)google_tts_le16(w.data + 2 * i));
		*n = samples;
		return 0;
	}
	*why = "audio is neither mu-law nor 16-bit PCM";
	return -1;
}

static bool
google_tts_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Return how many of the len bytes of UTF-8 text at text to send in one
 * request of at most max bytes: len when it fits, else the end of the
 * last sentence (".", "!", "?", "…" or a line break followed by a space)
 * that leaves at least a quarter of max, else the last space, else the
 * last character boundary. Never returns 0 for len > 0 and max >= 4.
 */
size_t
google_tts_split_len(const char *text, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t sentence = 0, word = 0, at;

	if (len <= max)
		return len;
	for (size_t cut = 1; cut <= max; cut++) {
		unsigned char p = s[cut - 1];

		/* A piece of cut bytes ends a word when a space follows it. */
		if (!google_tts_is_space(s[cut]) || google_tts_is_space(p))
			continue;
		word = cut;
		if (s[cut] == '\n' || p == '.' || p == '!' || p == '?' ||
		    (cut >= 3 && s[cut - 3] == 0xe2 && s[cut - 2] == 0x80 &&
			p == 0xa6))
			sentence = cut;
	}
	if (sentence >= max / 4 && sentence > 0)
		return sentence;
	if (word > 0)
		return word;
	/* No space at all: cut before a UTF-8 continuation byte run. */
	at = max;
	while (at > 0 && (s[at] & 0xc0) == 0x80)
		at--;
	return at > 0 ? at : max;
}

/*
 * Return the JSON body of a text:synthesize request for the len bytes of
 * UTF-8 text at text (caller frees), or NULL when the text is not valid
 * UTF-8.
 */
char *
google_tts_request_json(
    const char *text, size_t len, const char *voice, double rate)
{
	json_t *input = json_stringn(text, len), *doc;
	char *out;

	if (input == NULL)
		return NULL;
	doc = json_pack("{s:{s:o}, s:{s:s, s:s}, s:{s:s, s:i, s:f, s:[s]}}",
	    "input", "text", input, "voice", "languageCode", "he-IL", "name",
	    voice, "audioConfig", "audioEncoding", "MULAW", "sampleRateHertz",
	    (int)GOOGLE_TTS_RATE, "speakingRate", rate, "effectsProfileId",
	    "telephony-class-application");
	if (doc == NULL)
		return NULL;
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

/*
 * Parse a successful text:synthesize answer (len bytes of JSON at body)
 * into 8 kHz mu-law: store the new bytes in *mulaw and their count in *n.
 * Return 0, or -1 with *why set.
 */
int
google_tts_parse_response(
    const char *body, size_t len, uint8_t **mulaw, size_t *n, const char **why)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *ac;
	uint8_t *wav = NULL;
	size_t wavlen = 0;
	int rc;

	*mulaw = NULL;
	*n = 0;
	ac = doc != NULL ? json_object_get(doc, "audioContent") : NULL;
	if (!json_is_string(ac)) {
		*why = "answer has no audioContent";
		json_decref(doc);
		return -1;
	}
	if (base64_decode_alloc(json_string_value(ac), json_string_length(ac),
		&wav, &wavlen) < 0) {
		*why = "audioContent is not base64";
		json_decref(doc);
		return -1;
	}
	json_decref(doc);
	rc = google_tts_wav_mulaw(wav, wavlen, mulaw, n, why);
	free(wav);
	return rc;
}

/*
 * Write a one-line description of a failed answer (HTTP code, Google's
 * status and message, cut to fit) into buf. Never includes request data.
 */
void
google_tts_error_text(
    const char *body, size_t len, long code, char *buf, size_t size)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	json_t *err = json_object_get(doc, "error");
	const char *status = json_string_value(json_object_get(err, "status"));
	const char *message =
	    json_string_value(json_object_get(err, "message"));

	snprintf(buf, size, "HTTP %ld%s%s%s%.120s", code, status ? " " : "",
	    status ? status : "", message ? ": " : "", message ? message : "");
	json_decref(doc);
}

/*
 * Start a text:synthesize request for len bytes of text at
 * {base_url}/v1/text:synthesize with the bearer token, within budget_ms;
 * done runs as httpc describes. Return the request (for httpc_cancel), or
 * NULL when the body cannot be built (invalid UTF-8); done is then never
 * called.
 */
struct httpc_req *
google_tts_start(struct httpc *h, const char *base_url, const char *token,
    const char *text, size_t len, const char *voice, double rate,
    long budget_ms,
    void (*done)(struct httpc_req *, const struct httpc_result *, void *),
    void *arg)
{
	char *body = google_tts_request_json(text, len, voice, rate);
	size_t blen = strlen(base_url);
	struct httpc_req *r;
	char *url, *auth;

	if (body == NULL)
		return NULL;
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s/v1/text:synthesize", (int)blen, base_url);
	auth = xasprintf("Bearer %s", token);
	r = httpc_req_new(h, "POST", url, budget_ms);
	httpc_req_header(r, "Authorization", auth);
	httpc_req_header(r, "Content-Type", "application/json; charset=utf-8");
	httpc_req_max_body(r, GOOGLE_TTS_MAX_BODY);
	httpc_req_body_take(r, body, strlen(body));
	httpc_start(r, done, arg);
	memset(auth, 0, strlen(auth));
	free(auth);
	free(url);
	return r;
}
