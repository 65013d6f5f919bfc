/*
 * Unit tests for common/httpc.c: outbound HTTP on the libevent loop.
 *
 * Why: every provider call (OpenAI chat and transcription, Google TTS,
 * Twilio REST) goes through httpc, so its contract is tested against a
 * real HTTP server: libevent's evhttp bound to 127.0.0.1 port 0 on the
 * same event_base as the client. A server that never answers is a plain
 * listening socket that never accepts (the kernel completes the handshake,
 * nothing replies). Only loopback addresses are used.
 *
 * Every wait is bounded: wait_for() runs the loop one pass at a time with
 * a 5 ms tick and gives up after its deadline, so a broken client fails a
 * test instead of hanging it. Timing is never asserted tightly.
 * Leaks (httpc_free with requests pending included) are left to
 * LeakSanitizer at exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "httpc.h"
#include "log.h"
#include "xmalloc.h"

#define WAIT_MS	      5000
#define STREAM_PARTS  5
#define STREAM_GAP_MS 20

/* One test's world: loop, server, client. */
struct fx {
	struct event_base *base;
	struct evhttp *http;
	struct event *tick;
	struct httpc *h;
	int port;
	int ndone;
	int server_streams;
	int server_hits;
	/* what the server saw last */
	char *seen_method;
	char *seen_ctype;
	char *seen_xtest;
	char *seen_auth;
	char *seen_body;
	size_t seen_body_len;
};

/* One client request's outcome as copied from its callbacks. */
struct call {
	struct fx *fx;
	struct httpc_req *req;
	int ndone;
	enum httpc_status status;
	long code;
	char *body;
	size_t body_len;
	char *ctype;
	char *xecho;
	char *error;
	long retry_after_ms;
	long elapsed_ms;
	int nchunks;
	char stream[1024];
	size_t stream_len;
	bool chunk_after_done;
	int cancel_after; /* cancel from the chunk callback after N */
	bool chain;	  /* start a second request from done */
	bool take;	  /* take the body instead of copying it */
	struct call *next_call;
};

/* A streamed reply in progress on the server side. */
struct sstream {
	struct fx *fx;
	struct evhttp_request *req;
	struct event *timer;
	int sent;
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until n calls finished and the server is idle. */
static bool
wait_for(struct fx *fx, int n, long max_ms)
{
	long deadline = now_ms() + max_ms;

	while (fx->ndone < n || fx->server_streams > 0) {
		if (now_ms() > deadline)
			return false;
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	return true;
}

/* Run the loop until the server has seen n requests. */
static bool
wait_hits(struct fx *fx, int n, long max_ms)
{
	long deadline = now_ms() + max_ms;

	while (fx->server_hits < n) {
		if (now_ms() > deadline)
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

static void
record(char **dst, const char *src)
{
	free(*dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(
	    evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
stream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sstream *s = arg;
	struct timeval gap = {0, STREAM_GAP_MS * 1000};
	struct evbuffer *b;

	(void)fd;
	(void)what;
	s->sent++;
	b = evbuffer_new();
	evbuffer_add_printf(b, "data: %d\n\n", s->sent);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
	if (s->sent < STREAM_PARTS) {
		evtimer_add(s->timer, &gap);
		return;
	}
	evhttp_send_reply_end(s->req);
	s->fx->server_streams--;
	event_free(s->timer);
	free(s);
}

static void
serve_stream(struct fx *fx, struct evhttp_request *req)
{
	struct sstream *s = xcalloc(1, sizeof(*s));
	struct timeval gap = {0, STREAM_GAP_MS * 1000};

	s->fx = fx;
	s->req = req;
	s->timer = evtimer_new(fx->base, stream_timer_cb, s);
	fx->server_streams++;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/event-stream");
	evhttp_send_reply_start(req, 200, "OK");
	evtimer_add(s->timer, &gap);
}

static void
serve_echo(struct fx *fx, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();
	size_t len = evbuffer_get_length(body);
	const char *xt = evhttp_find_header(in, "X-Test");

	free(fx->seen_body);
	fx->seen_body = xmalloc(len + 1);
	evbuffer_copyout(body, fx->seen_body, len);
	fx->seen_body[len] = '\0';
	fx->seen_body_len = len;
	record(&fx->seen_method,
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST"
							       : "other");
	record(&fx->seen_ctype, evhttp_find_header(in, "Content-Type"));
	record(&fx->seen_xtest, xt);
	record(&fx->seen_auth, evhttp_find_header(in, "Authorization"));
	if (xt != NULL)
		evhttp_add_header(
		    evhttp_request_get_output_headers(req), "X-Echo", xt);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/octet-stream");
	evbuffer_add_buffer(out, body);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct fx *fx = arg;
	const char *uri = evhttp_request_get_uri(req);
	char big[100 * 1024];

	if (uri == NULL)
		return; /* libevent reporting a failed connection */
	fx->server_hits++;
	if (strcmp(uri, "/hello") == 0) {
		reply(req, 200, "OK", "text/plain", "hello world");
	} else if (strcmp(uri, "/echo") == 0 || strcmp(uri, "/upload") == 0) {
		serve_echo(fx, req);
	} else if (strcmp(uri, "/moved") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", "/hello");
		reply(req, 302, "Found", "text/plain", "moved");
	} else if (strcmp(uri, "/busy") == 0) {
		evhttp_add_header(
		    evhttp_request_get_output_headers(req), "Retry-After", "7");
		reply(req, 429, "Too Many Requests", "application/json",
		    "{\"error\":\"rate limited\"}");
	} else if (strcmp(uri, "/stream") == 0) {
		serve_stream(fx, req);
	} else if (strcmp(uri, "/stream-fail") == 0) {
		reply(req, 503, "Service Unavailable", "application/json",
		    "{\"error\":\"overloaded\"}");
	} else if (strcmp(uri, "/big") == 0) {
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		reply(req, 200, "OK", "text/plain", big);
	} else {
		reply(req, 404, "Not Found", "text/plain", "no");
	}
}

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct timeval tick = {0, 5000};

	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->http = evhttp_new(fx->base);
	assert_non_null(fx->http);
	evhttp_set_gencb(fx->http, server_cb, fx);
	bs = evhttp_bind_socket_with_handle(fx->http, "127.0.0.1", 0);
	assert_non_null(bs);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
			     (struct sockaddr *)&sin, &slen),
	    0);
	fx->port = ntohs(sin.sin_port);
	fx->tick = event_new(fx->base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(fx->tick, &tick);
	fx->h = httpc_new(fx->base);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	/* let server-side streams finish so evhttp_free frees idle state */
	wait_for(fx, 0, WAIT_MS);
	httpc_free(fx->h);
	evhttp_free(fx->http);
	event_free(fx->tick);
	event_base_free(fx->base);
	free(fx->seen_method);
	free(fx->seen_ctype);
	free(fx->seen_xtest);
	free(fx->seen_auth);
	free(fx->seen_body);
	free(fx);
	return 0;
}

static char *
url(struct fx *fx, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", fx->port, path);
}

static void
call_free(struct call *c)
{
	free(c->body);
	free(c->ctype);
	free(c->xecho);
	free(c->error);
}

static void on_done(
    struct httpc_req *r, const struct httpc_result *res, void *arg);

static void
on_chunk(struct httpc_req *r, const void *data, size_t len, void *arg)
{
	struct call *c = arg;

	assert_ptr_equal(r, c->req);
	assert_int_equal(httpc_code(r), 200);
	if (c->ndone > 0)
		c->chunk_after_done = true;
	c->nchunks++;
	assert_true(c->stream_len + len < sizeof(c->stream));
	memcpy(c->stream + c->stream_len, data, len);
	c->stream_len += len;
	if (c->cancel_after > 0 && c->nchunks == c->cancel_after) {
		httpc_cancel(r);
		httpc_cancel(r); /* twice is harmless */
	}
}

static void
start_get(struct call *c, const char *path, long budget_ms)
{
	char *u = url(c->fx, path);

	c->req = httpc_req_new(c->fx->h, "GET", u, budget_ms);
	free(u);
	httpc_start(c->req, on_done, c);
}

static void
on_done(struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct call *c = arg;

	assert_ptr_equal(r, c->req);
	c->ndone++;
	c->status = res->status;
	c->code = res->code;
	c->body_len = res->body_len;
	if (c->take) {
		size_t len = 0;

		c->body = httpc_take_body(r, &len);
		assert_ptr_equal(c->body, res->body);
		assert_int_equal(len, res->body_len);
		assert_null(httpc_take_body(r, &len)); /* only once */
	} else {
		c->body = xmemdup(res->body, res->body_len + 1);
	}
	c->ctype = res->content_type ? xstrdup(res->content_type) : NULL;
	c->xecho = httpc_header(r, "x-echo")
		       ? xstrdup(httpc_header(r, "x-echo"))
		       : NULL;
	c->error = xstrdup(res->error);
	c->retry_after_ms = res->retry_after_ms;
	c->elapsed_ms = res->elapsed_ms;
	httpc_cancel(r); /* a no-op from inside done */
	c->fx->ndone++;
	if (c->chain && c->next_call != NULL)
		start_get(c->next_call, "/hello", 2000);
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

/* A loopback port nobody listens on: bound, then closed. */
static int
closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void
test_get_200(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};

	start_get(&c, "/hello", 2000);
	/* done never runs from inside httpc_start */
	assert_int_equal(c.ndone, 0);
	assert_int_equal(httpc_in_flight(fx->h), 1);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.ndone, 1);
	assert_int_equal(c.status, HTTPC_OK);
	assert_int_equal(c.code, 200);
	assert_string_equal(c.body, "hello world");
	assert_int_equal(c.body_len, 11);
	assert_string_equal(c.ctype, "text/plain");
	assert_int_equal(c.retry_after_ms, -1);
	assert_string_equal(c.error, "");
	assert_true(c.elapsed_ms >= 0);
	assert_int_equal(httpc_in_flight(fx->h), 0);
	call_free(&c);
}

static void
test_post_echo_headers(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	static const char body[] = "{\"a\":1}\0tail";
	char *u = url(fx, "/echo");

	c.req = httpc_req_new(fx->h, "POST", u, 2000);
	free(u);
	httpc_req_header(c.req, "Content-Type", "application/json");
	httpc_req_header(c.req, "X-Test", "abc 123");
	httpc_req_header(c.req, "Authorization", "Bearer sk-test");
	httpc_req_body(c.req, body, sizeof(body) - 1);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_int_equal(c.code, 200);
	assert_int_equal(c.body_len, sizeof(body) - 1);
	assert_memory_equal(c.body, body, sizeof(body) - 1);
	assert_string_equal(fx->seen_method, "POST");
	assert_int_equal(fx->seen_body_len, sizeof(body) - 1);
	assert_memory_equal(fx->seen_body, body, sizeof(body) - 1);
	assert_string_equal(fx->seen_ctype, "application/json");
	assert_string_equal(fx->seen_xtest, "abc 123");
	assert_string_equal(fx->seen_auth, "Bearer sk-test");
	assert_non_null(c.xecho);
	assert_string_equal(c.xecho, "abc 123");
	assert_string_equal(c.ctype, "application/octet-stream");
	call_free(&c);
}

static void
test_body_take_ownership(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = url(fx, "/echo");

	c.req = httpc_req_new(fx->h, "POST", u, 2000);
	free(u);
	httpc_req_body_take(c.req, xstrdup("owned body"), 10);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_string_equal(c.body, "owned body");
	call_free(&c);
}

static void
test_take_body(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx, .take = true};

	start_get(&c, "/hello", 2000);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_string_equal(c.body, "hello world"); /* ours now */
	call_free(&c);
}

static void
test_redirects(void **state)
{
	struct fx *fx = *state;
	struct call plain = {.fx = fx}, follow = {.fx = fx};
	char *u = url(fx, "/moved");

	start_get(&plain, "/moved", 2000);
	follow.req = httpc_req_new(fx->h, "GET", u, 2000);
	free(u);
	httpc_req_follow(follow.req, 3);
	httpc_start(follow.req, on_done, &follow);
	assert_true(wait_for(fx, 2, WAIT_MS));
	assert_int_equal(plain.status, HTTPC_OK);
	assert_int_equal(plain.code, 302);
	assert_int_equal(follow.status, HTTPC_OK);
	assert_int_equal(follow.code, 200);
	assert_string_equal(follow.body, "hello world");
	assert_string_equal(follow.ctype, "text/plain");
	call_free(&plain);
	call_free(&follow);
}

static void
test_unsupported_scheme(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};

	c.req = httpc_req_new(fx->h, "GET", "file:///etc/passwd", 2000);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_INVALID);
	assert_int_equal(c.body_len, 0);
	call_free(&c);
}

static void
test_429_retry_after(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};

	start_get(&c, "/busy", 2000);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_int_equal(c.code, 429);
	assert_int_equal(c.retry_after_ms, 7000);
	assert_string_equal(c.ctype, "application/json");
	assert_string_equal(c.body, "{\"error\":\"rate limited\"}");
	call_free(&c);
}

static void
test_stream_chunks(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = url(fx, "/stream");
	char want[256];
	size_t n = 0;

	for (int i = 1; i <= STREAM_PARTS; i++)
		n += (size_t)snprintf(
		    want + n, sizeof(want) - n, "data: %d\n\n", i);
	c.req = httpc_req_new(fx->h, "GET", u, 3000);
	free(u);
	httpc_req_on_chunk(c.req, on_chunk);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_int_equal(c.code, 200);
	assert_true(c.nchunks >= 2); /* arrived in pieces, not at the end */
	assert_false(c.chunk_after_done);
	assert_int_equal(c.stream_len, n);
	assert_memory_equal(c.stream, want, n);
	assert_int_equal(c.body_len, 0); /* streamed, not buffered */
	assert_string_equal(c.ctype, "text/event-stream");
	call_free(&c);
}

static void
test_stream_error_is_buffered(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = url(fx, "/stream-fail");

	c.req = httpc_req_new(fx->h, "POST", u, 2000);
	free(u);
	httpc_req_on_chunk(c.req, on_chunk);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_int_equal(c.code, 503);
	assert_int_equal(c.nchunks, 0);
	assert_string_equal(c.body, "{\"error\":\"overloaded\"}");
	call_free(&c);
}

static void
test_budget_expires(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	int port, lfd = silent_listener(&port);
	char *u = xasprintf("http://127.0.0.1:%d/never", port);

	c.req = httpc_req_new(fx->h, "GET", u, 300);
	free(u);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_TIMEOUT);
	assert_int_equal(c.code, 0);
	assert_true(strlen(c.error) > 0);
	assert_true(c.elapsed_ms >= 200); /* roughly the budget */
	assert_true(c.elapsed_ms < WAIT_MS);
	close(lfd);
	call_free(&c);
}

static void
test_budget_exhausted_before_start(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};

	start_get(&c, "/hello", 0);
	assert_int_equal(c.ndone, 0);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_TIMEOUT);
	assert_int_equal(fx->server_hits, 0);
	call_free(&c);
}

static void
test_connection_refused(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = xasprintf("http://127.0.0.1:%d/x", closed_port());

	c.req = httpc_req_new(fx->h, "GET", u, 2000);
	free(u);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_CONNECT);
	assert_int_equal(c.code, 0);
	assert_true(strlen(c.error) > 0);
	assert_int_equal(httpc_in_flight(fx->h), 0);
	call_free(&c);
}

static void
test_failure_log_hides_secrets(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = xasprintf(
	    "http://user:pw@127.0.0.1:%d/v1/path?key=SEKRET1", closed_port());
	FILE *f = tmpfile();
	char buf[4096];
	size_t n;

	assert_non_null(f);
	log_set_fd(fileno(f));
	c.req = httpc_req_new(fx->h, "POST", u, 2000);
	free(u);
	httpc_req_header(c.req, "Authorization", "Bearer SEKRET2");
	httpc_req_body(c.req, "SEKRET3", 7);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	log_set_fd(2);
	assert_int_equal(c.status, HTTPC_ERR_CONNECT);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "/v1/path"));
	assert_non_null(strstr(buf, "connect"));
	assert_null(strstr(buf, "SEKRET"));
	assert_null(strstr(buf, "user:pw"));
	call_free(&c);
}

static void
test_cancel_in_stream(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx, .cancel_after = 1};
	char *u = url(fx, "/stream");

	c.req = httpc_req_new(fx->h, "GET", u, 3000);
	free(u);
	httpc_req_on_chunk(c.req, on_chunk);
	httpc_start(c.req, on_done, &c);
	/* the server finishes its stream; the client must stay silent */
	assert_true(wait_hits(fx, 1, WAIT_MS));
	assert_true(wait_for(fx, 0, WAIT_MS));
	run_for(fx, 50);
	assert_int_equal(c.nchunks, 1);
	assert_int_equal(c.ndone, 0);
	assert_int_equal(httpc_in_flight(fx->h), 0);
}

static void
test_cancel_before_running(void **state)
{
	struct fx *fx = *state;
	struct call c1 = {.fx = fx}, c2 = {.fx = fx};
	char *u = url(fx, "/hello");

	/* never started */
	c1.req = httpc_req_new(fx->h, "GET", u, 2000);
	httpc_cancel(c1.req);
	/* started, cancelled before the loop added it */
	c2.req = httpc_req_new(fx->h, "GET", u, 2000);
	free(u);
	httpc_start(c2.req, on_done, &c2);
	assert_int_equal(httpc_in_flight(fx->h), 1);
	httpc_cancel(c2.req);
	assert_int_equal(httpc_in_flight(fx->h), 0);
	httpc_cancel(NULL);
	run_for(fx, 100);
	assert_int_equal(c1.ndone + c2.ndone, 0);
	assert_int_equal(fx->server_hits, 0);
}

static void
test_concurrent_20(void **state)
{
	struct fx *fx = *state;
	struct call c[20];
	char *u = url(fx, "/echo");

	memset(c, 0, sizeof(c));
	for (int i = 0; i < 20; i++) {
		char *b = xasprintf("request %d", i);

		c[i].fx = fx;
		c[i].req = httpc_req_new(fx->h, "POST", u, 4000);
		httpc_req_body_take(c[i].req, b, strlen(b));
		httpc_start(c[i].req, on_done, &c[i]);
	}
	free(u);
	assert_int_equal(httpc_in_flight(fx->h), 20);
	assert_true(wait_for(fx, 20, WAIT_MS));
	for (int i = 0; i < 20; i++) {
		char want[32];

		snprintf(want, sizeof(want), "request %d", i);
		assert_int_equal(c[i].ndone, 1);
		assert_int_equal(c[i].status, HTTPC_OK);
		assert_int_equal(c[i].code, 200);
		assert_string_equal(c[i].body, want);
		call_free(&c[i]);
	}
	assert_int_equal(httpc_in_flight(fx->h), 0);
}

static void
test_multipart_upload(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	static const unsigned char audio[] = {
	    'R', 'I', 'F', 'F', 0, 1, 2, 0xff, 0xfe, '\r', '\n', 0, 'x'};
	char *u = url(fx, "/upload");
	const char *b;

	c.req = httpc_req_new(fx->h, "POST", u, 2000);
	free(u);
	httpc_req_header(c.req, "Authorization", "Bearer sk-test");
	httpc_req_mime_text(c.req, "model", "whisper-1");
	httpc_req_mime_file(
	    c.req, "file", "utt.wav", "audio/wav", audio, sizeof(audio));
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_OK);
	assert_int_equal(c.code, 200);
	assert_non_null(fx->seen_ctype);
	assert_int_equal(
	    strncmp(fx->seen_ctype, "multipart/form-data; boundary=", 30), 0);
	b = fx->seen_body;
	assert_non_null(memmem(b, fx->seen_body_len,
	    "Content-Disposition: form-data; "
	    "name=\"model\"\r\n\r\nwhisper-1\r\n",
	    55));
	assert_non_null(memmem(
	    b, fx->seen_body_len, "name=\"file\"; filename=\"utt.wav\"", 31));
	assert_non_null(
	    memmem(b, fx->seen_body_len, "Content-Type: audio/wav\r\n", 25));
	assert_non_null(memmem(b, fx->seen_body_len, audio, sizeof(audio)));
	call_free(&c);
}

static void
test_too_large(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = url(fx, "/big");

	c.req = httpc_req_new(fx->h, "GET", u, 2000);
	free(u);
	httpc_req_max_body(c.req, 1000);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_TOO_LARGE);
	call_free(&c);
}

static void
test_invalid_header(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = url(fx, "/hello");

	c.req = httpc_req_new(fx->h, "GET", u, 2000);
	free(u);
	httpc_req_header(c.req, "X-Evil", "a\r\nX-Injected: 1");
	httpc_start(c.req, on_done, &c);
	assert_int_equal(c.ndone, 0);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_INVALID);
	assert_int_equal(fx->server_hits, 0);
	call_free(&c);
}

static void
test_invalid_method(void **state)
{
	struct fx *fx = *state;
	struct call c = {.fx = fx};
	char *u = url(fx, "/hello");

	c.req = httpc_req_new(fx->h, "GET /x", u, 2000);
	free(u);
	httpc_start(c.req, on_done, &c);
	assert_true(wait_for(fx, 1, WAIT_MS));
	assert_int_equal(c.status, HTTPC_ERR_INVALID);
	assert_int_equal(fx->server_hits, 0);
	call_free(&c);
}

static void
test_start_from_done(void **state)
{
	struct fx *fx = *state;
	struct call second = {.fx = fx};
	struct call first = {.fx = fx, .chain = true, .next_call = &second};

	start_get(&first, "/busy", 2000);
	assert_true(wait_for(fx, 2, WAIT_MS));
	assert_int_equal(first.code, 429);
	assert_int_equal(second.status, HTTPC_OK);
	assert_string_equal(second.body, "hello world");
	call_free(&first);
	call_free(&second);
}

static void
test_free_with_pending(void **state)
{
	struct fx *fx = *state;
	struct call c[6];
	int port, lfd = silent_listener(&port);
	char *never = xasprintf("http://127.0.0.1:%d/never", port);
	char *stream = url(fx, "/stream");

	memset(c, 0, sizeof(c));
	for (int i = 0; i < 6; i++)
		c[i].fx = fx;
	/* three waiting for an answer, one mid-stream */
	for (int i = 0; i < 4; i++) {
		c[i].req =
		    httpc_req_new(fx->h, "GET", i < 3 ? never : stream, 3000);
		if (i == 3)
			httpc_req_on_chunk(c[i].req, on_chunk);
		httpc_start(c[i].req, on_done, &c[i]);
	}
	run_for(fx, 50);
	assert_int_equal(httpc_in_flight(fx->h), 4);
	/* one started but not yet added to curl, one never started */
	c[4].req = httpc_req_new(fx->h, "POST", never, 3000);
	httpc_req_mime_file(c[4].req, "file", "a.wav", "audio/wav", "abc", 3);
	httpc_start(c[4].req, on_done, &c[4]);
	c[5].req = httpc_req_new(fx->h, "POST", never, 3000);
	httpc_req_body(c[5].req, "x", 1);
	free(never);
	free(stream);
	assert_int_equal(httpc_in_flight(fx->h), 5);
	httpc_free(fx->h);
	fx->h = NULL;
	for (int i = 0; i < 6; i++)
		assert_int_equal(c[i].ndone, 0);
	close(lfd);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_get_200),
	    TEST(test_post_echo_headers),
	    TEST(test_body_take_ownership),
	    TEST(test_take_body),
	    TEST(test_redirects),
	    TEST(test_unsupported_scheme),
	    TEST(test_429_retry_after),
	    TEST(test_stream_chunks),
	    TEST(test_stream_error_is_buffered),
	    TEST(test_budget_expires),
	    TEST(test_budget_exhausted_before_start),
	    TEST(test_connection_refused),
	    TEST(test_failure_log_hides_secrets),
	    TEST(test_cancel_in_stream),
	    TEST(test_cancel_before_running),
	    TEST(test_concurrent_20),
	    TEST(test_multipart_upload),
	    TEST(test_too_large),
	    TEST(test_invalid_header),
	    TEST(test_invalid_method),
	    TEST(test_start_from_done),
	    TEST(test_free_with_pending),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_httpc", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
