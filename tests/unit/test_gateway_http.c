/*
 * Unit tests for gateway/http.c, in two parts.
 *
 * The pure reader (struct http_reader): requests fed whole, one byte at a
 * time and in pseudo-random splits (fixed seeds) must parse identically;
 * pipelined requests come out one by one; keep-alive follows the version
 * and Connection; every limit and malformed input gives its status (400,
 * 413, 414, 431); an upgrade request stops the reader exactly after its
 * head.
 *
 * The server: a real listener on 127.0.0.1 port 0 on the test's own
 * event_base, a plain client socket, and a handler that echoes what it
 * saw. Keep-alive, pipelining in order, Connection: close, errors over the
 * wire followed by a close, HEAD, read and idle timeouts, a stop that
 * finishes the request in flight and closes idle connections, and the
 * upgrade hook (http_conn_detach) handing over the bufferevent with the
 * bytes that followed the request.
 *
 * Every wait is bounded (pump() gives up after WAIT_MS); only loopback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../../gateway/gateway.h"
#include "log.h"
#include "xmalloc.h"

#define WAIT_MS 5000

/* ---- reader helpers --------------------------------------------------- */

struct got {
	struct http_request *req[8];
	size_t n;
	enum http_read last;
	int status;
	size_t consumed;
};

/* Feed buf to r in pieces chosen by next_piece; collect the requests. */
static void
feed_split(struct http_reader *r, const char *buf, size_t len,
    size_t (*next_piece)(size_t left, unsigned int *seed), unsigned int seed,
    struct got *g)
{
	size_t off = 0;

	memset(g, 0, sizeof(*g));
	while (off < len) {
		size_t piece = next_piece(len - off, &seed);
		size_t pos = 0;

		while (pos < piece) {
			size_t used = 0;
			enum http_read st = http_reader_feed(
			    r, buf + off + pos, piece - pos, &used);

			g->last = st;
			pos += used;
			if (st == HTTP_READ_REQUEST) {
				assert_true(g->n < 8);
				g->req[g->n++] = http_reader_take(r);
				if (g->req[g->n - 1]->upgrade) {
					g->consumed = off + pos;
					return;
				}
				continue;
			}
			if (st == HTTP_READ_ERROR) {
				g->status = http_reader_status(r);
				g->consumed = off + pos;
				return;
			}
			assert_int_equal(pos, piece);
			break;
		}
		off += piece;
	}
	g->consumed = off;
}

static size_t
piece_all(size_t left, unsigned int *seed)
{
	(void)seed;
	return left;
}

static size_t
piece_one(size_t left, unsigned int *seed)
{
	(void)seed;
	(void)left;
	return 1;
}

static size_t
piece_random(size_t left, unsigned int *seed)
{
	size_t n;

	*seed = *seed * 1103515245u + 12345u;
	n = 1 + (*seed >> 16) % 37;
	return n < left ? n : left;
}

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		http_request_free(g->req[i]);
	g->n = 0;
}

static struct got
parse(const char *buf, size_t len, size_t body_max)
{
	struct http_reader *r = http_reader_new(body_max);
	struct got g;

	feed_split(r, buf, len, piece_all, 0, &g);
	http_reader_free(r);
	return g;
}

static int
parse_status(const char *buf)
{
	struct got g = parse(buf, strlen(buf), 0);
	int st = g.last == HTTP_READ_ERROR ? g.status : 0;

	got_free(&g);
	return st;
}

/* ---- reader tests ----------------------------------------------------- */

static const char pipeline[] =
    "GET /healthz?x=1&y=%D7%A9 HTTP/1.1\r\n"
    "Host: gw.example.co.il\r\n"
    "User-Agent: TwilioProxy/1.1\r\n"
    "X-Empty:\r\n"
    "X-Folded: a\r\n"
    "\r\n"
    "POST /twilio/voice HTTP/1.1\r\n"
    "Host: gw.example.co.il\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    "X-Twilio-Signature: RSOYDt4T1cUTdK1PDd93/VVr8B8=\r\n"
    "Content-Length: 27\r\n"
    "\r\n"
    "CallSid=CA1&From=%2B9725012"
    "POST /chunked HTTP/1.1\r\n"
    "Host: h\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

static void
check_pipeline(struct got *g)
{
	struct http_request *a, *b, *c;

	assert_int_equal(g->n, 3);
	assert_int_not_equal(g->last, HTTP_READ_ERROR);
	a = g->req[0];
	b = g->req[1];
	c = g->req[2];
	assert_string_equal(a->method, "GET");
	assert_string_equal(a->target, "/healthz?x=1&y=%D7%A9");
	assert_string_equal(a->path, "/healthz");
	assert_string_equal(a->query, "x=1&y=%D7%A9");
	assert_int_equal(a->nheaders, 4);
	assert_string_equal(http_request_header(a, "host"), "gw.example.co.il");
	assert_string_equal(http_request_header(a, "X-EMPTY"), "");
	assert_string_equal(http_request_header(a, "x-folded"), "a");
	assert_null(http_request_header(a, "Content-Length"));
	assert_int_equal(a->body_len, 0);
	assert_true(a->keep_alive);
	assert_false(a->upgrade);
	assert_int_equal(a->version_major, 1);
	assert_int_equal(a->version_minor, 1);
	assert_string_equal(b->method, "POST");
	assert_string_equal(b->path, "/twilio/voice");
	assert_string_equal(b->query, "");
	assert_int_equal(b->body_len, 27);
	assert_memory_equal(b->body, "CallSid=CA1&From=%2B9725012", 27);
	assert_string_equal(http_request_header(b, "X-Twilio-Signature"),
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	assert_string_equal(c->path, "/chunked");
	assert_int_equal(c->body_len, 11);
	assert_string_equal(c->body, "hello world");
}

static void
test_reader_whole(void **state)
{
	struct http_reader *r = http_reader_new(0);
	struct got g;

	(void)state;
	assert_true(http_reader_is_idle(r));
	feed_split(r, pipeline, sizeof(pipeline) - 1, piece_all, 0, &g);
	check_pipeline(&g);
	assert_true(http_reader_is_idle(r));
	got_free(&g);
	http_reader_free(r);
}

static void
test_reader_byte_at_a_time(void **state)
{
	struct http_reader *r = http_reader_new(0);
	struct got g;

	(void)state;
	feed_split(r, pipeline, sizeof(pipeline) - 1, piece_one, 0, &g);
	check_pipeline(&g);
	got_free(&g);
	http_reader_free(r);
}

static void
test_reader_random_splits(void **state)
{
	(void)state;
	for (unsigned int seed = 1; seed <= 300; seed++) {
		struct http_reader *r = http_reader_new(0);
		struct got g;

		feed_split(
		    r, pipeline, sizeof(pipeline) - 1, piece_random, seed, &g);
		check_pipeline(&g);
		got_free(&g);
		http_reader_free(r);
	}
}

static void
test_reader_stops_after_each_request(void **state)
{
	struct http_reader *r = http_reader_new(0);
	const char *two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
			  "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t used = 0;
	struct http_request *req;

	(void)state;
	assert_int_equal(
	    http_reader_feed(r, two, strlen(two), &used), HTTP_READ_REQUEST);
	assert_int_equal(used, strlen(two) / 2);
	/* an untaken request blocks the reader */
	assert_int_equal(
	    http_reader_feed(r, two + used, 3, &used), HTTP_READ_REQUEST);
	assert_int_equal(used, 0);
	req = http_reader_take(r);
	assert_string_equal(req->path, "/a");
	http_request_free(req);
	assert_null(http_reader_take(r));
	assert_int_equal(
	    http_reader_feed(r, two + strlen(two) / 2, strlen(two) / 2, &used),
	    HTTP_READ_REQUEST);
	req = http_reader_take(r);
	assert_string_equal(req->path, "/b");
	http_request_free(req);
	assert_int_equal(http_reader_feed(r, "", 0, &used), HTTP_READ_MORE);
	http_reader_free(r);
}

static void
test_reader_keep_alive(void **state)
{
	static const struct {
		const char *req;
		bool keep;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
	    {"GET / HTTP/1.0\r\n\r\n", false},
	    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct got g = parse(cases[i].req, strlen(cases[i].req), 0);

		assert_int_equal(g.n, 1);
		assert_int_equal(g.req[0]->keep_alive, cases[i].keep);
		got_free(&g);
	}
}

static char *
many_headers(size_t n)
{
	char *buf = xmalloc(64 + n * 16);
	size_t len = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\n");

	for (size_t i = 1; i < n; i++)
		len += (size_t)sprintf(buf + len, "X-H%zu: v\r\n", i);
	memcpy(buf + len, "\r\n", 3);
	return buf;
}

static void
test_reader_limits(void **state)
{
	char *buf;
	size_t n;

	(void)state;
	/* exactly HTTP_HEADERS_MAX headers pass, one more is 431 */
	buf = many_headers(HTTP_HEADERS_MAX);
	assert_int_equal(parse_status(buf), 0);
	free(buf);
	buf = many_headers(HTTP_HEADERS_MAX + 1);
	assert_int_equal(parse_status(buf), 431);
	free(buf);
	/* the head over HTTP_HEADER_BYTES_MAX: 431 */
	n = HTTP_HEADER_BYTES_MAX + 100;
	buf = xmalloc(n + 64);
	sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
	{
		size_t off = strlen(buf);

		memset(buf + off, 'a', n);
		memcpy(buf + off + n, "\r\n\r\n", 5);
	}
	assert_int_equal(parse_status(buf), 431);
	free(buf);
	/* a target over HTTP_URL_MAX: 414 */
	n = HTTP_URL_MAX + 1;
	buf = xmalloc(n + 64);
	strcpy(buf, "GET /");
	memset(buf + 5, 'a', n);
	strcpy(buf + 5 + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_int_equal(parse_status(buf), 414);
	free(buf);
	/* a body announced over the limit: 413 before any body byte */
	assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: h\r\n"
				      "Content-Length: 1048577\r\n\r\n"),
	    413);
	assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: h\r\n"
				      "Content-Length: 1048576\r\n\r\n"),
	    0);
	/* a chunked body growing over a small limit: 413 */
	{
		const char *ch = "POST / HTTP/1.1\r\nHost: h\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
		struct got g = parse(ch, strlen(ch), 10);

		assert_int_equal(g.last, HTTP_READ_ERROR);
		assert_int_equal(g.status, 413);
		got_free(&g);
		g = parse(ch, strlen(ch), 16);
		assert_int_equal(g.n, 1);
		got_free(&g);
	}
}

static void
test_reader_malformed(void **state)
{
	static const char *const bad[] = {
	    "GARBAGE\r\n\r\n",
	    "GET\r\n\r\n",
	    "GET foo HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n", /* no Host */
	    "GET / HTTP/9.9.9\r\nHost: h\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\nX-Sp : x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\n\x01: x\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct http_reader *r = http_reader_new(0);
		struct got g;
		size_t used;

		feed_split(r, bad[i], strlen(bad[i]), piece_all, 0, &g);
		if (g.last != HTTP_READ_ERROR)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(g.status, 400);
		assert_true(http_reader_error(r)[0] != '\0');
		/* a failed reader refuses everything after */
		assert_int_equal(
		    http_reader_feed(r, "GET / HTTP/1.1\r\n", 16, &used),
		    HTTP_READ_ERROR);
		got_free(&g);
		http_reader_free(r);
	}
}

static void
test_reader_upgrade(void **state)
{
	const char head[] =
	    "GET /twilio/media HTTP/1.1\r\n"
	    "Host: gw.example.co.il\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "X-Twilio-Signature: 7PR3qMkpDyEJtMrVOY/LDyNq8J8=\r\n"
	    "\r\n";
	char buf[512];
	size_t hl = sizeof(head) - 1;

	(void)state;
	memcpy(buf, head, hl);
	memcpy(buf + hl,
	    "\x81\x85"
	    "abcdXXXXX",
	    11);
	for (int mode = 0; mode < 2; mode++) {
		struct http_reader *r = http_reader_new(0);
		struct got g;
		size_t used;

		feed_split(
		    r, buf, hl + 11, mode ? piece_one : piece_all, 0, &g);
		assert_int_equal(g.n, 1);
		assert_true(g.req[0]->upgrade);
		assert_int_equal(g.consumed, hl);
		assert_int_equal(
		    http_reader_feed(r, buf + hl, 11, &used), HTTP_READ_ERROR);
		got_free(&g);
		http_reader_free(r);
	}
}

/* ---- the server ------------------------------------------------------- */

struct fx {
	struct event_base *base;
	struct http_server *srv;
	int port;
	int handled;
	struct bufferevent *taken; /* from the upgrade hook */
};

struct client {
	int fd;
	char buf[1 << 17];
	size_t len;
	bool eof;
};

struct resp {
	int status;
	char head[2048];
	char body[2048];
	size_t body_len;
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Echo "METHOD PATH body_len" so tests see what the server parsed. */
static void
echo_handler(struct http_conn *c, const struct http_request *req,
    struct http_response *resp, void *arg)
{
	struct fx *fx = arg;

	fx->handled++;
	if (strcmp(req->path, "/upgrade") == 0) {
		struct bufferevent *bev = http_conn_detach(c);

		if (bev != NULL) {
			fx->taken = bev;
			return;
		}
		http_response_set(resp, 400, "text/plain", "not an upgrade\n");
		return;
	}
	if (strcmp(req->path, "/nostatus") == 0) {
		resp->status = 0;
		return;
	}
	http_response_set(resp, 200, "text/plain", NULL);
	evbuffer_add_printf(
	    resp->body, "%s %s %zu", req->method, req->target, req->body_len);
	assert_int_equal(http_response_add_header(resp, "X-Test", "1"), 0);
	assert_int_equal(http_response_add_header(resp, "X-Bad", "a\r\nb"), -1);
}

static void
fx_start(struct fx *fx, const struct http_config *cfg)
{
	const char *addr;

	memset(fx, 0, sizeof(*fx));
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->srv = http_server_new(fx->base, cfg, echo_handler, fx);
	assert_int_equal(http_server_listen(fx->srv, "127.0.0.1:0"), 0);
	addr = http_server_address(fx->srv);
	assert_true(strncmp(addr, "127.0.0.1:", 10) == 0);
	fx->port = atoi(addr + 10);
	assert_true(fx->port > 0);
}

static void
fx_stop(struct fx *fx)
{
	if (fx->taken != NULL)
		bufferevent_free(fx->taken);
	http_server_free(fx->srv);
	event_base_free(fx->base);
}

static int
client_connect(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct client *
client_new(struct fx *fx)
{
	struct client *cl = xcalloc(1, sizeof(*cl));

	cl->fd = client_connect(fx->port);
	assert_true(cl->fd >= 0);
	return cl;
}

static void
client_free(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl);
}

static void
client_send(struct client *cl, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		data += n;
		len -= (size_t)n;
	}
}

static void
client_sends(struct client *cl, const char *s)
{
	client_send(cl, s, strlen(s));
}

/* Parse the i-th complete response in cl's buffer; false if none yet. */
static bool
client_resp(const struct client *cl, size_t i, struct resp *out)
{
	size_t off = 0;

	for (size_t k = 0;; k++) {
		const char *p = cl->buf + off;
		const char *end;
		const char *cl_hdr;
		size_t hl, bl = 0;
		char head[2048];

		if (off >= cl->len)
			return false;
		end = memmem(p, cl->len - off, "\r\n\r\n", 4);
		if (end == NULL)
			return false;
		hl = (size_t)(end - p) + 4;
		if (hl >= sizeof(head))
			return false;
		memcpy(head, p, hl);
		head[hl] = '\0';
		if ((cl_hdr = strcasestr(head, "\r\nContent-Length: ")) != NULL)
			bl = (size_t)strtoul(cl_hdr + 18, NULL, 10);
		if (off + hl + bl > cl->len)
			return false;
		if (k == i) {
			out->status = atoi(head + 9);
			memcpy(out->head, head, hl + 1);
			bl = bl < sizeof(out->body) - 1 ? bl
							: sizeof(out->body) - 1;
			memcpy(out->body, p + hl, bl);
			out->body[bl] = '\0';
			out->body_len = bl;
			return true;
		}
		off += hl + bl;
	}
}

/* Run the loop and read until done(cl) or WAIT_MS; false on timeout. */
static bool
pump(struct fx *fx, struct client *cl, bool (*done)(const struct client *),
    long max_ms)
{
	long deadline = now_ms() + max_ms;

	for (;;) {
		ssize_t n;

		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		if (cl != NULL && !cl->eof) {
			n = recv(cl->fd, cl->buf + cl->len,
			    sizeof(cl->buf) - cl->len - 1, MSG_DONTWAIT);
			if (n > 0)
				cl->len += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				cl->eof = true;
		}
		if (done != NULL && done(cl))
			return true;
		if (now_ms() > deadline)
			return false;
		usleep(1000);
	}
}

/* Run the loop until done(fx) or max_ms; false on timeout. */
static bool
pump_fx(struct fx *fx, bool (*done)(const struct fx *), long max_ms)
{
	long deadline = now_ms() + max_ms;

	while (!done(fx)) {
		if (now_ms() > deadline)
			return false;
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return true;
}

static bool
done_none_open(const struct fx *fx)
{
	return http_server_open(fx->srv) == 0;
}

static bool
done_eof(const struct client *cl)
{
	return cl->eof;
}

static bool
done_one(const struct client *cl)
{
	struct resp r;

	return client_resp(cl, 0, &r);
}

static bool
done_three(const struct client *cl)
{
	struct resp r;

	return client_resp(cl, 2, &r);
}

static void
test_server_keep_alive(void **state)
{
	struct fx fx;
	struct client *cl;
	struct resp r;

	(void)state;
	fx_start(&fx, NULL);
	cl = client_new(&fx);
	client_sends(cl, "GET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_one, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /a?b=c 0");
	assert_non_null(strstr(r.head, "\r\nX-Test: 1\r\n"));
	assert_non_null(strstr(r.head, "\r\nDate: "));
	assert_null(strstr(r.head, "Connection: close"));
	/* same connection, a POST with a body */
	client_sends(cl, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
			 "\r\nhello");
	cl->len = 0;
	assert_true(pump(&fx, cl, done_one, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_string_equal(r.body, "POST /p 5");
	assert_false(cl->eof);
	assert_int_equal(fx.handled, 2);
	assert_int_equal(http_server_open(fx.srv), 1);
	assert_int_equal(http_server_stats(fx.srv)->connections, 1);
	client_free(cl);
	fx_stop(&fx);
}

static void
test_server_pipelining_in_order(void **state)
{
	struct fx fx;
	struct client *cl;
	struct resp r;

	(void)state;
	fx_start(&fx, NULL);
	cl = client_new(&fx);
	client_sends(cl, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
			 "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
			 "\r\nab"
			 "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_three, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_string_equal(r.body, "GET /1 0");
	assert_true(client_resp(cl, 1, &r));
	assert_string_equal(r.body, "POST /2 2");
	assert_true(client_resp(cl, 2, &r));
	assert_string_equal(r.body, "GET /3 0");
	client_free(cl);
	fx_stop(&fx);
}

static void
test_server_dribble(void **state)
{
	const char *req = "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n";
	struct fx fx;
	struct client *cl;
	struct resp r;

	(void)state;
	fx_start(&fx, NULL);
	cl = client_new(&fx);
	for (size_t i = 0; req[i] != '\0'; i++) {
		client_send(cl, req + i, 1);
		pump(&fx, cl, NULL, 2);
	}
	assert_true(pump(&fx, cl, done_one, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_string_equal(r.body, "GET /slow 0");
	client_free(cl);
	fx_stop(&fx);
}

static void
test_server_connection_close(void **state)
{
	struct fx fx;
	struct client *cl;
	struct resp r;

	(void)state;
	fx_start(&fx, NULL);
	cl = client_new(&fx);
	client_sends(cl, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
			 "\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_eof, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
	assert_false(client_resp(cl, 1, &r));
	assert_int_equal(fx.handled, 1);
	/* HTTP/1.0 without keep-alive closes too */
	client_free(cl);
	cl = client_new(&fx);
	client_sends(cl, "GET /old HTTP/1.0\r\n\r\n");
	assert_true(pump(&fx, cl, done_eof, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_string_equal(r.body, "GET /old 0");
	client_free(cl);
	assert_true(pump_fx(&fx, done_none_open, WAIT_MS));
	fx_stop(&fx);
}

/* Send req on a new connection; expect status, then a close. */
static void
expect_refused(struct fx *fx, const char *req, size_t len, int status)
{
	struct client *cl = client_new(fx);
	struct resp r;

	client_send(cl, req, len);
	assert_true(pump(fx, cl, done_eof, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, status);
	assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
	client_free(cl);
}

static void
test_server_errors(void **state)
{
	struct fx fx;
	char *buf;

	(void)state;
	fx_start(&fx, NULL);
	expect_refused(&fx, "NONSENSE\r\n\r\n", 12, 400);
	expect_refused(&fx, "GET / HTTP/1.1\r\n\r\n", 18, 400);
	buf = many_headers(HTTP_HEADERS_MAX + 1);
	expect_refused(&fx, buf, strlen(buf), 431);
	free(buf);
	{
		const char *big = "POST /b HTTP/1.1\r\nHost: h\r\n"
				  "Content-Length: 2000000\r\n\r\n";

		expect_refused(&fx, big, strlen(big), 413);
	}
	{
		/* a 413 found while a chunked body streams in */
		size_t n = 1100 * 1024, len;

		buf = xmalloc(n + 256);
		len = (size_t)sprintf(buf,
		    "POST /c HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n"
		    "%zx\r\n",
		    n);
		memset(buf + len, 'a', n);
		len += n;
		memcpy(buf + len, "\r\n0\r\n\r\n", 7);
		len += 7;
		{
			struct client *cl = client_new(&fx);
			struct resp r;
			size_t off = 0;
			long deadline = now_ms() + WAIT_MS;

			/* write as much as the server takes; it stops reading
			 */
			while (off < len && !cl->eof && now_ms() < deadline) {
				ssize_t w = send(cl->fd, buf + off, len - off,
				    MSG_DONTWAIT | MSG_NOSIGNAL);

				if (w > 0)
					off += (size_t)w;
				pump(&fx, cl, NULL, 2);
			}
			assert_true(pump(&fx, cl, done_one, WAIT_MS));
			assert_true(client_resp(cl, 0, &r));
			assert_int_equal(r.status, 413);
			client_free(cl);
		}
		free(buf);
	}
	assert_int_equal(fx.handled, 0);
	assert_int_equal(http_server_stats(fx.srv)->parse_errors, 2);
	assert_int_equal(http_server_stats(fx.srv)->headers_large, 1);
	assert_int_equal(http_server_stats(fx.srv)->too_large, 2);
	fx_stop(&fx);
}

static void
test_server_head_and_500(void **state)
{
	struct fx fx;
	struct client *cl;
	struct resp r;

	(void)state;
	fx_start(&fx, NULL);
	cl = client_new(&fx);
	client_sends(cl, "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_eof, 300) == false);
	/* the head says 9 bytes but none follow */
	assert_non_null(strstr(cl->buf, "\r\nContent-Length: 9\r\n"));
	assert_non_null(memmem(cl->buf, cl->len, "\r\n\r\n", 4));
	assert_true((char *)memmem(cl->buf, cl->len, "\r\n\r\n", 4) + 4 ==
		    cl->buf + cl->len);
	cl->len = 0;
	client_sends(cl, "GET /nostatus HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_one, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 500);
	client_free(cl);
	fx_stop(&fx);
}

static void
test_server_timeouts(void **state)
{
	struct http_config cfg = {
	    .read_timeout_ms = 150, .idle_timeout_ms = 150};
	struct fx fx;
	struct client *cl;
	struct resp r;
	long t0;

	(void)state;
	fx_start(&fx, &cfg);
	/* a request that never completes: 408 */
	cl = client_new(&fx);
	client_sends(cl, "GET /partial HTTP/1.1\r\nHost: h\r\n");
	t0 = now_ms();
	assert_true(pump(&fx, cl, done_eof, WAIT_MS));
	assert_true(now_ms() - t0 >= 100);
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 408);
	client_free(cl);
	/* an idle keep-alive connection: closed without a word */
	cl = client_new(&fx);
	client_sends(cl, "GET /one HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_eof, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 200);
	assert_false(client_resp(cl, 1, &r));
	client_free(cl);
	/* a silent new connection: closed too */
	cl = client_new(&fx);
	assert_true(pump(&fx, cl, done_eof, WAIT_MS));
	assert_int_equal(cl->len, 0);
	client_free(cl);
	assert_int_equal(http_server_stats(fx.srv)->timeouts, 1);
	fx_stop(&fx);
}

static void
test_server_stop(void **state)
{
	struct fx fx;
	struct client *idle, *busy;
	struct resp r;

	(void)state;
	fx_start(&fx, NULL);
	idle = client_new(&fx);
	client_sends(idle, "GET /i HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, idle, done_one, WAIT_MS));
	busy = client_new(&fx);
	client_sends(busy, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 4"
			   "\r\n\r\nab");
	pump(&fx, busy, NULL, 30);
	assert_int_equal(http_server_open(fx.srv), 2);
	http_server_stop(fx.srv);
	/* the idle one is closed, the busy one finishes with a close */
	assert_true(pump(&fx, idle, done_eof, WAIT_MS));
	assert_true(client_connect(fx.port) < 0);
	client_sends(busy, "cd");
	assert_true(pump(&fx, busy, done_eof, WAIT_MS));
	assert_true(client_resp(busy, 0, &r));
	assert_string_equal(r.body, "POST /b 4");
	assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
	client_free(idle);
	client_free(busy);
	assert_true(pump_fx(&fx, done_none_open, WAIT_MS));
	fx_stop(&fx);
}

static void
test_server_upgrade_hook(void **state)
{
	const char *up = "GET /upgrade HTTP/1.1\r\nHost: h\r\n"
			 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
			 "EARLY";
	struct fx fx;
	struct client *cl;
	struct resp r;
	struct evbuffer *in;
	long deadline;

	(void)state;
	fx_start(&fx, NULL);
	cl = client_new(&fx);
	client_sends(cl, up);
	deadline = now_ms() + WAIT_MS;
	while (fx.taken == NULL && now_ms() < deadline)
		pump(&fx, cl, NULL, 2);
	assert_non_null(fx.taken);
	pump(&fx, cl, NULL, 20);
	/* the server wrote nothing and forgot the connection */
	assert_int_equal(cl->len, 0);
	assert_int_equal(http_server_open(fx.srv), 0);
	/* the new owner finds the early bytes and can answer */
	in = bufferevent_get_input(fx.taken);
	assert_int_equal(evbuffer_get_length(in), 5);
	assert_memory_equal(evbuffer_pullup(in, 5), "EARLY", 5);
	bufferevent_enable(fx.taken, EV_WRITE);
	bufferevent_write(
	    fx.taken, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 36);
	assert_true(pump(&fx, cl, done_one, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 101);
	client_free(cl);
	/* an upgrade nobody takes is answered and closed */
	cl = client_new(&fx);
	client_sends(cl, "GET /other HTTP/1.1\r\nHost: h\r\n"
			 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	assert_true(pump(&fx, cl, done_eof, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Connection: close"));
	client_free(cl);
	/* detach refuses a plain request */
	cl = client_new(&fx);
	client_sends(cl, "GET /upgrade HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(pump(&fx, cl, done_one, WAIT_MS));
	assert_true(client_resp(cl, 0, &r));
	assert_int_equal(r.status, 400);
	client_free(cl);
	assert_null(http_conn_detach(NULL));
	fx_stop(&fx);
}

static void
test_listen_addresses(void **state)
{
	struct event_base *base = event_base_new();
	static const char *const bad[] = {"", "8080", "127.0.0.1",
	    "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "host.invalid:80",
	    "[::1:80"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct http_server *s =
		    http_server_new(base, NULL, echo_handler, NULL);

		assert_int_equal(http_server_listen(s, bad[i]), -1);
		http_server_free(s);
	}
	{
		struct http_server *s =
		    http_server_new(base, NULL, echo_handler, NULL);

		assert_int_equal(http_server_listen(s, "localhost:0"), 0);
		assert_true(
		    strncmp(http_server_address(s), "127.0.0.1:", 10) == 0);
		http_server_free(s);
	}
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_whole),
	    cmocka_unit_test(test_reader_byte_at_a_time),
	    cmocka_unit_test(test_reader_random_splits),
	    cmocka_unit_test(test_reader_stops_after_each_request),
	    cmocka_unit_test(test_reader_keep_alive),
	    cmocka_unit_test(test_reader_limits),
	    cmocka_unit_test(test_reader_malformed),
	    cmocka_unit_test(test_reader_upgrade),
	    cmocka_unit_test(test_server_keep_alive),
	    cmocka_unit_test(test_server_pipelining_in_order),
	    cmocka_unit_test(test_server_dribble),
	    cmocka_unit_test(test_server_connection_close),
	    cmocka_unit_test(test_server_errors),
	    cmocka_unit_test(test_server_head_and_500),
	    cmocka_unit_test(test_server_timeouts),
	    cmocka_unit_test(test_server_stop),
	    cmocka_unit_test(test_server_upgrade_hook),
	    cmocka_unit_test(test_listen_addresses),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
