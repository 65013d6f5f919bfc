/*
 * Server-Sent Events: GET /api/events, the browser's live view of calls
 * and CRM changes (docs/api.md, "Live events").
 *
 * Why SSE and a file of its own: the UI only listens, SSE is plain HTTP
 * that passes proxies, and a C gateway needs no extra protocol for it
 * (the prototype's Socket.IO did). api.c checks the session, the route
 * and the business, then hands the connection over (http_defer_detach);
 * this file owns the bufferevent from then on.
 *
 * A stream is answered "200 text/event-stream" without a length (the
 * body ends when the connection closes), then "retry: 3000" and an
 * "hello" event. Each event is "event: NAME", "id: N" (per stream), one
 * "data: JSON" line and a blank line. Sources:
 *  - crm-store's STORE_CHANGE (every gateway subscribes, so a browser on
 *    gateway B sees a call gateway A handled): call, turn, analysis, lead,
 *    appointment, note, task, message; the write's field names are renamed
 *    to the API's (from -> from_number, to -> to_number, heard ->
 *    heard_text, generated -> generated_text). A change without a
 *    business (a turn before its call's row) takes the business of the
 *    call when this gateway holds it.
 *  - this gateway's own call events (routes.c and call.c call
 *    sse_call_event): webhook, stream_start and handoff as call_live,
 *    stop and end as call_ended. Other gateways' live states are not
 *    followed yet (their rows still arrive as "call" changes).
 * A stream gets only its business's events (an admin without a business:
 * every business's). Nothing is replayed.
 *
 * Liveness: a ": ping" comment every MERKAZIA_SSE_PING_MS; the session is
 * asked of crm-store again every MERKAZIA_SSE_RECHECK_MS and the stream
 * closed when it ended (a logout on this gateway closes it at once). A
 * reader that lets more than MERKAZIA_SSE_OUTPUT_MAX bytes pile up, or
 * takes nothing for 30 s, is dropped (the browser reconnects and reloads).
 * Streams are freed from a zero-delay event, never inside their own
 * callbacks (R8). At most streams_max at once (503 beyond).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "xmalloc.h"

#define SSE_WRITE_TIMEOUT_S 30
#define SSE_TOKEN_LEN	    64

struct sse_stream {
	TAILQ_ENTRY(sse_stream) entry;
	struct sse *sse;
	struct bufferevent *bev;
	uint64_t id;
	long long user_id;
	long long business_id; /* 0: every business (an admin) */
	char session[SSE_TOKEN_LEN + 1];
	unsigned long next_event;
	int64_t checked_ms;
	bool asking; /* a session check is in flight */
	bool dead;
};

TAILQ_HEAD(sse_list, sse_stream);

/* A session check in flight: names its stream by id (it may be gone). */
struct sse_ask {
	TAILQ_ENTRY(sse_ask) entry;
	struct sse *sse;
	uint64_t id;
};

TAILQ_HEAD(sse_ask_list, sse_ask);

struct sse {
	struct gateway *g;
	struct sse_config cfg;
	struct sse_list streams;
	struct sse_list dead;
	struct sse_ask_list asks;
	size_t nopen;
	struct event *ping;
	struct event *reaper;
	uint64_t next_id;
	unsigned long opened;
	unsigned long refused;
	unsigned long slow;
	unsigned long events;
	unsigned long ended;
};

/* crm-store change kinds that become events (same name but call_event). */
static const char *const sse_kinds[] = {"call", "turn", "analysis", "lead",
    "appointment", "note", "task", "message"};

/* The write's field names and the API's. */
static const char *const sse_renames[][2] = {
    {"from", "from_number"},
    {"to", "to_number"},
    {"heard", "heard_text"},
    {"generated", "generated_text"},
};

static void
sse_close(struct sse_stream *st)
{
	struct sse *s = st->sse;

	if (st->dead)
		return;
	st->dead = true;
	bufferevent_disable(st->bev, EV_READ | EV_WRITE);
	TAILQ_REMOVE(&s->streams, st, entry);
	TAILQ_INSERT_TAIL(&s->dead, st, entry);
	s->nopen--;
	event_active(s->reaper, EV_TIMEOUT, 1);
}

static void
sse_free(struct sse_stream *st)
{
	bufferevent_free(st->bev);
	OPENSSL_cleanse(st->session, sizeof(st->session));
	free(st);
}

static void
sse_reap(evutil_socket_t fd, short what, void *arg)
{
	struct sse *s = arg;
	struct sse_stream *st;

	(void)fd;
	(void)what;
	while ((st = TAILQ_FIRST(&s->dead)) != NULL) {
		TAILQ_REMOVE(&s->dead, st, entry);
		sse_free(st);
	}
}

/* Queue text on st, or drop st when its reader is too slow. */
static void
sse_write(struct sse_stream *st, const char *text, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(st->bev);

	if (st->dead)
		return;
	if (evbuffer_get_length(out) + len > st->sse->cfg.output_max) {
		json_t *f =
		    json_pack("{s:I, s:I}", "user_id", (json_int_t)st->user_id,
			"unsent", (json_int_t)evbuffer_get_length(out));

		st->sse->slow++;
		log_fields(LOG_LEVEL_WARN, NULL, f,
		    "sse: dropping a stream whose reader does not keep up");
		json_decref(f);
		sse_close(st);
		return;
	}
	evbuffer_add(out, text, len);
}

/* Send event name with data (borrowed) on st. */
static void
sse_send(struct sse_stream *st, const char *name, json_t *data)
{
	char *j = json_dumps(data, JSON_COMPACT);
	char *text;

	if (j == NULL)
		return;
	text = xasprintf(
	    "event: %s\nid: %lu\ndata: %s\n\n", name, ++st->next_event, j);
	sse_write(st, text, strlen(text));
	st->sse->events++;
	free(text);
	free(j);
}

/* Send to every stream that may see business biz (0: unknown). */
static void
sse_broadcast(struct sse *s, long long biz, const char *name, json_t *data)
{
	struct sse_stream *st, *tmp;

	for (st = TAILQ_FIRST(&s->streams); st != NULL; st = tmp) {
		tmp = TAILQ_NEXT(st, entry);
		if (st->business_id == 0 || (biz > 0 && st->business_id == biz))
			sse_send(st, name, data);
	}
}

static void
sse_on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in)); /* nothing to read */
}

static void
sse_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct sse_stream *st = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		st->sse->slow++;
	sse_close(st);
}

static struct sse_stream *
sse_find(struct sse *s, uint64_t id)
{
	struct sse_stream *st;

	TAILQ_FOREACH(st, &s->streams, entry)
		if (st->id == id)
			return st;
	return NULL;
}

/* AUTH_SESSION answered for a stream (looked up by id: it may be gone). */
static void
sse_on_session(unsigned int type, json_t *reply, void *arg)
{
	struct sse_ask *ask = arg;
	struct sse *s = ask->sse;
	struct sse_stream *st = sse_find(s, ask->id);
	const char *err = json_string_value(json_object_get(reply, "error"));

	TAILQ_REMOVE(&s->asks, ask, entry);
	free(ask);
	if (st == NULL)
		return;
	st->asking = false;
	st->checked_ms = clock_mono_ms();
	if (type == MSG_STORE_ERROR && err != NULL &&
	    strcmp(err, "forbidden") == 0) {
		s->ended++;
		log_info("sse: the session of user %lld ended; closing its "
			 "stream",
		    st->user_id);
		sse_close(st);
	}
}

/* Ask crm-store whether st's session still lives. */
static void
sse_recheck(struct sse_stream *st)
{
	struct sse *s = st->sse;
	struct sse_ask *ask = xcalloc(1, sizeof(*ask));
	json_t *q = json_pack("{s:s}", "session", st->session);

	ask->sse = s;
	ask->id = st->id;
	if (store_request(s->g->store, MSG_AUTH_SESSION, q, 5000,
		sse_on_session, ask) < 0) {
		free(ask);
	} else {
		TAILQ_INSERT_TAIL(&s->asks, ask, entry);
		st->asking = true;
	}
	json_decref(q);
}

static void
sse_on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct sse *s = arg;
	struct sse_stream *st, *tmp;
	int64_t now = clock_mono_ms();
	static const char ping[] = ": ping\n\n";

	(void)fd;
	(void)what;
	for (st = TAILQ_FIRST(&s->streams); st != NULL; st = tmp) {
		tmp = TAILQ_NEXT(st, entry);
		sse_write(st, ping, sizeof(ping) - 1);
		if (!st->dead && !st->asking && s->g->store != NULL &&
		    now - st->checked_ms >= s->cfg.recheck_ms)
			sse_recheck(st);
	}
}

/*
 * Take bev over as the event stream of a user (business_id 0: every
 * business) whose session is the 64-hex session token; write the answer's
 * head, "retry" and "hello".
 */
void
sse_open(struct gateway *g, struct bufferevent *bev, const char *session,
    long long user_id, long long business_id)
{
	struct sse *s = g->sse;
	struct sse_stream *st;
	struct timeval wtv = {SSE_WRITE_TIMEOUT_S, 0};
	char at[CLOCK_ISO8601_SIZE];
	json_t *hello;
	static const char head[] =
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/event-stream; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "Connection: close\r\n\r\n"
	    "retry: 3000\n\n";

	if (s == NULL || s->nopen >= s->cfg.streams_max ||
	    (g->d != NULL && g->d->stopping)) {
		static const char busy[] =
		    "{\"error\":\"unavailable\",\"message\":\"no more event "
		    "streams now\"}\n";
		int fd = (int)bufferevent_getfd(bev);
		char *text = xasprintf("HTTP/1.1 503 Service Unavailable\r\n"
				       "Content-Type: application/json\r\n"
				       "Cache-Control: no-store\r\n"
				       "Retry-After: 5\r\n"
				       "Content-Length: %zu\r\n"
				       "Connection: close\r\n\r\n%s",
		    sizeof(busy) - 1, busy);

		if (s != NULL)
			s->refused++;
		/* Best effort: one non-blocking write, then the socket
		 * closes with bev. */
		if (fd >= 0)
			(void)send(fd, text, strlen(text),
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		free(text);
		bufferevent_free(bev);
		return;
	}
	st = xcalloc(1, sizeof(*st));
	st->sse = s;
	st->bev = bev;
	st->id = ++s->next_id;
	st->user_id = user_id;
	st->business_id = business_id;
	snprintf(st->session, sizeof(st->session), "%s", session);
	st->checked_ms = clock_mono_ms();
	TAILQ_INSERT_TAIL(&s->streams, st, entry);
	s->nopen++;
	s->opened++;
	bufferevent_setcb(bev, sse_on_read, NULL, sse_on_event, st);
	bufferevent_set_timeouts(bev, NULL, &wtv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	sse_on_read(bev, st); /* whatever came with the request */
	evbuffer_add(bufferevent_get_output(bev), head, sizeof(head) - 1);
	if (clock_iso8601(clock_wall_ms(), at, sizeof(at)) < 0)
		at[0] = '\0';
	hello = json_pack("{s:I, s:o, s:s, s:s}", "user_id",
	    (json_int_t)user_id, "business_id",
	    business_id > 0 ? json_integer(business_id) : json_null(),
	    "gateway",
	    g->d != NULL && g->d->instance != NULL ? g->d->instance : "", "at",
	    at);
	sse_send(st, "hello", hello);
	json_decref(hello);
	log_info("sse: user %lld follows the events of %s", user_id,
	    business_id > 0 ? "one business" : "every business");
}

/* Return the business id of a numeric string (0: none). */
static long long
sse_business_str(const char *s)
{
	long long id = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		id = id * 10 + (*s - '0');
	}
	return id;
}

/* Return the business id of a JSON integer or numeric string (0: none). */
static long long
sse_business(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
	return sse_business_str(json_string_value(v));
}

/* A call of this gateway's business, for a change that has none. */
static long long
sse_call_business(const struct gateway *g, const char *sid)
{
	const struct call *call = sid != NULL ? call_find_sid(g, sid) : NULL;

	return call != NULL ? sse_business_str(call_business(call)) : 0;
}

/*
 * STORE_CHANGE {kind, id, business_id, data} (borrowed): send it to the
 * streams of its business under the API's names.
 */
void
sse_on_change(struct gateway *g, json_t *payload)
{
	struct sse *s = g->sse;
	const char *kind = json_string_value(json_object_get(payload, "kind"));
	json_t *data = json_object_get(payload, "data");
	json_t *ev;
	long long biz;
	size_t k;

	if (s == NULL || TAILQ_EMPTY(&s->streams) || kind == NULL ||
	    !json_is_object(data))
		return;
	for (k = 0; k < sizeof(sse_kinds) / sizeof(*sse_kinds); k++)
		if (strcmp(kind, sse_kinds[k]) == 0)
			break;
	if (k == sizeof(sse_kinds) / sizeof(*sse_kinds))
		return;
	biz = sse_business(json_object_get(payload, "business_id"));
	if (biz == 0)
		biz = sse_business(json_object_get(data, "business_id"));
	if (biz == 0)
		biz = sse_call_business(
		    g, json_string_value(json_object_get(data, "call_sid")));
	if (strcmp(kind, "analysis") == 0) {
		ev = json_pack("{s:O?, s:O?, s:O?, s:O?}", "call_sid",
		    json_object_get(data, "call_sid"), "summary",
		    json_object_get(data, "summary"), "sentiment",
		    json_object_get(data, "sentiment"), "lead_score",
		    json_object_get(data, "lead_score"));
	} else {
		ev = json_copy(data);
		for (size_t i = 0;
		     i < sizeof(sse_renames) / sizeof(*sse_renames); i++) {
			json_t *v = json_object_get(ev, sse_renames[i][0]);

			if (v == NULL)
				continue;
			json_object_set(ev, sse_renames[i][1], v);
			json_object_del(ev, sse_renames[i][0]);
		}
		if (json_object_get(payload, "id") != NULL &&
		    !json_is_null(json_object_get(payload, "id")))
			json_object_set(
			    ev, "id", json_object_get(payload, "id"));
		json_object_del(ev, "business_id");
	}
	if (ev != NULL)
		sse_broadcast(s, biz, kind, ev);
	json_decref(ev);
}

/*
 * This gateway published call event ev (borrowed: {event, business_id,
 * from, to, ts_ms, ...}) for call_sid: tell the streams of its business.
 */
void
sse_call_event(struct gateway *g, const char *call_sid, json_t *ev)
{
	struct sse *s = g->sse;
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *ts = json_object_get(ev, "ts_ms");
	long long biz = sse_business(json_object_get(ev, "business_id"));
	const char *state = NULL, *status = NULL;
	char at[CLOCK_ISO8601_SIZE] = "";
	json_t *data;

	if (s == NULL || TAILQ_EMPTY(&s->streams) || name == NULL)
		return;
	if (json_is_integer(ts) &&
	    clock_iso8601(json_integer_value(ts), at, sizeof(at)) < 0)
		at[0] = '\0';
	if (strcmp(name, "webhook") == 0) {
		state = "ringing";
		status = "ringing";
	} else if (strcmp(name, "stream_start") == 0) {
		state = "greeting";
		status = "in-progress";
	} else if (strcmp(name, "handoff") == 0) {
		state = "transferring";
		status = "in-progress";
	} else if (strcmp(name, "stop") == 0 || strcmp(name, "end") == 0) {
		data = json_pack("{s:s, s:s?, s:s}", "call_sid", call_sid,
		    "ended_at", at[0] != '\0' ? at : NULL, "reason", name);
		sse_broadcast(s, biz, "call_ended", data);
		json_decref(data);
		return;
	} else {
		return; /* media ticks and the like */
	}
	data = json_pack("{s:s, s:O?, s:O?, s:s, s:s, s:n, s:n, s:n}",
	    "call_sid", call_sid, "from_number", json_object_get(ev, "from"),
	    "to_number", json_object_get(ev, "to"), "status", status, "state",
	    state, "customer_id", "customer_name", "last_heard");
	if (data != NULL && strcmp(name, "webhook") == 0 && at[0] != '\0')
		json_object_set_new(data, "started_at", json_string(at));
	if (data != NULL)
		sse_broadcast(s, biz, "call_live", data);
	json_decref(data);
}

/* A session ended on this gateway (logout): close its streams. */
void
sse_session_ended(struct gateway *g, const char *session)
{
	struct sse *s = g->sse;
	struct sse_stream *st, *tmp;

	if (s == NULL || session == NULL)
		return;
	for (st = TAILQ_FIRST(&s->streams); st != NULL; st = tmp) {
		tmp = TAILQ_NEXT(st, entry);
		if (CRYPTO_memcmp(st->session, session, SSE_TOKEN_LEN) == 0) {
			s->ended++;
			sse_close(st);
		}
	}
}

/* Return how many streams are open. */
size_t
sse_open_count(const struct gateway *g)
{
	return g->sse != NULL ? g->sse->nopen : 0;
}

/* Set up the streams' state and the ping timer. Return 0. */
int
sse_setup(
    struct gateway *g, struct event_base *base, const struct sse_config *cfg)
{
	struct sse *s = xcalloc(1, sizeof(*s));
	struct timeval tv;

	s->g = g;
	s->cfg = *cfg;
	if (s->cfg.ping_ms <= 0)
		s->cfg.ping_ms = 15000;
	if (s->cfg.recheck_ms <= 0)
		s->cfg.recheck_ms = 60000;
	if (s->cfg.output_max == 0)
		s->cfg.output_max = (size_t)256 * 1024;
	if (s->cfg.streams_max == 0)
		s->cfg.streams_max = 1024;
	TAILQ_INIT(&s->streams);
	TAILQ_INIT(&s->dead);
	TAILQ_INIT(&s->asks);
	s->ping = event_new(base, -1, EV_PERSIST, sse_on_ping, s);
	s->reaper = event_new(base, -1, 0, sse_reap, s);
	if (s->ping == NULL || s->reaper == NULL)
		fatalx("out of memory for the event streams");
	tv.tv_sec = s->cfg.ping_ms / 1000;
	tv.tv_usec = (suseconds_t)(s->cfg.ping_ms % 1000) * 1000;
	event_add(s->ping, &tv);
	g->sse = s;
	return 0;
}

/* The gateway stops: close every stream (the browsers reconnect to
 * another gateway). */
void
sse_stop(struct gateway *g)
{
	struct sse *s = g->sse;

	if (s == NULL)
		return;
	while (!TAILQ_EMPTY(&s->streams))
		sse_close(TAILQ_FIRST(&s->streams));
}

/* Free every stream and the state; call after the store client is freed
 * (no session answer can arrive any more). */
void
sse_cleanup(struct gateway *g)
{
	struct sse *s = g->sse;
	struct sse_stream *st;
	struct sse_ask *ask;

	if (s == NULL)
		return;
	sse_stop(g);
	while ((st = TAILQ_FIRST(&s->dead)) != NULL) {
		TAILQ_REMOVE(&s->dead, st, entry);
		sse_free(st);
	}
	while ((ask = TAILQ_FIRST(&s->asks)) != NULL) {
		TAILQ_REMOVE(&s->asks, ask, entry);
		free(ask);
	}
	event_free(s->ping);
	event_free(s->reaper);
	free(s);
	g->sse = NULL;
}

/* Append the streams' metrics (Prometheus text) to b. */
void
sse_metrics_write(const struct gateway *g, struct evbuffer *b)
{
	const struct sse *s = g->sse;

	if (s == NULL)
		return;
	evbuffer_add_printf(b,
	    "# HELP merkazia_sse_streams_open Event streams open now.\n"
	    "# TYPE merkazia_sse_streams_open gauge\n"
	    "merkazia_sse_streams_open %zu\n"
	    "# HELP merkazia_sse_streams_total Event streams, by outcome.\n"
	    "# TYPE merkazia_sse_streams_total counter\n"
	    "merkazia_sse_streams_total{result=\"opened\"} %lu\n"
	    "merkazia_sse_streams_total{result=\"refused\"} %lu\n"
	    "merkazia_sse_streams_total{result=\"slow\"} %lu\n"
	    "merkazia_sse_streams_total{result=\"session_ended\"} %lu\n"
	    "# HELP merkazia_sse_events_total Events written to streams.\n"
	    "# TYPE merkazia_sse_events_total counter\n"
	    "merkazia_sse_events_total %lu\n",
	    s->nopen, s->opened, s->refused, s->slow, s->ended, s->events);
}
