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
 * receive callback reads the input evbuffer, its send callback stages
 * output (below); the bufferevent moves the bytes. wslay answers
 * pings with pongs, reassembles fragmented messages, insists on masked
 * client frames and unfragmented control frames, checks UTF-8 in text
 * messages and answers a close with a close. A message over message_max
 * (WS_MESSAGE_MAX) is answered with close 1009. A connection is "memory"
 * when it has no socket: ws_conn_feed gives it bytes and ws_conn_output
 * holds what it sends, for unit tests and the ws_frames fuzz target.
 *
 * Writing: wslay's send callback appends to a staging buffer; each flush
 * then writes it to the socket at once (one writev) when the bufferevent
 * holds no older output, and hands only what the socket did not take
 * (or everything, behind older output) to the bufferevent. So a frame
 * that fits in the socket's buffer, nearly every one, costs one system
 * call, not a writev plus the epoll_ctl pair of arming and disarming
 * EV_WRITE around it; ordering, errors and the caps below are the
 * bufferevent's as before. A text message sent outside wslay's receive
 * loop while wslay has nothing queued (nearly always: the paced frames)
 * does not go through wslay at all: ws_send_text frames it itself, the
 * same bytes wslay would send (one final unmasked frame), and with the
 * socket free sends header and text in one sendmsg from the caller's
 * buffer. Receiving: see ws_process (most frames are read here, the rest
 * by wslay).
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
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

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
	struct evbuffer *stage; /* what wslay sent since the last flush */
	struct event *timer;	/* close handshake timeout */
	struct event *kick;	/* bytes that arrived with the upgrade */
	const struct ws_handlers *h;
	void *arg;
	struct ws_stats *st;
	struct ws_limits lim;
	bool in_recv;  /* inside wslay_event_recv: sends are queued */
	bool closing;  /* we queued a close */
	bool draining; /* conversation over; output being flushed */
	bool done;     /* closed() called */
	bool failed;   /* wslay_event_recv refused the peer's bytes */
	/* receiving: frames wslay reads, and those read here (ws_process) */
	size_t wslay_left; /* bytes of its current frame wslay has to read */
	bool wslay_frag;   /* wslay is inside a fragmented data message */
	bool hdr_busy;	   /* wslay reads a header not all come yet */
	uint8_t hdr[14];   /* its bytes so far */
	size_t hdr_len;
	uint8_t *rbuf; /* an unmasked payload read here */
	size_t rcap;
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

/*
 * Write the staged bytes to the socket now if nothing older waits in the
 * bufferevent; leave what the socket did not take (would block, or an
 * error, which the bufferevent's own write then reports) to the
 * bufferevent.
 */
static void
ws_write_stage(struct ws_conn *ws)
{
	if (ws->stage == ws->out || evbuffer_get_length(ws->stage) == 0)
		return;
	if (evbuffer_get_length(ws->out) == 0)
		(void)evbuffer_write(ws->stage, bufferevent_getfd(ws->bev));
	if (evbuffer_get_length(ws->stage) > 0 &&
	    evbuffer_add_buffer(ws->out, ws->stage) < 0)
		fatalx("ws: out of memory for output");
}

/* Move what wslay has queued to the output buffer and check the cap. */
static void
ws_flush(struct ws_conn *ws)
{
	if (ws->done || ws->in_recv)
		return;
	if (wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0) {
		ws_write_stage(ws);
		ws_finish(ws, WS_END_ERROR);
		return;
	}
	ws_write_stage(ws);
	if (evbuffer_get_length(ws->out) > ws->lim.output_max) {
		ws_finish(ws, WS_END_OVERFLOW);
		return;
	}
	ws_check_over(ws);
}

/*
 * The length of a frame header from its first bytes h (have of them, at
 * least 2), and in *plen the payload length once the header is all there.
 */
static size_t
ws_header_len(const uint8_t *h, size_t have, size_t *plen)
{
	size_t hl = 2, n = h[1] & 0x7F;

	hl += n == 126 ? 2 : n == 127 ? 8 : 0;
	hl += (h[1] & 0x80) ? 4 : 0;
	if (have < hl)
		return hl;
	if (n == 126) {
		n = (size_t)h[2] << 8 | h[3];
	} else if (n == 127) {
		uint64_t v = 0;

		for (int i = 0; i < 8; i++)
			v = v << 8 | h[2 + i];
		n = v > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)v;
	}
	*plen = n;
	return hl;
}

/*
 * Read the frame at the head of the input here if it is all there and a
 * final, masked text frame of at most message_max bytes of ASCII, with
 * its length in shortest form, and wslay is between messages; deliver it
 * as ws_msg_cb would. Return 1 when it was read; 0 when wslay must read
 * it (*flen: its length); 2 when wslay must read it but its header is not
 * all there; -1 when the input is empty. A frame not all there always
 * goes to wslay, which reacts to its bytes as they come, as it always did.
 */
static int
ws_recv_fast(struct ws_conn *ws, size_t *flen)
{
	uint8_t h[14], key[4], k8[8], acc = 0;
	uint64_t k64, acc64 = 0;
	size_t avail = evbuffer_get_length(ws->in), hl, plen = 0, i = 0;
	const uint8_t *p;

	if (avail == 0)
		return -1;
	if (avail < 2)
		return 2;
	(void)evbuffer_copyout(
	    ws->in, h, avail < sizeof(h) ? avail : sizeof(h));
	hl = ws_header_len(h, avail, &plen);
	if (avail < hl)
		return 2;
	*flen = hl + plen;
	if (h[0] != (0x80 | WSLAY_TEXT_FRAME) || !(h[1] & 0x80) ||
	    ws->wslay_frag || plen > ws->lim.message_max || avail - hl < plen)
		return 0;
	/* wslay refuses a length not in its shortest form: let it. */
	if (((h[1] & 0x7F) == 126 && plen < 126) ||
	    ((h[1] & 0x7F) == 127 && plen < 65536))
		return 0;
	memcpy(key, h + hl - 4, 4);
	if (plen + 1 > ws->rcap) {
		ws->rcap = plen + 1 > 512 ? plen + 1 : 512;
		ws->rbuf = xreallocarray(ws->rbuf, ws->rcap, 1);
	}
	p = evbuffer_pullup(ws->in, (ssize_t)(hl + plen));
	if (p == NULL)
		fatalx("ws: out of memory reading a frame");
	/* Unmask 8 bytes at a time (i stays a multiple of 4 for the key). */
	memcpy(k8, key, 4);
	memcpy(k8 + 4, key, 4);
	memcpy(&k64, k8, 8);
	for (; i + 8 <= plen; i += 8) {
		uint64_t w;

		memcpy(&w, p + hl + i, 8);
		w ^= k64;
		memcpy(ws->rbuf + i, &w, 8);
		acc64 |= w;
	}
	for (; i < plen; i++) {
		ws->rbuf[i] = p[hl + i] ^ key[i & 3];
		acc |= ws->rbuf[i];
	}
	if ((acc & 0x80) || (acc64 & 0x8080808080808080ull))
		return 0; /* not ASCII: wslay checks the UTF-8 */
	(void)evbuffer_drain(ws->in, hl + plen);
	if (ws->h->text != NULL && !ws->closing)
		ws->h->text(ws, (const char *)ws->rbuf, plen, ws->arg);
	return 1;
}

/* Note what the frame wslay reads, first byte b0, does to fragmenting. */
static void
ws_wslay_note(struct ws_conn *ws, uint8_t b0)
{
	unsigned int op = b0 & 0x0F;

	if (op == WSLAY_TEXT_FRAME || op == WSLAY_BINARY_FRAME)
		ws->wslay_frag = !(b0 & 0x80);
	else if (op == WSLAY_CONTINUATION_FRAME && (b0 & 0x80))
		ws->wslay_frag = false;
}

/* Let wslay read the flen bytes of the frame at the head of the input. */
static void
ws_wslay_frame(struct ws_conn *ws, size_t flen)
{
	uint8_t b0;

	ws->wslay_left = flen;
	if (evbuffer_copyout(ws->in, &b0, 1) == 1)
		ws_wslay_note(ws, b0);
}

/*
 * wslay reads a frame whose header had not all come: let it read the next
 * header bytes there are (kept in ws->hdr) and, once the header is whole,
 * the payload too. Sets wslay_left to 0 when there is nothing to read.
 */
static void
ws_wslay_header(struct ws_conn *ws)
{
	size_t avail = evbuffer_get_length(ws->in), plen = 0, hl, n;

	hl = ws->hdr_len < 2 ? 2 : ws_header_len(ws->hdr, ws->hdr_len, &plen);
	n = hl - ws->hdr_len < avail ? hl - ws->hdr_len : avail;
	ws->wslay_left = n;
	if (n == 0)
		return;
	(void)evbuffer_copyout(ws->in, ws->hdr + ws->hdr_len, n);
	ws->hdr_len += n;
	if (ws->hdr_len < 2 ||
	    ws->hdr_len < ws_header_len(ws->hdr, ws->hdr_len, &plen))
		return;
	ws->wslay_left += plen;
	ws->hdr_busy = false;
	ws_wslay_note(ws, ws->hdr[0]);
}

/*
 * Run over what is in the input buffer, then flush. The frames Twilio
 * sends nearly always (whole, final, masked text frames of ASCII JSON)
 * are read here in one pass (unmasking into a buffer kept for the next);
 * every other frame, and every frame while wslay is inside a fragmented
 * message, goes to wslay, which is let read exactly that frame's bytes
 * (ws_recv_cb), so it is always at a frame boundary when this reads one.
 * wslay therefore still answers pings, reassembles fragments, checks
 * UTF-8 outside ASCII, enforces the limits and runs the close handshake.
 */
static void
ws_process(struct ws_conn *ws)
{
	size_t bound = evbuffer_get_length(ws->in) + 2, flen = 0;
	int r = 0, f;

	if (ws->done || ws->draining)
		return;
	ws->in_recv = true;
	for (size_t i = 0; i < bound && r == 0 && !ws->done && !ws->failed &&
			   wslay_event_want_read(ws->ctx);
	     i++) {
		if (ws->wslay_left == 0 && !ws->hdr_busy) {
			if ((f = ws_recv_fast(ws, &flen)) < 0)
				break;
			if (f == 1)
				continue;
			if (f == 0) {
				ws_wslay_frame(ws, flen);
			} else {
				ws->hdr_busy = true;
				ws->hdr_len = 0;
			}
		}
		if (ws->wslay_left == 0 && ws->hdr_busy) {
			ws_wslay_header(ws);
			if (ws->wslay_left == 0)
				break;
		}
		r = wslay_event_recv(ws->ctx);
		if (ws->wslay_left > 0)
			break; /* the rest of its frame has not come yet */
	}
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
	if (len > ws->wslay_left)
		len = ws->wslay_left; /* its frame only (ws_process) */
	n = len > 0 ? evbuffer_remove(ws->in, buf, len) : 0;
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	ws->wslay_left -= (size_t)n;
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws_conn *ws = user;

	(void)flags;
	if (evbuffer_add(ws->stage, data, len) < 0) {
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
	ws->stage = evbuffer_new();
	if (ws->stage == NULL)
		fatalx("ws: out of memory for buffers");
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
	ws->stage = ws->out; /* no socket: straight to the output */
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

static void
ws_buf_add(struct evbuffer *b, const void *p, size_t n)
{
	if (n > 0 && evbuffer_add(b, p, n) < 0)
		fatalx("ws: out of memory for output");
}

/*
 * Frame the text message msg (len bytes) as wslay would (final, unmasked)
 * and write it: to the socket at once when nothing waits before it (what
 * it does not take goes to the bufferevent), else behind what waits.
 */
static void
ws_send_frame(struct ws_conn *ws, const char *msg, size_t len)
{
	uint8_t hdr[10];
	size_t hl, off = 0;
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	hdr[0] = 0x80 | WSLAY_TEXT_FRAME;
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		hl = 2;
	} else if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		hl = 4;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (ws->stage == ws->out || evbuffer_get_length(ws->out) > 0 ||
	    evbuffer_get_length(ws->stage) > 0) {
		ws_buf_add(ws->stage, hdr, hl);
		ws_buf_add(ws->stage, msg, len);
		return;
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = hl;
	/* struct iovec is not const-correct; sendmsg only reads it. */
	memcpy(&iov[1].iov_base, &msg, sizeof(iov[1].iov_base));
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	n = sendmsg(bufferevent_getfd(ws->bev), &mh, MSG_NOSIGNAL);
	/* Would block, or an error the bufferevent's write then reports. */
	if (n > 0)
		off = (size_t)n;
	if (off < hl)
		ws_buf_add(ws->out, hdr + off, hl - off);
	off = off > hl ? off - hl : 0;
	ws_buf_add(ws->out, msg + off, len - off);
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
	if (!ws->in_recv && !wslay_event_want_write(ws->ctx)) {
		/*
		 * Nothing of wslay's to keep order with: frame it here.
		 * Inside its receive loop it goes to wslay's queue as ever,
		 * where a pong or close wslay queues next goes first.
		 */
		ws_send_frame(ws, msg, len);
		ws_flush(ws);
		return ws->done ? -1 : 0;
	}
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
	free(ws->rbuf);
	if (ws->bev != NULL) {
		evbuffer_free(ws->stage);
		bufferevent_free(ws->bev);
	} else {
		evbuffer_free(ws->in);
		evbuffer_free(ws->out);
	}
	free(ws);
}
