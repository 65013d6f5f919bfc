/*
 * call.c: one simulated call, from the voice webhook to the last frame.
 *
 * Why: this is Twilio's side of a call as the gateway sees it (shared
 * reference twilio.md sections 1-3): a signed form POST to /twilio/voice
 * whose TwiML must be <Connect><Stream>; a signed WebSocket upgrade to
 * the stream URL; connected, start (the TwiML <Parameter>s as
 * customParameters), then one 20 ms media frame every 20 ms of the
 * caller's audio, silence included, for the whole call; marks echoed and
 * clears honoured as Twilio plays (player.c); stop and a close at
 * hang-up. It also measures what a caller would notice.
 *
 * Turn taking: the steps of the script run in order. Pauses and noise are
 * sent as they come. Before each caller line the caller listens: it
 * speaks once it has heard the agent (the greeting before the first line,
 * the reply to its previous line after that) and the agent has then been
 * quiet for pause_ms with nothing left to play; if it hears nothing for
 * reply_timeout_ms it speaks anyway. A barge-in line instead starts
 * barge_ms after the reply became audible, over it. After the last step
 * the caller listens the same way once more, then hangs up (stop, close
 * 1000), unless the gateway closed first.
 *
 * Figures (call_report, docs/sim-caller.md): webhook ms, upgrade ms,
 * greeting ms (start sent -> first audible frame played), per line the
 * reply ms (end of the line's speech -> first audible frame of a new
 * reply: played after the line ended and after the player had gone idle
 * or been cleared, so the tail of an earlier reply does not count),
 * every mark (played fully or cleared), clears, underruns, protocol
 * errors by kind, bytes and messages both ways, and the gaps between
 * consecutive media messages received within one item (the gateway's
 * pacing as the caller sees it; a mark or clear ends a run).
 *
 * Clocks: everything on clock_mono_ms; call_tick is driven every few ms
 * by main.c and sends/plays every frame whose time has come (a bounded
 * catch-up; frames further behind are skipped and counted as late).
 * R8: callbacks only change state; main.c frees a call once
 * call_is_done, from its own timer.
 */
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <jansson.h>

#include "audio.h"
#include "clock.h"
#include "httpc.h"
#include "log.h"
#include "mulaw.h"
#include "sim_caller.h"
#include "xmalloc.h"

/* Frames sent or played per tick at most when catching up. */
#define CALL_CATCH_UP 25
/* Further behind than this, the frame clock jumps and counts late frames. */
#define CALL_LATE_MS 1000
/* At most this many marks are listed one by one in the report. */
#define CALL_REPORT_MARKS 200
/* The bad frame --garbage sends. */
#define CALL_GARBAGE "this is not JSON {"

enum call_phase {
	CALL_NEW,
	CALL_WEBHOOK,
	CALL_WS,
	CALL_STREAMING,
	CALL_CLOSING,
	CALL_DONE,
};

enum call_send {
	CALL_SEND_WAIT,	 /* listening before a caller line */
	CALL_SEND_STEP,	 /* sending the current step */
	CALL_SEND_FINAL, /* listening after the last step */
	CALL_SEND_DONE,	 /* ready to hang up */
};

struct call_turn {
	const char *id;
	int64_t start; /* absolute ms */
	int64_t end;   /* end of speech, -1 while speaking */
	int64_t reply; /* first audible frame of the reply, -1 */
	int64_t clear; /* first clear after the line began, -1 */
	int64_t voice; /* first audible frame of the line sent, -1 */
	/* received after that clear while the line was still spoken: what
	 * a barge-in's clear should have stopped */
	unsigned long media_after_clear;
	json_t *marks_after_clear; /* their names; NULL: none */
	bool barge_in;		   /* began while the agent was audible */
	bool fresh;		   /* the next audible frame is a new reply */
};

struct call {
	struct sim *sim;
	int index;
	char call_sid[SIM_SID_LEN + 1];
	char stream_sid[SIM_SID_LEN + 1];
	struct log_ctx ctx;
	enum call_phase phase;
	const char *result; /* NULL: still fine */
	char error[256];
	int64_t t_begin;
	int64_t t_start; /* start sent (or stream open with --no-start) */

	struct httpc_req *req;
	long webhook_ms;
	long webhook_status;
	struct twiml twiml;
	bool have_twiml;

	struct wsc *ws;
	struct wsc_stats ws_stats;
	int close_code;
	char close_why[160];
	const char *closed_by;
	bool start_sent;
	bool stop_sent;

	unsigned long seq;
	unsigned long chunk;
	int64_t next_send;
	unsigned long frames_out;
	unsigned long send_failed;
	enum call_send send;
	size_t step;
	size_t off;
	bool speech_ended;
	int64_t wait_since;

	struct player player;
	int64_t next_play;
	int64_t first_media;
	int64_t first_audible;
	int64_t last_audible;
	unsigned long audible_frames;
	unsigned long media_in;
	size_t audio_in;
	unsigned long marks_in;
	unsigned long echoes_out;
	unsigned long late_frames;
	/* Gaps between consecutive media messages received, in us (a mark or
	 * clear ends a run: the time between items is not a pacing gap). */
	int64_t last_media_us;
	uint32_t *gaps;
	size_t ngaps, capgaps;
	unsigned long proto_errors;
	json_t *proto_kinds;
	bool reading_stopped;

	struct call_turn *turns;
	size_t nturns;

	int16_t *wav;
	size_t wav_n, wav_cap;
};

static void call_end(struct call *c, const char *who);

static void call_fail(struct call *c, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the call's failure (the first one wins) and wind it up. */
static void
call_fail(struct call *c, const char *kind, const char *fmt, ...)
{
	va_list ap;

	if (c->result == NULL) {
		c->result = kind;
		va_start(ap, fmt);
		// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
		(void)vsnprintf(c->error, sizeof(c->error), fmt, ap);
		va_end(ap);
		log_call(LOG_LEVEL_WARN, &c->ctx, "call failed (%s): %s", kind,
		    c->error);
	}
	if (c->phase == CALL_STREAMING || c->phase == CALL_WS)
		call_end(c, "caller");
	else if (c->phase != CALL_CLOSING)
		c->phase = CALL_DONE;
}

/* ---- creation -------------------------------------------------------- */

struct call *
call_new(struct sim *sim, int index)
{
	struct call *c = xcalloc(1, sizeof(*c));
	char hex[33];

	c->sim = sim;
	c->index = index;
	sig_random_hex(hex, 32);
	(void)snprintf(c->call_sid, sizeof(c->call_sid), "CA%s", hex);
	sig_random_hex(hex, 32);
	(void)snprintf(c->stream_sid, sizeof(c->stream_sid), "MZ%s", hex);
	c->ctx.call_sid = c->call_sid;
	c->ctx.stream_sid = NULL;
	c->ctx.job_id = 0;
	c->ctx.turn = -1;
	c->phase = CALL_NEW;
	c->t_start = -1;
	c->webhook_ms = -1;
	c->first_media = c->first_audible = c->last_audible = -1;
	c->last_media_us = -1;
	c->proto_kinds = json_object();
	c->close_code = 0;
	player_init(&c->player, sim->jitter_ms);
	return c;
}

bool
call_is_done(const struct call *c)
{
	return c->phase == CALL_DONE;
}

/* Return true when the call went as Twilio would call normal: TwiML with
 * a stream, a started stream, and a clean end by either side. */
bool
call_is_ok(const struct call *c)
{
	return c->phase == CALL_DONE && c->result == NULL;
}

/* ---- receiving ----------------------------------------------------------- */

static void
call_proto_error(struct call *c, const char *kind)
{
	json_t *n = json_object_get(c->proto_kinds, kind);

	c->proto_errors++;
	if (n == NULL)
		log_call(LOG_LEVEL_INFO, &c->ctx,
		    "protocol error from the gateway: %s (Twilio would drop "
		    "the "
		    "message)",
		    kind);
	json_object_set_new(c->proto_kinds, kind,
	    json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* Send the echoes of every mark the player has reached. */
static void
call_send_echoes(struct call *c)
{
	size_t idx[32], n;

	while ((n = player_take_outbox(&c->player, idx, 32)) > 0) {
		for (size_t i = 0; i < n; i++) {
			char *msg;

			if (c->stop_sent || c->phase != CALL_STREAMING)
				continue;
			msg = media_mark(++c->seq, c->stream_sid,
			    c->player.marks[idx[i]].name);
			if (msg == NULL ||
			    wsc_send_text(c->ws, msg, strlen(msg)) < 0)
				c->send_failed++;
			else
				c->echoes_out++;
			free(msg);
		}
	}
}

/* After a clear or when the player ran dry, the next audible frame is a
 * new reply for the line waiting for one. */
static void
call_turn_fresh(struct call *c)
{
	/* turns has nturns entries; the analyzer cannot tie the two. */
	// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
	if (c->nturns > 0 && c->turns[c->nturns - 1].end >= 0 &&
	    c->turns[c->nturns - 1].reply < 0)
		c->turns[c->nturns - 1].fresh = true;
}

/* A media message arrived: keep the gap since the previous one of the
 * same item (the pacing a caller's jitter buffer has to absorb). */
static void
call_note_gap(struct call *c)
{
	int64_t now = clock_mono_us();

	if (c->last_media_us >= 0) {
		int64_t gap = now - c->last_media_us;

		if (c->ngaps == c->capgaps) {
			c->capgaps = c->capgaps ? 2 * c->capgaps : 256;
			c->gaps = xreallocarray(
			    c->gaps, c->capgaps, sizeof(*c->gaps));
		}
		c->gaps[c->ngaps++] =
		    gap > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
	}
	c->last_media_us = now;
}

static void
call_on_text(const char *text, size_t len, void *arg)
{
	struct call *c = arg;
	int64_t now = clock_mono_ms();
	struct media_msg m;
	const char *why;

	if (c->phase != CALL_STREAMING)
		return;
	if (media_parse(text, len, c->stream_sid, &m, &why) < 0) {
		call_proto_error(c, why);
		return;
	}
	switch (m.event) {
	case MEDIA_EV_MEDIA:
		if (c->nturns > 0 && c->turns[c->nturns - 1].clear >= 0 &&
		    c->turns[c->nturns - 1].end < 0)
			c->turns[c->nturns - 1].media_after_clear++;
		call_note_gap(c);
		c->media_in++;
		c->audio_in += m.audio_len;
		if (c->first_media < 0)
			c->first_media = now;
		player_audio(&c->player, m.audio, m.audio_len, now);
		break;
	case MEDIA_EV_MARK:
		if (c->nturns > 0 && c->turns[c->nturns - 1].clear >= 0 &&
		    c->turns[c->nturns - 1].end < 0) {
			struct call_turn *t = &c->turns[c->nturns - 1];

			if (t->marks_after_clear == NULL)
				t->marks_after_clear = json_array();
			json_array_append_new(
			    t->marks_after_clear, json_string(m.mark));
		}
		c->last_media_us = -1;
		c->marks_in++;
		player_mark(&c->player, m.mark, now);
		break;
	case MEDIA_EV_CLEAR:
		c->last_media_us = -1;
		player_clear(&c->player, now);
		call_turn_fresh(c);
		if (c->nturns > 0 && c->turns[c->nturns - 1].clear < 0)
			c->turns[c->nturns - 1].clear = now;
		break;
	}
	media_msg_clear(&m);
	call_send_echoes(c);
}

static void
call_on_binary(size_t len, void *arg)
{
	struct call *c = arg;

	(void)len;
	if (c->phase == CALL_STREAMING)
		call_proto_error(c, "binary_frame");
}

/* Play the frame due at t: into the recording, and into the figures. */
static void
call_play_frame(struct call *c, int64_t t)
{
	uint8_t frame[SIM_FRAME_BYTES];
	size_t n = player_frame(&c->player, t, frame);
	bool audible = n > 0 && player_frame_is_audible(frame, SIM_FRAME_BYTES);

	if (c->sim->wav != NULL) {
		if (c->wav_n + SIM_FRAME_BYTES > c->wav_cap) {
			c->wav_cap =
			    c->wav_cap ? 2 * c->wav_cap : (size_t)8000 * 16;
			c->wav =
			    xreallocarray(c->wav, c->wav_cap, sizeof(*c->wav));
		}
		mulaw_decode_buf(frame, SIM_FRAME_BYTES, c->wav + c->wav_n);
		c->wav_n += SIM_FRAME_BYTES;
	}
	if (audible) {
		struct call_turn *last =
		    c->nturns > 0 ? &c->turns[c->nturns - 1] : NULL;

		c->audible_frames++;
		if (c->first_audible < 0) {
			c->first_audible = t;
			log_call(LOG_LEVEL_DEBUG, &c->ctx,
			    "first audible frame %lld ms after start",
			    (long long)(t - c->t_start));
		}
		c->last_audible = t + SIM_FRAME_MS;
		if (last != NULL && last->end >= 0 && last->reply < 0 &&
		    last->fresh)
			last->reply = t;
	}
	if (player_is_idle(&c->player))
		call_turn_fresh(c);
	if ((c->sim->bad & CALL_BAD_STOP_READING) && !c->reading_stopped &&
	    c->first_audible >= 0) {
		c->reading_stopped = true;
		wsc_stop_reading(c->ws);
		log_call(LOG_LEVEL_INFO, &c->ctx,
		    "heard the greeting; no longer reading the socket "
		    "(--stop-reading)");
	}
	call_send_echoes(c);
}

/* ---- sending ------------------------------------------------------------- */

/* Return true when the caller may start speaking (barge_ms >= 0: a
 * barge-in that long after the reply became audible). */
static bool
call_may_speak(const struct call *c, int64_t now, int barge_ms)
{
	int64_t heard =
	    c->nturns > 0 ? c->turns[c->nturns - 1].reply : c->first_audible;

	/* Not reading (--stop-reading): nothing can be heard any more. */
	if (heard < 0 || c->reading_stopped)
		return now - c->wait_since >= c->sim->reply_timeout_ms;
	if (barge_ms >= 0)
		return now - heard >= barge_ms;
	return player_is_idle(&c->player) &&
	       now - c->last_audible >= c->sim->pause_ms;
}

/* Move on to step i (or to the final listening). */
static void
call_enter_step(struct call *c, size_t i, int64_t now)
{
	const struct script *s = c->sim->script;

	c->step = i;
	c->off = 0;
	c->speech_ended = false;
	if (i >= s->n) {
		c->send = CALL_SEND_FINAL;
		c->wait_since = now;
	} else if (s->steps[i].kind == SCRIPT_SAY) {
		c->send = CALL_SEND_WAIT;
		c->wait_since = now;
	} else {
		c->send = CALL_SEND_STEP;
	}
}

static void
call_begin_line(struct call *c, const struct script_step *st, int64_t now)
{
	struct call_turn *t;

	c->turns = xreallocarray(c->turns, c->nturns + 1, sizeof(*c->turns));
	t = &c->turns[c->nturns++];
	memset(t, 0, sizeof(*t));
	t->id = st->id;
	t->start = now;
	t->end = t->reply = t->clear = t->voice = -1;
	t->barge_in = !player_is_idle(&c->player) ||
		      (c->last_audible >= 0 && now - c->last_audible < 100);
	c->ctx.turn = (long)c->nturns;
	log_call(LOG_LEVEL_DEBUG, &c->ctx, "caller says %s%s",
	    st->id ? st->id : "(a line)", t->barge_in ? " (barge-in)" : "");
	c->send = CALL_SEND_STEP;
}

/* Fill frame with the caller's next 20 ms, sent at t. */
static void
call_next_frame(struct call *c, int64_t t, uint8_t frame[SIM_FRAME_BYTES])
{
	const struct script *s = c->sim->script;

	memset(frame, MULAW_SILENCE, SIM_FRAME_BYTES);
	for (size_t guard = 0; guard < s->n + 4; guard++) {
		const struct script_step *st =
		    c->step < s->n ? &s->steps[c->step] : NULL;
		size_t total, n;

		switch (c->send) {
		case CALL_SEND_WAIT:
			if (st == NULL) {
				call_enter_step(c, s->n, t);
				continue;
			}
			if (!call_may_speak(c, t, st->barge_ms))
				return;
			call_begin_line(c, st, t);
			continue;
		case CALL_SEND_FINAL:
			/* A caller that stopped reading hangs up only at
			 * --hangup-after (or the call's bound). */
			if (!c->reading_stopped && call_may_speak(c, t, -1))
				c->send = CALL_SEND_DONE;
			return;
		case CALL_SEND_DONE:
			return;
		case CALL_SEND_STEP:
			break;
		}
		if (st == NULL) {
			call_enter_step(c, s->n, t);
			continue;
		}
		total =
		    st->kind == SCRIPT_SILENCE ? (size_t)st->ms * 8 : st->len;
		if (c->off >= total) {
			call_enter_step(c, c->step + 1, t);
			continue;
		}
		n = total - c->off < SIM_FRAME_BYTES ? total - c->off
						     : SIM_FRAME_BYTES;
		if (st->kind != SCRIPT_SILENCE)
			memcpy(frame, st->audio + c->off, n);
		if (st->kind == SCRIPT_SAY && c->off <= st->speech_start &&
		    c->off + n > st->speech_start)
			c->turns[c->nturns - 1].voice = t;
		c->off += n;
		if (st->kind == SCRIPT_SAY && !c->speech_ended &&
		    c->off >= st->speech_end) {
			struct call_turn *turn = &c->turns[c->nturns - 1];

			c->speech_ended = true;
			turn->end = t;
			turn->fresh = player_is_idle(&c->player);
		}
		if (c->off >= total)
			call_enter_step(c, c->step + 1, t);
		return;
	}
}

static void
call_send_frame(struct call *c, int64_t t)
{
	uint8_t frame[SIM_FRAME_BYTES];
	char msg[MEDIA_FRAME_MSG_MAX];
	int len;

	call_next_frame(c, t, frame);
	c->chunk++;
	len = media_frame(msg, sizeof(msg), ++c->seq, c->chunk,
	    (c->chunk - 1) * SIM_FRAME_MS, frame, c->stream_sid);
	if (len < 0 || wsc_send_text(c->ws, msg, (size_t)len) < 0) {
		c->send_failed++;
		return;
	}
	c->frames_out++;
}

/* Send a text message of ours, counting a failure. */
static void
call_send_text(struct call *c, char *msg)
{
	if (msg == NULL || wsc_send_text(c->ws, msg, strlen(msg)) < 0)
		c->send_failed++;
	free(msg);
}

/* Hang up: stop (unless --no-stop or never started), then close 1000. */
static void
call_end(struct call *c, const char *who)
{
	if (c->phase == CALL_CLOSING || c->phase == CALL_DONE)
		return;
	if (c->ws == NULL) {
		c->phase = CALL_DONE;
		return;
	}
	if (c->phase == CALL_STREAMING && c->start_sent &&
	    !(c->sim->bad & CALL_BAD_NO_STOP)) {
		call_send_text(c, media_stop(++c->seq, c->stream_sid,
				      c->sim->account_sid, c->call_sid));
		c->stop_sent = true;
	}
	c->closed_by = who;
	c->phase = CALL_CLOSING;
	wsc_close(c->ws, 1000);
}

/* ---- the stream ---------------------------------------------------------- */

static void
call_on_open(void *arg)
{
	struct call *c = arg;
	int64_t now = clock_mono_ms();
	struct media_start ms;

	if (c->phase != CALL_WS)
		return;
	c->phase = CALL_STREAMING;
	c->t_start = now;
	c->next_play = now;
	c->next_send = now + SIM_FRAME_MS;
	call_enter_step(c, 0, now);
	call_send_text(c, media_connected());
	if (c->sim->bad & CALL_BAD_NO_START) {
		log_call(LOG_LEVEL_INFO, &c->ctx,
		    "stream open; never sending start (--no-start)");
		return;
	}
	ms.account_sid = c->sim->account_sid;
	ms.stream_sid = c->stream_sid;
	ms.call_sid = c->call_sid;
	ms.params = c->twiml.params;
	ms.nparams = c->twiml.nparams;
	call_send_text(c, media_start(++c->seq, &ms));
	c->start_sent = true;
	c->ctx.stream_sid = c->stream_sid;
	if (c->sim->bad & CALL_BAD_GARBAGE)
		call_send_text(c, xstrdup(CALL_GARBAGE));
	if (c->sim->bad & CALL_BAD_BINARY) {
		uint8_t silence[SIM_FRAME_BYTES];

		memset(silence, MULAW_SILENCE, sizeof(silence));
		if (wsc_send_binary(c->ws, silence, sizeof(silence)) < 0)
			c->send_failed++;
	}
}

static void
call_on_closed(int code, const char *why, void *arg)
{
	struct call *c = arg;
	bool was_closing;

	c->close_code = code;
	(void)snprintf(c->close_why, sizeof(c->close_why), "%s", why);
	c->ws_stats = *wsc_stats(c->ws);
	if (c->phase == CALL_WS) {
		c->phase = CALL_DONE;
		call_fail(c, "upgrade_failed", "%s", why[0] ? why : "closed");
		return;
	}
	if (c->phase == CALL_STREAMING) {
		c->closed_by = "gateway";
		log_call(LOG_LEVEL_INFO, &c->ctx,
		    "the gateway closed the stream (%d%s%s)", code,
		    why[0] ? ": " : "", why);
	}
	/* A close we began may end any way (the gateway owes us nothing
	 * after stop); one the gateway began must be a clean close frame. */
	was_closing = c->phase == CALL_CLOSING;
	c->phase = CALL_DONE;
	if (!c->start_sent && !(c->sim->bad & CALL_BAD_NO_START))
		call_fail(c, "no_stream", "closed before start");
	else if (!was_closing && code != 1000 && code != 1005)
		call_fail(c, "stream_broken", "closed with %d%s%s", code,
		    why[0] ? ": " : "", why);
}

/* Return true for 127.0.0.0/8 and ::1. */
static bool
call_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return memcmp(&in6->sin6_addr, &in6addr_loopback,
			   sizeof(in6addr_loopback)) == 0;
	}
	return false;
}

/*
 * Resolve the numeric (or "localhost") host and port into *ss; return 0,
 * or -1 when it is not a loopback address: tests touch nothing else.
 */
int
call_resolve_loopback(
    const char *host, const char *port, struct sockaddr_storage *ss, int *salen)
{
	struct addrinfo hints, *res = NULL;
	int rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (strcasecmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return -1;
	if (call_is_loopback(res->ai_addr) && res->ai_addrlen <= sizeof(*ss)) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*salen = (int)res->ai_addrlen;
		rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

/* Open the media stream the TwiML names. */
static void
call_connect(struct call *c)
{
	const struct sim *sim = c->sim;
	struct wsc_callbacks cb = {
	    call_on_open, call_on_text, call_on_binary, call_on_closed};
	struct handshake_url u, target;
	struct sockaddr_storage ss;
	char sig[SIG_LEN + 1], *token = NULL;
	const char *sigp = NULL;
	int salen = 0;

	if (handshake_parse_url(c->twiml.stream_url, &u) < 0) {
		call_fail(c, "stream_url", "cannot use the stream URL %s",
		    c->twiml.stream_url);
		return;
	}
	/* A wss:// or public stream URL is what a proxy in front of the
	 * gateway would take: connect to the gateway itself instead. */
	target = u;
	if (u.tls || call_resolve_loopback(u.host, u.port, &ss, &salen) < 0) {
		char gw[300];

		(void)snprintf(target.hostport, sizeof(target.hostport), "%s",
		    sim->gateway);
		(void)snprintf(gw, sizeof(gw), "ws://%s/", sim->gateway);
		if (handshake_parse_url(gw, &target) < 0 ||
		    call_resolve_loopback(
			target.host, target.port, &ss, &salen) < 0) {
			call_fail(c, "stream_url",
			    "the stream URL %s is not a loopback ws:// URL",
			    c->twiml.stream_url);
			return;
		}
		log_call(LOG_LEVEL_DEBUG, &c->ctx,
		    "stream URL %s: connecting to the gateway at %s",
		    c->twiml.stream_url, sim->gateway);
	}
	if (!(sim->bad & (CALL_BAD_UNSIGNED | CALL_BAD_UNSIGNED_WS))) {
		token = sim->bad & CALL_BAD_WRONG_SIG
			    ? xasprintf("%s-wrong", sim->token)
			    : xstrdup(sim->token);
		if (sig_compute(token, c->twiml.stream_url, NULL, 0, sig) < 0) {
			free(token);
			call_fail(c, "signature", "cannot sign the upgrade");
			return;
		}
		free(token);
		sigp = sig;
	}
	/* The request line and Host header are the stream URL's: that is
	 * what Twilio signs and sends, whoever answers. */
	c->phase = CALL_WS;
	c->ws = wsc_new(
	    sim->base, (const struct sockaddr *)&ss, salen, &u, sigp, &cb, c);
	if (c->ws == NULL)
		call_fail(
		    c, "connect", "cannot connect to %s", target.hostport);
}

/* ---- the webhook --------------------------------------------------------- */

static void
call_webhook_done(
    struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct call *c = arg;

	(void)r;
	c->req = NULL;
	c->webhook_ms = res->elapsed_ms;
	c->webhook_status = res->code;
	if (res->status != HTTPC_OK) {
		call_fail(c, "webhook_failed", "%s: %s",
		    httpc_status_name(res->status), res->error);
		return;
	}
	if (res->code != 200) {
		call_fail(c, "webhook_status", "the voice webhook answered %ld",
		    res->code);
		return;
	}
	if (twiml_parse(res->body, res->body_len, &c->twiml) < 0) {
		twiml_clear(&c->twiml);
		call_fail(c, "twiml_malformed", "the TwiML does not parse");
		return;
	}
	c->have_twiml = true;
	if (c->twiml.kind != TWIML_STREAM) {
		call_fail(c,
		    c->twiml.kind == TWIML_SAY_HANGUP ? "twiml_say_hangup"
						      : "twiml_other",
		    "TwiML without a stream: %s", c->twiml.verbs);
		return;
	}
	call_connect(c);
}

/* Post the signed voice webhook: the call rings. */
void
call_start(struct call *c)
{
	const struct sim *sim = c->sim;
	struct sig_param p[] = {
	    {"AccountSid", sim->account_sid},
	    {"ApiVersion", "2010-04-01"},
	    {"CallSid", c->call_sid},
	    {"CallStatus", "ringing"},
	    {"Called", sim->to},
	    {"CalledCountry", "IL"},
	    {"Caller", sim->from},
	    {"CallerCountry", "IL"},
	    {"Direction", "inbound"},
	    {"From", sim->from},
	    {"FromCountry", "IL"},
	    {"To", sim->to},
	    {"ToCountry", "IL"},
	};
	size_t np = sizeof(p) / sizeof(p[0]);
	char *url, *sign_url, *body, *token;
	char sig[SIG_LEN + 1];

	c->t_begin = clock_mono_ms();
	c->phase = CALL_WEBHOOK;
	url = xasprintf("http://%s%s", sim->gateway, sim->voice_path);
	sign_url = xasprintf("%s%s", sim->public_url, sim->voice_path);
	body = sig_form_encode(p, np);
	c->req =
	    httpc_req_new(sim->httpc, "POST", url, sim->webhook_timeout_ms);
	httpc_req_header(
	    c->req, "Content-Type", "application/x-www-form-urlencoded");
	httpc_req_header(c->req, "User-Agent", "TwilioProxy/1.1");
	httpc_req_header(c->req, "I-Twilio-Idempotency-Token", c->call_sid);
	if (!(sim->bad & CALL_BAD_UNSIGNED)) {
		token = sim->bad & CALL_BAD_WRONG_SIG
			    ? xasprintf("%s-wrong", sim->token)
			    : xstrdup(sim->token);
		if (sig_compute(token, sign_url, p, np, sig) == 0)
			httpc_req_header(c->req, "X-Twilio-Signature", sig);
		free(token);
	}
	httpc_req_body_take(c->req, body, strlen(body));
	log_call(
	    LOG_LEVEL_DEBUG, &c->ctx, "posting the voice webhook to %s", url);
	httpc_start(c->req, call_webhook_done, c);
	free(url);
	free(sign_url);
}

/* ---- the clock ----------------------------------------------------------- */

/* Play and send every frame due by now; hang up when it is time. */
void
call_tick(struct call *c, int64_t now)
{
	const struct sim *sim = c->sim;
	int k;

	if (c->phase == CALL_WEBHOOK || c->phase == CALL_WS) {
		if (now - c->t_begin > sim->max_call_ms)
			call_fail(c, "timeout", "no stream within %ld ms",
			    sim->max_call_ms);
		return;
	}
	if (c->phase != CALL_STREAMING)
		return;
	if (now - c->next_play > CALL_LATE_MS) {
		c->late_frames +=
		    (unsigned long)((now - c->next_play) / SIM_FRAME_MS);
		c->next_play = now;
	}
	for (k = 0; k < CALL_CATCH_UP && c->next_play <= now &&
		    c->phase == CALL_STREAMING;
	     k++) {
		call_play_frame(c, c->next_play);
		c->next_play += SIM_FRAME_MS;
	}
	if (c->start_sent) {
		if (now - c->next_send > CALL_LATE_MS) {
			c->late_frames += (unsigned long)((now - c->next_send) /
							  SIM_FRAME_MS);
			c->next_send = now;
		}
		for (k = 0; k < CALL_CATCH_UP && c->next_send <= now &&
			    c->phase == CALL_STREAMING;
		     k++) {
			call_send_frame(c, c->next_send);
			c->next_send += SIM_FRAME_MS;
		}
	}
	if (c->phase != CALL_STREAMING)
		return;
	if ((sim->hangup_after_ms >= 0 &&
		now - c->t_start >= sim->hangup_after_ms) ||
	    (c->send == CALL_SEND_DONE && c->start_sent))
		call_end(c, "caller");
	else if (now - c->t_begin > sim->max_call_ms)
		call_fail(
		    c, "timeout", "the call ran over %ld ms", sim->max_call_ms);
}

/* Hang up now (a signal): as the script's end would. */
void
call_hangup(struct call *c)
{
	if (c->phase == CALL_WEBHOOK) {
		if (c->req != NULL) {
			httpc_cancel(c->req);
			c->req = NULL;
		}
		call_fail(c, "interrupted", "stopped before the stream");
		return;
	}
	if (c->phase == CALL_STREAMING || c->phase == CALL_WS)
		call_end(c, "caller");
}

/* ---- the report ---------------------------------------------------------- */

static json_t *
call_ms(int64_t t, int64_t from)
{
	return t >= 0 && from >= 0 ? json_integer(t - from) : json_null();
}

static json_t *
call_turns_json(const struct call *c)
{
	json_t *a = json_array();

	for (size_t i = 0; i < c->nturns; i++) {
		const struct call_turn *t = &c->turns[i];
		json_t *after = t->marks_after_clear != NULL
				    ? json_incref(t->marks_after_clear)
				    : json_array();

		json_array_append_new(a,
		    json_pack("{s:s?, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:I, "
			      "s:o}",
			"id", t->id, "start_ms", call_ms(t->start, c->t_start),
			"end_ms", call_ms(t->end, c->t_start), "reply_ms",
			call_ms(t->reply, t->end), "barge_in", t->barge_in,
			"clear_ms", call_ms(t->clear, t->start),
			"speech_start_ms", call_ms(t->voice, c->t_start),
			"clear_at_ms", call_ms(t->clear, c->t_start),
			"media_after_clear", (json_int_t)t->media_after_clear,
			"marks_after_clear", after));
	}
	return a;
}

static json_t *
call_marks_json(const struct call *c, unsigned long *played,
    unsigned long *cleared, unsigned long *pending)
{
	const struct player *p = &c->player;
	json_t *a = json_array();

	*played = *cleared = *pending = 0;
	for (size_t i = 0; i < p->nmarks; i++) {
		const struct player_mark *m = &p->marks[i];

		if (m->echo_ms < 0)
			(*pending)++;
		else if (m->played)
			(*played)++;
		else
			(*cleared)++;
		if (i < CALL_REPORT_MARKS)
			json_array_append_new(
			    a, json_pack("{s:s, s:b, s:b, s:o, s:o}", "name",
				   m->name, "echoed", m->echo_ms >= 0, "played",
				   m->played, "recv_ms",
				   call_ms(m->recv_ms, c->t_start), "echo_ms",
				   call_ms(m->echo_ms, c->t_start)));
	}
	return a;
}

static void
call_write_wav(struct call *c, json_t *doc)
{
	const struct sim *sim = c->sim;
	char *path;

	if (sim->wav == NULL)
		return;
	if (sim->ncalls > 1) {
		const char *dot = strrchr(sim->wav, '.');
		int base = dot ? (int)(dot - sim->wav) : (int)strlen(sim->wav);

		path = xasprintf(
		    "%.*s-%d%s", base, sim->wav, c->index, dot ? dot : "");
	} else {
		path = xstrdup(sim->wav);
	}
	if (audio_wav_write_file(path, c->wav ? c->wav : (const int16_t *)"",
		c->wav_n, AUDIO_PHONE_RATE) == 0)
		json_object_set_new(doc, "wav", json_string(path));
	else
		call_fail(c, "wav", "cannot write %s", path);
	free(path);
}

/* Return the gaps between received media messages in ms (a new array,
 * caller frees; *n of them). */
static double *
call_gaps_ms(const struct call *c, size_t *n)
{
	double *v = xreallocarray(NULL, c->ngaps + 1, sizeof(*v));

	for (size_t i = 0; i < c->ngaps; i++)
		v[i] = (double)c->gaps[i] / 1000.0;
	*n = c->ngaps;
	return v;
}

/* Return the call's figures as one JSON object (new reference); writes
 * the recording first when asked to. Only once the call is done. */
json_t *
call_report(struct call *c)
{
	const struct player *p = &c->player;
	const struct wsc_stats *ws = &c->ws_stats;
	unsigned long played, cleared, pending;
	json_t *marks = call_marks_json(c, &played, &cleared, &pending);
	json_t *doc;
	size_t ngaps;
	double *gaps;

	doc = json_pack("{s:i, s:s, s:s, s:s?, s:o, s:o}", "call", c->index,
	    "call_sid", c->call_sid, "stream_sid", c->stream_sid, "scenario",
	    c->sim->script->name, "webhook_ms",
	    c->webhook_ms >= 0 ? json_integer(c->webhook_ms) : json_null(),
	    "webhook_status",
	    c->webhook_status ? json_integer(c->webhook_status) : json_null());
	call_write_wav(c, doc);
	json_object_set_new(
	    doc, "result", json_string(c->result ? c->result : "ok"));
	if (c->result != NULL)
		json_object_set_new(doc, "error", json_string(c->error));
	json_object_set_new(
	    doc, "signed", json_boolean(!(c->sim->bad & CALL_BAD_UNSIGNED)));
	json_object_set_new(doc, "upgrade_signed",
	    json_boolean(
		!(c->sim->bad & (CALL_BAD_UNSIGNED | CALL_BAD_UNSIGNED_WS))));
	if (c->have_twiml) {
		json_t *params = json_object();

		for (size_t i = 0; i < c->twiml.nparams; i++)
			json_object_set_new(params, c->twiml.params[i].name,
			    json_string(c->twiml.params[i].value));
		json_object_set_new(doc, "twiml",
		    json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:o}", "kind",
			twiml_kind_name(c->twiml.kind), "verbs", c->twiml.verbs,
			"stream_url", c->twiml.stream_url, "say", c->twiml.say,
			"hangup", c->twiml.hangup, "parameters", params));
	}
	json_object_set_new(doc, "upgrade_status",
	    ws->upgrade_status ? json_integer(ws->upgrade_status)
			       : json_null());
	json_object_set_new(doc, "upgrade_ms",
	    ws->open_ms >= 0 ? json_integer(ws->open_ms) : json_null());
	json_object_set_new(doc, "start_sent", json_boolean(c->start_sent));
	json_object_set_new(doc, "stop_sent", json_boolean(c->stop_sent));
	json_object_set_new(doc, "closed_by",
	    c->closed_by ? json_string(c->closed_by) : json_null());
	json_object_set_new(doc, "close_code",
	    c->close_code ? json_integer(c->close_code) : json_null());
	json_object_set_new(
	    doc, "greeting_ms", call_ms(c->first_audible, c->t_start));
	json_object_set_new(
	    doc, "first_media_ms", call_ms(c->first_media, c->t_start));
	gaps = call_gaps_ms(c, &ngaps);
	json_object_set_new(doc, "frame_gap_ms", metrics_summary(gaps, ngaps));
	free(gaps);
	json_object_set_new(
	    doc, "duration_ms", json_integer(clock_mono_ms() - c->t_begin));
	json_object_set_new(doc, "turns", call_turns_json(c));
	json_object_set_new(doc, "marks", marks);
	json_object_set_new(
	    doc, "marks_played", json_integer((json_int_t)played));
	json_object_set_new(
	    doc, "marks_cleared", json_integer((json_int_t)cleared));
	json_object_set_new(
	    doc, "marks_pending", json_integer((json_int_t)pending));
	json_object_set_new(doc, "clears", json_integer((json_int_t)p->clears));
	json_object_set_new(
	    doc, "underruns", json_integer((json_int_t)p->underruns));
	json_object_set_new(doc, "underrun_ms", json_integer(p->underrun_ms));
	json_object_set_new(
	    doc, "protocol_errors", json_integer((json_int_t)c->proto_errors));
	json_object_set_new(doc, "protocol_error_kinds", c->proto_kinds);
	c->proto_kinds = NULL;
	json_object_set_new(
	    doc, "heard_ms", json_integer((json_int_t)(p->played_bytes / 8)));
	json_object_set_new(doc, "heard_audible_ms",
	    json_integer((json_int_t)c->audible_frames * SIM_FRAME_MS));
	json_object_set_new(doc, "in",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "ws_bytes",
		(json_int_t)ws->bytes_in, "ws_messages",
		(json_int_t)ws->msgs_in, "media_messages",
		(json_int_t)c->media_in, "audio_bytes", (json_int_t)c->audio_in,
		"marks", (json_int_t)c->marks_in, "cleared_bytes",
		(json_int_t)p->cleared_bytes));
	json_object_set_new(doc, "out",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ws_bytes",
		(json_int_t)ws->bytes_out, "ws_messages",
		(json_int_t)ws->msgs_out, "media_frames",
		(json_int_t)c->frames_out, "audio_bytes",
		(json_int_t)c->frames_out * SIM_FRAME_BYTES, "marks_echoed",
		(json_int_t)c->echoes_out, "send_failed",
		(json_int_t)c->send_failed, "late_frames",
		(json_int_t)c->late_frames));
	return doc;
}

/* Store the call's figures for the aggregate in *m: webhook, greeting
 * and first-media ms (NAN when none), the replies and the gaps between
 * received media messages (new arrays, caller frees them with
 * call_metrics_free). */
void
call_metrics(const struct call *c, struct call_figures *m)
{
	m->webhook_ms =
	    c->webhook_ms >= 0 ? (double)c->webhook_ms : (double)NAN;
	m->greeting_ms = c->first_audible >= 0 && c->t_start >= 0
			     ? (double)(c->first_audible - c->t_start)
			     : (double)NAN;
	m->first_media_ms = c->first_media >= 0 && c->t_start >= 0
				? (double)(c->first_media - c->t_start)
				: (double)NAN;
	m->gap_ms = call_gaps_ms(c, &m->ngap);
	m->reply_ms = xreallocarray(NULL, c->nturns + 1, sizeof(double));
	m->nreply = 0;
	for (size_t i = 0; i < c->nturns; i++)
		if (c->turns[i].reply >= 0 && c->turns[i].end >= 0)
			m->reply_ms[m->nreply++] =
			    (double)(c->turns[i].reply - c->turns[i].end);
}

void
call_metrics_free(struct call_figures *m)
{
	free(m->reply_ms);
	free(m->gap_ms);
	m->reply_ms = m->gap_ms = NULL;
}

/* Release the call; takes NULL. Never from inside its callbacks (R8). */
void
call_free(struct call *c)
{
	if (c == NULL)
		return;
	if (c->req != NULL)
		httpc_cancel(c->req);
	wsc_free(c->ws);
	twiml_clear(&c->twiml);
	player_free(&c->player);
	json_decref(c->proto_kinds);
	for (size_t i = 0; i < c->nturns; i++)
		json_decref(c->turns[i].marks_after_clear);
	free(c->turns);
	free(c->gaps);
	free(c->wav);
	free(c);
}
