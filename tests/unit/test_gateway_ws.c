/*
 * Unit tests for gateway/ws.c without sockets.
 *
 * The handshake: RFC 6455's own Sec-WebSocket-Accept example, and
 * requests (parsed by http.c's reader) that are accepted or refused with
 * 400 (version, key, Upgrade, Connection, method, HTTP version).
 *
 * Framing, on a memory connection (ws_conn_new_memory) fed by a client
 * built in ws_client.h with RFC masking: a text message fed whole, one
 * byte at a time and fragmented (with a ping between the fragments); ping
 * answered by pong with the same payload; the close handshake from either
 * side; a message over 64 KiB (close 1009, whole and fragmented); invalid
 * frames (unmasked, RSV bit, fragmented ping, lone continuation, unknown
 * opcode, long control frame, invalid UTF-8) closed with 1002/1007 and
 * counted; a reply sent from inside the text handler; binary messages;
 * the output cap. Over TCP on 127.0.0.1: frames written straight to the
 * socket and, once it is full, through the bufferevent arrive whole and
 * in order; a send to a peer that is gone ends the connection.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "../../gateway/gateway.h"
#include "ws_client.h"

/* What the handlers saw. */
struct seen {
	char text[4][128];
	size_t ntext;
	size_t last_len;
	size_t nbinary;
	int closed;
	enum ws_end why;
	bool echo; /* answer each text with "re:" + text */
	struct ws_conn *ws;
};

static void
on_text(struct ws_conn *ws, const char *msg, size_t len, void *arg)
{
	struct seen *s = arg;

	s->last_len = len;
	if (s->ntext < 4) {
		snprintf(s->text[s->ntext], sizeof(s->text[0]), "%.*s",
		    (int)(len < 120 ? len : 120), msg);
	}
	s->ntext++;
	if (s->echo) {
		char buf[160];
		int n = snprintf(buf, sizeof(buf), "re:%.*s",
		    (int)(len < 120 ? len : 120), msg);

		assert_int_equal(ws_send_text(ws, buf, (size_t)n), 0);
	}
}

static void
on_binary(struct ws_conn *ws, size_t len, void *arg)
{
	struct seen *s = arg;

	(void)ws;
	s->last_len = len;
	s->nbinary++;
}

static void
on_closed(struct ws_conn *ws, enum ws_end why, void *arg)
{
	struct seen *s = arg;

	(void)ws;
	s->closed++;
	s->why = why;
}

static const struct ws_handlers handlers = {on_text, on_binary, on_closed};

struct fx {
	struct seen seen;
	struct ws_stats st;
	struct ws_conn *ws;
	uint8_t out[200000];
	size_t outlen;
};

static void
fx_open(struct fx *fx, size_t message_max, size_t output_max)
{
	struct ws_limits lim = {message_max, output_max, 0, 0};

	memset(fx, 0, sizeof(*fx));
	fx->ws = ws_conn_new_memory(&lim, &handlers, &fx->seen, &fx->st);
	fx->seen.ws = fx->ws;
}

/* Move what the server wrote into fx->out. */
static void
fx_drain(struct fx *fx)
{
	struct evbuffer *o = ws_conn_output(fx->ws);
	size_t n = evbuffer_get_length(o);

	assert_true(fx->outlen + n <= sizeof(fx->out));
	evbuffer_remove(o, fx->out + fx->outlen, n);
	fx->outlen += n;
}

/* Parse the next server frame from fx->out into f (consumes it). */
static void
fx_next(struct fx *fx, struct wsc_frame *f, uint8_t *copy, size_t copycap)
{
	size_t n;

	fx_drain(fx);
	n = wsc_parse(fx->out, fx->outlen, f);
	assert_true(n > 0);
	assert_false(f->masked); /* servers never mask */
	assert_true(f->len <= copycap);
	memcpy(copy, f->payload, f->len);
	f->payload = copy;
	memmove(fx->out, fx->out + n, fx->outlen - n);
	fx->outlen -= n;
}

static void
fx_feed_bytes(struct fx *fx, const uint8_t *buf, size_t len, bool one)
{
	if (!one) {
		(void)ws_conn_feed(fx->ws, buf, len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		(void)ws_conn_feed(fx->ws, buf + i, 1);
}

/* ---- handshake -------------------------------------------------------- */

static int
handshake(const char *raw, char accept[WS_ACCEPT_LEN + 1])
{
	struct http_reader *r = http_reader_new(0);
	struct http_request *req;
	size_t used = 0;
	int st;

	assert_int_equal(
	    http_reader_feed(r, raw, strlen(raw), &used), HTTP_READ_REQUEST);
	req = http_reader_take(r);
	st = ws_handshake(req, accept);
	http_request_free(req);
	http_reader_free(r);
	return st;
}

#define HS_HEAD	 "GET /twilio/media HTTP/1.1\r\nHost: gw\r\n"
#define HS_UP	 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define HS_VER	 "Sec-WebSocket-Version: 13\r\n"
#define HS_KEY	 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define HS_VALID "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void
test_accept_key(void **state)
{
	char a[WS_ACCEPT_LEN + 1];

	(void)state;
	/* RFC 6455 section 1.3 */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", a);
	assert_string_equal(a, HS_VALID);
}

static void
test_handshake(void **state)
{
	char a[WS_ACCEPT_LEN + 1];

	(void)state;
	assert_int_equal(handshake(HS_HEAD HS_UP HS_VER HS_KEY "\r\n", a), 0);
	assert_string_equal(a, HS_VALID);
	/* Twilio's capture: extra headers, other case, token lists */
	assert_int_equal(
	    handshake(HS_HEAD "Upgrade: WebSocket\r\nConnection: keep-alive, "
			      "upgrade\r\nUser-Agent: Twilio.TmeWs/1.0\r\n"
			      "X-Twilio-Signature: x\r\nAccept-Encoding: "
			      "gzip\r\n" HS_VER HS_KEY "\r\n",
		a),
	    0);
	assert_string_equal(a, HS_VALID);
	/* refusals */
	assert_int_equal(
	    handshake(
		HS_HEAD HS_UP "Sec-WebSocket-Version: 8\r\n" HS_KEY "\r\n", a),
	    400);
	assert_string_equal(a, "");
	assert_int_equal(handshake(HS_HEAD HS_UP HS_KEY "\r\n", a), 400);
	assert_int_equal(handshake(HS_HEAD HS_UP HS_VER "\r\n", a), 400);
	assert_int_equal(
	    handshake(
		HS_HEAD HS_UP HS_VER "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n", a),
	    400);
	assert_int_equal(
	    handshake(HS_HEAD HS_UP HS_VER
		"Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!\r\n\r\n",
		a),
	    400);
	assert_int_equal(
	    handshake(HS_HEAD
		"Upgrade: h2c\r\nConnection: Upgrade\r\n" HS_VER HS_KEY "\r\n",
		a),
	    400);
	assert_int_equal(
	    handshake("POST /twilio/media HTTP/1.1\r\nHost: "
		      "gw\r\nContent-Length: 0\r\n" HS_UP HS_VER HS_KEY "\r\n",
		a),
	    400);
	assert_int_equal(
	    handshake(
		"GET /twilio/media HTTP/1.0\r\n" HS_UP HS_VER HS_KEY "\r\n", a),
	    400);
}

/* ---- framing ---------------------------------------------------------- */

static void
check_text_whole_and_dribbled(bool one)
{
	struct fx fx;
	uint8_t buf[256];
	size_t n = wsc_frame(buf, sizeof(buf), true, WSC_TEXT, "hello", 5);

	fx_open(&fx, 0, 0);
	fx_feed_bytes(&fx, buf, n, one);
	assert_int_equal(fx.seen.ntext, 1);
	assert_string_equal(fx.seen.text[0], "hello");
	/* two messages in one write */
	n = wsc_frame(buf, sizeof(buf), true, WSC_TEXT, "a", 1);
	n += wsc_frame(
	    buf + n, sizeof(buf) - n, true, WSC_TEXT, "שלום", strlen("שלום"));
	fx_feed_bytes(&fx, buf, n, one);
	assert_int_equal(fx.seen.ntext, 3);
	assert_string_equal(fx.seen.text[2], "שלום");
	assert_int_equal(fx.seen.closed, 0);
	ws_conn_free(fx.ws);
}

static void
test_text(void **state)
{
	(void)state;
	check_text_whole_and_dribbled(false);
	check_text_whole_and_dribbled(true);
}

static void
test_fragmented(void **state)
{
	struct fx fx;
	uint8_t buf[512], copy[256];
	struct wsc_frame f;
	size_t n = 0;

	(void)state;
	fx_open(&fx, 0, 0);
	n += wsc_frame(buf + n, sizeof(buf) - n, false, WSC_TEXT, "hel", 3);
	n += wsc_frame(buf + n, sizeof(buf) - n, false, WSC_CONT, "lo ", 3);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_PING, "p1", 2);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_CONT, "world", 5);
	fx_feed_bytes(&fx, buf, n, true);
	assert_int_equal(fx.seen.ntext, 1);
	assert_string_equal(fx.seen.text[0], "hello world");
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_PONG);
	assert_true(f.fin);
	assert_int_equal(f.len, 2);
	assert_memory_equal(f.payload, "p1", 2);
	assert_int_equal(fx.st.pings, 1);
	ws_conn_free(fx.ws);
}

static void
test_ping_pong(void **state)
{
	struct fx fx;
	uint8_t buf[256], copy[256], payload[125];
	struct wsc_frame f;
	size_t n;

	(void)state;
	memset(payload, 'x', sizeof(payload));
	fx_open(&fx, 0, 0);
	n = wsc_frame(buf, sizeof(buf), true, WSC_PING, payload, 125);
	fx_feed_bytes(&fx, buf, n, true);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_PONG);
	assert_int_equal(f.len, 125);
	assert_memory_equal(f.payload, payload, 125);
	/* an empty ping; an unsolicited pong is ignored */
	n = wsc_frame(buf, sizeof(buf), true, WSC_PING, "", 0);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_PONG, "zz", 2);
	fx_feed_bytes(&fx, buf, n, false);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_PONG);
	assert_int_equal(f.len, 0);
	fx_drain(&fx);
	assert_int_equal(fx.outlen, 0);
	assert_int_equal(fx.st.pings, 2);
	assert_int_equal(fx.seen.closed, 0);
	ws_conn_free(fx.ws);
}

static void
test_close_by_client(void **state)
{
	struct fx fx;
	uint8_t buf[64], copy[256];
	const uint8_t code[] = {0x03, 0xE8, 'b', 'y', 'e'}; /* 1000 */
	struct wsc_frame f;
	size_t n;

	(void)state;
	fx_open(&fx, 0, 0);
	n = wsc_frame(buf, sizeof(buf), true, WSC_CLOSE, code, sizeof(code));
	fx_feed_bytes(&fx, buf, n, true);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_CLOSE);
	assert_int_equal(wsc_close_code(&f), 1000);
	assert_int_equal(fx.seen.closed, 1);
	assert_int_equal(fx.seen.why, WS_END_CLOSED);
	/* nothing more is taken or sent */
	n = wsc_frame(buf, sizeof(buf), true, WSC_TEXT, "late", 4);
	assert_int_equal(ws_conn_feed(fx.ws, buf, n), -1);
	assert_int_equal(ws_send_text(fx.ws, "x", 1), -1);
	assert_false(ws_is_open(fx.ws));
	assert_int_equal(fx.seen.ntext, 0);
	assert_int_equal(fx.st.protocol_errors, 0);
	ws_conn_free(fx.ws);
}

static void
test_close_by_server(void **state)
{
	struct fx fx;
	uint8_t buf[64], copy[256];
	const uint8_t code[] = {0x03, 0xE8};
	struct wsc_frame f;
	size_t n;

	(void)state;
	fx_open(&fx, 0, 0);
	assert_int_equal(ws_close(fx.ws, 1000, "stream stopped"), 0);
	assert_int_equal(ws_close(fx.ws, 1000, "again"), 0);
	assert_int_equal(ws_send_text(fx.ws, "x", 1), -1);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_CLOSE);
	assert_int_equal(wsc_close_code(&f), 1000);
	assert_memory_equal(f.payload + 2, "stream stopped", 14);
	assert_int_equal(fx.seen.closed, 0); /* waits for the answer */
	/* a text still in flight from the client is not delivered */
	n = wsc_frame(buf, sizeof(buf), true, WSC_TEXT, "late", 4);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_CLOSE, code, 2);
	fx_feed_bytes(&fx, buf, n, false);
	assert_int_equal(fx.seen.ntext, 0);
	assert_int_equal(fx.seen.closed, 1);
	assert_int_equal(fx.seen.why, WS_END_CLOSED);
	ws_conn_free(fx.ws);
}

/* Feed buf and expect a close with code and WS_END_PROTOCOL. */
static void
expect_protocol_close(const uint8_t *buf, size_t n, unsigned int code)
{
	struct fx fx;
	uint8_t copy[256];
	struct wsc_frame f;

	fx_open(&fx, 0, 0);
	fx_feed_bytes(&fx, buf, n, false);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_CLOSE);
	/* wslay closes some broken frames without a code (1005) */
	if (wsc_close_code(&f) != 1005)
		assert_int_equal(wsc_close_code(&f), code);
	assert_int_equal(fx.seen.closed, 1);
	assert_int_equal(fx.seen.why, WS_END_PROTOCOL);
	assert_int_equal(fx.st.protocol_errors, 1);
	assert_int_equal(fx.seen.ntext, 0);
	ws_conn_free(fx.ws);
}

static void
test_invalid_frames(void **state)
{
	uint8_t buf[512], big[200];
	const uint8_t bad_utf8[] = {'a', 0xC3, 0x28};
	size_t n;

	(void)state;
	memset(big, 'b', sizeof(big));
	/* unmasked client frame */
	n = wsc_frame_ex(
	    buf, sizeof(buf), true, 0, WSC_TEXT, "hi", 2, false, 1);
	expect_protocol_close(buf, n, 1002);
	/* RSV1 (permessage-deflate was never negotiated) */
	n = wsc_frame_ex(buf, sizeof(buf), true, 4, WSC_TEXT, "hi", 2, true, 1);
	expect_protocol_close(buf, n, 1002);
	/* fragmented control frame (Twilio's 31924 the other way) */
	n = wsc_frame(buf, sizeof(buf), false, WSC_PING, "p", 1);
	expect_protocol_close(buf, n, 1002);
	/* continuation without a message */
	n = wsc_frame(buf, sizeof(buf), true, WSC_CONT, "x", 1);
	expect_protocol_close(buf, n, 1002);
	/* reserved opcode */
	n = wsc_frame(buf, sizeof(buf), true, 0x3, "x", 1);
	expect_protocol_close(buf, n, 1002);
	/* control frame over 125 bytes */
	n = wsc_frame(buf, sizeof(buf), true, WSC_PING, big, 126);
	expect_protocol_close(buf, n, 1002);
	/* a new message in the middle of a fragmented one */
	n = wsc_frame(buf, sizeof(buf), false, WSC_TEXT, "a", 1);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_TEXT, "b", 1);
	expect_protocol_close(buf, n, 1002);
	/* invalid UTF-8 in a text message */
	n = wsc_frame(buf, sizeof(buf), true, WSC_TEXT, bad_utf8, 3);
	expect_protocol_close(buf, n, 1007);
}

/*
 * Frames the gateway reads without wslay must still be refused as wslay
 * refuses them: a length not in shortest form, and a whole text frame
 * while a fragmented message is open.
 */
static void
test_fast_read_refusals(void **state)
{
	uint8_t buf[64] = {0x81, 0x80 | 126, 0x00, 0x02, 0, 0, 0, 0, 'h', 'i'};
	size_t n;

	(void)state;
	expect_protocol_close(buf, 10, 1002);
	n = wsc_frame(buf, sizeof(buf), false, WSC_TEXT, "ab", 2);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_TEXT, "cd", 2);
	expect_protocol_close(buf, n, 1002);
}

static void
test_oversize(void **state)
{
	size_t len = WS_MESSAGE_MAX + 1, n;
	uint8_t *payload = malloc(len);
	uint8_t *buf = malloc(len + 64);
	size_t half = len / 2;

	(void)state;
	assert_non_null(payload);
	assert_non_null(buf);
	memset(payload, 'm', len);
	n = wsc_frame(buf, len + 64, true, WSC_TEXT, payload, len);
	expect_protocol_close(buf, n, 1009);
	/* the same split in two fragments */
	n = wsc_frame(buf, len + 64, false, WSC_TEXT, payload, half);
	n += wsc_frame(
	    buf + n, len + 64 - n, true, WSC_CONT, payload, len - half);
	expect_protocol_close(buf, n, 1009);
	free(payload);
	free(buf);
}

static void
test_max_size_accepted(void **state)
{
	struct fx fx;
	size_t len = WS_MESSAGE_MAX, n;
	uint8_t *payload = malloc(len);
	uint8_t *buf = malloc(len + 64);

	(void)state;
	assert_non_null(payload);
	assert_non_null(buf);
	memset(payload, 'm', len);
	fx_open(&fx, 0, 0);
	n = wsc_frame(buf, len + 64, true, WSC_TEXT, payload, len);
	fx_feed_bytes(&fx, buf, n, false);
	assert_int_equal(fx.seen.ntext, 1);
	assert_int_equal(fx.seen.last_len, len);
	assert_int_equal(fx.seen.closed, 0);
	ws_conn_free(fx.ws);
	free(payload);
	free(buf);
}

static void
test_reply_from_handler(void **state)
{
	struct fx fx;
	uint8_t buf[256], copy[256];
	struct wsc_frame f;
	size_t n;

	(void)state;
	fx_open(&fx, 0, 0);
	fx.seen.echo = true;
	n = wsc_frame(buf, sizeof(buf), true, WSC_TEXT, "one", 3);
	n += wsc_frame(buf + n, sizeof(buf) - n, true, WSC_TEXT, "two", 3);
	fx_feed_bytes(&fx, buf, n, false);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.opcode, WSC_TEXT);
	assert_memory_equal(f.payload, "re:one", 6);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_memory_equal(f.payload, "re:two", 6);
	/* a large outbound message uses the 16-bit length */
	memset(buf, 'q', 200);
	assert_int_equal(ws_send_text(fx.ws, (const char *)buf, 200), 0);
	fx_next(&fx, &f, copy, sizeof(copy));
	assert_int_equal(f.len, 200);
	ws_conn_free(fx.ws);
}

static void
test_binary(void **state)
{
	struct fx fx;
	uint8_t buf[64];
	size_t n;

	(void)state;
	fx_open(&fx, 0, 0);
	n = wsc_frame(buf, sizeof(buf), true, WSC_BIN, "\x00\x01\x02", 3);
	fx_feed_bytes(&fx, buf, n, true);
	assert_int_equal(fx.seen.nbinary, 1);
	assert_int_equal(fx.seen.last_len, 3);
	assert_int_equal(fx.seen.closed, 0);
	ws_conn_free(fx.ws);
}

static void
test_output_cap(void **state)
{
	struct fx fx;
	char big[3000];

	(void)state;
	memset(big, 'o', sizeof(big));
	fx_open(&fx, 0, 4096);
	assert_int_equal(ws_send_text(fx.ws, big, 2000), 0);
	assert_int_equal(ws_output_len(fx.ws), 2004);
	assert_int_equal(ws_send_text(fx.ws, big, sizeof(big)), -1);
	assert_int_equal(fx.seen.closed, 1);
	assert_int_equal(fx.seen.why, WS_END_OVERFLOW);
	assert_int_equal(fx.st.overflows, 1);
	assert_int_equal(ws_send_text(fx.ws, "x", 1), -1);
	assert_string_equal(ws_end_name(WS_END_OVERFLOW), "overflow");
	ws_conn_free(fx.ws);
}

/* ---- over a real socket: direct writes and the backlog --------------- */

/* Read what is readable on fd (non-blocking) into buf; return the total. */
static size_t
sock_read(int fd, uint8_t *buf, size_t cap, size_t have)
{
	for (int i = 0; i < 1000 && have < cap; i++) {
		ssize_t n = read(fd, buf + have, cap - have);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	return have;
}

/* Connect sv[1] to sv[0] over TCP on 127.0.0.1 (partial writes happen). */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), small = 4096;

	assert_true(l >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv[1] >= 0);
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
	sv[0] = accept(l, NULL, NULL);
	assert_true(sv[0] >= 0);
	close(l);
}

/*
 * 300 messages of 330 bytes (as a media message) and some of 20,000 (so
 * the socket takes part of one) sent while the peer does not read and the
 * socket's buffer is small: the first go straight to the
 * socket, the rest wait in the bufferevent; the peer then gets the 101
 * and every frame, whole and in order, and a later message once the
 * backlog is gone. Sent after the peer is gone, the connection ends.
 */
static void
test_socket_order(void **state)
{
	enum { N = 300, LEN = 330, BIG = 20000 };
	static uint8_t got[N * (BIG + 4) + 4096];
	static char msg[BIG + 1];
	struct event_base *base = event_base_new();
	struct bufferevent *bev;
	struct ws_limits lim = {0, 16u << 20, 0, 0};
	struct seen seen;
	struct ws_stats st;
	struct ws_conn *ws;
	int sv[2], small = 4096;
	size_t have = 0, pos;
	const uint8_t *hend;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	memset(&st, 0, sizeof(st));
	assert_non_null(base);
	tcp_pair(sv);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[1]), 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	ws = ws_conn_new(
	    bev, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &lim, &handlers, &seen, &st);
	/* The 101 is on its way through the bufferevent: let it go first. */
	for (int i = 0; i < 50 && ws_output_len(ws) > 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(ws_output_len(ws), 0);
	for (int i = 0; i < N; i++) {
		size_t len = i % 7 == 3 ? BIG : LEN;

		memset(msg, 'a' + i % 26, len);
		snprintf(msg, sizeof(msg), "m%04d", i);
		msg[5] = '-';
		assert_int_equal(ws_send_text(ws, msg, len), 0);
	}
	assert_true(ws_output_len(ws) > 0); /* the socket took only some */
	for (int i = 0; i < 2000 && have < sizeof(got); i++) {
		size_t before = have;

		have = sock_read(sv[1], got, sizeof(got), have);
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (have == before && ws_output_len(ws) == 0)
			break;
	}
	assert_int_equal(ws_output_len(ws), 0);
	hend = memmem(got, have, "\r\n\r\n", 4);
	assert_non_null(hend);
	assert_memory_equal(got, "HTTP/1.1 101 ", 13);
	pos = (size_t)(hend + 4 - got);
	for (int i = 0; i < N; i++) {
		struct wsc_frame f;
		size_t n = wsc_parse(got + pos, have - pos, &f);
		char want[16];

		assert_true(n > 0);
		assert_true(f.fin);
		assert_int_equal(f.opcode, 1);
		assert_false(f.masked);
		assert_int_equal(f.len, i % 7 == 3 ? BIG : LEN);
		snprintf(want, sizeof(want), "m%04d", i);
		assert_memory_equal(f.payload, want, 5);
		assert_int_equal(f.payload[f.len - 1], 'a' + i % 26);
		pos += n;
	}
	assert_int_equal(pos, have);
	/* Nothing waits now: one more goes straight out. */
	assert_int_equal(ws_send_text(ws, "tail", 4), 0);
	assert_int_equal(ws_output_len(ws), 0);
	have = sock_read(sv[1], got, sizeof(got), 0);
	assert_int_equal(have, 6);
	assert_memory_equal(got, "\x81\x04tail", 6);
	/* The peer goes: a send fails at the socket and the connection ends. */
	close(sv[1]);
	for (int i = 0; i < 200 && seen.closed == 0; i++) {
		(void)ws_send_text(ws, "x", 1);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(seen.closed, 1);
	ws_conn_free(ws);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_key),
	    cmocka_unit_test(test_handshake),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_fragmented),
	    cmocka_unit_test(test_ping_pong),
	    cmocka_unit_test(test_close_by_client),
	    cmocka_unit_test(test_close_by_server),
	    cmocka_unit_test(test_invalid_frames),
	    cmocka_unit_test(test_fast_read_refusals),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_max_size_accepted),
	    cmocka_unit_test(test_reply_from_handler),
	    cmocka_unit_test(test_binary),
	    cmocka_unit_test(test_output_cap),
	    cmocka_unit_test(test_socket_order),
	};

	(void)signal(SIGPIPE, SIG_IGN); /* as the daemons do */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
