/*
 * STT_JOB: one utterance in, one STT_RESULT out.
 *
 * A job's path: the blob (mu-law 8 kHz mono) is decoded to PCM16, its RMS
 * level measured (the filter's energy signal), wrapped as a 16-bit WAV
 * (common/audio.c) and posted to the transcription endpoint
 * (openai_stt.c). The answer is judged by the hallucination filter
 * (filter.c) and sent back as STT_RESULT {text, confidence, no_speech,
 * duration_ms, stt_ms} with flag FINAL.
 *
 * Failures always come back as STT_RESULT with flags FINAL|ERROR and
 * {error, message, stt_ms, attempts}: error is "bad_audio", "quota",
 * "timeout" or "provider". Never a silent drop, except for a cancelled job,
 * which sends nothing (worker.h).
 *
 * Retries (openai_retry_ms) happen only while the wait and another try
 * fit the job's remaining budget (a job without a budget gets
 * MERKAZIA_STT_DEFAULT_BUDGET_MS); each try is capped at
 * MERKAZIA_STT_TIMEOUT_MS and at what is left. insufficient_quota is never
 * retried: it raises an operator alert in the log (level error, "operator
 * alert") and in the heartbeat (provider unreachable, last error
 * insufficient_quota) until a transcription succeeds again.
 *
 * Cancels: on_cancel cancels the provider request (httpc_cancel never
 * calls back) and ends the job from a zero-delay event, never from inside
 * the worker's walk over its jobs (R8).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "audio.h"
#include "clock.h"
#include "log.h"
#include "mulaw.h"
#include "stt.h"
#include "xmalloc.h"

#define STT_JOB_REPLY_MARGIN_MS 50  /* kept to send the result */
#define STT_JOB_MIN_TRY_MS	200 /* a try with less than this is not made */

struct stt_job {
	struct stt *s;
	struct worker_job *job;
	struct httpc_req *req;
	struct event *ev; /* the wait before a retry, or the deferred end */
	uint8_t *wav;
	size_t wav_len;
	char *language;
	char *prompt;
	double rms_dbfs;
	long duration_ms;
	int64_t started_ms;
	int retries;
	bool ending;
};

static void stt_job_attempt(struct stt_job *sj);

static struct log_ctx
stt_job_ctx(const struct worker_job *j)
{
	struct log_ctx ctx = {
	    j->call_sid, NULL, j->job_id, (long)j->generation};

	return ctx;
}

static void
stt_job_free(struct stt_job *sj)
{
	if (sj == NULL)
		return;
	if (sj->req != NULL)
		httpc_cancel(sj->req);
	if (sj->ev != NULL)
		event_free(sj->ev);
	free(sj->wav);
	free(sj->language);
	free(sj->prompt);
	free(sj);
}

/* Forget the job: end it in the worker and free our state. */
static void
stt_job_end(struct stt_job *sj)
{
	struct worker_job *j = sj->job;

	j->data = NULL;
	stt_job_free(sj);
	worker_job_end(j);
}

/* What is left of the job's budget, in ms. */
static long
stt_job_remaining(const struct stt_job *sj)
{
	const struct worker_job *j = sj->job;
	long used;

	if (j->budget_ms != 0)
		return worker_job_remaining_ms(j);
	used = (long)(clock_mono_ms() - j->received_ms);
	return used >= sj->s->default_ms ? 0 : sj->s->default_ms - used;
}

static long
stt_job_elapsed(const struct stt_job *sj)
{
	return (long)(clock_mono_ms() - sj->started_ms);
}

/* Send the error result and end the job. */
static void
stt_job_fail(struct stt_job *sj, const char *error, const char *message)
{
	struct log_ctx ctx = stt_job_ctx(sj->job);
	long ms = stt_job_elapsed(sj);
	json_t *o = json_pack("{s:s, s:s, s:I, s:i, s:I}", "error", error,
	    "message", message, "stt_ms", (json_int_t)ms, "attempts",
	    sj->retries + 1, "duration_ms", (json_int_t)sj->duration_ms);
	char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;

	log_call(LOG_LEVEL_WARN, &ctx,
	    "transcription failed (%s) after %d attempt(s) in %ld ms: %s",
	    error, sj->retries + 1, ms, message);
	(void)worker_job_reply(
	    sj->job, MSG_STT_RESULT, MSG_F_FINAL | MSG_F_ERROR, js, NULL, 0);
	free(js);
	json_decref(o);
	stt_job_end(sj);
}

static void
stt_job_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stt_job *sj = arg;

	(void)fd;
	(void)what;
	if (sj->ending || worker_job_is_cancelled(sj->job)) {
		stt_job_end(sj);
		return;
	}
	stt_job_attempt(sj);
}

/* Send the transcript, judged by the filter, and end the job. */
static void
stt_job_succeed(struct stt_job *sj, const struct openai_stt_result *r)
{
	struct log_ctx ctx = stt_job_ctx(sj->job);
	struct stt_filter_in in;
	struct stt_filter_out out;
	long ms = stt_job_elapsed(sj);
	json_t *o, *conf;
	char *js;

	memset(&in, 0, sizeof(in));
	in.text = r->text;
	in.prompt = sj->prompt;
	in.has_segments = r->has_segments;
	in.no_speech_prob = r->no_speech_prob;
	in.avg_logprob = r->avg_logprob;
	in.has_logprob = r->has_logprob;
	in.compression_ratio = r->compression_ratio;
	in.all_silent = r->all_silent;
	in.rms_dbfs = sj->rms_dbfs;
	in.silence_dbfs = (double)sj->s->silence_dbfs;
	stt_filter_judge(&in, &out);
	if (r->has_logprob) {
		double c = exp(r->avg_logprob);

		conf = json_real(c > 1.0 ? 1.0 : c < 0.0 ? 0.0 : c);
	} else
		conf = json_null();
	o = json_pack("{s:s, s:o, s:b, s:I, s:I, s:i, s:f}", "text",
	    out.no_speech ? "" : r->text, "confidence", conf, "no_speech",
	    out.no_speech, "duration_ms", (json_int_t)sj->duration_ms, "stt_ms",
	    (json_int_t)ms, "attempts", sj->retries + 1, "rms_dbfs",
	    round(sj->rms_dbfs * 10.0) / 10.0);
	if (o != NULL && out.no_speech) {
		json_object_set_new(o, "filtered", json_string(r->text));
		json_object_set_new(o, "reason", json_string(out.reason));
	}
	if (o != NULL && out.hit != NULL)
		json_object_set_new(o, "hit", json_string(out.hit));
	js = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (js == NULL) {
		json_decref(o);
		stt_job_fail(sj, "provider", "transcript is not valid UTF-8");
		return;
	}
	log_call(LOG_LEVEL_INFO, &ctx,
	    "transcribed %ld ms of audio in %ld ms (%d attempt(s))%s%s%s",
	    sj->duration_ms, ms, sj->retries + 1,
	    out.no_speech ? ": no speech (" : "",
	    out.no_speech ? out.reason : "", out.no_speech ? ")" : "");
	(void)worker_job_reply(
	    sj->job, MSG_STT_RESULT, MSG_F_FINAL, js, NULL, 0);
	free(js);
	json_decref(o);
	if (sj->s->quota_alert)
		log_info(
		    "OpenAI transcription works again; quota alert cleared");
	sj->s->quota_alert = false;
	worker_set_provider(sj->s->w, true, NULL);
	stt_job_end(sj);
}

static void
stt_job_done(struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct stt_job *sj = arg;
	struct log_ctx ctx = stt_job_ctx(sj->job);
	struct openai_error e;
	struct openai_stt_result tr;
	const char *xs;
	char msg[512];
	long wait, left;

	sj->req = NULL;
	if (worker_job_is_cancelled(sj->job)) {
		stt_job_end(sj);
		return;
	}
	if (res->status == HTTPC_OK && res->code == 200) {
		if (openai_stt_parse(res->body, res->body_len, &tr) == 0) {
			stt_job_succeed(sj, &tr);
			openai_stt_result_free(&tr);
			return;
		}
		stt_job_fail(sj, "provider",
		    "the transcription answer is "
		    "not the expected JSON");
		return;
	}
	(void)openai_error_parse(
	    res->status == HTTPC_OK ? res->body : NULL, res->body_len, &e);
	if (res->status == HTTPC_OK)
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s", res->code,
		    e.message[0] ? ": " : "", e.message);
	else
		snprintf(msg, sizeof(msg), "%s: %s",
		    httpc_status_name(res->status), res->error);
	if (res->status == HTTPC_OK && res->code == 429 &&
	    openai_error_is_quota(&e)) {
		log_call(LOG_LEVEL_ERROR, &ctx,
		    "operator alert: OpenAI insufficient_quota: the account's "
		    "quota is spent; transcription is down until billing is "
		    "fixed (%s)",
		    e.message);
		sj->s->quota_alert = true;
		worker_set_provider(sj->s->w, false, "insufficient_quota");
		stt_job_fail(sj, "quota", msg);
		return;
	}
	wait = openai_retry_ms(res->status, res->code, res->retry_after_ms, &e,
	    sj->retries, (double)arc4random_uniform(1000) / 1000.0);
	xs = res->status == HTTPC_OK ? httpc_header(r, "x-should-retry") : NULL;
	if (xs != NULL && strcmp(xs, "false") == 0)
		wait = -1;
	left = stt_job_remaining(sj) - STT_JOB_REPLY_MARGIN_MS;
	if (wait >= 0 && sj->retries < sj->s->retries &&
	    wait + STT_JOB_MIN_TRY_MS <= left) {
		struct timeval tv = {
		    wait / 1000, (suseconds_t)(wait % 1000) * 1000};

		sj->retries++;
		log_call(LOG_LEVEL_WARN, &ctx,
		    "transcription try %d failed (%s); retrying in %ld ms",
		    sj->retries, msg, wait);
		evtimer_add(sj->ev, &tv);
		return;
	}
	if (res->status != HTTPC_OK || res->code >= 500 || res->code == 429)
		worker_set_provider(sj->s->w, false,
		    res->status != HTTPC_OK ? httpc_status_name(res->status)
					    : msg);
	stt_job_fail(sj,
	    res->status == HTTPC_ERR_TIMEOUT || (wait >= 0 && left <= 0)
		? "timeout"
		: "provider",
	    msg);
}

/* Make one try, or fail when the budget cannot hold one. */
static void
stt_job_attempt(struct stt_job *sj)
{
	long left = stt_job_remaining(sj) - STT_JOB_REPLY_MARGIN_MS;
	long budget = left < sj->s->timeout_ms ? left : sj->s->timeout_ms;

	if (left < STT_JOB_MIN_TRY_MS) {
		stt_job_fail(sj, "timeout", "the job's time budget ran out");
		return;
	}
	sj->req = openai_stt_request(
	    sj->s, sj->wav, sj->wav_len, sj->language, sj->prompt, budget);
	httpc_start(sj->req, stt_job_done, sj);
}

/* The STT_JOB handler (arg: struct stt). */
void
stt_job_on_msg(struct nnsock *sock, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct stt *s = arg;
	struct worker_job *j;
	struct stt_job *sj;
	const char *lang, *prompt;
	int16_t *pcm;

	(void)sock;
	(void)rx;
	if ((j = worker_job_begin(s->w, m)) == NULL)
		return;
	sj = xcalloc(1, sizeof(*sj));
	sj->s = s;
	sj->job = j;
	sj->started_ms = clock_mono_ms();
	sj->ev = evtimer_new(s->d->base, stt_job_ev_cb, sj);
	j->data = sj;
	lang = json_string_value(json_object_get(payload, "language"));
	prompt = json_string_value(json_object_get(payload, "prompt"));
	sj->language = xstrdup(lang != NULL && lang[0] != '\0' ? lang : "he");
	if (prompt == NULL || prompt[0] == '\0')
		prompt = s->prompt;
	sj->prompt =
	    prompt != NULL && prompt[0] != '\0' ? xstrdup(prompt) : NULL;
	sj->duration_ms = (long)(m->blob_len / 8);
	if (m->blob_len == 0 || m->blob_len > STT_AUDIO_MAX) {
		stt_job_fail(sj, "bad_audio",
		    m->blob_len == 0 ? "the job carries no audio"
				     : "the utterance is too long");
		return;
	}
	pcm = xreallocarray(NULL, m->blob_len, sizeof(*pcm));
	mulaw_decode_buf(m->blob, m->blob_len, pcm);
	sj->rms_dbfs = stt_filter_rms_dbfs(pcm, m->blob_len);
	if (audio_wav_encode(pcm, m->blob_len, AUDIO_PHONE_RATE, &sj->wav,
		&sj->wav_len) < 0) {
		free(pcm);
		stt_job_fail(sj, "bad_audio", "cannot encode the audio as WAV");
		return;
	}
	free(pcm);
	stt_job_attempt(sj);
}

/* A cancel hit job: stop its request; end it from the loop (R8). */
void
stt_job_on_cancel(struct worker_job *job, void *arg)
{
	struct stt_job *sj = job->data;
	struct timeval now = {0, 0};

	(void)arg;
	if (sj == NULL || sj->ending)
		return;
	if (sj->req != NULL) {
		httpc_cancel(sj->req);
		sj->req = NULL;
	}
	sj->ending = true;
	evtimer_del(sj->ev);
	evtimer_add(sj->ev, &now);
}

/* At shutdown: free the state of every job still in flight. */
void
stt_job_free_all(struct stt *s)
{
	struct worker_job *j;

	if (s->w == NULL)
		return;
	for (j = TAILQ_FIRST(&s->w->inflight); j != NULL;
	     j = TAILQ_NEXT(j, entry)) {
		struct stt_job *sj = j->data;

		j->data = NULL;
		stt_job_free(sj);
	}
}
