/*
 * wsc.c: a WebSocket client on a libevent bufferevent, framed by wslay.
 *
 * Why: Twilio is the WebSocket client of a Media Streams connection, so
 * the simulated caller needs the client side the gateway never has:
 * connect, the upgrade GET (handshake.c), masked frames (RFC 6455 section
 * 5.3: a fresh random mask per frame from OpenSSL), text messages both
 * ways, answering pings (wslay does) and the closing handshake. Many
 * calls share one event loop, so nothing here blocks.
 *
 * Callbacks (struct wsc_callbacks) run from the loop: on_open once after
 * a valid 101; on_text / on_binary per message; on_closed exactly once,
 * always from a zero-delay timer of its own, never from inside
 * wsc_send_*, wsc_close or wslay's callbacks, so the owner may do
 * anything there except wsc_free (R8: free later, from the owner's own
 * pass). Sending from on_text only queues; the frames leave when wslay's
 * receive pass returns.
 *
 * Limits: connect + upgrade within WSC_OPEN_MS; a message over
 * WSC_MAX_MSG is a protocol error (wslay closes with 1009); at most
 * WSC_MAX_OUT bytes wait in the socket's output buffer and WSC_MAX_QUEUE
 * messages in wslay's queue (a peer that stops reading makes sends fail
 * instead of growing memory); after our close frame the peer has
 * WSC_CLOSE_MS to answer. wss:// is not spoken (tests use loopback).
 * The only user of wslay in tools/ (R14).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "clock.h"
#include "log.h"
#include "sim_caller.h"
#include "xmalloc.h"

#define WSC_OPEN_MS   5000
#define WSC_CLOSE_MS  2000
#define WSC_MAX_MSG   ((size_t)1 << 20)
#define WSC_MAX_OUT   ((size_t)4 << 20)
#define WSC_MAX_QUEUE 4096

enum wsc_state {
	WSC_CONNECTING,
	WSC_HANDSHAKE,
	WSC_OPEN,
	WSC_CLOSING, /* our close frame is queued or sent */
	WSC_CLOSED,  /* on_closed is due or done */
};

struct wsc {
	struct event_base *base;
	struct bufferevent *bev;
	wslay_event_context_ptr ctx;
	struct event *timer; /* open / close timeouts, deferred on_closed */
	struct handshake_url url;
	char key[HANDSHAKE_KEY_LEN + 1];
	char *signature;
	struct wsc_callbacks cb;
	void *arg;
	enum wsc_state state;
	int64_t t0;
	bool in_recv;	 /* inside wslay_event_recv: only queue */
	bool notified;	 /* on_closed was called */
	int close_code;	 /* what the peer's close frame said, 0: none */
	int closed_code; /* what on_closed reports */
	char why[160];	 /* why it closed, "" when cleanly */
	struct wsc_stats st;
};

static void wsc_flush(struct wsc *w);

static void
wsc_arm(struct wsc *w, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(w->timer, &tv);
}

/* The connection is over: stop I/O now, report from a zero-delay timer.
 * The first reason wins. */
static void
wsc_finish(struct wsc *w, int code, const char *why)
{
	if (w->state == WSC_CLOSED)
		return;
	w->state = WSC_CLOSED;
	w->closed_code = code;
	(void)snprintf(w->why, sizeof(w->why), "%s", why ? why : "");
	if (w->bev != NULL)
		bufferevent_disable(w->bev, EV_READ | EV_WRITE);
	evtimer_del(w->timer);
	wsc_arm(w, 0);
}

static void
wsc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsc *w = arg;

	(void)fd;
	(void)what;
	switch (w->state) {
	case WSC_CONNECTING:
	case WSC_HANDSHAKE:
		wsc_finish(w, 1006, "no WebSocket upgrade in time");
		return;
	case WSC_CLOSING:
		wsc_finish(w, w->close_code ? w->close_code : 1006,
		    "no close frame from the peer in time");
		return;
	case WSC_OPEN:
		return;
	case WSC_CLOSED:
		break;
	}
	if (w->notified)
		return;
	w->notified = true;
	/* Closing the socket here, outside every bufferevent callback. */
	if (w->bev != NULL) {
		bufferevent_free(w->bev);
		w->bev = NULL;
	}
	if (w->cb.on_closed != NULL)
		w->cb.on_closed(w->closed_code, w->why, w->arg);
}

/* ---- wslay's side ------------------------------------------------------ */

static ssize_t
wsc_recv_cb(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct wsc *w = arg;
	int n;

	(void)flags;
	if (w->bev == NULL || w->state == WSC_CLOSED) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n = evbuffer_remove(bufferevent_get_input(w->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	w->st.bytes_in += (uint64_t)n;
	return n;
}

static ssize_t
wsc_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct wsc *w = arg;
	struct evbuffer *out;

	(void)flags;
	if (w->bev == NULL || w->state == WSC_CLOSED) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	out = bufferevent_get_output(w->bev);
	if (evbuffer_get_length(out) >= WSC_MAX_OUT) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (evbuffer_add(out, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	w->st.bytes_out += len;
	return (ssize_t)len;
}

static int
wsc_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
wsc_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct wsc *w = arg;

	(void)ctx;
	if (w->state == WSC_CLOSED)
		return;
	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
		w->st.msgs_in++;
		if (w->cb.on_text != NULL)
			w->cb.on_text(
			    (const char *)m->msg, m->msg_length, w->arg);
		break;
	case WSLAY_BINARY_FRAME:
		w->st.msgs_in++;
		if (w->cb.on_binary != NULL)
			w->cb.on_binary(m->msg_length, w->arg);
		break;
	case WSLAY_CONNECTION_CLOSE:
		/* wslay answers with a close frame of its own. */
		w->close_code = m->status_code ? m->status_code : 1005;
		if (w->state == WSC_OPEN) {
			w->state = WSC_CLOSING;
			wsc_arm(w, WSC_CLOSE_MS);
		}
		break;
	default:
		break; /* pings are answered by wslay */
	}
}

/* Run wslay on what arrived, send what it wants, notice the end. */
static void
wsc_pump(struct wsc *w)
{
	if (w->ctx == NULL || w->state == WSC_CLOSED)
		return;
	w->in_recv = true;
	if (wslay_event_want_read(w->ctx) && wslay_event_recv(w->ctx) != 0) {
		w->in_recv = false;
		wsc_finish(w, 1002, "WebSocket protocol error from the peer");
		return;
	}
	w->in_recv = false;
	wsc_flush(w);
}

/* Hand wslay's queued frames to the socket; finish when both close
 * frames have gone and the output has drained. */
static void
wsc_flush(struct wsc *w)
{
	if (w->ctx == NULL || w->state == WSC_CLOSED || w->in_recv)
		return;
	if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0) {
		wsc_finish(w, 1006, "sending failed");
		return;
	}
	if (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx) &&
	    evbuffer_get_length(bufferevent_get_output(w->bev)) == 0)
		wsc_finish(w, w->close_code ? w->close_code : 1005, NULL);
}

/* ---- the socket's side ------------------------------------------------- */

static void
wsc_open(struct wsc *w, size_t headlen)
{
	static const struct wslay_event_callbacks cbs = {
	    wsc_recv_cb,
	    wsc_send_cb,
	    wsc_genmask_cb,
	    NULL,
	    NULL,
	    NULL,
	    wsc_msg_cb,
	};

	evbuffer_drain(bufferevent_get_input(w->bev), headlen);
	w->st.bytes_in += headlen;
	if (wslay_event_context_client_init(&w->ctx, &cbs, w) != 0) {
		wsc_finish(w, 1006, "wslay cannot start");
		return;
	}
	wslay_event_config_set_max_recv_msg_length(w->ctx, WSC_MAX_MSG);
	w->state = WSC_OPEN;
	w->st.open_ms = clock_mono_ms() - w->t0;
	evtimer_del(w->timer);
	if (w->cb.on_open != NULL)
		w->cb.on_open(w->arg);
}

static void
wsc_handshake(struct wsc *w)
{
	struct evbuffer *in = bufferevent_get_input(w->bev);
	size_t len = evbuffer_get_length(in), headlen = 0;
	char why[96];
	enum handshake_result r;
	const char *p;
	int status = 0;

	if (len > HANDSHAKE_MAX_HEAD + 1)
		len = HANDSHAKE_MAX_HEAD + 1;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	if (p == NULL)
		return;
	r = handshake_check(
	    p, len, w->key, &headlen, &status, why, sizeof(why));
	w->st.upgrade_status = status;
	if (r == HANDSHAKE_INCOMPLETE)
		return;
	if (r == HANDSHAKE_BAD) {
		char msg[160];

		(void)snprintf(msg, sizeof(msg), "upgrade refused: %s", why);
		wsc_finish(w, 1006, msg);
		return;
	}
	wsc_open(w, headlen);
}

static void
wsc_read_cb(struct bufferevent *bev, void *arg)
{
	struct wsc *w = arg;

	(void)bev;
	if (w->state == WSC_HANDSHAKE)
		wsc_handshake(w);
	if (w->state == WSC_OPEN || w->state == WSC_CLOSING)
		wsc_pump(w);
}

static void
wsc_write_cb(struct bufferevent *bev, void *arg)
{
	struct wsc *w = arg;

	(void)bev;
	wsc_flush(w);
}

static void
wsc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsc *w = arg;

	if (what & BEV_EVENT_CONNECTED) {
		uint8_t nonce[16];
		char *req;

		if (RAND_bytes(nonce, (int)sizeof(nonce)) != 1) {
			wsc_finish(w, 1006, "no random bytes for the key");
			return;
		}
		handshake_key(nonce, w->key);
		req = handshake_request(&w->url, w->key, w->signature);
		w->st.bytes_out += strlen(req);
		bufferevent_write(bev, req, strlen(req));
		free(req);
		w->state = WSC_HANDSHAKE;
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		char msg[160];

		(void)snprintf(msg, sizeof(msg), "%s: %s",
		    w->state == WSC_CONNECTING ? "connect failed"
					       : "connection error",
		    evutil_socket_error_to_string(
			evutil_socket_geterror(bufferevent_getfd(bev))));
		wsc_finish(w, 1006, msg);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* What was read before the EOF may hold the close frame. */
		if (w->state == WSC_OPEN || w->state == WSC_CLOSING)
			wsc_pump(w);
		if (w->state == WSC_HANDSHAKE)
			wsc_finish(w, 1006, "closed during the upgrade");
		else if (w->close_code != 0)
			wsc_finish(w, w->close_code, NULL);
		else
			wsc_finish(
			    w, 1006, "connection closed without a close frame");
	}
}

/* ---- API ----------------------------------------------------------------- */

/*
 * Connect to sa (salen bytes) and upgrade to a WebSocket for url u, with
 * X-Twilio-Signature: signature unless it is NULL. Return the client (the
 * callbacks report how it goes), or NULL when the connect cannot even
 * start (logged).
 */
struct wsc *
wsc_new(struct event_base *base, const struct sockaddr *sa, int salen,
    const struct handshake_url *u, const char *signature,
    const struct wsc_callbacks *cb, void *arg)
{
	struct wsc *w = xcalloc(1, sizeof(*w));

	w->base = base;
	w->url = *u;
	w->signature = signature != NULL ? xstrdup(signature) : NULL;
	w->cb = *cb;
	w->arg = arg;
	w->t0 = clock_mono_ms();
	w->st.open_ms = -1;
	w->timer = evtimer_new(base, wsc_timer_cb, w);
	w->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (w->timer == NULL || w->bev == NULL) {
		log_warnx("sim-caller: cannot create a socket event");
		wsc_free(w);
		return NULL;
	}
	bufferevent_setcb(w->bev, wsc_read_cb, wsc_write_cb, wsc_event_cb, w);
	bufferevent_enable(w->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(w->bev, sa, salen) < 0) {
		log_warn("sim-caller: cannot connect to %s", u->hostport);
		wsc_free(w);
		return NULL;
	}
	wsc_arm(w, WSC_OPEN_MS);
	return w;
}

static int
wsc_send(struct wsc *w, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg m = {opcode, data, len};

	if (w->state != WSC_OPEN || w->ctx == NULL)
		return -1;
	if (wslay_event_get_queued_msg_count(w->ctx) >= WSC_MAX_QUEUE)
		return -1;
	if (wslay_event_queue_msg(w->ctx, &m) != 0)
		return -1;
	w->st.msgs_out++;
	wsc_flush(w);
	return 0;
}

/* Send a text message; return 0, or -1 when not open or the peer has
 * stopped reading for too long (nothing sent). */
int
wsc_send_text(struct wsc *w, const char *text, size_t len)
{
	return wsc_send(w, WSLAY_TEXT_FRAME, text, len);
}

/* Send a binary message (Twilio never does: a bad-input mode). */
int
wsc_send_binary(struct wsc *w, const void *data, size_t len)
{
	return wsc_send(w, WSLAY_BINARY_FRAME, data, len);
}

/* Start the closing handshake with code; on_closed follows (at the
 * latest WSC_CLOSE_MS later). Before the upgrade, just drop the
 * connection. */
void
wsc_close(struct wsc *w, uint16_t code)
{
	if (w->state == WSC_CONNECTING || w->state == WSC_HANDSHAKE) {
		wsc_finish(w, 1006, "closed by us before the upgrade");
		return;
	}
	if (w->state != WSC_OPEN)
		return;
	w->state = WSC_CLOSING;
	if (wslay_event_queue_close(w->ctx, code, NULL, 0) != 0) {
		wsc_finish(w, 1006, "cannot queue a close frame");
		return;
	}
	wsc_arm(w, WSC_CLOSE_MS);
	wsc_flush(w);
}

/* Stop reading the socket (a slow or stuck Twilio edge): what the peer
 * sends piles up in its buffers. Sending goes on. */
void
wsc_stop_reading(struct wsc *w)
{
	if (w->bev != NULL)
		bufferevent_disable(w->bev, EV_READ);
}

const struct wsc_stats *
wsc_stats(const struct wsc *w)
{
	return &w->st;
}

/* Release the client and close its socket at once; takes NULL. Never
 * from inside one of its callbacks (R8). */
void
wsc_free(struct wsc *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	if (w->bev != NULL)
		bufferevent_free(w->bev);
	if (w->ctx != NULL)
		wslay_event_context_free(w->ctx);
	free(w->signature);
	free(w);
}
