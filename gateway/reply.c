/*
 * One agent reply of one turn: its sentences by index, their audio played
 * in index order, and what of it the caller heard.
 *
 * Why: the llm-worker streams sentences as soon as each is complete and
 * the gateway sends each to TTS at once, in parallel, so audio comes back
 * in any order (a short sentence, a cached one, another tts-worker). The
 * caller must hear them in the order they were written. A sentence's
 * audio waits here until every sentence before it is queued (or skipped:
 * its TTS failed, or its text was blank), then goes to the call's playout
 * (playout.c), whose marks say what was played. Only heard sentences
 * enter the conversation the LLM sees next and the CRM's transcript.
 *
 * Pure: no sockets, no clock of its own (now_ms is passed through to the
 * playout), never logs; unit-tested in tests/unit/test_gateway_jobs.c.
 * Owns the texts and the audio waiting for its turn; a queued sentence's
 * audio belongs to the playout.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway.h"
#include "xmalloc.h"

#define REPLY_SENTENCES_MAX 256 /* an index beyond this is refused */
#define REPLY_NO_ITEM	    ((size_t)-1)

enum reply_state {
	REPLY_EMPTY,   /* nothing known of this index yet */
	REPLY_TEXT,    /* text known; audio awaited */
	REPLY_READY,   /* audio here, waiting for earlier sentences */
	REPLY_QUEUED,  /* handed to the playout (item) */
	REPLY_SKIPPED, /* no audio will come */
};

struct reply_sentence {
	enum reply_state state;
	char *text;
	uint8_t *audio;
	size_t len;
	size_t item; /* playout item index once queued */
};

struct reply {
	struct reply_sentence *v;
	size_t n;   /* slots in use: highest index seen + 1 */
	size_t cap; /* slots allocated */
	size_t next;
	long total; /* sentences in all (LLM_DONE), -1 until known */
};

/* Return a new, empty reply. */
struct reply *
reply_new(void)
{
	struct reply *r = xcalloc(1, sizeof(*r));

	r->total = -1;
	return r;
}

void
reply_free(struct reply *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].text);
		free(r->v[i].audio);
	}
	free(r->v);
	free(r);
}

static struct reply_sentence *
reply_slot(struct reply *r, long index)
{
	size_t i;

	if (index < 0 || index >= REPLY_SENTENCES_MAX)
		return NULL;
	i = (size_t)index;
	if (i >= r->cap) {
		size_t cap = r->cap ? r->cap : 8;

		while (cap <= i)
			cap *= 2;
		r->v = xreallocarray(r->v, cap, sizeof(*r->v));
		memset(r->v + r->cap, 0, (cap - r->cap) * sizeof(*r->v));
		r->cap = cap;
	}
	if (i >= r->n)
		r->n = i + 1;
	return &r->v[i];
}

/* Queue every sentence whose predecessors are all queued or skipped. */
static void
reply_flush(struct reply *r, struct playout *po, int64_t now_ms)
{
	while (r->next < r->n) {
		struct reply_sentence *s = &r->v[r->next];

		if (s->state == REPLY_READY) {
			s->item = REPLY_NO_ITEM;
			if (playout_enqueue(
				po, s->audio, s->len, s->text, now_ms) != 0)
				s->item = playout_nitems(po) - 1;
			free(s->audio);
			s->audio = NULL;
			s->state = s->item != REPLY_NO_ITEM ? REPLY_QUEUED
							    : REPLY_SKIPPED;
		} else if (s->state != REPLY_SKIPPED) {
			break;
		}
		r->next++;
	}
}

/*
 * Sentence index has text (copied). Return 0, or -1 for a duplicate or
 * an index out of range.
 */
int
reply_sentence(struct reply *r, long index, const char *text)
{
	struct reply_sentence *s = reply_slot(r, index);

	if (s == NULL || s->state != REPLY_EMPTY)
		return -1;
	s->text = xstrdup(text != NULL ? text : "");
	s->state = REPLY_TEXT;
	return 0;
}

/*
 * Sentence index has audio (len bytes of mu-law, copied): queue it on po
 * when every earlier sentence is queued, else keep it until they are.
 * Return 0 (queued), 1 (waits for an earlier sentence), or -1 when index
 * has no text yet or already had audio.
 */
int
reply_audio(struct reply *r, long index, const uint8_t *mulaw, size_t len,
    struct playout *po, int64_t now_ms)
{
	struct reply_sentence *s;

	if (index < 0 || (size_t)index >= r->n)
		return -1;
	s = &r->v[index];
	if (s->state != REPLY_TEXT)
		return -1;
	s->audio = xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(s->audio, mulaw, len);
	s->len = len;
	s->state = REPLY_READY;
	reply_flush(r, po, now_ms);
	return s->state == REPLY_READY ? 1 : 0;
}

/*
 * Sentence index will have no audio (TTS failed, blank text): later ones
 * need not wait for it. Return 0, or -1 when it was queued already.
 */
int
reply_skip(struct reply *r, long index, struct playout *po, int64_t now_ms)
{
	struct reply_sentence *s = reply_slot(r, index);

	if (s == NULL || s->state == REPLY_QUEUED)
		return -1;
	free(s->audio);
	s->audio = NULL;
	s->state = REPLY_SKIPPED;
	reply_flush(r, po, now_ms);
	return 0;
}

/*
 * The reply has n sentences in all (LLM_DONE); an index below n that
 * never came is skipped.
 */
void
reply_set_total(struct reply *r, long n, struct playout *po, int64_t now_ms)
{
	if (n < 0)
		n = 0;
	if (n > REPLY_SENTENCES_MAX)
		n = REPLY_SENTENCES_MAX;
	r->total = n;
	for (long i = 0; i < n; i++)
		if ((size_t)i >= r->n || r->v[i].state == REPLY_EMPTY)
			(void)reply_skip(r, i, po, now_ms);
	reply_flush(r, po, now_ms);
}

/* Return how many sentences have text. */
long
reply_count(const struct reply *r)
{
	long k = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].text != NULL)
			k++;
	return k;
}

/* Return how many sentences went to the playout. */
long
reply_queued(const struct reply *r)
{
	long k = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].state == REPLY_QUEUED)
			k++;
	return k;
}

/* Return true once the total is known and every sentence is placed. */
bool
reply_is_queued(const struct reply *r)
{
	return r->total >= 0 && r->next >= (size_t)r->total && r->next >= r->n;
}

/*
 * Return true once every sentence is placed and the playout knows what
 * became of each queued one (heard or cleared: no mark pending).
 */
bool
reply_is_played(const struct reply *r, const struct playout *po)
{
	if (!reply_is_queued(r))
		return false;
	for (size_t i = 0; i < r->n; i++) {
		enum playout_state st;

		if (r->v[i].state != REPLY_QUEUED)
			continue;
		st = playout_item_state(po, r->v[i].item);
		if (st == PLAYOUT_QUEUED || st == PLAYOUT_SENT)
			return false;
	}
	return true;
}

/* Return true when a queued sentence was cleared (not heard whole). */
bool
reply_is_interrupted(const struct reply *r, const struct playout *po)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].state == REPLY_QUEUED &&
		    playout_item_state(po, r->v[i].item) == PLAYOUT_CLEARED)
			return true;
	return false;
}

/*
 * Barge-in: nothing more of this reply will be queued. Every sentence not
 * on the playout yet is skipped (its audio freed) and the reply's total
 * is what is known now, so it counts as played once the queued ones'
 * marks are back (heard, or cleared by the barge-in's clear).
 */
void
reply_cut(struct reply *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct reply_sentence *s = &r->v[i];

		if (s->state == REPLY_QUEUED)
			continue;
		free(s->audio);
		s->audio = NULL;
		s->state = REPLY_SKIPPED;
	}
	r->next = r->n;
	r->total = (long)r->n;
}

static char *
reply_join(const struct reply *r, const struct playout *po, json_t *marks)
{
	size_t len = 0;
	char *out;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].text != NULL)
			len += strlen(r->v[i].text) + 1;
	out = xmalloc(len + 1);
	out[0] = '\0';
	len = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct reply_sentence *s = &r->v[i];
		size_t k;

		if (s->text == NULL || s->text[0] == '\0')
			continue;
		if (po != NULL &&
		    (s->state != REPLY_QUEUED ||
			playout_item_state(po, s->item) != PLAYOUT_HEARD))
			continue;
		if (po != NULL && marks != NULL)
			json_array_append_new(
			    marks, json_string(playout_item_mark(po, s->item)));
		if (len > 0)
			out[len++] = ' ';
		k = strlen(s->text);
		memcpy(out + len, s->text, k);
		len += k;
		out[len] = '\0';
	}
	return out;
}

/*
 * Return the text the caller heard (sentences whose mark came back, in
 * order, joined by spaces; new string) and append their mark names to
 * marks (a JSON array, may be NULL).
 */
char *
reply_heard(const struct reply *r, const struct playout *po, json_t *marks)
{
	return reply_join(r, po, marks);
}

/* Return every sentence's text as generated, joined (new string). */
char *
reply_generated(const struct reply *r)
{
	return reply_join(r, NULL, NULL);
}
