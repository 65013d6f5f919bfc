/*
 * The OpenAI transcription wire format: POST {OPENAI_BASE_URL}/audio/
 * transcriptions as multipart/form-data, and the parsers of its answers.
 *
 * Why one file: the request shape (reference/ai-apis.md §1.2) and the two
 * answer shapes (verbose_json with per-segment statistics for whisper-1,
 * json with optional token logprobs for the gpt-4o transcribe models,
 * §1.3) and the error document (§1.5) are the provider's contract; when
 * the provider changes, this file changes. The parsers are pure (bytes in,
 * structs out) and fuzzed with the chat parsers
 * (tests/fuzz/fuzz_provider_json.c includes this file).
 *
 * The request: file (utterance.wav, audio/wav: the extension and type tell
 * the server the format), model, language (he), temperature 0, an optional
 * prompt; whisper-* models get response_format verbose_json, the gpt-4o
 * transcribe models json with include[]=logprobs (the only format they
 * support). The Bearer key travels only in the Authorization header, which
 * httpc never logs.
 *
 * Retries (§1.5, after the official SDK): connection errors, 408, 409,
 * 429 and 5xx are retried; a 429 whose error is insufficient_quota never is
 * (the caller alerts an operator); Retry-After is honoured when 0 < it <=
 * 120 s, else the wait is min(0.5 s * 2^n, 8 s) * (1 - 0.25 * jitter). The
 * caller checks that the wait fits the job's budget.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stt.h"
#include "xmalloc.h"

#define OPENAI_STT_CONNECT_MS 2000L

void
openai_stt_result_free(struct openai_stt_result *r)
{
	if (r == NULL)
		return;
	free(r->text);
	r->text = NULL;
}

static double
openai_stt_num(const json_t *o, const char *key, bool *ok)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_number(v)) {
		*ok = true;
		return json_number_value(v);
	}
	*ok = false;
	return 0.0;
}

/*
 * Parse a transcription answer (json or verbose_json) of len bytes into
 * *out (out->text owned, free with openai_stt_result_free). Return 0, or -1
 * when it is not a JSON object with a string "text".
 */
int
openai_stt_parse(const char *body, size_t len, struct openai_stt_result *out)
{
	json_t *root, *segs, *lps;
	const char *text;
	double lp_sum = 0.0, ns_sum = 0.0;
	size_t lp_n = 0, i;
	json_t *v;
	bool ok;

	memset(out, 0, sizeof(*out));
	out->duration_s = -1.0;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	text = json_string_value(json_object_get(root, "text"));
	if (!json_is_object(root) || text == NULL) {
		json_decref(root);
		return -1;
	}
	out->text = xstrdup(text);
	{
		double d = openai_stt_num(root, "duration", &ok);

		if (ok && d >= 0.0)
			out->duration_s = d;
	}
	segs = json_object_get(root, "segments");
	if (json_is_array(segs) && json_array_size(segs) > 0) {
		out->has_segments = true;
		out->all_silent = true;
		json_array_foreach(segs, i, v) {
			double ns = openai_stt_num(v, "no_speech_prob", &ok);
			bool ns_ok = ok;
			double lp = openai_stt_num(v, "avg_logprob", &ok);
			bool lp_ok = ok;
			double cr = openai_stt_num(v, "compression_ratio", &ok);

			if (!json_is_object(v))
				continue;
			out->nsegments++;
			if (ns_ok)
				ns_sum += ns;
			if (lp_ok) {
				lp_sum += lp;
				lp_n++;
			}
			if (ok && cr > out->compression_ratio)
				out->compression_ratio = cr;
			if (!(ns_ok && lp_ok && ns > STT_NO_SPEECH_PROB &&
				lp < STT_LOGPROB_MIN))
				out->all_silent = false;
		}
		if (out->nsegments == 0) {
			out->has_segments = false;
			out->all_silent = false;
		} else
			out->no_speech_prob = ns_sum / (double)out->nsegments;
	} else if (json_is_array(lps = json_object_get(root, "logprobs"))) {
		json_array_foreach(lps, i, v) {
			double lp = openai_stt_num(v, "logprob", &ok);

			if (ok) {
				lp_sum += lp;
				lp_n++;
			}
		}
	}
	if (lp_n > 0) {
		out->has_logprob = true;
		out->avg_logprob = lp_sum / (double)lp_n;
	}
	json_decref(root);
	return 0;
}

/* Whether model answers verbose_json with segment statistics. */
bool
openai_stt_is_verbose(const char *model)
{
	return strncmp(model, "whisper", 7) == 0;
}

/*
 * Build (not start) the transcription request of the wav_len bytes at wav
 * (copied) with budget_ms; prompt may be NULL. Return the request.
 */
struct httpc_req *
openai_stt_request(struct stt *s, const uint8_t *wav, size_t wav_len,
    const char *language, const char *prompt, long budget_ms)
{
	size_t blen = strlen(s->base_url);
	char *url, *auth;
	struct httpc_req *r;

	while (blen > 0 && s->base_url[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s/audio/transcriptions", (int)blen, s->base_url);
	auth = xasprintf("Bearer %s", s->api_key);
	r = httpc_req_new(s->http, "POST", url, budget_ms);
	httpc_req_connect_timeout(r, OPENAI_STT_CONNECT_MS);
	httpc_req_header(r, "Authorization", auth);
	httpc_req_header(r, "Accept", "application/json");
	httpc_req_mime_file(
	    r, "file", "utterance.wav", "audio/wav", wav, wav_len);
	httpc_req_mime_text(r, "model", s->model);
	httpc_req_mime_text(r, "language", language);
	httpc_req_mime_text(r, "temperature", "0");
	if (openai_stt_is_verbose(s->model))
		httpc_req_mime_text(r, "response_format", "verbose_json");
	else {
		httpc_req_mime_text(r, "response_format", "json");
		if (strncmp(s->model, "gpt-4o", 6) == 0 &&
		    strstr(s->model, "diarize") == NULL)
			httpc_req_mime_text(r, "include[]", "logprobs");
	}
	if (prompt != NULL && prompt[0] != '\0')
		httpc_req_mime_text(r, "prompt", prompt);
	free(auth);
	free(url);
	return r;
}
