/*
 * WebSocket (RFC 6455) for Twilio Media Streams: the upgrade handshake and
 * wslay's framing on a bufferevent's evbuffers.
 *
 * Why wslay: Debian 12's libevent (2.1) has no WebSocket server, and a
 * proven framing library beats hand-written masking, fragmentation and
 * UTF-8 checks. This is the only file that includes <wslay/wslay.h> (R14).
 *
 * Handshake (ws_handshake, pure): GET, HTTP/1.1, "Upgrade: websocket",
 * "Connection: Upgrade", Sec-WebSocket-Version 13 and a Sec-WebSocket-Key
 * that is base64 of 16 bytes, else 400 (Twilio reports anything but 101 as
 * error 31920, so the log line, not the status, is what helps). The
 * Sec-WebSocket-Accept value is base64(SHA-1(key + RFC 6455's GUID)) with
 * OpenSSL. No subprotocol or extension is negotiated (Twilio offers none;
 * permessage-deflate is refused by not answering it, and RSV bits are
 * protocol errors).
 *
 * A connection (struct ws_conn) runs wslay's event API as a server: its
 * receive callback reads the input evbuffer, its send callback appends to
 * the output evbuffer; the bufferevent moves the bytes. wslay answers
 * pings with pongs, reassembles fragmented messages, insists on masked
 * client frames and unfragmented control frames, checks UTF-8 in text
 * messages and answers a close with a close. A message over message_max
 * (WS_MESSAGE_MAX) is answered with close 1009. A connection is "memory"
 * when it has no socket: ws_conn_feed gives it bytes and ws_conn_output
 * holds what it sends, for unit tests and the ws_frames fuzz target.
 *
 * Backpressure: a peer that stops reading must not make the gateway hold
 * its output without bound. When the output buffer exceeds output_max
 * the connection is dropped at once (WS_END_OVERFLOW); a peer that takes
 * no output byte for write_timeout_ms is dropped too (WS_END_TIMEOUT).
 *
 * Lifetime (R8): ws.c never frees a connection. When a connection is over
 * (close handshake done and flushed, peer gone, protocol error, overflow,
 * timeout) it stops its events and calls handlers->closed exactly once;
 * the owner frees it later with ws_conn_free, from a zero-delay event,
 * never from inside a handler. Sends made while wslay is inside its own
 * receive loop are queued and flushed when the loop returns.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "base64.h"
#include "gateway.h"
#include "log.h"
#include "xmalloc.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct ws_conn {
	wslay_event_context_ptr ctx;
	struct bufferevent *bev; /* NULL for a memory connection */
	struct evbuffer *in;	 /* the bufferevent's, or owned */
	struct evbuffer *out;
	struct event *timer; /* close handshake timeout */
	struct event *kick;  /* bytes that arrived with the upgrade */
	const struct ws_handlers *h;
	void *arg;
	struct ws_stats *st;
	struct ws_limits lim;
	bool in_recv;  /* inside wslay_event_recv: sends are queued */
	bool closing;  /* we queued a close */
	bool draining; /* conversation over; output being flushed */
	bool done;     /* closed() called */
	bool failed;   /* wslay_event_recv refused the peer's bytes */
};

static const char *const ws_end_names[] = {
    "closed", "eof", "protocol", "overflow", "timeout", "error"};

/* Return a short name of why ("overflow"). */
const char *
ws_end_name(enum ws_end why)
{
	if ((size_t)why < sizeof(ws_end_names) / sizeof(*ws_end_names))
		return ws_end_names[why];
	return "?";
}

/* ---- handshake -------------------------------------------------------- */

/* Compute Sec-WebSocket-Accept for the (trimmed) key into out. */
void
ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *buf = xasprintf("%s%s", key, WS_GUID);

	if (EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    base64_encode(md, mdlen, out, WS_ACCEPT_LEN + 1) < 0)
		fatalx("ws: cannot compute Sec-WebSocket-Accept");
	free(buf);
}

/* Copy s without surrounding blanks into out (size bytes); -1: too long. */
static int
ws_trim(const char *s, char *out, size_t size)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= size)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* Return true when the comma-separated list holds token (any case). */
static bool
ws_has_token(const char *list, const char *token)
{
	size_t tlen = strlen(token);

	while (list != NULL && *list != '\0') {
		const char *end = strchr(list, ',');
		size_t len = end != NULL ? (size_t)(end - list) : strlen(list);
		const char *p = list;

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == tlen && strncasecmp(p, token, tlen) == 0)
			return true;
		list = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/*
 * Check that req is a WebSocket upgrade we accept and store its
 * Sec-WebSocket-Accept value in accept. Return 0, or the HTTP status to
 * answer (400; add "Sec-WebSocket-Version: 13" to it).
 */
int
ws_handshake(const struct http_request *req, char accept[WS_ACCEPT_LEN + 1])
{
	const char *up = http_request_header(req, "Upgrade");
	const char *conn = http_request_header(req, "Connection");
	const char *ver = http_request_header(req, "Sec-WebSocket-Version");
	const char *key = http_request_header(req, "Sec-WebSocket-Key");
	char v[8], k[64];
	uint8_t raw[48];
	size_t rawlen = 0;

	accept[0] = '\0';
	if (strcmp(req->method, "GET") != 0 || req->version_major != 1 ||
	    req->version_minor < 1)
		return 400;
	if (up == NULL || !ws_has_token(up, "websocket") || conn == NULL ||
	    !ws_has_token(conn, "upgrade"))
		return 400;
	if (ver == NULL || ws_trim(ver, v, sizeof(v)) < 0 ||
	    strcmp(v, "13") != 0)
		return 400;
	if (key == NULL || ws_trim(key, k, sizeof(k)) < 0 || strlen(k) != 24 ||
	    base64_decode(k, 24, raw, sizeof(raw), &rawlen) < 0 || rawlen != 16)
		return 400;
	ws_accept_key(k, accept);
	return 0;
}

/* ---- the connection --------------------------------------------------- */

static void ws_flush(struct ws_conn *ws);

/* End the connection: stop its events and tell the owner, once. */
static void
ws_finish(struct ws_conn *ws, enum ws_end why)
{
	if (ws->done)
		return;
	ws->done = true;
	if (ws->bev != NULL)
		bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	if (ws->timer != NULL)
		evtimer_del(ws->timer);
	if (ws->kick != NULL)
		event_del(ws->kick);
	switch (why) {
	case WS_END_PROTOCOL:
		ws->st->protocol_errors++;
		break;
	case WS_END_OVERFLOW:
		ws->st->overflows++;
		break;
	case WS_END_TIMEOUT:
		ws->st->timeouts++;
		break;
	default:
		break;
	}
	if (ws->h->closed != NULL)
		ws->h->closed(ws, why, ws->arg);
}

/* Why a conversation that wslay says is over ended. */
static enum ws_end
ws_end_reason(struct ws_conn *ws)
{
	uint16_t sent;

	if (ws->failed)
		return WS_END_PROTOCOL;
	if (wslay_event_get_close_received(ws->ctx))
		return WS_END_CLOSED;
	sent = wslay_event_get_status_code_sent(ws->ctx);
	if (!ws->closing && (sent == WSLAY_CODE_PROTOCOL_ERROR ||
				sent == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA ||
				sent == WSLAY_CODE_MESSAGE_TOO_BIG ||
				sent == WSLAY_CODE_UNSUPPORTED_DATA))
		return WS_END_PROTOCOL;
	return WS_END_CLOSED;
}

/* Finish once wslay neither reads nor writes and the output is gone. */
static void
ws_check_over(struct ws_conn *ws)
{
	if (ws->done || wslay_event_want_read(ws->ctx) ||
	    wslay_event_want_write(ws->ctx))
		return;
	if (ws->bev == NULL || evbuffer_get_length(ws->out) == 0) {
		ws_finish(ws, ws_end_reason(ws));
		return;
	}
	if (!ws->draining) {
		ws->draining = true;
		bufferevent_disable(ws->bev, EV_READ);
	}
}

/* Move what wslay has queued to the output buffer and check the cap. */
static void
ws_flush(struct ws_conn *ws)
{
	if (ws->done || ws->in_recv)
		return;
	if (wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0) {
		ws_finish(ws, WS_END_ERROR);
		return;
	}
	if (evbuffer_get_length(ws->out) > ws->lim.output_max) {
		ws_finish(ws, WS_END_OVERFLOW);
		return;
	}
	ws_check_over(ws);
}

/* Run wslay over what is in the input buffer, then flush. */
static void
ws_process(struct ws_conn *ws)
{
	int r;

	if (ws->done || ws->draining)
		return;
	ws->in_recv = true;
	r = wslay_event_recv(ws->ctx);
	ws->in_recv = false;
	if (ws->done)
		return;
	if (r == WSLAY_ERR_NOMEM) {
		ws_finish(ws, WS_END_ERROR);
		return;
	}
	/*
	 * wslay 1.1 returns WSLAY_ERR_CALLBACK_FAILURE for some broken
	 * frames (a fragmented ping) after queueing a close without a code;
	 * it reads nothing more. Send that close, then end.
	 */
	if (r != 0)
		ws->failed = true;
	ws_flush(ws);
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct ws_conn *ws = user;
	int n;

	(void)flags;
	n = evbuffer_remove(ws->in, buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws_conn *ws = user;

	(void)flags;
	if (evbuffer_add(ws->out, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct ws_conn *ws = user;

	(void)ctx;
	if (ws->done)
		return;
	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
		if (ws->h->text != NULL && !ws->closing)
			ws->h->text(
			    ws, (const char *)m->msg, m->msg_length, ws->arg);
		break;
	case WSLAY_BINARY_FRAME:
		if (ws->h->binary != NULL && !ws->closing)
			ws->h->binary(ws, m->msg_length, ws->arg);
		break;
	case WSLAY_PING:
		ws->st->pings++; /* wslay has queued the pong */
		break;
	default:
		break;
	}
}

static void
ws_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ws_process(arg);
}

static void
ws_write_cb(struct bufferevent *bev, void *arg)
{
	struct ws_conn *ws = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ws_check_over(ws);
}

static void
ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ws_conn *ws = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		ws_finish(ws, WS_END_TIMEOUT);
	else if (what & BEV_EVENT_ERROR)
		ws_finish(ws, WS_END_ERROR);
	else if (ws->closing || ws->draining ||
		 wslay_event_get_close_received(ws->ctx))
		ws_finish(ws, WS_END_CLOSED);
	else
		ws_finish(ws, WS_END_EOF);
}

static void
ws_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ws_finish(arg, WS_END_TIMEOUT);
}

static void
ws_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ws_process(arg);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

static struct ws_conn *
ws_conn_alloc(const struct ws_limits *lim, const struct ws_handlers *h,
    void *arg, struct ws_stats *st)
{
	struct ws_conn *ws = xcalloc(1, sizeof(*ws));

	if (lim != NULL)
		ws->lim = *lim;
	if (ws->lim.message_max == 0)
		ws->lim.message_max = WS_MESSAGE_MAX;
	if (ws->lim.output_max == 0)
		ws->lim.output_max = WS_OUTPUT_MAX_DEFAULT;
	if (ws->lim.close_timeout_ms <= 0)
		ws->lim.close_timeout_ms = WS_CLOSE_TIMEOUT_MS;
	if (ws->lim.write_timeout_ms <= 0)
		ws->lim.write_timeout_ms = WS_WRITE_TIMEOUT_MS;
	ws->h = h;
	ws->arg = arg;
	ws->st = st;
	if (wslay_event_context_server_init(&ws->ctx, &ws_callbacks, ws) != 0)
		fatalx("ws: out of memory for a WebSocket context");
	wslay_event_config_set_max_recv_msg_length(
	    ws->ctx, ws->lim.message_max);
	return ws;
}

/*
 * Take over bev (from http_conn_detach) for a WebSocket whose handshake
 * ws_handshake accepted with accept: answer 101 and start reading, bytes
 * already in the input buffer included (processed from a zero-delay event,
 * not from inside this call). Events go to h with arg; counters to st.
 * Return the connection (never NULL); the caller frees it with
 * ws_conn_free once h->closed has been called, or at shutdown.
 */
struct ws_conn *
ws_conn_new(struct bufferevent *bev, const char *accept,
    const struct ws_limits *lim, const struct ws_handlers *h, void *arg,
    struct ws_stats *st)
{
	struct ws_conn *ws = ws_conn_alloc(lim, h, arg, st);
	struct event_base *base = bufferevent_get_base(bev);
	struct timeval wtv;

	ws->bev = bev;
	ws->in = bufferevent_get_input(bev);
	ws->out = bufferevent_get_output(bev);
	ws->timer = evtimer_new(base, ws_timer_cb, ws);
	ws->kick = event_new(base, -1, 0, ws_kick_cb, ws);
	if (ws->timer == NULL || ws->kick == NULL)
		fatalx("ws: out of memory for connection events");
	evbuffer_add_printf(ws->out,
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n",
	    accept);
	wtv.tv_sec = ws->lim.write_timeout_ms / 1000;
	wtv.tv_usec = (suseconds_t)(ws->lim.write_timeout_ms % 1000) * 1000;
	bufferevent_setcb(bev, ws_read_cb, ws_write_cb, ws_event_cb, ws);
	bufferevent_set_timeouts(bev, NULL, &wtv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(ws->in) > 0)
		event_active(ws->kick, EV_TIMEOUT, 1);
	return ws;
}

/*
 * Return a connection without a socket (the handshake is assumed done):
 * ws_conn_feed gives it the client's bytes, ws_conn_output holds what it
 * answers. For tests and fuzzing; a close timeout needs no timer here.
 */
struct ws_conn *
ws_conn_new_memory(const struct ws_limits *lim, const struct ws_handlers *h,
    void *arg, struct ws_stats *st)
{
	struct ws_conn *ws = ws_conn_alloc(lim, h, arg, st);

	ws->in = evbuffer_new();
	ws->out = evbuffer_new();
	if (ws->in == NULL || ws->out == NULL)
		fatalx("ws: out of memory for buffers");
	return ws;
}

/* Give a memory connection len bytes from the client. Return 0, or -1
 * when the connection is over. */
int
ws_conn_feed(struct ws_conn *ws, const void *data, size_t len)
{
	if (ws->done)
		return -1;
	if (len > 0 && evbuffer_add(ws->in, data, len) < 0)
		return -1;
	ws_process(ws);
	return ws->done ? -1 : 0;
}

/* Return the buffer a connection writes to (a memory one's: drain it). */
struct evbuffer *
ws_conn_output(struct ws_conn *ws)
{
	return ws->out;
}

/*
 * Queue the text message msg (len bytes, UTF-8) and send it unless inside
 * wslay's receive loop (then it goes when the loop returns). Return 0, or
 * -1 when the connection is closing or over, or this send put it over its
 * output cap (it is then over: h->closed has been called).
 */
int
ws_send_text(struct ws_conn *ws, const char *msg, size_t len)
{
	struct wslay_event_msg m;

	if (ws->done || ws->closing || ws->draining ||
	    !wslay_event_get_write_enabled(ws->ctx))
		return -1;
	m.opcode = WSLAY_TEXT_FRAME;
	m.msg = (const uint8_t *)msg;
	m.msg_length = len;
	if (wslay_event_queue_msg(ws->ctx, &m) != 0)
		return -1;
	ws_flush(ws);
	return ws->done ? -1 : 0;
}

/*
 * Begin the close handshake with code (1000: normal) and a short reason.
 * The connection ends when the peer answers, or after close_timeout_ms.
 * Return 0, or -1 when it is already over.
 */
int
ws_close(struct ws_conn *ws, unsigned int code, const char *reason)
{
	size_t rlen = reason != NULL ? strlen(reason) : 0;

	if (ws->done)
		return -1;
	if (ws->closing)
		return 0;
	ws->closing = true;
	if (rlen > 122)
		rlen = 122;
	if (wslay_event_queue_close(
		ws->ctx, (uint16_t)code, (const uint8_t *)reason, rlen) != 0) {
		ws_check_over(ws);
		return 0;
	}
	if (ws->timer != NULL) {
		struct timeval tv = {ws->lim.close_timeout_ms / 1000,
		    (suseconds_t)(ws->lim.close_timeout_ms % 1000) * 1000};

		evtimer_add(ws->timer, &tv);
	}
	ws_flush(ws);
	return 0;
}

/* Return true while messages can still be sent. */
bool
ws_is_open(const struct ws_conn *ws)
{
	return ws != NULL && !ws->done && !ws->closing && !ws->draining;
}

/* Return how many bytes wait in the output buffer. */
size_t
ws_output_len(const struct ws_conn *ws)
{
	return ws != NULL ? evbuffer_get_length(ws->out) : 0;
}

/* Free ws and its socket (NULL is fine). Never from inside its handlers. */
void
ws_conn_free(struct ws_conn *ws)
{
	if (ws == NULL)
		return;
	if (ws->timer != NULL)
		event_free(ws->timer);
	if (ws->kick != NULL)
		event_free(ws->kick);
	wslay_event_context_free(ws->ctx);
	if (ws->bev != NULL) {
		bufferevent_free(ws->bev);
	} else {
		evbuffer_free(ws->in);
		evbuffer_free(ws->out);
	}
	free(ws);
}
