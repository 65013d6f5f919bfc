/*
 * Unit tests for llm-worker/sse_parse.c, the incremental SSE parser of
 * OpenAI's streamed chat completions.
 *
 * The recorded stream follows reference/ai-apis.md §3.3 exactly (data-only
 * events, a blank line after each, a usage chunk with empty choices, then
 * data: [DONE]) with Hebrew content and a tool call. It is fed whole, one
 * byte at a time, and split in two at every byte offset (and in three at
 * many pairs of offsets), with LF and CRLF line ends: the events must be
 * the same every way. Then the SSE rules one by one: comments, multi-line
 * data, CR-only ends, "data:" without a space, unknown fields, an event
 * without data, bytes after [DONE], the size limit, a last event without
 * its blank line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm.h"

#define REC_HEAD                                                         \
	"{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\"," \
	"\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_"     \
	"fingerprint\":\"fp_44709d6fcb\","

static const char *const rec_events[] = {
    REC_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
    "\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
    REC_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"שלום! יש לנו דירה של "
    "3.\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
    REC_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"5 חדרים "
	     "ב־₪1,200,000.\"},\"logprobs\":null,\"finish_reason\":null}],"
	     "\"usage\":null}",
    REC_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"
	     "0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	     "\"end_call\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_"
	     "reason\":null}],\"usage\":null}",
    REC_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"
	     "0,\"function\":{\"arguments\":\"{\\\"reason\\\":\\\"סיום\\\"}\"}}"
	     "]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
    REC_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
	     "\"finish_reason\":\"tool_calls\"}],\"usage\":null}",
    REC_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_"
	     "tokens\":12,\"total_tokens\":52}}",
    NULL,
};

struct evs {
	char *data[32];
	size_t n;
	int dones;
	int stop_after; /* stop (return 1) after this many events; 0: never */
};

static int
on_event(enum sse_parse_kind kind, const char *data, size_t len, void *arg)
{
	struct evs *e = arg;

	assert_int_equal(strlen(data), len); /* NUL-terminated */
	if (kind == SSE_PARSE_DONE) {
		e->dones++;
		return 0;
	}
	assert_true(e->n < 32);
	e->data[e->n] = malloc(len + 1);
	memcpy(e->data[e->n], data, len + 1);
	e->n++;
	return e->stop_after > 0 && (int)e->n >= e->stop_after ? 1 : 0;
}

static int
on_len(enum sse_parse_kind kind, const char *data, size_t len, void *arg)
{
	(void)kind;
	(void)data;
	*(size_t *)arg = len;
	return 0;
}

static void
evs_free(struct evs *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->data[i]);
	e->n = 0;
	e->dones = 0;
}

/* The recorded stream with line ends eol; new string. */
static char *
recorded(const char *eol)
{
	size_t cap = 16384, len = 0;
	char *s = malloc(cap);

	s[0] = '\0';
	for (size_t i = 0; rec_events[i] != NULL; i++)
		len += (size_t)snprintf(s + len, cap - len, "data: %s%s%s",
		    rec_events[i], eol, eol);
	snprintf(s + len, cap - len, "data: [DONE]%s%s", eol, eol);
	return s;
}

/* Feed s split at the offsets a <= b (pieces [0,a) [a,b) [b,len)). */
static void
feed3(const char *s, size_t a, size_t b, struct evs *e)
{
	struct sse_parser p;
	size_t len = strlen(s);

	sse_parse_init(&p, 0);
	assert_int_equal(sse_parse_feed(&p, s, a, on_event, e), 0);
	assert_int_equal(sse_parse_feed(&p, s + a, b - a, on_event, e), 0);
	assert_int_equal(sse_parse_feed(&p, s + b, len - b, on_event, e), 0);
	assert_int_equal(sse_parse_finish(&p, on_event, e), 0);
	assert_true(sse_parse_is_done(&p));
	sse_parse_free(&p);
}

static void
check_recorded(const struct evs *e)
{
	size_t n = 0;

	while (rec_events[n] != NULL)
		n++;
	assert_int_equal(e->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(e->data[i], rec_events[i]);
	assert_int_equal(e->dones, 1);
}

static void
test_recorded_whole(void **state)
{
	const char *eols[] = {"\n", "\r\n", "\r"};

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		char *s = recorded(eols[k]);
		struct evs e = {{NULL}, 0, 0, 0};

		feed3(s, 0, 0, &e);
		check_recorded(&e);
		evs_free(&e);
		free(s);
	}
}

static void
test_recorded_every_split(void **state)
{
	const char *eols[] = {"\n", "\r\n"};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		char *s = recorded(eols[k]);
		size_t len = strlen(s);

		for (size_t cut = 0; cut <= len; cut++) {
			struct evs e = {{NULL}, 0, 0, 0};

			feed3(s, cut, cut, &e);
			check_recorded(&e);
			evs_free(&e);
		}
		free(s);
	}
}

static void
test_recorded_three_pieces(void **state)
{
	char *s = recorded("\r\n");
	size_t len = strlen(s);

	(void)state;
	for (size_t a = 0; a <= len; a += 7)
		for (size_t b = a; b <= len; b += 13) {
			struct evs e = {{NULL}, 0, 0, 0};

			feed3(s, a, b, &e);
			check_recorded(&e);
			evs_free(&e);
		}
	free(s);
}

static void
test_recorded_bytewise(void **state)
{
	const char *eols[] = {"\n", "\r\n", "\r"};

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		char *s = recorded(eols[k]);
		struct sse_parser p;
		struct evs e = {{NULL}, 0, 0, 0};

		sse_parse_init(&p, 0);
		for (size_t i = 0; s[i] != '\0'; i++)
			assert_int_equal(
			    sse_parse_feed(&p, s + i, 1, on_event, &e), 0);
		assert_int_equal(sse_parse_finish(&p, on_event, &e), 0);
		check_recorded(&e);
		evs_free(&e);
		sse_parse_free(&p);
		free(s);
	}
}

/* Feed text whole; return the events. */
static void
parse_all(const char *text, struct evs *e)
{
	struct sse_parser p;

	sse_parse_init(&p, 0);
	(void)sse_parse_feed(&p, text, strlen(text), on_event, e);
	(void)sse_parse_finish(&p, on_event, e);
	sse_parse_free(&p);
}

static void
test_rules(void **state)
{
	struct evs e = {{NULL}, 0, 0, 0};

	(void)state;
	/* Comments, unknown fields, event:, id:, retry: are ignored. */
	parse_all(": keep-alive\n\nevent: message\nid: 7\nretry: 10\n"
		  "foo: bar\ndata: {\"a\":1}\n\n",
	    &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.data[0], "{\"a\":1}");
	evs_free(&e);
	/* Multi-line data joins with \n; one leading space only. */
	parse_all("data: line1\ndata:line2\ndata:  two spaces\n\n", &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.data[0], "line1\nline2\n two spaces");
	evs_free(&e);
	/* An event without data is not dispatched; empty data is. */
	parse_all("event: ping\n\ndata\n\ndata:\n\n", &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.data[0], "");
	assert_string_equal(e.data[1], "");
	evs_free(&e);
	/* A field named "data " (with a space) is not data. */
	parse_all("data : x\n\n", &e);
	assert_int_equal(e.n, 0);
	evs_free(&e);
	/* The last event without its blank line is still delivered. */
	parse_all("data: a\n\ndata: b", &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.data[1], "b");
	evs_free(&e);
	/* Nothing after [DONE]. */
	parse_all("data: a\n\ndata: [DONE]\n\ndata: late\n\n", &e);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.dones, 1);
	evs_free(&e);
	/* "[DONE]" inside a longer payload is data. */
	parse_all("data: [DONE] not\n\n", &e);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.dones, 0);
	evs_free(&e);
	/* A NUL byte inside data is kept (length, not strlen). */
	{
		static const char nul[] = "data: a\0b\n\n";
		struct sse_parser p;
		size_t got = 0;

		sse_parse_init(&p, 0);
		assert_int_equal(
		    sse_parse_feed(&p, nul, sizeof(nul) - 1, on_len, &got), 0);
		sse_parse_free(&p);
		assert_int_equal(got, 3);
	}
}

static void
test_limit(void **state)
{
	struct sse_parser p;
	struct evs e = {{NULL}, 0, 0, 0};
	char big[300];

	(void)state;
	memset(big, 'x', sizeof(big));
	sse_parse_init(&p, 256);
	assert_int_equal(sse_parse_feed(&p, "data: ", 6, on_event, &e), 0);
	assert_int_equal(
	    sse_parse_feed(&p, big, sizeof(big), on_event, &e), -1);
	/* Refused from then on. */
	assert_int_equal(sse_parse_feed(&p, "\n\n", 2, on_event, &e), -1);
	assert_int_equal(sse_parse_finish(&p, on_event, &e), -1);
	assert_int_equal(e.n, 0);
	sse_parse_free(&p);
	/* Many lines of one event add up to the limit too. */
	sse_parse_init(&p, 64);
	for (int i = 0; i < 20; i++)
		if (sse_parse_feed(&p, "data: 0123456789\n", 17, on_event, &e) <
		    0)
			break;
	assert_true(p.failed);
	sse_parse_free(&p);
}

static void
test_stop(void **state)
{
	struct sse_parser p;
	struct evs e = {{NULL}, 0, 0, 1};
	static const char s[] = "data: 1\n\ndata: 2\n\n";

	(void)state;
	sse_parse_init(&p, 0);
	assert_int_equal(sse_parse_feed(&p, s, sizeof(s) - 1, on_event, &e), 1);
	assert_int_equal(e.n, 1);
	sse_parse_free(&p);
	evs_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recorded_whole),
	    cmocka_unit_test(test_recorded_every_split),
	    cmocka_unit_test(test_recorded_three_pieces),
	    cmocka_unit_test(test_recorded_bytewise),
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
