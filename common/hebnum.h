/*
 * Hebrew number normaliser for speech synthesis.
 *
 * Why: the LLM writes digits ("₪1,200,000", "050-1234567", "3.5 חדרים",
 * "14:30") and the TTS voices read them badly: Google uses the abstract
 * (feminine) forms whatever the noun, espeak-ng Hebrew barely reads digits
 * at all. The tts-worker runs every sentence through hebnum_normalize()
 * before synthesis so numbers reach the voice as Hebrew words with the
 * gender of the counted noun (reference/hebrew.md §3).
 *
 * What it does: Israeli phone numbers digit by digit in the groups people
 * say (05X-XXX-XXXX, 0X-XXX-XXXX, +972, 1-800), prices in ₪ / ש״ח with
 * agorot, times (colloquial 12-hour with the part of the day), dates
 * (d.m.yyyy and "12 במרץ", the day masculine), ranges ("3-4 חדרים"),
 * halves and quarters, "1.2 מיליון", ordinals after "ה-" following a known
 * noun ("בקומה ה-3" -> "בקומה השלישית"), percentages, מ״ר, and plain
 * cardinals up to 999,999,999,999. Bare numbers and labels after a noun
 * ("קומה 3") take the abstract (feminine) form, as the Academy of the
 * Hebrew Language prescribes for counting.
 *
 * What it does not do: it never adds niqqud, never rewrites non-number
 * text, and does not read K/M shorthand ("1.2M"), model names ("A4",
 * "mp3") or anything glued to Latin letters: those are left as written.
 *
 * Safety: pure functions over buffers, no I/O and no global state, so they
 * are unit-tested and fuzzed (tests/fuzz/fuzz_hebnum.c). Any bytes are
 * accepted, including invalid UTF-8, which is copied through unchanged.
 * Digit strings too long for a cardinal (more than 12 digits) are read
 * digit by digit, so no value ever overflows.
 *
 * Ownership: every char * returned here is new, NUL-terminated and owned
 * by the caller, who frees it with free(). Allocation failure aborts
 * (xmalloc.h), so these functions never return NULL unless documented.
 */
#ifndef MERKAZIA_HEBNUM_H
#define MERKAZIA_HEBNUM_H

#include <stddef.h>

/* The gender a number agrees with; FEMININE is also the abstract form. */
enum hebnum_gender {
	HEBNUM_FEMININE,
	HEBNUM_MASCULINE,
};

/* hebnum.c */
char *hebnum_normalize(const char *text);
char *hebnum_normalize_len(const char *text, size_t len);
char *hebnum_cardinal(long n, enum hebnum_gender gender);
char *hebnum_digits(const char *s, size_t len);
char *hebnum_time(int hour, int minute);
char *hebnum_phone(const char *s, size_t len);
int hebnum_noun_gender(
    const char *word, size_t len, enum hebnum_gender *gender);

#endif
