/*
 * TTS_JOB to TTS_RESULT: the life of one sentence in the tts-worker.
 *
 * A job (common/worker.h) carries index, text, voice and rate. Its text is
 * expanded for speech (hebnum_normalize: numbers, prices, phone numbers as
 * Hebrew words), then:
 *   1. the cache (cache.c) is asked for voice + rate + text: a hit answers
 *      at once, cached: true;
 *   2. else Google synthesizes it (google_tts.c) with the cached access
 *      token (gauth.c), piece by piece when the text is over Google's 5000
 *      bytes, the pieces' audio concatenated; the audio goes to the cache
 *      and back, voice_used: the Google voice;
 *   3. when Google fails (after up to MERKAZIA_TTS_RETRIES retries of
 *      connect errors, 429 and 5xx, one token refresh on a 401), or the
 *      job's budget less MERKAZIA_TTS_FALLBACK_MS runs out first, or was
 *      already nearly spent on arrival, espeak-ng speaks the text
 *      (fallback.c), voice_used: "espeak-ng", never cached.
 * Every job ends in exactly one TTS_RESULT (flag FINAL; ERROR with error
 * and message for a bad job or when even the fallback voice fails),
 * unless it was cancelled: then its request is aborted (on_cancel ->
 * httpc_cancel) and nothing is sent.
 *
 * State per job: at most one of an HTTP request, a token wait or a retry
 * timer is pending, plus the deadline timer that hands the job to the
 * fallback voice. A cancel arrives inside the worker's loop over its jobs,
 * so the job is ended from a zero-delay event, never in that loop (R8).
 *
 * Heartbeats say whether Google answers (worker_set_provider) with the
 * last failure; the text, the audio and the token never reach a log line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "hebnum.h"
#include "httpc.h"
#include "log.h"
#include "tts.h"
#include "xmalloc.h"

/* A Google request with less time than this is not worth starting. */
#define TTS_MIN_GOOGLE_MS 100
#define TTS_BACKOFF_MS	  100

struct tts_job {
	TAILQ_ENTRY(tts_job) entry;
	struct tts_worker *tw;
	struct worker_job *wj;
	long index;
	char voice[TTS_VOICE_MAX + 1];
	double rate;
	char *text; /* as spoken: numbers expanded */
	size_t len;
	size_t off;	  /* where the next piece starts */
	size_t piece_len; /* of the piece in flight */
	char key[TTS_CACHE_KEY_LEN + 1];
	uint8_t *audio;
	size_t audio_len;
	struct httpc_req *req;
	struct gauth_wait *wait;
	unsigned long token_gen;
	struct event *deadline; /* Google's time is up: fallback */
	struct event *step;	/* retry after a backoff; end a cancel */
	long retries;
	bool reauthed;
	bool cancelled;
	char error[GAUTH_ERROR_MAX];
};

static void tts_job_google(struct tts_job *job);

static struct log_ctx
tts_job_ctx(const struct tts_job *job)
{
	struct log_ctx ctx = {job->wj->call_sid[0] ? job->wj->call_sid : NULL,
	    NULL, job->wj->job_id, (long)job->wj->generation};

	return ctx;
}

static long
tts_job_ms(const struct tts_job *job)
{
	return (long)(clock_mono_ms() - job->wj->received_ms);
}

/* The time Google may still take for this job. */
static long
tts_job_google_left(const struct tts_job *job)
{
	const struct tts_settings *set = &job->tw->set;
	long left = worker_job_remaining_ms(job->wj);
	long cap = set->timeout_ms - tts_job_ms(job);

	if (left != __LONG_MAX__)
		left -= set->fallback_ms;
	return left < cap ? left : cap;
}

/* End the job: free it and everything it holds (R8: never from a loop
 * over the worker's jobs; see tts_job_on_cancel). */
static void
tts_job_end(struct tts_job *job)
{
	struct tts_worker *tw = job->tw;

	httpc_cancel(job->req);
	gauth_wait_cancel(job->wait);
	event_free(job->deadline);
	event_free(job->step);
	TAILQ_REMOVE(&tw->jobs, job, entry);
	job->wj->data = NULL;
	worker_job_end(job->wj);
	free(job->text);
	free(job->audio);
	free(job);
}

static void
tts_job_reply(struct tts_job *job, const char *voice_used, bool cached,
    const uint8_t *audio, size_t n)
{
	json_t *doc = json_pack("{s:I, s:s, s:b, s:I}", "index",
	    (json_int_t)job->index, "voice_used", voice_used, "cached", cached,
	    "tts_ms", (json_int_t)tts_job_ms(job));
	char *json = json_dumps(doc, JSON_COMPACT);

	(void)worker_job_reply(
	    job->wj, MSG_TTS_RESULT, MSG_F_FINAL, json, audio, n);
	free(json);
	json_decref(doc);
}

static void
tts_job_reply_error(
    struct worker_job *wj, long index, const char *error, const char *message)
{
	json_t *doc = json_pack("{s:I, s:s, s:s}", "index", (json_int_t)index,
	    "error", error, "message", message);
	char *json = json_dumps(doc, JSON_COMPACT);

	(void)worker_job_reply(
	    wj, MSG_TTS_RESULT, MSG_F_FINAL | MSG_F_ERROR, json, NULL, 0);
	free(json);
	json_decref(doc);
}

/* Speak the whole text with espeak-ng and end the job. */
static void
tts_job_fallback(struct tts_job *job)
{
	struct log_ctx ctx = tts_job_ctx(job);
	uint8_t *audio = NULL;
	size_t n = 0;

	httpc_cancel(job->req);
	job->req = NULL;
	gauth_wait_cancel(job->wait);
	job->wait = NULL;
	if (tts_fallback_render(job->text, job->rate, &audio, &n) < 0) {
		job->tw->errors++;
		log_call(LOG_LEVEL_ERROR, &ctx,
		    "tts: Google failed (%s) and so did the fallback voice",
		    job->error);
		tts_job_reply_error(job->wj, job->index, "synthesis_failed",
		    "neither Google nor the fallback voice could speak");
	} else {
		job->tw->fallbacks++;
		log_call(LOG_LEVEL_WARN, &ctx,
		    "tts: fallback voice after %ld ms: %s", tts_job_ms(job),
		    job->error);
		tts_job_reply(job, TTS_FALLBACK_VOICE, false, audio, n);
	}
	free(audio);
	tts_job_end(job);
}

static void
tts_job_provider_failed(struct tts_job *job)
{
	char msg[GAUTH_ERROR_MAX + 16];

	snprintf(msg, sizeof(msg), "google %s", job->error);
	worker_set_provider(job->tw->w, false, msg);
}

/* Every piece is in: cache the audio, answer, end the job. */
static void
tts_job_succeed(struct tts_job *job)
{
	struct log_ctx ctx = tts_job_ctx(job);

	job->tw->google_ok++;
	worker_set_provider(job->tw->w, true, NULL);
	(void)tts_cache_put(
	    job->tw->cache, job->key, job->audio, job->audio_len);
	log_call(LOG_LEVEL_DEBUG, &ctx, "tts: %zu bytes of audio in %ld ms",
	    job->audio_len, tts_job_ms(job));
	tts_job_reply(job, job->voice, false, job->audio, job->audio_len);
	tts_job_end(job);
}

static bool
tts_job_is_retryable(const struct httpc_result *res)
{
	if (res->status == HTTPC_ERR_CONNECT ||
	    res->status == HTTPC_ERR_TRANSFER)
		return true;
	return res->status == HTTPC_OK &&
	       (res->code == 429 || res->code >= 500);
}

/* Retry after a backoff when time allows; else the fallback voice. */
static void
tts_job_retry_or_fallback(struct tts_job *job, long retry_after_ms)
{
	long backoff = TTS_BACKOFF_MS << (job->retries < 5 ? job->retries : 5);
	struct timeval tv;

	if (retry_after_ms > backoff)
		backoff = retry_after_ms;
	if (job->retries >= job->tw->set.retries ||
	    tts_job_google_left(job) - backoff < TTS_MIN_GOOGLE_MS) {
		tts_job_fallback(job);
		return;
	}
	job->retries++;
	tv.tv_sec = backoff / 1000;
	tv.tv_usec = (suseconds_t)(backoff % 1000) * 1000;
	evtimer_add(job->step, &tv);
}

static void
tts_job_http_done(
    struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct tts_job *job = arg;
	uint8_t *audio = NULL;
	const char *why = NULL;
	size_t n = 0;

	(void)r;
	job->req = NULL;
	if (res->status != HTTPC_OK) {
		snprintf(job->error, sizeof(job->error), "synthesize: %s",
		    httpc_status_name(res->status));
	} else if (res->code != 200) {
		char text[GAUTH_ERROR_MAX - 16];

		google_tts_error_text(
		    res->body, res->body_len, res->code, text, sizeof(text));
		snprintf(
		    job->error, sizeof(job->error), "synthesize: %s", text);
	} else if (google_tts_parse_response(
		       res->body, res->body_len, &audio, &n, &why) < 0) {
		snprintf(job->error, sizeof(job->error), "synthesize: %s", why);
		tts_job_provider_failed(job);
		tts_job_fallback(job);
		return;
	} else {
		job->audio = xreallocarray(
		    job->audio, job->audio_len + n + 1, sizeof(uint8_t));
		memcpy(job->audio + job->audio_len, audio, n);
		job->audio_len += n;
		free(audio);
		job->off += job->piece_len;
		while (job->off < job->len && (job->text[job->off] == ' ' ||
						  job->text[job->off] == '\n'))
			job->off++;
		if (job->off >= job->len) {
			tts_job_succeed(job);
			return;
		}
		tts_job_google(job);
		return;
	}
	if (res->status == HTTPC_OK && res->code == 401 && !job->reauthed) {
		/* The token expired or was revoked early: one new one. */
		job->reauthed = true;
		gauth_invalidate(job->tw->auth, job->token_gen);
		tts_job_google(job);
		return;
	}
	if (res->status != HTTPC_OK ||
	    (res->code == 401 || res->code == 403 || res->code == 429 ||
		res->code >= 500))
		tts_job_provider_failed(job);
	if (tts_job_is_retryable(res))
		tts_job_retry_or_fallback(job, res->retry_after_ms);
	else
		tts_job_fallback(job);
}

/* Send the next piece with token number gen. */
static void
tts_job_send(struct tts_job *job, const char *token)
{
	const struct tts_settings *set = &job->tw->set;
	long left = tts_job_google_left(job);

	if (left < TTS_MIN_GOOGLE_MS) {
		if (job->error[0] == '\0')
			snprintf(job->error, sizeof(job->error),
			    "no time left for Google");
		tts_job_fallback(job);
		return;
	}
	job->token_gen = gauth_token_gen(job->tw->auth);
	job->piece_len = google_tts_split_len(
	    job->text + job->off, job->len - job->off, GOOGLE_TTS_MAX_TEXT);
	job->req = google_tts_start(job->tw->http, set->base_url, token,
	    job->text + job->off, job->piece_len, job->voice, job->rate, left,
	    tts_job_http_done, job);
	if (job->req == NULL) {
		snprintf(
		    job->error, sizeof(job->error), "text is not valid UTF-8");
		tts_job_fallback(job);
	}
}

static void
tts_job_token_cb(const char *token, const char *error, void *arg)
{
	struct tts_job *job = arg;

	job->wait = NULL;
	if (token == NULL) {
		snprintf(job->error, sizeof(job->error), "%s", error);
		tts_job_provider_failed(job);
		tts_job_fallback(job);
		return;
	}
	tts_job_send(job, token);
}

/* Synthesize the next piece: with the cached token, or after a fetch. */
static void
tts_job_google(struct tts_job *job)
{
	const char *token = gauth_token(job->tw->auth);

	if (token != NULL) {
		tts_job_send(job, token);
		return;
	}
	job->wait = gauth_fetch(job->tw->auth, tts_job_token_cb, job);
	if (job->wait == NULL) {
		snprintf(job->error, sizeof(job->error), "%s",
		    gauth_last_error(job->tw->auth)[0]
			? gauth_last_error(job->tw->auth)
			: "no access token");
		tts_job_provider_failed(job);
		tts_job_fallback(job);
	}
}

static void
tts_job_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tts_job *job = arg;

	(void)fd;
	(void)what;
	if (job->cancelled)
		return;
	if (job->error[0] == '\0')
		snprintf(job->error, sizeof(job->error),
		    "Google did not answer within the budget");
	else {
		size_t l = strlen(job->error);

		snprintf(job->error + l, sizeof(job->error) - l,
		    ", then the budget ran out");
	}
	tts_job_provider_failed(job);
	tts_job_fallback(job);
}

static void
tts_job_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tts_job *job = arg;

	(void)fd;
	(void)what;
	if (job->cancelled)
		tts_job_end(job);
	else
		tts_job_google(job);
}

/*
 * The worker's on_cancel hook: abort the job's request or wait at once
 * and end it from a zero-delay event (we are inside the worker's loop
 * over its jobs). Nothing is sent for it.
 */
void
tts_job_on_cancel(struct worker_job *wj, void *arg)
{
	struct tts_job *job = wj->data;
	struct timeval now = {0, 0};

	(void)arg;
	if (job == NULL || job->cancelled)
		return;
	job->cancelled = true;
	httpc_cancel(job->req);
	job->req = NULL;
	gauth_wait_cancel(job->wait);
	job->wait = NULL;
	evtimer_del(job->deadline);
	evtimer_del(job->step);
	evtimer_add(job->step, &now);
}

static bool
tts_job_voice_is_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > TTS_VOICE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
			(v[i] >= 'A' && v[i] <= 'Z') ||
			(v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
			v[i] == '_'))
			return false;
	return true;
}

static bool
tts_job_is_blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/*
 * Read the job's payload into job; return NULL, or what is wrong with it.
 */
static const char *
tts_job_parse(struct tts_job *job, json_t *payload)
{
	json_t *text = json_object_get(payload, "text");
	json_t *voice = json_object_get(payload, "voice");
	json_t *rate = json_object_get(payload, "rate");
	json_t *index = json_object_get(payload, "index");
	const char *v;

	if (json_is_integer(index))
		job->index = (long)json_integer_value(index);
	else if (index != NULL && !json_is_null(index))
		return "index is not an integer";
	if (!json_is_string(text) || tts_job_is_blank(json_string_value(text)))
		return "text is missing or blank";
	if (json_string_length(text) > TTS_TEXT_MAX)
		return "text is too long";
	v = json_is_string(voice) ? json_string_value(voice) : "";
	if (voice != NULL && !json_is_string(voice) && !json_is_null(voice))
		return "voice is not a string";
	if (v[0] == '\0')
		v = job->tw->set.voice;
	if (!tts_job_voice_is_valid(v))
		return "voice is not a voice name";
	snprintf(job->voice, sizeof(job->voice), "%s", v);
	job->rate = 1.0;
	if (json_is_number(rate) && json_number_value(rate) != 0.0)
		job->rate = json_number_value(rate);
	else if (rate != NULL && !json_is_number(rate) && !json_is_null(rate))
		return "rate is not a number";
	job->rate = fmin(fmax(job->rate, TTS_RATE_MIN), TTS_RATE_MAX);
	job->text = hebnum_normalize(json_string_value(text));
	job->len = strlen(job->text);
	if (job->len > TTS_TEXT_MAX)
		return "text is too long once its numbers are spelled out";
	return NULL;
}

static void
tts_job_on_msg(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct tts_worker *tw = arg;
	struct worker_job *wj = worker_job_begin(tw->w, m);
	struct tts_job *job;
	const char *bad;
	struct log_ctx ctx = {m->call_sid[0] ? m->call_sid : NULL, NULL,
	    m->job_id, (long)m->generation};
	struct timeval tv;
	long left;

	(void)s;
	(void)rx;
	if (wj == NULL)
		return;
	job = xcalloc(1, sizeof(*job));
	job->tw = tw;
	job->wj = wj;
	wj->data = job;
	job->deadline = evtimer_new(tw->d->base, tts_job_deadline_cb, job);
	job->step = evtimer_new(tw->d->base, tts_job_step_cb, job);
	if (job->deadline == NULL || job->step == NULL)
		fatalx("tts: cannot create a job's timers");
	TAILQ_INSERT_TAIL(&tw->jobs, job, entry);
	if ((bad = tts_job_parse(job, payload)) != NULL) {
		tw->errors++;
		log_call(LOG_LEVEL_WARN, &ctx, "tts: bad TTS_JOB: %s", bad);
		tts_job_reply_error(wj, job->index, "bad_request", bad);
		tts_job_end(job);
		return;
	}
	tts_cache_key(job->voice, job->rate, job->text, job->len, job->key);
	if (tts_cache_get(tw->cache, job->key, &job->audio, &job->audio_len) ==
	    0) {
		tw->cache_hits++;
		log_call(LOG_LEVEL_DEBUG, &ctx, "tts: cache hit, %zu bytes",
		    job->audio_len);
		tts_job_reply(
		    job, job->voice, true, job->audio, job->audio_len);
		tts_job_end(job);
		return;
	}
	left = tts_job_google_left(job);
	if (left < TTS_MIN_GOOGLE_MS) {
		snprintf(job->error, sizeof(job->error),
		    "the job arrived with %ld ms of budget left",
		    worker_job_remaining_ms(wj));
		tts_job_fallback(job);
		return;
	}
	tv.tv_sec = left / 1000;
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(job->deadline, &tv);
	tts_job_google(job);
}

const struct msg_handler tts_job_handlers[] = {
    {MSG_TTS_JOB, tts_job_on_msg},
    {0, NULL},
};

static void
tts_worker_token_cb(const char *token, const char *error, void *arg)
{
	struct tts_worker *tw = arg;

	if (token != NULL)
		worker_set_provider(tw->w, true, NULL);
	else {
		char msg[GAUTH_ERROR_MAX + 16];

		snprintf(msg, sizeof(msg), "google: %s", error);
		worker_set_provider(tw->w, false, msg);
	}
}

/*
 * Set the stage up: the HTTP client, the credentials (checked now: a bad
 * file fails the start), the cache (cache_dir; a cache that cannot be
 * used is logged and skipped), the worker's sockets, and a first token
 * fetch. Return NULL with the problem in err.
 */
struct tts_worker *
tts_worker_new(struct daemon *d, const struct tts_settings *set,
    const char *credentials, const char *cache_dir, char *err, size_t errsize)
{
	struct tts_worker *tw = xcalloc(1, sizeof(*tw));

	tw->d = d;
	tw->set = *set;
	TAILQ_INIT(&tw->jobs);
	tw->http = httpc_new(d->base);
	tw->auth = gauth_new(tw->http, credentials, err, errsize);
	if (tw->auth == NULL) {
		tts_worker_free(tw);
		return NULL;
	}
	tw->cache = tts_cache_new(cache_dir);
	tw->w = worker_new(d, "tts", ENDPOINT_JOBS_TTS, tts_job_handlers,
	    tts_job_on_cancel, tw);
	if (tw->w == NULL) {
		snprintf(err, errsize, "cannot set up the worker's sockets");
		tts_worker_free(tw);
		return NULL;
	}
	(void)gauth_fetch(tw->auth, tts_worker_token_cb, tw);
	return tw;
}

/* Run the cache cleanup (from the daemon's timer table). */
void
tts_worker_cleanup(struct tts_worker *tw)
{
	if (tw != NULL && tw->cache != NULL)
		(void)tts_cache_cleanup(tw->cache, tw->set.cache_max_age_s,
		    tw->set.cache_max_bytes, time(NULL), NULL);
}

/*
 * Free the stage: jobs still in flight after the drain are dropped
 * without a result (the gateway re-sends them elsewhere), then the worker,
 * the credentials and the HTTP client. Takes NULL.
 */
void
tts_worker_free(struct tts_worker *tw)
{
	struct tts_job *job;

	if (tw == NULL)
		return;
	/*
	 * tts_job_end unlinks job from job->tw->jobs, which is tw->jobs; the
	 * analyzer cannot know job->tw == tw and reports the next head as
	 * freed.
	 */
	/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
	while ((job = TAILQ_FIRST(&tw->jobs)) != NULL)
		tts_job_end(job);
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
	worker_free(tw->w);
	gauth_free(tw->auth);
	httpc_free(tw->http);
	tts_cache_free(tw->cache);
	free(tw);
}
