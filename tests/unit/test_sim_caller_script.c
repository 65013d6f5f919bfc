/*
 * Unit tests for tools/sim-caller/script.c (call scenarios, line noise)
 * and metrics.c (percentiles, histograms).
 *
 * The noise must be what docs/scenarios.md promises: Python's
 * random.Random(seed).gauss(0, 1), so the expected numbers below were
 * printed by CPython 3.11 (random.Random(7).gauss(0, 1) three times,
 * random.Random(2**40 + 5).gauss(0, 1), random.Random(7).random(), and
 * round(random.Random(1).gauss(0, 1) * 32768 * 10 ** (-30 / 20)) six
 * times). A scenario file is written to a temporary file and loaded; bad
 * ones are refused; --say lines and barge-in marks; one line is rendered
 * with espeak-ng to check speech_end. The files are #included whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/sim-caller/metrics.c"
#include "../../tools/sim-caller/player.c"
#include "../../tools/sim-caller/script.c"

static void
test_python_random(void **state)
{
	struct script_mt r;
	static const double want7[] = {
	    -0.2558802884476004, 0.511431512516514, -0.2260961647831047};
	static const int16_t want_noise[] = {1335, 1502, 69, -792, -1132, 32};
	uint8_t noise[6];

	(void)state;
	script_mt_seed(&r, 7);
	for (size_t i = 0; i < 3; i++)
		assert_true(fabs(script_mt_gauss(&r) - want7[i]) < 1e-15);
	script_mt_seed(&r, 7);
	assert_true(fabs(script_mt_random(&r) - 0.32383276483316237) < 1e-16);
	script_mt_seed(&r, (1UL << 40) + 5);
	assert_true(fabs(script_mt_gauss(&r) - -0.7906503216763192) < 1e-15);
	script_noise(noise, 6, -30.0, 1);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(noise[i], mulaw_encode(want_noise[i]));
}

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/sim-caller-test.XXXXXX");
	int fd = mkstemp(path);
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static int
load_text(const char *text, struct script *s)
{
	char *path = write_tmp(text);
	int rc = script_load(path, s);

	unlink(path);
	free(path);
	return rc;
}

static void
test_load(void **state)
{
	struct script s;

	(void)state;
	assert_int_equal(
	    load_text("{\"format\":\"merkazia-scenario/1\",\"name\":\"t\","
		      "\"business\":{\"number\":\"+97235550100\"},"
		      "\"caller\":{\"from\":\"+972521234567\",\"wpm\":170},"
		      "\"steps\":[{\"silence_ms\":2500,\"note\":\"x\"},"
		      "{\"id\":\"hi\",\"say\":\"שלום\",\"agent\":\"a\"},"
		      "{\"noise_ms\":600,\"level_dbfs\":-20,\"seed\":7},"
		      "{\"say\":\"כן\",\"wpm\":200},{\"noise_ms\":20}],"
		      "\"analysis\":{}}",
		&s),
	    0);
	assert_string_equal(s.name, "t");
	assert_string_equal(s.from, "+972521234567");
	assert_string_equal(s.to, "+97235550100");
	assert_int_equal(s.n, 5);
	assert_int_equal(s.steps[0].kind, SCRIPT_SILENCE);
	assert_int_equal(s.steps[0].ms, 2500);
	assert_int_equal(s.steps[1].kind, SCRIPT_SAY);
	assert_string_equal(s.steps[1].id, "hi");
	assert_string_equal(s.steps[1].say, "שלום");
	assert_int_equal(s.steps[1].wpm, 170);
	assert_int_equal(s.steps[1].barge_ms, -1);
	assert_int_equal(s.steps[2].kind, SCRIPT_NOISE);
	assert_true(s.steps[2].level_dbfs == -20.0);
	assert_int_equal(s.steps[2].seed, 7);
	assert_null(s.steps[3].id);
	assert_int_equal(s.steps[3].wpm, 200);
	assert_true(s.steps[4].level_dbfs == -30.0);
	assert_int_equal(s.steps[4].seed, 1);

	assert_int_equal(script_barge_in(&s, "hi:450"), 0);
	assert_int_equal(s.steps[1].barge_ms, 450);
	assert_int_equal(script_barge_in(&s, "hi"), 0);
	assert_int_equal(s.steps[1].barge_ms, 300);
	assert_int_equal(script_barge_in(&s, "nope"), -1);
	assert_int_equal(script_barge_in(&s, "hi:x"), -1);
	script_say(&s, "תודה", 0);
	assert_string_equal(s.steps[5].id, "say3");
	script_free(&s);
}

static void
test_load_refused(void **state)
{
	static const char *const bad[] = {
	    "not json",
	    "{\"format\":\"merkazia-scenario/2\",\"steps\":[]}",
	    "{\"format\":\"merkazia-scenario/1\"}",
	    "{\"format\":\"merkazia-scenario/1\",\"steps\":[{}]}",
	    "{\"format\":\"merkazia-scenario/1\",\"steps\":[{\"say\":\"a\","
	    "\"silence_ms\":1}]}",
	    "{\"format\":\"merkazia-scenario/1\",\"steps\":[{\"say\":\"\"}]}",
	    "{\"format\":\"merkazia-scenario/1\",\"steps\":[{\"silence_ms\":"
	    "-1}]}",
	    "{\"format\":\"merkazia-scenario/1\",\"steps\":[{\"noise_ms\":1,"
	    "\"level_dbfs\":3}]}",
	    "{\"format\":\"merkazia-scenario/1\",\"caller\":{\"wpm\":5},"
	    "\"steps\":[]}",
	};
	struct script s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (load_text(bad[i], &s) != -1)
			fail_msg("accepted: %s", bad[i]);
		script_free(&s);
	}
}

static void
test_render(void **state)
{
	struct script s;

	(void)state;
	memset(&s, 0, sizeof(s));
	script_say(&s, "שלום, אני מחפש דירה.", 0);
	assert_int_equal(script_render(&s), 0);
	assert_true(s.steps[0].len > 8000 / 2);
	assert_true(s.steps[0].speech_end > 0);
	assert_true(s.steps[0].speech_end <= s.steps[0].len);
	script_free(&s);
	audio_shutdown();
}

static void
test_percentiles(void **state)
{
	double v[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
	double one[] = {42};
	json_t *j;

	(void)state;
	assert_true(metrics_percentile(v, 10, 50.0) == 5.0);
	assert_true(metrics_percentile(v, 10, 99.0) == 10.0);
	assert_true(metrics_percentile(v, 10, 10.0) == 1.0);
	assert_true(metrics_percentile(one, 1, 99.0) == 42.0);
	assert_true(isnan(metrics_percentile(v, 0, 50.0)));
	j = metrics_summary(v, 10);
	assert_true(json_real_value(json_object_get(j, "max")) == 10.0);
	assert_true(json_real_value(json_object_get(j, "p50")) == 5.0);
	assert_int_equal(json_integer_value(json_object_get(j, "n")), 10);
	json_decref(j);
	j = metrics_summary(v, 0);
	assert_true(json_is_null(json_object_get(j, "p99")));
	json_decref(j);
}

static void
test_histogram(void **state)
{
	struct metrics_hist h;
	json_t *j;

	(void)state;
	metrics_hist_init(&h, 0.1, 100.0);
	assert_true(isnan(metrics_hist_percentile(&h, 50.0)));
	j = metrics_hist_summary(&h);
	assert_true(json_is_null(json_object_get(j, "p50")));
	json_decref(j);
	/* 98 gaps of 20 ms, one of 35.04 ms, one of 500 ms (over the top). */
	for (int i = 0; i < 98; i++)
		metrics_hist_add(&h, 20.0);
	metrics_hist_add(&h, 35.04);
	metrics_hist_add(&h, 500.0);
	metrics_hist_add(&h, NAN);
	assert_int_equal(h.n, 100);
	/* The upper edge of 20.0's bin, 20.1 (to within rounding). */
	assert_true(fabs(metrics_hist_percentile(&h, 50.0) - 20.1) < 1e-9);
	assert_true(fabs(metrics_hist_percentile(&h, 99.0) - 35.1) < 1e-9);
	assert_true(metrics_hist_percentile(&h, 100.0) == 500.0);
	assert_true(h.max == 500.0);
	metrics_hist_free(&h);
	/* Never above the maximum; a negative value counts as 0. */
	metrics_hist_init(&h, 1.0, 10.0);
	metrics_hist_add(&h, 2.5);
	metrics_hist_add(&h, -1.0);
	assert_true(metrics_hist_percentile(&h, 99.0) == 2.5);
	assert_true(metrics_hist_percentile(&h, 50.0) == 1.0);
	j = metrics_hist_summary(&h);
	assert_int_equal(json_integer_value(json_object_get(j, "n")), 2);
	assert_true(json_real_value(json_object_get(j, "max")) == 2.5);
	json_decref(j);
	metrics_hist_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_python_random),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_load_refused),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_percentiles),
	    cmocka_unit_test(test_histogram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
