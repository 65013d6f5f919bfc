/*
 * A Hebrew-aware incremental sentence splitter for the LLM's streamed
 * reply.
 *
 * Why: each sentence goes to TTS the moment it is complete, so the caller
 * hears the first sentence while the model still writes the second. A
 * naive split on '.' breaks "3.5 חדרים", "₪1,200,000", "14:30",
 * "www.shai.co.il" and the Hebrew abbreviations "מ״ר", "וכו׳", "ת״א",
 * "ד״ר" (pipecat's splitter bugs, reference/hebrew.md §5.3), and a split in
 * the middle of a UTF-8 letter makes TTS say garbage.
 *
 * The rules, in order (sentence_find):
 *  - a newline always ends a sentence;
 *  - '.', '?', '!', '…' and ':' end a sentence only when followed by white
 *    space (or the end of the reply), after any run of such marks and any
 *    closing quote or bracket (" ' ) ] ״ ׳ ” ’ »), so "3.5", "14:30",
 *    URLs, e-mail addresses and "?x=1" never split;
 *  - but not a '.' after a known abbreviation (רח. מס. טל. שד. גב. פרופ.
 *    עמ. Dr. Mr. Mrs. Ms. St. vs. No. Prof.), after dotted initials
 *    (ת.א. e.g.) or after a bare list number ("1.");
 *  - and not a ':' closing a clause shorter than SENTENCE_COLON_MIN
 *    characters ("כתובת: ...");
 *  - geresh and gershayim (׳ ״, and the ASCII ' and " the model may write
 *    instead) never end anything;
 *  - a clause longer than the splitter's long_chars ends at a comma
 *    followed by white space (never the comma of "1,200,000");
 *  - past hard_chars without any of the above, at the last space (so a
 *    runaway reply still reaches the caller and memory stays bounded).
 * A mark at the very end of what has arrived is left undecided until the
 * next piece (or the end) shows what follows it. Only ASCII bytes are cut
 * at, so a multibyte character is never split, whatever the pieces.
 *
 * Pure (R15): text in, callbacks out; unit-tested with a table of Hebrew
 * cases and fuzzed (tests/fuzz/fuzz_sentence.c). Owns its buffer only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm.h"
#include "xmalloc.h"

#define SENTENCE_COLON_MIN 12

/* Abbreviations that a '.' follows without ending the sentence. */
static const char *const sentence_abbrev[] = {
    "רח",
    "מס",
    "טל",
    "שד",
    "גב",
    "פרופ",
    "עמ",
    "Dr",
    "Mr",
    "Mrs",
    "Ms",
    "St",
    "vs",
    "No",
    "Prof",
    "Jr",
    "Sr",
    NULL,
};

/*
 * Prepare s; emit(text, len, arg) hears each sentence (trimmed, never
 * empty, not NUL-terminated). long_chars: a clause this long ends at the
 * next ", " (0: SENTENCE_LONG_CHARS).
 */
void
sentence_init(struct sentence_splitter *s, size_t long_chars,
    void (*emit)(const char *text, size_t len, void *arg), void *arg)
{
	memset(s, 0, sizeof(*s));
	s->long_chars = long_chars ? long_chars : SENTENCE_LONG_CHARS;
	s->hard_chars = s->long_chars * 3 > SENTENCE_HARD_CHARS
			    ? s->long_chars * 3
			    : SENTENCE_HARD_CHARS;
	s->emit = emit;
	s->arg = arg;
}

void
sentence_free(struct sentence_splitter *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

/*
 * Decode the character at b[i]: store it in *cp and its size in *n.
 * Return 0, or 1 when its bytes have not all arrived. Invalid bytes come
 * back one at a time as U+FFFD.
 */
static int
sentence_decode(const char *str, size_t len, size_t i, uint32_t *cp, size_t *n)
{
	const unsigned char *b = (const unsigned char *)str;
	unsigned char c = b[i];
	size_t need;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		*n = 1;
		return 0;
	}
	if ((c & 0xE0) == 0xC0) {
		need = 2;
		v = c & 0x1Fu;
	} else if ((c & 0xF0) == 0xE0) {
		need = 3;
		v = c & 0x0Fu;
	} else if ((c & 0xF8) == 0xF0) {
		need = 4;
		v = c & 0x07u;
	} else {
		*cp = 0xFFFD;
		*n = 1;
		return 0;
	}
	for (size_t k = 1; k < need; k++) {
		if (i + k >= len)
			return 1;
		if ((b[i + k] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			*n = 1;
			return 0;
		}
		v = (v << 6) | (b[i + k] & 0x3Fu);
	}
	*cp = v;
	*n = need;
	return 0;
}

static bool
sentence_is_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
	       cp == '\f' || cp == '\v' || cp == 0xA0;
}

/* The size of the white space at b[i] (ASCII or NBSP), 0 for none. */
static size_t
sentence_space_at(const char *b, size_t len, size_t i)
{
	unsigned char c = (unsigned char)b[i];

	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v')
		return 1;
	if (c == 0xC2 && i + 1 < len && (unsigned char)b[i + 1] == 0xA0)
		return 2;
	return 0;
}

static bool
sentence_is_closer(uint32_t cp)
{
	return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == '}' ||
	       cp == 0x05F4 || cp == 0x05F3 || cp == 0x201D || cp == 0x2019 ||
	       cp == 0xBB;
}

static bool
sentence_is_terminal(uint32_t cp)
{
	return cp == '.' || cp == '?' || cp == '!' || cp == 0x2026;
}

static bool
sentence_is_opener(char c)
{
	return c == '(' || c == '"' || c == '\'' || c == '[';
}

/* Whether the two bytes at s are a Hebrew prefix letter (ו ה ב כ ל מ ש). */
static bool
sentence_is_prefix(const char *s)
{
	static const char *const letters[] = {
	    "ו", "ה", "ב", "כ", "ל", "מ", "ש", NULL};

	for (const char *const *l = letters; *l != NULL; l++)
		if (memcmp(s, *l, 2) == 0)
			return true;
	return false;
}

/* Count the characters (not bytes) of b[from..to). */
static size_t
sentence_chars(const char *b, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		if (((unsigned char)b[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* Whether the word b[from..to), which a '.' follows, keeps it inside. */
static bool
sentence_dot_is_inside(const char *b, size_t from, size_t to, size_t start)
{
	size_t n, seg = 0;
	bool dotted = false, digits = true;

	while (from < to && sentence_is_opener(b[from]))
		from++;
	n = to - from;
	if (n == 0)
		return false;
	for (const char *const *a = sentence_abbrev; *a != NULL; a++)
		if (strlen(*a) == n && strncasecmp(*a, b + from, n) == 0)
			return true;
	/* The same after Hebrew prefix letters: "ברח." "ובמס." */
	for (size_t p = from, k = 0; k < 2 && p + 2 < to; k++, p += 2) {
		if (!sentence_is_prefix(b + p))
			break;
		for (const char *const *a = sentence_abbrev; *a != NULL; a++)
			if (strlen(*a) == to - p - 2 &&
			    memcmp(*a, b + p + 2, to - p - 2) == 0)
				return true;
	}
	/* Dotted initials: every segment one character ("ת.א", "e.g"). */
	for (size_t i = from; i <= to; i++) {
		if (i == to || b[i] == '.') {
			if (seg != 1)
				return false;
			if (i < to)
				dotted = true;
			seg = 0;
		} else if (((unsigned char)b[i] & 0xC0) != 0x80)
			seg++;
	}
	if (dotted)
		return true;
	/* A list number at the start of the clause: "1." */
	for (size_t i = from; i < to; i++)
		if (b[i] < '0' || b[i] > '9')
			digits = false;
	if (!digits)
		return false;
	for (size_t i = start; i < from; i++)
		if (sentence_space_at(b, to, i) == 0)
			return false;
	return true;
}

/*
 * Find the end of the first sentence in the len bytes at b. final: no
 * more text will come. Return the length of the sentence (its end
 * included) and store in *next where the rest begins, or return 0 when no
 * sentence is complete yet. long_chars and hard_chars as in the splitter.
 */
size_t
sentence_find(const char *b, size_t len, bool final, size_t long_chars,
    size_t hard_chars, size_t *next)
{
	size_t i = 0, n, start, word = 0, last_space = 0, chars = 0;

	while (
	    i < len && b[i] != '\n' && (n = sentence_space_at(b, len, i)) > 0)
		i += n;
	start = word = i;
	while (i < len) {
		uint32_t cp;

		if (sentence_decode(b, len, i, &cp, &n) != 0)
			break; /* a letter not yet whole */
		if (cp == '\n') {
			*next = i + 1;
			return i + 1;
		}
		if (sentence_is_terminal(cp) || cp == ':') {
			size_t j = i + n, m;
			uint32_t c2;

			/* The run of marks, then closing quotes. */
			while (cp != ':' && j < len &&
			       sentence_decode(b, len, j, &c2, &m) == 0 &&
			       sentence_is_terminal(c2))
				j += m;
			while (j < len &&
			       sentence_decode(b, len, j, &c2, &m) == 0 &&
			       sentence_is_closer(c2))
				j += m;
			if (j >= len ||
			    sentence_decode(b, len, j, &c2, &m) != 0) {
				if (!final)
					return 0;
				if (j >= len) {
					*next = len;
					return len;
				}
				c2 = 0xFFFD;
			}
			if (sentence_is_space(c2)) {
				bool inside = false;

				if (cp == '.' && j == i + 1)
					inside = sentence_dot_is_inside(
					    b, word, i, start);
				else if (cp == ':')
					inside = sentence_chars(b, start, i) <
						 SENTENCE_COLON_MIN;
				if (!inside) {
					*next = j;
					return j;
				}
			}
			chars += sentence_chars(b, i, j);
			i = j;
			continue;
		}
		if (cp == ',' && chars >= long_chars) {
			if (i + 1 >= len) {
				if (!final)
					return 0;
			} else if (sentence_space_at(b, len, i + 1) > 0) {
				*next = i + 1;
				return i + 1;
			}
		}
		if (sentence_is_space(cp)) {
			word = i + n;
			last_space = i;
		}
		chars++;
		i += n;
		if (chars >= hard_chars) {
			size_t cut = last_space > start ? last_space : i;

			*next = cut;
			return cut;
		}
	}
	if (final && len > 0) {
		*next = len;
		return len;
	}
	return 0;
}

/* Emit b[0..n) trimmed, unless nothing is left. */
static void
sentence_emit(struct sentence_splitter *s, const char *b, size_t n)
{
	size_t k;

	while (n > 0 && (k = sentence_space_at(b, n, 0)) > 0) {
		b += k;
		n -= k;
	}
	for (;;) {
		if (n > 0 && sentence_space_at(b, n, n - 1) == 1)
			n--;
		else if (n > 1 && sentence_space_at(b, n, n - 2) == 2)
			n -= 2;
		else
			break;
	}
	if (n == 0)
		return;
	s->count++;
	s->emit(b, n, s->arg);
}

static void
sentence_drain(struct sentence_splitter *s, bool final)
{
	size_t cut, next = 0;

	while (s->len > 0 && (cut = sentence_find(s->buf, s->len, final,
				  s->long_chars, s->hard_chars, &next)) > 0) {
		sentence_emit(s, s->buf, cut);
		if (next > s->len)
			next = s->len;
		memmove(s->buf, s->buf + next, s->len - next);
		s->len -= next;
	}
}

/* Add len bytes of reply text; emit every sentence they complete. */
void
sentence_feed(struct sentence_splitter *s, const char *text, size_t len)
{
	if (len == 0)
		return;
	if (s->len + len > s->cap) {
		size_t ncap = s->cap ? s->cap : 512;

		while (ncap < s->len + len)
			ncap *= 2;
		s->buf = xreallocarray(s->buf, ncap, 1);
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, text, len);
	s->len += len;
	sentence_drain(s, false);
}

/* The reply is complete: emit what is left as the last sentence(s). */
void
sentence_finish(struct sentence_splitter *s)
{
	sentence_drain(s, true);
	s->len = 0;
}
