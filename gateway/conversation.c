/*
 * One call's conversation: the caller's audio in, the agent's voice out,
 * and the rows it leaves in the CRM. docs/conversation.md tells a turn's
 * life and what each latency field measures.
 *
 * Why here: the gateway conducts the stateless workers (design.md). Per
 * call this file feeds inbound audio to the VAD (vad.c); an utterance's
 * end sends its audio as an STT_JOB; a transcript with words becomes the
 * caller's turn (a turn row) and an LLM_JOB with the business's
 * instructions, the customer's history (customer_by_phone at stream
 * start, best effort) and the conversation AS HEARD: an agent sentence
 * enters it only once its mark came back (playout.c). Each LLM_SENTENCE
 * goes to TTS at once, in parallel; reply.c plays the audio in sentence
 * order whatever order it returns in. When the reply is played (every
 * mark back) the agent's turn row is written with what was heard, what
 * was generated and the latency of each stage.
 *
 * A transcript judged no_speech (silence, line noise, a hallucination) or
 * empty makes no turn and no LLM job. An STT failure, an LLM failure with
 * nothing said, or a job that runs out of budget plays the apology phrase
 * and the call goes on. A caller turn transcribed while the agent still
 * answers the previous one waits until that reply is played or cut.
 *
 * Barge-in (bargein.c decides, after every inbound frame): speech over
 * the agent pauses the playout; enough of it clears (call_clear: `clear`,
 * the queue dropped, a new generation), cancels the old generation's jobs
 * and cuts the agent's turn, whose row says interrupted and holds only
 * what the marks proved heard; a backchannel resumes the playout and its
 * utterance is not transcribed. When no reply audio is queued
 * filler_after_ms after the caller's turn, the filler phrase plays.
 *
 * LLM_ACTION end_call plays the goodbye after the reply,
 * publishes "handoff" (the watchdog stops watching) and closes the stream
 * when its mark comes back (Twilio's TwiML ends there: the call ends).
 * transfer_to_human plays the transfer notice and, when its mark comes
 * back, handoff.c publishes "handoff" and asks Twilio to <Dial> the
 * business's transfer number; a failed transfer plays the apology and the
 * call goes on. book_viewing handed to the gateway (the worker had no
 * store client) is written as an appointment. A known caller (a customer
 * with a name) hears a personal sentence after the greeting when its
 * speech is ready in time (greeting.c).
 *
 * When the stream ends: JOB_CANCEL for the call's jobs, the call's status
 * "completed" with its duration, and an ANALYSIS_JOB (one generation
 * newer than the cancel, so workers do not drop it) whose result the
 * llm-worker writes itself.
 *
 * Lifetime: a conversation belongs to its call (call.c frees it from the
 * reaper, R8). Its jobs name it as owner; conversation_free forgets them
 * (jobs_forget_owner), so no result reaches freed memory. A crm-store
 * query names a ticket that finds the call again by stream SID, so a
 * reply after the call is gone is dropped; tickets left at shutdown are
 * freed by conversation_cleanup.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "mulaw.h"
#include "xmalloc.h"

#define CONV_UTT_RING	   8	/* utterances whose transcript is awaited */
#define CONV_LOUD_ABS	   200	/* mean |PCM| of a frame with voice in it */
#define CONV_CUSTOMER_MS   1500 /* customer_by_phone budget */
#define CONV_SENTENCES_MAX 256	/* as reply.c */

/* What a job's tag says: kind in the low 2 bits, then index, then turn. */
enum conv_kind {
	CONV_STT,
	CONV_LLM,
	CONV_TTS,
};

#define CONV_TAG(turn, index, kind) \
	((((long)(turn)*CONV_SENTENCES_MAX + (long)(index)) << 2) | (kind))
#define CONV_TAG_KIND(tag)  ((enum conv_kind)((tag)&3))
#define CONV_TAG_INDEX(tag) (((tag) >> 2) % CONV_SENTENCES_MAX)
#define CONV_TAG_TURN(tag)  (((tag) >> 2) / CONV_SENTENCES_MAX)

/* An utterance sent to STT: timings for its turn row. */
struct conv_utt {
	long no;	   /* 0: free slot */
	int64_t end_ms;	   /* VAD said the utterance ended */
	int64_t eot_ms;	   /* last voiced frame -> end of utterance */
	int64_t speech_ms; /* speech in it */
	int64_t sent_ms;   /* STT job submitted */
	int64_t stt_ms;	   /* STT job submitted -> result */
	double confidence; /* < 0: none */
	char *text;	   /* pending caller text (while a reply plays) */
};

/* The agent's answer to one caller turn. */
struct conv_turn {
	long turn;
	struct conv_utt utt; /* the caller's utterance */
	struct reply *reply;
	int64_t llm_sent_ms;
	long first_token_ms; /* as the llm-worker measured it; -1 */
	int64_t first_sentence_ms;
	int64_t tts_sent0_ms;	   /* sentence 0's TTS job submitted */
	int64_t tts_first_ms;	   /* sentence 0: TTS job -> result */
	int64_t first_frame_ms;	   /* utterance end -> first frame queued */
	int64_t first_frame_at_ms; /* monotonic, for the row's start_ms */
	bool llm_done;
	bool failed;
	bool interrupted; /* cut by a barge-in: nothing more plays */
	bool filler;	  /* the filler played for it */
	bool end_call;
	bool transfer;
	char *generated;
};

struct conversation {
	struct call *call;
	struct gateway *g;
	struct vad *vad;
	int64_t started_ms;
	int64_t last_loud_ms;
	int64_t speech_start_ms; /* VAD_SPEECH_START, less min_speech_ms */
	int min_speech_ms;
	/* the caller over the agent (bargein.c); the filler's timer */
	struct bargein bi;
	struct event *filler_ev;
	long utts;  /* utterances sent to STT */
	long turns; /* caller turns taken */
	long seq;   /* turn rows written */
	struct conv_utt ring[CONV_UTT_RING];
	struct conv_turn *cur;
	struct conv_utt pending; /* a caller turn waiting for the reply */
	json_t *heard;		 /* [{role, text}] as the caller heard it */
	json_t *customer;	 /* for the LLM job, or NULL */
	bool greeting_noted;
	bool ending; /* goodbye queued; hang up after its mark */
	size_t bye_item;
	bool ended;
	bool transferring;	   /* transfer notice queued (handoff.c) */
	struct handoff *handoff;   /* the last transfer_to_human, or NULL */
	struct greeting *greeting; /* the known caller's (greeting.c) */
};

/* A crm-store query in flight for a call (found again by stream SID). */
struct conversation_ask {
	struct conversation_ask *next;
	struct gateway *g;
	char stream_sid[MEDIA_SID_MAX];
};

static const struct jobs_owner_ops conv_job_ops;
static void conv_take_turn(struct conversation *cv, struct conv_utt *u);
static void conv_bargein(struct conversation *cv, int64_t now);
static void conv_filler_arm(struct conversation *cv, struct conv_turn *t);
static void conv_on_filler(evutil_socket_t fd, short what, void *arg);

/* ---- helpers ---------------------------------------------------------- */

static struct log_ctx
conv_ctx(const struct conversation *cv)
{
	struct log_ctx ctx = call_log_ctx(cv->call);

	ctx.turn = cv->turns;
	return ctx;
}

static int64_t
conv_rel(const struct conversation *cv, int64_t t)
{
	return t > cv->started_ms ? t - cv->started_ms : 0;
}

/* Return payload's string member key, or dflt. */
static const char *
conv_str(const json_t *payload, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(payload, key));

	return s != NULL ? s : dflt;
}

static const struct crm_business *
conv_business(const struct conversation *cv)
{
	return crm_business(cv->g, call_business(cv->call));
}

static void
conv_utt_clean(struct conv_utt *u)
{
	free(u->text);
	memset(u, 0, sizeof(*u));
}

static void
conv_turn_free(struct conv_turn *t)
{
	if (t == NULL)
		return;
	reply_free(t->reply);
	conv_utt_clean(&t->utt);
	free(t->generated);
	free(t);
}

/* Queue phrase k; return its playout item index, or -1. */
static long
conv_play(struct conversation *cv, enum phrase_kind k)
{
	if (call_play(cv->call, k) < 0)
		return -1;
	return (long)playout_nitems(call_playout(cv->call)) - 1;
}

/* Write turn row seq for speaker (data borrowed; fields added here). */
static void
conv_write_turn(struct conversation *cv, json_t *d)
{
	char key[MSG_SID_MAX + 24];
	const char *sid = call_sid(cv->call);

	if (sid == NULL || d == NULL)
		return;
	cv->seq++;
	json_object_set_new(d, "call_sid", json_string(sid));
	json_object_set_new(d, "seq", json_integer((json_int_t)cv->seq));
	snprintf(key, sizeof(key), "%s:%ld", sid, cv->seq);
	(void)crm_write(cv->g, "turn", key, d);
}

/* ---- customer --------------------------------------------------------- */

static void
conv_ask_drop(struct gateway *g, struct conversation_ask *a)
{
	struct conversation_ask **pp;

	for (pp = &g->asks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
}

/* Keep the customer's name and history for the agent's prompt. */
static void
conv_on_customer(unsigned int type, json_t *reply, void *arg)
{
	struct conversation_ask *a = arg;
	struct call *call = call_find_stream(a->g, a->stream_sid);
	struct conversation *cv = NULL;
	json_t *c, *hist, *h, *out;
	const char *name;
	size_t i;

	conv_ask_drop(a->g, a); /* a is gone from here on */
	if (call == NULL || type != MSG_STORE_REPLY)
		return;
	/* The conversation of a live call: reach it through the call. */
	cv = call_conversation(call);
	if (cv == NULL || cv->ended)
		return;
	c = json_object_get(reply, "customer");
	hist = json_object_get(reply, "history");
	out = json_pack("{s:s}", "phone", call_from(call));
	if (out == NULL)
		return;
	name = json_string_value(json_object_get(c, "name"));
	if (name != NULL && name[0] != '\0')
		json_object_set_new(out, "name", json_string(name));
	if (json_is_array(hist) && json_array_size(hist) > 0) {
		json_t *arr = json_array();

		json_array_foreach(hist, i, h) {
			json_t *e = json_pack("{s:O?, s:O?}", "at",
			    json_object_get(h, "started_at"), "summary",
			    json_object_get(h, "summary"));

			if (e != NULL)
				json_array_append_new(arr, e);
		}
		json_object_set_new(out, "history", arr);
	}
	json_decref(cv->customer);
	cv->customer = out;
	greeting_on_customer(cv->greeting, name);
	{
		struct log_ctx ctx = conv_ctx(cv);

		log_call(LOG_LEVEL_INFO, &ctx,
		    "caller is %s customer (%zu earlier call(s) summarised)",
		    json_is_object(c) ? "a known" : "a new",
		    json_is_array(hist) ? json_array_size(hist) : (size_t)0);
	}
}

static void
conv_ask_customer(struct conversation *cv)
{
	struct gateway *g = cv->g;
	const char *from = call_from(cv->call);
	const char *biz = call_business(cv->call);
	struct conversation_ask *a;
	json_t *q;

	if (g->store == NULL || from == NULL || biz == NULL ||
	    crm_business(g, biz) == NULL)
		return;
	a = xcalloc(1, sizeof(*a));
	a->g = g;
	snprintf(a->stream_sid, sizeof(a->stream_sid), "%s",
	    call_stream_sid(cv->call));
	q = json_pack("{s:s, s:{s:s, s:s}}", "q", "customer_by_phone", "args",
	    "business_id", biz, "phone", from);
	a->next = g->asks;
	g->asks = a;
	if (q == NULL || store_request(g->store, MSG_STORE_SYSQUERY, q,
			     CONV_CUSTOMER_MS, conv_on_customer, a) < 0)
		conv_ask_drop(g, a);
	json_decref(q);
}

/* Free the tickets of queries never answered (shutdown). */
void
conversation_cleanup(struct gateway *g)
{
	struct conversation_ask *a;

	while ((a = g->asks) != NULL) {
		g->asks = a->next;
		free(a);
	}
}

/* ---- life ------------------------------------------------------------- */

/* Return a conversation for call, not started yet. */
struct conversation *
conversation_new(struct call *call)
{
	struct conversation *cv = xcalloc(1, sizeof(*cv));

	cv->call = call;
	cv->g = call_gateway(call);
	cv->heard = json_array();
	cv->greeting = greeting_new(call);
	return cv;
}

/* Free cv and forget its jobs (their results will be dropped). */
void
conversation_free(struct conversation *cv)
{
	if (cv == NULL)
		return;
	if (cv->g->jobtab != NULL)
		jobs_forget_owner(cv->g->jobtab, cv);
	handoff_free(cv->handoff);
	greeting_free(cv->greeting);
	if (cv->filler_ev != NULL)
		event_free(cv->filler_ev);
	vad_free(cv->vad);
	conv_turn_free(cv->cur);
	conv_utt_clean(&cv->pending);
	for (size_t i = 0; i < CONV_UTT_RING; i++)
		conv_utt_clean(&cv->ring[i]);
	json_decref(cv->heard);
	json_decref(cv->customer);
	free(cv);
}

/* The stream started (the greeting is queued): listen. */
void
conversation_start(struct conversation *cv)
{
	struct vad_params p;

	vad_params_default(&p);
	cv->vad = vad_new(&p);
	cv->min_speech_ms = p.min_speech_ms;
	bargein_init(&cv->bi, (int)cv->g->conv_cfg.bargein_min_ms);
	if (cv->g->d != NULL && cv->g->d->base != NULL)
		cv->filler_ev = evtimer_new(cv->g->d->base, conv_on_filler, cv);
	cv->started_ms = call_started_ms(cv->call);
	conv_ask_customer(cv);
}

/* ---- the caller ------------------------------------------------------- */

static bool
conv_is_loud(const uint8_t *mulaw, size_t len)
{
	long sum = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		sum += labs((long)mulaw_decode(mulaw[i]));
	return sum / (long)len >= CONV_LOUD_ABS;
}

static struct conv_utt *
conv_utt_find(struct conversation *cv, long no)
{
	for (size_t i = 0; i < CONV_UTT_RING; i++)
		if (cv->ring[i].no == no)
			return &cv->ring[i];
	return NULL;
}

/* The VAD ended an utterance: send its audio to STT. */
static void
conv_utterance(struct conversation *cv, int64_t now)
{
	size_t len = 0;
	const uint8_t *audio = vad_utterance(cv->vad, &len);
	struct conv_utt *u;
	struct log_ctx ctx = conv_ctx(cv);
	json_t *p;

	if (audio == NULL || len == 0)
		return;
	if (bargein_is_backchannel(
		&cv->bi, playout_is_playing(call_playout(cv->call)))) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "utterance over the agent was a backchannel (%zu bytes): "
		    "the agent went on; no turn",
		    len);
		cv->speech_start_ms = 0;
		return;
	}
	cv->utts++;
	u = &cv->ring[cv->utts % CONV_UTT_RING];
	conv_utt_clean(u);
	u->no = cv->utts;
	u->end_ms = now;
	u->eot_ms = cv->last_loud_ms > 0 && now > cv->last_loud_ms
			? now - cv->last_loud_ms
			: 0;
	u->speech_ms = cv->speech_start_ms > 0
			   ? now - u->eot_ms - cv->speech_start_ms
			   : vad_speech_ms(cv->vad);
	if (u->speech_ms < 0)
		u->speech_ms = 0;
	cv->speech_start_ms = 0;
	u->sent_ms = now;
	u->confidence = -1;
	p = json_pack("{s:I, s:s, s:s}", "turn", (json_int_t)u->no, "language",
	    "he", "source", "call");
	(void)jobs_submit(cv->g->jobtab, JOBS_STT, MSG_STT_JOB,
	    call_sid(cv->call), call_generation(cv->call), p, audio, len,
	    &conv_job_ops, cv, CONV_TAG(u->no, 0, CONV_STT));
	json_decref(p);
	log_call(LOG_LEVEL_INFO, &ctx,
	    "utterance %ld: %lld ms of speech, %zu bytes to STT (end of turn "
	    "after %lld ms of silence)",
	    u->no, (long long)u->speech_ms, len, (long long)u->eot_ms);
}

/* Inbound audio of the caller (any length; the VAD frames it). */
void
conversation_media(struct conversation *cv, const uint8_t *mulaw, size_t len)
{
	int64_t now;
	enum vad_event ev;
	int guard = 0;

	if (cv->vad == NULL || cv->ended)
		return;
	now = clock_mono_ms();
	if (cv->ending) {
		/* A pause for a burst must not hold the goodbye back. */
		if (playout_is_paused(call_playout(cv->call))) {
			playout_pause(call_playout_mut(cv->call), false, now);
			call_kick(cv->call);
		}
		return;
	}
	if (conv_is_loud(mulaw, len))
		cv->last_loud_ms = now;
	ev = vad_feed(cv->vad, mulaw, len);
	/* vad_feed stops at each event; the rest waits inside it. */
	while (ev != VAD_NONE && guard++ < 64) {
		if (ev == VAD_SPEECH_START)
			cv->speech_start_ms = now - cv->min_speech_ms;
		else if (ev == VAD_UTTERANCE_END)
			conv_utterance(cv, now);
		ev = vad_feed(cv->vad, NULL, 0);
	}
	conv_bargein(cv, now);
}

/* The first caller turn: the greeting, if heard, opens the context. */
static void
conv_note_greeting(struct conversation *cv)
{
	const struct playout *po = call_playout(cv->call);
	const struct phrase *ph;

	if (cv->greeting_noted)
		return;
	cv->greeting_noted = true;
	if (playout_nitems(po) == 0 ||
	    strcmp(playout_item_label(po, 0), "greeting") != 0 ||
	    playout_item_state(po, 0) != PLAYOUT_HEARD)
		return;
	ph = phrases_get(cv->g, call_business(cv->call), PHRASE_GREETING);
	if (ph != NULL && ph->text != NULL && ph->text[0] != '\0')
		json_array_append_new(cv->heard,
		    json_pack("{s:s, s:s}", "role", "agent", "text", ph->text));
	if (greeting_heard_text(cv->greeting) != NULL)
		json_array_append_new(
		    cv->heard, json_pack("{s:s, s:s}", "role", "agent", "text",
				   greeting_heard_text(cv->greeting)));
}

/* Start ending the call: goodbye (or transfer notice), then hang up. */
static void
conv_end_call(struct conversation *cv, enum phrase_kind k, const char *why)
{
	struct log_ctx ctx = conv_ctx(cv);
	long item;

	if (cv->ending || cv->ended)
		return;
	cv->ending = true;
	log_call(LOG_LEVEL_INFO, &ctx, "ending the call (%s): %s, then hang up",
	    why, phrases_kind_name(k));
	call_event(cv->call, "handoff");
	item = conv_play(cv, k);
	if (item < 0) {
		(void)call_hangup(cv->call, why);
		return;
	}
	cv->bye_item = (size_t)item;
}

/* transfer_to_human: the notice, then Twilio dials a person (handoff.c). */
static void
conv_transfer(struct conversation *cv)
{
	struct log_ctx ctx = conv_ctx(cv);

	if (cv->ended)
		return;
	cv->ending = true; /* no new turn while the transfer is under way */
	cv->transferring = true;
	log_call(LOG_LEVEL_INFO, &ctx,
	    "transferring the call (transfer_to_human): transfer notice, then "
	    "Twilio dials the business's transfer number");
	handoff_free(cv->handoff);
	cv->handoff = NULL;
	cv->handoff = handoff_transfer(cv->call);
}

/*
 * The transfer did not happen (no transfer number, Twilio refused or did
 * not answer): apologise and go on with the agent (docs/conversation.md).
 */
void
conversation_transfer_failed(struct conversation *cv, const char *why)
{
	struct log_ctx ctx = conv_ctx(cv);

	if (cv->ended || !cv->transferring)
		return;
	log_call(LOG_LEVEL_WARN, &ctx,
	    "transfer failed (%s): the apology plays and the call goes on "
	    "with the agent",
	    why);
	cv->transferring = false;
	cv->ending = false;
	(void)conv_play(cv, PHRASE_APOLOGY);
}

/* Return true while nothing but the greeting happened (greeting.c). */
bool
conversation_is_greeting_time(const struct conversation *cv)
{
	return !cv->ending && !cv->ended && cv->turns == 0 && cv->cur == NULL &&
	       (cv->vad == NULL || !vad_in_speech(cv->vad));
}

/* The STT result of utterance u arrived. */
static void
conv_on_stt(
    struct conversation *cv, long no, const struct msg *m, json_t *payload)
{
	struct conv_utt *u = conv_utt_find(cv, no);
	struct log_ctx ctx = conv_ctx(cv);
	const char *text = json_string_value(json_object_get(payload, "text"));
	json_t *conf = json_object_get(payload, "confidence");
	int64_t now = clock_mono_ms();

	if (u == NULL)
		return;
	u->stt_ms = now - u->sent_ms;
	if (m->flags & MSG_F_ERROR) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "utterance %ld not transcribed (%s: %s); the call goes on",
		    no, conv_str(payload, "error", "?"),
		    conv_str(payload, "message", ""));
		if (cv->cur == NULL && !cv->ending)
			(void)conv_play(cv, PHRASE_APOLOGY);
		conv_utt_clean(u);
		return;
	}
	if (json_is_true(json_object_get(payload, "no_speech")) ||
	    text == NULL || text[0] == '\0') {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "utterance %ld is no speech (%s%s%s): no turn", no,
		    conv_str(payload, "reason", "empty"),
		    conv_str(payload, "filtered", NULL) != NULL ? ", heard as "
								: "",
		    conv_str(payload, "filtered", ""));
		conv_utt_clean(u);
		return;
	}
	u->confidence = json_is_number(conf) ? json_number_value(conf) : -1;
	u->text = xstrdup(text);
	if (cv->ending || cv->ended) {
		conv_utt_clean(u);
		return;
	}
	if (cv->cur != NULL) {
		/* The agent still answers: this turn waits for the reply. */
		if (cv->pending.text != NULL) {
			char *both =
			    xasprintf("%s %s", cv->pending.text, u->text);

			free(cv->pending.text);
			cv->pending.text = both;
			free(u->text);
			u->text = NULL;
		} else {
			cv->pending = *u;
			u->text = NULL;
		}
		memset(u, 0, sizeof(*u));
		log_call(LOG_LEVEL_INFO, &ctx,
		    "caller turn waits for the agent's reply to end");
		return;
	}
	conv_take_turn(cv, u);
	memset(u, 0, sizeof(*u));
}

/* A caller turn with words: write it and ask the LLM (takes u's text). */
static void
conv_take_turn(struct conversation *cv, struct conv_utt *u)
{
	struct conv_turn *t;
	const struct crm_business *b = conv_business(cv);
	struct log_ctx ctx;
	json_t *d, *p;

	cv->turns++;
	ctx = conv_ctx(cv);
	if (cv->g->conv_cfg.max_turns > 0 &&
	    cv->turns > cv->g->conv_cfg.max_turns) {
		conv_utt_clean(u);
		conv_end_call(cv, PHRASE_GOODBYE, "too many turns");
		return;
	}
	conv_note_greeting(cv);
	d = json_pack("{s:s, s:s, s:I, s:I, s:b, s:{s:I, s:I, s:I}}", "speaker",
	    "caller", "heard", u->text, "start_ms",
	    (json_int_t)conv_rel(cv, u->end_ms - u->eot_ms - u->speech_ms),
	    "end_ms", (json_int_t)conv_rel(cv, u->end_ms - u->eot_ms),
	    "interrupted", 0, "latency", "end_of_turn_ms",
	    (json_int_t)u->eot_ms, "stt_ms", (json_int_t)u->stt_ms, "speech_ms",
	    (json_int_t)u->speech_ms);
	if (d != NULL && u->confidence >= 0)
		json_object_set_new(
		    d, "stt_confidence", json_real(u->confidence));
	conv_write_turn(cv, d);
	json_decref(d);
	t = xcalloc(1, sizeof(*t));
	t->turn = cv->turns;
	t->utt = *u;
	memset(u, 0, sizeof(*u));
	t->reply = reply_new();
	t->first_token_ms = -1;
	t->first_sentence_ms = -1;
	t->tts_first_ms = -1;
	t->first_frame_ms = -1;
	t->llm_sent_ms = clock_mono_ms();
	cv->cur = t;
	p = json_pack("{s:s?, s:s?, s:s, s:O, s:s, s:I}", "business_id",
	    call_business(cv->call), "business_name",
	    b != NULL ? b->name : NULL, "instructions",
	    b != NULL && b->instructions != NULL ? b->instructions : "",
	    "heard", cv->heard, "text", t->utt.text, "turn",
	    (json_int_t)t->turn);
	if (p != NULL) {
		if (cv->customer != NULL)
			json_object_set(p, "customer", cv->customer);
		else if (call_from(cv->call) != NULL)
			json_object_set_new(p, "customer",
			    json_pack("{s:s}", "phone", call_from(cv->call)));
	}
	json_array_append_new(cv->heard,
	    json_pack("{s:s, s:s}", "role", "caller", "text", t->utt.text));
	(void)jobs_submit(cv->g->jobtab, JOBS_LLM, MSG_LLM_JOB,
	    call_sid(cv->call), call_generation(cv->call), p, NULL, 0,
	    &conv_job_ops, cv, CONV_TAG(t->turn, 0, CONV_LLM));
	json_decref(p);
	log_call(LOG_LEVEL_INFO, &ctx, "caller said: %s", t->utt.text);
	conv_filler_arm(cv, t);
}

/* ---- the agent -------------------------------------------------------- */

/* The reply is played (or nothing will be): write its row, go on. */
static void
conv_turn_over(struct conversation *cv)
{
	struct conv_turn *t = cv->cur;
	struct playout *po = call_playout_mut(cv->call);
	struct log_ctx ctx = conv_ctx(cv);
	json_t *marks = json_array();
	char *heard = reply_heard(t->reply, po, marks);
	char *gen = t->generated != NULL ? xstrdup(t->generated)
					 : reply_generated(t->reply);
	int64_t now = clock_mono_ms();
	json_t *d, *lat;

	lat = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "end_of_turn_ms",
	    (json_int_t)t->utt.eot_ms, "stt_ms", (json_int_t)t->utt.stt_ms,
	    "llm_first_token_ms", (json_int_t)t->first_token_ms,
	    "llm_first_sentence_ms", (json_int_t)t->first_sentence_ms, "tts_ms",
	    (json_int_t)t->tts_first_ms, "first_frame_ms",
	    (json_int_t)t->first_frame_ms, "marks_heard", marks);
	d = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "speaker", "agent",
	    "heard", heard, "generated", gen, "start_ms",
	    (json_int_t)conv_rel(
		cv, t->first_frame_at_ms > 0 ? t->first_frame_at_ms : now),
	    "end_ms", (json_int_t)conv_rel(cv, now), "interrupted",
	    t->interrupted || reply_is_interrupted(t->reply, po), "latency",
	    lat);
	conv_write_turn(cv, d);
	json_decref(d);
	if (heard[0] != '\0')
		json_array_append_new(cv->heard,
		    json_pack("{s:s, s:s}", "role", "agent", "text", heard));
	{
		json_t *f = json_pack("{s:I, s:I, s:I, s:I, s:I}", "stt_ms",
		    (json_int_t)t->utt.stt_ms, "llm_first_sentence_ms",
		    (json_int_t)t->first_sentence_ms, "tts_ms",
		    (json_int_t)t->tts_first_ms, "first_frame_ms",
		    (json_int_t)t->first_frame_ms, "sentences",
		    (json_int_t)reply_queued(t->reply));

		log_fields(LOG_LEVEL_INFO, &ctx, f, "agent said: %s",
		    heard[0] ? heard : "(nothing heard)");
		json_decref(f);
	}
	free(heard);
	free(gen);
	cv->cur = NULL;
	if (t->transfer && !cv->ending) {
		conv_turn_free(t);
		conv_transfer(cv);
		return;
	}
	if (t->end_call) {
		conv_end_call(cv, PHRASE_GOODBYE, "end_call");
		conv_turn_free(t);
		return;
	}
	conv_turn_free(t);
	if (cv->pending.text != NULL && !cv->ending) {
		struct conv_utt u = cv->pending;

		memset(&cv->pending, 0, sizeof(cv->pending));
		conv_take_turn(cv, &u);
	}
}

static void
conv_check_turn(struct conversation *cv)
{
	struct conv_turn *t = cv->cur;

	if (t != NULL && t->llm_done &&
	    reply_is_played(t->reply, call_playout(cv->call)))
		conv_turn_over(cv);
}

/* Audio was queued: start sending it and note the first frame. */
static void
conv_queued(struct conversation *cv, struct conv_turn *t, int64_t now)
{
	if (t->first_frame_at_ms == 0 && reply_queued(t->reply) > 0) {
		t->first_frame_at_ms = now;
		t->first_frame_ms = now - t->utt.end_ms;
	}
	call_kick(cv->call);
}

static void
conv_on_sentence(struct conversation *cv, struct conv_turn *t, json_t *payload)
{
	json_t *ji = json_object_get(payload, "index");
	const char *text = json_string_value(json_object_get(payload, "text"));
	json_t *ft = json_object_get(payload, "first_token_ms");
	const struct crm_business *b = conv_business(cv);
	long index = json_is_integer(ji) ? (long)json_integer_value(ji) : -1;
	int64_t now = clock_mono_ms();
	json_t *p;

	if (index < 0 || index >= CONV_SENTENCES_MAX || text == NULL ||
	    reply_sentence(t->reply, index, text) < 0)
		return; /* malformed or a duplicate */
	if (t->first_sentence_ms < 0)
		t->first_sentence_ms = now - t->llm_sent_ms;
	if (json_is_integer(ft))
		t->first_token_ms = (long)json_integer_value(ft);
	if (strspn(text, " \t\r\n") == strlen(text)) {
		(void)reply_skip(
		    t->reply, index, call_playout_mut(cv->call), now);
		conv_queued(cv, t, now);
		return;
	}
	if (index == 0)
		t->tts_sent0_ms = now;
	p = json_pack("{s:I, s:s, s:s?}", "index", (json_int_t)index, "text",
	    text, "voice", b != NULL ? b->voice : NULL);
	(void)jobs_submit(cv->g->jobtab, JOBS_TTS, MSG_TTS_JOB,
	    call_sid(cv->call), call_generation(cv->call), p, NULL, 0,
	    &conv_job_ops, cv, CONV_TAG(t->turn, index, CONV_TTS));
	json_decref(p);
}

static void
conv_on_action(struct conversation *cv, struct conv_turn *t, json_t *payload)
{
	const char *a = json_string_value(json_object_get(payload, "action"));
	struct log_ctx ctx = conv_ctx(cv);

	if (a == NULL)
		return;
	log_call(LOG_LEVEL_INFO, &ctx, "agent action %s", a);
	if (strcmp(a, "end_call") == 0) {
		t->end_call = true;
	} else if (strcmp(a, "transfer_to_human") == 0) {
		t->transfer = true;
	} else if (strcmp(a, "book_viewing") == 0) {
		const char *key =
		    json_string_value(json_object_get(payload, "key"));
		json_t *ap = json_object_get(payload, "appointment");

		if (key == NULL || !json_is_object(ap) ||
		    crm_write(cv->g, "appointment", key, ap) < 0)
			log_call(LOG_LEVEL_WARN, &ctx,
			    "a viewing request could not be written");
	}
}

/* The LLM is done with turn t (ok, failed or out of budget). */
static void
conv_llm_over(
    struct conversation *cv, struct conv_turn *t, long sentences, bool failed)
{
	int64_t now = clock_mono_ms();

	t->llm_done = true;
	t->failed = failed;
	if (sentences < reply_count(t->reply))
		sentences = reply_count(t->reply);
	reply_set_total(t->reply, sentences, call_playout_mut(cv->call), now);
	if (reply_count(t->reply) == 0 && failed && !cv->ending)
		(void)conv_play(cv, PHRASE_APOLOGY);
	conv_queued(cv, t, now);
	conv_check_turn(cv);
}

/* ---- results ---------------------------------------------------------- */

static void
conv_on_result(void *owner, long tag, const struct msg *m, json_t *payload)
{
	struct conversation *cv = owner;
	struct conv_turn *t = cv->cur;
	long turn = CONV_TAG_TURN(tag);
	struct log_ctx ctx = conv_ctx(cv);
	int64_t now = clock_mono_ms();

	if (cv->ended)
		return;
	if (CONV_TAG_KIND(tag) == CONV_STT) {
		conv_on_stt(cv, turn, m, payload);
		return;
	}
	if (t == NULL || t->turn != turn || t->interrupted)
		return; /* a result of a turn already over, or cut */
	switch (m->type) {
	case MSG_LLM_SENTENCE:
		conv_on_sentence(cv, t, payload);
		break;
	case MSG_LLM_ACTION:
		conv_on_action(cv, t, payload);
		break;
	case MSG_LLM_DONE: {
		json_t *n = json_object_get(payload, "sentences");
		const char *text =
		    json_string_value(json_object_get(payload, "text"));

		if (m->flags & MSG_F_ERROR)
			log_call(LOG_LEVEL_WARN, &ctx,
			    "the agent's reply failed (%s: %s)",
			    conv_str(payload, "error", "?"),
			    conv_str(payload, "message", ""));
		if (text != NULL) {
			free(t->generated);
			t->generated = xstrdup(text);
		}
		conv_llm_over(cv, t,
		    json_is_integer(n) ? (long)json_integer_value(n) : 0,
		    (m->flags & MSG_F_ERROR) != 0);
		break;
	}
	case MSG_TTS_RESULT: {
		long index = CONV_TAG_INDEX(tag);
		struct playout *po = call_playout_mut(cv->call);

		if (index == 0 && t->tts_sent0_ms > 0)
			t->tts_first_ms = now - t->tts_sent0_ms;
		if ((m->flags & MSG_F_ERROR) || m->blob_len == 0) {
			log_call(LOG_LEVEL_WARN, &ctx,
			    "sentence %ld has no audio (%s); it is skipped",
			    index, conv_str(payload, "error", "empty"));
			(void)reply_skip(t->reply, index, po, now);
		} else if (reply_audio(t->reply, index, m->blob, m->blob_len,
			       po, now) == 1) {
			log_call(LOG_LEVEL_INFO, &ctx,
			    "sentence %ld's audio came before an earlier "
			    "sentence's; it waits its turn",
			    index);
		}
		conv_queued(cv, t, now);
		conv_check_turn(cv);
		break;
	}
	default:
		break;
	}
}

static void
conv_on_expired(void *owner, long tag, int stage)
{
	struct conversation *cv = owner;
	struct conv_turn *t = cv->cur;
	long turn = CONV_TAG_TURN(tag);
	int64_t now = clock_mono_ms();

	(void)stage;
	if (cv->ended)
		return;
	switch (CONV_TAG_KIND(tag)) {
	case CONV_STT: {
		struct conv_utt *u = conv_utt_find(cv, turn);

		if (u != NULL)
			conv_utt_clean(u);
		if (cv->cur == NULL && !cv->ending)
			(void)conv_play(cv, PHRASE_APOLOGY);
		break;
	}
	case CONV_LLM:
		if (t != NULL && t->turn == turn)
			conv_llm_over(cv, t, reply_count(t->reply), true);
		break;
	case CONV_TTS:
		if (t != NULL && t->turn == turn) {
			(void)reply_skip(t->reply, CONV_TAG_INDEX(tag),
			    call_playout_mut(cv->call), now);
			conv_queued(cv, t, now);
			conv_check_turn(cv);
		}
		break;
	}
}

static const struct jobs_owner_ops conv_job_ops = {
    conv_on_result, conv_on_expired};

/* ---- barge-in and the filler ------------------------------------------ */

/*
 * The caller barged in: clear what plays (call_clear: `clear`, the queue
 * dropped, a new generation), cancel the old generation's jobs (their
 * results are dropped), and cut the agent's turn: nothing more of it is
 * queued, and its row (interrupted, heard = what the marks proved) is
 * written once the marks of what was sent are back.
 */
static void
conv_barge_in(struct conversation *cv, int64_t now)
{
	struct conv_turn *t = cv->cur;
	struct log_ctx ctx = conv_ctx(cv);
	uint32_t old = call_generation(cv->call);
	const char *sid = call_sid(cv->call);

	log_call(LOG_LEVEL_INFO, &ctx,
	    "barge-in: the caller spoke %d ms over the agent; clear, "
	    "generation %u -> %u",
	    vad_speech_ms(cv->vad), old, old + 1);
	(void)call_clear(cv->call);
	if (cv->g->jobtab != NULL && sid != NULL)
		(void)jobs_cancel(cv->g->jobtab, sid, old, "barge-in");
	if (t == NULL || t->interrupted)
		return;
	t->interrupted = true;
	t->llm_done = true;
	/* The caller has more to say: no goodbye, no transfer on a cut. */
	t->end_call = false;
	t->transfer = false;
	reply_cut(t->reply);
	if (cv->filler_ev != NULL)
		evtimer_del(cv->filler_ev);
	(void)now;
	conv_check_turn(cv);
}

/* After each inbound frame: pause, resume or cut the agent (bargein.c). */
static void
conv_bargein(struct conversation *cv, int64_t now)
{
	struct playout *po = call_playout_mut(cv->call);
	enum bargein_action a;
	struct log_ctx ctx;

	a = bargein_step(&cv->bi, playout_is_playing(po),
	    vad_speech_ms(cv->vad), vad_silence_ms(cv->vad),
	    vad_speech_spread_db(cv->vad), now);
	switch (a) {
	case BARGEIN_NONE:
		break;
	case BARGEIN_PAUSE:
		playout_pause(po, true, now);
		break;
	case BARGEIN_RESUME:
		ctx = conv_ctx(cv);
		log_call(LOG_LEVEL_INFO, &ctx,
		    "a short burst over the agent (%s): the agent goes on",
		    cv->bi.state == BARGEIN_IDLE ? "a backchannel"
		    : playout_is_playing(po)	 ? "noise, or no speech"
						 : "the agent had finished");
		playout_pause(po, false, now);
		call_kick(cv->call);
		break;
	case BARGEIN_CUT:
		conv_barge_in(cv, now);
		break;
	}
}

/* Arm the filler of turn t: filler_after_ms after the caller's turn. */
static void
conv_filler_arm(struct conversation *cv, struct conv_turn *t)
{
	long after = cv->g->conv_cfg.filler_after_ms;
	int64_t anchor = t->utt.end_ms, due;
	struct timeval tv;

	if (cv->filler_ev == NULL || after <= 0 || cv->cur != t)
		return;
	/* A turn that waited for the previous reply counts from now. */
	if (anchor <= 0 || t->llm_sent_ms - anchor >= after)
		anchor = t->llm_sent_ms;
	due = anchor + after - t->llm_sent_ms;
	if (due < 1)
		due = 1;
	tv.tv_sec = (time_t)(due / 1000);
	tv.tv_usec = (suseconds_t)((due % 1000) * 1000);
	evtimer_add(cv->filler_ev, &tv);
}

/* No reply audio yet, so long after the caller's turn: the filler. */
static void
conv_on_filler(evutil_socket_t fd, short what, void *arg)
{
	struct conversation *cv = arg;
	struct conv_turn *t = cv->cur;
	struct log_ctx ctx;
	long item;

	(void)fd;
	(void)what;
	/* Not when the reply failed (the apology plays) or said nothing. */
	if (t == NULL || cv->ended || cv->ending || t->interrupted ||
	    t->filler ||
	    (t->llm_done && (t->failed || reply_count(t->reply) == 0)) ||
	    reply_queued(t->reply) > 0 ||
	    playout_is_playing(call_playout(cv->call)))
		return;
	t->filler = true;
	item = conv_play(cv, PHRASE_FILLER);
	ctx = conv_ctx(cv);
	log_call(LOG_LEVEL_INFO, &ctx,
	    "no reply audio %lld ms after the caller's turn: the filler "
	    "plays (mark %s)",
	    (long long)(clock_mono_ms() - t->utt.end_ms),
	    item >= 0 ? playout_item_mark(call_playout(cv->call), (size_t)item)
		      : "none");
}

/* ---- marks and the end ------------------------------------------------ */

/* A mark came back: a sentence was heard (or cleared). */
void
conversation_mark(struct conversation *cv)
{
	const struct playout *po = call_playout(cv->call);

	if (cv->ended)
		return;
	conv_check_turn(cv);
	if (cv->transferring) {
		handoff_on_mark(cv->handoff);
	} else if (cv->ending && cv->cur == NULL) {
		enum playout_state st = playout_item_state(po, cv->bye_item);

		if (st == PLAYOUT_HEARD || st == PLAYOUT_CLEARED)
			(void)call_hangup(cv->call, "goodbye played");
	}
}

/*
 * The stream is over: cancel the call's jobs, write what the agent had
 * said, the call's end and duration, and ask for the post-call analysis.
 */
void
conversation_end(struct conversation *cv)
{
	struct gateway *g = cv->g;
	const char *sid = call_sid(cv->call);
	const char *biz = call_business(cv->call);
	uint32_t gen = call_generation(cv->call);
	int64_t now = clock_mono_ms();
	struct log_ctx ctx = conv_ctx(cv);

	if (cv->ended || sid == NULL || cv->vad == NULL)
		return;
	cv->ending = true; /* nothing new starts from here */
	if (cv->cur != NULL) {
		cv->cur->llm_done = true;
		conv_turn_over(cv);
	}
	cv->ended = true;
	if (g->jobtab != NULL) {
		(void)jobs_cancel(g->jobtab, sid, gen, "hangup");
		jobs_forget_owner(g->jobtab, cv);
	}
	/* A transferred call goes on with a person; Twilio's final status
	 * callback overwrites "transferred" with "completed" later. */
	crm_call_status(g, sid, biz,
	    handoff_is_transferred(cv->handoff) ? "transferred" : "completed",
	    (long)((now - cv->started_ms + 500) / 1000));
	if (cv->turns > 0 && g->jobtab != NULL && biz != NULL) {
		json_t *p = json_pack("{s:s, s:O, s:{s:s?}}", "business_id",
		    biz, "transcript", cv->heard, "customer", "phone",
		    call_from(cv->call));

		(void)jobs_submit(g->jobtab, JOBS_LLM, MSG_ANALYSIS_JOB, sid,
		    gen + 1, p, NULL, 0, NULL, NULL, 0);
		json_decref(p);
		log_call(LOG_LEVEL_INFO, &ctx,
		    "call over after %ld caller turn(s); analysis requested",
		    cv->turns);
	}
}
