/*
 * player.c: play what the gateway sends the way Twilio plays it.
 *
 * Why: the gateway learns what the caller heard only from mark echoes
 * (shared reference twilio.md section 2.5), so the simulated caller must
 * echo them as Twilio does: audio is buffered and played in the order
 * received, in real time; a mark is echoed when all audio received
 * before it has played, or at once when nothing is buffered; clear drops
 * every buffered byte and echoes every pending mark at once. A mark echo
 * looks the same either way, so each mark here also records whether its
 * audio played fully (echoed by playback) or was cleared: what the
 * gateway's heard-text bookkeeping should agree with.
 *
 * Model: a byte queue of received mu-law; positions count bytes ever
 * received and ever consumed (played or cleared), and a mark sits at the
 * position received when it arrived. After the queue runs empty, playback
 * restarts only when the jitter buffer holds jitter_ms of audio or the
 * first byte has waited jitter_ms (a small fixed jitter buffer). The
 * caller asks for one 20 ms frame per frame time (player_frame); a frame
 * that ran out of audio is padded with silence.
 *
 * Underrun: the queue ran dry right after audio that no mark closed, and
 * more audio came before a mark or a clear: a gap inside a sentence, what
 * a stalled pacer sounds like. Its length is added to underrun_ms.
 *
 * Pure: no clock of its own (the caller passes now_ms), no I/O, no
 * logging. Echoes wait in an outbox the caller drains and sends. Unit-
 * tested by #including this file.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mulaw.h"
#include "sim_caller.h"
#include "xmalloc.h"

/* Frames quieter than this RMS (about -45 dBFS) count as silence. */
#define PLAYER_AUDIBLE_RMS 184

void
player_init(struct player *p, int jitter_ms)
{
	memset(p, 0, sizeof(*p));
	p->state = PLAYER_IDLE;
	p->jitter_ms = jitter_ms < 0 ? 0 : jitter_ms;
}

void
player_free(struct player *p)
{
	free(p->buf);
	for (size_t i = 0; i < p->nmarks; i++)
		free(p->marks[i].name);
	free(p->marks);
	free(p->outbox);
	memset(p, 0, sizeof(*p));
}

static void
player_echo(struct player *p, size_t i, bool played, int64_t now_ms)
{
	p->marks[i].echo_ms = now_ms;
	p->marks[i].played = played;
	if (p->noutbox == p->capoutbox) {
		p->capoutbox = p->capoutbox ? 2 * p->capoutbox : 8;
		p->outbox =
		    xreallocarray(p->outbox, p->capoutbox, sizeof(*p->outbox));
	}
	p->outbox[p->noutbox++] = i;
}

/* Echo every mark whose audio has all been consumed. */
static void
player_echo_reached(struct player *p, bool played, int64_t now_ms)
{
	while (p->next_mark < p->nmarks &&
	       p->marks[p->next_mark].pos <= p->consumed) {
		player_echo(p, p->next_mark, played, now_ms);
		p->next_mark++;
	}
}

/* Queue len bytes of received audio. */
void
player_audio(struct player *p, const uint8_t *data, size_t len, int64_t now_ms)
{
	size_t have;

	if (len == 0)
		return;
	if (p->dry) {
		p->underruns++;
		p->underrun_ms += now_ms - p->dry_since;
		p->dry = false;
	}
	have = p->tail - p->head;
	if (p->tail + len > p->cap) {
		if (p->head > 0) {
			memmove(p->buf, p->buf + p->head, have);
			p->head = 0;
			p->tail = have;
		}
		if (have + len > p->cap) {
			size_t cap = p->cap ? p->cap : 4096;

			while (cap < have + len)
				cap *= 2;
			p->buf = xreallocarray(p->buf, cap, 1);
			p->cap = cap;
		}
	}
	memcpy(p->buf + p->tail, data, len);
	p->tail += len;
	p->received += len;
	if (p->state == PLAYER_IDLE) {
		p->state = PLAYER_BUFFERING;
		p->buffering_since = now_ms;
	}
}

/* Note a mark; it is echoed at once when nothing is buffered. */
void
player_mark(struct player *p, const char *name, int64_t now_ms)
{
	struct player_mark *m;

	if (p->nmarks == p->capmarks) {
		p->capmarks = p->capmarks ? 2 * p->capmarks : 16;
		p->marks =
		    xreallocarray(p->marks, p->capmarks, sizeof(*p->marks));
	}
	m = &p->marks[p->nmarks++];
	m->name = xstrdup(name);
	m->pos = p->received;
	m->recv_ms = now_ms;
	m->echo_ms = -1;
	m->played = false;
	p->dry = false; /* the sentence ended; a gap before it is no underrun */
	player_echo_reached(p, true, now_ms);
}

/* Drop every buffered byte and echo every pending mark (not played). */
void
player_clear(struct player *p, int64_t now_ms)
{
	p->clears++;
	p->cleared_bytes += p->tail - p->head;
	p->consumed = p->received;
	p->head = p->tail = 0;
	p->state = PLAYER_IDLE;
	p->dry = false;
	player_echo_reached(p, false, now_ms);
}

/*
 * Play the frame due at now_ms into out (silence where no audio plays)
 * and echo the marks it reaches. Return the number of received audio
 * bytes it holds (0 while idle or filling the jitter buffer).
 */
size_t
player_frame(struct player *p, int64_t now_ms, uint8_t out[SIM_FRAME_BYTES])
{
	size_t n;

	memset(out, MULAW_SILENCE, SIM_FRAME_BYTES);
	/* A frame time before the audio arrived cannot play it. */
	if (p->state == PLAYER_BUFFERING && now_ms >= p->buffering_since &&
	    (p->tail - p->head >= (size_t)p->jitter_ms * 8 ||
		now_ms - p->buffering_since >= p->jitter_ms))
		p->state = PLAYER_PLAYING;
	if (p->state != PLAYER_PLAYING)
		return 0;
	n = p->tail - p->head;
	if (n > SIM_FRAME_BYTES)
		n = SIM_FRAME_BYTES;
	memcpy(out, p->buf + p->head, n);
	p->head += n;
	p->consumed += n;
	p->played_bytes += n;
	player_echo_reached(p, true, now_ms);
	if (p->head == p->tail) {
		p->head = p->tail = 0;
		p->state = PLAYER_IDLE;
		if (p->nmarks == 0 ||
		    p->marks[p->nmarks - 1].pos != p->consumed) {
			p->dry = true;
			p->dry_since = now_ms;
		}
	}
	return n;
}

/* Return true when nothing is buffered or playing. */
bool
player_is_idle(const struct player *p)
{
	return p->state == PLAYER_IDLE;
}

/* Move up to max mark indexes to echo into idx, oldest first; return how
 * many. */
size_t
player_take_outbox(struct player *p, size_t *idx, size_t max)
{
	size_t n = p->noutbox < max ? p->noutbox : max;

	if (n == 0)
		return 0;
	memcpy(idx, p->outbox, n * sizeof(*idx));
	memmove(p->outbox, p->outbox + n, (p->noutbox - n) * sizeof(*idx));
	p->noutbox -= n;
	return n;
}

/* Return true when the n mu-law bytes at frame are louder than about
 * -45 dBFS RMS (speech, not silence or faint noise). */
bool
player_frame_is_audible(const uint8_t *frame, size_t n)
{
	int64_t sum = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		int64_t s = mulaw_decode(frame[i]);

		sum += s * s;
	}
	return sum >=
	       (int64_t)PLAYER_AUDIBLE_RMS * PLAYER_AUDIBLE_RMS * (int64_t)n;
}
