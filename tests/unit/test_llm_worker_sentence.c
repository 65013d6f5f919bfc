/*
 * Unit tests for llm-worker/sentence.c, the Hebrew-aware incremental
 * sentence splitter between the streamed LLM reply and TTS.
 *
 * The table is written from reference/hebrew.md (§3, §5.3) and
 * reference/ai-apis.md (§3.3): never split "3.5", "₪1,200,000", "14:30",
 * "מ״ר", "וכו׳", "ת״א", "ד״ר", other geresh/gershayim abbreviations,
 * decimals, URLs and e-mail addresses; split on . ? ! : and newlines;
 * flush a long clause at a comma. Every case runs whole, one byte at a
 * time (so every multibyte character arrives in pieces) and split in two
 * at every byte offset: the sentences must be the same each way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm.h"

#define MAXS 8

struct got {
	char *s[64];
	size_t n;
};

static const struct {
	const char *in;
	const char *out[MAXS];
} cases[] = {
    /* Plain sentence ends. */
    {"שלום. מה שלומך?", {"שלום.", "מה שלומך?"}},
    {"מעולה! נתראה מחר.", {"מעולה!", "נתראה מחר."}},
    {"באמת?! מעולה.", {"באמת?!", "מעולה."}},
    {"מעולה!!! נתראה.", {"מעולה!!!", "נתראה."}},
    {"רגע... אני בודק.", {"רגע...", "אני בודק."}},
    {"רגע… אני בודק.", {"רגע…", "אני בודק."}},
    {"בסדר", {"בסדר"}},
    {"", {NULL}},
    {"   ", {NULL}},
    {"נדבר מחר. ", {"נדבר מחר."}},
    {"  רווחים בהתחלה. וגם בסוף.  ", {"רווחים בהתחלה.", "וגם בסוף."}},
    {"Hello world. שלום עולם.", {"Hello world.", "שלום עולם."}},
    /* Newlines always end a sentence; empty lines vanish. */
    {"שורה ראשונה\nשורה שנייה", {"שורה ראשונה", "שורה שנייה"}},
    {"שורה\n\nעוד שורה", {"שורה", "עוד שורה"}},
    {"שאלה?\nתשובה.", {"שאלה?", "תשובה."}},
    /* Decimals, prices, times, dates: never split inside. */
    {"יש לנו דירה של 3.5 חדרים. מתאים לך?",
	{"יש לנו דירה של 3.5 חדרים.", "מתאים לך?"}},
    {"המחיר הוא ₪1,200,000. זה בתקציב?",
	{"המחיר הוא ₪1,200,000.", "זה בתקציב?"}},
    {"המחיר 2.5 מיליון. לא כולל מע״מ.", {"המחיר 2.5 מיליון.", "לא כולל מע״מ."}},
    {"הפגישה בשעה 14:30. נתראה!", {"הפגישה בשעה 14:30.", "נתראה!"}},
    {"בשעה 10:00 או 11:30? מה נוח לך?", {"בשעה 10:00 או 11:30?", "מה נוח לך?"}},
    {"בתאריך 12.3.2025 בשעה 16:00.", {"בתאריך 12.3.2025 בשעה 16:00."}},
    {"זה עולה 1,500 ₪ לחודש. כולל ארנונה.",
	{"זה עולה 1,500 ₪ לחודש.", "כולל ארנונה."}},
    {"ש״ח 4,500 לחודש. מתאים?", {"ש״ח 4,500 לחודש.", "מתאים?"}},
    {"שכר דירה של 5,500 ש\"ח. כולל חשבונות?",
	{"שכר דירה של 5,500 ש\"ח.", "כולל חשבונות?"}},
    {"3.5", {"3.5"}},
    {"עלות: 3.5%. בסדר?", {"עלות: 3.5%.", "בסדר?"}},
    /* A sentence ending in a number still closes (pipecat #1756). */
    {"הדירה בקומה 3. יש מעלית.", {"הדירה בקומה 3.", "יש מעלית."}},
    {"מספר הטלפון 054-1234567. נחזור אליך.",
	{"מספר הטלפון 054-1234567.", "נחזור אליך."}},
    /* Geresh and gershayim abbreviations. */
    {"הדירה 100 מ״ר. יש מרפסת.", {"הדירה 100 מ״ר.", "יש מרפסת."}},
    {"מ\"ר 120. גדול!", {"מ\"ר 120.", "גדול!"}},
    {"יש חניה, מעלית, מחסן וכו׳. רוצה לראות?",
	{"יש חניה, מעלית, מחסן וכו׳.", "רוצה לראות?"}},
    {"יש מחסן וכו׳ ויש גם גינה.", {"יש מחסן וכו׳ ויש גם גינה."}},
    {"הדירה בת״א, ליד הים.", {"הדירה בת״א, ליד הים."}},
    {"ד״ר כהן יחזור אליך. תודה.", {"ד״ר כהן יחזור אליך.", "תודה."}},
    {"זה ממ״ד? כן.", {"זה ממ״ד?", "כן."}},
    {"זה במרחק 2.5 ק\"מ מהים! נכון?", {"זה במרחק 2.5 ק\"מ מהים!", "נכון?"}},
    {"גרים בר״ג ובפ״ת.", {"גרים בר״ג ובפ״ת."}},
    /* Dotted abbreviations. */
    {"המשרד ברח. הרצל 5 בתל אביב.", {"המשרד ברח. הרצל 5 בתל אביב."}},
    {"דירה מס. 4 פנויה.", {"דירה מס. 4 פנויה."}},
    {"טל. 03-1234567 זמין.", {"טל. 03-1234567 זמין."}},
    {"ת.א. היא עיר יקרה.", {"ת.א. היא עיר יקרה."}},
    {"e.g. דירת גן.", {"e.g. דירת גן."}},
    {"Dr. Cohen will call. Thanks.", {"Dr. Cohen will call.", "Thanks."}},
    {"Mrs. Levi is here. OK?", {"Mrs. Levi is here.", "OK?"}},
    {"ראה סעיף 4.ב. בחוזה.", {"ראה סעיף 4.ב. בחוזה."}},
    {"1. דירה בתל אביב", {"1. דירה בתל אביב"}},
    /* URLs and e-mail addresses. */
    {"כתבו לנו ל-info@shai.co.il ונחזור אליכם.",
	{"כתבו לנו ל-info@shai.co.il ונחזור אליכם."}},
    {"האתר שלנו הוא www.shai.co.il. תודה!",
	{"האתר שלנו הוא www.shai.co.il.", "תודה!"}},
    {"היכנסו ל-https://shai.co.il/search?city=tlv&rooms=3 לפרטים.",
	{"היכנסו ל-https://shai.co.il/search?city=tlv&rooms=3 לפרטים."}},
    {"שלום.מה", {"שלום.מה"}},
    {"מה המחיר?בערך", {"מה המחיר?בערך"}},
    /* Colons: after a clause, not after a short label. */
    {"יש שלוש אפשרויות: דירה בתל אביב, דירה ברמת גן ובית בהרצליה.",
	{"יש שלוש אפשרויות:", "דירה בתל אביב, דירה ברמת גן ובית בהרצליה."}},
    {"כתובת: הרצל 5.", {"כתובת: הרצל 5."}},
    {"מחיר: 1,200,000 ₪.", {"מחיר: 1,200,000 ₪."}},
    /* Closing quotes and brackets stay with their sentence. */
    {"הוא אמר \"אני מגיע.\" ואז הלך.", {"הוא אמר \"אני מגיע.\"", "ואז הלך."}},
    {"\"כן.\" אמר.", {"\"כן.\"", "אמר."}},
    {"(בערך 3.5 חדרים). בסדר?", {"(בערך 3.5 חדרים).", "בסדר?"}},
    {"הוא שאל (זה נכון?) ואז הלך.", {"הוא שאל (זה נכון?)", "ואז הלך."}},
    {"היא אמרה ״שלום.״ ויצאה.", {"היא אמרה ״שלום.״", "ויצאה."}},
};

static void
collect(const char *text, size_t len, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 64);
	g->s[g->n] = malloc(len + 1);
	memcpy(g->s[g->n], text, len);
	g->s[g->n][len] = '\0';
	g->n++;
}

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->s[i]);
	g->n = 0;
}

/* Feed in in pieces of step bytes (0: whole), first piece first bytes. */
static void
run(const char *in, size_t first, size_t step, size_t long_chars, struct got *g)
{
	struct sentence_splitter s;
	size_t len = strlen(in), off = 0;

	sentence_init(&s, long_chars, collect, g);
	if (first > 0 && first <= len) {
		sentence_feed(&s, in, first);
		off = first;
	}
	while (off < len) {
		size_t n = step == 0 ? len - off : step;

		if (n > len - off)
			n = len - off;
		sentence_feed(&s, in + off, n);
		off += n;
	}
	sentence_finish(&s);
	sentence_free(&s);
}

static void
expect(const struct got *g, const char *const *out, const char *in,
    const char *how)
{
	size_t n = 0;

	while (n < MAXS && out[n] != NULL)
		n++;
	if (g->n != n) {
		for (size_t i = 0; i < g->n; i++)
			print_error("  got [%s]\n", g->s[i]);
		fail_msg("\"%s\" (%s): %zu sentences, expected %zu", in, how,
		    g->n, n);
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(g->s[i], out[i]) != 0)
			fail_msg("\"%s\" (%s): sentence %zu is [%s], expected "
				 "[%s]",
			    in, how, i, g->s[i], out[i]);
}

static void
test_table_whole(void **state)
{
	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 50);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got g = {{NULL}, 0};

		run(cases[i].in, 0, 0, 0, &g);
		expect(&g, cases[i].out, cases[i].in, "whole");
		got_free(&g);
	}
}

static void
test_table_bytewise(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got g = {{NULL}, 0};

		run(cases[i].in, 0, 1, 0, &g);
		expect(&g, cases[i].out, cases[i].in, "byte by byte");
		got_free(&g);
	}
}

static void
test_table_every_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		for (size_t cut = 1; cut < len; cut++) {
			struct got g = {{NULL}, 0};

			run(cases[i].in, cut, 0, 0, &g);
			expect(&g, cases[i].out, cases[i].in, "split in two");
			got_free(&g);
		}
	}
}

/* LLM deltas as they really come: cut inside numbers and letters. */
static void
test_deltas(void **state)
{
	static const char *const deltas[] = {"יש 3", ".", "5 חדרים",
	    ". המחיר ₪1", ",200", ",000. שטח 100 מ\xd7", "\xb4ר וכו\xd7",
	    "\xb3. טוב", "?", NULL};
	static const char *const out[] = {"יש 3.5 חדרים.", "המחיר ₪1,200,000.",
	    "שטח 100 מ״ר וכו׳.", "טוב?", NULL};
	struct sentence_splitter s;
	struct got g = {{NULL}, 0};

	(void)state;
	sentence_init(&s, 0, collect, &g);
	for (size_t i = 0; deltas[i] != NULL; i++)
		sentence_feed(&s, deltas[i], strlen(deltas[i]));
	/* Everything but the last sentence left before the end. */
	assert_int_equal(g.n, 3);
	sentence_finish(&s);
	sentence_free(&s);
	expect(&g, out, "deltas", "deltas");
	got_free(&g);
}

/* A sentence goes out as soon as the byte after its end arrives. */
static void
test_emits_early(void **state)
{
	struct sentence_splitter s;
	struct got g = {{NULL}, 0};

	(void)state;
	sentence_init(&s, 0, collect, &g);
	sentence_feed(&s, "שלום.", strlen("שלום."));
	assert_int_equal(g.n, 0); /* "3." or "שלום.כן" could follow */
	sentence_feed(&s, " ", 1);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.s[0], "שלום.");
	sentence_finish(&s);
	sentence_free(&s);
	got_free(&g);
}

static void
test_long_clause_comma(void **state)
{
	static const char in[] =
	    "דירה יפה עם מרפסת גדולה, ליד הים, במחיר 1,200,000, מתאים?";
	static const char *const out[] = {"דירה יפה עם מרפסת גדולה,",
	    "ליד הים, במחיר 1,200,000,", "מתאים?", NULL};
	size_t len = strlen(in);

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		struct got g = {{NULL}, 0};

		run(in, cut, 0, 20, &g);
		expect(&g, out, in, "long clause");
		got_free(&g);
	}
	{
		struct got g = {{NULL}, 0};

		run(in, 0, 1, 20, &g);
		expect(&g, out, in, "long clause bytewise");
		got_free(&g);
	}
}

/* A reply without any mark is still spoken, cut at spaces. */
static void
test_hard_limit(void **state)
{
	char in[4000] = "";
	struct got g = {{NULL}, 0};
	size_t total = 0;

	(void)state;
	for (int i = 0; i < 150; i++)
		strcat(in, "מילה ");
	run(in, 0, 7, 0, &g);
	assert_true(g.n >= 3);
	for (size_t i = 0; i < g.n; i++) {
		assert_true(strlen(g.s[i]) <= 3 * SENTENCE_LONG_CHARS * 2);
		assert_true(strncmp(g.s[i], "מילה", strlen("מילה")) == 0);
		total += strlen(g.s[i]) + 1;
	}
	assert_int_equal(total, strlen(in));
	got_free(&g);
}

/* Invalid UTF-8 and NUL bytes are passed through, never crash. */
static void
test_garbage(void **state)
{
	static const char junk[] = "\xff\xfe. \xd7. \xe2\x80. a\0b. ?";
	struct sentence_splitter s;
	struct got g = {{NULL}, 0};

	(void)state;
	sentence_init(&s, 0, collect, &g);
	for (size_t i = 0; i < sizeof(junk) - 1; i++)
		sentence_feed(&s, junk + i, 1);
	sentence_finish(&s);
	sentence_free(&s);
	assert_true(g.n >= 1);
	got_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_whole),
	    cmocka_unit_test(test_table_bytewise),
	    cmocka_unit_test(test_table_every_split),
	    cmocka_unit_test(test_deltas),
	    cmocka_unit_test(test_emits_early),
	    cmocka_unit_test(test_long_clause_comma),
	    cmocka_unit_test(test_hard_limit),
	    cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
