/*
 * transfer_to_human: hand a live call to a person through Twilio's REST
 * API. docs/conversation.md ("Transfer") tells the whole story.
 *
 * Why here: a transfer is the one step of a call that leaves the media
 * stream: the gateway asks Twilio to replace the call's TwiML with a
 * <Dial> to the business's transfer number (crm-store's
 * businesses.transfer_number, loaded by crm.c), and Twilio then ends the
 * stream itself. conversation.c decides WHEN (the agent's action, after
 * its reply); this file does the rest, through the gateway's one REST
 * client (g->rest, common/twilio_rest.c).
 *
 * Order: the transfer notice (PHRASE_TRANSFER, from memory) is queued;
 * when its mark comes back (heard, or cleared) the gateway publishes
 * CALL_EVENT "handoff" (the watchdog stops watching: media ticks are about
 * to stop for a good reason) and sends the update, Twiml
 * <Response><Dial>number</Dial></Response>, within HANDOFF_BUDGET_MS
 * (retries inside the client). Then:
 *   OK        the call is Twilio's now: the gateway closes the stream
 *             (1000) at once rather than wait for Twilio's `stop`; the
 *             stream's end writes the call's status "transferred" with
 *             the AI part's duration and ended_at (Twilio's final status
 *             callback later overwrites it with "completed").
 *   GONE      the caller hung up first: nothing more (info).
 *   otherwise no transfer number, REJECTED, UNAVAILABLE, INVALID: the
 *             call is NOT dropped: conversation_transfer_failed plays the
 *             apology and the conversation goes on with the agent
 *             (decision: a caller who asked for a person is better served
 *             by the agent taking their details than by a hang-up).
 *
 * Lifetime: a handoff belongs to its conversation; handoff_free cancels a
 * request in flight (its done callback then never runs), so the callback
 * never sees freed memory. Never logged: the TwiML (the log names the
 * number's last digits only, enough to tell businesses apart).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "twilio_rest.h"
#include "xmalloc.h"

#define HANDOFF_BUDGET_MS 6000 /* the whole update, retries included */

struct handoff {
	struct call *call;
	struct twilio_rest_req *req;
	long notice_item; /* playout item of the notice; -1: none */
	bool requested;	  /* the update was sent (or refused) */
	bool transferred; /* Twilio took the call */
};

/* Return the last 3 digits of number for logs ("...199"). */
static const char *
handoff_tail(const char *number)
{
	size_t n = number != NULL ? strlen(number) : 0;

	return n > 3 ? number + n - 3 : "";
}

static void
handoff_fail(struct handoff *h, const char *why)
{
	struct conversation *cv = call_conversation(h->call);

	if (cv != NULL)
		conversation_transfer_failed(cv, why);
}

static void
handoff_done(
    struct twilio_rest_req *r, const struct twilio_rest_result *res, void *arg)
{
	struct handoff *h = arg;
	struct log_ctx ctx = call_log_ctx(h->call);
	char why[160];

	(void)r;
	h->req = NULL;
	switch (res->outcome) {
	case TWILIO_REST_OK:
		h->transferred = true;
		log_call(LOG_LEVEL_INFO, &ctx,
		    "call transferred: Twilio dials the business's transfer "
		    "number (%d attempt(s), %ld ms)",
		    res->attempts, res->elapsed_ms);
		(void)call_hangup(h->call, "transferred to a human");
		return;
	case TWILIO_REST_GONE:
		log_call(LOG_LEVEL_INFO, &ctx,
		    "no transfer: the caller hung up first (%s)", res->message);
		return;
	default:
		snprintf(why, sizeof(why), "Twilio: %s, HTTP %ld, code %ld",
		    twilio_rest_outcome_name(res->outcome), res->http_status,
		    res->error_code);
		handoff_fail(h, why);
		return;
	}
}

/* The notice was heard (or cleared): hand off and ask Twilio to dial. */
static void
handoff_request(struct handoff *h)
{
	struct gateway *g = call_gateway(h->call);
	const struct crm_business *b = crm_business(g, call_business(h->call));
	const char *sid = call_sid(h->call);
	struct log_ctx ctx = call_log_ctx(h->call);
	char *twiml;

	h->requested = true;
	if (b == NULL || b->transfer_number == NULL) {
		handoff_fail(h, "the business has no transfer number");
		return;
	}
	twiml = twilio_rest_twiml_dial(NULL, NULL, b->transfer_number);
	if (twiml == NULL || g->rest == NULL || sid == NULL) {
		free(twiml);
		handoff_fail(h, twiml == NULL
				    ? "the transfer number is not E.164"
				    : "no Twilio client");
		return;
	}
	call_event(h->call, "handoff");
	log_call(LOG_LEVEL_INFO, &ctx,
	    "transfer notice played; asking Twilio to dial the transfer "
	    "number (...%s)",
	    handoff_tail(b->transfer_number));
	h->req = twilio_rest_call_update(g->rest, sid, TWILIO_REST_UPDATE_TWIML,
	    twiml, HANDOFF_BUDGET_MS, handoff_done, h);
	free(twiml);
}

/*
 * Start transferring call: queue the transfer notice; the update goes out
 * when its mark comes back (handoff_on_mark), or at once when there is no
 * notice to play. Return the handoff (never NULL).
 */
struct handoff *
handoff_transfer(struct call *call)
{
	struct handoff *h = xcalloc(1, sizeof(*h));

	h->call = call;
	h->notice_item = -1;
	if (call_play(call, PHRASE_TRANSFER) == 0)
		h->notice_item = (long)playout_nitems(call_playout(call)) - 1;
	else
		handoff_request(h);
	return h;
}

/* A mark came back: when it ends the notice, send the update. */
void
handoff_on_mark(struct handoff *h)
{
	enum playout_state st;

	if (h == NULL || h->requested || h->notice_item < 0)
		return;
	st = playout_item_state(call_playout(h->call), (size_t)h->notice_item);
	if (st == PLAYOUT_HEARD || st == PLAYOUT_CLEARED)
		handoff_request(h);
}

/* Return true once Twilio took the call (the stream's end is not the
 * call's). */
bool
handoff_is_transferred(const struct handoff *h)
{
	return h != NULL && h->transferred;
}

/* Free h, cancelling its request (its callback never runs then). */
void
handoff_free(struct handoff *h)
{
	if (h == NULL)
		return;
	if (h->req != NULL)
		twilio_rest_cancel(h->req);
	free(h);
}
