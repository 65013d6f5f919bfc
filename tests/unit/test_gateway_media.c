/*
 * Unit tests for gateway/media.c: every Media Streams message of Twilio's
 * reference (connected, start, media, dtmf, mark, stop, in the exact
 * shapes of docs/gateway.md) parsed into struct media_msg; malformed JSON,
 * a missing or unknown event, bad base64, a wrong media format, bad SIDs
 * and numbers refused with the right error; sequence-number gaps; and the
 * outbound builders (media, mark, clear) read back with jansson. The fast
 * path for `media` must take Twilio's shape and give, for it, every
 * listed oddity and every one-byte change of it, what jansson gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../gateway/gateway.h"
#include "base64.h"

#define SSID "MZ18ad3ab5a668481ce02b83e7395059f0"
#define CSID "CA0123456789abcdef0123456789abcdef"
#define ASID "AC0123456789abcdef0123456789abcdef"

static enum media_error
parse(const char *s, struct media_msg *m)
{
	return media_parse(s, strlen(s), m);
}

static void
test_connected(void **state)
{
	struct media_msg m;

	(void)state;
	assert_int_equal(parse("{\"event\":\"connected\",\"protocol\":\"Call\","
			       "\"version\":\"1.0.0\"}",
			     &m),
	    MEDIA_OK);
	assert_int_equal(m.type, MEDIA_CONNECTED);
	assert_string_equal(m.protocol, "Call");
	assert_string_equal(m.version, "1.0.0");
	assert_int_equal(m.seq, -1);
	media_msg_clean(&m);
}

static void
test_start(void **state)
{
	struct media_msg m;
	const char *s =
	    "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{"
	    "\"accountSid\":\"" ASID "\",\"streamSid\":\"" SSID "\","
	    "\"callSid\":\"" CSID "\",\"tracks\":[\"inbound\"],"
	    "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":"
	    "8000,\"channels\":1},\"customParameters\":{\"callSid\":\"" CSID
	    "\",\"from\":\"+972501234567\",\"to\":\"+97231234567\","
	    "\"business\":\"shai\",\"hebrew\":\"שלום\"}},"
	    "\"streamSid\":\"" SSID "\"}";

	(void)state;
	assert_int_equal(parse(s, &m), MEDIA_OK);
	assert_int_equal(m.type, MEDIA_START);
	assert_int_equal(m.seq, 1);
	assert_string_equal(m.stream_sid, SSID);
	assert_string_equal(m.call_sid, CSID);
	assert_string_equal(m.account_sid, ASID);
	assert_int_equal(m.tracks, MEDIA_TRACK_INBOUND);
	assert_int_equal(m.nparams, 5);
	assert_string_equal(media_param(&m, "from"), "+972501234567");
	assert_string_equal(media_param(&m, "business"), "shai");
	assert_string_equal(media_param(&m, "hebrew"), "שלום");
	assert_null(media_param(&m, "nope"));
	media_msg_clean(&m);
	assert_null(m.params);
}

static void
test_start_sid_from_top_level(void **state)
{
	struct media_msg m;

	(void)state;
	assert_int_equal(
	    parse("{\"event\":\"start\",\"start\":{\"mediaFormat\":{"
		  "\"encoding\":\"audio/x-mulaw\",\"sampleRate\":\"8000\","
		  "\"channels\":1}},\"streamSid\":\"" SSID "\"}",
		&m),
	    MEDIA_OK);
	assert_string_equal(m.stream_sid, SSID);
	assert_int_equal(m.nparams, 0);
	media_msg_clean(&m);
	/* no streamSid anywhere */
	assert_int_equal(
	    parse("{\"event\":\"start\",\"start\":{\"mediaFormat\":{"
		  "\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,"
		  "\"channels\":1}}}",
		&m),
	    MEDIA_ERR_FIELD);
	media_msg_clean(&m);
}

static void
test_start_wrong_format(void **state)
{
	static const char *const formats[] = {
	    "{\"encoding\":\"audio/l16\",\"sampleRate\":8000,\"channels\":1}",
	    "{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":16000,"
	    "\"channels\":1}",
	    "{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,"
	    "\"channels\":2}",
	    "{\"encoding\":\"audio/x-mulaw\",\"channels\":1}",
	    "\"audio/x-mulaw\"",
	    NULL,
	};
	struct media_msg m;
	char buf[512];

	(void)state;
	for (size_t i = 0; formats[i] != NULL; i++) {
		snprintf(buf, sizeof(buf),
		    "{\"event\":\"start\",\"start\":{\"streamSid\":\"" SSID
		    "\",\"mediaFormat\":%s}}",
		    formats[i]);
		assert_int_equal(parse(buf, &m), MEDIA_ERR_FORMAT);
		assert_non_null(m.error);
		media_msg_clean(&m);
	}
	assert_int_equal(
	    parse("{\"event\":\"start\",\"start\":{\"streamSid\":\"" SSID
		  "\"}}",
		&m),
	    MEDIA_ERR_FORMAT);
	media_msg_clean(&m);
}

static void
test_media(void **state)
{
	uint8_t audio[160];
	char b64[256], buf[512];
	struct media_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(audio); i++)
		audio[i] = (uint8_t)(i * 7);
	assert_int_equal(
	    base64_encode(audio, sizeof(audio), b64, sizeof(b64)), 0);
	assert_int_equal(strlen(b64), 216);
	snprintf(buf, sizeof(buf),
	    "{\"event\":\"media\",\"sequenceNumber\":\"4\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"2\",\"timestamp\":\"5\","
	    "\"payload\":\"%s\"},\"streamSid\":\"" SSID "\"}",
	    b64);
	assert_int_equal(parse(buf, &m), MEDIA_OK);
	assert_int_equal(m.type, MEDIA_MEDIA);
	assert_int_equal(m.seq, 4);
	assert_int_equal(m.chunk, 2);
	assert_int_equal(m.timestamp, 5);
	assert_int_equal(m.track, MEDIA_TRACK_INBOUND);
	assert_int_equal(m.payload_len, 160);
	assert_memory_equal(m.payload, audio, 160);
	assert_string_equal(m.stream_sid, SSID);
	media_msg_clean(&m);
	assert_null(m.payload);
	/* numbers as JSON integers are fine too */
	assert_int_equal(parse("{\"event\":\"media\",\"sequenceNumber\":7,"
			       "\"media\":{\"track\":\"inbound\",\"chunk\":3,"
			       "\"timestamp\":60,\"payload\":\"\"}}",
			     &m),
	    MEDIA_OK);
	assert_int_equal(m.seq, 7);
	assert_int_equal(m.payload_len, 0);
	media_msg_clean(&m);
}

static void
test_media_bad(void **state)
{
	static const struct {
		const char *json;
		enum media_error want;
	} cases[] = {
	    {"{\"event\":\"media\",\"media\":{\"payload\":\"no+Jhoa=x\"}}",
		MEDIA_ERR_BASE64},
	    {"{\"event\":\"media\",\"media\":{\"payload\":\"AB\"}}",
		MEDIA_ERR_BASE64},
	    {"{\"event\":\"media\",\"media\":{\"payload\":\"AA==\\n\"}}",
		MEDIA_ERR_BASE64},
	    {"{\"event\":\"media\",\"media\":{\"payload\":12}}",
		MEDIA_ERR_FIELD},
	    {"{\"event\":\"media\",\"media\":{}}", MEDIA_ERR_FIELD},
	    {"{\"event\":\"media\"}", MEDIA_ERR_FIELD},
	    {"{\"event\":\"media\",\"media\":{\"track\":\"sideways\","
	     "\"payload\":\"\"}}",
		MEDIA_ERR_FIELD},
	    {"{\"event\":\"media\",\"media\":{\"chunk\":\"x1\","
	     "\"payload\":\"\"}}",
		MEDIA_ERR_FIELD},
	    {"{\"event\":\"media\",\"sequenceNumber\":\"-3\",\"media\":{"
	     "\"payload\":\"\"}}",
		MEDIA_ERR_FIELD},
	    {"{\"event\":\"media\",\"streamSid\":\"MZ\\\"x\",\"media\":{"
	     "\"payload\":\"\"}}",
		MEDIA_ERR_FIELD},
	};
	struct media_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(parse(cases[i].json, &m), cases[i].want);
		assert_non_null(m.error);
		media_msg_clean(&m);
	}
}

/* ---- the fast path for `media` (media_parse_fast) -------------------- */

/* Fail unless a and b (two parses of one message) are the same. */
static void
same_msg(const struct media_msg *a, const struct media_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->seq, b->seq);
	assert_string_equal(a->stream_sid, b->stream_sid);
	assert_string_equal(a->call_sid, b->call_sid);
	assert_string_equal(a->account_sid, b->account_sid);
	assert_int_equal(a->tracks, b->tracks);
	assert_int_equal(a->nparams, b->nparams);
	assert_int_equal(a->track, b->track);
	assert_int_equal(a->chunk, b->chunk);
	assert_int_equal(a->timestamp, b->timestamp);
	assert_int_equal(a->payload_len, b->payload_len);
	assert_true((a->payload == NULL) == (b->payload == NULL));
	if (a->payload_len > 0)
		assert_memory_equal(a->payload, b->payload, a->payload_len);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->digit, b->digit);
	assert_true((a->error == NULL) == (b->error == NULL));
	if (a->error != NULL)
		assert_string_equal(a->error, b->error);
}

/*
 * Parse len bytes at buf with media_parse and with jansson alone and fail
 * unless both say the same. Return whether the fast path took it.
 */
static bool
same_both_ways(const char *buf, size_t len)
{
	struct media_msg a, b;
	enum media_error ea = media_parse(buf, len, &a);
	enum media_error eb = media_parse_json(buf, len, &b);
	struct media_msg f;
	bool fast = media_parse_fast(buf, len, &f) == 0;

	assert_int_equal(ea, eb);
	same_msg(&a, &b);
	if (fast) {
		assert_int_equal(ea, MEDIA_OK);
		same_msg(&f, &b);
	}
	media_msg_clean(&a);
	media_msg_clean(&b);
	media_msg_clean(&f);
	return fast;
}

/* Twilio's media message, and the shapes the fast path must take. */
static const char *const fast_taken[] = {
    "{\"event\":\"media\",\"sequenceNumber\":\"4\",\"media\":{\"track\":"
    "\"inbound\",\"chunk\":\"2\",\"timestamp\":\"5\",\"payload\":"
    "\"/////w==\"},\"streamSid\":\"" SSID "\"}",
    /* members in another order, blanks everywhere JSON allows them */
    " \r\n{ \"streamSid\" : \"" SSID "\" ,\t\"media\":{ \"payload\" :"
    " \"AAEC\" , \"timestamp\":\"007\",\"chunk\":\"1\",\"track\":"
    "\"outbound_track\"} ,\"event\" : \"media\" , \"sequenceNumber\":"
    "\"123456789012345678\" }\n ",
    /* only what is required: event and media.payload */
    "{\"event\":\"media\",\"media\":{\"payload\":\"AAECAw==\"}}",
    /* an empty payload, streamSid and track */
    "{\"event\":\"media\",\"streamSid\":\"\",\"media\":{\"track\":\"\","
    "\"payload\":\"\"}}",
    "{\"event\":\"media\",\"media\":{\"track\":\"inbound_track\","
    "\"payload\":\"AA==\"}}",
};

/* Messages it must leave to jansson (whatever jansson then says). */
static const char *const fast_declined[] = {
    "{\"event\":\"mark\",\"mark\":{\"name\":\"item-1\"}}",
    "{\"event\":\"media\",\"sequenceNumber\":4,\"media\":{\"payload\":"
    "\"AA==\"}}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA==\",\"x\":\"1\"}}",
    "{\"event\":\"media\",\"extra\":\"1\",\"media\":{\"payload\":\"AA==\"}}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA==\",\"payload\":"
    "\"AA==\"}}",
    "{\"event\":\"media\",\"event\":\"media\",\"media\":{\"payload\":"
    "\"AA==\"}}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA==\"},\"media\":{"
    "\"payload\":\"AA==\"}}",
    "{\"ev\\u0065nt\":\"media\",\"media\":{\"payload\":\"AA==\"}}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA\\u003d=\"}}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA==\"}} x",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA==\"}}}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA==\"},}",
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA=\"}}",
    "{\"event\":\"media\",\"media\":{\"track\":\"sideways\",\"payload\":"
    "\"\"}}",
    "{\"event\":\"media\",\"sequenceNumber\":\"1234567890123456789\","
    "\"media\":{\"payload\":\"\"}}",
    "{\"event\":\"media\",\"sequenceNumber\":\"+4\",\"media\":{"
    "\"payload\":\"\"}}",
    "{\"event\":\"media\",\"streamSid\":\"MZ 1\",\"media\":{\"payload\":"
    "\"\"}}",
    "{\"event\":\"media\",\"streamSid\":\"MZ\\u05e9\",\"media\":{"
    "\"payload\":\"\"}}",
    "{\"event\":\"media\",\"media\":{\"track\":\"\xd7\xa9\",\"payload\":"
    "\"\"}}",
    "{\"event\":\"media\",\"media\":\"AA==\"}",
    "{\"event\":\"media\"}",
    "{}",
    "",
    "[]",
};

static void
test_fast_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fast_taken) / sizeof(*fast_taken); i++)
		assert_true(
		    same_both_ways(fast_taken[i], strlen(fast_taken[i])));
	for (size_t i = 0; i < sizeof(fast_declined) / sizeof(*fast_declined);
	     i++)
		assert_false(
		    same_both_ways(fast_declined[i], strlen(fast_declined[i])));
	/* a NUL inside or after the object */
	assert_false(same_both_ways(
	    "{\"event\":\"media\",\"media\":{\"payload\":\"\"}}\0", 35));
	assert_false(same_both_ways(
	    "{\"event\":\"me\0ia\",\"media\":{\"payload\":\"\"}}", 34));
}

/*
 * Every one-byte change, deletion and truncation of Twilio's message
 * parses to the same result with and without the fast path.
 */
static void
test_fast_path_mutations(void **state)
{
	static const char repl[] = {'"', '\\', ' ', '{', '}', ',', ':', '0',
	    '9', 'A', '=', '/', '\0', '\n', '\x80', '[', 'x'};
	const char *base = fast_taken[0];
	size_t len = strlen(base);
	char buf[512];
	size_t taken = 0, tried = 0;

	(void)state;
	assert_true(len < sizeof(buf));
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(repl); k++) {
			memcpy(buf, base, len);
			buf[i] = repl[k];
			taken += same_both_ways(buf, len);
			tried++;
		}
		memcpy(buf, base, i);
		memcpy(buf + i, base + i + 1, len - i - 1);
		taken += same_both_ways(buf, len - 1);
		taken += same_both_ways(base, i);
		tried += 2;
	}
	/* Most changes break the shape; some (a digit, a track) do not. */
	assert_true(taken > 0);
	assert_true(taken < tried);
}

static void
test_mark_dtmf_stop(void **state)
{
	struct media_msg m;

	(void)state;
	assert_int_equal(parse("{\"event\":\"mark\",\"sequenceNumber\":\"4\","
			       "\"streamSid\":\"" SSID "\",\"mark\":{"
			       "\"name\":\"my label\"}}",
			     &m),
	    MEDIA_OK);
	assert_int_equal(m.type, MEDIA_MARK);
	assert_string_equal(m.name, "my label");
	media_msg_clean(&m);
	assert_int_equal(parse("{\"event\":\"dtmf\",\"streamSid\":\"" SSID
			       "\",\"sequenceNumber\":\"5\",\"dtmf\":{"
			       "\"track\":\"inbound_track\",\"digit\":\"1\"}}",
			     &m),
	    MEDIA_OK);
	assert_int_equal(m.type, MEDIA_DTMF);
	assert_string_equal(m.digit, "1");
	media_msg_clean(&m);
	assert_int_equal(
	    parse("{\"event\":\"stop\",\"sequenceNumber\":\"5\","
		  "\"stop\":{\"accountSid\":\"" ASID "\","
		  "\"callSid\":\"" CSID "\"},\"streamSid\":\"" SSID "\"}",
		&m),
	    MEDIA_OK);
	assert_int_equal(m.type, MEDIA_STOP);
	assert_string_equal(m.call_sid, CSID);
	assert_string_equal(m.account_sid, ASID);
	media_msg_clean(&m);
	assert_int_equal(
	    parse("{\"event\":\"mark\",\"mark\":{}}", &m), MEDIA_ERR_FIELD);
	media_msg_clean(&m);
	assert_int_equal(
	    parse("{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"\"}}", &m),
	    MEDIA_ERR_FIELD);
	media_msg_clean(&m);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *json;
		size_t len; /* 0: strlen */
		enum media_error want;
	} cases[] = {
	    {"", 0, MEDIA_ERR_JSON},
	    {"{", 0, MEDIA_ERR_JSON},
	    {"[]", 0, MEDIA_ERR_JSON},
	    {"null", 0, MEDIA_ERR_JSON},
	    {"not json at all", 0, MEDIA_ERR_JSON},
	    {"{\"event\":\"media\"}\0junk", 22, MEDIA_ERR_JSON},
	    {"{\"event\":\"start\",\"event\":\"stop\"}", 0, MEDIA_ERR_JSON},
	    {"{}", 0, MEDIA_ERR_EVENT},
	    {"{\"event\":5}", 0, MEDIA_ERR_EVENT},
	    {"{\"event\":\"clear\",\"streamSid\":\"" SSID "\"}", 0,
		MEDIA_ERR_UNKNOWN},
	    {"{\"event\":\"Media\"}", 0, MEDIA_ERR_UNKNOWN},
	    {"{\"event\":\"media\",\"sequenceNumber\":\"1x\"}", 0,
		MEDIA_ERR_FIELD},
	    {"{\"event\":\"start\",\"start\":[]}", 0, MEDIA_ERR_FIELD},
	};
	struct media_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		size_t len =
		    cases[i].len ? cases[i].len : strlen(cases[i].json);

		assert_int_equal(
		    media_parse(cases[i].json, len, &m), cases[i].want);
		media_msg_clean(&m);
	}
	assert_string_equal(media_error_name(MEDIA_ERR_BASE64), "base64");
	assert_string_equal(media_type_name(MEDIA_STOP), "stop");
}

static void
test_sids(void **state)
{
	char longsid[MEDIA_SID_MAX + 1];

	(void)state;
	assert_true(media_is_valid_sid(SSID));
	assert_false(media_is_valid_sid(""));
	assert_false(media_is_valid_sid(NULL));
	assert_false(media_is_valid_sid("MZ 1"));
	assert_false(media_is_valid_sid("MZ\"1"));
	memset(longsid, 'a', MEDIA_SID_MAX);
	longsid[MEDIA_SID_MAX] = '\0';
	assert_false(media_is_valid_sid(longsid));
	longsid[MEDIA_SID_MAX - 1] = '\0';
	assert_true(media_is_valid_sid(longsid));
}

static void
test_seq(void **state)
{
	struct media_seq s = {0, 0, 0};

	(void)state;
	assert_int_equal(media_seq_note(&s, -1), 0);
	assert_int_equal(media_seq_note(&s, 1), 0);
	assert_int_equal(media_seq_note(&s, 2), 0);
	assert_int_equal(media_seq_note(&s, 5), 2);
	assert_int_equal(media_seq_note(&s, 6), 0);
	assert_int_equal(media_seq_note(&s, 4), 0);
	assert_int_equal(s.gaps, 2);
	assert_int_equal(s.reordered, 1);
	assert_int_equal(s.last, 6);
}

static void
test_builders(void **state)
{
	uint8_t audio[160];
	size_t n, dlen;
	char *s;
	json_t *j;
	uint8_t *dec;
	const char *p;

	(void)state;
	memset(audio, 0xFF, sizeof(audio));
	audio[0] = 0;
	s = media_build_media(SSID, audio, sizeof(audio), &n);
	assert_int_equal(strlen(s), n);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(j, "event")), "media");
	assert_string_equal(
	    json_string_value(json_object_get(j, "streamSid")), SSID);
	p = json_string_value(
	    json_object_get(json_object_get(j, "media"), "payload"));
	assert_non_null(p);
	assert_int_equal(strlen(p), 216);
	assert_int_equal(base64_decode_alloc(p, strlen(p), &dec, &dlen), 0);
	assert_int_equal(dlen, 160);
	assert_memory_equal(dec, audio, 160);
	assert_int_equal(json_object_size(j), 3);
	free(dec);
	json_decref(j);
	free(s);

	s = media_build_mark(SSID, "item-1", &n);
	assert_string_equal(s, "{\"event\":\"mark\",\"streamSid\":\"" SSID
			       "\",\"mark\":{\"name\":\"item-1\"}}");
	assert_int_equal(strlen(s), n);
	free(s);
	s = media_build_clear(SSID, &n);
	assert_string_equal(
	    s, "{\"event\":\"clear\",\"streamSid\":\"" SSID "\"}");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connected),
	    cmocka_unit_test(test_start),
	    cmocka_unit_test(test_start_sid_from_top_level),
	    cmocka_unit_test(test_start_wrong_format),
	    cmocka_unit_test(test_media),
	    cmocka_unit_test(test_media_bad),
	    cmocka_unit_test(test_fast_path),
	    cmocka_unit_test(test_fast_path_mutations),
	    cmocka_unit_test(test_mark_dtmf_stop),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_sids),
	    cmocka_unit_test(test_seq),
	    cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
