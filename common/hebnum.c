/*
 * Hebrew number normaliser for speech synthesis (see hebnum.h for why).
 *
 * How: one left-to-right pass over the bytes. Text that is not a number is
 * copied unchanged, byte for byte (so invalid UTF-8 survives as it came).
 * At a digit, or at a Hebrew prefix ("ב-", "ל־", "מ") or sign ("+", "₪",
 * "-", "*", "(") before one, the recognisers run in a fixed order: phone,
 * time, date, then a number with what follows it (range, "מיליון"/"אלף",
 * abbreviation such as ₪ / ש״ח / מ״ר / %, or a noun whose gender is in the
 * table below or guessed from the plural ending -ים / -ות).
 *
 * Grammar (reference/hebrew.md §3): units and teens agree with the noun;
 * hundreds use the feminine forms of מאה ("חמש מאות"); thousands 3-10 use
 * the masculine construct ("תשעת אלפים"), larger multipliers of אלף and
 * מיליון are masculine ("שלושה מיליון"); exactly two before a noun takes
 * the construct ("שני חדרים", "שתי קומות"); one follows its noun ("חדר
 * אחד"); "ו" goes before the last spoken part ("מיליון ומאתיים אלף",
 * "עשרים ואחד") unless that part already holds its own "ו" ("מיליון
 * מאתיים וחמישים אלף").
 *
 * Limits: cardinals up to 999,999,999,999 (12 digits); longer digit
 * strings, and numbers written with a leading zero, are read digit by
 * digit. Only the bytes up to the first NUL are read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hebnum.h"
#include "xmalloc.h"

#define HEBNUM_MAX_DIGITS 12
#define HEBNUM_LIMIT	  1000000000000ULL
#define ATOM_MAX	  512
#define ATOMS_MAX	  8

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A growing output string. */
struct sb {
	char *p;
	size_t len;
	size_t cap;
};

/* One spoken part of a number ("מאתיים", "שלושת אלפים", "ואחד"). */
struct atom {
	char s[ATOM_MAX];
	size_t len;
	bool compound; /* holds its own "ו": the whole number adds none */
};

struct atoms {
	struct atom a[ATOMS_MAX];
	size_t n;
};

/* A countable noun; text is set for abbreviations that are replaced. */
struct noun {
	const char *text;
	const char *sing;
	const char *plur;
	enum hebnum_gender gender;
};

/* A number as written: integer digits, optional fraction. */
struct numtok {
	size_t start;	/* first digit */
	size_t int_end; /* one past the integer part (commas included) */
	size_t end;	/* one past the whole token */
	size_t ndigits; /* digits in the integer part */
	bool digitwise; /* read digit by digit */
	uint64_t ival;	/* integer value unless digitwise */
	size_t frac;	/* first fraction digit */
	size_t fracraw; /* fraction digits as written, 0 when none */
	size_t fracn;	/* fraction digits without trailing zeros */
};

/* What follows a number and decides its gender. */
struct follow {
	bool found;
	enum hebnum_gender gender;
	const struct noun *noun; /* NULL when the gender was guessed */
	bool replace;		 /* abbreviation: say noun->sing/plur */
	bool adjacent;		 /* the noun itself follows (construct ok) */
	size_t wstart;		 /* the following word in the input */
	size_t wend;
};

/* Context gathered before the digits. */
struct numctx {
	const char *prefix; /* Hebrew prefix letters to glue, no hyphen */
	size_t prefixn;
	bool negative;
	bool price;	   /* "₪" came before the number */
	bool space_before; /* glued to a Hebrew word: separate it */
	bool ordinal;	   /* "ה-N" after a known noun */
	bool between;	   /* after "בין": a range reads "X לY" */
	enum hebnum_gender ord_gender;
};

static const char *const UNITS_F[10] = {
    "אפס", "אחת", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע"};
static const char *const UNITS_M[10] = {"אפס", "אחד", "שניים", "שלושה", "ארבעה",
    "חמישה", "שישה", "שבעה", "שמונה", "תשעה"};
static const char *const TEENS_F[10] = {"עשר", "אחת עשרה", "שתים עשרה",
    "שלוש עשרה", "ארבע עשרה", "חמש עשרה", "שש עשרה", "שבע עשרה", "שמונה עשרה",
    "תשע עשרה"};
static const char *const TEENS_M[10] = {"עשרה", "אחד עשר", "שנים עשר",
    "שלושה עשר", "ארבעה עשר", "חמישה עשר", "שישה עשר", "שבעה עשר", "שמונה עשר",
    "תשעה עשר"};
static const char *const TENS[10] = {"", "", "עשרים", "שלושים", "ארבעים",
    "חמישים", "שישים", "שבעים", "שמונים", "תשעים"};
static const char *const HUNDREDS[10] = {"", "מאה", "מאתיים", "שלוש מאות",
    "ארבע מאות", "חמש מאות", "שש מאות", "שבע מאות", "שמונה מאות", "תשע מאות"};
static const char *const THOUSANDS[11] = {"", "אלף", "אלפיים", "שלושת אלפים",
    "ארבעת אלפים", "חמשת אלפים", "ששת אלפים", "שבעת אלפים", "שמונת אלפים",
    "תשעת אלפים", "עשרת אלפים"};
static const char *const ORD_M[11] = {"", "ראשון", "שני", "שלישי", "רביעי",
    "חמישי", "שישי", "שביעי", "שמיני", "תשיעי", "עשירי"};
static const char *const ORD_F[11] = {"", "ראשונה", "שנייה", "שלישית", "רביעית",
    "חמישית", "שישית", "שביעית", "שמינית", "תשיעית", "עשירית"};
static const char *const MONTHS[13] = {"", "ינואר", "פברואר", "מרץ", "אפריל",
    "מאי", "יוני", "יולי", "אוגוסט", "ספטמבר", "אוקטובר", "נובמבר", "דצמבר"};

/* Nouns common in real-estate calls, with their gender. */
static const struct noun NOUNS[] = {
    {NULL, "חדר", "חדרים", HEBNUM_MASCULINE},
    {NULL, "דירה", "דירות", HEBNUM_FEMININE},
    {NULL, "קומה", "קומות", HEBNUM_FEMININE},
    {NULL, "שנה", "שנים", HEBNUM_FEMININE},
    {NULL, "חודש", "חודשים", HEBNUM_MASCULINE},
    {NULL, "שבוע", "שבועות", HEBNUM_MASCULINE},
    {NULL, "יום", "ימים", HEBNUM_MASCULINE},
    {NULL, "שעה", "שעות", HEBNUM_FEMININE},
    {NULL, "דקה", "דקות", HEBNUM_FEMININE},
    {NULL, "שקל", "שקלים", HEBNUM_MASCULINE},
    {NULL, "אגורה", "אגורות", HEBNUM_FEMININE},
    {NULL, "דולר", "דולרים", HEBNUM_MASCULINE},
    {NULL, "מטר", "מטרים", HEBNUM_MASCULINE},
    {NULL, "קילומטר", "קילומטרים", HEBNUM_MASCULINE},
    {NULL, "דונם", "דונמים", HEBNUM_MASCULINE},
    {NULL, "אחוז", "אחוזים", HEBNUM_MASCULINE},
    {NULL, "מרפסת", "מרפסות", HEBNUM_FEMININE},
    {NULL, "חניה", "חניות", HEBNUM_FEMININE},
    {NULL, "חנייה", "חניות", HEBNUM_FEMININE},
    {NULL, "מעלית", "מעליות", HEBNUM_FEMININE},
    {NULL, "מקלחת", "מקלחות", HEBNUM_FEMININE},
    {NULL, "מחסן", "מחסנים", HEBNUM_MASCULINE},
    {NULL, "בית", "בתים", HEBNUM_MASCULINE},
    {NULL, "בניין", "בניינים", HEBNUM_MASCULINE},
    {NULL, "נכס", "נכסים", HEBNUM_MASCULINE},
    {NULL, "יחידה", "יחידות", HEBNUM_FEMININE},
    {NULL, "פגישה", "פגישות", HEBNUM_FEMININE},
    {NULL, "תשלום", "תשלומים", HEBNUM_MASCULINE},
    {NULL, "משפחה", "משפחות", HEBNUM_FEMININE},
    {NULL, "שכונה", "שכונות", HEBNUM_FEMININE},
    {NULL, "עיר", "ערים", HEBNUM_FEMININE},
    {NULL, "רחוב", "רחובות", HEBNUM_MASCULINE},
    {NULL, "מקום", "מקומות", HEBNUM_MASCULINE},
    {NULL, "חלון", "חלונות", HEBNUM_MASCULINE},
    {NULL, "איש", "אנשים", HEBNUM_MASCULINE},
    {NULL, "אישה", "נשים", HEBNUM_FEMININE},
    {NULL, "ילד", "ילדים", HEBNUM_MASCULINE},
    {NULL, "ילדה", "ילדות", HEBNUM_FEMININE},
    {NULL, "לקוח", "לקוחות", HEBNUM_MASCULINE},
    {NULL, "פעם", "פעמים", HEBNUM_FEMININE},
    {NULL, "מעלה", "מעלות", HEBNUM_FEMININE},
    {NULL, "מיליון", "מיליונים", HEBNUM_MASCULINE},
    {NULL, "מיליארד", "מיליארדים", HEBNUM_MASCULINE},
    {NULL, "אלף", "אלפים", HEBNUM_MASCULINE},
};

/* Abbreviations and signs after a number, replaced by the spoken noun. */
static const struct noun SHEKEL = {"₪", "שקל", "שקלים", HEBNUM_MASCULINE};
static const struct noun ABBREVS[] = {
    {"₪", "שקל", "שקלים", HEBNUM_MASCULINE},
    {"ש״ח", "שקל", "שקלים", HEBNUM_MASCULINE},
    {"ש\"ח", "שקל", "שקלים", HEBNUM_MASCULINE},
    {"מ״ר", "מטר רבוע", "מטרים רבועים", HEBNUM_MASCULINE},
    {"מ\"ר", "מטר רבוע", "מטרים רבועים", HEBNUM_MASCULINE},
    {"חד׳", "חדר", "חדרים", HEBNUM_MASCULINE},
    {"חד'", "חדר", "חדרים", HEBNUM_MASCULINE},
    {"%", "אחוז", "אחוז", HEBNUM_MASCULINE},
};

static const char *const MULTIPLIERS[3] = {"אלף", "מיליון", "מיליארד"};

static void
sb_put(struct sb *b, const char *s, size_t n)
{
	size_t need, cap;

	if (n == 0)
		return;
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		b->p = xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static char *
sb_finish(struct sb *b)
{
	return b->p != NULL ? b->p : xstrdup("");
}

static bool
is_digit(const char *s, size_t len, size_t i)
{
	return i < len && s[i] >= '0' && s[i] <= '9';
}

static bool
is_ascii_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A Hebrew letter (U+05D0..U+05EA) starts at s[i]. */
static bool
is_heb_letter(const char *s, size_t len, size_t i)
{
	return i + 1 < len && (unsigned char)s[i] == 0xD7 &&
	       (unsigned char)s[i + 1] >= 0x90 &&
	       (unsigned char)s[i + 1] <= 0xAA;
}

/* A one-letter prefix (ו ה ב כ ל מ ש) starts at s[i]. */
static bool
is_heb_prefix(const char *s, size_t len, size_t i)
{
	unsigned char c;

	if (!is_heb_letter(s, len, i))
		return false;
	c = (unsigned char)s[i + 1];
	return c == 0x95 || c == 0x94 || c == 0x91 || c == 0x9B || c == 0x9C ||
	       c == 0x9E || c == 0xA9;
}

/* Nothing word-like (letter, digit) ends just before s[i]. */
static bool
at_word_start(const char *s, size_t len, size_t i)
{
	char c;

	if (i == 0)
		return true;
	c = s[i - 1];
	if (is_ascii_alpha(c) || (c >= '0' && c <= '9'))
		return false;
	return !(i >= 2 && is_heb_letter(s, len, i - 2));
}

/* Return the byte length of the Hebrew word (letters only) at s[i]. */
static size_t
heb_word(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (is_heb_letter(s, len, j))
		j += 2;
	return j - i;
}

static bool
word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

/* A dash (ASCII, maqaf U+05BE or en dash U+2013) at s[i]; return its size. */
static size_t
dash_at(const char *s, size_t len, size_t i)
{
	if (i < len && s[i] == '-')
		return 1;
	if (i + 1 < len && memcmp(s + i, "\xD6\xBE", 2) == 0)
		return 2;
	if (i + 2 < len && memcmp(s + i, "\xE2\x80\x93", 3) == 0)
		return 3;
	return 0;
}

static const struct noun *
noun_lookup(const char *w, size_t n)
{
	size_t i;

	for (i = 0; i < NITEMS(NOUNS); i++)
		if (word_is(w, n, NOUNS[i].sing) ||
		    word_is(w, n, NOUNS[i].plur))
			return &NOUNS[i];
	return NULL;
}

/* Look a word up, then again without up to two prefix letters. */
static const struct noun *
noun_lookup_stripped(const char *w, size_t n)
{
	const struct noun *noun;
	int strip;

	for (strip = 0; strip <= 2; strip++) {
		if ((noun = noun_lookup(w, n)) != NULL)
			return noun;
		if (n < 6 || !is_heb_prefix(w, n, 0))
			break;
		w += 2;
		n -= 2;
	}
	return NULL;
}

/* Return the month 1-12 named by w, with an optional ב/ל prefix, or 0. */
static int
month_of(const char *w, size_t n)
{
	int m;

	for (m = 1; m <= 12; m++)
		if (word_is(w, n, MONTHS[m]))
			return m;
	if (word_is(w, n, "מרס"))
		return 3;
	if (n > 2 && (memcmp(w, "ב", 2) == 0 || memcmp(w, "ל", 2) == 0))
		return month_of(w + 2, n - 2);
	return 0;
}

/* Guess the gender of an unknown plural from its ending; -1 if none. */
static int
plural_guess(const char *w, size_t n)
{
	if (n < 6)
		return -1;
	if (memcmp(w + n - 4, "ים", 4) == 0)
		return HEBNUM_MASCULINE;
	if (memcmp(w + n - 4, "ות", 4) == 0)
		return HEBNUM_FEMININE;
	return -1;
}

static struct atom *
atoms_push(struct atoms *as, const char *w)
{
	struct atom *a;
	size_t n = strlen(w);

	if (as->n >= ATOMS_MAX || n >= ATOM_MAX)
		return NULL; /* cannot happen: at most six parts */
	a = &as->a[as->n++];
	memcpy(a->s, w, n + 1);
	a->len = n;
	a->compound = false;
	return a;
}

static void
atom_cat(struct atom *a, const char *w)
{
	size_t n = strlen(w);

	if (a->len + n >= ATOM_MAX)
		return; /* cannot happen: the longest number is ~200 bytes */
	memcpy(a->s + a->len, w, n + 1);
	a->len += n;
}

/* Join parts with spaces, "ו" before the last unless it has its own. */
static void
atoms_join(const struct atoms *as, struct atom *dst)
{
	size_t i;

	dst->len = 0;
	dst->s[0] = '\0';
	dst->compound = as->n > 1;
	for (i = 0; i < as->n; i++) {
		if (i > 0)
			atom_cat(dst, " ");
		if (i == as->n - 1 && as->n > 1 && !as->a[i].compound)
			atom_cat(dst, "ו");
		atom_cat(dst, as->a[i].s);
	}
}

static void
below_thousand(struct atoms *as, unsigned v, enum hebnum_gender g)
{
	const char *const *units = g == HEBNUM_MASCULINE ? UNITS_M : UNITS_F;
	const char *const *teens = g == HEBNUM_MASCULINE ? TEENS_M : TEENS_F;
	unsigned h = v / 100, r = v % 100;

	if (h > 0)
		atoms_push(as, HUNDREDS[h]);
	if (r >= 10 && r < 20) {
		atoms_push(as, teens[r - 10]);
		return;
	}
	if (r >= 20)
		atoms_push(as, TENS[r / 10]);
	if (r % 10 > 0)
		atoms_push(as, units[r % 10]);
}

/* Push "mult" thousands (scale 0), millions (1) or billions (2). */
static void
push_group(struct atoms *as, unsigned mult, int scale)
{
	struct atoms sub;
	struct atom *a;

	if (scale < 0 || scale >= (int)NITEMS(MULTIPLIERS) || mult >= 1000)
		return; /* cannot happen: callers pass 0-2 and v % 1000 */
	if (scale == 0 && mult <= 10) {
		atoms_push(as, THOUSANDS[mult]);
		return;
	}
	if (scale > 0 && mult == 1) {
		atoms_push(as, MULTIPLIERS[scale]);
		return;
	}
	if (scale > 0 && mult == 2) {
		if ((a = atoms_push(as, "שני ")) != NULL)
			atom_cat(a, MULTIPLIERS[scale]);
		return;
	}
	sub.n = 0;
	below_thousand(&sub, mult, HEBNUM_MASCULINE);
	if ((a = atoms_push(as, "")) == NULL)
		return;
	atoms_join(&sub, a);
	atom_cat(a, " ");
	atom_cat(a, MULTIPLIERS[scale]);
}

static void
put_digit_words(struct sb *out, const char *s, size_t from, size_t to)
{
	bool first = true;
	size_t i;

	for (i = from; i < to; i++) {
		if (s[i] < '0' || s[i] > '9')
			continue;
		if (!first)
			sb_puts(out, " ");
		sb_puts(out, UNITS_F[s[i] - '0']);
		first = false;
	}
}

static void
put_cardinal(struct sb *out, uint64_t v, enum hebnum_gender g)
{
	struct atoms as;
	struct atom res;
	char buf[24];
	int n;

	if (v == 0) {
		sb_puts(out, UNITS_F[0]);
		return;
	}
	if (v >= HEBNUM_LIMIT) {
		n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
		put_digit_words(out, buf, 0, n > 0 ? (size_t)n : 0);
		return;
	}
	as.n = 0;
	if (v / 1000000000U > 0)
		push_group(&as, (unsigned)(v / 1000000000U), 2);
	if (v / 1000000U % 1000U > 0)
		push_group(&as, (unsigned)(v / 1000000U % 1000U), 1);
	if (v / 1000U % 1000U > 0)
		push_group(&as, (unsigned)(v / 1000U % 1000U), 0);
	below_thousand(&as, (unsigned)(v % 1000U), g);
	atoms_join(&as, &res);
	sb_puts(out, res.s);
}

static const char *
one_word(enum hebnum_gender g)
{
	return g == HEBNUM_MASCULINE ? "אחד" : "אחת";
}

static const char *
two_construct(enum hebnum_gender g)
{
	return g == HEBNUM_MASCULINE ? "שני" : "שתי";
}

/* Say an integer count of a noun: "חדר אחד", "שתי קומות", "עשרה ימים". */
static void
put_count(struct sb *out, uint64_t v, enum hebnum_gender g, const char *sing,
    const char *plur)
{
	if (v == 1) {
		sb_puts(out, sing);
		sb_puts(out, " ");
		sb_puts(out, one_word(g));
		return;
	}
	if (v == 2)
		sb_puts(out, two_construct(g));
	else
		put_cardinal(out, v, g);
	sb_puts(out, " ");
	sb_puts(out, plur);
}

/* Parse digits at pos: 1,234,567 grouping, then an optional fraction. */
static bool
is_group(const char *s, size_t len, size_t i, char sep)
{
	return i + 3 < len && s[i] == sep && is_digit(s, len, i + 1) &&
	       is_digit(s, len, i + 2) && is_digit(s, len, i + 3) &&
	       !is_digit(s, len, i + 4);
}

static void
parse_num(const char *s, size_t len, size_t pos, struct numtok *t)
{
	size_t i = pos, k;
	char sep = 0;

	memset(t, 0, sizeof(*t));
	t->start = pos;
	while (is_digit(s, len, i)) {
		if (t->ndigits < HEBNUM_MAX_DIGITS)
			t->ival = t->ival * 10 + (uint64_t)(s[i] - '0');
		t->ndigits++;
		i++;
	}
	/* "1,234,567", or "1.234.567" when two dot groups make it sure. */
	if (t->ndigits <= 3 && s[pos] != '0')
		sep = is_group(s, len, i, ',') ? ',' : 0;
	if (sep == 0 && t->ndigits <= 3 && s[pos] != '0' &&
	    is_group(s, len, i, '.') && is_group(s, len, i + 4, '.'))
		sep = '.';
	if (sep != 0) {
		while (is_group(s, len, i, sep)) {
			for (k = 1; k <= 3; k++) {
				if (t->ndigits < HEBNUM_MAX_DIGITS)
					t->ival = t->ival * 10 +
						  (uint64_t)(s[i + k] - '0');
				t->ndigits++;
			}
			i += 4;
		}
	}
	t->int_end = i;
	t->digitwise =
	    t->ndigits > HEBNUM_MAX_DIGITS || (s[pos] == '0' && t->ndigits > 1);
	if (i + 1 < len && s[i] == '.' && is_digit(s, len, i + 1)) {
		t->frac = i + 1;
		i++;
		while (is_digit(s, len, i))
			i++;
		t->fracraw = i - t->frac;
		t->fracn = t->fracraw;
		while (t->fracn > 0 && s[t->frac + t->fracn - 1] == '0')
			t->fracn--;
	}
	t->end = i;
}

static bool
tok_is_int(const struct numtok *t)
{
	return !t->digitwise && t->fracn == 0;
}

/* The fraction is .5 (1), .25 (2), .75 (3) or something else (0). */
static int
tok_part(const char *s, const struct numtok *t)
{
	if (t->digitwise)
		return 0;
	if (t->fracn == 1 && s[t->frac] == '5')
		return 1;
	if (t->fracn == 2 && memcmp(s + t->frac, "25", 2) == 0)
		return 2;
	if (t->fracn == 2 && memcmp(s + t->frac, "75", 2) == 0)
		return 3;
	return 0;
}

/* Say a number as written, agreeing with g. */
static void
put_tok(
    struct sb *out, const char *s, const struct numtok *t, enum hebnum_gender g)
{
	uint64_t fv = 0;
	size_t i;
	int part;

	if (t->digitwise) {
		put_digit_words(out, s, t->start, t->int_end);
		if (t->fracraw > 0) {
			sb_puts(out, " נקודה ");
			put_digit_words(out, s, t->frac, t->frac + t->fracraw);
		}
		return;
	}
	if (t->fracn == 0) {
		put_cardinal(out, t->ival, g);
		return;
	}
	part = tok_part(s, t);
	if (part > 0) {
		static const char *const alone[4] = {
		    "", "חצי", "רבע", "שלושה רבעים"};
		static const char *const with[4] = {
		    "", " וחצי", " ורבע", " ושלושה רבעים"};

		if (t->ival == 0) {
			sb_puts(out, alone[part]);
			return;
		}
		put_cardinal(out, t->ival, g);
		sb_puts(out, with[part]);
		return;
	}
	/* Other decimals are read abstractly: "שלוש נקודה ארבע עשרה". */
	put_cardinal(out, t->ival, HEBNUM_FEMININE);
	sb_puts(out, " נקודה ");
	if (s[t->frac] == '0' || t->fracn > 3) {
		put_digit_words(out, s, t->frac, t->frac + t->fracn);
		return;
	}
	for (i = 0; i < t->fracn; i++)
		fv = fv * 10 + (uint64_t)(s[t->frac + i] - '0');
	put_cardinal(out, fv, HEBNUM_FEMININE);
}

/* Fold a following "אלף"/"מיליון"/"מיליארד" into the value if exact. */
static void
apply_multiplier(const char *s, size_t len, struct numtok *t)
{
	static const unsigned zeros[3] = {3, 6, 9};
	size_t q = t->end, w, i;
	uint64_t mult = 1, fv = 0, v;
	int k;

	if (t->digitwise || q >= len || s[q] != ' ')
		return;
	q++;
	w = heb_word(s, len, q);
	for (k = 0; k < 3; k++)
		if (word_is(s + q, w, MULTIPLIERS[k]))
			break;
	if (k == 3 || t->fracn > zeros[k])
		return;
	for (i = 0; i < zeros[k]; i++)
		mult *= 10;
	for (i = 0; i < zeros[k]; i++)
		fv = fv * 10 +
		     (i < t->fracn ? (uint64_t)(s[t->frac + i] - '0') : 0);
	if (t->ival >= HEBNUM_LIMIT / mult)
		return;
	v = t->ival * mult + fv;
	if (v >= HEBNUM_LIMIT)
		return;
	t->ival = v;
	t->fracraw = t->fracn = 0;
	t->end = q + w;
}

/* Find what follows position p and the gender it gives the number. */
static void
detect_follow(const char *s, size_t len, size_t p, struct follow *f)
{
	const struct noun *noun;
	size_t q = p, w, r, w2, i, n;
	int g;

	memset(f, 0, sizeof(*f));
	if (q < len && s[q] == ' ')
		q++;
	for (i = 0; i < NITEMS(ABBREVS); i++) {
		n = strlen(ABBREVS[i].text);
		if (q + n <= len && memcmp(s + q, ABBREVS[i].text, n) == 0 &&
		    !is_heb_letter(s, len, q + n)) {
			f->found = f->replace = f->adjacent = true;
			f->noun = &ABBREVS[i];
			f->gender = ABBREVS[i].gender;
			f->wstart = q;
			f->wend = q + n;
			return;
		}
	}
	if ((w = heb_word(s, len, q)) == 0)
		return;
	f->wstart = q;
	f->wend = q + w;
	if (word_is(s + q, w, "וחצי")) {
		/* "3 וחצי חדרים": the noun after decides, nothing is moved. */
		r = q + w;
		if (r < len && s[r] == ' ')
			r++;
		w2 = heb_word(s, len, r);
		if ((noun = noun_lookup(s + r, w2)) != NULL)
			g = (int)noun->gender;
		else
			g = plural_guess(s + r, w2);
		if (g >= 0) {
			f->found = true;
			f->gender = (enum hebnum_gender)g;
		}
		return;
	}
	if ((noun = noun_lookup(s + q, w)) != NULL) {
		f->found = f->adjacent = true;
		f->noun = noun;
		f->gender = noun->gender;
		return;
	}
	if (month_of(s + q, w) > 0) {
		/* A day of the month is counted in days (יום, masculine). */
		f->found = true;
		f->gender = HEBNUM_MASCULINE;
		return;
	}
	if ((g = plural_guess(s + q, w)) >= 0) {
		f->found = f->adjacent = true;
		f->gender = (enum hebnum_gender)g;
	}
}

/*
 * Say one number with its noun; return where the input it used ends.
 * allow_one: "1 חדר" may become "חדר אחד" (not in the second of a range).
 */
static size_t
put_with_noun(struct sb *out, const char *s, const struct numtok *t,
    const struct follow *f, const struct numctx *ctx, bool allow_one)
{
	enum hebnum_gender g = HEBNUM_FEMININE;
	int part = tok_part(s, t);
	unsigned agorot;

	if (f->found)
		g = f->gender;
	else if (ctx->ordinal)
		g = ctx->ord_gender;

	if (f->replace) {
		if (strcmp(f->noun->sing, SHEKEL.sing) == 0 &&
		    t->fracraw == 2 && !t->digitwise) {
			agorot = (unsigned)(s[t->frac] - '0') * 10U +
				 (unsigned)(s[t->frac + 1] - '0');
			if (t->ival > 0 || agorot == 0)
				put_count(out, t->ival, HEBNUM_MASCULINE, "שקל",
				    "שקלים");
			if (t->ival > 0 && agorot > 0)
				sb_puts(out, " ו");
			if (agorot > 0)
				put_count(out, agorot, HEBNUM_FEMININE, "אגורה",
				    "אגורות");
			return f->wend;
		}
		if (tok_is_int(t) && (t->ival != 1 || allow_one)) {
			put_count(
			    out, t->ival, g, f->noun->sing, f->noun->plur);
			return f->wend;
		}
		if (part == 1 && t->ival == 1) {
			sb_puts(out, f->noun->sing);
			sb_puts(out, " וחצי");
			return f->wend;
		}
		put_tok(out, s, t, g);
		sb_puts(out, " ");
		sb_puts(out, t->ival == 1 && part == 0 && tok_is_int(t)
				 ? f->noun->sing
				 : f->noun->plur);
		return f->wend;
	}
	if (f->found && f->adjacent && f->noun != NULL && allow_one &&
	    t->ival == 1 && (tok_is_int(t) || part == 1)) {
		sb_puts(out, f->noun->sing);
		sb_puts(out, part == 1 ? " וחצי" : " ");
		if (part != 1)
			sb_puts(out, one_word(g));
		return f->wend;
	}
	if (f->found && f->adjacent && tok_is_int(t) && t->ival == 2)
		sb_puts(out, two_construct(g));
	else if (!f->found && ctx->ordinal && tok_is_int(t) && t->ival >= 1 &&
		 t->ival <= 10)
		sb_puts(out, (g == HEBNUM_MASCULINE ? ORD_M : ORD_F)[t->ival]);
	else
		put_tok(out, s, t, g);
	if (f->found && f->adjacent && f->wstart == t->end)
		sb_puts(out, " "); /* "3חדרים": keep the words apart */
	return t->end;
}

static void
put_lead(struct sb *out, const struct numctx *ctx)
{
	if (ctx->space_before)
		sb_puts(out, " ");
	sb_put(out, ctx->prefix, ctx->prefixn);
	if (ctx->negative)
		sb_puts(out, "מינוס ");
}

static void
put_group(struct sb *out, const char *d, size_t n)
{
	put_digit_words(out, d, 0, n);
}

/*
 * Scan an Israeli phone number at pos (after the "+" when plus); copy its
 * digits to d[16]. Return the end of the number, or 0 when it is not one.
 */
static size_t
scan_phone(const char *s, size_t len, size_t pos, bool plus, bool paren,
    char *d, size_t *nd, size_t *groups, size_t *ngroups)
{
	size_t i = pos, n = 0, need = 0, ng = 0, sep, g;
	size_t ends[8], counts[8];

	while (is_digit(s, len, i)) {
		while (is_digit(s, len, i)) {
			if (n >= 15)
				return 0;
			d[n++] = s[i++];
		}
		if (ng < NITEMS(ends)) {
			ends[ng] = i;
			counts[ng] = n;
			ng++;
		}
		if (paren && ng == 1) {
			/* "(03) 1234567": the area code in parentheses. */
			if (i >= len || s[i] != ')')
				return 0;
			sep = i + 1 < len && s[i + 1] == ' ' ? 2 : 1;
		} else if (i < len && (s[i] == ' ' || s[i] == '.'))
			sep = 1;
		else
			sep = dash_at(s, len, i);
		if (sep == 0 || !is_digit(s, len, i + sep))
			break;
		i += sep;
	}
	if (plus && n >= 4 && memcmp(d, "972", 3) == 0)
		need = (d[3] == '5' || d[3] == '7') ? 12 : 11;
	else if (plus)
		need = 0; /* foreign: take it as written, 7-15 digits */
	else if (n >= 2 && d[0] == '0')
		need = (d[1] == '5' || d[1] == '7') ? 10 : 9;
	else if (n >= 4 && d[0] == '1' &&
		 (memcmp(d + 1, "800", 3) == 0 ||
		     memcmp(d + 1, "700", 3) == 0 ||
		     memcmp(d + 1, "599", 3) == 0))
		need = 10;
	else
		return 0;
	if (!plus && need == 9 && strchr("23489", d[1]) == NULL)
		return 0;
	for (g = 0; g < ng; g++) {
		groups[g] = counts[g];
		if (need == 0 ? (g == ng - 1 && counts[g] >= 7)
			      : counts[g] == need) {
			*nd = counts[g];
			*ngroups = g + 1;
			return ends[g];
		}
	}
	return 0;
}

static void
put_phone(struct sb *out, const char *d, size_t n, bool plus,
    const size_t *groups, size_t ngroups)
{
	size_t g, prev = 0;

	if (plus) {
		sb_puts(out, "פלוס ");
		if (n >= 11 && memcmp(d, "972", 3) == 0) {
			put_group(out, d, 3);
			sb_puts(out, ", ");
			g = (d[3] == '5' || d[3] == '7') ? 2 : 1;
			put_group(out, d + 3, g);
			sb_puts(out, ", ");
			put_group(out, d + 3 + g, 3);
			sb_puts(out, ", ");
			put_group(out, d + 6 + g, 4);
			return;
		}
		/* Foreign numbers: in the groups they were written in. */
		for (g = 0; g < ngroups; g++) {
			if (g > 0)
				sb_puts(out, ", ");
			put_group(out, d + prev, groups[g] - prev);
			prev = groups[g];
		}
		return;
	}
	if (d[0] == '1') {
		/* 1-800 / 1-700: "אחת, שמונה מאות, ..." */
		sb_puts(out, UNITS_F[1]);
		sb_puts(out, ", ");
		if (d[2] == '0' && d[3] == '0')
			sb_puts(out, HUNDREDS[d[1] - '0']);
		else
			put_group(out, d + 1, 3);
		sb_puts(out, ", ");
		put_group(out, d + 4, 3);
		sb_puts(out, ", ");
		put_group(out, d + 7, 3);
		return;
	}
	g = n == 10 ? 3 : 2;
	put_group(out, d, g);
	sb_puts(out, ", ");
	put_group(out, d + g, 3);
	sb_puts(out, ", ");
	put_group(out, d + g + 3, 4);
}

/* Parse H:MM / HH:MM at pos; return its end or 0. */
static size_t
parse_time(const char *s, size_t len, size_t pos, int *h, int *m)
{
	size_t i = pos;

	if (!is_digit(s, len, i))
		return 0;
	*h = s[i++] - '0';
	if (is_digit(s, len, i))
		*h = *h * 10 + (s[i++] - '0');
	if (i >= len || s[i] != ':' || !is_digit(s, len, i + 1) ||
	    !is_digit(s, len, i + 2) || is_digit(s, len, i + 3))
		return 0;
	*m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	i += 3;
	if (*h > 23 || *m > 59 || (i < len && s[i] == ':'))
		return 0;
	return i;
}

static const char *
day_part(int h)
{
	if (h >= 5 && h <= 11)
		return "בבוקר";
	if (h >= 12 && h <= 15)
		return "בצהריים";
	if (h >= 16 && h <= 18)
		return "אחר הצהריים";
	if (h >= 19 && h <= 21)
		return "בערב";
	return "בלילה";
}

static void
put_time(struct sb *out, int h, int m)
{
	int h12 = h % 12 == 0 ? 12 : h % 12;
	int next = h12 % 12 + 1;

	if (h == 0 && m == 0) {
		sb_puts(out, "חצות");
		return;
	}
	if (m == 45) {
		sb_puts(out, "רבע ל");
		put_cardinal(out, (uint64_t)next, HEBNUM_FEMININE);
	} else {
		put_cardinal(out, (uint64_t)h12, HEBNUM_FEMININE);
		if (m == 15)
			sb_puts(out, " ורבע");
		else if (m == 30)
			sb_puts(out, " וחצי");
		else if (m == 1)
			sb_puts(out, " ודקה");
		else if (m == 2)
			sb_puts(out, " ושתי דקות");
		else if (m > 0) {
			sb_puts(out, " ו");
			put_cardinal(out, (uint64_t)m, HEBNUM_FEMININE);
			sb_puts(out, " דקות");
		}
	}
	sb_puts(out, " ");
	sb_puts(out, day_part(h));
}

/* Parse d.m.yyyy or d/m/yy (one separator kind); return its end or 0. */
static size_t
parse_date(const char *s, size_t len, size_t pos, int *d, int *m, int *y)
{
	size_t i = pos, k;
	int *parts[2] = {d, m};
	char sep = 0;
	int p, nd;

	for (p = 0; p < 2; p++) {
		*parts[p] = 0;
		for (nd = 0; nd < 2 && is_digit(s, len, i); nd++)
			*parts[p] = *parts[p] * 10 + (s[i++] - '0');
		if (nd == 0 || i >= len || (s[i] != '.' && s[i] != '/'))
			return 0;
		if (sep != 0 && s[i] != sep)
			return 0;
		sep = s[i++];
	}
	*y = 0;
	for (k = 0; k < 5 && is_digit(s, len, i); k++)
		*y = *y * 10 + (s[i++] - '0');
	if ((k != 2 && k != 4) || *d < 1 || *d > 31 || *m < 1 || *m > 12)
		return 0;
	if (i + 1 < len && (s[i] == '.' || s[i] == '/') &&
	    is_digit(s, len, i + 1))
		return 0; /* a version number, not a date */
	if (k == 2)
		*y += 2000;
	return i;
}

/*
 * Say the number at pos (a digit) with its context; return the end of the
 * input used, or 0 to leave the text as it is.
 */
static size_t
put_number(struct sb *out, const char *s, size_t len, size_t pos,
    const struct numctx *ctx)
{
	struct numtok a, b;
	struct follow f;
	char d[16];
	size_t groups[8];
	size_t end, nd = 0, ng = 0, dash;
	int h, m, y, h2, m2;
	bool range = false;

	memset(&b, 0, sizeof(b));
	if (!ctx->negative && !ctx->price) {
		if ((end = scan_phone(
			 s, len, pos, false, false, d, &nd, groups, &ng)) > 0) {
			put_lead(out, ctx);
			put_phone(out, d, nd, false, groups, ng);
			return end;
		}
		if ((end = parse_time(s, len, pos, &h, &m)) > 0) {
			put_lead(out, ctx);
			put_time(out, h, m);
			dash = dash_at(s, len, end);
			if (dash > 0 && (nd = parse_time(s, len, end + dash,
					     &h2, &m2)) > 0) {
				sb_puts(out, ctx->between ? " ל" : " עד ");
				put_time(out, h2, m2);
				end = nd;
			}
			return end;
		}
		if ((end = parse_date(s, len, pos, &h, &m, &y)) > 0) {
			put_lead(out, ctx);
			put_cardinal(out, (uint64_t)h, HEBNUM_MASCULINE);
			sb_puts(out, " ב");
			sb_puts(out, MONTHS[m]);
			sb_puts(out, " ");
			put_cardinal(out, (uint64_t)y, HEBNUM_FEMININE);
			return end;
		}
	}
	parse_num(s, len, pos, &a);
	if (a.end < len && (is_ascii_alpha(s[a.end]) || s[a.end] == '_'))
		return 0; /* "3D", "4K", "1.2M": a code, not a number */
	dash = dash_at(s, len, a.end);
	if (a.digitwise && a.fracraw == 0 && dash > 0 &&
	    is_digit(s, len, a.end + dash)) {
		/* "050-123": a code, not a range; every group digit by digit.
		 */
		put_lead(out, ctx);
		end = a.start;
		for (;;) {
			while (is_digit(s, len, end))
				end++;
			put_digit_words(out, s, a.start, end);
			dash = dash_at(s, len, end);
			if (dash == 0 || !is_digit(s, len, end + dash))
				return end;
			sb_puts(out, ", ");
			a.start = end + dash;
			end = a.start;
		}
	}
	if (!a.digitwise && !ctx->negative && dash > 0 &&
	    is_digit(s, len, a.end + dash)) {
		parse_num(s, len, a.end + dash, &b);
		range = !b.digitwise &&
			!(b.end < len && is_ascii_alpha(s[b.end])) &&
			!(dash_at(s, len, b.end) > 0 &&
			    is_digit(s, len, b.end + dash_at(s, len, b.end)));
	}
	if (!range)
		apply_multiplier(s, len, &a);
	if (ctx->price) {
		memset(&f, 0, sizeof(f));
		f.found = f.replace = f.adjacent = true;
		f.noun = &SHEKEL;
		f.gender = SHEKEL.gender;
		f.wstart = f.wend = range ? b.end : a.end;
	} else
		detect_follow(s, len, range ? b.end : a.end, &f);

	put_lead(out, ctx);
	if (!range)
		return put_with_noun(out, s, &a, &f, ctx, true);
	if (f.found)
		put_tok(out, s, &a, f.gender);
	else
		put_tok(out, s, &a, HEBNUM_FEMININE);
	sb_puts(out, ctx->between ? " ל" : " עד ");
	return put_with_noun(out, s, &b, &f, ctx, false);
}

/* The noun just before the prefix at i ("בקומה ה-3"), if known. */
static const struct noun *
noun_before(const char *s, size_t len, size_t i)
{
	size_t j = i, e;

	if (j > 0 && s[j - 1] == ' ')
		j--;
	e = j;
	while (j >= 2 && is_heb_letter(s, len, j - 2))
		j -= 2;
	if (j == e)
		return NULL;
	return noun_lookup_stripped(s + j, e - j);
}

/* Try every recogniser at s[i]; return the end of what was said or 0. */
static size_t
try_at(struct sb *out, const char *s, size_t len, size_t i)
{
	struct numctx ctx;
	const struct noun *noun;
	char d[16];
	size_t groups[8];
	size_t end, nd = 0, ng = 0, j, k;
	bool ws = at_word_start(s, len, i);

	memset(&ctx, 0, sizeof(ctx));
	ctx.between = i >= 7 && memcmp(s + i - 7, "בין ", 7) == 0 &&
		      at_word_start(s, len, i - 7);
	if (s[i] == '+' && ws && is_digit(s, len, i + 1)) {
		if ((end = scan_phone(
			 s, len, i + 1, true, false, d, &nd, groups, &ng)) == 0)
			return 0;
		put_phone(out, d, nd, true, groups, ng);
		return end;
	}
	if (s[i] == '(' && ws && is_digit(s, len, i + 1) && s[i + 1] == '0') {
		if ((end = scan_phone(
			 s, len, i + 1, false, true, d, &nd, groups, &ng)) == 0)
			return 0;
		put_phone(out, d, nd, false, groups, ng);
		return end;
	}
	if (s[i] == '*' && ws) {
		for (j = i + 1; is_digit(s, len, j) && j - i <= 6; j++)
			;
		if (j - i < 4 || j - i > 6 || is_digit(s, len, j) ||
		    (j < len && is_ascii_alpha(s[j])))
			return 0;
		sb_puts(out, "כוכבית ");
		put_digit_words(out, s, i + 1, j);
		return j;
	}
	if (i + 2 < len && memcmp(s + i, "₪", 3) == 0) {
		j = i + 3;
		if (j < len && s[j] == ' ')
			j++;
		if (!is_digit(s, len, j))
			return 0;
		ctx.price = true;
		return put_number(out, s, len, j, &ctx);
	}
	if (s[i] == '-' && ws && is_digit(s, len, i + 1)) {
		ctx.negative = true;
		return put_number(out, s, len, i + 1, &ctx);
	}
	if (ws && is_heb_prefix(s, len, i)) {
		for (k = 0; k < 3 && is_heb_prefix(s, len, i + 2 * k); k++)
			;
		j = i + 2 * k;
		j += dash_at(s, len, j);
		if (j + 2 < len && memcmp(s + j, "₪", 3) == 0) {
			/* "ב-₪500": the price after a prefix. */
			j += 3;
			if (j < len && s[j] == ' ')
				j++;
			ctx.price = true;
		}
		if (!is_digit(s, len, j))
			return 0;
		ctx.prefix = s + i;
		ctx.prefixn = 2 * k;
		if (memcmp(s + i + 2 * k - 2, "ה", 2) == 0 &&
		    (noun = noun_before(s, len, i)) != NULL) {
			ctx.ordinal = true;
			ctx.ord_gender = noun->gender;
		}
		return put_number(out, s, len, j, &ctx);
	}
	if (is_digit(s, len, i)) {
		ctx.space_before = i >= 2 && is_heb_letter(s, len, i - 2);
		return put_number(out, s, len, i, &ctx);
	}
	return 0;
}

/* Normalise text up to its first NUL; see hebnum_normalize_len. */
char *
hebnum_normalize(const char *text)
{
	if (text == NULL)
		return xstrdup("");
	return hebnum_normalize_len(text, strlen(text));
}

/*
 * Return a copy of the first len bytes of text (up to a NUL) with every
 * number written out in Hebrew words. Never fails: NULL gives "".
 */
char *
hebnum_normalize_len(const char *text, size_t len)
{
	struct sb out = {NULL, 0, 0};
	size_t i = 0, end;

	if (text == NULL)
		return xstrdup("");
	len = strnlen(text, len);
	while (i < len) {
		if ((end = try_at(&out, text, len, i)) > i) {
			i = end;
			continue;
		}
		if (is_ascii_alpha(text[i])) {
			/* Copy a Latin word with its digits ("mp3", "A4"). */
			end = i;
			while (end < len && (is_ascii_alpha(text[end]) ||
						is_digit(text, len, end) ||
						text[end] == '_'))
				end++;
			sb_put(&out, text + i, end - i);
			i = end;
			continue;
		}
		if (is_digit(text, len, i)) {
			/* A refused number ("3D"): copy its digits as is. */
			end = i;
			while (is_digit(text, len, end))
				end++;
			sb_put(&out, text + i, end - i);
			i = end;
			continue;
		}
		sb_put(&out, text + i, 1);
		i++;
	}
	return sb_finish(&out);
}

/*
 * Return n in Hebrew words agreeing with gender (absolute forms: "שניים",
 * "שלושה"). Negative numbers start with "מינוס"; values of 10^12 and
 * more are read digit by digit.
 */
char *
hebnum_cardinal(long n, enum hebnum_gender gender)
{
	struct sb out = {NULL, 0, 0};
	uint64_t v;

	if (n < 0) {
		sb_puts(&out, "מינוס ");
		v = (uint64_t)(-(n + 1)) + 1;
	} else
		v = (uint64_t)n;
	put_cardinal(&out, v, gender);
	return sb_finish(&out);
}

/* Return the digits among the first len bytes of s read one by one. */
char *
hebnum_digits(const char *s, size_t len)
{
	struct sb out = {NULL, 0, 0};

	if (s != NULL)
		put_digit_words(&out, s, 0, strnlen(s, len));
	return sb_finish(&out);
}

/*
 * Return the spoken time for hour 0-23 and minute 0-59 ("שתיים וחצי
 * בצהריים"), or NULL when either is out of range.
 */
char *
hebnum_time(int hour, int minute)
{
	struct sb out = {NULL, 0, 0};

	if (hour < 0 || hour > 23 || minute < 0 || minute > 59)
		return NULL;
	put_time(&out, hour, minute);
	return sb_finish(&out);
}

/*
 * Return the Israeli phone number that makes up the first len bytes of s
 * read in its spoken digit groups, or NULL when s is not exactly one.
 */
char *
hebnum_phone(const char *s, size_t len)
{
	struct sb out = {NULL, 0, 0};
	char d[16];
	size_t groups[8];
	size_t nd = 0, ng = 0, start = 0;
	bool plus;

	if (s == NULL)
		return NULL;
	len = strnlen(s, len);
	plus = len > 0 && s[0] == '+';
	if (plus)
		start = 1;
	if (!is_digit(s, len, start) ||
	    scan_phone(s, len, start, plus, false, d, &nd, groups, &ng) != len)
		return NULL;
	put_phone(&out, d, nd, plus, groups, ng);
	return sb_finish(&out);
}

/*
 * Look up the gender of a Hebrew noun (singular or plural, as in the
 * table of real-estate nouns, or guessed from -ים / -ות); return 0 and set
 * *gender, or -1 when unknown.
 */
int
hebnum_noun_gender(const char *word, size_t len, enum hebnum_gender *gender)
{
	const struct noun *noun;
	int g;

	if (word == NULL || gender == NULL)
		return -1;
	len = strnlen(word, len);
	if ((noun = noun_lookup(word, len)) != NULL) {
		*gender = noun->gender;
		return 0;
	}
	if ((g = plural_guess(word, len)) < 0)
		return -1;
	*gender = (enum hebnum_gender)g;
	return 0;
}
