/*
 * Unit tests for llm-worker/prompt.c (the chat requests) and the pure
 * parts of analysis.c (the analysis request and its validation).
 *
 * What the prompt must hold (shared/design.md, reference/hebrew.md §3):
 * the receptionist's rules (Hebrew, short sentences, numbers as Hebrew
 * words with the right gender, buy/rent/sell, city, rooms, budget, dates,
 * the three tools), the business's instructions, the known customer's
 * history, only the turns the caller heard (in order, newest kept), and
 * the new text last; the request is a streaming chat with usage, tools
 * with strict schemas, JSON built safely from any caller text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm.h"

static json_t *
job(void)
{
	return json_loads(
	    "{\"business_id\":7,\"business_name\":\"שי דירות ומשרדים בע״מ\","
	    "\"instructions\":\"המשרד פתוח א׳-ה׳ 9:00-18:00. עמלה 2%.\","
	    "\"customer\":{\"name\":\"דנה\",\"phone\":\"+972501234567\","
	    "\"history\":[{\"at\":\"2025-01-02\",\"summary\":\"חיפשה 4 חדרים "
	    "ברמת גן\"}]},"
	    "\"heard\":[{\"role\":\"agent\",\"text\":\"שלום, איך אפשר "
	    "לעזור?\"},{\"role\":\"caller\",\"text\":\"אני מחפשת דירה\"},"
	    "{\"role\":\"agent\",\"text\":\"לקנות או לשכור? ובאיזו עיר?\","
	    "\"heard\":\"לקנות או לשכור?\"},"
	    "{\"role\":\"agent\",\"text\":\"לא נשמע בכלל\",\"heard\":false},"
	    "{\"role\":\"system\",\"text\":\"ignored\"}],"
	    "\"text\":\"לקנות, בתל אביב. \\\"} ] hack\"}",
	    0, NULL);
}

static const char *
content(json_t *req, size_t i)
{
	return json_string_value(json_object_get(
	    json_array_get(json_object_get(req, "messages"), i), "content"));
}

static const char *
role(json_t *req, size_t i)
{
	return json_string_value(json_object_get(
	    json_array_get(json_object_get(req, "messages"), i), "role"));
}

static json_t *
build(json_t *j)
{
	struct llm_prompt_opts o = {
	    "gpt-4o", 300, "2025-03-12, יום רביעי", true};

	return llm_prompt_call(j, &o);
}

static void
test_system_prompt(void **state)
{
	json_t *j = job(), *req = build(j);
	const char *sys = content(req, 0);

	(void)state;
	assert_non_null(req);
	assert_string_equal(role(req, 0), "system");
	/* The receptionist's rules. */
	assert_non_null(strstr(sys, "משפטים קצרים"));
	assert_non_null(strstr(sys, "במילים עבריות"));
	assert_non_null(strstr(sys, "שלושה חדרים"));
	assert_non_null(strstr(sys, "שלוש קומות"));
	assert_non_null(strstr(sys, "לקנות, לשכור, למכור"));
	assert_non_null(strstr(sys, "עיר"));
	assert_non_null(strstr(sys, "חדרים"));
	assert_non_null(strstr(sys, "התקציב"));
	assert_non_null(strstr(sys, "ממ״ד"));
	assert_non_null(strstr(sys, "book_viewing"));
	assert_non_null(strstr(sys, "transfer_to_human"));
	assert_non_null(strstr(sys, "end_call"));
	/* The business and today. */
	assert_non_null(strstr(sys, "שי דירות ומשרדים בע״מ"));
	assert_non_null(strstr(sys, "המשרד פתוח א׳-ה׳ 9:00-18:00. עמלה 2%."));
	assert_non_null(strstr(sys, "2025-03-12, יום רביעי"));
	/* The customer and history. */
	assert_non_null(strstr(sys, "דנה"));
	assert_non_null(strstr(sys, "2025-01-02: חיפשה 4 חדרים ברמת גן"));
	json_decref(req);
	json_decref(j);
}

static void
test_heard_turns_only(void **state)
{
	json_t *j = job(), *req = build(j);
	json_t *msgs = json_object_get(req, "messages");

	(void)state;
	/* system, agent, caller, agent (heard part), new text. */
	assert_int_equal(json_array_size(msgs), 5);
	assert_string_equal(role(req, 1), "assistant");
	assert_string_equal(content(req, 1), "שלום, איך אפשר לעזור?");
	assert_string_equal(role(req, 2), "user");
	assert_string_equal(content(req, 2), "אני מחפשת דירה");
	assert_string_equal(role(req, 3), "assistant");
	assert_string_equal(content(req, 3), "לקנות או לשכור?");
	assert_string_equal(role(req, 4), "user");
	assert_string_equal(content(req, 4), "לקנות, בתל אביב. \"} ] hack");
	{
		char *all = json_dumps(req, 0);

		assert_null(strstr(all, "לא נשמע בכלל"));
		assert_null(strstr(all, "ignored"));
		assert_null(strstr(all, "ובאיזו עיר"));
		free(all);
	}
	json_decref(req);
	json_decref(j);
}

static void
test_request_shape(void **state)
{
	json_t *j = job(), *req = build(j);
	json_t *tools = json_object_get(req, "tools");
	const char *names[] = {"book_viewing", "transfer_to_human", "end_call"};

	(void)state;
	assert_string_equal(
	    json_string_value(json_object_get(req, "model")), "gpt-4o");
	assert_true(json_is_true(json_object_get(req, "stream")));
	assert_true(json_is_true(json_object_get(
	    json_object_get(req, "stream_options"), "include_usage")));
	assert_int_equal(
	    json_integer_value(json_object_get(req, "max_completion_tokens")),
	    300);
	assert_int_equal(json_array_size(tools), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *fn =
		    json_object_get(json_array_get(tools, i), "function");
		json_t *params = json_object_get(fn, "parameters");

		assert_string_equal(
		    json_string_value(json_object_get(fn, "name")), names[i]);
		assert_true(json_is_true(json_object_get(fn, "strict")));
		assert_true(json_is_false(
		    json_object_get(params, "additionalProperties")));
		/* strict: every property is required */
		assert_int_equal(
		    json_object_size(json_object_get(params, "properties")),
		    json_array_size(json_object_get(params, "required")));
	}
	json_decref(req);
	json_decref(j);
}

static void
test_many_turns_and_limits(void **state)
{
	json_t *j = json_object(), *heard = json_array(), *req;
	char *big = malloc(LLM_PROMPT_TEXT_MAX * 2 + 1);
	struct llm_prompt_opts o = {"m", 0, NULL, true};

	(void)state;
	for (int i = 0; i < LLM_PROMPT_TURNS_MAX + 10; i++) {
		char t[32];

		snprintf(t, sizeof(t), "turn %d", i);
		json_array_append_new(
		    heard, json_pack("{s:s, s:s}", "role",
			       i % 2 ? "caller" : "agent", "text", t));
	}
	/* A long Hebrew text: cut on a character boundary. */
	for (size_t i = 0; i < LLM_PROMPT_TEXT_MAX; i++)
		memcpy(big + i * 2, "ש", 2);
	big[LLM_PROMPT_TEXT_MAX * 2] = '\0';
	json_object_set_new(j, "heard", heard);
	json_object_set_new(j, "text", json_string(big));
	req = llm_prompt_call(j, &o);
	assert_non_null(req);
	/* system + the newest LLM_PROMPT_TURNS_MAX + the new text */
	assert_int_equal(json_array_size(json_object_get(req, "messages")),
	    LLM_PROMPT_TURNS_MAX + 2);
	assert_string_equal(content(req, 1), "turn 10");
	assert_true(strlen(content(req, LLM_PROMPT_TURNS_MAX + 1)) <=
		    LLM_PROMPT_TEXT_MAX);
	assert_null(json_object_get(req, "max_completion_tokens"));
	json_decref(req);
	json_decref(j);
	free(big);
	/* Nothing at all still makes a valid request. */
	j = json_object();
	req = llm_prompt_call(j, &o);
	assert_int_equal(json_array_size(json_object_get(req, "messages")), 1);
	json_decref(req);
	json_decref(j);
}

static void
test_text_job(void **state)
{
	json_t *j = json_loads("{\"channel\":\"whatsapp\",\"body\":\"יש דירות "
			       "להשכרה בחולון?\",\"history\":[{\"role\":\"in\","
			       "\"body\":\"שלום\"},{\"role\":\"out\",\"body\":"
			       "\"שלום! במה אפשר לעזור?\"}]}",
	    0, NULL);
	struct llm_prompt_opts o = {"gpt-4o", 0, NULL, false};
	json_t *req = llm_prompt_text(j, &o);

	(void)state;
	assert_non_null(req);
	assert_null(json_object_get(req, "stream"));
	assert_null(json_object_get(req, "tools"));
	assert_non_null(strstr(content(req, 0), "ווטסאפ"));
	assert_string_equal(content(req, 1), "שלום");
	assert_string_equal(role(req, 2), "assistant");
	assert_string_equal(content(req, 3), "יש דירות להשכרה בחולון?");
	json_decref(req);
	json_decref(j);
}

static void
test_transcript(void **state)
{
	json_t *t = json_loads("[{\"role\":\"agent\",\"text\":\"שלום\"},"
			       "{\"role\":\"caller\",\"text\":\"היי\"},"
			       "{\"role\":\"agent\",\"text\":\"x\",\"heard\":"
			       "false}]",
	    0, NULL);
	char *s = llm_prompt_transcript(t);

	(void)state;
	assert_string_equal(s, "נציג: שלום\nמתקשר: היי\n");
	free(s);
	json_decref(t);
	s = llm_prompt_transcript(NULL);
	assert_string_equal(s, "");
	free(s);
}

static void
test_analysis_request(void **state)
{
	json_t *j = json_loads("{\"transcript\":[{\"role\":\"caller\","
			       "\"text\":\"אני מחפש 3.5 חדרים בחיפה\"}]}",
	    0, NULL);
	json_t *req = llm_analysis_request(j, "gpt-4o-mini");
	json_t *rf = json_object_get(req, "response_format");
	json_t *js = json_object_get(rf, "json_schema");

	(void)state;
	assert_non_null(req);
	assert_string_equal(
	    json_string_value(json_object_get(rf, "type")), "json_schema");
	assert_true(json_is_true(json_object_get(js, "strict")));
	assert_non_null(json_object_get(
	    json_object_get(json_object_get(js, "schema"), "properties"),
	    "requirements"));
	assert_non_null(strstr(content(req, 1), "מתקשר: אני מחפש 3.5 חדרים"));
	json_decref(req);
	json_decref(j);
}

static void
test_analysis_validate(void **state)
{
	char why[200];
	json_t *in, *out, *r;

	(void)state;
	in = json_loads(
	    "{\"summary\":\"מחפש דירה\",\"sentiment\":\"Positive\","
	    "\"lead_score\":87.6,\"reasons\":[\"תקציב ברור\",5,\"\"],"
	    "\"requirements\":{\"deal_type\":\"BUY\",\"cities\":[\"חיפה\"],"
	    "\"neighbourhoods\":[],\"rooms_min\":4.2,\"rooms_max\":3.4,"
	    "\"budget_min\":2000000.4,\"budget_max\":1500000,"
	    "\"property_type\":\"דירה\",\"timeline\":\"\","
	    "\"need_parking\":true,\"need_elevator\":null,\"need_mamad\":"
	    "\"yes\",\"need_balcony\":false}}",
	    0, NULL);
	out = llm_analysis_validate(in, why, sizeof(why));
	assert_non_null(out);
	r = json_object_get(out, "requirements");
	assert_string_equal(
	    json_string_value(json_object_get(out, "sentiment")), "positive");
	assert_int_equal(
	    json_integer_value(json_object_get(out, "lead_score")), 88);
	assert_int_equal(json_array_size(json_object_get(out, "reasons")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(r, "deal_type")), "buy");
	/* halves, ordered */
	assert_true(json_real_value(json_object_get(r, "rooms_min")) == 3.5);
	assert_true(json_real_value(json_object_get(r, "rooms_max")) == 4.0);
	assert_int_equal(
	    json_integer_value(json_object_get(r, "budget_min")), 1500000);
	assert_int_equal(
	    json_integer_value(json_object_get(r, "budget_max")), 2000000);
	assert_true(json_is_null(json_object_get(r, "timeline")));
	assert_true(json_is_true(json_object_get(r, "need_parking")));
	assert_true(json_is_null(json_object_get(r, "need_mamad")));
	assert_true(json_is_false(json_object_get(r, "need_balcony")));
	json_decref(out);
	json_decref(in);
	/* Refused: no summary, bad sentiment, score out of range. */
	in =
	    json_loads("{\"sentiment\":\"neutral\",\"lead_score\":5}", 0, NULL);
	assert_null(llm_analysis_validate(in, why, sizeof(why)));
	json_decref(in);
	in = json_loads("{\"summary\":\"x\",\"sentiment\":\"great\","
			"\"lead_score\":5}",
	    0, NULL);
	assert_null(llm_analysis_validate(in, why, sizeof(why)));
	json_decref(in);
	in = json_loads("{\"summary\":\"x\",\"sentiment\":\"mixed\","
			"\"lead_score\":140}",
	    0, NULL);
	assert_null(llm_analysis_validate(in, why, sizeof(why)));
	json_decref(in);
	assert_null(llm_analysis_validate(NULL, why, sizeof(why)));
	/* No requirements at all: every field null or empty. */
	in = json_loads("{\"summary\":\"x\",\"sentiment\":\"neutral\","
			"\"lead_score\":0}",
	    0, NULL);
	out = llm_analysis_validate(in, why, sizeof(why));
	assert_non_null(out);
	r = json_object_get(out, "requirements");
	assert_int_equal(json_object_size(r), 13);
	assert_true(json_is_null(json_object_get(r, "deal_type")));
	json_decref(out);
	json_decref(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_system_prompt),
	    cmocka_unit_test(test_heard_turns_only),
	    cmocka_unit_test(test_request_shape),
	    cmocka_unit_test(test_many_turns_and_limits),
	    cmocka_unit_test(test_text_job),
	    cmocka_unit_test(test_transcript),
	    cmocka_unit_test(test_analysis_request),
	    cmocka_unit_test(test_analysis_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
