/*
 * The watchdog's rules: which calls it watches and when one is dead.
 *
 * Why a file of its own, and pure: these few rules decide whether a
 * caller is saved by a Record fallback or talked over by one, so they are
 * written once, with no socket, timer or clock of their own (every
 * function takes "now" in ms), and tests drive them over a fake clock.
 * follow.c feeds them the gateways' CALL_EVENTs and crm-store's calls in
 * progress, asks them each tick which calls are due, and reports how each
 * redirect ended.
 *
 * The rules (docs/watchdog.md):
 *   never started  a call whose voice webhook was answered (WAITING) and
 *                  whose stream has not started start_timeout_ms later;
 *   stalled        a call whose stream started (LIVE) with no media tick
 *                  (the gateway sends one per second while inbound audio
 *                  flows) for media_timeout_ms;
 *   handed off     a call the gateway handed off (transfer, hang-up) is
 *                  never touched again;
 *   stop, end      the call is forgotten;
 *   once           a call is redirected at most once: after the decision
 *                  it stays as a tombstone (REDIRECTED) that ignores
 *                  every event but stop and end, unless Twilio said the
 *                  call is gone, which forgets it.
 * An event for an unknown call is adopted where that is safe: a stream
 * start or a media tick means a live stream (the watchdog restarted, or
 * the webhook reached it late); stop and end of an unknown call are
 * ignored; a handoff leaves a tombstone so a late tick cannot revive it.
 *
 * Bounds: at most lim.max_calls entries. When the table is full a new
 * call first takes the place of the oldest tombstone; with none, it is
 * refused (counted; follow.c logs it). Every entry is dropped
 * lim.max_age_ms after it was first heard of, whatever its state, so a
 * flood of webhooks or lost end events cannot grow the table for ever.
 * Lookups go through a hash of the call SID (FNV-1a); scans walk the
 * table in creation order.
 *
 * Not thread-safe; no allocation failure to handle (xmalloc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchdog.h"
#include "xmalloc.h"

#define RULES_BUCKETS_MIN 16
#define RULES_BUCKETS_MAX ((size_t)1 << 20)

static const char *const rules_event_names[RULES_EV_COUNT] = {"webhook",
    "stream_start", "media", "stop", "handoff", "end", "adopt",
    "adopt_waiting"};

/* Return the bucket of call SID sid. */
static struct rules_bucket *
rules_bucket_of(const struct rules_table *t, const char *sid)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)sid; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return &t->buckets[h & (t->nbuckets - 1)];
}

static bool
rules_is_tomb(enum rules_state st)
{
	return st == RULES_REDIRECTED || st == RULES_HANDED_OFF;
}

static void
rules_set_state(
    struct rules_table *t, struct rules_call *c, enum rules_state st)
{
	if (rules_is_tomb(c->state) && !rules_is_tomb(st))
		t->ntomb--;
	else if (!rules_is_tomb(c->state) && rules_is_tomb(st))
		t->ntomb++;
	c->state = st;
}

static void
rules_remove(struct rules_table *t, struct rules_call *c)
{
	if (rules_is_tomb(c->state))
		t->ntomb--;
	TAILQ_REMOVE(&t->calls, c, age);
	LIST_REMOVE(c, hash);
	t->n--;
	free(c);
}

/*
 * Make room for one more entry: nothing to do below the cap; else drop
 * the oldest tombstone. Return -1 when the table is full of watched calls.
 */
static int
rules_make_room(struct rules_table *t)
{
	struct rules_call *c;

	if (t->n < t->lim.max_calls)
		return 0;
	if (t->ntomb == 0)
		return -1;
	for (c = TAILQ_FIRST(&t->calls); c != NULL; c = TAILQ_NEXT(c, age))
		if (rules_is_tomb(c->state))
			break;
	if (c == NULL)
		return -1;
	rules_remove(t, c);
	t->evicted++;
	return 0;
}

static void
rules_copy(char *dst, size_t size, const char *src)
{
	if (src == NULL)
		return;
	snprintf(dst, size, "%s", src);
}

/* Add call sid in state st, or return NULL (counted) when full. */
static struct rules_call *
rules_insert(
    struct rules_table *t, const char *sid, enum rules_state st, int64_t now)
{
	struct rules_call *c;

	if (rules_make_room(t) < 0) {
		t->refused++;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	rules_copy(c->call_sid, sizeof(c->call_sid), sid);
	c->state = st;
	if (rules_is_tomb(st))
		t->ntomb++;
	c->created_ms = now;
	c->since_ms = now;
	TAILQ_INSERT_TAIL(&t->calls, c, age);
	LIST_INSERT_HEAD(rules_bucket_of(t, sid), c, hash);
	t->n++;
	return c;
}

/*
 * Make a table with limits lim (copied). Never fails. A cap of 0 is
 * taken as 1.
 */
struct rules_table *
rules_new(const struct rules_limits *lim)
{
	struct rules_table *t = xcalloc(1, sizeof(*t));

	t->lim = *lim;
	if (t->lim.max_calls == 0)
		t->lim.max_calls = 1;
	t->nbuckets = RULES_BUCKETS_MIN;
	while (
	    t->nbuckets < t->lim.max_calls && t->nbuckets < RULES_BUCKETS_MAX)
		t->nbuckets <<= 1;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	for (size_t i = 0; i < t->nbuckets; i++)
		LIST_INIT(&t->buckets[i]);
	TAILQ_INIT(&t->calls);
	return t;
}

/* Free the table and every entry (NULL allowed). */
void
rules_free(struct rules_table *t)
{
	struct rules_call *c;

	if (t == NULL)
		return;
	while ((c = TAILQ_FIRST(&t->calls)) != NULL)
		rules_remove(t, c);
	free(t->buckets);
	free(t);
}

/* Return the entry of call SID sid, or NULL. */
struct rules_call *
rules_find(const struct rules_table *t, const char *sid)
{
	struct rules_call *c;

	if (sid == NULL || sid[0] == '\0')
		return NULL;
	for (c = LIST_FIRST(rules_bucket_of(t, sid)); c != NULL;
	     c = LIST_NEXT(c, hash))
		if (strcmp(c->call_sid, sid) == 0)
			return c;
	return NULL;
}

size_t
rules_count(const struct rules_table *t)
{
	return t->n;
}

/* A stream start or media tick: the call has a live stream now. */
static enum rules_verdict
rules_on_stream(struct rules_table *t, struct rules_call *c,
    enum rules_event ev, const char *sid, const char *stream_sid, int64_t now)
{
	enum rules_verdict v = RULES_UPDATED;

	if (c == NULL) {
		if ((c = rules_insert(t, sid, RULES_LIVE, now)) == NULL)
			return RULES_REFUSED;
		v = RULES_TRACKED;
	} else if (c->state != RULES_WAITING && c->state != RULES_LIVE) {
		return RULES_IGNORED;
	}
	rules_set_state(t, c, RULES_LIVE);
	c->since_ms = now;
	if (ev == RULES_EV_MEDIA)
		c->ticks++;
	if (stream_sid != NULL && stream_sid[0] != '\0' &&
	    (ev == RULES_EV_STREAM_START || c->stream_sid[0] == '\0'))
		rules_copy(c->stream_sid, sizeof(c->stream_sid), stream_sid);
	return v;
}

/*
 * Apply event ev of call sid (stream_sid and business_id optional, kept
 * for the logs) at time now, and say what it did.
 */
enum rules_verdict
rules_on_event(struct rules_table *t, enum rules_event ev, const char *call_sid,
    const char *stream_sid, const char *business_id, int64_t now)
{
	struct rules_call *c;
	enum rules_verdict v;

	if (call_sid == NULL || call_sid[0] == '\0' ||
	    strlen(call_sid) > MSG_SID_MAX)
		return RULES_IGNORED;
	c = rules_find(t, call_sid);
	switch (ev) {
	case RULES_EV_WEBHOOK:
	case RULES_EV_ADOPT_WAITING:
	case RULES_EV_ADOPT:
		if (c != NULL)
			return RULES_IGNORED; /* a retried webhook */
		c = rules_insert(t, call_sid,
		    ev == RULES_EV_ADOPT ? RULES_LIVE : RULES_WAITING, now);
		if (c == NULL)
			return RULES_REFUSED;
		c->adopted = ev != RULES_EV_WEBHOOK;
		v = RULES_TRACKED;
		break;
	case RULES_EV_STREAM_START:
	case RULES_EV_MEDIA:
		v = rules_on_stream(t, c, ev, call_sid, stream_sid, now);
		if (v == RULES_TRACKED || v == RULES_UPDATED)
			c = rules_find(t, call_sid);
		break;
	case RULES_EV_HANDOFF:
		if (c == NULL)
			c = rules_insert(t, call_sid, RULES_HANDED_OFF, now);
		else
			rules_set_state(t, c, RULES_HANDED_OFF);
		/* Not watched from now on, whether or not a tombstone fit. */
		v = RULES_FORGOTTEN;
		break;
	case RULES_EV_STOP:
	case RULES_EV_END:
		if (c == NULL)
			return RULES_IGNORED;
		rules_remove(t, c);
		return RULES_FORGOTTEN;
	default:
		return RULES_IGNORED;
	}
	if (c != NULL && business_id != NULL && business_id[0] != '\0')
		rules_copy(c->business_id, sizeof(c->business_id), business_id);
	return v;
}

/*
 * Find the calls due for a redirect at now, at most max of them, oldest
 * first; copy each into out and mark it REDIRECTING (so it is never
 * chosen again). Return how many.
 */
size_t
rules_due(struct rules_table *t, int64_t now, struct rules_due *out, size_t max)
{
	struct rules_call *c;
	size_t n = 0;

	for (c = TAILQ_FIRST(&t->calls); c != NULL && n < max;
	     c = TAILQ_NEXT(c, age)) {
		int64_t idle = now - c->since_ms;
		struct rules_due *d;

		if (c->state == RULES_WAITING &&
		    idle >= t->lim.start_timeout_ms)
			c->reason = RULES_NEVER_STARTED;
		else if (c->state == RULES_LIVE &&
			 idle >= t->lim.media_timeout_ms)
			c->reason = RULES_STALLED;
		else
			continue;
		rules_set_state(t, c, RULES_REDIRECTING);
		c->due_ms = now;
		d = &out[n++];
		memset(d, 0, sizeof(*d));
		rules_copy(d->call_sid, sizeof(d->call_sid), c->call_sid);
		rules_copy(d->stream_sid, sizeof(d->stream_sid), c->stream_sid);
		rules_copy(
		    d->business_id, sizeof(d->business_id), c->business_id);
		d->reason = c->reason;
		d->waited_ms = (long)idle;
		d->adopted = c->adopted;
	}
	return n;
}

/*
 * Record how the redirect of call sid ended: gone (Twilio says the call
 * is over) forgets the call; anything else leaves a REDIRECTED tombstone
 * so the call is never redirected again. A call already forgotten (its
 * stop or end came first) is left alone.
 */
void
rules_redirect_done(struct rules_table *t, const char *call_sid, bool gone)
{
	struct rules_call *c = rules_find(t, call_sid);

	if (c == NULL)
		return;
	if (gone)
		rules_remove(t, c);
	else
		rules_set_state(t, c, RULES_REDIRECTED);
}

/*
 * Drop every entry first heard of at least lim.max_age_ms before now,
 * calling fn (may be NULL) on each just before it goes. Return how many.
 */
size_t
rules_expire(struct rules_table *t, int64_t now,
    void (*fn)(const struct rules_call *c, void *arg), void *arg)
{
	struct rules_call *c;
	size_t n = 0;

	while ((c = TAILQ_FIRST(&t->calls)) != NULL &&
	       // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
	       now - c->created_ms >= t->lim.max_age_ms) {
		if (fn != NULL)
			fn(c, arg);
		rules_remove(t, c);
		t->aged_out++;
		n++;
	}
	return n;
}

/* Parse a CALL_EVENT "event" name; 0, or -1 when unknown. */
int
rules_event_parse(const char *name, enum rules_event *out)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < RULES_EV_COUNT; i++)
		if (strcmp(name, rules_event_names[i]) == 0) {
			*out = (enum rules_event)i;
			return 0;
		}
	return -1;
}

const char *
rules_event_name(enum rules_event ev)
{
	return (unsigned)ev < RULES_EV_COUNT ? rules_event_names[ev] : "?";
}

const char *
rules_state_name(enum rules_state st)
{
	switch (st) {
	case RULES_WAITING:
		return "waiting";
	case RULES_LIVE:
		return "live";
	case RULES_REDIRECTING:
		return "redirecting";
	case RULES_REDIRECTED:
		return "redirected";
	case RULES_HANDED_OFF:
		return "handed_off";
	}
	return "?";
}

const char *
rules_reason_name(enum rules_reason r)
{
	return r == RULES_NEVER_STARTED ? "never_started" : "stalled";
}

const char *
rules_verdict_name(enum rules_verdict v)
{
	switch (v) {
	case RULES_TRACKED:
		return "tracked";
	case RULES_UPDATED:
		return "updated";
	case RULES_FORGOTTEN:
		return "forgotten";
	case RULES_IGNORED:
		return "ignored";
	case RULES_REFUSED:
		return "refused";
	}
	return "?";
}
