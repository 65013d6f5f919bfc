/*
 * Tests of common/log.c: every line is one valid JSON object with the
 * required fields, call context and extra fields appear, levels filter,
 * invalid UTF-8 cannot break a line, and secrets never get through.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static FILE *capture;

static int
setup(void **state)
{
	(void)state;
	capture = tmpfile();
	assert_non_null(capture);
	log_set_fd(fileno(capture));
	log_init("testd", "7");
	log_set_level(LOG_LEVEL_DEBUG);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_fd(2);
	log_clear_secrets();
	fclose(capture);
	return 0;
}

/* Read every line written so far; return them as parsed JSON objects. */
static json_t *
lines(void)
{
	json_t *arr = json_array();
	char buf[8192];

	fflush(capture);
	rewind(capture);
	while (fgets(buf, sizeof(buf), capture) != NULL) {
		json_error_t err;
		json_t *j = json_loads(buf, 0, &err);

		if (j == NULL)
			fail_msg("not JSON: %s (%s)", buf, err.text);
		assert_true(json_is_object(j));
		json_array_append_new(arr, j);
	}
	assert_int_equal(ftruncate(fileno(capture), 0), 0);
	rewind(capture);
	return arr;
}

static const char *
field(json_t *obj, const char *k)
{
	return json_string_value(json_object_get(obj, k));
}

static void
test_required_fields(void **state)
{
	json_t *a, *l;

	(void)state;
	log_info("hello %d \"quoted\"\n\ttab", 42);
	a = lines();
	assert_int_equal(json_array_size(a), 1);
	l = json_array_get(a, 0);
	assert_string_equal(field(l, "level"), "info");
	assert_string_equal(field(l, "daemon"), "testd");
	assert_string_equal(field(l, "instance"), "7");
	assert_string_equal(field(l, "msg"), "hello 42 \"quoted\"\n\ttab");
	assert_int_equal(
	    json_integer_value(json_object_get(l, "pid")), getpid());
	assert_int_equal(strlen(field(l, "ts")), 24);
	assert_int_equal(field(l, "ts")[23], 'Z');
	json_decref(a);
}

static void
test_call_context_and_fields(void **state)
{
	struct log_ctx ctx = {"CA123", "MZ456", 99, 3};
	struct log_ctx none = LOG_CTX_NONE;
	json_t *a, *f = json_pack("{s:s, s:i}", "worker", "lost", "n", 5);

	(void)state;
	log_call(LOG_LEVEL_WARN, &ctx, "turn ended");
	log_fields(LOG_LEVEL_INFO, &none, f, "with fields");
	json_decref(f);
	a = lines();
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(field(json_array_get(a, 0), "call_sid"), "CA123");
	assert_string_equal(field(json_array_get(a, 0), "stream_sid"), "MZ456");
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(a, 0), "job_id")),
	    99);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(a, 0), "turn")),
	    3);
	assert_null(json_object_get(json_array_get(a, 1), "call_sid"));
	assert_null(json_object_get(json_array_get(a, 1), "turn"));
	assert_string_equal(field(json_array_get(a, 1), "worker"), "lost");
	json_decref(a);
}

static void
test_levels(void **state)
{
	json_t *a;
	enum log_level lv;

	(void)state;
	log_set_level(LOG_LEVEL_WARN);
	log_debug("no");
	log_info("no");
	log_warnx("yes");
	log_error("yes");
	a = lines();
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(field(json_array_get(a, 1), "level"), "error");
	json_decref(a);
	assert_int_equal(log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("loud", &lv), -1);
}

static void
test_errno_suffix(void **state)
{
	json_t *a;

	(void)state;
	errno = ENOENT;
	log_warn("open %s", "/x");
	a = lines();
	assert_string_equal(field(json_array_get(a, 0), "msg"),
	    "open /x: No such file or directory");
	json_decref(a);
}

static void
test_invalid_utf8_and_hebrew(void **state)
{
	json_t *a;

	(void)state;
	log_info("bad \xff\xfe bytes, overlong \xc0\xaf, cut \xd7");
	log_info("שלום, עולם");
	a = lines();
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(field(json_array_get(a, 0), "msg"),
	    "bad \xef\xbf\xbd\xef\xbf\xbd bytes, overlong "
	    "\xef\xbf\xbd\xef\xbf\xbd, cut \xef\xbf\xbd");
	assert_string_equal(field(json_array_get(a, 1), "msg"), "שלום, עולם");
	json_decref(a);
}

static void
test_secret_never_printed(void **state)
{
	json_t *a, *f;
	char raw[4096];
	size_t n;

	(void)state;
	log_add_secret("sk-live-abcdef");
	log_add_secret("abc"); /* too short to redact safely: ignored */
	f = json_pack("{s:s}", "header", "Bearer sk-live-abcdef");
	log_fields(LOG_LEVEL_INFO, NULL, f, "key=%s twice=%s", "sk-live-abcdef",
	    "xsk-live-abcdefx");
	json_decref(f);
	fflush(capture);
	rewind(capture);
	n = fread(raw, 1, sizeof(raw) - 1, capture);
	raw[n] = '\0';
	assert_null(strstr(raw, "sk-live"));
	a = lines();
	assert_string_equal(field(json_array_get(a, 0), "msg"),
	    "key=(redacted) twice=x(redacted)x");
	assert_string_equal(
	    field(json_array_get(a, 0), "header"), "Bearer (redacted)");
	json_decref(a);
	log_info("abc stays");
	a = lines();
	assert_string_equal(field(json_array_get(a, 0), "msg"), "abc stays");
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_required_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_call_context_and_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errno_suffix, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_invalid_utf8_and_hebrew, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_never_printed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
