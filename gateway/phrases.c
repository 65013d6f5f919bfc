/*
 * Each business's greeting and fixed phrases, as mu-law audio in memory.
 *
 * Why: a caller must hear the greeting within a second of the stream's
 * `start`, and the filler ("רגע, אני בודקת"), the apology, the transfer
 * notice and the goodbye must play even when a stage is down. So the
 * gateway keeps them rendered, per business, and plays them from memory.
 *
 * Where the audio comes from: until the tts-worker answers TTS jobs for
 * them (a later step replaces entries through phrases_set), and whenever
 * no tts-worker answers, the gateway renders them itself with espeak-ng
 * (common/audio.c) AT START, from gateway_init (phrases_render): never on
 * the audio path, because espeak blocks for tens of milliseconds per
 * phrase. The set with business NULL is the default every business falls
 * back to; its greeting text is MERKAZIA_GREETING_TEXT.
 *
 * Owns every text it holds, and one reference to each phrase's audio, a
 * clip (clip.c) that calls share: call_play queues the clip itself, not a
 * copy. phrases_set (a business reloaded with a new greeting re-renders
 * its phrases) lets go of the old clip; calls still playing it hold their
 * own references, so they play it to the end and the last frees it.
 * phrases_free at shutdown. The loop is single-threaded, so a phrase
 * returned by phrases_get stays valid until the next phrases_set of the
 * same entry.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "gateway.h"
#include "log.h"
#include "xmalloc.h"

struct phrases_biz {
	char *business; /* NULL: the default set */
	struct phrase p[PHRASE_N];
};

struct phrases {
	struct phrases_biz *v;
	size_t n;
};

static const char *const phrases_texts[PHRASE_N] = {
    "שלום, הגעתם לשי דירות ומשרדים, איך אפשר לעזור?",
    "רגע, אני בודקת.",
    "סליחה, משהו השתבש אצלנו. אפשר לחזור על זה?",
    "אני מעבירה אותך לנציג, רגע בבקשה.",
    "תודה שהתקשרתם, יום טוב ולהתראות.",
};

static const char *const phrases_names[PHRASE_N] = {
    "greeting", "filler", "apology", "transfer", "goodbye"};

/* Return the built-in Hebrew text of phrase k. */
const char *
phrases_default_text(enum phrase_kind k)
{
	return (size_t)k < PHRASE_N ? phrases_texts[k] : "";
}

/* Return the name of phrase k ("greeting"), also its playout label. */
const char *
phrases_kind_name(enum phrase_kind k)
{
	return (size_t)k < PHRASE_N ? phrases_names[k] : "?";
}

static bool
phrases_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static struct phrases_biz *
phrases_find(const struct phrases *ps, const char *business)
{
	for (size_t i = 0; ps != NULL && i < ps->n; i++)
		if (phrases_same(ps->v[i].business, business))
			return &ps->v[i];
	return NULL;
}

/*
 * Store phrase k of business (NULL: the default set) as text and len
 * bytes of 8 kHz mu-law (both copied, the audio into a new clip),
 * replacing what was there. Return 0.
 */
int
phrases_set(struct gateway *g, const char *business, enum phrase_kind k,
    const char *text, const uint8_t *mulaw, size_t len)
{
	struct phrases_biz *b;
	struct phrase *p;

	if ((size_t)k >= PHRASE_N)
		return -1;
	if (g->phrases == NULL)
		g->phrases = xcalloc(1, sizeof(*g->phrases));
	if ((b = phrases_find(g->phrases, business)) == NULL) {
		g->phrases->v = xreallocarray(
		    g->phrases->v, g->phrases->n + 1, sizeof(*g->phrases->v));
		b = &g->phrases->v[g->phrases->n++];
		memset(b, 0, sizeof(*b));
		b->business = business != NULL ? xstrdup(business) : NULL;
	}
	p = &b->p[k];
	free(p->text);
	clip_unref(p->clip);
	p->text = xstrdup(text != NULL ? text : "");
	p->clip = clip_new(mulaw, len);
	p->mulaw = clip_bytes(p->clip);
	p->len = len;
	return 0;
}

/*
 * Render every phrase of business (NULL: the default set) with espeak-ng:
 * the greeting from greeting_text (NULL or "": the built-in text), the
 * others from their built-in texts. Blocks; call at start only. Return 0,
 * or -1 when a phrase could not be rendered (logged; the others are kept).
 */
int
phrases_render(
    struct gateway *g, const char *business, const char *greeting_text)
{
	int rc = 0;

	for (size_t k = 0; k < PHRASE_N; k++) {
		const char *text = phrases_texts[k];
		uint8_t *mulaw = NULL;
		size_t n = 0;

		if (k == PHRASE_GREETING && greeting_text != NULL &&
		    greeting_text[0] != '\0')
			text = greeting_text;
		if (audio_espeak_mulaw(text, 0, &mulaw, &n) < 0) {
			log_warnx("phrases: cannot render the %s phrase of %s "
				  "with espeak-ng",
			    phrases_names[k],
			    business != NULL ? business : "the default set");
			rc = -1;
			continue;
		}
		(void)phrases_set(
		    g, business, (enum phrase_kind)k, text, mulaw, n);
		free(mulaw);
	}
	return rc;
}

/*
 * Return phrase k of business, or of the default set when business has
 * no audio for it, or NULL when neither has.
 */
const struct phrase *
phrases_get(const struct gateway *g, const char *business, enum phrase_kind k)
{
	const struct phrases_biz *b;

	if ((size_t)k >= PHRASE_N)
		return NULL;
	if (business != NULL &&
	    (b = phrases_find(g->phrases, business)) != NULL &&
	    b->p[k].mulaw != NULL)
		return &b->p[k];
	if ((b = phrases_find(g->phrases, NULL)) != NULL &&
	    b->p[k].mulaw != NULL)
		return &b->p[k];
	return NULL;
}

/* Free every phrase. */
void
phrases_free(struct gateway *g)
{
	struct phrases *ps = g->phrases;

	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		for (size_t k = 0; k < PHRASE_N; k++) {
			free(ps->v[i].p[k].text);
			clip_unref(ps->v[i].p[k].clip);
		}
		free(ps->v[i].business);
	}
	free(ps->v);
	free(ps);
	g->phrases = NULL;
}
