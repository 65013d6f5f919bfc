/*
 * The watchdog's subscriptions, timers and Twilio requests: what turns
 * the rules (rules.c) and alerts (alerts.c) into actions.
 *
 * Inputs:
 *   CALL_EVENTS (SUB, every gateway)  webhook, stream_start, media, stop,
 *                  handoff, end of each call (docs/protocol.md) go to the
 *                  rules; an unknown event is logged and dropped.
 *   STORE_CHANGES (SUB, crm-store)    a committed `call`/`call_status`
 *                  whose status is final (or that has ended_at) ends the
 *                  call, in case the gateway's end event was lost.
 *   STORE (raw REQ)  at start, STORE_SYSQUERY calls_in_progress: each
 *                  call listed is adopted (watched as live, so one with no
 *                  media tick within the media timeout is redirected);
 *                  retried while crm-store does not answer, a bounded
 *                  number of times.
 *   HEALTH_WATCHDOG (SUB, bound here)  heartbeats, through
 *                  common/health.c, judged by alerts.c.
 *
 * Each tick (a tenth of the shorter timeout, 20-250 ms) drops calls that
 * aged out, asks the rules for the calls due, and updates each through
 * common/twilio_rest.c with inline TwiML: a Hebrew apology in
 * <Say language="he-IL"> and <Record> whose action and
 * recordingStatusCallback are MERKAZIA_PUBLIC_URL + /twilio/recording and
 * /twilio/recording-status (absolute: Twilio requires it for inline
 * TwiML). The client retries network errors, 5xx and 429 with backoff
 * within MERKAZIA_WATCHDOG_REDIRECT_BUDGET_MS; Twilio's 21220/20404 (the
 * call is gone) forget the call; any other outcome leaves it redirected,
 * never retried. At most WATCHDOG_REDIRECTS_MAX updates are in flight;
 * due calls beyond that wait for a later tick.
 *
 * MERKAZIA_PUBLIC_URL unset: nothing is derived (the watchdog cannot know
 * the proxy's URL). The watchdog starts anyway, logs an error at start,
 * keeps its alerts, and logs each call it would have saved as an error
 * (decision "not_redirected"): refusing to start would also silence the
 * alerts and break every stack started without it (docs/watchdog.md).
 * A MERKAZIA_PUBLIC_URL the TwiML cannot use refuses the start.
 *
 * Logs: every decision about a call is one JSON line with call_sid and a
 * "decision" field: watch, forget, refuse, redirect, redirected, gone,
 * redirect_failed, not_redirected, aged_out. Media ticks are not logged.
 *
 * Stop (SIGTERM): no new redirect starts; the drain waits for those in
 * flight (a caller is being saved) within MERKAZIA_DRAIN_MS; the rest are
 * cancelled at shutdown.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "httpc.h"
#include "log.h"
#include "store.h"
#include "twilio_rest.h"
#include "watchdog.h"
#include "xmalloc.h"

#define WATCHDOG_REDIRECTS_MAX	 64
#define WATCHDOG_ADOPT_TRIES	 10
#define WATCHDOG_ADOPT_BUDGET_MS 2000
#define WATCHDOG_ADOPT_RETRY_MS	 1000
#define WATCHDOG_FULL_LOG_MS	 1000 /* "table full" lines at most this often */
#define WATCHDOG_TICK_MIN_MS	 20
#define WATCHDOG_TICK_MAX_MS	 250
#define WATCHDOG_WORKERS_MAX	 1024

/* What a caller hears before the beep (he-IL, Twilio's default voice). */
static const char follow_say_sorry[] =
    "אנו מתנצלים, אירעה תקלה טכנית. נא השאירו הודעה אחרי הצליל ונחזור "
    "אליכם בהקדם.";

/* One redirect in flight. */
struct watchdog_redirect {
	TAILQ_ENTRY(watchdog_redirect) entry;
	struct watchdog *w;
	struct twilio_rest_req *req;
	struct rules_due due;
};

/* ---- logging ------------------------------------------------------------ */

/*
 * Log one decision about a call: fields (taken, may be NULL) plus the
 * call's SIDs and a printf-style message.
 */
static void follow_log(enum log_level level, const char *call_sid,
    const char *stream_sid, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
follow_log(enum log_level level, const char *call_sid, const char *stream_sid,
    json_t *fields, const char *fmt, ...)
{
	struct log_ctx ctx = {call_sid,
	    stream_sid != NULL && stream_sid[0] != '\0' ? stream_sid : NULL, 0,
	    -1};
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, &ctx, fields, fmt, ap);
	va_end(ap);
	json_decref(fields);
}

/* One line for a watch/forget/refuse decision after an event. */
static void
follow_log_verdict(struct watchdog *w, enum rules_verdict v, const char *source,
    const char *call_sid, const char *stream_sid)
{
	struct rules_call *c;
	int64_t now;

	switch (v) {
	case RULES_TRACKED:
		c = rules_find(w->rules, call_sid);
		follow_log(LOG_LEVEL_INFO, call_sid, stream_sid,
		    json_pack("{s:s, s:s, s:s, s:I}", "decision", "watch",
			"event", source, "state",
			c != NULL ? rules_state_name(c->state) : "?", "calls",
			(json_int_t)rules_count(w->rules)),
		    "watching the call (%s)", source);
		break;
	case RULES_FORGOTTEN:
		follow_log(LOG_LEVEL_INFO, call_sid, stream_sid,
		    json_pack(
			"{s:s, s:s}", "decision", "forget", "event", source),
		    "no longer watching the call (%s)", source);
		break;
	case RULES_REFUSED:
		now = clock_mono_ms();
		w->full_since_log++;
		if (now - w->full_logged_ms < WATCHDOG_FULL_LOG_MS &&
		    w->full_logged_ms != 0)
			break;
		follow_log(LOG_LEVEL_WARN, call_sid, stream_sid,
		    json_pack("{s:s, s:s, s:I, s:I}", "decision", "refuse",
			"event", source, "refused",
			(json_int_t)w->full_since_log, "calls",
			(json_int_t)rules_count(w->rules)),
		    "call table full: not watching the call (%s)", source);
		w->full_logged_ms = now;
		w->full_since_log = 0;
		break;
	case RULES_UPDATED:
	case RULES_IGNORED:
		break;
	}
}

/* ---- inputs --------------------------------------------------------- */

/* A JSON string, or an integer as text (business ids are bigints). */
static const char *
follow_text(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

static void
follow_on_call_event(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct watchdog *w = arg;
	const char *name = json_string_value(json_object_get(payload, "event"));
	const char *stream =
	    json_string_value(json_object_get(payload, "stream_sid"));
	char bbuf[32];
	const char *biz = follow_text(
	    json_object_get(payload, "business_id"), bbuf, sizeof(bbuf));
	enum rules_event ev;
	enum rules_verdict v;

	(void)s;
	(void)rx;
	if (rules_event_parse(name, &ev) < 0 || ev >= RULES_EV_ADOPT) {
		log_warnx("dropped a CALL_EVENT with event %s (call %s)",
		    name != NULL ? name : "(none)",
		    m->call_sid[0] ? m->call_sid : "(none)");
		return;
	}
	if (m->call_sid[0] == '\0') {
		log_warnx("dropped a CALL_EVENT %s without a call SID", name);
		return;
	}
	v = rules_on_event(
	    w->rules, ev, m->call_sid, stream, biz, clock_mono_ms());
	follow_log_verdict(w, v, name, m->call_sid, stream);
}

static bool
follow_status_is_final(const char *st)
{
	static const char *const final[] = {
	    "completed", "busy", "failed", "no-answer", "canceled"};

	for (size_t i = 0; st != NULL && i < sizeof(final) / sizeof(*final);
	     i++)
		if (strcmp(st, final[i]) == 0)
			return true;
	return false;
}

static void
follow_on_store_change(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct watchdog *w = arg;
	const char *kind = json_string_value(json_object_get(payload, "kind"));
	json_t *data = json_object_get(payload, "data");
	const char *sid, *status;
	json_t *ended;

	(void)s;
	(void)m;
	(void)rx;
	if (kind == NULL || !json_is_object(data) ||
	    (strcmp(kind, "call") != 0 && strcmp(kind, "call_status") != 0))
		return;
	sid = json_string_value(json_object_get(data, "call_sid"));
	status = json_string_value(json_object_get(data, "status"));
	ended = json_object_get(data, "ended_at");
	if (sid == NULL ||
	    (!follow_status_is_final(status) && !json_is_string(ended)))
		return;
	follow_log_verdict(w,
	    rules_on_event(
		w->rules, RULES_EV_END, sid, NULL, NULL, clock_mono_ms()),
	    "store_call_ended", sid, NULL);
}

static const struct msg_handler follow_call_handlers[] = {
    {MSG_CALL_EVENT, follow_on_call_event},
    {0, NULL},
};

static const struct msg_handler follow_store_handlers[] = {
    {MSG_STORE_CHANGE, follow_on_store_change},
    {0, NULL},
};

/* ---- adoption of the calls in progress --------------------------------- */

static void follow_adopt(struct watchdog *w);

static void
follow_adopt_rows(struct watchdog *w, json_t *rows)
{
	size_t i, n = 0;
	json_t *row;

	for (i = 0; i < json_array_size(rows); i++) {
		const char *sid, *status, *biz;
		char bbuf[32];
		enum rules_event ev = RULES_EV_ADOPT;
		enum rules_verdict v;

		row = json_array_get(rows, i);
		sid = json_string_value(json_object_get(row, "call_sid"));
		status = json_string_value(json_object_get(row, "status"));
		biz = follow_text(
		    json_object_get(row, "business_id"), bbuf, sizeof(bbuf));
		if (sid == NULL)
			continue;
		if (json_is_true(json_object_get(row, "handed_off")))
			ev = RULES_EV_HANDOFF;
		else if (status != NULL && (strcmp(status, "ringing") == 0 ||
					       strcmp(status, "queued") == 0))
			ev = RULES_EV_ADOPT_WAITING;
		v = rules_on_event(
		    w->rules, ev, sid, NULL, biz, clock_mono_ms());
		if (v == RULES_TRACKED)
			n++;
		follow_log_verdict(w, v, rules_event_name(ev), sid, NULL);
	}
	log_info("crm-store listed %zu call%s in progress; %zu adopted", i,
	    i == 1 ? "" : "s", n);
}

static void
follow_adopt_done(unsigned int type, json_t *reply, void *arg)
{
	struct watchdog *w = arg;
	json_t *rows = json_object_get(reply, "rows");
	struct timeval tv = {WATCHDOG_ADOPT_RETRY_MS / 1000,
	    (suseconds_t)(WATCHDOG_ADOPT_RETRY_MS % 1000) * 1000};

	if (type == MSG_STORE_REPLY && json_is_array(rows)) {
		w->adopted = true;
		follow_adopt_rows(w, rows);
		return;
	}
	if (w->adopt_tries >= WATCHDOG_ADOPT_TRIES || w->stopping) {
		log_warnx("no list of calls in progress from crm-store after "
			  "%d tries (%s); watching only the calls heard of "
			  "from now on",
		    w->adopt_tries,
		    type == STORE_TIMEOUT ? "timeout" : msg_type_name(type));
		return;
	}
	log_debug("calls in progress: %s; asking again",
	    type == STORE_TIMEOUT ? "timeout" : msg_type_name(type));
	evtimer_add(w->adopt_timer, &tv);
}

static void
follow_adopt_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	follow_adopt(arg);
}

static void
follow_adopt(struct watchdog *w)
{
	json_t *q = json_pack("{s:s, s:{}}", "q", "calls_in_progress", "args");
	struct timeval tv = {WATCHDOG_ADOPT_RETRY_MS / 1000,
	    (suseconds_t)(WATCHDOG_ADOPT_RETRY_MS % 1000) * 1000};

	w->adopt_tries++;
	if (store_request(w->store, MSG_STORE_SYSQUERY, q,
		WATCHDOG_ADOPT_BUDGET_MS, follow_adopt_done, w) < 0 &&
	    w->adopt_tries < WATCHDOG_ADOPT_TRIES)
		evtimer_add(w->adopt_timer, &tv);
	json_decref(q);
}

/* ---- redirects -------------------------------------------------------- */

static const char *
follow_reason_text(enum rules_reason r)
{
	return r == RULES_NEVER_STARTED ? "the media stream never started"
					: "the media stream stopped flowing";
}

static void
follow_redirect_done(struct twilio_rest_req *req,
    const struct twilio_rest_result *res, void *arg)
{
	struct watchdog_redirect *r = arg;
	struct watchdog *w = r->w;
	const struct rules_due *d = &r->due;
	const char *decision = "redirect_failed";
	enum log_level level = LOG_LEVEL_ERROR;
	const char *text = "the redirect to Record failed";
	json_t *f;

	(void)req;
	if (res->outcome == TWILIO_REST_OK) {
		decision = "redirected";
		level = LOG_LEVEL_INFO;
		text = "call redirected to Record";
	} else if (res->outcome == TWILIO_REST_GONE) {
		decision = "gone";
		level = LOG_LEVEL_INFO;
		text = "the call is gone; no longer watching it";
	}
	f = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:b, s:s}",
	    "decision", decision, "reason", rules_reason_name(d->reason),
	    "outcome", twilio_rest_outcome_name(res->outcome), "http_status",
	    (json_int_t)res->http_status, "error_code",
	    (json_int_t)res->error_code, "attempts", res->attempts,
	    "elapsed_ms", (json_int_t)res->elapsed_ms, "timed_out",
	    res->timed_out, "error", res->message != NULL ? res->message : "");
	follow_log(level, d->call_sid, d->stream_sid, f, "%s (%s)", text,
	    twilio_rest_outcome_name(res->outcome));
	rules_redirect_done(
	    w->rules, d->call_sid, res->outcome == TWILIO_REST_GONE);
	TAILQ_REMOVE(&w->redirects, r, entry);
	w->nredirects--;
	free(r); /* ours; the client frees req after we return */
}

static void
follow_redirect(struct watchdog *w, const struct rules_due *d)
{
	struct watchdog_redirect *r;
	json_t *f = json_pack("{s:s, s:s, s:I, s:b, s:s?}", "decision",
	    w->twiml != NULL ? "redirect" : "not_redirected", "reason",
	    rules_reason_name(d->reason), "waited_ms", (json_int_t)d->waited_ms,
	    "adopted", d->adopted, "business_id",
	    d->business_id[0] ? d->business_id : NULL);

	if (w->twiml == NULL) {
		follow_log(LOG_LEVEL_ERROR, d->call_sid, d->stream_sid, f,
		    "%s, but MERKAZIA_PUBLIC_URL is unset: the call is NOT "
		    "redirected to Record",
		    follow_reason_text(d->reason));
		rules_redirect_done(w->rules, d->call_sid, false);
		return;
	}
	json_object_set_new(f, "budget_ms", json_integer(w->budget_ms));
	follow_log(LOG_LEVEL_WARN, d->call_sid, d->stream_sid, f,
	    "%s: redirecting the call to Record",
	    follow_reason_text(d->reason));
	r = xcalloc(1, sizeof(*r));
	r->w = w;
	r->due = *d;
	TAILQ_INSERT_TAIL(&w->redirects, r, entry);
	w->nredirects++;
	r->req = twilio_rest_call_update(w->twilio, d->call_sid,
	    TWILIO_REST_UPDATE_TWIML, w->twiml, w->budget_ms,
	    follow_redirect_done, r);
}

/* ---- timers ------------------------------------------------------------ */

static void
follow_log_aged(const struct rules_call *c, void *arg)
{
	(void)arg;
	follow_log(LOG_LEVEL_INFO, c->call_sid, c->stream_sid,
	    json_pack("{s:s, s:s, s:I}", "decision", "aged_out", "state",
		rules_state_name(c->state), "age_ms",
		(json_int_t)(clock_mono_ms() - c->created_ms)),
	    "no longer watching the call: held too long (%s)",
	    rules_state_name(c->state));
}

static void
follow_alerts(struct watchdog *w)
{
	const struct health_worker *ws[WATCHDOG_WORKERS_MAX];
	size_t n = health_follow_count(w->health);

	if (n > WATCHDOG_WORKERS_MAX)
		n = WATCHDOG_WORKERS_MAX;
	for (size_t i = 0; i < n; i++)
		ws[i] = health_follow_at(w->health, i);
	alerts_check(&w->alerts, ws, n, clock_mono_ms());
}

static void
follow_on_health(const struct health_worker *hw, void *arg)
{
	(void)hw;
	follow_alerts(arg);
}

static void
follow_tick(evutil_socket_t fd, short what, void *arg)
{
	struct watchdog *w = arg;
	struct rules_due due[WATCHDOG_REDIRECTS_MAX];
	int64_t now = clock_mono_ms();
	size_t n;

	(void)fd;
	(void)what;
	(void)rules_expire(w->rules, now, follow_log_aged, w);
	follow_alerts(w);
	if (w->stopping || w->nredirects >= WATCHDOG_REDIRECTS_MAX)
		return;
	n = rules_due(
	    w->rules, now, due, WATCHDOG_REDIRECTS_MAX - w->nredirects);
	for (size_t i = 0; i < n; i++)
		follow_redirect(w, &due[i]);
}

/* ---- hooks ------------------------------------------------------------ */

/* Build the Record fallback; -1 (logged) when the public URL is unusable. */
static int
follow_twiml(struct watchdog *w, const struct config *cfg)
{
	const char *pub = config_str(cfg, "MERKAZIA_PUBLIC_URL");
	long max_s = config_int(cfg, "MERKAZIA_WATCHDOG_RECORD_MAX_S");

	if (pub == NULL || pub[0] == '\0') {
		log_error("MERKAZIA_PUBLIC_URL is unset: the watchdog cannot "
			  "build the absolute Record URLs Twilio needs and "
			  "will NOT redirect calls whose media stream dies "
			  "(each such call is logged as an error); set it to "
			  "the URL Twilio reaches the gateway at. Heartbeat "
			  "alerts work without it");
		return 0;
	}
	w->twiml =
	    twilio_rest_twiml_record(pub, follow_say_sorry, NULL, (int)max_s);
	if (w->twiml == NULL || strlen(w->twiml) > TWILIO_REST_TWIML_MAX) {
		log_error("not starting: MERKAZIA_PUBLIC_URL %s cannot be used "
			  "in the Record fallback (an http(s) URL without "
			  "query or fragment is needed)",
		    pub);
		return -1;
	}
	log_info("calls with a dead media stream are redirected to Record "
		 "at %s/twilio/recording",
	    pub);
	return 0;
}

int
watchdog_init(struct daemon *d)
{
	struct watchdog *w = xcalloc(1, sizeof(*w));
	const struct config *cfg = d->cfg;
	struct rules_limits lim;
	struct store_opts so;
	long start_ms = config_int(cfg, "MERKAZIA_WATCHDOG_START_TIMEOUT_MS");
	long media_ms = config_int(cfg, "MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS");
	long tick_ms = (start_ms < media_ms ? start_ms : media_ms) / 10;
	struct timeval tv;

	d->ctx = w;
	w->d = d;
	TAILQ_INIT(&w->redirects);
	w->budget_ms = config_int(cfg, "MERKAZIA_WATCHDOG_REDIRECT_BUDGET_MS");
	memset(&lim, 0, sizeof(lim));
	lim.start_timeout_ms = start_ms;
	lim.media_timeout_ms = media_ms;
	lim.max_age_ms =
	    config_int(cfg, "MERKAZIA_WATCHDOG_CALL_MAX_AGE_S") * 1000;
	lim.max_calls = (size_t)config_int(cfg, "MERKAZIA_WATCHDOG_MAX_CALLS");
	w->rules = rules_new(&lim);
	alerts_init(&w->alerts,
	    config_int(cfg, "MERKAZIA_HEARTBEAT_TIMEOUT_MS"), clock_mono_ms());
	if (follow_twiml(w, cfg) < 0)
		return -1;
	w->http = httpc_new(d->base);
	w->twilio = twilio_rest_new(d->base, w->http,
	    config_str(cfg, "TWILIO_ACCOUNT_SID"),
	    config_str(cfg, "TWILIO_AUTH_TOKEN"),
	    config_str(cfg, "TWILIO_API_BASE_URL"));
	if (w->twilio == NULL) {
		log_error("not starting: the Twilio settings are unusable");
		return -1;
	}
	if ((w->call_events = nnsock_endpoint(ENDPOINT_CALL_EVENTS, false)) ==
		NULL ||
	    (w->store_changes =
		    nnsock_endpoint(ENDPOINT_STORE_CHANGES, false)) == NULL ||
	    nnsock_watch(w->call_events, d->base, follow_call_handlers, w) <
		0 ||
	    nnsock_watch(w->store_changes, d->base, follow_store_handlers, w) <
		0)
		return -1;
	w->health = health_follow_new(d->base, ENDPOINT_HEALTH_WATCHDOG,
	    config_int(cfg, "MERKAZIA_HEARTBEAT_TIMEOUT_MS"), follow_on_health,
	    w);
	if (w->health == NULL)
		return -1;
	memset(&so, 0, sizeof(so));
	w->store = store_new(d->base, &so); /* queries only: no spool */
	w->adopt_timer = evtimer_new(d->base, follow_adopt_retry, w);
	if (w->store != NULL)
		follow_adopt(w);
	else
		log_warnx("no crm-store client: calls in progress before this "
			  "start are not watched");
	if (tick_ms < WATCHDOG_TICK_MIN_MS)
		tick_ms = WATCHDOG_TICK_MIN_MS;
	if (tick_ms > WATCHDOG_TICK_MAX_MS)
		tick_ms = WATCHDOG_TICK_MAX_MS;
	tv.tv_sec = tick_ms / 1000;
	tv.tv_usec = (tick_ms % 1000) * 1000;
	w->tick = event_new(d->base, -1, EV_PERSIST, follow_tick, w);
	event_add(w->tick, &tv);
	log_info("watching calls: start timeout %ld ms, media timeout %ld ms, "
		 "at most %zu calls",
	    start_ms, media_ms, lim.max_calls);
	return 0;
}

/* SIGTERM: start no new redirect; those in flight finish in the drain. */
void
watchdog_stop(struct daemon *d)
{
	struct watchdog *w = d->ctx;

	if (w != NULL)
		w->stopping = true;
}

bool
watchdog_drained(struct daemon *d)
{
	struct watchdog *w = d->ctx;

	return w == NULL || w->nredirects == 0;
}

void
watchdog_shutdown(struct daemon *d)
{
	struct watchdog *w = d->ctx;
	struct watchdog_redirect *r;

	if (w == NULL)
		return;
	/* Requests still in flight end without their done callback. */
	twilio_rest_free(w->twilio);
	while ((r = TAILQ_FIRST(&w->redirects)) != NULL) {
		log_warnx("redirect of call %s cancelled by the stop",
		    r->due.call_sid);
		TAILQ_REMOVE(&w->redirects, r, entry);
		free(r);
	}
	httpc_free(w->http);
	store_free(w->store);
	if (w->adopt_timer != NULL)
		event_free(w->adopt_timer);
	if (w->tick != NULL)
		event_free(w->tick);
	nnsock_close(w->call_events);
	nnsock_close(w->store_changes);
	health_follow_free(w->health);
	rules_free(w->rules);
	alerts_free(&w->alerts);
	free(w->twiml);
	free(w);
	d->ctx = NULL;
}
