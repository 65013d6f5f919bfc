/*
 * Unit tests for tools/sim-caller/twiml.c, the simulated caller's reading
 * of the voice webhook's TwiML (shared reference twilio.md section 1.4).
 *
 * The tool's files are not in any archive the Makefile links tests with,
 * so the pure file is #included whole. Covered: the gateway's own answer
 * (stream URL, statusCallback, parameters with escaped values), the
 * "not in service" <Say>/<Hangup/>, an empty <Response/>, a <Record>
 * answer, SSML inside <Say>, declarations/comments/BOM, numeric
 * references, and refusals: no root, wrong root, a mismatched or unclosed
 * tag, a Stream without url, CDATA, an unknown entity, text after the
 * root, too many parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/sim-caller/twiml.c"

static int
parse(const char *xml, struct twiml *t)
{
	return twiml_parse(xml, strlen(xml), t);
}

static void
test_gateway_answer(void **state)
{
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Response><Connect><Stream url=\"ws://127.0.0.1:8080/twilio/"
	    "media\" statusCallback=\"http://127.0.0.1:8080/twilio/"
	    "stream-status\"><Parameter name=\"callSid\" value=\"CA1\"/>"
	    "<Parameter name=\"from\" value=\"+972521234567\"/>"
	    "<Parameter name=\"business\" value=\"&quot;&#1513;&#x05D9;&amp;"
	    "co&apos;\"/></Stream></Connect></Response>\n";
	struct twiml t;

	(void)state;
	assert_int_equal(parse(xml, &t), 0);
	assert_int_equal(t.kind, TWIML_STREAM);
	assert_string_equal(t.stream_url, "ws://127.0.0.1:8080/twilio/media");
	assert_string_equal(
	    t.status_callback, "http://127.0.0.1:8080/twilio/stream-status");
	assert_int_equal(t.nparams, 3);
	assert_string_equal(t.params[0].name, "callSid");
	assert_string_equal(t.params[0].value, "CA1");
	assert_string_equal(t.params[1].value, "+972521234567");
	assert_string_equal(t.params[2].value, "\"שי&co'");
	assert_string_equal(t.verbs, "Connect>Stream");
	assert_null(t.say);
	assert_false(t.hangup);
	assert_string_equal(twiml_kind_name(t.kind), "stream");
	twiml_clear(&t);
}

static void
test_say_hangup(void **state)
{
	const char *xml = "\xEF\xBB\xBF<?xml version=\"1.0\"?>"
			  "<!-- not in service -->"
			  "<Response>\n  <Say language='he-IL'>המספר "
			  "&lt;אינו&gt; מחובר</Say>\n  <Hangup/>\n</Response>";
	struct twiml t;

	(void)state;
	assert_int_equal(parse(xml, &t), 0);
	assert_int_equal(t.kind, TWIML_SAY_HANGUP);
	assert_string_equal(t.say, "המספר <אינו> מחובר");
	assert_true(t.hangup);
	assert_string_equal(t.verbs, "Say,Hangup");
	assert_null(t.stream_url);
	twiml_clear(&t);
}

static void
test_ssml_and_other(void **state)
{
	struct twiml t;

	(void)state;
	assert_int_equal(parse("<Response><Say>a<break time=\"1s\"/>b"
			       "<prosody rate=\"slow\">c</prosody></Say>"
			       "<Pause length=\"1\"/></Response>",
			     &t),
	    0);
	assert_int_equal(t.kind, TWIML_SAY_HANGUP);
	assert_string_equal(t.say, "abc");
	assert_string_equal(t.verbs, "Say,Pause");
	twiml_clear(&t);

	assert_int_equal(parse("<Response><Record action=\"/x\" "
			       "maxLength=\"60\"/></Response>",
			     &t),
	    0);
	assert_int_equal(t.kind, TWIML_OTHER);
	assert_string_equal(t.verbs, "Record");
	twiml_clear(&t);

	assert_int_equal(parse("<Response/>", &t), 0);
	assert_int_equal(t.kind, TWIML_OTHER);
	assert_string_equal(t.verbs, "");
	twiml_clear(&t);

	assert_int_equal(parse("<Response><Say/></Response>", &t), 0);
	assert_string_equal(t.say, "");
	twiml_clear(&t);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "hello",
	    "<Foo/>",
	    "<Response>",
	    "<Response><Say>x</Hangup></Response>",
	    "<Response><Connect><Stream/></Connect></Response>",
	    "<Response><Say><![CDATA[x]]></Say></Response>",
	    "<Response><Say>&nbsp;</Say></Response>",
	    "<Response><Say>&#0;</Say></Response>",
	    "<Response/><Response/>",
	    "<Response></Response>junk",
	    "<Response><Say a=b>x</Say></Response>",
	    "<Response><Say a=\"b>x</Say></Response>",
	    "<Response><Connect><Stream url=\"ws://a/b\"><Parameter "
	    "value=\"x\"/></Stream></Connect></Response>",
	};
	struct twiml t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (parse(bad[i], &t) != -1)
			fail_msg("accepted: %s", bad[i]);
		twiml_clear(&t);
	}
}

static void
test_too_many_params(void **state)
{
	char xml[8192];
	size_t o;
	struct twiml t;

	(void)state;
	o = (size_t)snprintf(
	    xml, sizeof(xml), "<Response><Connect><Stream url=\"ws://h/m\">");
	for (int i = 0; i <= TWIML_MAX_PARAMS; i++)
		o += (size_t)snprintf(xml + o, sizeof(xml) - o,
		    "<Parameter name=\"p%d\" value=\"v\"/>", i);
	(void)snprintf(
	    xml + o, sizeof(xml) - o, "</Stream></Connect></Response>");
	assert_int_equal(parse(xml, &t), -1);
	twiml_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gateway_answer),
	    cmocka_unit_test(test_say_hangup),
	    cmocka_unit_test(test_ssml_and_other),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_too_many_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
