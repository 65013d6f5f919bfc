/*
 * Unit tests for tools/sim-caller/media.c: the Media Streams messages the
 * simulated caller writes (their exact shapes, shared reference twilio.md
 * section 2.2) and how strictly it reads the gateway's (section 2.3: only
 * media, mark and clear, with our streamSid and no other field; anything
 * else is a protocol error by kind). media.c is pure and #included whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/sim-caller/media.c"

#define SID "MZ0123456789abcdef0123456789abcdef"

static const char *
parse_err(const char *text)
{
	struct media_msg m;
	const char *why = NULL;

	if (media_parse(text, strlen(text), SID, &m, &why) == 0) {
		media_msg_clear(&m);
		return "accepted";
	}
	return why;
}

static void
test_parse_valid(void **state)
{
	const char *media = "{\"event\":\"media\",\"streamSid\":\"" SID
			    "\",\"media\":{\"payload\":\"/38A\"}}";
	const char *mark = "{\"event\":\"mark\",\"streamSid\":\"" SID
			   "\",\"mark\":{\"name\":\"s1:ש\"}}";
	const char *clear = "{\"streamSid\":\"" SID "\",\"event\":\"clear\"}";
	struct media_msg m;
	const char *why;

	(void)state;
	assert_int_equal(media_parse(media, strlen(media), SID, &m, &why), 0);
	assert_int_equal(m.event, MEDIA_EV_MEDIA);
	assert_int_equal(m.audio_len, 3);
	assert_int_equal(m.audio[0], 0xFF);
	assert_int_equal(m.audio[1], 0x7F);
	assert_int_equal(m.audio[2], 0x00);
	media_msg_clear(&m);
	assert_int_equal(media_parse(mark, strlen(mark), SID, &m, &why), 0);
	assert_int_equal(m.event, MEDIA_EV_MARK);
	assert_string_equal(m.mark, "s1:ש");
	media_msg_clear(&m);
	assert_int_equal(media_parse(clear, strlen(clear), SID, &m, &why), 0);
	assert_int_equal(m.event, MEDIA_EV_CLEAR);
	media_msg_clear(&m);
}

static void
test_parse_errors(void **state)
{
	(void)state;
	assert_string_equal(parse_err("not json"), "not_json");
	assert_string_equal(parse_err("[1]"), "not_object");
	assert_string_equal(
	    parse_err("{\"event\":\"media\"}"), "missing_field");
	assert_string_equal(
	    parse_err("{\"event\":\"clear\",\"streamSid\":\"MZx\"}"),
	    "wrong_stream_sid");
	assert_string_equal(
	    parse_err("{\"event\":\"dtmf\",\"streamSid\":\"" SID "\"}"),
	    "unknown_event");
	assert_string_equal(
	    parse_err(
		"{\"event\":\"clear\",\"streamSid\":\"" SID "\",\"x\":1}"),
	    "extra_field");
	assert_string_equal(
	    parse_err("{\"event\":\"media\",\"streamSid\":\"" SID
		      "\",\"media\":{\"payload\":\"AA==\","
		      "\"track\":\"outbound\"}}"),
	    "extra_field");
	assert_string_equal(
	    parse_err("{\"event\":\"media\",\"streamSid\":\"" SID
		      "\",\"sequenceNumber\":\"1\",\"media\":{"
		      "\"payload\":\"AA==\"}}"),
	    "extra_field");
	assert_string_equal(
	    parse_err("{\"event\":\"media\",\"streamSid\":\"" SID
		      "\",\"media\":{\"payload\":\"A=\"}}"),
	    "bad_payload");
	assert_string_equal(
	    parse_err("{\"event\":\"media\",\"streamSid\":\"" SID
		      "\",\"media\":{\"payload\":\"\"}}"),
	    "bad_payload");
	assert_string_equal(parse_err("{\"event\":\"mark\",\"streamSid\":\"" SID
				      "\",\"mark\":{}}"),
	    "missing_field");
	assert_string_equal(parse_err("{\"event\":\"mark\",\"streamSid\":\"" SID
				      "\",\"mark\":{\"name\":\"a\",\"b\":1}}"),
	    "extra_field");
	assert_string_equal(
	    parse_err("{\"event\":\"clear\",\"event\":\"clear\","
		      "\"streamSid\":\"" SID "\"}"),
	    "not_json");
}

static json_t *
load(const char *s)
{
	json_error_t err;
	json_t *doc = json_loads(s, 0, &err);

	assert_non_null(doc);
	return doc;
}

static void
test_messages_out(void **state)
{
	char n0[] = "callSid", v0[] = "CA1", n1[] = "from",
	     v1[] = "+972521234567";
	const struct twiml_param params[] = {{n0, v0}, {n1, v1}};
	struct media_start st = {"AC1", SID, "CA1", params, 2};
	uint8_t frame[SIM_FRAME_BYTES];
	char buf[MEDIA_FRAME_MSG_MAX], *s;
	json_t *doc;
	int n;

	(void)state;
	s = media_connected();
	assert_string_equal(s, "{\"event\":\"connected\",\"protocol\":\"Call\","
			       "\"version\":\"1.0.0\"}");
	free(s);

	s = media_start(1, &st);
	doc = load(s);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "event")), "start");
	assert_string_equal(
	    json_string_value(json_object_get(doc, "sequenceNumber")), "1");
	assert_string_equal(
	    json_string_value(json_object_get(doc, "streamSid")), SID);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(doc, "start"), "callSid")),
	    "CA1");
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_object_get(doc, "start"), "tracks"), 0)),
	    "inbound");
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(doc, "start"), "mediaFormat"),
		"sampleRate")),
	    8000);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(doc, "start"),
				    "customParameters"),
				"from")),
	    "+972521234567");
	json_decref(doc);
	free(s);

	memset(frame, 0xFF, sizeof(frame));
	n = media_frame(buf, sizeof(buf), 7, 6, 100, frame, SID);
	assert_true(n > 0);
	doc = load(buf);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "sequenceNumber")), "7");
	{
		json_t *m = json_object_get(doc, "media");
		const char *p =
		    json_string_value(json_object_get(m, "payload"));

		assert_string_equal(
		    json_string_value(json_object_get(m, "track")), "inbound");
		assert_string_equal(
		    json_string_value(json_object_get(m, "chunk")), "6");
		assert_string_equal(
		    json_string_value(json_object_get(m, "timestamp")), "100");
		assert_int_equal(strlen(p), 216);
		assert_string_equal(p + 214, "==");
	}
	json_decref(doc);
	assert_int_equal(media_frame(buf, 100, 7, 6, 100, frame, SID), -1);

	s = media_mark(9, SID, "x\"y");
	assert_string_equal(s,
	    "{\"event\":\"mark\",\"sequenceNumber\":\"9\","
	    "\"streamSid\":\"" SID "\",\"mark\":{\"name\":\"x\\\"y\"}}");
	free(s);
	s = media_stop(10, SID, "AC1", "CA1");
	assert_string_equal(s, "{\"event\":\"stop\",\"sequenceNumber\":\"10\","
			       "\"stop\":{\"accountSid\":\"AC1\",\"callSid\":"
			       "\"CA1\"},\"streamSid\":\"" SID "\"}");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_messages_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
