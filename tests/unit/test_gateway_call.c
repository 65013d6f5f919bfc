/*
 * In-process end-to-end tests of the Media Streams side of the gateway
 * (call.c with ws.c, media.c, playout.c, phrases.c, routes.c, http.c): a
 * real gateway HTTP server on 127.0.0.1 port 0 on the test's own
 * event_base, and WebSocket clients built in ws_client.h that speak like
 * Twilio (masked text frames, connected/start/media/mark/stop).
 *
 * Covered: the upgrade on /twilio/media and /twilio/media/ (101, no
 * redirect), X-Twilio-Signature on the upgrade (403 without or with a
 * wrong one), a bad version (400); a call that sends connected and start
 * and receives its greeting as paced 20 ms media frames with the start's
 * streamSid, then a mark, echoes the mark (the greeting is then heard),
 * sends media with a sequence gap, junk that is counted while the call
 * goes on, and stop (the gateway closes with 1000); /metrics; a stream
 * that never sends start is closed; a client that stops reading is
 * dropped while another call keeps receiving its frames.
 *
 * Every wait is bounded (WAIT_MS); only loopback.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../gateway/gateway.h"
#include "base64.h"
#include "clock.h"
#include "xmalloc.h"
#include "ws_client.h"

#define WAIT_MS	 5000
#define TOKEN	 "12345"
#define PUBLIC	 "https://gw.example.co.il"
#define SSID	 "MZ18ad3ab5a668481ce02b83e7395059f0"
#define SSID2	 "MZ28ad3ab5a668481ce02b83e7395059f0"
#define CSID	 "CA0123456789abcdef0123456789abcdef"
#define GREET_MS 400

struct fx {
	struct event_base *base;
	struct gateway g;
	int port;
};

struct client {
	int fd;
	uint8_t *in;
	size_t inlen;
	size_t incap;
	bool eof;
};

/* ---- plumbing --------------------------------------------------------- */

static void
fx_start(struct fx *fx, bool sig_check, const struct call_config *cc)
{
	const char *addr;
	uint8_t greet[GREET_MS * 8];

	memset(fx, 0, sizeof(*fx));
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->g.http = http_server_new(fx->base, NULL, routes_handle, &fx->g);
	assert_int_equal(http_server_listen(fx->g.http, "127.0.0.1:0"), 0);
	addr = http_server_address(fx->g.http);
	fx->port = atoi(strchr(addr, ':') + 1);
	assert_int_equal(routes_setup(&fx->g, sig_check ? PUBLIC : NULL, addr,
			     TOKEN, sig_check, "shai"),
	    0);
	assert_int_equal(call_setup(&fx->g, fx->base, cc), 0);
	for (size_t i = 0; i < sizeof(greet); i++)
		greet[i] = (uint8_t)(i / 160 + 1); /* frame number */
	assert_int_equal(phrases_set(&fx->g, NULL, PHRASE_GREETING, "greeting",
			     greet, sizeof(greet)),
	    0);
}

static void
fx_stop(struct fx *fx)
{
	call_cleanup(&fx->g);
	phrases_free(&fx->g);
	http_server_free(fx->g.http);
	routes_cleanup(&fx->g);
	event_base_free(fx->base);
}

static void
pump(struct fx *fx)
{
	struct timespec ts = {0, 1000000};

	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	nanosleep(&ts, NULL);
}

static struct client *
client_new(struct fx *fx, int rcvbuf)
{
	struct client *cl = xcalloc(1, sizeof(*cl));
	struct sockaddr_in sin;

	cl->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cl->fd >= 0);
	if (rcvbuf > 0)
		assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF,
				     &rcvbuf, sizeof(rcvbuf)),
		    0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(
	    connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(fcntl(cl->fd, F_SETFL, O_NONBLOCK), 0);
	cl->incap = 1 << 20;
	cl->in = xmalloc(cl->incap);
	return cl;
}

static void
client_free(struct client *cl)
{
	if (cl == NULL)
		return;
	close(cl->fd);
	free(cl->in);
	free(cl);
}

/* Read what is there without blocking. */
static void
client_read(struct client *cl)
{
	for (;;) {
		ssize_t n;

		if (cl->inlen == cl->incap) {
			cl->incap *= 2;
			cl->in = xreallocarray(cl->in, cl->incap, 1);
		}
		n = recv(cl->fd, cl->in + cl->inlen, cl->incap - cl->inlen, 0);
		if (n > 0) {
			cl->inlen += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			cl->eof = true;
		return;
	}
}

/* Send all of buf (pumping the server while the socket is full). */
static void
client_send(struct fx *fx, struct client *cl, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int64_t end = clock_mono_ms() + WAIT_MS;

	while (len > 0) {
		ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		assert_true(errno == EAGAIN);
		assert_true(clock_mono_ms() < end);
		pump(fx);
	}
}

static void
client_text(struct fx *fx, struct client *cl, const char *s)
{
	size_t len = strlen(s);
	uint8_t *buf = xmalloc(len + 16);
	size_t n = wsc_frame(buf, len + 16, true, WSC_TEXT, s, len);

	client_send(fx, cl, buf, n);
	free(buf);
}

/*
 * Wait for the next frame from the server; copy its payload as a string
 * into out (cap bytes). Return its opcode, or -1 at EOF.
 */
static int
client_frame(struct fx *fx, struct client *cl, char *out, size_t cap)
{
	int64_t end = clock_mono_ms() + WAIT_MS;
	struct wsc_frame f;

	for (;;) {
		size_t n = wsc_parse(cl->in, cl->inlen, &f);

		if (n > 0) {
			int op = (int)f.opcode;

			assert_false(f.masked);
			assert_true(f.fin);
			assert_true(f.len < cap);
			memcpy(out, f.payload, f.len);
			out[f.len] = '\0';
			memmove(cl->in, cl->in + n, cl->inlen - n);
			cl->inlen -= n;
			return op;
		}
		if (cl->eof)
			return -1;
		assert_true(clock_mono_ms() < end);
		pump(fx);
		client_read(cl);
	}
}

/* Wait for the head of the answer to an upgrade; return its status. */
static int
client_upgrade(
    struct fx *fx, struct client *cl, const char *path, const char *extra)
{
	char req[1024];
	int64_t end = clock_mono_ms() + WAIT_MS;
	char *head_end;
	int status = 0;

	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: gw.example.co.il\r\nUpgrade: "
	    "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
	    "dGhlIHNhbXBsZSBub25jZQ==\r\n%s%sUser-Agent: "
	    "Twilio.TmeWs/1.0\r\n\r\n",
	    path,
	    strstr(extra, "Version") ? "" : "Sec-WebSocket-Version: 13\r\n",
	    extra);
	client_send(fx, cl, req, strlen(req));
	for (;;) {
		pump(fx);
		client_read(cl);
		if (cl->inlen > 0 && (head_end = memmem(cl->in, cl->inlen,
					  "\r\n\r\n", 4)) != NULL) {
			size_t hl = (size_t)(head_end + 4 - (char *)cl->in);

			assert_int_equal(
			    sscanf((char *)cl->in, "HTTP/1.1 %d", &status), 1);
			if (status == 101)
				assert_non_null(memmem(cl->in, hl,
				    "Sec-WebSocket-Accept: "
				    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
				    52));
			if (status == 400)
				assert_non_null(memmem(cl->in, hl,
				    "Sec-WebSocket-Version: 13", 25));
			memmove(cl->in, cl->in + hl, cl->inlen - hl);
			cl->inlen -= hl;
			return status;
		}
		assert_true(clock_mono_ms() < end);
	}
}

static const char *
start_msg(const char *ssid)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{"
	    "\"accountSid\":\"AC0123456789abcdef0123456789abcdef\","
	    "\"streamSid\":\"%s\",\"callSid\":\"" CSID "\","
	    "\"tracks\":[\"inbound\"],\"mediaFormat\":{\"encoding\":"
	    "\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1},"
	    "\"customParameters\":{\"callSid\":\"" CSID "\",\"from\":"
	    "\"+972501234567\",\"to\":\"+97231234567\",\"business\":"
	    "\"shai\"}},\"streamSid\":\"%s\"}",
	    ssid, ssid);
	return buf;
}

/* Open a stream and send connected + start. */
static struct client *
client_call(struct fx *fx, const char *ssid, int rcvbuf)
{
	struct client *cl = client_new(fx, rcvbuf);

	assert_int_equal(client_upgrade(fx, cl, "/twilio/media", ""), 101);
	client_text(fx, cl,
	    "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":"
	    "\"1.0.0\"}");
	client_text(fx, cl, start_msg(ssid));
	return cl;
}

/*
 * Read the greeting: GREET_MS / 20 media frames with streamSid ssid, in
 * order, then a mark. Store the mark's name in mark; return the ms from
 * the first frame to the last.
 */
static int64_t
read_greeting(struct fx *fx, struct client *cl, const char *ssid, char *mark,
    size_t marksize)
{
	static char buf[4096];
	int64_t first = 0, last = 0;
	size_t frames = 0;

	for (;;) {
		json_t *j;
		const char *ev;

		assert_int_equal(
		    client_frame(fx, cl, buf, sizeof(buf)), WSC_TEXT);
		j = json_loads(buf, 0, NULL);
		assert_non_null(j);
		ev = json_string_value(json_object_get(j, "event"));
		assert_non_null(ev);
		assert_string_equal(
		    json_string_value(json_object_get(j, "streamSid")), ssid);
		if (strcmp(ev, "mark") == 0) {
			snprintf(mark, marksize, "%s",
			    json_string_value(json_object_get(
				json_object_get(j, "mark"), "name")));
			json_decref(j);
			break;
		}
		assert_string_equal(ev, "media");
		{
			const char *p = json_string_value(json_object_get(
			    json_object_get(j, "media"), "payload"));
			uint8_t *dec;
			size_t dlen;

			assert_non_null(p);
			assert_int_equal(
			    base64_decode_alloc(p, strlen(p), &dec, &dlen), 0);
			assert_int_equal(dlen, 160);
			assert_int_equal(dec[0], frames + 1); /* in order */
			free(dec);
		}
		last = clock_mono_ms();
		if (frames == 0)
			first = last;
		frames++;
		json_decref(j);
	}
	assert_int_equal(frames, GREET_MS / 20);
	return last - first;
}

static void
wait_live(struct fx *fx, long n)
{
	int64_t end = clock_mono_ms() + WAIT_MS;

	while (fx->g.calls_live != n) {
		assert_true(clock_mono_ms() < end);
		pump(fx);
	}
}

/* ---- tests ------------------------------------------------------------ */

static void
test_greeting_call(void **state)
{
	struct fx fx;
	struct client *cl;
	char mark[64], buf[4096], msg[512];
	const char *heard[2];
	struct call *call;
	int64_t span;

	(void)state;
	fx_start(&fx, false, NULL);
	cl = client_call(&fx, SSID, 0);
	span = read_greeting(&fx, cl, SSID, mark, sizeof(mark));
	/* paced: 20 frames over ~380 ms less the lead, not a burst */
	assert_true(span >= GREET_MS - 20 - 60 - 40);
	assert_true(span < GREET_MS + 1000);
	assert_string_equal(mark, "item-1");
	call = call_find_stream(&fx.g, SSID);
	assert_non_null(call);
	assert_null(call_find_stream(&fx.g, SSID2));
	assert_int_equal(playout_heard(call_playout(call), heard, 2), 0);
	/* echo the mark: now the greeting was heard */
	snprintf(msg, sizeof(msg),
	    "{\"event\":\"mark\",\"sequenceNumber\":\"2\",\"streamSid\":"
	    "\"" SSID "\",\"mark\":{\"name\":\"%s\"}}",
	    mark);
	client_text(&fx, cl, msg);
	/* inbound audio, one message lost (sequence 4) */
	for (int seq = 3; seq <= 6; seq++) {
		if (seq == 4)
			continue;
		snprintf(msg, sizeof(msg),
		    "{\"event\":\"media\",\"sequenceNumber\":\"%d\",\"media\":"
		    "{\"track\":\"inbound\",\"chunk\":\"%d\",\"timestamp\":"
		    "\"%d\",\"payload\":\"//////////8=\"},\"streamSid\":"
		    "\"" SSID "\"}",
		    seq, seq - 2, (seq - 2) * 20);
		client_text(&fx, cl, msg);
	}
	/* junk is counted, the call goes on */
	client_text(&fx, cl, "not json");
	client_text(&fx, cl, "{\"event\":\"bogus\",\"sequenceNumber\":\"7\"}");
	client_text(&fx, cl,
	    "{\"event\":\"media\",\"sequenceNumber\":\"8\",\"streamSid\":"
	    "\"" SSID2 "\",\"media\":{\"payload\":\"\"}}");
	{
		int64_t end = clock_mono_ms() + WAIT_MS;

		while (fx.g.call_metrics.bad_messages < 3) {
			assert_true(clock_mono_ms() < end);
			pump(&fx);
		}
	}
	assert_int_equal(playout_heard(call_playout(call), heard, 2), 1);
	assert_string_equal(heard[0], "greeting");
	assert_int_equal(fx.g.call_metrics.media_in, 3);
	assert_int_equal(fx.g.call_metrics.seq_gaps, 1);
	assert_int_equal(fx.g.call_metrics.started, 1);
	assert_int_equal(fx.g.call_metrics.po.frames_sent, GREET_MS / 20);
	assert_int_equal(fx.g.call_metrics.po.marks_heard, 1);
	assert_int_equal(fx.g.calls_live, 1);
	/* a barge-in clear reaches the client with the same streamSid */
	assert_int_equal(call_clear(call), 0);
	assert_int_equal(client_frame(&fx, cl, buf, sizeof(buf)), WSC_TEXT);
	assert_string_equal(
	    buf, "{\"event\":\"clear\",\"streamSid\":\"" SSID "\"}");
	/* /metrics carries the new series */
	{
		struct evbuffer *b = evbuffer_new();
		size_t len;
		char *text;

		call_metrics_write(&fx.g, b);
		len = evbuffer_get_length(b);
		text = xmalloc(len + 1);
		evbuffer_remove(b, text, len);
		text[len] = '\0';
		assert_non_null(strstr(text, "merkazia_calls_live 1\n"));
		assert_non_null(
		    strstr(text, "merkazia_playout_frames_sent_total 20\n"));
		assert_non_null(
		    strstr(text, "merkazia_media_messages_received_total 3\n"));
		assert_non_null(
		    strstr(text, "merkazia_media_sequence_gaps_total 1\n"));
		assert_non_null(strstr(
		    text, "merkazia_websocket_protocol_errors_total 0\n"));
		assert_non_null(
		    strstr(text, "merkazia_playout_frames_late_total "));
		free(text);
		evbuffer_free(b);
	}
	/* stop: the gateway closes with 1000 and forgets the call */
	client_text(&fx, cl,
	    "{\"event\":\"stop\",\"sequenceNumber\":\"9\",\"stop\":{"
	    "\"accountSid\":\"AC0123456789abcdef0123456789abcdef\","
	    "\"callSid\":\"" CSID "\"},\"streamSid\":\"" SSID "\"}");
	assert_int_equal(client_frame(&fx, cl, buf, sizeof(buf)), WSC_CLOSE);
	assert_int_equal(
	    ((unsigned char)buf[0] << 8) | (unsigned char)buf[1], 1000);
	{
		uint8_t fr[16];
		const uint8_t code[2] = {0x03, 0xE8};
		size_t n = wsc_frame(fr, sizeof(fr), true, WSC_CLOSE, code, 2);

		client_send(&fx, cl, fr, n);
	}
	wait_live(&fx, 0);
	assert_int_equal(client_frame(&fx, cl, buf, sizeof(buf)), -1);
	assert_null(call_find_stream(&fx.g, SSID));
	client_free(cl);
	fx_stop(&fx);
}

static void
test_no_start(void **state)
{
	struct fx fx;
	struct client *cl;
	struct call_config cc = {300, 0, 0, 0};
	char buf[256];
	int64_t t0;

	(void)state;
	fx_start(&fx, false, &cc);
	cl = client_new(&fx, 0);
	assert_int_equal(client_upgrade(&fx, cl, "/twilio/media/", ""), 101);
	client_text(&fx, cl,
	    "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":"
	    "\"1.0.0\"}");
	t0 = clock_mono_ms();
	wait_live(&fx, 1);
	assert_int_equal(client_frame(&fx, cl, buf, sizeof(buf)), WSC_CLOSE);
	assert_true(clock_mono_ms() - t0 >= 250);
	assert_int_equal(
	    ((unsigned char)buf[0] << 8) | (unsigned char)buf[1], 1008);
	assert_int_equal(fx.g.call_metrics.no_start, 1);
	/* the client never answers the close: dropped after the timeout */
	wait_live(&fx, 0);
	assert_int_equal(fx.g.call_metrics.po.frames_sent, 0);
	client_free(cl);
	fx_stop(&fx);
}

static void
sign(const char *url, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	assert_non_null(HMAC(EVP_sha1(), TOKEN, 5, (const unsigned char *)url,
	    strlen(url), md, &mdlen));
	assert_int_equal(base64_encode(md, mdlen, out, size), 0);
}

static void
test_upgrade_checks(void **state)
{
	struct fx fx;
	struct client *cl;
	char sig[64], hdr[128];

	(void)state;
	fx_start(&fx, true, NULL);
	assert_string_equal(
	    fx.g.stream_url, "wss://gw.example.co.il/twilio/media");
	cl = client_new(&fx, 0);
	assert_int_equal(client_upgrade(&fx, cl, "/twilio/media", ""), 403);
	client_free(cl);
	cl = client_new(&fx, 0);
	assert_int_equal(client_upgrade(&fx, cl, "/twilio/media",
			     "X-Twilio-Signature: "
			     "7PR3qMkpDyEJtMrVOY/LDyNq8J8=\r\n"),
	    403);
	client_free(cl);
	sign("wss://gw.example.co.il/twilio/media", sig, sizeof(sig));
	snprintf(hdr, sizeof(hdr), "X-Twilio-Signature: %s\r\n", sig);
	cl = client_new(&fx, 0);
	assert_int_equal(client_upgrade(&fx, cl, "/twilio/media", hdr), 101);
	client_free(cl);
	/* the trailing-slash path is answered too, never redirected */
	cl = client_new(&fx, 0);
	assert_int_equal(client_upgrade(&fx, cl, "/twilio/media/", hdr), 101);
	client_free(cl);
	/* a wrong version */
	cl = client_new(&fx, 0);
	snprintf(hdr, sizeof(hdr),
	    "X-Twilio-Signature: %s\r\nSec-WebSocket-Version: 8\r\n", sig);
	assert_int_equal(client_upgrade(&fx, cl, "/twilio/media", hdr), 400);
	client_free(cl);
	assert_int_equal(fx.g.call_metrics.upgrades_refused, 3);
	assert_int_equal(fx.g.call_metrics.streams, 2);
	wait_live(&fx, 0);
	fx_stop(&fx);
}

static void
test_slow_reader_dropped(void **state)
{
	struct fx fx;
	struct call_config cc = {0, 0, 0, 16384};
	struct client *good, *slow;
	char mark[64];
	uint8_t ping[256], payload[125];
	size_t n;
	size_t sent = 0;
	int64_t end;

	(void)state;
	fx_start(&fx, false, &cc);
	slow = client_call(&fx, SSID2, 4096);
	wait_live(&fx, 1);
	good = client_call(&fx, SSID, 0);
	/* slow floods pings and never reads its pongs or its greeting */
	memset(payload, 'p', sizeof(payload));
	n = wsc_frame(ping, sizeof(ping), true, WSC_PING, payload, 125);
	end = clock_mono_ms() + WAIT_MS;
	while (fx.g.call_metrics.ws.overflows == 0) {
		ssize_t k = send(slow->fd, ping, n, MSG_NOSIGNAL);

		if (k > 0)
			sent += (size_t)k;
		if (k < 0 && errno != EAGAIN)
			break; /* reset by the gateway */
		if (k < (ssize_t)n)
			pump(&fx);
		/* the good call is read all along */
		client_read(good);
		assert_true(clock_mono_ms() < end);
	}
	assert_int_equal(fx.g.call_metrics.ws.overflows, 1);
	assert_true(sent > 16384);
	wait_live(&fx, 1);
	/* the other call got its whole greeting and its mark */
	(void)read_greeting(&fx, good, SSID, mark, sizeof(mark));
	assert_string_equal(mark, "item-1");
	assert_non_null(call_find_stream(&fx.g, SSID));
	assert_null(call_find_stream(&fx.g, SSID2));
	client_free(slow);
	client_free(good);
	wait_live(&fx, 0);
	fx_stop(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_greeting_call),
	    cmocka_unit_test(test_no_start),
	    cmocka_unit_test(test_upgrade_checks),
	    cmocka_unit_test(test_slow_reader_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
