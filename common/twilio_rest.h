/*
 * The one Twilio REST client: update a live call, send an SMS or WhatsApp
 * message, fetch a recording; plus the TwiML documents the daemons send.
 *
 * Why one client: the gateway (transfers, hang-ups, recordings) and the
 * watchdog (redirect to Record) both speak to Twilio, and the rules that
 * keep calls safe must hold for both: Basic auth built here (httpc.c stays
 * the only libcurl user), a time budget per request, retries only where
 * they are safe, "the call is gone" told apart from "Twilio is down", and
 * Twilio's credentials sent to TWILIO_API_BASE_URL and nowhere else.
 *
 * Requests (shared/reference/twilio.md section 4):
 *   twilio_rest_call_update   POST {base}/2010-04-01/Accounts/{AC}/Calls/
 *                             {CA}.json with exactly one of Twiml=, Url=
 *                             (+ Method=POST) or Status=completed
 *   twilio_rest_message_send  POST .../Messages.json To, From, Body
 *                             (SMS: E.164 both; WhatsApp: "whatsapp:+..."
 *                             both)
 *   twilio_rest_recording_fetch  GET the recording's media URL when it is
 *                             under the base URL, else the URL rebuilt from
 *                             the RecordingSid: .../Recordings/{RE}.wav
 * Each returns a handle at once and calls done(r, res, arg) exactly once,
 * later, from the loop (never from inside the call), unless
 * twilio_rest_cancel() or twilio_rest_free() came first. Arguments that
 * cannot be sent (a malformed SID or number, TwiML over 4000 characters)
 * end as TWILIO_REST_INVALID through done, with nothing sent.
 *
 * Budget and retries: budget_ms bounds the whole request, retries and
 * waits included; one attempt gets at most the attempt bound
 * (TWILIO_REST_ATTEMPT_MS, twilio_rest_set_timing()). A network error, a
 * 5xx or a 429 is retried after an exponential backoff with jitter
 * (Retry-After honoured) while the budget allows another attempt, at most
 * TWILIO_REST_MAX_ATTEMPTS attempts. Creating a message is not idempotent:
 * it is retried only when Twilio cannot have acted on it (connect
 * failure, 429, 503); other failures end it as TWILIO_REST_UNAVAILABLE
 * (the message may or may not have gone out).
 *
 * Outcomes: 2xx is TWILIO_REST_OK; Twilio error 21220 (call not in
 * progress) and 20404 (not found, also any 404) are TWILIO_REST_GONE,
 * final and never retried; any other 4xx is TWILIO_REST_REJECTED (our
 * request or credentials are wrong: retrying cannot help). res carries
 * the HTTP status, Twilio's error code and message (from its JSON or XML
 * error document) or the transport error.
 *
 * Security: the Authorization header is built once from the account SID
 * and auth token, registered with log_add_secret() and never logged; the
 * credentials go only to URLs under the base URL (a recording URL that is
 * not under it is never contacted). Message bodies and TwiML are never
 * logged (callers' words), only their sizes.
 *
 * Re-entrancy (R8): from done it is safe to start requests and to cancel
 * any other request; twilio_rest_free() from a callback aborts.
 * Not thread-safe: one loop, one thread.
 */
#ifndef MERKAZIA_TWILIO_REST_H
#define MERKAZIA_TWILIO_REST_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct httpc;
struct twilio_rest;
struct twilio_rest_req;

#define TWILIO_REST_ATTEMPT_MS	   10000L /* one attempt at most */
#define TWILIO_REST_BACKOFF_MS	   200L	  /* first retry delay */
#define TWILIO_REST_BACKOFF_MAX_MS 2000L  /* retry delay cap */
#define TWILIO_REST_MIN_ATTEMPT_MS 100L	  /* no attempt with less left */
#define TWILIO_REST_MAX_ATTEMPTS   6
#define TWILIO_REST_TWIML_MAX	   4000 /* characters of inline Twiml */
#define TWILIO_REST_BODY_MAX	   1600 /* characters of a message Body */
#define TWILIO_REST_RECORDING_MAX  ((size_t)64 * 1024 * 1024)
#define TWILIO_REST_RECORD_MAX_S   14400 /* <Record maxLength> bound */

/* Twilio error codes the client gives a meaning to. */
#define TWILIO_ERR_NOT_FOUND	   20404
#define TWILIO_ERR_NOT_IN_PROGRESS 21220

/* How a request ended. */
enum twilio_rest_outcome {
	TWILIO_REST_OK,		 /* 2xx */
	TWILIO_REST_GONE,	 /* 21220/20404/404: call or resource gone */
	TWILIO_REST_REJECTED,	 /* other 4xx (or unusable answer): final */
	TWILIO_REST_UNAVAILABLE, /* 5xx/429/network until the budget ran out */
	TWILIO_REST_INVALID,	 /* refused before sending anything */
};

/* What a call update sets: exactly one of Twiml, Url, Status. */
enum twilio_rest_update {
	TWILIO_REST_UPDATE_TWIML,  /* value: the TwiML document */
	TWILIO_REST_UPDATE_URL,	   /* value: absolute URL, fetched with POST */
	TWILIO_REST_UPDATE_HANGUP, /* value ignored: Status=completed */
};

/* What done gets; pointers are valid only until done returns. */
struct twilio_rest_result {
	enum twilio_rest_outcome outcome;
	long http_status;    /* last HTTP status, 0 when none arrived */
	long error_code;     /* Twilio's error code, 0 when none */
	const char *message; /* Twilio's or the transport's text, "" */
	const char *sid;     /* sid of the answered resource, NULL */
	const char *status;  /* its status ("in-progress", "queued"), NULL */
	const char *content_type; /* recordings: the media type, NULL */
	const char *body;	  /* the response body (recordings: audio) */
	size_t body_len;
	int attempts;	 /* requests sent (0 for TWILIO_REST_INVALID) */
	bool timed_out;	 /* the budget ran out */
	long elapsed_ms; /* from the call to done */
	const char *url; /* the URL requested, without query */
};

/* twilio_rest.c */
struct twilio_rest *twilio_rest_new(struct event_base *base, struct httpc *http,
    const char *account_sid, const char *auth_token, const char *base_url);
void twilio_rest_free(struct twilio_rest *t);
void twilio_rest_set_timing(
    struct twilio_rest *t, long attempt_ms, long backoff_ms);
size_t twilio_rest_in_flight(const struct twilio_rest *t);
const char *twilio_rest_base_url(const struct twilio_rest *t);
struct twilio_rest_req *twilio_rest_call_update(struct twilio_rest *t,
    const char *call_sid, enum twilio_rest_update what, const char *value,
    long budget_ms,
    void (*done)(struct twilio_rest_req *r,
	const struct twilio_rest_result *res, void *arg),
    void *arg);
struct twilio_rest_req *twilio_rest_message_send(struct twilio_rest *t,
    const char *to, const char *from, const char *body, long budget_ms,
    void (*done)(struct twilio_rest_req *r,
	const struct twilio_rest_result *res, void *arg),
    void *arg);
struct twilio_rest_req *twilio_rest_recording_fetch(struct twilio_rest *t,
    const char *recording_url, const char *recording_sid, const char *call_sid,
    long budget_ms,
    void (*done)(struct twilio_rest_req *r,
	const struct twilio_rest_result *res, void *arg),
    void *arg);
void twilio_rest_cancel(struct twilio_rest_req *r);
char *twilio_rest_take_body(struct twilio_rest_req *r, size_t *len);
const char *twilio_rest_outcome_name(enum twilio_rest_outcome o);
bool twilio_rest_url_is_under(const char *url, const char *base_url);
bool twilio_rest_sid_is_valid(const char *sid, const char *prefix);
char *twilio_rest_twiml_dial(
    const char *say, const char *voice, const char *number);
char *twilio_rest_twiml_record(const char *public_url, const char *say,
    const char *voice, int max_length_s);
char *twilio_rest_twiml_hangup(const char *say, const char *voice);

#endif
