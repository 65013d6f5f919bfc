/*
 * The gateway's HTTP routes: one table {method, path, flags, handler}
 * that http.c's requests go through (docs/gateway.md is the contract).
 *
 * Ops: GET /healthz (alive), /readyz (live workers per stage from the
 * heartbeat follower; 503 while a stage has none or the gateway stops),
 * /metrics (Prometheus text), /version (name, version, build: an old
 * build answering is how the prototype's <Record> TwiML came back).
 *
 * Twilio webhooks (flag ROUTES_TWILIO): the body must be a form; every one
 * is checked for X-Twilio-Signature over MERKAZIA_PUBLIC_URL + the target
 * as sent (twilio_sig.c) unless MERKAZIA_TWILIO_SIGNATURE_CHECK=0, and a
 * missing or wrong one gets 403 and a log line that never holds the
 * token. POST /twilio/voice answers TwiML at once, never waiting on
 * another process (Twilio error 11205 killed the prototype): the called
 * number's business comes from an in-memory map (filled from crm-store by
 * crm.c), else MERKAZIA_DEFAULT_BUSINESS, else a Hebrew "not in service"
 * and <Hangup/>. It publishes a CALL_EVENT "webhook" without blocking
 * (a full or peerless socket drops it and counts the drop) and hands the
 * call's row to the store client (crm.c), which never blocks either.
 * /twilio/voice/status and /twilio/stream-status update the row's status.
 *
 * GET /twilio/media and /twilio/media/ (both: a redirect would be Twilio
 * error 31920) go to call_upgrade (call.c), which takes the connection
 * over as a WebSocket.
 *
 * The browser: every path under /api goes to api.c (which answers later,
 * after asking crm-store, and counts its own answers); any other GET or
 * HEAD this table does not know, outside /twilio, is the web UI's
 * (api_static).
 *
 * Unknown path: 404. Known path, other method: 405 with Allow. HEAD is
 * answered wherever GET is. Every answer is counted by route and status
 * for /metrics.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "xml.h"
#include "xmalloc.h"

#define ROUTES_TWILIO 0x1u /* signed Twilio form POST */
#define ROUTES_WS     0x2u /* Media Streams WebSocket upgrade (call.c) */

#define ROUTES_TEXT  "text/plain; charset=utf-8"
#define ROUTES_JSON  "application/json"
#define ROUTES_XML   "text/xml; charset=utf-8"
#define ROUTES_PROM  "text/plain; version=0.0.4; charset=utf-8"
#define ROUTES_XMLPI "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

/* What callers hear (he-IL; the voice is Twilio's default for it). */
#define ROUTES_SAY_NOT_IN_SERVICE "המספר שחייגתם אינו מחובר לשירות. להתראות."
#define ROUTES_SAY_GOODBYE \
	"תודה, ההודעה שלכם נשמרה ונחזור אליכם בהקדם. להתראות."

struct routes_route {
	const char *method;
	const char *path;
	unsigned int flags;
	void (*fn)(struct gateway *g, const struct http_request *req,
	    const struct form *form, struct http_response *resp);
};

static void routes_healthz(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_readyz(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_metrics(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_version(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_voice(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_voice_status(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_stream_status(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_recording(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);
static void routes_recording_status(struct gateway *,
    const struct http_request *, const struct form *, struct http_response *);
static void routes_empty_twiml(struct gateway *, const struct http_request *,
    const struct form *, struct http_response *);

static const struct routes_route routes_table[] = {
    {"GET", "/healthz", 0, routes_healthz},
    {"GET", "/readyz", 0, routes_readyz},
    {"GET", "/metrics", 0, routes_metrics},
    {"GET", "/version", 0, routes_version},
    {"POST", "/twilio/voice", ROUTES_TWILIO, routes_voice},
    {"POST", "/twilio/voice/status", ROUTES_TWILIO, routes_voice_status},
    {"POST", "/twilio/stream-status", ROUTES_TWILIO, routes_stream_status},
    {"POST", "/twilio/recording", ROUTES_TWILIO, routes_recording},
    {"POST", "/twilio/recording-status", ROUTES_TWILIO,
	routes_recording_status},
    {"POST", "/twilio/sms", ROUTES_TWILIO, routes_empty_twiml},
    {"POST", "/twilio/whatsapp", ROUTES_TWILIO, routes_empty_twiml},
    /* Both spellings answer: a redirect would fail the stream (31920). */
    {"GET", "/twilio/media", ROUTES_WS, NULL},
    {"GET", "/twilio/media/", ROUTES_WS, NULL},
};

#define ROUTES_N (sizeof(routes_table) / sizeof(routes_table[0]))

/* Statuses counted one by one; anything else counts as "other". */
static const int routes_statuses[] = {
    101, 200, 204, 400, 403, 404, 405, 415, 500, 503};

#define ROUTES_NSTATUS (sizeof(routes_statuses) / sizeof(routes_statuses[0]))
#define ROUTES_COLS    (ROUTES_NSTATUS + 1)

/* The stages /readyz and /metrics report, as heartbeats name them. */
static const char *const routes_stages[] = {"stt", "llm", "tts", "crm-store"};

/* msg_error names, index i for enum value i + 1. */
static const char *const routes_msg_errors[] = {
#define ROUTES_ERR_NAME(name, text) #name,
    MSG_ERRORS(ROUTES_ERR_NAME)
#undef ROUTES_ERR_NAME
};

/* ---- setup ------------------------------------------------------------ */

/*
 * Return the Media Streams URL for public_url: https becomes wss, http
 * becomes ws, "/twilio/media" is appended (new string, caller frees), or
 * NULL when the scheme is neither.
 */
char *
routes_stream_url(const char *public_url)
{
	size_t len;

	if (strncasecmp(public_url, "https://", 8) == 0) {
		len = strlen(public_url + 8);
		while (len > 0 && public_url[8 + len - 1] == '/')
			len--;
		return xasprintf(
		    "wss://%.*s/twilio/media", (int)len, public_url + 8);
	}
	if (strncasecmp(public_url, "http://", 7) == 0) {
		len = strlen(public_url + 7);
		while (len > 0 && public_url[7 + len - 1] == '/')
			len--;
		return xasprintf(
		    "ws://%.*s/twilio/media", (int)len, public_url + 7);
	}
	return NULL;
}

/*
 * Set up the routes' state in g: the effective public URL (public_url, or
 * http://<bound> when NULL or empty), the stream URL, the auth token (a
 * copy; never logged), whether signatures are checked and the default
 * business (NULL: none). Return 0, or -1 after logging a bad public URL.
 */
int
routes_setup(struct gateway *g, const char *public_url, const char *bound,
    const char *token, bool sig_check, const char *default_business)
{
	size_t len;

	if (public_url != NULL && public_url[0] != '\0')
		g->public_url = xstrdup(public_url);
	else
		g->public_url = xasprintf("http://%s", bound ? bound : "");
	len = strlen(g->public_url);
	while (len > 0 && g->public_url[len - 1] == '/')
		g->public_url[--len] = '\0';
	g->stream_url = routes_stream_url(g->public_url);
	if (g->stream_url == NULL) {
		log_warnx("MERKAZIA_PUBLIC_URL must be an http:// or https:// "
			  "URL, not \"%s\"",
		    g->public_url);
		return -1;
	}
	g->auth_token = xstrdup(token ? token : "");
	g->sig_check = sig_check;
	g->default_biz = default_business != NULL && default_business[0]
			     ? xstrdup(default_business)
			     : NULL;
	g->metrics.hits =
	    xcalloc((ROUTES_N + 1) * ROUTES_COLS, sizeof(*g->metrics.hits));
	return 0;
}

/* Free what routes_setup and routes_business_set made. */
void
routes_cleanup(struct gateway *g)
{
	X_FREE(g->public_url);
	X_FREE(g->stream_url);
	if (g->auth_token != NULL)
		memset(g->auth_token, 0, strlen(g->auth_token));
	X_FREE(g->auth_token);
	X_FREE(g->default_biz);
	X_FREE(g->metrics.hits);
	for (size_t i = 0; i < g->nbiz; i++) {
		free(g->biz[i].number);
		free(g->biz[i].business);
	}
	X_FREE(g->biz);
	g->nbiz = 0;
	recording_cleanup(g); /* after the REST client and jobs are freed */
}

/* Map a called number to a business (replacing an earlier mapping). */
int
routes_business_set(struct gateway *g, const char *number, const char *business)
{
	for (size_t i = 0; i < g->nbiz; i++) {
		if (strcmp(g->biz[i].number, number) == 0) {
			free(g->biz[i].business);
			g->biz[i].business = xstrdup(business);
			return 0;
		}
	}
	g->biz = xreallocarray(g->biz, g->nbiz + 1, sizeof(*g->biz));
	g->biz[g->nbiz].number = xstrdup(number);
	g->biz[g->nbiz].business = xstrdup(business);
	g->nbiz++;
	return 0;
}

/* Return the business that owns number, or NULL. */
const char *
routes_business_lookup(const struct gateway *g, const char *number)
{
	if (number == NULL)
		return NULL;
	for (size_t i = 0; i < g->nbiz; i++)
		if (strcmp(g->biz[i].number, number) == 0)
			return g->biz[i].business;
	return NULL;
}

/* ---- helpers ---------------------------------------------------------- */

static void
routes_json(struct http_response *resp, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	http_response_set(resp, status, ROUTES_JSON, s);
	evbuffer_add(resp->body, "\n", 1);
	free(s);
	json_decref(j);
}

static void
routes_text(struct http_response *resp, int status)
{
	http_response_set(resp, status, ROUTES_TEXT, NULL);
	evbuffer_add_printf(
	    resp->body, "%d %s\n", status, http_status_text(status));
}

static void
routes_say_hangup(struct http_response *resp, const char *text)
{
	http_response_set(resp, 200, ROUTES_XML, ROUTES_XMLPI);
	evbuffer_add_printf(resp->body, "<Response><Say language=\"he-IL\">");
	xml_escape(resp->body, text);
	evbuffer_add_printf(resp->body, "</Say><Hangup/></Response>\n");
}

/*
 * Publish a CALL_EVENT for call sid without blocking. A full or peerless
 * socket, or a SID the header cannot carry, drops the event and counts it.
 */
static void
routes_publish(struct gateway *g, const char *event, const char *sid,
    const char *business, const char *from, const char *to)
{
	struct log_ctx ctx = {sid, NULL, 0, -1};
	struct msg m;
	json_t *j;
	char *s;

	msg_init(&m, MSG_CALL_EVENT);
	if (g->call_events == NULL || msg_set_call_sid(&m, sid) < 0) {
		g->metrics.call_events_dropped++;
		return;
	}
	j = json_pack("{s:s, s:s?, s:s?, s:s?, s:I, s:s}", "event", event,
	    "business_id", business, "from", from, "to", to, "ts_ms",
	    (json_int_t)clock_wall_ms(), "gateway",
	    g->d != NULL && g->d->instance != NULL ? g->d->instance : "");
	if (j != NULL)
		sse_call_event(g, sid, j);
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

/* ---- ops endpoints ---------------------------------------------------- */

static void
routes_healthz(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	(void)g;
	(void)req;
	(void)form;
	http_response_set(resp, 200, ROUTES_TEXT, "ok\n");
}

static size_t
routes_live(const struct gateway *g, const char *stage)
{
	return g->health != NULL ? health_follow_live(g->health, stage) : 0;
}

static void
routes_readyz(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	json_t *workers = json_object();
	bool stopping = g->d != NULL && g->d->stopping;
	bool ok = !stopping;

	(void)req;
	(void)form;
	for (size_t i = 0; i < sizeof(routes_stages) / sizeof(*routes_stages);
	     i++) {
		size_t n = routes_live(g, routes_stages[i]);

		json_object_set_new(
		    workers, routes_stages[i], json_integer((json_int_t)n));
		if (n == 0)
			ok = false;
	}
	routes_json(resp, ok ? 200 : 503,
	    json_pack("{s:b, s:b, s:b, s:o}", "ok", ok, "stopping", stopping,
		"database", crm_database_is_up(g), "workers", workers));
}

static void
routes_version(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	(void)g;
	(void)req;
	(void)form;
	routes_json(resp, 200,
	    json_pack("{s:s, s:s, s:s}", "name", "gateway", "version",
		daemon_version(), "build", daemon_build_id()));
}

static void
routes_lower(const char *s, char *out, size_t size)
{
	size_t i = 0;

	for (; s[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static void
routes_metrics(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	struct evbuffer *b = resp->body;
	const struct routes_metrics *m = &g->metrics;

	(void)req;
	(void)form;
	http_response_set(resp, 200, ROUTES_PROM, NULL);
	evbuffer_add_printf(b,
	    "# HELP merkazia_http_requests_total HTTP requests answered, by "
	    "route and status.\n"
	    "# TYPE merkazia_http_requests_total counter\n");
	for (size_t r = 0; m->hits != NULL && r <= ROUTES_N; r++) {
		for (size_t s = 0; s < ROUTES_COLS; s++) {
			unsigned long n = m->hits[r * ROUTES_COLS + s];
			char status[16];

			if (n == 0)
				continue;
			if (s < ROUTES_NSTATUS)
				snprintf(status, sizeof(status), "%d",
				    routes_statuses[s]);
			else
				snprintf(status, sizeof(status), "other");
			evbuffer_add_printf(b,
			    "merkazia_http_requests_total{route=\"%s\","
			    "status=\"%s\"} %lu\n",
			    r < ROUTES_N ? routes_table[r].path : "other",
			    status, n);
		}
	}
	if (g->http != NULL) {
		const struct http_stats *st = http_server_stats(g->http);

		evbuffer_add_printf(b,
		    "# HELP merkazia_http_rejected_total Requests refused "
		    "before routing, by status.\n"
		    "# TYPE merkazia_http_rejected_total counter\n"
		    "merkazia_http_rejected_total{status=\"400\"} %lu\n"
		    "merkazia_http_rejected_total{status=\"408\"} %lu\n"
		    "merkazia_http_rejected_total{status=\"413\"} %lu\n"
		    "merkazia_http_rejected_total{status=\"414\"} %lu\n"
		    "merkazia_http_rejected_total{status=\"431\"} %lu\n"
		    "# HELP merkazia_http_connections_total Connections "
		    "accepted.\n"
		    "# TYPE merkazia_http_connections_total counter\n"
		    "merkazia_http_connections_total %lu\n"
		    "# HELP merkazia_http_connections_refused_total "
		    "Connections closed at once (limit or stopping).\n"
		    "# TYPE merkazia_http_connections_refused_total counter\n"
		    "merkazia_http_connections_refused_total %lu\n"
		    "# HELP merkazia_http_connections_open Connections open "
		    "now.\n"
		    "# TYPE merkazia_http_connections_open gauge\n"
		    "merkazia_http_connections_open %lu\n",
		    st->parse_errors, st->timeouts, st->too_large,
		    st->uri_too_long, st->headers_large, st->connections,
		    st->refused, st->open);
	}
	evbuffer_add_printf(b,
	    "# HELP merkazia_calls_answered_total Incoming calls answered "
	    "with a media stream.\n"
	    "# TYPE merkazia_calls_answered_total counter\n"
	    "merkazia_calls_answered_total %lu\n"
	    "# HELP merkazia_calls_not_in_service_total Incoming calls to "
	    "a number no business owns.\n"
	    "# TYPE merkazia_calls_not_in_service_total counter\n"
	    "merkazia_calls_not_in_service_total %lu\n"
	    "# HELP merkazia_webhooks_rejected_total Twilio webhooks "
	    "refused for a missing or wrong signature.\n"
	    "# TYPE merkazia_webhooks_rejected_total counter\n"
	    "merkazia_webhooks_rejected_total{reason=\"signature\"} %lu\n"
	    "# HELP merkazia_call_events_total Call events published or "
	    "dropped.\n"
	    "# TYPE merkazia_call_events_total counter\n"
	    "merkazia_call_events_total{result=\"sent\"} %lu\n"
	    "merkazia_call_events_total{result=\"dropped\"} %lu\n",
	    m->calls_answered, m->calls_not_in_service, m->sig_rejected,
	    m->call_events_sent, m->call_events_dropped);
	evbuffer_add_printf(b,
	    "# HELP merkazia_messages_dropped_total Received messages "
	    "dropped, by reason.\n"
	    "# TYPE merkazia_messages_dropped_total counter\n");
	for (size_t i = 0;
	     i < sizeof(routes_msg_errors) / sizeof(*routes_msg_errors); i++) {
		char reason[32];

		routes_lower(routes_msg_errors[i], reason, sizeof(reason));
		evbuffer_add_printf(b,
		    "merkazia_messages_dropped_total{reason=\"%s\"} %lu\n",
		    reason, msg_error_count((enum msg_error)(i + 1)));
	}
	evbuffer_add_printf(b,
	    "# HELP merkazia_workers_live Workers heard from within the "
	    "heartbeat timeout, by stage.\n"
	    "# TYPE merkazia_workers_live gauge\n");
	for (size_t i = 0; i < sizeof(routes_stages) / sizeof(*routes_stages);
	     i++)
		evbuffer_add_printf(b,
		    "merkazia_workers_live{stage=\"%s\"} %zu\n",
		    routes_stages[i], routes_live(g, routes_stages[i]));
	call_metrics_write(g, b);
	if (g->jobtab != NULL)
		jobs_metrics_write(g->jobtab, b);
	crm_metrics_write(g, b);
	api_metrics_write(g, b);
	sse_metrics_write(g, b);
}

/* ---- Twilio webhooks -------------------------------------------------- */

static void
routes_voice(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	const char *sid = form_get(form, "CallSid");
	const char *from = form_get(form, "From");
	const char *to = form_get(form, "To");
	const char *biz = routes_business_lookup(g, to);
	struct log_ctx ctx = {sid, NULL, 0, -1};
	struct {
		const char *name;
		const char *value;
	} params[4];
	struct evbuffer *b = resp->body;

	(void)req;
	if (sid == NULL || sid[0] == '\0') {
		log_warnx("twilio: voice webhook without CallSid");
		routes_text(resp, 400);
		return;
	}
	if (biz == NULL)
		biz = g->default_biz;
	if (biz == NULL) {
		g->metrics.calls_not_in_service++;
		log_call(LOG_LEVEL_INFO, &ctx,
		    "incoming call to %s: no business owns the number; "
		    "answering not in service",
		    to ? to : "(none)");
		routes_say_hangup(resp, ROUTES_SAY_NOT_IN_SERVICE);
		return;
	}
	params[0].name = "callSid";
	params[0].value = sid;
	params[1].name = "from";
	params[1].value = from ? from : "";
	params[2].name = "to";
	params[2].value = to ? to : "";
	params[3].name = "business";
	params[3].value = biz;
	http_response_set(resp, 200, ROUTES_XML, ROUTES_XMLPI);
	evbuffer_add_printf(b, "<Response><Connect><Stream url=\"");
	xml_escape(b, g->stream_url);
	evbuffer_add_printf(b, "\" statusCallback=\"");
	xml_escape(b, g->public_url);
	evbuffer_add_printf(b, "/twilio/stream-status\">");
	for (size_t i = 0; i < 4; i++) {
		evbuffer_add_printf(
		    b, "<Parameter name=\"%s\" value=\"", params[i].name);
		xml_escape(b, params[i].value);
		evbuffer_add_printf(b, "\"/>");
	}
	evbuffer_add_printf(b, "</Stream></Connect></Response>\n");
	g->metrics.calls_answered++;
	log_call(LOG_LEVEL_INFO, &ctx, "incoming call to %s for business %s",
	    to ? to : "(none)", biz);
	routes_publish(g, "webhook", sid, biz, from, to);
	recording_note_call(g, sid, biz, from);
	crm_call_answered(g, sid, biz, from, to, form_get(form, "CallStatus"));
}

static void
routes_voice_status(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	const char *sid = form_get(form, "CallSid");
	const char *status = form_get(form, "CallStatus");
	const char *dur = form_get(form, "CallDuration");
	const char *biz = routes_business_lookup(g, form_get(form, "To"));
	struct log_ctx ctx = {sid, NULL, 0, -1};
	static const char *const ended[] = {
	    "completed", "busy", "failed", "no-answer", "canceled"};
	long duration = -1;

	(void)req;
	resp->status = 204;
	if (sid == NULL || status == NULL)
		return;
	if (biz == NULL)
		biz = g->default_biz;
	log_call(LOG_LEVEL_INFO, &ctx, "call status %s", status);
	for (size_t i = 0; i < sizeof(ended) / sizeof(*ended); i++) {
		if (strcmp(status, ended[i]) != 0)
			continue;
		routes_publish(g, "end", sid, biz, form_get(form, "From"),
		    form_get(form, "To"));
		duration = dur != NULL ? strtol(dur, NULL, 10) : 0;
		if (duration < 0)
			duration = 0;
	}
	crm_call_status(g, sid, biz, status, duration);
}

/*
 * Twilio's Media Streams status callback: a stream that started puts the
 * call in progress; an error is logged (the watchdog acts on the silence).
 */
static void
routes_stream_status(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	const char *sid = form_get(form, "CallSid");
	const char *ev = form_get(form, "StreamEvent");
	const char *err = form_get(form, "StreamError");
	struct log_ctx ctx = {sid, form_get(form, "StreamSid"), 0, -1};

	(void)req;
	resp->status = 204;
	if (sid == NULL || ev == NULL)
		return;
	if (strcmp(ev, "stream-error") == 0)
		log_call(LOG_LEVEL_WARN, &ctx,
		    "Twilio reports a stream error: %s",
		    err != NULL ? err : "(no detail)");
	else
		log_call(LOG_LEVEL_INFO, &ctx, "Twilio stream status %s", ev);
	if (strcmp(ev, "stream-started") == 0) {
		const struct call *call = call_find_sid(g, sid);

		crm_call_status(g, sid,
		    call != NULL ? call_business(call) : g->default_biz,
		    "in-progress", -1);
	}
}

static void
routes_recording(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	const char *sid = form_get(form, "CallSid");
	struct log_ctx ctx = {sid, NULL, 0, -1};

	(void)g;
	(void)req;
	log_call(LOG_LEVEL_INFO, &ctx, "recording finished; saying goodbye");
	routes_say_hangup(resp, ROUTES_SAY_GOODBYE);
}

/* The Record fallback's recording is ready: recording.c takes it over. */
static void
routes_recording_status(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	(void)req;
	resp->status = 204;
	recording_status(g, form);
}

static void
routes_empty_twiml(struct gateway *g, const struct http_request *req,
    const struct form *form, struct http_response *resp)
{
	(void)g;
	(void)req;
	(void)form;
	http_response_set(resp, 200, ROUTES_XML, ROUTES_XMLPI "<Response/>\n");
}

/* Check and decode a Twilio webhook, then run its handler. */
static void
routes_twilio(struct gateway *g, const struct routes_route *rt,
    const struct http_request *req, struct http_response *resp)
{
	const char *sig = http_request_header(req, "X-Twilio-Signature");
	struct form form;

	if (req->body_len > 0 &&
	    !form_is_urlencoded(http_request_header(req, "Content-Type"))) {
		routes_text(resp, 415);
		return;
	}
	if (form_parse(req->body, req->body_len, &form) < 0) {
		log_fields(LOG_LEVEL_INFO, NULL, NULL,
		    "twilio: %s: body is not a valid form", rt->path);
		routes_text(resp, 400);
		return;
	}
	if (g->sig_check) {
		char *url = xasprintf("%s%s", g->public_url, req->target);
		bool ok = sig != NULL && twilio_sig_is_valid_any(
					     g->auth_token, url, &form, sig);

		free(url);
		if (!ok) {
			const char *sid = form_get(&form, "CallSid");
			struct log_ctx ctx = {sid, NULL, 0, -1};
			json_t *f = json_pack("{s:s, s:s, s:s}", "route",
			    rt->path, "peer", req->peer, "reason",
			    sig == NULL ? "missing" : "mismatch");

			g->metrics.sig_rejected++;
			log_fields(LOG_LEVEL_WARN, &ctx, f,
			    "twilio: webhook refused: %s X-Twilio-Signature "
			    "(signed URL must be %s + path)",
			    sig == NULL ? "no" : "wrong", g->public_url);
			json_decref(f);
			form_free(&form);
			routes_text(resp, 403);
			return;
		}
	}
	rt->fn(g, req, &form, resp);
	form_free(&form);
}

static size_t
routes_status_col(int status)
{
	for (size_t i = 0; i < ROUTES_NSTATUS; i++)
		if (routes_statuses[i] == status)
			return i;
	return ROUTES_NSTATUS;
}

/*
 * The http.c handler: find req's route, answer it into resp, count it.
 * arg is the struct gateway; c is handed to call_upgrade on /twilio/media.
 */
void
routes_handle(struct http_conn *c, const struct http_request *req,
    struct http_response *resp, void *arg)
{
	struct gateway *g = arg;
	const struct routes_route *rt = NULL;
	bool path_known = false;
	bool head = strcmp(req->method, "HEAD") == 0;
	size_t row = ROUTES_N;

	if (api_is_api_path(req->path)) {
		api_handle(g, c, req, resp);
		return;
	}
	for (size_t i = 0; i < ROUTES_N; i++) {
		if (strcmp(routes_table[i].path, req->path) != 0)
			continue;
		path_known = true;
		if (strcmp(routes_table[i].method, req->method) == 0 ||
		    (head && strcmp(routes_table[i].method, "GET") == 0)) {
			rt = &routes_table[i];
			row = i;
			break;
		}
	}
	if (rt == NULL && path_known) {
		char allow[64] = "";

		for (size_t i = 0; i < ROUTES_N; i++) {
			if (strcmp(routes_table[i].path, req->path) != 0)
				continue;
			if (allow[0] != '\0')
				strlcat(allow, ", ", sizeof(allow));
			strlcat(allow, routes_table[i].method, sizeof(allow));
			if (strcmp(routes_table[i].method, "GET") == 0)
				strlcat(allow, ", HEAD", sizeof(allow));
		}
		routes_text(resp, 405);
		(void)http_response_add_header(resp, "Allow", allow);
	} else if (rt == NULL && (head || strcmp(req->method, "GET") == 0) &&
		   strcmp(req->path, "/twilio") != 0 &&
		   strncmp(req->path, "/twilio/", 8) != 0) {
		api_static(g, req, resp);
	} else if (rt == NULL) {
		routes_text(resp, 404);
	} else if (rt->flags & ROUTES_WS) {
		call_upgrade(g, c, req, resp);
	} else if (rt->flags & ROUTES_TWILIO) {
		routes_twilio(g, rt, req, resp);
	} else {
		rt->fn(g, req, NULL, resp);
	}
	if (g->metrics.hits != NULL)
		g->metrics.hits[row * ROUTES_COLS +
				routes_status_col(resp->status)]++;
	{
		json_t *f = json_pack("{s:s, s:s, s:i, s:s}", "method",
		    req->method, "path", req->path, "status", resp->status,
		    "peer", req->peer);

		log_fields(LOG_LEVEL_DEBUG, NULL, f, "http request");
		json_decref(f);
	}
}
