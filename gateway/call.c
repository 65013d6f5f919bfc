/*
 * The call table: one struct call per Media Streams connection, from the
 * WebSocket upgrade on /twilio/media to the moment it is freed.
 *
 * Why here: the gateway holds the state of every live call (design.md);
 * workers are stateless. A call owns its WebSocket (ws.c), its playout
 * queue (playout.c), its SIDs, business, caller and called numbers (from
 * `start` and its customParameters: the WebSocket may reach another
 * gateway than the webhook did, so nothing is looked up), its turn
 * generation and its counters. Calls are found by stream SID.
 *
 * Upgrade (call_upgrade, from routes.c): X-Twilio-Signature over the
 * stream URL (twilio_sig_is_valid_ws) unless the check is off (403), the
 * handshake (400), then 101 and the bufferevent is taken from http.c.
 * A stream that sends no `start` within start_timeout_ms is closed with a
 * log line. The streamSid comes ONLY from `start` (Twilio error 31951 for
 * anything else); a later message naming another stream is refused.
 * Non-JSON, unknown and malformed messages are logged (the first few per
 * call) and counted, and the call goes on. Sequence-number gaps are
 * counted. After `stop` nothing more is sent and the gateway closes the
 * socket (1000).
 *
 * Events (CALL_EVENTS, PUB, never blocking; a full socket drops and
 * counts): stream_start; media at most once per call per second while
 * inbound audio flows; stop; end when the stream ended cleanly (after
 * `stop`, or closed by the gateway on purpose). A connection that breaks
 * without `stop` publishes nothing more: its media ticks stop, which is
 * what the watchdog looks for (the prototype's "greeting, then silence").
 *
 * Pacing: ONE persistent timer (CALL_PACER_MS) ticks every live call's
 * playout; it runs only while calls exist. The greeting is queued the
 * moment `start` arrives and its first frames go out at once.
 *
 * Conversation: from `start` on, each call has one (conversation.c): the
 * inbound audio, the marks and the stream's end are passed to it; it asks
 * the call to queue audio, play phrases, publish events and hang up.
 *
 * Freeing (R8): a call is never freed inside its own callback chain
 * (ws.c's handlers, the pacer's tick): call_close_soon marks it dead, moves
 * it to the dead list and a zero-delay event frees it and its socket. The
 * drained hook (wiring.c) waits while calls_live > 0.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "xmalloc.h"

#define CALL_PACER_MS	  10
#define CALL_TICK_MS	  1000 /* media events at most this often */
#define CALL_BAD_LOG_MAX  5    /* refused messages logged per call */
#define CALL_GAPS_LOG_MAX 5

enum call_state {
	CALL_WAITING, /* upgraded; no `start` yet */
	CALL_LIVE,    /* `start` received */
	CALL_STOPPED, /* `stop` received; closing */
	CALL_DEAD,    /* on the dead list */
};

struct call {
	TAILQ_ENTRY(call) entry;
	struct gateway *g;
	struct ws_conn *ws;
	struct playout *po;
	struct conversation *conv;
	struct event *start_timer;
	enum call_state state;
	bool clean_end; /* `stop` came, or the gateway closed on purpose */
	char call_sid[MEDIA_SID_MAX];
	char stream_sid[MEDIA_SID_MAX];
	char account_sid[MEDIA_SID_MAX];
	char *business;
	char *from;
	char *to;
	long generation;
	struct media_seq seq;
	int64_t opened_ms;
	int64_t started_ms; /* `start` received */
	int64_t last_tick_ms;
	unsigned long media_in;
	unsigned long bytes_in;
	unsigned long bad;
	char peer[64];
};

TAILQ_HEAD(call_list, call);

struct call_table {
	struct event_base *base;
	struct call_list live;
	struct call_list dead;
	struct event *reaper;
	struct event *pacer;
	bool pacer_on;
};

static void call_on_text(struct ws_conn *, const char *, size_t, void *);
static void call_on_binary(struct ws_conn *, size_t, void *);
static void call_on_closed(struct ws_conn *, enum ws_end, void *);
static int call_send_media(void *, const uint8_t *, size_t);
static int call_send_mark(void *, const char *);
static int call_send_clear(void *);

static const struct ws_handlers call_ws_handlers = {
    call_on_text, call_on_binary, call_on_closed};

static const struct playout_ops call_playout_ops = {
    call_send_media, call_send_mark, call_send_clear};

/* ---- helpers ---------------------------------------------------------- */

static struct log_ctx
call_ctx(const struct call *call)
{
	struct log_ctx ctx = {call->call_sid[0] ? call->call_sid : NULL,
	    call->stream_sid[0] ? call->stream_sid : NULL, 0,
	    call->state == CALL_WAITING ? -1 : call->generation};

	return ctx;
}

/* Publish CALL_EVENT event for call without blocking; count the outcome. */
static void
call_publish(struct call *call, const char *event)
{
	struct gateway *g = call->g;
	struct log_ctx ctx = call_ctx(call);
	struct msg m;
	json_t *j;
	char *s;

	msg_init(&m, MSG_CALL_EVENT);
	if (g->call_events == NULL ||
	    msg_set_call_sid(&m, call->call_sid) < 0) {
		g->metrics.call_events_dropped++;
		return;
	}
	j = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I, s:s}", "event", event,
	    "stream_sid", call->stream_sid, "business_id", call->business,
	    "from", call->from, "to", call->to, "ts_ms",
	    (json_int_t)clock_wall_ms(), "gateway",
	    g->d != NULL && g->d->instance != NULL ? g->d->instance : "");
	if (j != NULL)
		sse_call_event(g, call->call_sid, j);
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL) {
		g->metrics.call_events_dropped++;
		return;
	}
	m.json = s;
	m.json_len = strlen(s);
	if (nnsock_send(g->call_events, &m) < 0) {
		g->metrics.call_events_dropped++;
		log_call(LOG_LEVEL_WARN, &ctx, "call event %s dropped: %s",
		    event, strerror(errno));
	} else {
		g->metrics.call_events_sent++;
	}
	free(s);
}

static void
call_pacer_set(struct call_table *t)
{
	bool want = !TAILQ_EMPTY(&t->live);

	if (want == t->pacer_on)
		return;
	if (want) {
		struct timeval tv = {0, (suseconds_t)CALL_PACER_MS * 1000};

		evtimer_add(t->pacer, &tv);
	} else {
		evtimer_del(t->pacer);
	}
	t->pacer_on = want;
}

/* Mark call dead and let the reaper free it (R8). */
static void
call_close_soon(struct call *call)
{
	struct call_table *t = call->g->calls;

	if (call->state == CALL_DEAD)
		return;
	call->state = CALL_DEAD;
	evtimer_del(call->start_timer);
	playout_stop(call->po);
	TAILQ_REMOVE(&t->live, call, entry);
	TAILQ_INSERT_TAIL(&t->dead, call, entry);
	call->g->calls_live--;
	call_pacer_set(t);
	event_active(t->reaper, EV_TIMEOUT, 1);
}

static void
call_free(struct call *call)
{
	conversation_free(call->conv);
	ws_conn_free(call->ws);
	playout_free(call->po);
	event_free(call->start_timer);
	free(call->business);
	free(call->from);
	free(call->to);
	free(call);
}

static void
call_reap(evutil_socket_t fd, short what, void *arg)
{
	struct call_table *t = arg;
	struct call *call;

	(void)fd;
	(void)what;
	while ((call = TAILQ_FIRST(&t->dead)) != NULL) {
		TAILQ_REMOVE(&t->dead, call, entry);
		call_free(call);
	}
}

static void
call_pace(evutil_socket_t fd, short what, void *arg)
{
	struct call_table *t = arg;
	int64_t now = clock_mono_ms();
	struct call *call, *next;

	(void)fd;
	(void)what;
	/* A tick may end its own call (output over the cap): keep next. */
	for (call = TAILQ_FIRST(&t->live); call != NULL; call = next) {
		next = TAILQ_NEXT(call, entry);
		if (call->state == CALL_LIVE)
			playout_tick(call->po, now);
	}
}

/* ---- outbound --------------------------------------------------------- */

static int
call_send(struct call *call, char *text, size_t len)
{
	int r = ws_send_text(call->ws, text, len);

	free(text);
	return r;
}

/* A playout frame's message, built on the stack (50 a second per call). */
static int
call_send_media(void *arg, const uint8_t *frame, size_t len)
{
	struct call *call = arg;
	char buf[128 + MEDIA_SID_MAX + PLAYOUT_FRAME_BYTES / 3 * 4 + 4];
	size_t n;

	if (len > PLAYOUT_FRAME_BYTES) {
		char *s = media_build_media(call->stream_sid, frame, len, &n);

		return call_send(call, s, n);
	}
	n = media_format_media(buf, sizeof(buf), call->stream_sid, frame, len);
	if (n == 0)
		fatalx("call: media message over its buffer");
	return ws_send_text(call->ws, buf, n);
}

static int
call_send_mark(void *arg, const char *name)
{
	struct call *call = arg;
	size_t n;
	char *s = media_build_mark(call->stream_sid, name, &n);

	return call_send(call, s, n);
}

static int
call_send_clear(void *arg)
{
	struct call *call = arg;
	size_t n;
	char *s = media_build_clear(call->stream_sid, &n);

	return call_send(call, s, n);
}

/*
 * Queue phrase k of the call's business (the greeting, a filler, ...) and
 * send its first frames now. Return 0, or -1 when the call is not live or
 * the phrase has no audio (logged).
 */
int
call_play(struct call *call, enum phrase_kind k)
{
	const struct phrase *ph;
	struct log_ctx ctx = call_ctx(call);
	int64_t now = clock_mono_ms();

	if (call->state != CALL_LIVE)
		return -1;
	ph = phrases_get(call->g, call->business, k);
	if (ph == NULL) {
		log_call(LOG_LEVEL_WARN, &ctx,
		    "no audio for the %s phrase of %s; nothing to play",
		    phrases_kind_name(k),
		    call->business ? call->business : "(no business)");
		return -1;
	}
	if (playout_enqueue_clip(
		call->po, ph->clip, phrases_kind_name(k), now) == 0)
		return -1;
	playout_tick(call->po, now);
	return 0;
}

/*
 * Barge-in: drop the call's queued audio, send `clear` and start a new
 * turn generation (results of older ones are stale). Return 0 or -1.
 */
int
call_clear(struct call *call)
{
	if (call->state != CALL_LIVE)
		return -1;
	call->generation++;
	return playout_clear(call->po, clock_mono_ms());
}

/* Return the call's playout (what was queued and heard). */
const struct playout *
call_playout(const struct call *call)
{
	return call->po;
}

/* Return the live call of call_sid (the first one), or NULL. */
struct call *
call_find_sid(const struct gateway *g, const char *call_sid)
{
	struct call *call;

	if (g->calls == NULL || call_sid == NULL || call_sid[0] == '\0')
		return NULL;
	for (call = TAILQ_FIRST(&g->calls->live); call != NULL;
	     call = TAILQ_NEXT(call, entry))
		if (strcmp(call->call_sid, call_sid) == 0)
			return call;
	return NULL;
}

/* ---- what the conversation reads and asks ---------------------------- */

/* Return the call's SID, or NULL before `start` named it. */
const char *
call_sid(const struct call *call)
{
	return call->call_sid[0] ? call->call_sid : NULL;
}

/* Return the stream SID ("" before `start`). */
const char *
call_stream_sid(const struct call *call)
{
	return call->stream_sid;
}

/* Return the call's business id, or NULL. */
const char *
call_business(const struct call *call)
{
	return call->business;
}

/* Return the caller's number, or NULL. */
const char *
call_from(const struct call *call)
{
	return call->from;
}

/* Return the call's turn generation. */
uint32_t
call_generation(const struct call *call)
{
	return (uint32_t)call->generation;
}

struct gateway *
call_gateway(const struct call *call)
{
	return call->g;
}

/* Return the call's conversation (NULL before `start`). */
struct conversation *
call_conversation(const struct call *call)
{
	return call->conv;
}

struct playout *
call_playout_mut(struct call *call)
{
	return call->po;
}

/* Return when `start` arrived (monotonic ms). */
int64_t
call_started_ms(const struct call *call)
{
	return call->started_ms;
}

/* Return the call's log context (SIDs, generation). */
struct log_ctx
call_log_ctx(const struct call *call)
{
	return call_ctx(call);
}

/* Audio was queued on the call's playout: send what is due now. */
void
call_kick(struct call *call)
{
	if (call->state == CALL_LIVE)
		playout_tick(call->po, clock_mono_ms());
}

/* Publish CALL_EVENT event ("handoff", ...) for the call. */
void
call_event(struct call *call, const char *event)
{
	if (call->call_sid[0] != '\0')
		call_publish(call, event);
}

/*
 * End the call from our side: close the stream cleanly (1000) after what
 * was sent; the closed handler does the rest. Return 0 or -1.
 */
int
call_hangup(struct call *call, const char *why)
{
	struct log_ctx ctx = call_ctx(call);

	if (call->state != CALL_LIVE)
		return -1;
	log_call(LOG_LEVEL_INFO, &ctx, "closing the media stream: %s", why);
	call->state = CALL_STOPPED;
	call->clean_end = true;
	playout_stop(call->po);
	return ws_close(call->ws, 1000, "call ended");
}

/* Return the live call whose stream is stream_sid, or NULL. */
struct call *
call_find_stream(const struct gateway *g, const char *stream_sid)
{
	struct call *call;

	if (g->calls == NULL || stream_sid == NULL || stream_sid[0] == '\0')
		return NULL;
	for (call = TAILQ_FIRST(&g->calls->live); call != NULL;
	     call = TAILQ_NEXT(call, entry))
		if (strcmp(call->stream_sid, stream_sid) == 0)
			return call;
	return NULL;
}

/* ---- inbound ---------------------------------------------------------- */

static void
call_refuse(struct call *call, const char *what, const char *why)
{
	struct log_ctx ctx = call_ctx(call);

	call->bad++;
	call->g->call_metrics.bad_messages++;
	if (call->bad <= CALL_BAD_LOG_MAX)
		log_call(LOG_LEVEL_WARN, &ctx,
		    "media stream: message ignored: %s: %s%s", what, why,
		    call->bad == CALL_BAD_LOG_MAX ? " (no more logged)" : "");
}

static char *
call_strdup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

static void
call_on_start(struct call *call, const struct media_msg *m)
{
	struct gateway *g = call->g;
	const char *sid =
	    m->call_sid[0] ? m->call_sid : media_param(m, "callSid");
	const char *biz = media_param(m, "business");
	struct log_ctx ctx;
	json_t *f;

	if (call->state != CALL_WAITING) {
		call_refuse(call, "start", "a second start");
		return;
	}
	snprintf(
	    call->stream_sid, sizeof(call->stream_sid), "%s", m->stream_sid);
	if (sid != NULL && media_is_valid_sid(sid))
		snprintf(call->call_sid, sizeof(call->call_sid), "%s", sid);
	snprintf(
	    call->account_sid, sizeof(call->account_sid), "%s", m->account_sid);
	call->business =
	    call_strdup_or_null(biz != NULL ? biz : g->default_biz);
	call->from = call_strdup_or_null(media_param(m, "from"));
	call->to = call_strdup_or_null(media_param(m, "to"));
	call->state = CALL_LIVE;
	evtimer_del(call->start_timer);
	g->call_metrics.started++;
	ctx = call_ctx(call);
	f = json_pack("{s:s?, s:s?, s:s?, s:s, s:I}", "business_id",
	    call->business, "from", call->from, "to", call->to, "peer",
	    call->peer, "start_ms",
	    (json_int_t)(clock_mono_ms() - call->opened_ms));
	log_fields(LOG_LEVEL_INFO, &ctx, f, "media stream started");
	json_decref(f);
	if (m->tracks != 0 && !(m->tracks & MEDIA_TRACK_INBOUND))
		log_call(
		    LOG_LEVEL_WARN, &ctx, "media stream has no inbound track");
	call_publish(call, "stream_start");
	call->started_ms = clock_mono_ms();
	(void)call_play(call, PHRASE_GREETING);
	call->conv = conversation_new(call);
	conversation_start(call->conv);
}

static void
call_on_media(struct call *call, const struct media_msg *m)
{
	int64_t now;

	if (call->state != CALL_LIVE) {
		call_refuse(call, "media", "not in a started stream");
		return;
	}
	call->media_in++;
	call->bytes_in += m->payload_len;
	call->g->call_metrics.media_in++;
	now = clock_mono_ms();
	if (call->last_tick_ms == 0 ||
	    now - call->last_tick_ms >= CALL_TICK_MS) {
		call->last_tick_ms = now;
		call_publish(call, "media");
	}
	if (call->conv != NULL &&
	    (m->track & MEDIA_TRACK_INBOUND || m->track == 0))
		conversation_media(call->conv, m->payload, m->payload_len);
}

static void
call_on_stop(struct call *call)
{
	struct log_ctx ctx = call_ctx(call);

	if (call->state != CALL_LIVE) {
		call_refuse(call, "stop", "not in a started stream");
		if (call->state == CALL_WAITING)
			(void)ws_close(call->ws, 1000, "stream stopped");
		return;
	}
	call->state = CALL_STOPPED;
	call->clean_end = true;
	playout_stop(call->po);
	log_call(LOG_LEVEL_INFO, &ctx, "media stream stopped by Twilio");
	call_publish(call, "stop");
	(void)ws_close(call->ws, 1000, "stream stopped");
}

static void
call_on_text(struct ws_conn *ws, const char *msg, size_t len, void *arg)
{
	struct call *call = arg;
	struct media_msg m;
	enum media_error e;
	unsigned long gaps;

	(void)ws;
	if (call->state == CALL_DEAD || call->state == CALL_STOPPED)
		return;
	e = media_parse(msg, len, &m);
	/* A numbered message arrived even when it is refused. */
	gaps = media_seq_note(&call->seq, m.seq);
	if (gaps > 0) {
		struct log_ctx ctx = call_ctx(call);

		call->g->call_metrics.seq_gaps += gaps;
		if (call->seq.gaps - gaps < CALL_GAPS_LOG_MAX)
			log_call(LOG_LEVEL_INFO, &ctx,
			    "media stream: %lu message(s) missing before "
			    "sequence number %ld",
			    gaps, m.seq);
	}
	if (e != MEDIA_OK) {
		call_refuse(call, media_error_name(e), m.error);
		media_msg_clean(&m);
		return;
	}
	if (m.type != MEDIA_START && m.type != MEDIA_CONNECTED &&
	    call->stream_sid[0] != '\0' && m.stream_sid[0] != '\0' &&
	    strcmp(m.stream_sid, call->stream_sid) != 0) {
		call_refuse(call, media_type_name(m.type),
		    "streamSid is not this stream's");
		media_msg_clean(&m);
		return;
	}
	switch (m.type) {
	case MEDIA_CONNECTED:
		break;
	case MEDIA_START:
		call_on_start(call, &m);
		break;
	case MEDIA_MEDIA:
		call_on_media(call, &m);
		break;
	case MEDIA_MARK:
		if (playout_mark_echo(call->po, m.name) < 0)
			call_refuse(call, "mark", "no such mark pending");
		else if (call->conv != NULL)
			conversation_mark(call->conv);
		break;
	case MEDIA_DTMF: {
		struct log_ctx ctx = call_ctx(call);

		log_call(LOG_LEVEL_INFO, &ctx, "caller pressed %s", m.digit);
		break;
	}
	case MEDIA_STOP:
		call_on_stop(call);
		break;
	}
	media_msg_clean(&m);
}

static void
call_on_binary(struct ws_conn *ws, size_t len, void *arg)
{
	(void)ws;
	(void)len;
	call_refuse(arg, "binary", "Twilio sends text frames only");
}

static void
call_on_closed(struct ws_conn *ws, enum ws_end why, void *arg)
{
	struct call *call = arg;
	struct log_ctx ctx = call_ctx(call);
	json_t *f;

	(void)ws;
	f = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "reason",
	    ws_end_name(why), "peer", call->peer, "media_in",
	    (json_int_t)call->media_in, "bytes_in", (json_int_t)call->bytes_in,
	    "seq_gaps", (json_int_t)call->seq.gaps, "bad_messages",
	    (json_int_t)call->bad, "items_queued",
	    (json_int_t)playout_nitems(call->po), "items_heard",
	    (json_int_t)playout_heard(call->po, NULL, 0));
	if (why == WS_END_OVERFLOW)
		log_fields(LOG_LEVEL_WARN, &ctx, f,
		    "media stream dropped: the peer does not read (over %zu "
		    "bytes queued)",
		    call->g->call_cfg.ws_output_max);
	else if (why == WS_END_CLOSED || call->clean_end)
		log_fields(LOG_LEVEL_INFO, &ctx, f, "media stream closed");
	else
		log_fields(LOG_LEVEL_WARN, &ctx, f,
		    "media stream ended abnormally (%s)", ws_end_name(why));
	json_decref(f);
	if (call->conv != NULL)
		conversation_end(call->conv);
	if (call->clean_end && call->call_sid[0] != '\0')
		call_publish(call, "end");
	call_close_soon(call);
}

static void
call_no_start(evutil_socket_t fd, short what, void *arg)
{
	struct call *call = arg;
	struct log_ctx ctx = call_ctx(call);

	(void)fd;
	(void)what;
	if (call->state != CALL_WAITING)
		return;
	call->g->call_metrics.no_start++;
	log_call(LOG_LEVEL_WARN, &ctx,
	    "media stream from %s sent no start within %ld ms; closing it",
	    call->peer, call->g->call_cfg.start_timeout_ms);
	call->clean_end = true;
	(void)ws_close(call->ws, 1008, "no start");
}

/* ---- upgrade ---------------------------------------------------------- */

static void
call_refuse_upgrade(struct gateway *g, const struct http_request *req,
    struct http_response *resp, int status, const char *why)
{
	json_t *f = json_pack("{s:s, s:i, s:s}", "peer", req->peer, "status",
	    status, "path", req->path);

	g->call_metrics.upgrades_refused++;
	log_fields(status == 403 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, NULL, f,
	    "media stream upgrade refused: %s", why);
	json_decref(f);
	http_response_set(resp, status, "text/plain; charset=utf-8", NULL);
	evbuffer_add_printf(
	    resp->body, "%d %s\n", status, http_status_text(status));
	if (status == 400)
		(void)http_response_add_header(
		    resp, "Sec-WebSocket-Version", "13");
}

/*
 * The /twilio/media (and /twilio/media/) handler: check the signature and
 * the handshake, take the connection over from http.c and start a call
 * waiting for `start`. Fills resp with 101 (already written by ws.c) or
 * the refusal (403, 400, 503).
 */
void
call_upgrade(struct gateway *g, struct http_conn *c,
    const struct http_request *req, struct http_response *resp)
{
	struct call_table *t = g->calls;
	const char *sig = http_request_header(req, "X-Twilio-Signature");
	char accept[WS_ACCEPT_LEN + 1];
	struct ws_limits lim = {0, g->call_cfg.ws_output_max, 0, 0};
	struct bufferevent *bev;
	struct call *call;
	struct timeval tv;

	if (t == NULL || (g->d != NULL && g->d->stopping)) {
		call_refuse_upgrade(g, req, resp, 503, "not taking calls");
		return;
	}
	if (g->sig_check &&
	    (sig == NULL ||
		!twilio_sig_is_valid_ws(g->auth_token, g->stream_url, sig))) {
		call_refuse_upgrade(g, req, resp, 403,
		    sig == NULL ? "no X-Twilio-Signature"
				: "wrong X-Twilio-Signature (signed URL must "
				  "be the stream URL)");
		return;
	}
	if (ws_handshake(req, accept) != 0) {
		call_refuse_upgrade(
		    g, req, resp, 400, "not a WebSocket version 13 upgrade");
		return;
	}
	if ((bev = http_conn_detach(c)) == NULL) {
		call_refuse_upgrade(g, req, resp, 400, "not an upgrade");
		return;
	}
	call = xcalloc(1, sizeof(*call));
	call->g = g;
	call->state = CALL_WAITING;
	call->opened_ms = clock_mono_ms();
	snprintf(call->peer, sizeof(call->peer), "%s", req->peer);
	call->po = playout_new(&call_playout_ops, call, g->call_cfg.lead_ms,
	    g->call_cfg.late_ms, &g->call_metrics.po);
	call->start_timer = evtimer_new(t->base, call_no_start, call);
	if (call->start_timer == NULL)
		fatalx("out of memory for a call timer");
	TAILQ_INSERT_TAIL(&t->live, call, entry);
	g->calls_live++;
	g->call_metrics.streams++;
	call_pacer_set(t);
	tv.tv_sec = g->call_cfg.start_timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(g->call_cfg.start_timeout_ms % 1000) * 1000;
	evtimer_add(call->start_timer, &tv);
	call->ws = ws_conn_new(
	    bev, accept, &lim, &call_ws_handlers, call, &g->call_metrics.ws);
	resp->status = 101;
	log_fields(LOG_LEVEL_INFO, NULL, NULL,
	    "media stream connected from %s (%s)", call->peer, req->path);
}

/* ---- setup and metrics ------------------------------------------------ */

/*
 * Set up the call table of g on base with cfg (zero fields: defaults).
 * Return 0.
 */
int
call_setup(
    struct gateway *g, struct event_base *base, const struct call_config *cfg)
{
	struct call_table *t = xcalloc(1, sizeof(*t));

	if (cfg != NULL)
		g->call_cfg = *cfg;
	if (g->call_cfg.start_timeout_ms <= 0)
		g->call_cfg.start_timeout_ms = 5000;
	if (g->call_cfg.lead_ms <= 0)
		g->call_cfg.lead_ms = 60;
	if (g->call_cfg.late_ms <= 0)
		g->call_cfg.late_ms = 40;
	if (g->call_cfg.ws_output_max == 0)
		g->call_cfg.ws_output_max = WS_OUTPUT_MAX_DEFAULT;
	t->base = base;
	TAILQ_INIT(&t->live);
	TAILQ_INIT(&t->dead);
	t->reaper = event_new(base, -1, 0, call_reap, t);
	t->pacer = event_new(base, -1, EV_PERSIST, call_pace, t);
	if (t->reaper == NULL || t->pacer == NULL)
		fatalx("out of memory for the call table");
	g->calls = t;
	return 0;
}

/* Free every call (closing its socket) and the table. */
void
call_cleanup(struct gateway *g)
{
	struct call_table *t = g->calls;
	struct call *call;

	if (t == NULL)
		return;
	while ((call = TAILQ_FIRST(&t->live)) != NULL) {
		TAILQ_REMOVE(&t->live, call, entry);
		g->calls_live--;
		call_free(call);
	}
	while ((call = TAILQ_FIRST(&t->dead)) != NULL) {
		TAILQ_REMOVE(&t->dead, call, entry);
		call_free(call);
	}
	event_free(t->reaper);
	event_free(t->pacer);
	free(t);
	g->calls = NULL;
}

/* Append the Media Streams metrics (Prometheus text) to b. */
void
call_metrics_write(const struct gateway *g, struct evbuffer *b)
{
	const struct call_metrics *m = &g->call_metrics;

	evbuffer_add_printf(b,
	    "# HELP merkazia_calls_live Media streams open now.\n"
	    "# TYPE merkazia_calls_live gauge\n"
	    "merkazia_calls_live %ld\n"
	    "# HELP merkazia_media_streams_total Media Streams WebSocket "
	    "upgrades, by result.\n"
	    "# TYPE merkazia_media_streams_total counter\n"
	    "merkazia_media_streams_total{result=\"accepted\"} %lu\n"
	    "merkazia_media_streams_total{result=\"refused\"} %lu\n"
	    "merkazia_media_streams_total{result=\"started\"} %lu\n"
	    "merkazia_media_streams_total{result=\"no_start\"} %lu\n"
	    "# HELP merkazia_media_messages_received_total Inbound media "
	    "messages of started streams.\n"
	    "# TYPE merkazia_media_messages_received_total counter\n"
	    "merkazia_media_messages_received_total %lu\n"
	    "# HELP merkazia_media_messages_bad_total Media Streams messages "
	    "ignored (not JSON, unknown event, malformed, out of place).\n"
	    "# TYPE merkazia_media_messages_bad_total counter\n"
	    "merkazia_media_messages_bad_total %lu\n"
	    "# HELP merkazia_media_sequence_gaps_total Sequence numbers "
	    "missing in Media Streams.\n"
	    "# TYPE merkazia_media_sequence_gaps_total counter\n"
	    "merkazia_media_sequence_gaps_total %lu\n",
	    g->calls_live, m->streams, m->upgrades_refused, m->started,
	    m->no_start, m->media_in, m->bad_messages, m->seq_gaps);
	evbuffer_add_printf(b,
	    "# HELP merkazia_playout_frames_sent_total Outbound 20 ms media "
	    "frames sent.\n"
	    "# TYPE merkazia_playout_frames_sent_total counter\n"
	    "merkazia_playout_frames_sent_total %lu\n"
	    "# HELP merkazia_playout_frames_late_total Outbound frames sent "
	    "later than MERKAZIA_PLAYOUT_LATE_MS after they were due.\n"
	    "# TYPE merkazia_playout_frames_late_total counter\n"
	    "merkazia_playout_frames_late_total %lu\n"
	    "# HELP merkazia_playout_marks_total Marks sent and what their "
	    "echoes said.\n"
	    "# TYPE merkazia_playout_marks_total counter\n"
	    "merkazia_playout_marks_total{result=\"sent\"} %lu\n"
	    "merkazia_playout_marks_total{result=\"heard\"} %lu\n"
	    "merkazia_playout_marks_total{result=\"cleared\"} %lu\n"
	    "# HELP merkazia_playout_clears_total clear messages sent.\n"
	    "# TYPE merkazia_playout_clears_total counter\n"
	    "merkazia_playout_clears_total %lu\n"
	    "# HELP merkazia_websocket_protocol_errors_total WebSocket "
	    "connections closed for a protocol error (1002, 1007, 1009).\n"
	    "# TYPE merkazia_websocket_protocol_errors_total counter\n"
	    "merkazia_websocket_protocol_errors_total %lu\n"
	    "# HELP merkazia_websocket_dropped_total WebSocket connections "
	    "dropped, by reason.\n"
	    "# TYPE merkazia_websocket_dropped_total counter\n"
	    "merkazia_websocket_dropped_total{reason=\"overflow\"} %lu\n"
	    "merkazia_websocket_dropped_total{reason=\"timeout\"} %lu\n"
	    "# HELP merkazia_websocket_pings_total Pings answered.\n"
	    "# TYPE merkazia_websocket_pings_total counter\n"
	    "merkazia_websocket_pings_total %lu\n",
	    m->po.frames_sent, m->po.late_frames, m->po.marks_sent,
	    m->po.marks_heard, m->po.marks_cleared, m->po.clears,
	    m->ws.protocol_errors, m->ws.overflows, m->ws.timeouts,
	    m->ws.pings);
}
