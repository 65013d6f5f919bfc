/*
 * A clip: immutable 8 kHz mu-law audio shared by reference count.
 *
 * Why: the fixed phrases (phrases.c) are rendered once and every call
 * plays them; the greeting alone is about 8 KB per second of speech, so
 * copying it into each call's playout queue made most of the gateway's
 * memory per call (docs/benchmarks.md). A playout item holds a reference
 * to the phrase's clip instead. Phrases can be replaced at run time (a
 * business reloaded from crm-store with a new greeting re-renders its
 * phrases), so a borrowed pointer would dangle under a call still playing
 * the old greeting: each holder owns a reference, and the clip is freed
 * when the last one lets go (the phrase set, or the last call to send or
 * drop it).
 *
 * Never written after clip_new. The loop is single-threaded, so the count
 * needs no atomics; clip_live counts clips not yet freed, for the tests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "xmalloc.h"

struct clip {
	unsigned long refs;
	size_t len;
	uint8_t bytes[];
};

static size_t clip_nlive;

/* Return a new clip holding a copy of len bytes of mulaw, one reference. */
struct clip *
clip_new(const uint8_t *mulaw, size_t len)
{
	struct clip *c = xmalloc(sizeof(*c) + (len > 0 ? len : 1));

	c->refs = 1;
	c->len = len;
	if (len > 0)
		memcpy(c->bytes, mulaw, len);
	clip_nlive++;
	return c;
}

/* Take one more reference to c; return c. */
struct clip *
clip_ref(struct clip *c)
{
	if (c != NULL)
		c->refs++;
	return c;
}

/* Drop one reference to c (NULL: nothing); free it with the last. */
void
clip_unref(struct clip *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	clip_nlive--;
	free(c);
}

/* Return the audio of c (never NULL; len bytes, possibly 0). */
const uint8_t *
clip_bytes(const struct clip *c)
{
	return c->bytes;
}

/* Return how many bytes of audio c holds. */
size_t
clip_len(const struct clip *c)
{
	return c->len;
}

/* Return how many clips exist (not yet freed), process-wide. */
size_t
clip_live(void)
{
	return clip_nlive;
}
