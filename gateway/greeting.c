/*
 * The known caller's personal greeting: "שלום דני, טוב לשמוע ממך שוב."
 * right after the business's generic greeting.
 *
 * Why here: the generic greeting must start within a second of `start`,
 * so it plays from memory (phrases.c) and cannot wait for crm-store. The
 * caller is looked up at stream start (conversation.c asks
 * customer_by_phone of crm-store: the webhook may have reached another
 * gateway, so nothing is carried over); when the answer names the
 * customer, this file builds one Hebrew sentence from the first word of
 * the name and sends it as a TTS_JOB (the business's voice) through the
 * job layer (jobs.c). docs/conversation.md ("The greeting") tells it.
 *
 * The rule (decided; documented there): the personal sentence plays only
 * if its audio is back while the generic greeting is still playing, that
 * is before the greeting's mark comes back, and the caller has not
 * started speaking (no utterance sent to STT, no speech under way, no
 * turn taken: conversation_is_greeting_time). It is then queued right
 * behind the greeting (label "greeting-personal"), so the caller hears
 * one greeting without a gap. Audio that comes later, a TTS failure or
 * an expired job: no personal sentence, a log line, and the call goes on
 * exactly as for an unknown caller. The sentence enters the LLM's heard
 * context only once its own mark came back (greeting_heard_text).
 *
 * Lifetime: a greeting belongs to its conversation; greeting_free makes
 * the job layer forget its job (no result reaches freed memory).
 */
#include <ctype.h>
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
#include "xmalloc.h"

#define GREETING_NAME_MAX  48 /* bytes of the first name used */
#define GREETING_LABEL	   "greeting-personal"
#define GREETING_GEN_LABEL "greeting"

struct greeting {
	struct call *call;
	char *text;	 /* the sentence, once asked for */
	long item;	 /* its playout item; -1 until queued */
	int64_t sent_ms; /* TTS job submitted */
};

/*
 * Return the personal sentence for a customer called name (a new string),
 * built from its first word, or NULL when name gives no usable first name
 * (empty, too long, control characters, digits or punctuation only).
 */
char *
greeting_sentence(const char *name)
{
	size_t n;
	bool letter = false;

	if (name == NULL)
		return NULL;
	while (*name == ' ' || *name == '\t')
		name++;
	n = strcspn(name, " \t\r\n,");
	if (n == 0 || n > GREETING_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&')
			return NULL;
		if (c >= 0x80 || isalpha(c))
			letter = true;
	}
	if (!letter)
		return NULL;
	return xasprintf("שלום %.*s, טוב לשמוע ממך שוב.", (int)n, name);
}

/* Return the playout index of the generic greeting, or -1. */
static long
greeting_generic_item(const struct playout *po)
{
	size_t n = playout_nitems(po);

	for (size_t i = 0; i < n; i++)
		if (strcmp(playout_item_label(po, i), GREETING_GEN_LABEL) == 0)
			return (long)i;
	return -1;
}

/* Is the generic greeting still playing, with nothing queued after it? */
static bool
greeting_is_in_time(const struct greeting *gr)
{
	const struct playout *po = call_playout(gr->call);
	const struct conversation *cv = call_conversation(gr->call);
	long g = greeting_generic_item(po);
	enum playout_state st;

	if (g < 0 || cv == NULL || !conversation_is_greeting_time(cv) ||
	    (size_t)g + 1 != playout_nitems(po))
		return false;
	st = playout_item_state(po, (size_t)g);
	return st == PLAYOUT_QUEUED || st == PLAYOUT_SENT;
}

static void
greeting_on_result(void *owner, long tag, const struct msg *m, json_t *payload)
{
	struct greeting *gr = owner;
	struct log_ctx ctx = call_log_ctx(gr->call);
	int64_t now = clock_mono_ms();
	struct playout *po;

	(void)tag;
	if (m->type != MSG_TTS_RESULT)
		return;
	if ((m->flags & MSG_F_ERROR) || m->blob_len == 0) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "personal greeting not synthesized (%s); the caller hears "
		    "the generic one only",
		    json_string_value(json_object_get(payload, "error"))
			? json_string_value(json_object_get(payload, "error"))
			: "no audio");
		return;
	}
	if (!greeting_is_in_time(gr)) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "personal greeting ready after %lld ms, too late (the "
		    "greeting is over or the caller spoke); skipped",
		    (long long)(now - gr->sent_ms));
		return;
	}
	po = call_playout_mut(gr->call);
	if (playout_enqueue(po, m->blob, m->blob_len, GREETING_LABEL, now) == 0)
		return;
	gr->item = (long)playout_nitems(po) - 1;
	call_kick(gr->call);
	log_call(LOG_LEVEL_INFO, &ctx,
	    "personal greeting queued after the greeting (mark %s, ready "
	    "after %lld ms)",
	    playout_item_mark(po, (size_t)gr->item),
	    (long long)(now - gr->sent_ms));
}

static void
greeting_on_expired(void *owner, long tag, int stage)
{
	struct greeting *gr = owner;
	struct log_ctx ctx = call_log_ctx(gr->call);

	(void)tag;
	(void)stage;
	log_call(LOG_LEVEL_INFO, &ctx,
	    "personal greeting: no speech in time; the caller hears the "
	    "generic greeting only");
}

static const struct jobs_owner_ops greeting_job_ops = {
    greeting_on_result, greeting_on_expired};

/* Return the personal greeting of call, not asked for yet. */
struct greeting *
greeting_new(struct call *call)
{
	struct greeting *gr = xcalloc(1, sizeof(*gr));

	gr->call = call;
	gr->item = -1;
	return gr;
}

/*
 * crm-store named the caller (name may be NULL: unknown): ask the TTS for
 * the personal sentence, once, while it can still be in time.
 */
void
greeting_on_customer(struct greeting *gr, const char *name)
{
	struct gateway *g;
	const struct crm_business *b;
	struct log_ctx ctx;
	json_t *p;

	if (gr == NULL || gr->text != NULL || name == NULL ||
	    !greeting_is_in_time(gr))
		return;
	ctx = call_log_ctx(gr->call);
	if ((gr->text = greeting_sentence(name)) == NULL) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "no personal greeting: the customer's name has no usable "
		    "first name");
		return;
	}
	g = call_gateway(gr->call);
	b = crm_business(g, call_business(gr->call));
	p = json_pack("{s:i, s:s, s:s?}", "index", 0, "text", gr->text, "voice",
	    b != NULL ? b->voice : NULL);
	gr->sent_ms = clock_mono_ms();
	if (g->jobtab != NULL && p != NULL) {
		(void)jobs_submit(g->jobtab, JOBS_TTS, MSG_TTS_JOB,
		    call_sid(gr->call), call_generation(gr->call), p, NULL, 0,
		    &greeting_job_ops, gr, 0);
		log_call(LOG_LEVEL_INFO, &ctx,
		    "known caller: personal greeting sent to TTS");
	}
	json_decref(p);
}

/* Return the personal sentence if the caller heard it whole, or NULL. */
const char *
greeting_heard_text(const struct greeting *gr)
{
	if (gr == NULL || gr->item < 0)
		return NULL;
	return playout_item_state(call_playout(gr->call), (size_t)gr->item) ==
		       PLAYOUT_HEARD
		   ? gr->text
		   : NULL;
}

/* Free gr; the job layer forgets its job. */
void
greeting_free(struct greeting *gr)
{
	struct gateway *g;

	if (gr == NULL)
		return;
	g = call_gateway(gr->call);
	if (g->jobtab != NULL)
		jobs_forget_owner(g->jobtab, gr);
	free(gr->text);
	free(gr);
}
