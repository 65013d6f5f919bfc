/*
 * Fuzz target: WebSocket frames from a client (gateway/ws.c over wslay),
 * the bytes Twilio sends after the upgrade. The first input byte chooses
 * how the rest is split into reads (1 to 256 bytes at a time), so a frame
 * cut anywhere is exercised; every text message is answered (a send from
 * inside wslay's receive loop), pings are answered by wslay, and the
 * output is drained as a socket would. Invariants: closed() is called at
 * most once, nothing is delivered after it, and feeding after it fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	int closed;
	size_t texts;
	struct ws_conn *ws;
};

static void
on_text(struct ws_conn *ws, const char *msg, size_t len, void *arg)
{
	struct state *s = arg;

	if (s->closed)
		abort();
	s->texts++;
	(void)ws_send_text(ws, msg, len < 64 ? len : 64);
}

static void
on_binary(struct ws_conn *ws, size_t len, void *arg)
{
	struct state *s = arg;

	(void)ws;
	(void)len;
	if (s->closed)
		abort();
}

static void
on_closed(struct ws_conn *ws, enum ws_end why, void *arg)
{
	struct state *s = arg;

	(void)ws;
	(void)ws_end_name(why);
	s->closed++;
}

static const struct ws_handlers handlers = {on_text, on_binary, on_closed};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_limits lim = {4096, 65536, 0, 0};
	struct ws_stats st;
	struct state s;
	size_t step, off = 1;

	if (size < 1)
		return 0;
	memset(&st, 0, sizeof(st));
	memset(&s, 0, sizeof(s));
	step = (size_t)data[0] + 1;
	s.ws = ws_conn_new_memory(&lim, &handlers, &s, &st);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		struct evbuffer *out = ws_conn_output(s.ws);
		int r = ws_conn_feed(s.ws, data + off, n);

		evbuffer_drain(out, evbuffer_get_length(out));
		off += n;
		if (r < 0) {
			if (!s.closed)
				abort();
			if (ws_conn_feed(s.ws, data, 1) != -1)
				abort();
			break;
		}
	}
	if (s.closed > 1)
		abort();
	ws_conn_free(s.ws);
	return 0;
}
