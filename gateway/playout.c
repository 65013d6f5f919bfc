/*
 * Outbound audio of one call: real-time pacing, sentence order, marks, and
 * what the caller has heard.
 *
 * Why paced: Twilio buffers whatever we send and plays it in order, so
 * sending a sentence at once is legal, but then a barge-in must clear a
 * long buffer and "how much was played" is only known from marks. Sending
 * 20 ms frames (160 bytes of mu-law, base64 in a media message) at real
 * time with a small lead (lead_ms, at most PLAYOUT_LEAD_MAX_MS) keeps
 * Twilio's buffer short, so `clear` is quick and the marks say precisely
 * what was heard. The lead absorbs the jitter of the gateway's timer; the
 * last frame of an item is padded with mu-law silence (whole frames play
 * smoothest).
 *
 * Items (sentences, phrases) play in the order they were queued; after the
 * last frame of each, a mark named "item-<id>" is sent. When Twilio echoes
 * it the item counts as heard, unless a `clear` was sent after its mark
 * (Twilio echoes pending marks on clear too, and an echo does not say
 * which happened), so it counts as cleared. Items dropped from the queue by
 * playout_clear or playout_stop are cleared as well. The records stay for
 * the call's life (playout_heard lists what the caller heard, in order),
 * but each item's audio is let go as soon as it is sent or dropped.
 *
 * Audio is held as a clip (clip.c): playout_enqueue copies the bytes into
 * a clip of its own (a sentence, a personal greeting), playout_enqueue_clip
 * takes a reference to a shared one (a fixed phrase, rendered once for
 * every call), so a phrase costs each call no copy, and a phrase replaced
 * meanwhile keeps playing whole to the calls that queued it.
 *
 * Clock: the core never reads a clock; the caller passes now_ms (monotonic
 * ms) to playout_enqueue, playout_tick and playout_clear. call.c drives
 * every call's playout from ONE timer; the unit tests drive it with a fake
 * clock. Frames are due every PLAYOUT_FRAME_MS from the moment an idle
 * playout gets audio; one sent more than late_ms after it was due counts
 * as late, and after a stall over PLAYOUT_RESYNC_MS the schedule restarts
 * from now instead of bursting the backlog.
 *
 * Pause (playout_pause): while the caller speaks over the agent, no frame
 * is sent (Twilio plays out only the lead it holds); on resume the
 * schedule restarts from now, so the rest is not burst out to catch up.
 *
 * Output goes through struct playout_ops; a send that fails (the
 * connection is over) stops the playout. Never logs; counts in the shared
 * struct playout_stats.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "mulaw.h"
#include "xmalloc.h"

struct playout_rec {
	unsigned long id;
	char name[32];	    /* the mark's name */
	char *label;	    /* what it was, for the heard list */
	struct clip *audio; /* one reference; NULL once sent or dropped */
	size_t len;
	size_t off; /* bytes sent */
	enum playout_state state;
	unsigned long epoch; /* clears sent before its mark */
};

struct playout {
	const struct playout_ops *ops;
	void *arg;
	struct playout_stats *st;
	long lead_ms;
	long late_ms;
	struct playout_rec *items;
	size_t n;
	size_t cap;
	size_t qhead;	  /* first item not fully sent */
	int64_t next_due; /* when the next frame is due */
	bool running;	  /* frames flowed at the last tick */
	bool stopped;
	bool paused; /* the caller speaks over the agent (bargein.c) */
	unsigned long next_id;
	unsigned long epoch;
};

static const char *const playout_state_names[] = {
    "queued", "sent", "heard", "cleared"};

/* Return a short name of s ("heard"). */
const char *
playout_state_name(enum playout_state s)
{
	if ((size_t)s <
	    sizeof(playout_state_names) / sizeof(*playout_state_names))
		return playout_state_names[s];
	return "?";
}

/*
 * Return a new, empty playout that sends through ops (with arg), keeps
 * lead_ms of audio ahead of real time (clamped to PLAYOUT_FRAME_MS ..
 * PLAYOUT_LEAD_MAX_MS), counts frames sent more than late_ms late as late
 * and adds its counts to *st.
 */
struct playout *
playout_new(const struct playout_ops *ops, void *arg, long lead_ms,
    long late_ms, struct playout_stats *st)
{
	struct playout *po = xcalloc(1, sizeof(*po));

	if (lead_ms < PLAYOUT_FRAME_MS)
		lead_ms = PLAYOUT_FRAME_MS;
	if (lead_ms > PLAYOUT_LEAD_MAX_MS)
		lead_ms = PLAYOUT_LEAD_MAX_MS;
	po->ops = ops;
	po->arg = arg;
	po->st = st;
	po->lead_ms = lead_ms;
	po->late_ms = late_ms > 0 ? late_ms : 1;
	po->next_id = 1;
	return po;
}

void
playout_free(struct playout *po)
{
	if (po == NULL)
		return;
	for (size_t i = 0; i < po->n; i++) {
		clip_unref(po->items[i].audio);
		free(po->items[i].label);
	}
	free(po->items);
	free(po);
}

/*
 * Queue len bytes of 8 kHz mu-law (copied) labelled label (the sentence's
 * text or a phrase's name) after what is queued. Return the item's id
 * (its mark is "item-<id>"), or 0 once the playout is stopped.
 */
unsigned long
playout_enqueue(struct playout *po, const uint8_t *mulaw, size_t len,
    const char *label, int64_t now_ms)
{
	struct clip *c;
	unsigned long id;

	if (po->stopped)
		return 0;
	c = clip_new(mulaw, len);
	id = playout_enqueue_clip(po, c, label, now_ms);
	clip_unref(c);
	return id;
}

/*
 * As playout_enqueue, but share clip's audio (the item takes a reference
 * of its own, let go once the item is sent or dropped) instead of copying
 * it. Return the item's id, or 0 once the playout is stopped.
 */
unsigned long
playout_enqueue_clip(
    struct playout *po, struct clip *clip, const char *label, int64_t now_ms)
{
	struct playout_rec *r;

	if (po->stopped || clip == NULL)
		return 0;
	if (po->n == po->cap) {
		po->cap = po->cap ? po->cap * 2 : 16;
		po->items =
		    xreallocarray(po->items, po->cap, sizeof(*po->items));
	}
	r = &po->items[po->n++];
	memset(r, 0, sizeof(*r));
	r->id = po->next_id++;
	snprintf(r->name, sizeof(r->name), "item-%lu", r->id);
	r->label = xstrdup(label != NULL ? label : "");
	r->audio = clip_ref(clip);
	r->len = clip_len(clip);
	r->state = PLAYOUT_QUEUED;
	(void)now_ms;
	return r->id;
}

/* Drop the audio of r and count it as cleared. */
static void
playout_drop(struct playout_rec *r)
{
	clip_unref(r->audio);
	r->audio = NULL;
	r->state = PLAYOUT_CLEARED;
}

/* The item at the head of the queue is sent whole: send its mark. */
static int
playout_finish_item(struct playout *po, struct playout_rec *r)
{
	clip_unref(r->audio);
	r->audio = NULL;
	r->state = PLAYOUT_SENT;
	r->epoch = po->epoch;
	po->qhead++;
	po->st->marks_sent++;
	return po->ops->mark(po->arg, r->name);
}

/*
 * Send every frame due by now_ms + the lead, each followed (at the end of
 * its item) by the item's mark. Call it often (every 10-20 ms) while
 * audio is queued; calling it more often never sends early.
 */
void
playout_tick(struct playout *po, int64_t now_ms)
{
	uint8_t frame[PLAYOUT_FRAME_BYTES];

	if (po->paused)
		return;
	while (!po->stopped && po->qhead < po->n) {
		struct playout_rec *r = &po->items[po->qhead];
		size_t take;

		if (r->state != PLAYOUT_QUEUED) {
			po->qhead++;
			continue;
		}
		if (!po->running) {
			po->running = true;
			if (po->next_due < now_ms)
				po->next_due = now_ms;
		}
		if (r->off >= r->len) { /* empty item: its mark only */
			if (playout_finish_item(po, r) < 0)
				po->stopped = true;
			continue;
		}
		if (po->next_due + PLAYOUT_FRAME_MS > now_ms + po->lead_ms)
			break;
		if (now_ms - po->next_due > po->late_ms) {
			po->st->late_frames++;
			if (now_ms - po->next_due > PLAYOUT_RESYNC_MS)
				po->next_due = now_ms;
		}
		take = r->len - r->off;
		if (take > PLAYOUT_FRAME_BYTES)
			take = PLAYOUT_FRAME_BYTES;
		memcpy(frame, clip_bytes(r->audio) + r->off, take);
		memset(frame + take, MULAW_SILENCE, sizeof(frame) - take);
		if (po->ops->media(po->arg, frame, sizeof(frame)) < 0) {
			po->stopped = true;
			break;
		}
		po->st->frames_sent++;
		r->off += take;
		po->next_due += PLAYOUT_FRAME_MS;
		if (r->off >= r->len && playout_finish_item(po, r) < 0)
			po->stopped = true;
	}
	if (po->qhead >= po->n)
		po->running = false;
}

/*
 * Barge-in: drop everything queued (also an item half sent), send `clear`
 * so Twilio drops what it buffered, and count marks echoed from now on
 * for earlier items as cleared. Return the clear send's result.
 */
int
playout_clear(struct playout *po, int64_t now_ms)
{
	for (size_t i = po->qhead; i < po->n; i++)
		if (po->items[i].state == PLAYOUT_QUEUED)
			playout_drop(&po->items[i]);
	po->qhead = po->n;
	po->epoch++;
	po->running = false;
	po->paused = false;
	po->next_due = now_ms;
	if (po->stopped)
		return -1;
	po->st->clears++;
	return po->ops->clear(po->arg);
}

/* The stream stopped: drop the queue and send nothing more. */
void
playout_stop(struct playout *po)
{
	for (size_t i = po->qhead; i < po->n; i++)
		if (po->items[i].state == PLAYOUT_QUEUED)
			playout_drop(&po->items[i]);
	po->qhead = po->n;
	po->running = false;
	po->stopped = true;
}

/*
 * Twilio echoed the mark name: the item it ends was heard (or cleared, if
 * a clear went out after it). Return 0, or -1 for a name we have no
 * pending mark for.
 */
int
playout_mark_echo(struct playout *po, const char *name)
{
	for (size_t i = 0; i < po->n; i++) {
		struct playout_rec *r = &po->items[i];

		if (r->state != PLAYOUT_SENT || strcmp(r->name, name) != 0)
			continue;
		if (r->epoch == po->epoch) {
			r->state = PLAYOUT_HEARD;
			po->st->marks_heard++;
		} else {
			r->state = PLAYOUT_CLEARED;
			po->st->marks_cleared++;
		}
		return 0;
	}
	return -1;
}

/* Return true when nothing is queued (marks may still be pending). */
bool
playout_is_idle(const struct playout *po)
{
	return po->qhead >= po->n;
}

/* Return how many items were ever queued. */
size_t
playout_nitems(const struct playout *po)
{
	return po->n;
}

/* Return the label of item i (in queue order), or NULL past the end. */
const char *
playout_item_label(const struct playout *po, size_t i)
{
	return i < po->n ? po->items[i].label : NULL;
}

/* Return the mark name of item i ("item-3"), or NULL past the end. */
const char *
playout_item_mark(const struct playout *po, size_t i)
{
	return i < po->n ? po->items[i].name : NULL;
}

/* Return what became of item i (PLAYOUT_CLEARED past the end). */
enum playout_state
playout_item_state(const struct playout *po, size_t i)
{
	return i < po->n ? po->items[i].state : PLAYOUT_CLEARED;
}

/*
 * Store in labels (up to max) the labels of the items the caller heard,
 * in order; return how many were heard in all.
 */
size_t
playout_heard(const struct playout *po, const char **labels, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < po->n; i++) {
		if (po->items[i].state != PLAYOUT_HEARD)
			continue;
		if (k < max)
			labels[k] = po->items[i].label;
		k++;
	}
	return k;
}

/* Return how far ahead of now_ms the audio sent so far reaches (>= 0). */
int64_t
playout_ahead_ms(const struct playout *po, int64_t now_ms)
{
	return po->next_due > now_ms ? po->next_due - now_ms : 0;
}

/*
 * Barge-in's first step (bargein.c): stop sending frames while paused;
 * on resume, restart the schedule from now_ms.
 */
void
playout_pause(struct playout *po, bool paused, int64_t now_ms)
{
	if (po->paused == paused)
		return;
	po->paused = paused;
	po->running = false;
	if (!paused && po->next_due < now_ms)
		po->next_due = now_ms;
}

/* Return true while paused. */
bool
playout_is_paused(const struct playout *po)
{
	return po->paused;
}

/*
 * Return true while the agent can be heard, or soon will be: an item is
 * queued, or its mark has not come back.
 */
bool
playout_is_playing(const struct playout *po)
{
	if (po->qhead < po->n)
		return true;
	for (size_t i = po->n; i > 0; i--) {
		enum playout_state st = po->items[i - 1].state;

		if (st == PLAYOUT_SENT || st == PLAYOUT_QUEUED)
			return true;
		if (st == PLAYOUT_HEARD)
			break; /* marks come back in order */
	}
	return false;
}
