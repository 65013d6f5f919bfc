/*
 * Tests of common/openai.c: the OpenAI error document and the retry
 * policy of ai-apis.md §1.5 shared by the stt-worker and the llm-worker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "openai.h"

static void
test_error_parse(void **state)
{
	static const char quota[] =
	    "{\"error\":{\"message\":\"You exceeded your current quota\","
	    "\"type\":\"insufficient_quota\",\"param\":null,"
	    "\"code\":\"insufficient_quota\"}}";
	static const char numeric[] =
	    "{\"error\":{\"message\":\"x\",\"type\":\"server_error\","
	    "\"code\":500}}";
	struct openai_error e;

	(void)state;
	assert_int_equal(openai_error_parse(quota, strlen(quota), &e), 0);
	assert_string_equal(e.type, "insufficient_quota");
	assert_true(openai_error_is_quota(&e));
	assert_int_equal(openai_error_parse(numeric, strlen(numeric), &e), 0);
	assert_string_equal(e.code, "500");
	assert_false(openai_error_is_quota(&e));
	assert_int_equal(openai_error_parse("[1]", 3, &e), -1);
	assert_string_equal(e.message, "");
	assert_int_equal(openai_error_parse("{\"x\":1}", 7, &e), -1);
	assert_int_equal(openai_error_parse(NULL, 0, &e), -1);
	assert_false(openai_error_is_quota(NULL));
}

static void
test_retry_policy(void **state)
{
	struct openai_error quota, other;
	static const struct {
		enum httpc_status st;
		long code;
		long retry_after;
		int quota;
		int retry;
		long want; /* -1: never; 0: backoff; else exactly */
	} cases[] = {
	    {HTTPC_OK, 429, 0, 1, 0, -1},	   /* quota: never */
	    {HTTPC_OK, 429, 1000, 0, 0, 1000},	   /* Retry-After honoured */
	    {HTTPC_OK, 429, 500000, 0, 0, 0},	   /* absurd Retry-After */
	    {HTTPC_OK, 500, 0, 0, 0, 0},	   /* 5xx: backoff */
	    {HTTPC_OK, 503, 0, 0, 3, 0},	   /* 5xx: backoff */
	    {HTTPC_OK, 408, 0, 0, 0, 0},	   /* timeout at the server */
	    {HTTPC_OK, 400, 0, 0, 0, -1},	   /* bad request: never */
	    {HTTPC_OK, 401, 0, 0, 0, -1},	   /* bad key: never */
	    {HTTPC_ERR_TIMEOUT, 0, 0, 0, 0, 0},	   /* network: backoff */
	    {HTTPC_ERR_CONNECT, 0, 0, 0, 1, 0},	   /* network: backoff */
	    {HTTPC_ERR_INVALID, 0, 0, 0, 0, -1},   /* our bug: never */
	    {HTTPC_ERR_TOO_LARGE, 0, 0, 0, 0, -1}, /* never */
	};

	(void)state;
	memset(&quota, 0, sizeof(quota));
	memset(&other, 0, sizeof(other));
	strcpy(quota.code, "insufficient_quota");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		long got = openai_retry_ms(cases[i].st, cases[i].code,
		    cases[i].retry_after, cases[i].quota ? &quota : &other,
		    cases[i].retry, 0.0);
		long backoff = 500L << cases[i].retry;

		if (cases[i].want == 0)
			assert_int_equal(got, backoff > 8000 ? 8000 : backoff);
		else
			assert_int_equal(got, cases[i].want);
	}
	/* The backoff is capped, and jitter only shortens it. */
	assert_int_equal(openai_retry_ms(HTTPC_OK, 500, 0, NULL, 9, 0.0), 8000);
	assert_int_equal(openai_retry_ms(HTTPC_OK, 500, 0, NULL, 0, 1.0), 375);
}

static void
test_error_kind(void **state)
{
	struct openai_error quota;

	(void)state;
	memset(&quota, 0, sizeof(quota));
	strcpy(quota.type, "insufficient_quota");
	assert_string_equal(
	    openai_error_kind(HTTPC_ERR_TIMEOUT, 0, NULL), "timeout");
	assert_string_equal(openai_error_kind(HTTPC_OK, 429, &quota), "quota");
	assert_string_equal(
	    openai_error_kind(HTTPC_OK, 429, NULL), "rate_limit");
	assert_string_equal(openai_error_kind(HTTPC_OK, 500, NULL), "provider");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_parse),
	    cmocka_unit_test(test_retry_policy),
	    cmocka_unit_test(test_error_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
