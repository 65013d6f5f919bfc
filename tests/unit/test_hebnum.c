/*
 * Unit tests for common/hebnum.c, the Hebrew number normaliser the
 * tts-worker runs before synthesis.
 *
 * The table below copies the rules of shared/reference/hebrew.md §3 (the
 * tests must not read ../shared at run time):
 *  - numerals agree with the counted noun ("ילד אחד" / "ילדה אחת"); חדר is
 *    masculine ("שלושה חדרים"), קומה feminine ("שלוש קומות");
 *  - abstract counting (a bare number) uses the feminine forms;
 *  - hundreds take the feminine form used with מאה ("חמש מאות"), thousands
 *    the construct used with the masculine אלף ("תשעת אלפים");
 *  - the construct before a noun: "שתי ידיים", not "שתיים ידיים";
 *  - 3.5 rooms is "שלושה וחצי חדרים";
 *  - prices: "מיליון ומאתיים אלף שקל" (we say שקלים after ₪ / ש״ח);
 *  - phone numbers digit by digit in groups (05X-XXX-XXXX);
 *  - dates "ה-12 במרץ" / "שנים עשר במרץ" (the day is masculine);
 *  - espeak-ng cannot say digits, so none may be left in a number we read.
 * Then the edge cases: empty and NULL input, text without numbers, invalid
 * UTF-8 and random bytes, very long digit strings, negative numbers,
 * Hebrew prefixes (ב-3, ל־5, מ-2), numbers inside English text.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hebnum.h"

static const struct {
	const char *in;
	const char *out;
} cases[] = {
    /* Gender agreement with the noun (§3). */
    {"4 חדרים", "ארבעה חדרים"},
    {"3 חדרים", "שלושה חדרים"},
    {"3 קומות", "שלוש קומות"},
    {"5 דירות", "חמש דירות"},
    {"10 ימים", "עשרה ימים"},
    {"10 שנים", "עשר שנים"},
    {"6 חודשים", "שישה חודשים"},
    {"3 ילדים", "שלושה ילדים"},
    {"11 חדרים", "אחד עשר חדרים"},
    {"12 קומות", "שתים עשרה קומות"},
    /* One follows its noun: "ילד אחד", "ילדה אחת". */
    {"1 ילד", "ילד אחד"},
    {"1 ילדה", "ילדה אחת"},
    {"1 חדר", "חדר אחד"},
    {"1 שנה", "שנה אחת"},
    /* Two before a noun is the construct: "שתי ידיים". */
    {"2 חדרים", "שני חדרים"},
    {"2 קומות", "שתי קומות"},
    {"2 שנים", "שתי שנים"},
    /* "ו" before the last part, with the noun's gender. */
    {"21 חדרים", "עשרים ואחד חדרים"},
    {"21 דירות", "עשרים ואחת דירות"},
    {"22 ימים", "עשרים ושניים ימים"},
    /* Unknown plurals: the gender comes from -ים / -ות. */
    {"3 כיסאות", "שלוש כיסאות"},
    {"7 סלונים", "שבעה סלונים"},
    /* Halves of rooms: "שלושה וחצי חדרים". */
    {"3.5 חדרים", "שלושה וחצי חדרים"},
    {"4.5 חדרים", "ארבעה וחצי חדרים"},
    {"2.5 חדרים", "שניים וחצי חדרים"},
    {"1.5 חדרים", "חדר וחצי"},
    {"3 וחצי חדרים", "שלושה וחצי חדרים"},
    {"3 חד׳", "שלושה חדרים"},
    /* Abstract counting is feminine; hundreds and thousands. */
    {"3", "שלוש"},
    {"0", "אפס"},
    {"15", "חמש עשרה"},
    {"105", "מאה וחמש"},
    {"500", "חמש מאות"},
    {"1000", "אלף"},
    {"2000", "אלפיים"},
    {"9000", "תשעת אלפים"},
    {"2500", "אלפיים וחמש מאות"},
    {"11,000", "אחד עשר אלף"},
    {"1,250,000", "מיליון מאתיים וחמישים אלף"},
    {"999,999,999",
	"תשע מאות תשעים ותשעה מיליון תשע מאות תשעים ותשעה אלף תשע מאות "
	"תשעים ותשע"},
    /* Prices: "מיליון ומאתיים אלף שקל(ים)". */
    {"₪1,200,000", "מיליון ומאתיים אלף שקלים"},
    {"3,000,000 ₪", "שלושה מיליון שקלים"},
    {"4500 ש״ח", "ארבעת אלפים וחמש מאות שקלים"},
    {"4500 ש\"ח", "ארבעת אלפים וחמש מאות שקלים"},
    {"₪1", "שקל אחד"},
    {"₪2", "שני שקלים"},
    {"₪4.50", "ארבעה שקלים וחמישים אגורות"},
    {"1.2 מיליון ₪", "מיליון ומאתיים אלף שקלים"},
    {"850 אלף שקל", "שמונה מאות וחמישים אלף שקל"},
    /* Phones, digit by digit in the groups people say. */
    {"050-1234567", "אפס חמש אפס, אחת שתיים שלוש, ארבע חמש שש שבע"},
    {"052 123 4567", "אפס חמש שתיים, אחת שתיים שלוש, ארבע חמש שש שבע"},
    {"+972-50-123-4567",
	"פלוס תשע שבע שתיים, חמש אפס, אחת שתיים שלוש, ארבע חמש שש שבע"},
    {"03-1234567", "אפס שלוש, אחת שתיים שלוש, ארבע חמש שש שבע"},
    {"(03) 1234567", "אפס שלוש, אחת שתיים שלוש, ארבע חמש שש שבע"},
    {"1-800-123-456", "אחת, שמונה מאות, אחת שתיים שלוש, ארבע חמש שש"},
    {"*2345", "כוכבית שתיים שלוש ארבע חמש"},
    /* Times. */
    {"14:30", "שתיים וחצי בצהריים"},
    {"9:05", "תשע וחמש דקות בבוקר"},
    {"9:45", "רבע לעשר בבוקר"},
    {"20:15", "שמונה ורבע בערב"},
    {"בין 14:00-16:00", "בין שתיים בצהריים לארבע אחר הצהריים"},
    /* Dates: the day is masculine. */
    {"ה-12 במרץ", "השנים עשר במרץ"},
    {"12 במרץ", "שנים עשר במרץ"},
    {"12.3.2024", "שנים עשר במרץ אלפיים עשרים וארבע"},
    /* Floors, labels and ordinals. */
    {"קומה 3", "קומה שלוש"},
    {"בקומה ה-3", "בקומה השלישית"},
    {"ביום ה-2", "ביום השני"},
    {"בקומה ה-12", "בקומה השתים עשרה"},
    /* Areas, years, percentages, decimals, ranges. */
    {"120 מ״ר", "מאה ועשרים מטרים רבועים"},
    {"120 מ\"ר", "מאה ועשרים מטרים רבועים"},
    {"בשנת 2024", "בשנת אלפיים עשרים וארבע"},
    {"50%", "חמישים אחוז"},
    {"2.75", "שתיים ושלושה רבעים"},
    {"0.5", "חצי"},
    {"3.14", "שלוש נקודה ארבע עשרה"},
    {"3-4 חדרים", "שלושה עד ארבעה חדרים"},
    {"בין 3-4 חדרים", "בין שלושה לארבעה חדרים"},
    /* Prefixes glued to the number. */
    {"ב-3", "בשלוש"},
    {"ל־5 ימים", "לחמישה ימים"},
    {"מ-2 דירות", "משתי דירות"},
    {"וב-14:30", "ובשתיים וחצי בצהריים"},
    {"התקשרו ל-050-1234567",
	"התקשרו לאפס חמש אפס, אחת שתיים שלוש, ארבע חמש שש שבע"},
    /* Negative numbers. */
    {"-5", "מינוס חמש"},
    {"-3.5 מעלות", "מינוס שלוש וחצי מעלות"},
    /* Whole sentences. */
    {"דירת 4 חדרים בקומה 3 ב-₪2,500,000",
	"דירת ארבעה חדרים בקומה שלוש בשני מיליון וחמש מאות אלף שקלים"},
    {"נקבע ביום שני ב-10:30, והמחיר 1,950,000 ש״ח.",
	"נקבע ביום שני בעשר וחצי בבוקר, והמחיר מיליון תשע מאות וחמישים "
	"אלף שקלים."},
};

/* Text with no number (or a code glued to Latin letters) stays as is. */
static const char *const unchanged[] = {
    "",
    "שלום, איך אפשר לעזור?",
    "hello world",
    "מ״ר ש״ח ₪ % - + * ( )",
    "mp3 A4 3D 5G 1.2M",
    "COVID19",
    "שלוש מאות",
};

static void
test_table(void **state)
{
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = hebnum_normalize(cases[i].in);
		assert_non_null(out);
		if (strcmp(out, cases[i].out) != 0)
			print_error("case %zu: \"%s\" -> \"%s\", want \"%s\"\n",
			    i, cases[i].in, out, cases[i].out);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
}

static void
test_unchanged(void **state)
{
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(unchanged) / sizeof(unchanged[0]); i++) {
		out = hebnum_normalize(unchanged[i]);
		assert_string_equal(out, unchanged[i]);
		free(out);
	}
}

static void
test_null(void **state)
{
	char *out;
	enum hebnum_gender g;

	(void)state;
	out = hebnum_normalize(NULL);
	assert_string_equal(out, "");
	free(out);
	out = hebnum_normalize_len(NULL, 10);
	assert_string_equal(out, "");
	free(out);
	out = hebnum_digits(NULL, 3);
	assert_string_equal(out, "");
	free(out);
	assert_null(hebnum_phone(NULL, 0));
	assert_int_equal(hebnum_noun_gender(NULL, 0, &g), -1);
}

/* Numbers inside English text are read; English words are kept. */
static void
test_english(void **state)
{
	char *out;

	(void)state;
	out = hebnum_normalize("I have 3 cats and call 050-1234567 at 9:30");
	assert_string_equal(out, "I have שלוש cats and call אפס חמש אפס, "
				 "אחת שתיים שלוש, ארבע חמש שש שבע at תשע "
				 "וחצי בבוקר");
	free(out);
}

/* Invalid UTF-8 passes through byte for byte; numbers are still read. */
static void
test_invalid_utf8(void **state)
{
	static const char in[] = "a\xD7\x05\xFF"
				 "3\xD7";
	static const char want[] = "a\xD7\x05\xFF"
				   "שלוש\xD7";
	static const char lone[] = "\xD7\xD7\xE2\x82\xD6-\xE2\x80";
	char *out;

	(void)state;
	out = hebnum_normalize(in);
	assert_string_equal(out, want);
	free(out);
	out = hebnum_normalize(lone);
	assert_string_equal(out, lone);
	free(out);
}

/* Past 12 digits a number is read digit by digit; no long overflows. */
static void
test_long_digits(void **state)
{
	char in[4096], *out;
	size_t i, n = 0;
	const char *p;

	(void)state;
	for (i = 0; i < sizeof(in) - 1; i++)
		in[i] = (char)('0' + i % 10);
	in[sizeof(in) - 1] = '\0';
	out = hebnum_normalize(in);
	for (p = out; (p = strstr(p, "אפס")) != NULL; p++)
		n++;
	assert_int_equal(n, 410); /* every tenth of 4095 digits is a 0 */
	assert_null(strpbrk(out, "0123456789"));
	free(out);

	out = hebnum_normalize("1000000000000");
	assert_string_equal(out, "אחת אפס אפס אפס אפס אפס אפס אפס אפס אפס "
				 "אפס אפס אפס");
	free(out);
	out = hebnum_normalize("999999999999");
	assert_string_equal(out, "תשע מאות תשעים ותשעה מיליארד תשע מאות "
				 "תשעים ותשעה מיליון תשע מאות תשעים ותשעה "
				 "אלף תשע מאות תשעים ותשע");
	free(out);
	out = hebnum_normalize("007");
	assert_string_equal(out, "אפס אפס שבע");
	free(out);
}

static void
test_cardinal(void **state)
{
	static const struct {
		long n;
		enum hebnum_gender g;
		const char *out;
	} c[] = {
	    {0, HEBNUM_MASCULINE, "אפס"},
	    {1, HEBNUM_MASCULINE, "אחד"},
	    {1, HEBNUM_FEMININE, "אחת"},
	    {2, HEBNUM_MASCULINE, "שניים"},
	    {2, HEBNUM_FEMININE, "שתיים"},
	    {10, HEBNUM_MASCULINE, "עשרה"},
	    {10, HEBNUM_FEMININE, "עשר"},
	    {12, HEBNUM_MASCULINE, "שנים עשר"},
	    {21, HEBNUM_MASCULINE, "עשרים ואחד"},
	    {21, HEBNUM_FEMININE, "עשרים ואחת"},
	    {200, HEBNUM_FEMININE, "מאתיים"},
	    {1200, HEBNUM_FEMININE, "אלף ומאתיים"},
	    {3000, HEBNUM_FEMININE, "שלושת אלפים"},
	    {13000, HEBNUM_FEMININE, "שלושה עשר אלף"},
	    {1000000, HEBNUM_MASCULINE, "מיליון"},
	    {1200000, HEBNUM_MASCULINE, "מיליון ומאתיים אלף"},
	    {2000000, HEBNUM_MASCULINE, "שני מיליון"},
	    {1000001, HEBNUM_MASCULINE, "מיליון ואחד"},
	    {-7, HEBNUM_FEMININE, "מינוס שבע"},
	};
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		out = hebnum_cardinal(c[i].n, c[i].g);
		assert_string_equal(out, c[i].out);
		free(out);
	}
	/* The extremes are read digit by digit, never negated in a long. */
	out = hebnum_cardinal(LONG_MIN, HEBNUM_FEMININE);
	assert_non_null(strstr(out, "מינוס "));
	assert_null(strpbrk(out, "0123456789"));
	free(out);
	out = hebnum_cardinal(LONG_MAX, HEBNUM_MASCULINE);
	assert_null(strpbrk(out, "0123456789"));
	free(out);
}

static void
test_time(void **state)
{
	char *out;

	(void)state;
	out = hebnum_time(0, 0);
	assert_string_equal(out, "חצות");
	free(out);
	out = hebnum_time(12, 0);
	assert_string_equal(out, "שתים עשרה בצהריים");
	free(out);
	out = hebnum_time(23, 1);
	assert_string_equal(out, "אחת עשרה ודקה בלילה");
	free(out);
	assert_null(hebnum_time(24, 0));
	assert_null(hebnum_time(-1, 0));
	assert_null(hebnum_time(10, 60));
	/* Not a time: 25:00 and hh:mm:ss are read as plain numbers. */
	out = hebnum_normalize("25:00");
	assert_string_equal(out, "עשרים וחמש:אפס אפס");
	free(out);
}

static void
test_phone(void **state)
{
	char *out;

	(void)state;
	out = hebnum_phone("0521234567", 10);
	assert_string_equal(out, "אפס חמש שתיים, אחת שתיים שלוש, "
				 "ארבע חמש שש שבע");
	free(out);
	out = hebnum_phone("+972 3 123 4567", 15);
	assert_string_equal(out, "פלוס תשע שבע שתיים, שלוש, אחת שתיים שלוש, "
				 "ארבע חמש שש שבע");
	free(out);
	assert_null(hebnum_phone("052123456", 9));    /* one digit short */
	assert_null(hebnum_phone("05212345678", 11)); /* one too many */
	assert_null(hebnum_phone("061234567", 9));    /* no such area */
	assert_null(hebnum_phone("0521234567 x", 12));
	/* Too short for a phone: a code, every group digit by digit. */
	out = hebnum_normalize("050-123");
	assert_string_equal(out, "אפס חמש אפס, אחת שתיים שלוש");
	free(out);
}

static void
test_noun_gender(void **state)
{
	enum hebnum_gender g;

	(void)state;
	assert_int_equal(hebnum_noun_gender("חדר", 6, &g), 0);
	assert_int_equal(g, HEBNUM_MASCULINE);
	assert_int_equal(hebnum_noun_gender("דירות", 10, &g), 0);
	assert_int_equal(g, HEBNUM_FEMININE);
	assert_int_equal(hebnum_noun_gender("שנים", 8, &g), 0);
	assert_int_equal(g, HEBNUM_FEMININE); /* -ים but feminine */
	assert_int_equal(hebnum_noun_gender("שבועות", 12, &g), 0);
	assert_int_equal(g, HEBNUM_MASCULINE); /* -ות but masculine */
	assert_int_equal(hebnum_noun_gender("שלום", 8, &g), -1);
}

static void
test_digits_and_len(void **state)
{
	static const char buf[] = {'1', '2', '3', '4'}; /* no NUL */
	static const char nul[] = "3\0 7";
	char *out;

	(void)state;
	out = hebnum_digits("0-5", 3);
	assert_string_equal(out, "אפס חמש");
	free(out);
	out = hebnum_normalize_len(buf, 2);
	assert_string_equal(out, "שתים עשרה");
	free(out);
	out = hebnum_normalize_len(buf, sizeof(buf));
	assert_string_equal(out, "אלף מאתיים שלושים וארבע");
	free(out);
	out = hebnum_normalize_len(nul, sizeof(nul) - 1);
	assert_string_equal(out, "שלוש"); /* stops at the NUL */
	free(out);
}

/* Random bytes never crash and bytes without digits stay the same. */
static void
test_random_bytes(void **state)
{
	static const char alphabet[] = "0123456789.,:-+*()%'\" /\xD7\x90\x91"
				       "\x94\x95\x9C\x9E\xA9\xE2\x82\xAA\xD6"
				       "\xBE\x80\xFF";
	char in[64], *out;
	uint32_t seed = 12345;
	size_t i, n;
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		n = (size_t)(round % 63);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245U + 12345U;
			in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		in[n] = '\0';
		out = hebnum_normalize_len(in, n);
		assert_non_null(out);
		if (strpbrk(in, "0123456789") == NULL)
			assert_string_equal(out, in);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_unchanged),
	    cmocka_unit_test(test_null),
	    cmocka_unit_test(test_english),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_long_digits),
	    cmocka_unit_test(test_cardinal),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_phone),
	    cmocka_unit_test(test_noun_gender),
	    cmocka_unit_test(test_digits_and_len),
	    cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
