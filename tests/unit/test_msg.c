/*
 * Tests of common/msg.c: every type round-trips through encode/decode,
 * and every way a message can be bad is caught before a field is used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"

static uint8_t *
make(enum msg_type type, const char *json, const uint8_t *blob, size_t blob_len,
    size_t *len)
{
	struct msg m;

	msg_init(&m, type);
	m.flags = MSG_F_FINAL;
	m.job_id = 0x0102030405060708ull;
	m.generation = 7;
	m.budget_ms = 2500;
	m.attempt = 2;
	assert_int_equal(
	    msg_set_reply(&m, "ipc:///run/merkazia/results.sock"), 0);
	assert_int_equal(msg_set_call_sid(&m, "CA0123456789abcdef"), 0);
	m.json = json;
	m.json_len = json ? strlen(json) : 0;
	m.blob = blob;
	m.blob_len = blob_len;
	return msg_encode(&m, len);
}

static void
test_roundtrip_every_type(void **state)
{
	uint8_t audio[321];

	(void)state;
	for (size_t i = 0; i < sizeof(audio); i++)
		audio[i] = (uint8_t)(i * 7);
	assert_true(msg_type_count() >= 20);
	for (size_t i = 0; i < msg_type_count(); i++) {
		unsigned int type = msg_type_at(i);
		size_t len = 0;
		uint8_t *buf = make((enum msg_type)type, "{\"text\":\"שלום\"}",
		    audio, sizeof(audio), &len);
		struct msg d;
		json_t *j;

		assert_non_null(buf);
		assert_int_equal(msg_decode(buf, len, &d), MSG_OK);
		assert_int_equal(d.type, type);
		assert_int_equal(d.version, MSG_VERSION);
		assert_int_equal(d.flags, MSG_F_FINAL);
		assert_true(d.job_id == 0x0102030405060708ull);
		assert_int_equal(d.generation, 7);
		assert_int_equal(d.budget_ms, 2500);
		assert_int_equal(d.attempt, 2);
		assert_string_equal(
		    d.reply, "ipc:///run/merkazia/results.sock");
		assert_string_equal(d.call_sid, "CA0123456789abcdef");
		assert_int_equal(d.blob_len, sizeof(audio));
		assert_memory_equal(d.blob, audio, sizeof(audio));
		j = msg_payload(&d);
		assert_non_null(j);
		assert_string_equal(
		    json_string_value(json_object_get(j, "text")), "שלום");
		json_decref(j);
		assert_int_equal(
		    msg_type_from_name(msg_type_name(type)), (int)type);
		free(buf);
	}
}

static void
test_header_is_little_endian(void **state)
{
	size_t len = 0;
	uint8_t *buf = make(MSG_STT_JOB, NULL, NULL, 0, &len);

	(void)state;
	assert_memory_equal(buf, "MRKZ", 4);
	assert_int_equal(buf[4], MSG_VERSION);
	assert_int_equal(buf[6], MSG_STT_JOB);
	assert_int_equal(buf[20], 0x08);
	assert_int_equal(buf[27], 0x01);
	free(buf);
}

static void
test_every_truncation_rejected(void **state)
{
	size_t len = 0;
	uint8_t *buf =
	    make(MSG_TTS_RESULT, "{\"a\":1}", (const uint8_t *)"abc", 3, &len);
	struct msg d;

	(void)state;
	for (size_t l = 0; l < len; l++) {
		enum msg_error e = msg_decode(buf, l, &d);

		assert_int_not_equal(e, MSG_OK);
		assert_int_equal(
		    e, l < MSG_HDR_SIZE ? MSG_ERR_SHORT : MSG_ERR_LENGTH);
	}
	/* One byte too many is as wrong as one too few. */
	{
		uint8_t *longer = calloc(1, len + 1);

		assert_non_null(longer);
		memcpy(longer, buf, len);
		assert_int_equal(
		    msg_decode(longer, len + 1, &d), MSG_ERR_LENGTH);
		free(longer);
	}
	free(buf);
}

struct corrupt_case {
	const char *name;
	size_t off;
	uint8_t value;
	enum msg_error want;
};

static void
test_corrupt_fields(void **state)
{
	static const struct corrupt_case cases[] = {
	    {"magic", 0, 'X', MSG_ERR_MAGIC},
	    {"version zero", 4, 0, MSG_ERR_VERSION},
	    {"version from the future", 4, MSG_VERSION + 1, MSG_ERR_VERSION},
	    {"unknown type", 6, 0xee, MSG_ERR_TYPE},
	    {"type none", 6, 0, MSG_ERR_TYPE},
	    {"reply length over limit", 10, MSG_REPLY_MAX + 1, MSG_ERR_LIMIT},
	    {"sid length over limit", 11, MSG_SID_MAX + 1, MSG_ERR_LIMIT},
	    {"json length huge", 15, 0xff, MSG_ERR_LIMIT},
	    {"blob length huge", 19, 0x7f, MSG_ERR_LIMIT},
	    {"json length off by one", 12, 8, MSG_ERR_LENGTH},
	    {"space in reply", MSG_HDR_SIZE + 3, ' ', MSG_ERR_FIELD},
	    {"control char in reply", MSG_HDR_SIZE, 0x01, MSG_ERR_FIELD},
	};
	size_t len = 0;
	uint8_t *orig = make(MSG_LLM_JOB, "{\"a\":1}", NULL, 0, &len);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		uint8_t *buf = malloc(len);
		struct msg d;

		memcpy(buf, orig, len);
		buf[cases[i].off] = cases[i].value;
		if (msg_decode(buf, len, &d) != cases[i].want)
			fail_msg("case %s: got %s", cases[i].name,
			    msg_error_text(msg_decode(buf, len, &d)));
		free(buf);
	}
	free(orig);
}

static void
test_garbage(void **state)
{
	uint8_t buf[512];
	struct msg d;
	unsigned int seed = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		assert_int_not_equal(msg_decode(buf, len, &d), MSG_OK);
	}
}

static void
test_payload_must_be_object(void **state)
{
	static const char *const bad[] = {
	    "[1,2]", "\"text\"", "{\"a\":", "nul", "{\"a\":1,\"a\":2}", "{}x"};
	struct msg m;
	json_t *j;

	(void)state;
	msg_init(&m, MSG_STT_RESULT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		m.json = bad[i];
		m.json_len = strlen(bad[i]);
		assert_null(msg_payload(&m));
	}
	m.json_len = 0;
	j = msg_payload(&m);
	assert_true(json_is_object(j));
	json_decref(j);
}

static void
test_encode_limits(void **state)
{
	struct msg m;
	char longs[MSG_REPLY_MAX + 2];
	size_t len;

	(void)state;
	msg_init(&m, MSG_TTS_JOB);
	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(msg_set_reply(&m, longs), -1);
	assert_int_equal(msg_set_call_sid(&m, "CA 12"), -1);
	assert_int_equal(msg_set_call_sid(&m, "CA\n12"), -1);
	m.json = "{}";
	m.json_len = MSG_JSON_MAX + 1;
	assert_null(msg_encode(&m, &len));
	m.json_len = 2;
	m.blob_len = MSG_BLOB_MAX + 1;
	assert_null(msg_encode(&m, &len));
}

static void
test_names_and_counters(void **state)
{
	unsigned long before = msg_error_total();

	(void)state;
	assert_string_equal(msg_type_name(MSG_STT_JOB), "STT_JOB");
	assert_string_equal(msg_type_name(9999), "UNKNOWN");
	assert_int_equal(msg_type_from_name("NOPE"), -1);
	assert_false(msg_type_is_valid(0));
	msg_count_error(MSG_ERR_MAGIC);
	msg_count_error(MSG_ERR_MAGIC);
	msg_count_error(MSG_ERR_COUNT); /* out of range: ignored */
	assert_int_equal(msg_error_total(), before + 2);
	assert_true(msg_error_count(MSG_ERR_MAGIC) >= 2);
	assert_string_equal(msg_error_text(MSG_ERR_MAGIC), "bad magic");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_every_type),
	    cmocka_unit_test(test_header_is_little_endian),
	    cmocka_unit_test(test_every_truncation_rejected),
	    cmocka_unit_test(test_corrupt_fields),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_payload_must_be_object),
	    cmocka_unit_test(test_encode_limits),
	    cmocka_unit_test(test_names_and_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
