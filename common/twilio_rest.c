/*
 * The Twilio REST client (see twilio_rest.h for the contract).
 *
 * How: each request is a struct twilio_rest_req that owns its method, URL,
 * form body and the answer of its latest attempt, plus one timer event
 * used three ways: the zero-delay start (so done never runs inside the
 * caller's call), the backoff before a retry, and the zero-delay free of a
 * cancelled request (R8). An attempt is one httpc request; its done
 * callback classifies the answer and either schedules the next attempt or
 * finishes the request.
 *
 * What it does not do: it does not decide what to say to a caller (the
 * daemons build their TwiML with the builders at the end of this file)
 * and it does not know about calls' state; "gone" is what Twilio says.
 *
 * Ownership: struct twilio_rest owns every request until it finishes, is
 * cancelled, or twilio_rest_free() runs; it borrows the struct httpc and
 * the event_base, which must outlive it. The Authorization value is wiped
 * when the client is freed.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "base64.h"
#include "clock.h"
#include "httpc.h"
#include "log.h"
#include "twilio_rest.h"
#include "xmalloc.h"
#include "xml.h"

#define TWILIO_REST_API	       "/2010-04-01/Accounts/"
#define TWILIO_REST_FORM       "application/x-www-form-urlencoded"
#define TWILIO_REST_REDIRECTS  3 /* recording media may be redirected */
#define TWILIO_REST_SID_HEX    32
#define TWILIO_REST_E164_MIN   6
#define TWILIO_REST_E164_MAX   15
#define TWILIO_REST_MSG_MAX    512 /* kept of an error message */
#define TWILIO_REST_WHATSAPP   "whatsapp:"
#define TWILIO_REST_HE	       "he-IL"
#define TWILIO_REST_PATH_REC   "/twilio/recording"
#define TWILIO_REST_PATH_RSTAT "/twilio/recording-status"

enum twilio_rest_kind {
	TR_KIND_TWIML,
	TR_KIND_URL,
	TR_KIND_HANGUP,
	TR_KIND_MESSAGE,
	TR_KIND_RECORDING,
};

enum twilio_rest_state {
	TR_QUEUED,    /* zero-delay start pending */
	TR_INVALID,   /* zero-delay finish pending, nothing to send */
	TR_RUNNING,   /* an attempt is in httpc */
	TR_WAITING,   /* backoff timer before the next attempt */
	TR_DONE,      /* done callback running; freed when it returns */
	TR_CANCELLED, /* zero-delay free pending */
};

struct twilio_rest_req {
	TAILQ_ENTRY(twilio_rest_req) entry;
	struct twilio_rest *t;
	enum twilio_rest_kind kind;
	enum twilio_rest_state state;
	struct event *ev;
	struct httpc_req *http;
	char *url;
	char *url_log;
	char *form; /* POST body, NULL for GET */
	size_t form_len;
	char *call_sid; /* for log lines, may be NULL */
	bool idempotent;
	long budget_ms;
	int64_t started_ms;
	int attempts;

	void (*done)(struct twilio_rest_req *,
	    const struct twilio_rest_result *, void *);
	void *arg;

	/* the answer of the latest attempt */
	enum twilio_rest_outcome outcome;
	long http_status;
	long error_code;
	char *message;
	char *sid;
	char *status;
	char *content_type;
	char *body;
	size_t body_len;
	bool timed_out;
};

TAILQ_HEAD(twilio_rest_reqq, twilio_rest_req);

struct twilio_rest {
	struct event_base *base;
	struct httpc *http;
	char *account_sid;
	char *base_url; /* without a trailing slash */
	char *auth;	/* "Basic <base64 sid:token>": a secret */
	long attempt_ms;
	long backoff_ms;
	uint64_t rng;
	struct twilio_rest_reqq reqs;
	size_t in_flight;
	int depth; /* > 0 while a done callback runs */
};

/* ---- small checks ------------------------------------------------------ */

/*
 * Return whether sid is prefix (two letters) followed by 32 hex digits,
 * the shape of every Twilio SID; it is then safe in a URL path.
 */
bool
twilio_rest_sid_is_valid(const char *sid, const char *prefix)
{
	size_t plen = strlen(prefix);

	if (sid == NULL || strncmp(sid, prefix, plen) != 0 ||
	    strlen(sid) != plen + TWILIO_REST_SID_HEX)
		return false;
	for (const char *p = sid + plen; *p != '\0'; p++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return true;
}

/* Return whether s is "+" and 6 to 15 digits, the first not 0. */
static bool
twilio_rest_is_e164(const char *s)
{
	size_t n = 0;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (s++; *s != '\0'; s++, n++)
		if (*s < '0' || *s > '9')
			return false;
	return n >= TWILIO_REST_E164_MIN && n <= TWILIO_REST_E164_MAX;
}

/* Return the number of UTF-8 characters of s (continuation bytes not
 * counted), the unit of Twilio's length limits. */
static size_t
twilio_rest_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Return whether s has a byte below 0x20 or DEL, or a space. */
static bool
twilio_rest_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7F)
			return true;
	return false;
}

/*
 * Return the length of the "scheme://authority" part of an http or https
 * URL, or 0 when url is not one (no authority, user info, a backslash,
 * controls or spaces).
 */
static size_t
twilio_rest_origin_len(const char *url)
{
	size_t skip, alen;

	if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else
		return 0;
	if (twilio_rest_has_ctl(url) || strchr(url, '\\') != NULL)
		return 0;
	alen = strcspn(url + skip, "/?#");
	if (alen == 0 || memchr(url + skip, '@', alen) != NULL)
		return 0;
	return skip + alen;
}

/* Return the length of url without trailing slashes. */
static size_t
twilio_rest_trimmed_len(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return n;
}

/*
 * Return whether url is under base_url: the same scheme and authority
 * (letter case aside), the base's path as a whole-segment prefix, no
 * ".." segment, no user info, spaces or controls. Only such URLs get
 * Twilio's credentials.
 */
bool
twilio_rest_url_is_under(const char *url, const char *base_url)
{
	size_t olen, blen;
	const char *path;

	if (url == NULL || base_url == NULL)
		return false;
	olen = twilio_rest_origin_len(base_url);
	blen = twilio_rest_trimmed_len(base_url);
	if (olen == 0 || olen > blen || twilio_rest_origin_len(url) != olen ||
	    strncasecmp(url, base_url, olen) != 0 ||
	    strncmp(url + olen, base_url + olen, blen - olen) != 0 ||
	    url[blen] != '/')
		return false;
	path = url + olen;
	for (const char *p = path; *p != '\0' && *p != '?' && *p != '#';) {
		size_t seg = strcspn(++p, "/?#");

		if ((seg == 2 && strncmp(p, "..", 2) == 0) ||
		    (seg == 1 && p[0] == '.') || strncasecmp(p, "%2e", 3) == 0)
			return false;
		p += seg;
	}
	return true;
}

/* Append name=value to a form body, percent-encoding both. */
static void
twilio_rest_form_add(struct evbuffer *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *parts[2] = {name, value};

	if (evbuffer_get_length(b) > 0)
		evbuffer_add(b, "&", 1);
	for (int i = 0; i < 2; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i];
		     *p != '\0'; p++) {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 0x0F]};

			if ((*p >= 'A' && *p <= 'Z') ||
			    (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' ||
			    *p == '.' || *p == '_' || *p == '~')
				evbuffer_add(b, p, 1);
			else if (*p == ' ')
				evbuffer_add(b, "+", 1);
			else
				evbuffer_add(b, esc, 3);
		}
		if (i == 0)
			evbuffer_add(b, "=", 1);
	}
}

/* Move the contents of b into a new NUL-terminated string; free b. */
static char *
twilio_rest_buf_take(struct evbuffer *b, size_t *len)
{
	size_t n = evbuffer_get_length(b);
	char *s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	if (len != NULL)
		*len = n;
	return s;
}

static struct evbuffer *
twilio_rest_buf_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		fatalx("twilio_rest: cannot allocate a buffer");
	return b;
}

/* ---- client ------------------------------------------------------------ */

/*
 * Create the client of one loop: requests go through http (borrowed; free
 * the client first) to base_url (http or https, no user info) for
 * account_sid (AC + 32 hex) with auth_token. Return NULL (logged, without
 * the token) when a setting is unusable.
 */
struct twilio_rest *
twilio_rest_new(struct event_base *base, struct httpc *http,
    const char *account_sid, const char *auth_token, const char *base_url)
{
	struct twilio_rest *t;
	char *cred, *b64;
	size_t olen;

	if (!twilio_rest_sid_is_valid(account_sid, "AC")) {
		log_warnx("twilio_rest: TWILIO_ACCOUNT_SID is not AC and 32 "
			  "hex digits");
		return NULL;
	}
	if (auth_token == NULL || auth_token[0] == '\0') {
		log_warnx("twilio_rest: TWILIO_AUTH_TOKEN is empty");
		return NULL;
	}
	olen = base_url != NULL ? twilio_rest_origin_len(base_url) : 0;
	if (olen == 0 || strchr(base_url, '?') != NULL ||
	    strchr(base_url, '#') != NULL) {
		log_warnx("twilio_rest: TWILIO_API_BASE_URL is not an http(s) "
			  "URL without user info, query or fragment");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->base = base;
	t->http = http;
	t->account_sid = xstrdup(account_sid);
	t->base_url = xstrndup(base_url, twilio_rest_trimmed_len(base_url));
	cred = xasprintf("%s:%s", account_sid, auth_token);
	b64 = base64_encode_alloc(cred, strlen(cred));
	t->auth = xasprintf("Basic %s", b64);
	log_add_secret(auth_token);
	log_add_secret(b64);
	explicit_bzero(cred, strlen(cred));
	explicit_bzero(b64, strlen(b64));
	free(cred);
	free(b64);
	t->attempt_ms = TWILIO_REST_ATTEMPT_MS;
	t->backoff_ms = TWILIO_REST_BACKOFF_MS;
	t->rng = (uint64_t)clock_mono_us() ^ ((uint64_t)getpid() << 32) ^
		 (uint64_t)(uintptr_t)t;
	if (t->rng == 0)
		t->rng = 0x9E3779B97F4A7C15ull;
	TAILQ_INIT(&t->reqs);
	return t;
}

static void twilio_rest_req_release(struct twilio_rest_req *r);

/*
 * Free the client and every request it holds WITHOUT calling their done
 * callbacks. Takes NULL. Call it before httpc_free() of the borrowed
 * client; never from a done callback.
 */
void
twilio_rest_free(struct twilio_rest *t)
{
	struct twilio_rest_req *r;

	if (t == NULL)
		return;
	if (t->depth > 0)
		fatalx("twilio_rest: BUG: twilio_rest_free from a callback");
	while ((r = TAILQ_FIRST(&t->reqs)) != NULL) {
		TAILQ_REMOVE(&t->reqs, r, entry);
		twilio_rest_req_release(r);
	}
	explicit_bzero(t->auth, strlen(t->auth));
	free(t->auth);
	free(t->account_sid);
	free(t->base_url);
	free(t);
}

/*
 * Bound one attempt to attempt_ms and start the backoff at backoff_ms
 * (values <= 0 keep the current ones). Tests use short ones.
 */
void
twilio_rest_set_timing(struct twilio_rest *t, long attempt_ms, long backoff_ms)
{
	if (attempt_ms > 0)
		t->attempt_ms = attempt_ms;
	if (backoff_ms > 0)
		t->backoff_ms = backoff_ms;
}

/* Return the number of requests whose done has not run yet. */
size_t
twilio_rest_in_flight(const struct twilio_rest *t)
{
	return t->in_flight;
}

/* Return the base URL requests go to (no trailing slash). */
const char *
twilio_rest_base_url(const struct twilio_rest *t)
{
	return t->base_url;
}

/* ---- requests ---------------------------------------------------------- */

static const char *
twilio_rest_kind_name(enum twilio_rest_kind k)
{
	switch (k) {
	case TR_KIND_TWIML:
		return "call update (Twiml)";
	case TR_KIND_URL:
		return "call update (Url)";
	case TR_KIND_HANGUP:
		return "hang-up";
	case TR_KIND_MESSAGE:
		return "message";
	case TR_KIND_RECORDING:
		return "recording fetch";
	}
	return "request";
}

/* Return a short stable name for o, for logs and metrics. */
const char *
twilio_rest_outcome_name(enum twilio_rest_outcome o)
{
	switch (o) {
	case TWILIO_REST_OK:
		return "ok";
	case TWILIO_REST_GONE:
		return "gone";
	case TWILIO_REST_REJECTED:
		return "rejected";
	case TWILIO_REST_UNAVAILABLE:
		return "unavailable";
	case TWILIO_REST_INVALID:
		return "invalid";
	}
	return "unknown";
}

static void
twilio_rest_req_clear_answer(struct twilio_rest_req *r)
{
	X_FREE(r->message);
	X_FREE(r->sid);
	X_FREE(r->status);
	X_FREE(r->content_type);
	X_FREE(r->body);
	r->body_len = 0;
	r->http_status = 0;
	r->error_code = 0;
}

/* Free r, already out of its client's list. */
static void
twilio_rest_req_release(struct twilio_rest_req *r)
{
	if (r->http != NULL)
		httpc_cancel(r->http);
	event_free(r->ev);
	twilio_rest_req_clear_answer(r);
	free(r->url);
	free(r->url_log);
	free(r->form);
	free(r->call_sid);
	free(r);
}

static void
twilio_rest_req_destroy(struct twilio_rest_req *r)
{
	TAILQ_REMOVE(&r->t->reqs, r, entry);
	twilio_rest_req_release(r);
}

static void
twilio_rest_set_message(struct twilio_rest_req *r, const char *msg)
{
	free(r->message);
	r->message = xstrndup(msg != NULL ? msg : "", TWILIO_REST_MSG_MAX);
}

static void
twilio_rest_log_done(
    const struct twilio_rest_req *r, const struct twilio_rest_result *res)
{
	struct log_ctx ctx = {r->call_sid, NULL, 0, -1};
	const char *what = twilio_rest_kind_name(r->kind);
	const char *oname = twilio_rest_outcome_name(res->outcome);

	switch (res->outcome) {
	case TWILIO_REST_OK:
		log_call(LOG_LEVEL_INFO, &ctx,
		    "twilio: %s %s: ok (HTTP %ld%s%s%s%s, %zu bytes) in %ld "
		    "ms, "
		    "%d attempt(s)",
		    what, r->url_log, res->http_status,
		    res->sid != NULL ? ", " : "", res->sid ? res->sid : "",
		    res->status != NULL ? " " : "",
		    res->status ? res->status : "", res->body_len,
		    res->elapsed_ms, res->attempts);
		break;
	case TWILIO_REST_GONE:
		log_call(LOG_LEVEL_INFO, &ctx,
		    "twilio: %s %s: gone (HTTP %ld, error %ld: %s)", what,
		    r->url_log, res->http_status, res->error_code,
		    res->message);
		break;
	case TWILIO_REST_REJECTED:
	case TWILIO_REST_UNAVAILABLE:
	case TWILIO_REST_INVALID:
		log_call(LOG_LEVEL_WARN, &ctx,
		    "twilio: %s %s: %s (HTTP %ld, error %ld: %s)%s after %d "
		    "attempt(s) in %ld ms",
		    what, r->url_log, oname, res->http_status, res->error_code,
		    res->message, res->timed_out ? ", budget ran out" : "",
		    res->attempts, res->elapsed_ms);
		break;
	}
}

/* Call done once and free the request. */
static void
twilio_rest_finish(struct twilio_rest_req *r)
{
	struct twilio_rest *t = r->t;
	struct twilio_rest_result res;

	r->state = TR_DONE;
	t->in_flight--;
	memset(&res, 0, sizeof(res));
	res.outcome = r->outcome;
	res.http_status = r->http_status;
	res.error_code = r->error_code;
	res.message = r->message != NULL ? r->message : "";
	res.sid = r->sid;
	res.status = r->status;
	res.content_type = r->content_type;
	res.body = r->body != NULL ? r->body : "";
	res.body_len = r->body_len;
	res.attempts = r->attempts;
	res.timed_out = r->timed_out;
	res.elapsed_ms = (long)(clock_mono_ms() - r->started_ms);
	res.url = r->url_log;
	twilio_rest_log_done(r, &res);
	t->depth++;
	r->done(r, &res, r->arg);
	t->depth--;
	twilio_rest_req_destroy(r);
}

/* Finish r at once because its budget does not allow an attempt. */
static void
twilio_rest_finish_budget(struct twilio_rest_req *r)
{
	r->timed_out = true;
	if (r->attempts == 0) {
		r->outcome = TWILIO_REST_UNAVAILABLE;
		twilio_rest_set_message(r, "time budget exhausted");
	}
	twilio_rest_finish(r);
}

/* Take Twilio's error code and message from a JSON or XML error body. */
static void
twilio_rest_parse_error(struct twilio_rest_req *r, const char *body, size_t len)
{
	json_t *j, *v;
	const char *a, *b;

	if (len == 0)
		return;
	j = json_loadb(body, len, 0, NULL);
	if (json_is_object(j)) {
		v = json_object_get(j, "code");
		if (json_is_integer(v))
			r->error_code = (long)json_integer_value(v);
		v = json_object_get(j, "message");
		if (json_is_string(v))
			twilio_rest_set_message(r, json_string_value(v));
		json_decref(j);
		return;
	}
	json_decref(j);
	/* <TwilioResponse><RestException><Code>..</Code><Message>.. */
	a = strstr(body, "<Code>");
	if (a != NULL)
		r->error_code = strtol(a + 6, NULL, 10);
	a = strstr(body, "<Message>");
	b = a != NULL ? strstr(a, "</Message>") : NULL;
	if (b != NULL) {
		free(r->message);
		r->message =
		    xstrndup(a + 9, (size_t)(b - (a + 9)) < TWILIO_REST_MSG_MAX
					? (size_t)(b - (a + 9))
					: TWILIO_REST_MSG_MAX);
	}
}

/* Take sid and status from a 2xx JSON answer; false when it is not one. */
static bool
twilio_rest_parse_ok(struct twilio_rest_req *r, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *v;

	if (!json_is_object(j)) {
		json_decref(j);
		return false;
	}
	v = json_object_get(j, "sid");
	if (json_is_string(v))
		r->sid = xstrdup(json_string_value(v));
	v = json_object_get(j, "status");
	if (json_is_string(v))
		r->status = xstrdup(json_string_value(v));
	json_decref(j);
	return r->sid != NULL;
}

/* Return a random delay in [d - d/5, d + d/5] (xorshift64). */
static long
twilio_rest_jitter(struct twilio_rest *t, long d)
{
	uint64_t x = t->rng;
	long span = d / 5;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	if (span <= 0)
		return d;
	return d - span + (long)(x % (uint64_t)(2 * span + 1));
}

/*
 * Arm the timer for the next attempt after the backoff (or retry_after_ms
 * when longer). Return false, setting timed_out when it is the budget that
 * forbids it, when no attempt may follow.
 */
static bool
twilio_rest_schedule_retry(struct twilio_rest_req *r, long retry_after_ms)
{
	struct twilio_rest *t = r->t;
	long delay = t->backoff_ms, left;
	struct timeval tv;
	struct log_ctx ctx = {r->call_sid, NULL, 0, -1};

	if (r->attempts >= TWILIO_REST_MAX_ATTEMPTS)
		return false;
	for (int i = 1; i < r->attempts && delay < TWILIO_REST_BACKOFF_MAX_MS;
	     i++)
		delay *= 2;
	if (delay > TWILIO_REST_BACKOFF_MAX_MS)
		delay = TWILIO_REST_BACKOFF_MAX_MS;
	delay = twilio_rest_jitter(t, delay);
	if (retry_after_ms > delay)
		delay = retry_after_ms;
	left = r->budget_ms - (long)(clock_mono_ms() - r->started_ms);
	if (left - delay < TWILIO_REST_MIN_ATTEMPT_MS) {
		r->timed_out = true;
		return false;
	}
	log_call(LOG_LEVEL_INFO, &ctx,
	    "twilio: %s %s: %s (HTTP %ld, error %ld); attempt %d in %ld ms",
	    twilio_rest_kind_name(r->kind), r->url_log,
	    r->message != NULL ? r->message : "", r->http_status, r->error_code,
	    r->attempts + 1, delay);
	r->state = TR_WAITING;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(r->ev, &tv);
	return true;
}

/* Classify an HTTP answer (httpc status OK); return whether to retry. */
static bool
twilio_rest_classify(struct twilio_rest_req *r, struct httpc_req *hr,
    const struct httpc_result *res)
{
	long code = res->code;

	r->http_status = code;
	if (code >= 200 && code < 300) {
		r->outcome = TWILIO_REST_OK;
		if (r->kind == TR_KIND_RECORDING) {
			if (res->content_type != NULL)
				r->content_type = xstrdup(res->content_type);
			r->body = httpc_take_body(hr, &r->body_len);
			if (r->body_len == 0) {
				r->outcome = TWILIO_REST_REJECTED;
				twilio_rest_set_message(
				    r, "empty recording media");
			}
		} else if (!twilio_rest_parse_ok(r, res->body, res->body_len)) {
			r->outcome = TWILIO_REST_REJECTED;
			twilio_rest_set_message(r, "answer is not Twilio JSON");
		}
		return false;
	}
	twilio_rest_parse_error(r, res->body, res->body_len);
	if (r->message == NULL) {
		char text[64];

		(void)snprintf(text, sizeof(text), "HTTP %ld", code);
		twilio_rest_set_message(r, text);
	}
	if (code == 429) {
		r->outcome = TWILIO_REST_UNAVAILABLE;
		return true;
	}
	if (code >= 500) {
		r->outcome = TWILIO_REST_UNAVAILABLE;
		return r->idempotent || code == 503;
	}
	if (r->error_code == TWILIO_ERR_NOT_IN_PROGRESS ||
	    r->error_code == TWILIO_ERR_NOT_FOUND || code == 404)
		r->outcome = TWILIO_REST_GONE;
	else
		r->outcome = TWILIO_REST_REJECTED;
	return false;
}

static void
twilio_rest_http_done(
    struct httpc_req *hr, const struct httpc_result *res, void *arg)
{
	struct twilio_rest_req *r = arg;
	bool retry = false;

	r->http = NULL;
	twilio_rest_req_clear_answer(r);
	r->http_status = res->code;
	switch (res->status) {
	case HTTPC_OK:
		retry = twilio_rest_classify(r, hr, res);
		break;
	case HTTPC_ERR_CONNECT: /* nothing reached Twilio */
		r->outcome = TWILIO_REST_UNAVAILABLE;
		retry = true;
		break;
	case HTTPC_ERR_TIMEOUT:
	case HTTPC_ERR_TRANSFER: /* Twilio may have acted on it */
		r->outcome = TWILIO_REST_UNAVAILABLE;
		retry = r->idempotent;
		break;
	case HTTPC_ERR_TOO_LARGE:
		r->outcome = TWILIO_REST_REJECTED;
		break;
	case HTTPC_ERR_INVALID:
		r->outcome = TWILIO_REST_INVALID;
		break;
	}
	if (res->status != HTTPC_OK) {
		char text[TWILIO_REST_MSG_MAX];

		(void)snprintf(text, sizeof(text), "%s: %s",
		    httpc_status_name(res->status), res->error);
		twilio_rest_set_message(r, text);
		if (res->status == HTTPC_ERR_TIMEOUT &&
		    (long)(clock_mono_ms() - r->started_ms) >=
			r->budget_ms - TWILIO_REST_MIN_ATTEMPT_MS)
			r->timed_out = true;
	}
	if (retry && !r->timed_out &&
	    twilio_rest_schedule_retry(r, res->retry_after_ms))
		return;
	twilio_rest_finish(r);
}

/* Start the next attempt, or finish when the budget allows none. */
static void
twilio_rest_attempt(struct twilio_rest_req *r)
{
	struct twilio_rest *t = r->t;
	long left = r->budget_ms - (long)(clock_mono_ms() - r->started_ms);
	long budget = left < t->attempt_ms ? left : t->attempt_ms;
	struct httpc_req *hr;

	if (left <= 0 ||
	    (r->attempts > 0 && left < TWILIO_REST_MIN_ATTEMPT_MS)) {
		twilio_rest_finish_budget(r);
		return;
	}
	hr = httpc_req_new(
	    t->http, r->form != NULL ? "POST" : "GET", r->url, budget);
	httpc_req_header(hr, "Authorization", t->auth);
	if (r->form != NULL) {
		httpc_req_header(hr, "Accept", "application/json");
		httpc_req_header(hr, "Content-Type", TWILIO_REST_FORM);
		httpc_req_body(hr, r->form, r->form_len);
	} else {
		httpc_req_max_body(hr, TWILIO_REST_RECORDING_MAX);
		/* curl drops our Authorization header on another host */
		httpc_req_follow(hr, TWILIO_REST_REDIRECTS);
	}
	r->attempts++;
	r->state = TR_RUNNING;
	r->http = hr;
	httpc_start(hr, twilio_rest_http_done, r);
}

static void
twilio_rest_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct twilio_rest_req *r = arg;

	(void)fd;
	(void)what;
	switch (r->state) {
	case TR_QUEUED:
	case TR_WAITING:
		twilio_rest_attempt(r);
		break;
	case TR_INVALID:
		twilio_rest_finish(r);
		break;
	case TR_CANCELLED:
		twilio_rest_req_destroy(r);
		break;
	case TR_RUNNING:
	case TR_DONE:
		break;
	}
}

static void
twilio_rest_defer(struct twilio_rest_req *r)
{
	struct timeval zero = {0, 0};

	evtimer_add(r->ev, &zero);
}

/*
 * Create a request of kind for url with form body b (NULL: GET) and
 * schedule its first attempt, or its INVALID end when why is not NULL.
 */
static struct twilio_rest_req *
twilio_rest_req_new(struct twilio_rest *t, enum twilio_rest_kind kind,
    char *url, struct evbuffer *b, const char *call_sid, long budget_ms,
    const char *why,
    void (*done)(
	struct twilio_rest_req *, const struct twilio_rest_result *, void *),
    void *arg)
{
	struct twilio_rest_req *r = xcalloc(1, sizeof(*r));

	r->t = t;
	r->kind = kind;
	r->url = url;
	r->url_log = xstrndup(url, strcspn(url, "?#"));
	if (b != NULL)
		r->form = twilio_rest_buf_take(b, &r->form_len);
	r->call_sid = call_sid != NULL ? xstrdup(call_sid) : NULL;
	r->idempotent = kind != TR_KIND_MESSAGE;
	r->budget_ms = budget_ms;
	r->started_ms = clock_mono_ms();
	r->done = done;
	r->arg = arg;
	r->ev = evtimer_new(t->base, twilio_rest_event_cb, r);
	if (r->ev == NULL)
		fatalx("twilio_rest: cannot create a timer");
	TAILQ_INSERT_TAIL(&t->reqs, r, entry);
	t->in_flight++;
	if (why != NULL) {
		r->state = TR_INVALID;
		r->outcome = TWILIO_REST_INVALID;
		twilio_rest_set_message(r, why);
	} else {
		r->state = TR_QUEUED;
	}
	twilio_rest_defer(r);
	return r;
}

/* Return whether url is an absolute http(s) URL fit for a Url= value. */
static bool
twilio_rest_is_http_url(const char *url)
{
	return url != NULL && twilio_rest_origin_len(url) > 0;
}

/*
 * Update the live call call_sid: run TwiML (value), fetch TwiML from a URL
 * with POST (value), or hang up (Status=completed). See twilio_rest.h for
 * budget, retries and outcomes. Never returns NULL.
 */
struct twilio_rest_req *
twilio_rest_call_update(struct twilio_rest *t, const char *call_sid,
    enum twilio_rest_update what, const char *value, long budget_ms,
    void (*done)(struct twilio_rest_req *r,
	const struct twilio_rest_result *res, void *arg),
    void *arg)
{
	struct evbuffer *b = twilio_rest_buf_new();
	const char *why = NULL;
	enum twilio_rest_kind kind = TR_KIND_HANGUP;
	bool sid_ok = twilio_rest_sid_is_valid(call_sid, "CA");

	switch (what) {
	case TWILIO_REST_UPDATE_TWIML:
		kind = TR_KIND_TWIML;
		if (value == NULL || value[0] == '\0')
			why = "empty TwiML";
		else if (twilio_rest_chars(value) > TWILIO_REST_TWIML_MAX)
			why = "TwiML over 4000 characters (error 32018)";
		else
			twilio_rest_form_add(b, "Twiml", value);
		break;
	case TWILIO_REST_UPDATE_URL:
		kind = TR_KIND_URL;
		if (!twilio_rest_is_http_url(value)) {
			why = "Url is not an absolute http(s) URL";
		} else {
			twilio_rest_form_add(b, "Url", value);
			twilio_rest_form_add(b, "Method", "POST");
		}
		break;
	case TWILIO_REST_UPDATE_HANGUP:
		kind = TR_KIND_HANGUP;
		twilio_rest_form_add(b, "Status", "completed");
		break;
	}
	if (!sid_ok)
		why = "CallSid is not CA and 32 hex digits";
	return twilio_rest_req_new(t, kind,
	    xasprintf("%s" TWILIO_REST_API "%s/Calls/%s.json", t->base_url,
		t->account_sid, sid_ok ? call_sid : "-"),
	    b, sid_ok ? call_sid : NULL, budget_ms, why, done, arg);
}

/*
 * Send Body from From to To: both E.164 ("+9725...") for SMS, both
 * "whatsapp:+..." for WhatsApp. Never returns NULL. A message is retried
 * only where Twilio cannot have sent it (twilio_rest.h).
 */
struct twilio_rest_req *
twilio_rest_message_send(struct twilio_rest *t, const char *to,
    const char *from, const char *body, long budget_ms,
    void (*done)(struct twilio_rest_req *r,
	const struct twilio_rest_result *res, void *arg),
    void *arg)
{
	static const size_t wl = sizeof(TWILIO_REST_WHATSAPP) - 1;
	struct evbuffer *b = twilio_rest_buf_new();
	const char *why = NULL;
	bool wa_to, wa_from;

	if (to == NULL || from == NULL || body == NULL) {
		why = "To, From and Body are required";
	} else {
		wa_to = strncmp(to, TWILIO_REST_WHATSAPP, wl) == 0;
		wa_from = strncmp(from, TWILIO_REST_WHATSAPP, wl) == 0;
		if (!twilio_rest_is_e164(wa_to ? to + wl : to) ||
		    !twilio_rest_is_e164(wa_from ? from + wl : from))
			why = "To and From must be E.164 numbers";
		else if (wa_to != wa_from)
			why = "To and From must both be WhatsApp or both SMS";
		else if (body[0] == '\0')
			why = "empty Body";
		else if (twilio_rest_chars(body) > TWILIO_REST_BODY_MAX)
			why = "Body over 1600 characters";
	}
	if (why == NULL) {
		twilio_rest_form_add(b, "To", to);
		twilio_rest_form_add(b, "From", from);
		twilio_rest_form_add(b, "Body", body);
	}
	return twilio_rest_req_new(t, TR_KIND_MESSAGE,
	    xasprintf("%s" TWILIO_REST_API "%s/Messages.json", t->base_url,
		t->account_sid),
	    b, NULL, budget_ms, why, done, arg);
}

/*
 * Fetch a recording's media: recording_url as given when it is under the
 * base URL, else (also when NULL) the URL rebuilt from recording_sid
 * (.../Recordings/RE....wav); a URL elsewhere is never contacted.
 * call_sid (may be NULL) only labels log lines. On TWILIO_REST_OK,
 * res->body holds the media; keep it with twilio_rest_take_body().
 * Never returns NULL.
 */
struct twilio_rest_req *
twilio_rest_recording_fetch(struct twilio_rest *t, const char *recording_url,
    const char *recording_sid, const char *call_sid, long budget_ms,
    void (*done)(struct twilio_rest_req *r,
	const struct twilio_rest_result *res, void *arg),
    void *arg)
{
	const char *why = NULL;
	bool sid_ok = twilio_rest_sid_is_valid(recording_sid, "RE");
	char *url;

	if (call_sid != NULL && !twilio_rest_sid_is_valid(call_sid, "CA"))
		call_sid = NULL;
	if (recording_url != NULL && recording_url[0] != '\0' &&
	    twilio_rest_url_is_under(recording_url, t->base_url)) {
		url = xstrdup(recording_url);
	} else {
		if (recording_url != NULL && recording_url[0] != '\0') {
			struct log_ctx ctx = {call_sid, NULL, 0, -1};
			size_t n = strcspn(recording_url, "?#");

			log_call(LOG_LEVEL_WARN, &ctx,
			    "twilio: recording URL %.*s is not under "
			    "TWILIO_API_BASE_URL: not contacted, rebuilt "
			    "from the RecordingSid",
			    n > 200 ? 200 : (int)n, recording_url);
		}
		if (!sid_ok)
			why = "no usable recording URL and RecordingSid is "
			      "not RE and 32 hex digits";
		url = xasprintf("%s" TWILIO_REST_API "%s/Recordings/%s.wav",
		    t->base_url, t->account_sid, sid_ok ? recording_sid : "-");
	}
	return twilio_rest_req_new(t, TR_KIND_RECORDING, url, NULL, call_sid,
	    budget_ms, why, done, arg);
}

/*
 * Cancel r: done is not called and r is freed from a zero-delay event.
 * A no-op on NULL, on a cancelled request and from inside r's own done.
 */
void
twilio_rest_cancel(struct twilio_rest_req *r)
{
	if (r == NULL || r->state == TR_DONE || r->state == TR_CANCELLED)
		return;
	if (r->http != NULL) {
		httpc_cancel(r->http);
		r->http = NULL;
	}
	evtimer_del(r->ev);
	r->state = TR_CANCELLED;
	r->t->in_flight--;
	twilio_rest_defer(r);
}

/*
 * Take the response body (NUL-terminated, *len bytes before the NUL; for
 * a recording, the media); the caller frees it. Only inside done; NULL
 * elsewhere or when there is none.
 */
char *
twilio_rest_take_body(struct twilio_rest_req *r, size_t *len)
{
	char *b;

	if (r->state != TR_DONE || r->body == NULL)
		return NULL;
	b = r->body;
	if (len != NULL)
		*len = r->body_len;
	r->body = NULL;
	r->body_len = 0;
	return b;
}

/* ---- TwiML builders ---------------------------------------------------- */

/* Append <Say language="he-IL" [voice=..]>say</Say> when say is set. */
static void
twilio_rest_say(struct evbuffer *b, const char *say, const char *voice)
{
	if (say == NULL || say[0] == '\0')
		return;
	evbuffer_add_printf(b, "<Say language=\"" TWILIO_REST_HE "\"");
	if (voice != NULL && voice[0] != '\0') {
		evbuffer_add_printf(b, " voice=\"");
		xml_escape(b, voice);
		evbuffer_add_printf(b, "\"");
	}
	evbuffer_add_printf(b, ">");
	xml_escape(b, say);
	evbuffer_add_printf(b, "</Say>");
}

/*
 * Return TwiML that says say (Hebrew, optional; voice optional) and
 * transfers the call to number (E.164):
 * <Response><Say language="he-IL">..</Say><Dial>+972..</Dial></Response>.
 * NULL when number is not E.164. The caller frees the result.
 */
char *
twilio_rest_twiml_dial(const char *say, const char *voice, const char *number)
{
	struct evbuffer *b;

	if (number == NULL || !twilio_rest_is_e164(number))
		return NULL;
	b = twilio_rest_buf_new();
	evbuffer_add_printf(b, "<Response>");
	twilio_rest_say(b, say, voice);
	evbuffer_add_printf(b, "<Dial>");
	xml_escape(b, number);
	evbuffer_add_printf(b, "</Dial></Response>");
	return twilio_rest_buf_take(b, NULL);
}

/*
 * Return TwiML that says say (optional) and records the caller for at most
 * max_length_s seconds (2..TWILIO_REST_RECORD_MAX_S), with the action and
 * recordingStatusCallback made absolute from public_url (an http(s) URL,
 * trailing slash ignored): <public>/twilio/recording and
 * <public>/twilio/recording-status, both POST. Inline TwiML needs absolute
 * URLs and a redirected <Record> needs an action (error 11100). NULL on a
 * bad public_url or length. The caller frees the result.
 */
char *
twilio_rest_twiml_record(const char *public_url, const char *say,
    const char *voice, int max_length_s)
{
	struct evbuffer *b;
	char *pub;

	if (!twilio_rest_is_http_url(public_url) ||
	    strpbrk(public_url, "?#") != NULL || max_length_s < 2 ||
	    max_length_s > TWILIO_REST_RECORD_MAX_S)
		return NULL;
	pub = xstrndup(public_url, twilio_rest_trimmed_len(public_url));
	b = twilio_rest_buf_new();
	evbuffer_add_printf(b, "<Response>");
	twilio_rest_say(b, say, voice);
	evbuffer_add_printf(b, "<Record action=\"");
	xml_escape(b, pub);
	evbuffer_add_printf(b,
	    TWILIO_REST_PATH_REC "\" method=\"POST\" maxLength=\"%d\" "
				 "playBeep=\"true\" recordingStatusCallback=\"",
	    max_length_s);
	xml_escape(b, pub);
	evbuffer_add_printf(b, TWILIO_REST_PATH_RSTAT
	    "\" recordingStatusCallbackMethod=\"POST\" "
	    "recordingStatusCallbackEvent=\"completed\"/>"
	    "</Response>");
	free(pub);
	return twilio_rest_buf_take(b, NULL);
}

/*
 * Return TwiML that says say (optional) and hangs up:
 * <Response><Say language="he-IL">..</Say><Hangup/></Response>.
 * The caller frees the result.
 */
char *
twilio_rest_twiml_hangup(const char *say, const char *voice)
{
	struct evbuffer *b = twilio_rest_buf_new();

	evbuffer_add_printf(b, "<Response>");
	twilio_rest_say(b, say, voice);
	evbuffer_add_printf(b, "<Hangup/></Response>");
	return twilio_rest_buf_take(b, NULL);
}
