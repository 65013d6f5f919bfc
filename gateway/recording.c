/*
 * The recording path: a caller's message left after the watchdog's Record
 * fallback becomes turns of the call in the CRM and feeds its analysis.
 *
 * Why: when a call's media stream dies the watchdog redirects the call to
 * a Hebrew apology and <Record> (docs/watchdog.md). The message is the
 * caller's request; it must reach the CRM like any other turn, or the
 * fallback only moves the loss from the call to the recording.
 *
 * Path: Twilio's recordingStatusCallback (POST /twilio/recording-status,
 * signed and parsed by routes.c, which answers 204 at once) calls
 * recording_status. A "completed" recording is fetched with the gateway's
 * Twilio REST client (common/twilio_rest.c: Basic auth, and only from
 * under TWILIO_API_BASE_URL; a RecordingUrl elsewhere is never contacted,
 * the URL is rebuilt from the RecordingSid). The WAV (8 kHz 16-bit from
 * Twilio; any rate libsndfile reads) is decoded, resampled to 8 kHz when
 * needed and encoded as mu-law, the STT_JOB format, and cut into pieces of
 * RECORDING_CHUNK_S seconds (an STT job takes at most 2 minutes). Each
 * piece is an STT_JOB with source "recording". When every piece has its
 * result (or ran out of budget) the pieces with words are written, in
 * order, as caller turns, and an ANALYSIS_JOB of the whole call follows,
 * whose result the llm-worker writes itself (summary, sentiment, lead
 * score; it replaces the live call's, as it covers more). The call row
 * gets recording_url and fallback_used when the callback arrives.
 *
 * The whole call: before the analysis the gateway asks crm-store
 * (STORE_SYSQUERY call_by_sid) for the call's turns; the transcript is
 * the live turns' heard text (caller and agent, as conversation.c builds
 * it) then the recording's words. When crm-store cannot be asked or does
 * not answer in RECORDING_ASK_MS, a warning, and the recording's words
 * alone (the analysis is late, never lost).
 *
 * The turns: speaker "caller", heard = the transcript, seq
 * RECORDING_SEQ_BASE + piece (so they sort after the live call's turns,
 * which count from 1, and a callback Twilio sends twice rewrites the same
 * rows), source "recording" (crm-store migration 0004), and latency
 * (jsonb) {recording_sid, offset_ms, duration_ms, stt_ms}.
 * Jobs use generation RECORDING_GENERATION, above any the call had, so a
 * JOB_CANCEL of the call's end never drops them.
 *
 * The business (needed for the call row and the analysis): the live call's
 * if this gateway still holds it, else the one this gateway's webhook
 * noted for the call (a ring of the last RECORDING_RECENT_MAX calls).
 * When neither knows (a restart, another gateway's call) the call row
 * waits for call_by_sid: crm-store's business_id for the call, else the
 * business that owns the form's To, else MERKAZIA_DEFAULT_BUSINESS. The
 * analysis takes crm-store's business_id whenever it has the call.
 * Without one, the turns are still written (they need only the call SID)
 * and the rest is skipped with a warning.
 *
 * Limits and failures: at most RECORDING_MAX_IN_FLIGHT recordings at once
 * (more are refused with an error line); a RecordingSid already in flight
 * is ignored; RECORDING_CHUNKS_MAX pieces (longer audio is cut, logged).
 * A fetch that fails (gone, rejected, Twilio down for the whole budget) or
 * audio that cannot be read is logged as an error with the outcome; the
 * call row still has the recording URL for a human to listen to. Words
 * are never logged, only their length.
 *
 * Lifetime: a recording is owned by g->recordings; its jobs name it as
 * owner and its fetch holds it as the callback argument. It is freed when
 * its last job is over (jobs.c allows forgetting from its callbacks) or
 * when its fetch fails; recording_cleanup frees what is left at shutdown,
 * after the REST client and the job table are gone (memory only). A
 * call_by_sid query holds a ticket (struct recording_ask on g->rec_asks)
 * that carries all its answer needs and finds the recording again by its
 * SID, so a reply after the recording is freed is safe; the store client
 * drops pending queries without their callbacks at shutdown, and
 * recording_cleanup frees the tickets left.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audio.h"
#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "mulaw.h"
#include "store.h"
#include "twilio_rest.h"
#include "xmalloc.h"

#define RECORDING_MAX_IN_FLIGHT	  32
#define RECORDING_FETCH_BUDGET_MS 30000L
#define RECORDING_CHUNK_S	  60
#define RECORDING_CHUNKS_MAX	  30 /* 30 minutes */
#define RECORDING_SEQ_BASE	  1000
#define RECORDING_GENERATION	  0x40000000u
#define RECORDING_RECENT_MAX	  1024
#define RECORDING_SID_MAX	  64
#define RECORDING_ASK_MS	  5000 /* budget of a call_by_sid query */
#define RECORDING_BIZ_MAX	  32

struct recording_piece {
	char *text; /* NULL: no words (yet) */
	double confidence;
	long stt_ms;
	bool done;
};

struct recording {
	struct recording *next;
	struct gateway *g;
	char call_sid[MSG_SID_MAX + 1];
	char rec_sid[RECORDING_SID_MAX];
	char *business; /* NULL: unknown */
	char *from;	/* the caller's number when known, else NULL */
	struct twilio_rest_req *req;
	struct recording_piece *pieces;
	size_t npieces;
	size_t pending;	 /* pieces without a final result */
	int64_t sent_ms; /* STT jobs submitted */
	long duration_ms;
};

/* The business each recent webhook named (a ring, newest last). */
struct recording_recent {
	char call_sid[MSG_SID_MAX + 1];
	char *business;
	char *from;
};

/*
 * A call_by_sid query in flight (a ticket on g->rec_asks): it carries all
 * its answer needs, so it outlives the recording; a reply never reaches
 * freed memory, and recording_cleanup frees tickets never answered.
 */
struct recording_ask {
	struct recording_ask *next;
	struct gateway *g;
	bool analysis; /* else: the call row waits on it */
	char call_sid[MSG_SID_MAX + 1];
	char rec_sid[RECORDING_SID_MAX];
	char *business; /* the gateway's own guess, NULL: unknown */
	char *from;
	char *url;   /* the call row's recording URL */
	char *words; /* the recording's words (analysis) */
};

static const struct jobs_owner_ops recording_job_ops;

static struct log_ctx
recording_ctx(const struct recording *r)
{
	struct log_ctx ctx = {r->call_sid, NULL, 0, -1};

	return ctx;
}

static size_t
recording_count(const struct gateway *g)
{
	size_t n = 0;

	for (const struct recording *r = g->recordings; r != NULL; r = r->next)
		n++;
	return n;
}

static void
recording_free(struct recording *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->npieces; i++)
		free(r->pieces[i].text);
	free(r->pieces);
	free(r->business);
	free(r->from);
	free(r);
}

/* Unlink r from g, forget its jobs and free it. */
static void
recording_done(struct recording *r)
{
	struct gateway *g = r->g;
	struct recording **pp;

	for (pp = &g->recordings; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (g->jobtab != NULL)
		jobs_forget_owner(g->jobtab, r);
	recording_free(r);
}

/*
 * Note that the webhook answered call_sid for business (from: the
 * caller), so a recording of it can be put with its business later.
 */
void
recording_note_call(struct gateway *g, const char *call_sid,
    const char *business, const char *from)
{
	struct recording_recent *e;

	if (call_sid == NULL || business == NULL ||
	    strlen(call_sid) > MSG_SID_MAX)
		return;
	if (g->rec_recent == NULL)
		g->rec_recent =
		    xcalloc(RECORDING_RECENT_MAX, sizeof(*g->rec_recent));
	e = &g->rec_recent[g->rec_recent_next];
	g->rec_recent_next = (g->rec_recent_next + 1) % RECORDING_RECENT_MAX;
	free(e->business);
	free(e->from);
	snprintf(e->call_sid, sizeof(e->call_sid), "%s", call_sid);
	e->business = xstrdup(business);
	e->from = from != NULL && from[0] != '\0' ? xstrdup(from) : NULL;
}

static const struct recording_recent *
recording_recent_find(const struct gateway *g, const char *call_sid)
{
	if (g->rec_recent == NULL)
		return NULL;
	for (size_t i = 0; i < RECORDING_RECENT_MAX; i++) {
		size_t k = (g->rec_recent_next + RECORDING_RECENT_MAX - 1 - i) %
			   RECORDING_RECENT_MAX;
		const struct recording_recent *e = &g->rec_recent[k];

		if (e->business != NULL && strcmp(e->call_sid, call_sid) == 0)
			return e;
	}
	return NULL;
}

static bool
recording_is_numeric(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/*
 * The URL to keep in the call row: Twilio's RecordingUrl when it is under
 * the base URL, else the one rebuilt from the account and recording SIDs
 * (what the fetch asks), else NULL. New string.
 */
static char *
recording_row_url(const struct gateway *g, const struct form *form)
{
	const char *url = form_get(form, "RecordingUrl");
	const char *acc = form_get(form, "AccountSid");
	const char *re = form_get(form, "RecordingSid");
	const char *base = twilio_rest_base_url(g->rest);

	if (url != NULL && twilio_rest_url_is_under(url, base))
		return xstrdup(url);
	if (base != NULL && twilio_rest_sid_is_valid(acc, "AC") &&
	    twilio_rest_sid_is_valid(re, "RE")) {
		size_t len = strlen(base);

		while (len > 0 && base[len - 1] == '/')
			len--;
		return xasprintf("%.*s/2010-04-01/Accounts/%s/Recordings/%s",
		    (int)len, base, acc, re);
	}
	return NULL;
}

/* Write the call row's recording URL and fallback_used. */
static void
recording_write_call(struct gateway *g, const char *call_sid,
    const char *business, const char *url)
{
	json_t *d;

	if (!recording_is_numeric(business))
		return;
	d = json_pack("{s:s, s:s, s:b}", "call_sid", call_sid, "business_id",
	    business, "fallback_used", 1);
	if (d == NULL)
		return;
	if (url != NULL)
		json_object_set_new(d, "recording_url", json_string(url));
	(void)crm_write(g, "call", call_sid, d);
	json_decref(d);
}

/* ---- what crm-store knows of the call (call_by_sid) ------------------- */

static void
recording_ask_drop(struct gateway *g, struct recording_ask *a)
{
	struct recording_ask **pp;

	for (pp = &g->rec_asks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a->business);
	free(a->from);
	free(a->url);
	free(a->words);
	free(a);
}

static struct recording_ask *
recording_ask_new(struct gateway *g, bool analysis, const char *call_sid,
    const char *rec_sid, const char *business, const char *from)
{
	struct recording_ask *a = xcalloc(1, sizeof(*a));

	a->g = g;
	a->analysis = analysis;
	snprintf(a->call_sid, sizeof(a->call_sid), "%s", call_sid);
	snprintf(a->rec_sid, sizeof(a->rec_sid), "%s", rec_sid);
	a->business = business != NULL ? xstrdup(business) : NULL;
	a->from = from != NULL && from[0] != '\0' ? xstrdup(from) : NULL;
	return a;
}

/*
 * Send a's query (a is put on g->rec_asks). Return 0, or -1 with a
 * freed when it cannot be sent (the caller falls back).
 */
static int recording_ask_send(struct recording_ask *a);

/* The business crm-store names in a call_by_sid answer, into buf. */
static const char *
recording_reply_business(json_t *call, char *buf, size_t len)
{
	json_t *b = json_object_get(call, "business_id");

	if (json_is_integer(b)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(b));
		return buf;
	}
	if (json_is_string(b) && recording_is_numeric(json_string_value(b))) {
		snprintf(buf, len, "%s", json_string_value(b));
		return buf;
	}
	return NULL;
}

/* ---- the end: turns and analysis -------------------------------------- */

/*
 * Ask for the analysis of the whole call: the live turns crm-store holds
 * (turns: its call_by_sid answer, NULL when it could not be asked), as
 * conversation.c builds its transcript, then the recording's words.
 */
static void
recording_analyse(struct gateway *g, const char *call_sid, const char *rec_sid,
    const char *business, const char *from, const char *words, json_t *turns)
{
	struct log_ctx ctx = {call_sid, NULL, 0, -1};
	json_t *transcript = json_array(), *t, *p;
	size_t i, live = 0;

	json_array_foreach(turns, i, t) {
		const char *who =
		    json_string_value(json_object_get(t, "speaker"));
		const char *text =
		    json_string_value(json_object_get(t, "heard_text"));
		const char *src =
		    json_string_value(json_object_get(t, "source"));

		/* A recording's own turns (an earlier callback) come last. */
		if (who == NULL || text == NULL || text[0] == '\0' ||
		    (src != NULL && strcmp(src, "recording") == 0) ||
		    json_integer_value(json_object_get(t, "seq")) >=
			RECORDING_SEQ_BASE ||
		    (strcmp(who, "caller") != 0 && strcmp(who, "agent") != 0))
			continue;
		json_array_append_new(transcript,
		    json_pack("{s:s, s:s}", "role", who, "text", text));
		live++;
	}
	json_array_append_new(transcript,
	    json_pack("{s:s, s:s}", "role", "caller", "text", words));
	if (g->jobtab == NULL || !recording_is_numeric(business)) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording %s: no analysis: the call's business is not "
		    "known",
		    rec_sid);
		json_decref(transcript);
		return;
	}
	p = json_pack("{s:s, s:O, s:{s:s?}, s:s}", "business_id", business,
	    "transcript", transcript, "customer", "phone", from, "source",
	    "recording");
	(void)jobs_submit(g->jobtab, JOBS_LLM, MSG_ANALYSIS_JOB, call_sid,
	    RECORDING_GENERATION + 1, p, NULL, 0, NULL, NULL, 0);
	json_decref(p);
	json_decref(transcript);
	log_call(LOG_LEVEL_INFO, &ctx,
	    "recording %s: analysis requested over %zu live turn(s) and the "
	    "recording",
	    rec_sid, live);
}

/* crm-store answered call_by_sid (or not): finish what waited on it. */
static void
recording_on_call(unsigned int type, json_t *reply, void *arg)
{
	struct recording_ask *a = arg;
	struct gateway *g = a->g;
	struct log_ctx ctx = {a->call_sid, NULL, 0, -1};
	json_t *call = json_object_get(reply, "call");
	const char *biz = a->business, *from = a->from;
	char buf[RECORDING_BIZ_MAX];
	struct recording *r;

	if (type != MSG_STORE_REPLY) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording %s: crm-store did not say what it knows of the "
		    "call (%s); going on with %s",
		    a->rec_sid, msg_type_name(type),
		    a->analysis ? "the recording's words only"
				: "the gateway's guess of its business");
		call = NULL;
	} else if (!json_is_object(call)) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "recording %s: crm-store does not know the call",
		    a->rec_sid);
		call = NULL;
	} else {
		const char *b =
		    recording_reply_business(call, buf, sizeof(buf));
		const char *f =
		    json_string_value(json_object_get(call, "from"));

		if (b != NULL)
			biz = b;
		if (from == NULL && f != NULL && f[0] != '\0')
			from = f;
	}
	if (a->analysis) {
		recording_analyse(g, a->call_sid, a->rec_sid, biz, from,
		    a->words, json_object_get(call, "turns"));
	} else {
		recording_write_call(g, a->call_sid, biz, a->url);
		/* The recording, if still here, finishes with this business. */
		for (r = g->recordings; r != NULL; r = r->next) {
			if (strcmp(r->rec_sid, a->rec_sid) != 0)
				continue;
			if (biz != NULL && biz != r->business) {
				free(r->business);
				r->business = xstrdup(biz);
			}
			if (r->from == NULL && from != NULL)
				r->from = xstrdup(from);
			break;
		}
		if (!recording_is_numeric(biz))
			log_call(LOG_LEVEL_WARN, &ctx,
			    "recording %s: the call's business is not known; "
			    "its turns are written, the call row and analysis "
			    "are not",
			    a->rec_sid);
	}
	recording_ask_drop(g, a); /* a is gone from here on */
}

static int
recording_ask_send(struct recording_ask *a)
{
	struct gateway *g = a->g;
	json_t *q;

	if (g->store == NULL) {
		recording_ask_drop(g, a);
		return -1;
	}
	a->next = g->rec_asks;
	g->rec_asks = a;
	q = json_pack("{s:s, s:{s:s}}", "q", "call_by_sid", "args", "call_sid",
	    a->call_sid);
	if (q == NULL || store_request(g->store, MSG_STORE_SYSQUERY, q,
			     RECORDING_ASK_MS, recording_on_call, a) < 0) {
		json_decref(q);
		recording_ask_drop(g, a);
		return -1;
	}
	json_decref(q);
	return 0;
}

static void
recording_finish(struct recording *r)
{
	struct log_ctx ctx = recording_ctx(r);
	struct recording_ask *a;
	char *all = NULL;
	size_t turns = 0;

	for (size_t i = 0; i < r->npieces; i++) {
		struct recording_piece *p = &r->pieces[i];
		long seq = RECORDING_SEQ_BASE + (long)i;
		char key[MSG_SID_MAX + 24];
		json_t *d;

		if (p->text == NULL)
			continue;
		d = json_pack("{s:s, s:I, s:s, s:s, s:b, s:s, s:{s:s, s:I, "
			      "s:I, s:I}}",
		    "call_sid", r->call_sid, "seq", (json_int_t)seq, "speaker",
		    "caller", "heard", p->text, "interrupted", 0, "source",
		    "recording", "latency", "recording_sid", r->rec_sid,
		    "offset_ms", (json_int_t)i * RECORDING_CHUNK_S * 1000,
		    "duration_ms",
		    (json_int_t)(i + 1 < r->npieces
				     ? (long)RECORDING_CHUNK_S * 1000
				     : r->duration_ms -
					   (long)i * RECORDING_CHUNK_S * 1000),
		    "stt_ms", (json_int_t)p->stt_ms);
		if (d == NULL)
			continue;
		if (p->confidence >= 0)
			json_object_set_new(
			    d, "stt_confidence", json_real(p->confidence));
		snprintf(key, sizeof(key), "%s:%ld", r->call_sid, seq);
		if (crm_write(r->g, "turn", key, d) == 0)
			turns++;
		json_decref(d);
		if (all == NULL) {
			all = xstrdup(p->text);
		} else {
			char *both = xasprintf("%s %s", all, p->text);

			free(all);
			all = both;
		}
	}
	if (all == NULL) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "recording %s has no words: no turn, no analysis",
		    r->rec_sid);
		return;
	}
	log_call(LOG_LEVEL_INFO, &ctx,
	    "recording %s: %zu turn(s) written (%zu bytes of text)", r->rec_sid,
	    turns, strlen(all));
	if (r->g->jobtab == NULL) {
		free(all);
		return;
	}
	/* The analysis sees the whole call: ask crm-store for the live
	 * turns first; without an answer, the recording's words alone. */
	a = recording_ask_new(
	    r->g, true, r->call_sid, r->rec_sid, r->business, r->from);
	a->words = xstrdup(all);
	if (recording_ask_send(a) < 0) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording %s: crm-store cannot be asked for the call's "
		    "live turns; the analysis sees the recording only",
		    r->rec_sid);
		recording_analyse(r->g, r->call_sid, r->rec_sid, r->business,
		    r->from, all, NULL);
	}
	free(all);
}

/* A piece is over (result or expiry): finish when it was the last. */
static void
recording_piece_over(struct recording *r)
{
	if (r->pending > 0)
		r->pending--;
	if (r->pending == 0) {
		recording_finish(r);
		recording_done(r);
	}
}

static void
recording_on_result(void *owner, long tag, const struct msg *m, json_t *payload)
{
	struct recording *r = owner;
	struct recording_piece *p;
	struct log_ctx ctx = recording_ctx(r);
	const char *text = json_string_value(json_object_get(payload, "text"));
	json_t *conf = json_object_get(payload, "confidence");

	if (tag < 0 || (size_t)tag >= r->npieces || m->type != MSG_STT_RESULT)
		return;
	p = &r->pieces[tag];
	if (p->done)
		return;
	p->done = true;
	p->stt_ms = (long)(clock_mono_ms() - r->sent_ms);
	if (m->flags & MSG_F_ERROR) {
		const char *err =
		    json_string_value(json_object_get(payload, "error"));

		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording %s, piece %ld not transcribed (%s)", r->rec_sid,
		    tag, err != NULL ? err : "?");
	} else if (!json_is_true(json_object_get(payload, "no_speech")) &&
		   text != NULL && text[0] != '\0') {
		p->text = xstrdup(text);
		p->confidence =
		    json_is_number(conf) ? json_number_value(conf) : -1;
	}
	recording_piece_over(r);
}

static void
recording_on_expired(void *owner, long tag, int stage)
{
	struct recording *r = owner;
	struct log_ctx ctx = recording_ctx(r);

	(void)stage;
	if (tag < 0 || (size_t)tag >= r->npieces || r->pieces[tag].done)
		return;
	r->pieces[tag].done = true;
	log_call(LOG_LEVEL_WARN, &ctx,
	    "recording %s, piece %ld got no transcript within its budget",
	    r->rec_sid, tag);
	recording_piece_over(r);
}

static const struct jobs_owner_ops recording_job_ops = {
    recording_on_result, recording_on_expired};

/* ---- the audio -------------------------------------------------------- */

/*
 * Turn the sound file in body into 8 kHz mu-law (new buffer in *mulaw,
 * its length in *len). Return 0, or -1 after logging.
 */
static int
recording_to_mulaw(const struct recording *r, const char *body, size_t n,
    uint8_t **mulaw, size_t *len)
{
	struct log_ctx ctx = recording_ctx(r);
	int16_t *pcm = NULL, *pcm8 = NULL;
	size_t npcm = 0, n8 = 0;
	int rate = 0;

	*mulaw = NULL;
	*len = 0;
	if (audio_wav_decode((const uint8_t *)body, n, &pcm, &npcm, &rate) <
	    0) {
		log_call(LOG_LEVEL_ERROR, &ctx,
		    "recording %s: %zu bytes that are not a readable sound "
		    "file",
		    r->rec_sid, n);
		return -1;
	}
	if (rate != AUDIO_PHONE_RATE) {
		if (audio_resample(
			pcm, npcm, rate, AUDIO_PHONE_RATE, &pcm8, &n8) < 0) {
			free(pcm);
			log_call(LOG_LEVEL_ERROR, &ctx,
			    "recording %s: cannot resample %d Hz audio",
			    r->rec_sid, rate);
			return -1;
		}
		free(pcm);
		pcm = pcm8;
		npcm = n8;
	}
	*mulaw = xmalloc(npcm > 0 ? npcm : 1);
	mulaw_encode_buf(pcm, npcm, *mulaw);
	*len = npcm;
	free(pcm);
	return 0;
}

/* Send the audio to STT in pieces; return the number sent. */
static size_t
recording_transcribe(struct recording *r, const uint8_t *mulaw, size_t len)
{
	struct log_ctx ctx = recording_ctx(r);
	const size_t chunk = (size_t)AUDIO_PHONE_RATE * RECORDING_CHUNK_S;
	size_t n = (len + chunk - 1) / chunk;

	if (n > RECORDING_CHUNKS_MAX) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording %s: %zu s of audio; only the first %d s are "
		    "transcribed",
		    r->rec_sid, len / AUDIO_PHONE_RATE,
		    RECORDING_CHUNKS_MAX * RECORDING_CHUNK_S);
		n = RECORDING_CHUNKS_MAX;
		len = n * chunk;
	}
	r->duration_ms = (long)(len * 1000 / AUDIO_PHONE_RATE);
	r->pieces = xcalloc(n > 0 ? n : 1, sizeof(*r->pieces));
	r->npieces = n;
	r->pending = n;
	r->sent_ms = clock_mono_ms();
	for (size_t i = 0; i < n; i++) {
		size_t off = i * chunk;
		size_t plen = len - off < chunk ? len - off : chunk;
		json_t *p = json_pack("{s:I, s:s, s:s}", "turn",
		    (json_int_t)(RECORDING_SEQ_BASE + (long)i), "language",
		    "he", "source", "recording");

		r->pieces[i].confidence = -1;
		(void)jobs_submit(r->g->jobtab, JOBS_STT, MSG_STT_JOB,
		    r->call_sid, RECORDING_GENERATION, p, mulaw + off, plen,
		    &recording_job_ops, r, (long)i);
		json_decref(p);
	}
	return n;
}

static void
recording_on_fetch(struct twilio_rest_req *req,
    const struct twilio_rest_result *res, void *arg)
{
	struct recording *r = arg;
	struct log_ctx ctx = recording_ctx(r);
	uint8_t *mulaw = NULL;
	size_t len = 0, n;

	(void)req;
	r->req = NULL;
	if (res->outcome != TWILIO_REST_OK) {
		json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:i, s:I}",
		    "recording_sid", r->rec_sid, "outcome",
		    twilio_rest_outcome_name(res->outcome), "http_status",
		    (json_int_t)res->http_status, "error_code",
		    (json_int_t)res->error_code, "attempts", res->attempts,
		    "elapsed_ms", (json_int_t)res->elapsed_ms);

		log_fields(LOG_LEVEL_ERROR, &ctx, f,
		    "recording %s could not be fetched (%s): the caller's "
		    "message is not transcribed; the call row keeps its URL",
		    r->rec_sid, twilio_rest_outcome_name(res->outcome));
		json_decref(f);
		recording_done(r);
		return;
	}
	if (r->g->jobtab == NULL ||
	    recording_to_mulaw(r, res->body, res->body_len, &mulaw, &len) < 0) {
		recording_done(r);
		return;
	}
	if (len < AUDIO_PHONE_RATE / 10) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "recording %s is empty (%zu samples): nothing to "
		    "transcribe",
		    r->rec_sid, len);
		free(mulaw);
		recording_done(r);
		return;
	}
	n = recording_transcribe(r, mulaw, len);
	free(mulaw);
	log_call(LOG_LEVEL_INFO, &ctx,
	    "recording %s fetched (%zu bytes, %ld ms of audio); %zu piece(s) "
	    "sent to STT",
	    r->rec_sid, res->body_len, r->duration_ms, n);
}

/* ---- the callback ----------------------------------------------------- */

/*
 * Twilio's recording status callback (form of POST
 * /twilio/recording-status): fetch a completed recording, transcribe it
 * into the call's turns and ask for the call's analysis. Never blocks;
 * every failure is logged here.
 */
void
recording_status(struct gateway *g, const struct form *form)
{
	const char *sid = form_get(form, "CallSid");
	const char *re = form_get(form, "RecordingSid");
	const char *status = form_get(form, "RecordingStatus");
	const char *url = form_get(form, "RecordingUrl");
	struct log_ctx ctx = {sid, NULL, 0, -1};
	const struct recording_recent *recent;
	const struct call *call;
	struct recording *r;
	const char *biz = NULL, *from = NULL;
	struct recording_ask *ask;
	char *row_url;
	bool guess;

	if (sid == NULL || !twilio_rest_sid_is_valid(sid, "CA")) {
		log_warnx("twilio: recording status without a valid CallSid");
		return;
	}
	if (status != NULL && strcmp(status, "completed") != 0) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording %s is %s: nothing to fetch", re ? re : "(none)",
		    status);
		return;
	}
	if (re == NULL || !twilio_rest_sid_is_valid(re, "RE")) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "recording status without a valid RecordingSid");
		return;
	}
	for (r = g->recordings; r != NULL; r = r->next) {
		if (strcmp(r->rec_sid, re) == 0) {
			log_call(LOG_LEVEL_INFO, &ctx,
			    "recording %s is already being fetched", re);
			return;
		}
	}
	if (g->rest == NULL || recording_count(g) >= RECORDING_MAX_IN_FLIGHT) {
		log_call(LOG_LEVEL_ERROR, &ctx, "recording %s not fetched: %s",
		    re,
		    g->rest == NULL ? "no Twilio REST client"
				    : "too many recordings in flight");
		return;
	}
	call = call_find_sid(g, sid);
	recent = recording_recent_find(g, sid);
	if (call != NULL) {
		biz = call_business(call);
		from = call_from(call);
	} else if (recent != NULL) {
		biz = recent->business;
		from = recent->from;
	}
	/* Not in this gateway's memory (a restart, another gateway's
	 * call): crm-store's call row says; the form's To or the default
	 * business is the guess when it cannot. */
	guess = biz == NULL;
	if (guess) {
		biz = routes_business_lookup(g, form_get(form, "To"));
		from = form_get(form, "From");
	}
	if (biz == NULL)
		biz = g->default_biz;
	r = xcalloc(1, sizeof(*r));
	r->g = g;
	snprintf(r->call_sid, sizeof(r->call_sid), "%s", sid);
	snprintf(r->rec_sid, sizeof(r->rec_sid), "%s", re);
	r->business = biz != NULL ? xstrdup(biz) : NULL;
	r->from = from != NULL && from[0] != '\0' ? xstrdup(from) : NULL;
	r->next = g->recordings;
	g->recordings = r;
	row_url = recording_row_url(g, form);
	ask = guess ? recording_ask_new(g, false, sid, re, r->business, r->from)
		    : NULL;
	if (ask != NULL) {
		ask->url = row_url; /* the ticket's now */
		row_url = NULL;
	}
	if (ask == NULL || recording_ask_send(ask) < 0) {
		if (guess)
			log_call(LOG_LEVEL_WARN, &ctx,
			    "recording %s: crm-store cannot be asked for the "
			    "call's business; going on with the gateway's "
			    "guess",
			    re);
		if (guess)
			row_url = recording_row_url(g, form);
		recording_write_call(g, sid, r->business, row_url);
		if (r->business == NULL)
			log_call(LOG_LEVEL_WARN, &ctx,
			    "recording %s: the call's business is not known; "
			    "its turns are written, the call row and analysis "
			    "are not",
			    re);
	}
	free(row_url);
	log_call(LOG_LEVEL_INFO, &ctx,
	    "recording %s completed (%s s); fetching", re,
	    form_get(form, "RecordingDuration") != NULL
		? form_get(form, "RecordingDuration")
		: "?");
	r->req = twilio_rest_recording_fetch(g->rest, url, re, sid,
	    RECORDING_FETCH_BUDGET_MS, recording_on_fetch, r);
}

/*
 * Free every recording left at shutdown. Call after the REST client and
 * the job table are freed (neither calls back any more): memory only.
 */
void
recording_cleanup(struct gateway *g)
{
	struct recording *r;

	while ((r = g->recordings) != NULL) {
		g->recordings = r->next;
		recording_free(r);
	}
	while (g->rec_asks != NULL) /* never answered: the store is gone */
		recording_ask_drop(g, g->rec_asks);
	for (size_t i = 0; g->rec_recent != NULL && i < RECORDING_RECENT_MAX;
	     i++) {
		free(g->rec_recent[i].business);
		free(g->rec_recent[i].from);
	}
	X_FREE(g->rec_recent);
	g->rec_recent_next = 0;
}
