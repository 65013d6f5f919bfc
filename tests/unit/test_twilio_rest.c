/*
 * Unit tests for common/twilio_rest.c: the Twilio REST client and the
 * TwiML builders.
 *
 * Why: a transfer, a hang-up or the watchdog's redirect to Record that goes
 * out wrong (bad path, no auth, a form Twilio cannot read), is retried when
 * the call is already gone, or hammers Twilio past its budget fails a live
 * caller; and a recording URL taken from a request must never receive our
 * credentials. Every case runs against libevent's evhttp bound to
 * 127.0.0.1 port 0 on the client's own event_base, playing Twilio with a
 * scripted list of answers; a second evhttp server plays a foreign host
 * that must never be contacted. Only loopback addresses are used.
 *
 * Every wait is bounded (wait_done() gives up after WAIT_MS); timing is
 * asserted only loosely (order and outcome, never a tight figure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "httpc.h"
#include "log.h"
#include "twilio_rest.h"
#include "xmalloc.h"
#include "xml.h"

#define WAIT_MS	   5000
#define MAX_SCRIPT 8
#define MAX_SEEN   16

#define AC    "AC0123456789abcdef0123456789abcdef"
#define TOKEN "tok-SECRET-1234"
/* base64 of AC ":" TOKEN, computed outside this code base (Python) */
#define BASIC    \
	"Basic " \
	"QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0b2stU0VDUkVULTEyMzQ="
#define CA  "CAfedcba9876543210fedcba9876543210"
#define RE  "RE00112233445566778899aabbccddeeff"
#define API "/2010-04-01/Accounts/" AC

#define CALL_JSON                                                              \
	"{\"sid\":\"" CA "\",\"status\":\"in-progress\",\"account_sid\":\"" AC \
	"\"}"
#define ERR_21220                                                         \
	"{\"code\":21220,\"message\":\"Call is not in-progress. Cannot "  \
	"redirect.\",\"more_info\":\"https://www.twilio.com/docs/errors/" \
	"21220\",\"status\":400}"

/* One scripted answer of the fake Twilio. */
struct answer {
	int code;
	const char *ctype;
	const char *body;
	const char *retry_after;
};

/* One request a server saw. */
struct seen {
	char *method;
	char *uri;
	char *auth;
	char *ctype;
	char *body;
};

/* A fake server: scripted answers (the last repeats) and what it saw. */
struct server {
	struct evhttp *http;
	int port;
	struct answer script[MAX_SCRIPT];
	int nscript;
	struct seen seen[MAX_SEEN];
	int hits;
};

/* One test's world. */
struct fx {
	struct event_base *base;
	struct event *tick;
	struct server twilio;
	struct server foreign;
	struct httpc *h;
	struct twilio_rest *t;
	char *base_url;
};

/* One request's outcome as copied from done. */
struct outcome {
	int ndone;
	enum twilio_rest_outcome outcome;
	long http_status;
	long error_code;
	char *message;
	char *sid;
	char *status;
	char *ctype;
	char *body;
	size_t body_len;
	int attempts;
	bool timed_out;
	long elapsed_ms;
	bool take;
};

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct evbuffer *out;
	const struct answer *a;
	size_t len = evbuffer_get_length(body);
	struct seen *sn;

	if (evhttp_request_get_uri(req) == NULL)
		return; /* libevent reporting a failed connection */
	if (s->hits < MAX_SEEN) {
		sn = &s->seen[s->hits];
		sn->method = xstrdup(
		    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST"
		    : evhttp_request_get_command(req) == EVHTTP_REQ_GET
			? "GET"
			: "other");
		sn->uri = xstrdup(evhttp_request_get_uri(req));
		sn->auth = dup_or_null(evhttp_find_header(in, "Authorization"));
		sn->ctype = dup_or_null(evhttp_find_header(in, "Content-Type"));
		sn->body = xmalloc(len + 1);
		evbuffer_copyout(body, sn->body, len);
		sn->body[len] = '\0';
	}
	a = &s->script[s->hits < s->nscript ? s->hits : s->nscript - 1];
	s->hits++;
	if (a->retry_after != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", a->retry_after);
	evhttp_add_header(
	    evhttp_request_get_output_headers(req), "Content-Type", a->ctype);
	out = evbuffer_new();
	evbuffer_add(out, a->body, strlen(a->body));
	evhttp_send_reply(req, a->code, "X", out);
	evbuffer_free(out);
}

static void
server_start(struct fx *fx, struct server *s)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);

	s->http = evhttp_new(fx->base);
	assert_non_null(s->http);
	evhttp_set_gencb(s->http, server_cb, s);
	bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	assert_non_null(bs);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
			     (struct sockaddr *)&sin, &slen),
	    0);
	s->port = ntohs(sin.sin_port);
	s->script[0] =
	    (struct answer){200, "application/json", CALL_JSON, NULL};
	s->nscript = 1;
}

static void
server_stop(struct server *s)
{
	evhttp_free(s->http);
	for (int i = 0; i < s->hits && i < MAX_SEEN; i++) {
		free(s->seen[i].method);
		free(s->seen[i].uri);
		free(s->seen[i].auth);
		free(s->seen[i].ctype);
		free(s->seen[i].body);
	}
}

static void
script(struct server *s, int n, const struct answer *a)
{
	assert_true(n > 0 && n <= MAX_SCRIPT);
	memcpy(s->script, a, (size_t)n * sizeof(*a));
	s->nscript = n;
}

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct timeval tick = {0, 5000};

	fx->base = event_base_new();
	assert_non_null(fx->base);
	server_start(fx, &fx->twilio);
	server_start(fx, &fx->foreign);
	fx->tick = event_new(fx->base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(fx->tick, &tick);
	fx->h = httpc_new(fx->base);
	fx->base_url = xasprintf("http://127.0.0.1:%d", fx->twilio.port);
	fx->t = twilio_rest_new(fx->base, fx->h, AC, TOKEN, fx->base_url);
	assert_non_null(fx->t);
	twilio_rest_set_timing(fx->t, 0, 20); /* quick retries */
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	twilio_rest_free(fx->t);
	httpc_free(fx->h);
	server_stop(&fx->twilio);
	server_stop(&fx->foreign);
	event_free(fx->tick);
	event_base_free(fx->base);
	free(fx->base_url);
	free(fx);
	return 0;
}

static void
on_done(
    struct twilio_rest_req *r, const struct twilio_rest_result *res, void *arg)
{
	struct outcome *o = arg;

	o->ndone++;
	o->outcome = res->outcome;
	o->http_status = res->http_status;
	o->error_code = res->error_code;
	o->message = xstrdup(res->message);
	o->sid = dup_or_null(res->sid);
	o->status = dup_or_null(res->status);
	o->ctype = dup_or_null(res->content_type);
	if (o->take) {
		o->body = twilio_rest_take_body(r, &o->body_len);
		assert_non_null(o->body);
		assert_null(twilio_rest_take_body(r, NULL)); /* taken */
	} else {
		o->body = xmemdup(res->body, res->body_len + 1);
		o->body_len = res->body_len;
	}
	o->attempts = res->attempts;
	o->timed_out = res->timed_out;
	o->elapsed_ms = res->elapsed_ms;
	assert_non_null(res->url);
	twilio_rest_cancel(r); /* a no-op from its own done */
}

static void
outcome_free(struct outcome *o)
{
	free(o->message);
	free(o->sid);
	free(o->status);
	free(o->ctype);
	free(o->body);
	memset(o, 0, sizeof(*o));
}

/* Run the loop until o's done ran (or WAIT_MS passed). */
static bool
wait_done(struct fx *fx, const struct outcome *o)
{
	int64_t deadline = clock_mono_ms() + WAIT_MS;

	while (o->ndone == 0) {
		if (clock_mono_ms() > deadline)
			return false;
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	return true;
}

/* Run the loop for about ms whatever happens. */
static void
run_for(struct fx *fx, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);
}

/* ---- request shape ----------------------------------------------------- */

static void
test_update_twiml_shape(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	struct seen *sn = &fx->twilio.seen[0];

	twilio_rest_call_update(fx->t, CA, TWILIO_REST_UPDATE_TWIML,
	    "<Response><Say language=\"he-IL\">שלום & ביי</Say><Hangup/>"
	    "</Response>",
	    3000, on_done, &o);
	assert_int_equal(o.ndone, 0); /* never from inside the call */
	assert_int_equal(twilio_rest_in_flight(fx->t), 1);
	assert_true(wait_done(fx, &o));
	assert_int_equal(twilio_rest_in_flight(fx->t), 0);
	assert_int_equal(o.outcome, TWILIO_REST_OK);
	assert_int_equal(o.http_status, 200);
	assert_int_equal(o.attempts, 1);
	assert_string_equal(o.sid, CA);
	assert_string_equal(o.status, "in-progress");
	assert_int_equal(fx->twilio.hits, 1);
	assert_string_equal(sn->method, "POST");
	assert_string_equal(sn->uri, API "/Calls/" CA ".json");
	assert_string_equal(sn->auth, BASIC);
	assert_string_equal(sn->ctype, "application/x-www-form-urlencoded");
	assert_string_equal(sn->body,
	    "Twiml=%3CResponse%3E%3CSay+language%3D%22he-IL%22%3E"
	    "%D7%A9%D7%9C%D7%95%D7%9D+%26+%D7%91%D7%99%D7%99%3C%2FSay%3E"
	    "%3CHangup%2F%3E%3C%2FResponse%3E");
	outcome_free(&o);
}

static void
test_update_url_and_hangup_shape(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0}, o2 = {0};

	twilio_rest_call_update(fx->t, CA, TWILIO_REST_UPDATE_URL,
	    "https://gw.example.co.il/twilio/fallback?x=1", 3000, on_done, &o);
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 3000, on_done, &o2);
	assert_true(wait_done(fx, &o));
	assert_true(wait_done(fx, &o2));
	assert_int_equal(o.outcome, TWILIO_REST_OK);
	assert_int_equal(o2.outcome, TWILIO_REST_OK);
	assert_int_equal(fx->twilio.hits, 2);
	for (int i = 0; i < 2; i++) {
		struct seen *sn = &fx->twilio.seen[i];

		assert_string_equal(sn->uri, API "/Calls/" CA ".json");
		assert_string_equal(sn->auth, BASIC);
		if (strncmp(sn->body, "Url=", 4) == 0)
			assert_string_equal(sn->body,
			    "Url=https%3A%2F%2Fgw.example.co.il%2Ftwilio%2F"
			    "fallback%3Fx%3D1&Method=POST");
		else
			assert_string_equal(sn->body, "Status=completed");
	}
	outcome_free(&o);
	outcome_free(&o2);
}

static void
test_message_shape(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	struct seen *sn = &fx->twilio.seen[0];
	static const struct answer created[] = {
	    {201, "application/json",
		"{\"sid\":\"SM0123456789abcdef0123456789abcdef\","
		"\"status\":\"queued\",\"num_segments\":\"1\"}",
		NULL},
	};

	script(&fx->twilio, 1, created);
	twilio_rest_message_send(fx->t, "whatsapp:+972501234567",
	    "whatsapp:+14155238886", "שלום! מה שלומך?", 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_OK);
	assert_int_equal(o.http_status, 201);
	assert_string_equal(o.sid, "SM0123456789abcdef0123456789abcdef");
	assert_string_equal(o.status, "queued");
	assert_string_equal(sn->method, "POST");
	assert_string_equal(sn->uri, API "/Messages.json");
	assert_string_equal(sn->auth, BASIC);
	assert_string_equal(sn->ctype, "application/x-www-form-urlencoded");
	assert_string_equal(sn->body,
	    "To=whatsapp%3A%2B972501234567&From=whatsapp%3A%2B14155238886&"
	    "Body=%D7%A9%D7%9C%D7%95%D7%9D%21+%D7%9E%D7%94+"
	    "%D7%A9%D7%9C%D7%95%D7%9E%D7%9A%3F");
	outcome_free(&o);
}

/* Arguments that cannot be sent end INVALID from the loop, unsent. */
static void
test_invalid_arguments(void **state)
{
	struct fx *fx = *state;
	struct outcome o[8];
	char *long_twiml = xmalloc(4100 * 2 + 1);
	int n = 0;

	memset(o, 0, sizeof(o));
	for (int i = 0; i < 4100; i++)
		memcpy(long_twiml + (size_t)2 * (size_t)i, "א", 2);
	long_twiml[(size_t)4100 * 2] = '\0';
	twilio_rest_call_update(fx->t, "CA123", TWILIO_REST_UPDATE_HANGUP, NULL,
	    3000, on_done, &o[n++]);
	twilio_rest_call_update(fx->t, CA "/../x", TWILIO_REST_UPDATE_HANGUP,
	    NULL, 3000, on_done, &o[n++]);
	twilio_rest_call_update(fx->t, CA, TWILIO_REST_UPDATE_TWIML, long_twiml,
	    3000, on_done, &o[n++]);
	twilio_rest_call_update(fx->t, CA, TWILIO_REST_UPDATE_URL, "/relative",
	    3000, on_done, &o[n++]);
	twilio_rest_message_send(fx->t, "whatsapp:+972501234567",
	    "+14155238886", "x", 3000, on_done, &o[n++]);
	twilio_rest_message_send(
	    fx->t, "0501234567", "+14155238886", "x", 3000, on_done, &o[n++]);
	twilio_rest_message_send(
	    fx->t, "+972501234567", "+14155238886", "", 3000, on_done, &o[n++]);
	twilio_rest_recording_fetch(fx->t, "http://elsewhere.invalid/r",
	    "RE-bad", NULL, 3000, on_done, &o[n++]);
	for (int i = 0; i < n; i++)
		assert_int_equal(o[i].ndone, 0);
	for (int i = 0; i < n; i++) {
		assert_true(wait_done(fx, &o[i]));
		assert_int_equal(o[i].outcome, TWILIO_REST_INVALID);
		assert_int_equal(o[i].attempts, 0);
		assert_true(strlen(o[i].message) > 0);
		outcome_free(&o[i]);
	}
	run_for(fx, 50);
	assert_int_equal(fx->twilio.hits, 0);
	assert_int_equal(fx->foreign.hits, 0);
	free(long_twiml);
}

/* ---- retries and outcomes ---------------------------------------------- */

static void
test_5xx_retried_then_ok(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	static const struct answer a[] = {
	    {500, "application/json",
		"{\"code\":20500,\"message\":\"Internal Server Error\","
		"\"status\":500}",
		NULL},
	    {503, "text/html", "<html>busy</html>", NULL},
	    {200, "application/json", CALL_JSON, NULL},
	};

	script(&fx->twilio, 3, a);
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_OK);
	assert_int_equal(o.attempts, 3);
	assert_int_equal(fx->twilio.hits, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(
		    fx->twilio.seen[i].body, "Status=completed");
	outcome_free(&o);
}

static void
test_21220_final_without_retry(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	static const struct answer a[] = {
	    {400, "application/json", ERR_21220, NULL},
	    {200, "application/json", CALL_JSON, NULL},
	};

	script(&fx->twilio, 2, a);
	twilio_rest_call_update(fx->t, CA, TWILIO_REST_UPDATE_TWIML,
	    "<Response><Hangup/></Response>", 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_GONE);
	assert_int_equal(o.http_status, 400);
	assert_int_equal(o.error_code, TWILIO_ERR_NOT_IN_PROGRESS);
	assert_string_equal(
	    o.message, "Call is not in-progress. Cannot redirect.");
	assert_int_equal(o.attempts, 1);
	assert_false(o.timed_out);
	run_for(fx, 100); /* would be time for a retry */
	assert_int_equal(fx->twilio.hits, 1);
	outcome_free(&o);
}

static void
test_20404_and_other_4xx_final(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0}, o2 = {0};
	static const struct answer nf[] = {
	    {404, "application/json",
		"{\"code\":20404,\"message\":\"The requested resource was not "
		"found\",\"more_info\":\"https://www.twilio.com/docs/errors/"
		"20404\",\"status\":404}",
		NULL},
	};
	static const struct answer auth[] = {
	    {401, "application/json",
		"{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}",
		NULL},
	};

	script(&fx->twilio, 1, nf);
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_GONE);
	assert_int_equal(o.error_code, TWILIO_ERR_NOT_FOUND);
	assert_int_equal(o.attempts, 1);
	script(&fx->twilio, 1, auth);
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 3000, on_done, &o2);
	assert_true(wait_done(fx, &o2));
	assert_int_equal(o2.outcome, TWILIO_REST_REJECTED);
	assert_int_equal(o2.http_status, 401);
	assert_int_equal(o2.error_code, 20003);
	assert_int_equal(o2.attempts, 1);
	run_for(fx, 100);
	assert_int_equal(fx->twilio.hits, 2);
	outcome_free(&o);
	outcome_free(&o2);
}

/* Retries stop when the budget cannot hold another attempt. */
static void
test_budget_expiry_on_5xx(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	static const struct answer a[] = {
	    {500, "application/json",
		"{\"code\":20500,\"message\":\"Internal Server Error\","
		"\"status\":500}",
		NULL},
	};
	int64_t t0 = clock_mono_ms();

	script(&fx->twilio, 1, a);
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 400, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_UNAVAILABLE);
	assert_true(o.timed_out);
	assert_true(o.attempts >= 2);
	assert_int_equal(o.attempts, fx->twilio.hits);
	assert_int_equal(o.http_status, 500);
	assert_int_equal(o.error_code, 20500);
	assert_true(clock_mono_ms() - t0 < 400 + 1000);
	run_for(fx, 100);
	assert_int_equal(o.attempts, fx->twilio.hits); /* nothing after */
	outcome_free(&o);
}

/* A listening socket that never accepts: connects succeed, no answer. */
static int
silent_listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A Twilio that never answers: the budget ends it, once. */
static void
test_budget_expiry_on_silence(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	int port, lfd = silent_listener(&port);
	char *base = xasprintf("http://127.0.0.1:%d", port);
	struct twilio_rest *t =
	    twilio_rest_new(fx->base, fx->h, AC, TOKEN, base);

	assert_non_null(t);
	twilio_rest_call_update(
	    t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 300, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_UNAVAILABLE);
	assert_true(o.timed_out);
	assert_int_equal(o.attempts, 1);
	assert_int_equal(o.http_status, 0);
	assert_non_null(strstr(o.message, "timeout"));
	assert_true(o.elapsed_ms >= 200 && o.elapsed_ms < WAIT_MS);
	twilio_rest_free(t);
	close(lfd);
	free(base);
	outcome_free(&o);
}

/* With an attempt bound, a hung attempt is abandoned and retried. */
static void
test_hung_attempt_retried(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	int port, lfd = silent_listener(&port);
	char *base = xasprintf("http://127.0.0.1:%d", port);
	struct twilio_rest *t =
	    twilio_rest_new(fx->base, fx->h, AC, TOKEN, base);

	twilio_rest_set_timing(t, 150, 20);
	twilio_rest_call_update(
	    t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 1000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_UNAVAILABLE);
	assert_true(o.attempts >= 3); /* ~150 ms each within 1000 ms */
	assert_true(o.timed_out);
	twilio_rest_free(t);
	close(lfd);
	free(base);
	outcome_free(&o);
}

/* Creating a message is retried only where Twilio cannot have acted. */
static void
test_message_not_retried_on_500(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0}, o2 = {0};
	static const struct answer a[] = {
	    {500, "application/json", "{\"code\":20500,\"status\":500}", NULL},
	    {503, "application/json", "{\"code\":20503,\"status\":503}", NULL},
	    {201, "application/json",
		"{\"sid\":\"SM0123456789abcdef0123456789abcdef\","
		"\"status\":\"queued\"}",
		NULL},
	};

	script(&fx->twilio, 3, a);
	twilio_rest_message_send(
	    fx->t, "+972501234567", "+97233333333", "שלום", 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_UNAVAILABLE);
	assert_int_equal(o.http_status, 500);
	assert_int_equal(o.attempts, 1);
	assert_false(o.timed_out);
	run_for(fx, 100);
	assert_int_equal(fx->twilio.hits, 1);
	/* the next message meets the 503, which is safe to retry */
	twilio_rest_message_send(
	    fx->t, "+972501234567", "+97233333333", "שלום", 3000, on_done, &o2);
	assert_true(wait_done(fx, &o2));
	assert_int_equal(o2.outcome, TWILIO_REST_OK);
	assert_int_equal(o2.attempts, 2);
	assert_int_equal(fx->twilio.hits, 3);
	outcome_free(&o);
	outcome_free(&o2);
}

/* A 429 whose Retry-After does not fit the budget ends at once. */
static void
test_429_retry_after_beyond_budget(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	static const struct answer a[] = {
	    {429, "application/json",
		"{\"code\":20429,\"message\":\"Too Many Requests\","
		"\"status\":429}",
		"5"},
	};

	script(&fx->twilio, 1, a);
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 1000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_UNAVAILABLE);
	assert_int_equal(o.error_code, 20429);
	assert_int_equal(o.attempts, 1);
	assert_true(o.timed_out);
	assert_true(o.elapsed_ms < 1000);
	outcome_free(&o);
}

static void
test_cancel(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	struct twilio_rest_req *r;

	r = twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 3000, on_done, &o);
	twilio_rest_cancel(r);
	twilio_rest_cancel(r); /* twice is harmless */
	assert_int_equal(twilio_rest_in_flight(fx->t), 0);
	run_for(fx, 100);
	assert_int_equal(o.ndone, 0);
	assert_int_equal(fx->twilio.hits, 0);
	twilio_rest_cancel(NULL);
}

/* ---- recordings -------------------------------------------------------- */

static void
test_recording_under_base_fetched_as_is(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {.take = true};
	static const struct answer wav[] = {
	    {200, "audio/x-wav", "RIFF\x24\x01\x02\x03WAVEfmt ", NULL},
	};
	char *u = xasprintf("%s" API "/Recordings/" RE, fx->base_url);

	script(&fx->twilio, 1, wav);
	twilio_rest_recording_fetch(fx->t, u, RE, CA, 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_OK);
	assert_string_equal(o.ctype, "audio/x-wav");
	assert_int_equal(o.body_len, 16);
	assert_memory_equal(o.body, "RIFF\x24\x01\x02\x03WAVEfmt ", 16);
	assert_int_equal(fx->twilio.hits, 1);
	assert_string_equal(fx->twilio.seen[0].method, "GET");
	assert_string_equal(fx->twilio.seen[0].uri, API "/Recordings/" RE);
	assert_string_equal(fx->twilio.seen[0].auth, BASIC);
	free(u);
	outcome_free(&o);
}

static void
test_recording_elsewhere_rebuilt(void **state)
{
	struct fx *fx = *state;
	struct outcome o[4];
	static const struct answer wav[] = {
	    {200, "audio/x-wav", "RIFFxxxxWAVE", NULL},
	};
	char *urls[4];

	memset(o, 0, sizeof(o));
	urls[0] = xasprintf(
	    "http://127.0.0.1:%d" API "/Recordings/" RE, fx->foreign.port);
	/* user info naming our host, the foreign port after it */
	urls[1] =
	    xasprintf("http://127.0.0.1:%d@127.0.0.1:%d" API "/Recordings/" RE,
		fx->twilio.port, fx->foreign.port);
	/* our base as a mere string prefix of another authority */
	urls[2] = xasprintf("%s0" API "/Recordings/" RE, fx->base_url);
	urls[3] = NULL; /* no URL at all: rebuilt as well */
	script(&fx->twilio, 1, wav);
	script(&fx->foreign, 1, wav);
	for (int i = 0; i < 4; i++)
		twilio_rest_recording_fetch(
		    fx->t, urls[i], RE, CA, 3000, on_done, &o[i]);
	for (int i = 0; i < 4; i++) {
		assert_true(wait_done(fx, &o[i]));
		assert_int_equal(o[i].outcome, TWILIO_REST_OK);
		assert_int_equal(o[i].body_len, 12);
		outcome_free(&o[i]);
		free(urls[i]);
	}
	run_for(fx, 50);
	assert_int_equal(fx->foreign.hits, 0);
	assert_int_equal(fx->twilio.hits, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(
		    fx->twilio.seen[i].uri, API "/Recordings/" RE ".wav");
		assert_string_equal(fx->twilio.seen[i].auth, BASIC);
	}
}

/* Twilio's XML error document for media URLs is understood. */
static void
test_recording_xml_404_gone(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0};
	static const struct answer nf[] = {
	    {404, "application/xml",
		"<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse>"
		"<RestException><Code>20404</Code><Message>The requested "
		"resource was not found</Message><MoreInfo>https://www.twilio"
		".com/docs/errors/20404</MoreInfo><Status>404</Status>"
		"</RestException></TwilioResponse>",
		NULL},
	};

	script(&fx->twilio, 1, nf);
	twilio_rest_recording_fetch(fx->t, NULL, RE, NULL, 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	assert_int_equal(o.outcome, TWILIO_REST_GONE);
	assert_int_equal(o.error_code, TWILIO_ERR_NOT_FOUND);
	assert_string_equal(o.message, "The requested resource was not found");
	assert_int_equal(o.attempts, 1);
	outcome_free(&o);
}

static void
test_url_is_under(void **state)
{
	static const struct {
		const char *url;
		const char *base;
		bool under;
	} cases[] = {
	    {"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
		"https://api.twilio.com", true},
	    {"HTTPS://API.Twilio.com/x", "https://api.twilio.com/", true},
	    {"https://api.twilio.com", "https://api.twilio.com", false},
	    {"https://api.twilio.com.evil.example/x", "https://api.twilio.com",
		false},
	    {"https://api.twilio.com@evil.example/x", "https://api.twilio.com",
		false},
	    {"https://evil.example/https://api.twilio.com/x",
		"https://api.twilio.com", false},
	    {"http://api.twilio.com/x", "https://api.twilio.com", false},
	    {"https://api.twilio.com:8443/x", "https://api.twilio.com", false},
	    {"https://api.twilio.com/a/../x", "https://api.twilio.com", false},
	    {"https://api.twilio.com/%2e%2e/x", "https://api.twilio.com",
		false},
	    {"https://api.twilio.com/x y", "https://api.twilio.com", false},
	    {"https://api.twilio.com\\@evil.example/x",
		"https://api.twilio.com", false},
	    {"http://127.0.0.1:9/twilio/2010/x", "http://127.0.0.1:9/twilio",
		true},
	    {"http://127.0.0.1:9/twilio2/x", "http://127.0.0.1:9/twilio",
		false},
	    {"http://127.0.0.1:9/x", "http://127.0.0.1:9/twilio", false},
	    {NULL, "https://api.twilio.com", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (twilio_rest_url_is_under(cases[i].url, cases[i].base) !=
		    cases[i].under)
			fail_msg("case %zu: %s under %s should be %d", i,
			    cases[i].url ? cases[i].url : "(null)",
			    cases[i].base, cases[i].under);
	}
	assert_true(twilio_rest_sid_is_valid(CA, "CA"));
	assert_false(twilio_rest_sid_is_valid(CA, "RE"));
	assert_false(twilio_rest_sid_is_valid("CA0123", "CA"));
	assert_false(twilio_rest_sid_is_valid(
	    "CAfedcba9876543210fedcba987654321g", "CA"));
	assert_false(twilio_rest_sid_is_valid(NULL, "CA"));
}

/* ---- client settings and secrets --------------------------------------- */

static void
test_new_refuses_bad_settings(void **state)
{
	struct fx *fx = *state;
	struct twilio_rest *t;

	assert_null(twilio_rest_new(
	    fx->base, fx->h, "AC123", TOKEN, "https://api.twilio.com"));
	assert_null(
	    twilio_rest_new(fx->base, fx->h, AC, "", "https://api.twilio.com"));
	assert_null(twilio_rest_new(
	    fx->base, fx->h, AC, TOKEN, "ftp://api.twilio.com"));
	assert_null(twilio_rest_new(
	    fx->base, fx->h, AC, TOKEN, "https://u:p@api.twilio.com"));
	assert_null(twilio_rest_new(
	    fx->base, fx->h, AC, TOKEN, "https://api.twilio.com/?x=1"));
	t = twilio_rest_new(
	    fx->base, fx->h, AC, TOKEN, "https://api.twilio.com//");
	assert_non_null(t);
	assert_string_equal(twilio_rest_base_url(t), "https://api.twilio.com");
	twilio_rest_free(t);
	twilio_rest_free(NULL);
}

/* Failure and success lines carry neither the token nor the header. */
static void
test_logs_hold_no_secret(void **state)
{
	struct fx *fx = *state;
	struct outcome o = {0}, o2 = {0};
	static const struct answer a[] = {
	    {401, "application/json",
		"{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}",
		NULL},
	    {200, "application/json", CALL_JSON, NULL},
	};
	FILE *f = tmpfile();
	char buf[16384];
	size_t n;

	assert_non_null(f);
	script(&fx->twilio, 2, a);
	log_set_level(LOG_LEVEL_DEBUG);
	log_set_fd(fileno(f));
	twilio_rest_call_update(fx->t, CA, TWILIO_REST_UPDATE_TWIML,
	    "<Response><Say>סוד של הלקוח</Say></Response>", 3000, on_done, &o);
	assert_true(wait_done(fx, &o));
	twilio_rest_call_update(
	    fx->t, CA, TWILIO_REST_UPDATE_HANGUP, NULL, 3000, on_done, &o2);
	assert_true(wait_done(fx, &o2));
	log_set_fd(2);
	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(o.outcome, TWILIO_REST_REJECTED);
	assert_int_equal(o2.outcome, TWILIO_REST_OK);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	assert_non_null(strstr(buf, CA)); /* lines name the call */
	assert_null(strstr(buf, TOKEN));
	assert_null(strstr(buf, BASIC + 6));
	assert_null(strstr(buf, "(redacted)")); /* never even tried */
	assert_null(strstr(buf, "סוד"));
	outcome_free(&o);
	outcome_free(&o2);
}

/* ---- TwiML ------------------------------------------------------------- */

static void
test_twiml_builders(void **state)
{
	char *s;

	(void)state;
	s = twilio_rest_twiml_dial("מעביר אותך לנציג", NULL, "+97231234567");
	assert_string_equal(s,
	    "<Response><Say language=\"he-IL\">מעביר אותך לנציג</Say>"
	    "<Dial>+97231234567</Dial></Response>");
	free(s);
	s = twilio_rest_twiml_dial(NULL, NULL, "+97231234567");
	assert_string_equal(
	    s, "<Response><Dial>+97231234567</Dial></Response>");
	free(s);
	assert_null(twilio_rest_twiml_dial(NULL, NULL, "031234567"));
	assert_null(twilio_rest_twiml_dial(NULL, NULL, "+9723<x>"));
	assert_null(twilio_rest_twiml_dial(NULL, NULL, NULL));

	s = twilio_rest_twiml_record("https://gw.example.co.il/",
	    "נא להשאיר הודעה אחרי הצליל", "Google.he-IL-Wavenet-A", 120);
	assert_string_equal(s,
	    "<Response><Say language=\"he-IL\" "
	    "voice=\"Google.he-IL-Wavenet-A\">נא להשאיר הודעה אחרי הצליל"
	    "</Say><Record action=\"https://gw.example.co.il/twilio/"
	    "recording\" method=\"POST\" maxLength=\"120\" playBeep=\"true\" "
	    "recordingStatusCallback=\"https://gw.example.co.il/twilio/"
	    "recording-status\" recordingStatusCallbackMethod=\"POST\" "
	    "recordingStatusCallbackEvent=\"completed\"/></Response>");
	free(s);
	s = twilio_rest_twiml_record(
	    "http://127.0.0.1:8080/a&b", NULL, NULL, 2);
	assert_string_equal(s,
	    "<Response><Record action=\"http://127.0.0.1:8080/a&amp;b/twilio/"
	    "recording\" method=\"POST\" maxLength=\"2\" playBeep=\"true\" "
	    "recordingStatusCallback=\"http://127.0.0.1:8080/a&amp;b/twilio/"
	    "recording-status\" recordingStatusCallbackMethod=\"POST\" "
	    "recordingStatusCallbackEvent=\"completed\"/></Response>");
	free(s);
	assert_null(twilio_rest_twiml_record("/relative", NULL, NULL, 60));
	assert_null(twilio_rest_twiml_record("https://gw/?q", NULL, NULL, 60));
	assert_null(twilio_rest_twiml_record("https://gw", NULL, NULL, 1));
	assert_null(twilio_rest_twiml_record("https://gw", NULL, NULL, 14401));

	s = twilio_rest_twiml_hangup(
	    "להתראות & תודה <3 \"שי\" 'דירות'\x01", "a\"b");
	assert_string_equal(s,
	    "<Response><Say language=\"he-IL\" voice=\"a&quot;b\">להתראות "
	    "&amp; תודה &lt;3 &quot;שי&quot; &apos;דירות&apos;</Say>"
	    "<Hangup/></Response>");
	free(s);
	s = twilio_rest_twiml_hangup("", NULL);
	assert_string_equal(s, "<Response><Hangup/></Response>");
	free(s);
}

static void
test_xml_escape(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
	    {"a&b<c>d\"e'f\x01g\th שלום", "a&amp;b&lt;c&gt;d&quot;e&apos;fg\th "
					  "שלום"},
	    {"\r\n\x7f", "\r\n\x7f"},
	    {"x\xc0\xafy", "xy"},	  /* overlong '/' */
	    {"x\xed\xa0\x80y", "xy"},	  /* a surrogate */
	    {"x\xef\xbf\xbey", "xy"},	  /* U+FFFE */
	    {"x\xf4\x90\x80\x80y", "xy"}, /* above U+10FFFF */
	    {"x\xd7y\xd7\xa9", "xyש"},	  /* cut sequence, then good */
	    {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"}, /* 4 bytes */
	    {"\xe2\x82", ""},				/* cut at the end */
	    {"", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = xml_escape_alloc(cases[i].in);

		if (strcmp(s, cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, s);
		free(s);
	}
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_update_twiml_shape),
	    TEST(test_update_url_and_hangup_shape),
	    TEST(test_message_shape),
	    TEST(test_invalid_arguments),
	    TEST(test_5xx_retried_then_ok),
	    TEST(test_21220_final_without_retry),
	    TEST(test_20404_and_other_4xx_final),
	    TEST(test_budget_expiry_on_5xx),
	    TEST(test_budget_expiry_on_silence),
	    TEST(test_hung_attempt_retried),
	    TEST(test_message_not_retried_on_500),
	    TEST(test_429_retry_after_beyond_budget),
	    TEST(test_cancel),
	    TEST(test_recording_under_base_fetched_as_is),
	    TEST(test_recording_elsewhere_rebuilt),
	    TEST(test_recording_xml_404_gone),
	    TEST(test_url_is_under),
	    TEST(test_new_refuses_bad_settings),
	    TEST(test_logs_hold_no_secret),
	    TEST(test_twiml_builders),
	    TEST(test_xml_escape),
	};

	log_init("test_twilio_rest", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
