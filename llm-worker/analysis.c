/*
 * Post-call analysis: ANALYSIS_JOB (the heard transcript of a finished
 * call) -> a non-streamed chat with response_format json_schema -> a
 * validated analysis -> crm-store (kind analysis, key the call SID; and
 * kind customer with the requirements when the caller's phone and the
 * business are known) -> ANALYSIS_RESULT.
 *
 * Why a schema and then our own validation: staff act on the lead score
 * and the requirements (deal type, cities, rooms in halves, budget in ₪,
 * must-haves) and crm-store's columns have CHECKs (rooms in halves, deal
 * type in buy/rent/sell/let, score 0-100). Strict structured output
 * makes the model answer the schema, but an OpenAI-compatible server may
 * not enforce it, so llm_analysis_validate (pure, unit-tested) normalises
 * every field and refuses an answer without a summary, a sentiment or a
 * score.
 *
 * The result {summary, sentiment, lead_score, reasons, requirements,
 * stored, llm_ms} is sent once the writes are in the store client's hands
 * (kept until acknowledged, spooled to disk when crm-store is away:
 * common/store.h), with stored false when this worker has no store client.
 * Failures: ANALYSIS_RESULT FINAL|ERROR {error, message}.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "store.h"
#include "xmalloc.h"

#include "llm.h"

#define LLM_ANALYSIS_LIST_MAX 20

static const char llm_analysis_schema_text[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"summary\",\"sentiment\",\"lead_score\",\"reasons\","
    "\"requirements\"],\"properties\":{"
    "\"summary\":{\"type\":\"string\",\"description\":\"סיכום השיחה "
    "בעברית, שניים עד ארבעה משפטים\"},"
    "\"sentiment\":{\"type\":\"string\",\"enum\":[\"positive\","
    "\"neutral\",\"negative\",\"mixed\"]},"
    "\"lead_score\":{\"type\":\"integer\",\"description\":\"0-100: how "
    "likely the caller is to do a deal soon\"},"
    "\"reasons\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
    "\"description\":\"short Hebrew reasons for the score\"},"
    "\"requirements\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"deal_type\",\"cities\",\"neighbourhoods\","
    "\"rooms_min\",\"rooms_max\",\"budget_min\",\"budget_max\","
    "\"property_type\",\"timeline\",\"need_parking\",\"need_elevator\","
    "\"need_mamad\",\"need_balcony\"],\"properties\":{"
    "\"deal_type\":{\"type\":[\"string\",\"null\"],\"enum\":[\"buy\","
    "\"rent\",\"sell\",\"let\",null]},"
    "\"cities\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"neighbourhoods\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"string\"}},"
    "\"rooms_min\":{\"type\":[\"number\",\"null\"],\"description\":\"in "
    "halves, e.g. 3.5\"},"
    "\"rooms_max\":{\"type\":[\"number\",\"null\"]},"
    "\"budget_min\":{\"type\":[\"integer\",\"null\"],\"description\":"
    "\"shekels\"},"
    "\"budget_max\":{\"type\":[\"integer\",\"null\"],\"description\":"
    "\"shekels\"},"
    "\"property_type\":{\"type\":[\"string\",\"null\"],\"description\":"
    "\"דירה, דירת גן, פנטהאוז, בית פרטי, משרד...\"},"
    "\"timeline\":{\"type\":[\"string\",\"null\"],\"description\":\"when, "
    "in Hebrew as said, or YYYY-MM\"},"
    "\"need_parking\":{\"type\":[\"boolean\",\"null\"]},"
    "\"need_elevator\":{\"type\":[\"boolean\",\"null\"]},"
    "\"need_mamad\":{\"type\":[\"boolean\",\"null\"],\"description\":"
    "\"ממ״ד\"},"
    "\"need_balcony\":{\"type\":[\"boolean\",\"null\"]}}}}}";

static const char llm_analysis_prompt[] =
    "אתה מנתח שיחות טלפון של משרד תיווך נדל״ן. קרא את תמליל השיחה (רק מה "
    "שנשמע בפועל) והחזר JSON לפי הסכמה: סיכום קצר בעברית לסוכן, סנטימנט "
    "המתקשר, ציון ליד בין 0 ל־100 עם נימוקים קצרים בעברית, והדרישות "
    "שהמתקשר אמר: סוג עסקה (buy קנייה, rent שכירות, sell מכירה, let "
    "השכרה), ערים, שכונות, מספר חדרים מינימלי ומקסימלי (בחצאים, למשל "
    "3.5), תקציב מינימלי ומקסימלי בשקלים, סוג נכס, לוח זמנים, והאם חשובים "
    "לו חניה, מעלית, ממ״ד ומרפסת. מה שלא נאמר: null או רשימה ריקה. אל "
    "תמציא.\n";

/* The JSON schema of the analysis (new object). */
json_t *
llm_analysis_schema(void)
{
	return json_loads(llm_analysis_schema_text, 0, NULL);
}

/*
 * Return the chat request analysing the ANALYSIS_JOB payload job: the
 * heard transcript, what is known of the customer, the schema.
 */
json_t *
llm_analysis_request(const json_t *job, const char *model)
{
	char *tr = llm_prompt_transcript(json_object_get(job, "transcript"));
	json_t *cust = json_object_get(job, "customer");
	json_t *schema = llm_analysis_schema();
	json_t *req;
	char *user;

	if (json_is_object(cust) && json_object_size(cust) > 0) {
		char *cs = json_dumps(cust, JSON_COMPACT);

		user = xasprintf("תמליל השיחה:\n%s\nמה שידוע על הלקוח: %s\n",
		    tr, cs ? cs : "{}");
		free(cs);
	} else
		user = xasprintf("תמליל השיחה:\n%s", tr);
	free(tr);
	req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, "
			"s:{s:s, s:{s:s, s:b, s:o}}}",
	    "model", model, "messages", "role", "system", "content",
	    llm_analysis_prompt, "role", "user", "content", user, "temperature",
	    0.0, "response_format", "type", "json_schema", "json_schema",
	    "name", "call_analysis", "strict", 1, "schema", schema);
	free(user);
	return req;
}

/* A list of at most LLM_ANALYSIS_LIST_MAX non-empty strings. */
static json_t *
llm_analysis_strings(const json_t *v)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || s[0] == '\0')
			continue;
		if (json_array_size(out) >= LLM_ANALYSIS_LIST_MAX)
			break;
		json_array_append_new(out, json_string(s));
	}
	return out;
}

/* Rooms: a number 0..50 rounded to the nearest half, or null. */
static json_t *
llm_analysis_rooms(const json_t *v)
{
	double r;

	if (!json_is_number(v))
		return json_null();
	r = json_number_value(v);
	if (!(r >= 0.0 && r <= 50.0))
		return json_null();
	return json_real(round(r * 2.0) / 2.0);
}

/* Budget: whole shekels 0..10^11, or null. */
static json_t *
llm_analysis_budget(const json_t *v)
{
	double b;

	if (!json_is_number(v))
		return json_null();
	b = json_number_value(v);
	if (!(b >= 0.0 && b <= 1e11))
		return json_null();
	return json_integer((json_int_t)llround(b));
}

static json_t *
llm_analysis_bool(const json_t *v)
{
	return json_is_boolean(v) ? json_boolean(json_is_true(v)) : json_null();
}

static json_t *
llm_analysis_text(const json_t *v)
{
	const char *s = json_string_value(v);

	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* Order a min/max pair of numbers in o. */
static void
llm_analysis_order(json_t *o, const char *kmin, const char *kmax)
{
	json_t *a = json_object_get(o, kmin), *b = json_object_get(o, kmax);

	if (json_is_number(a) && json_is_number(b) &&
	    json_number_value(a) > json_number_value(b)) {
		json_incref(a);
		json_incref(b);
		json_object_set_new(o, kmin, b);
		json_object_set_new(o, kmax, a);
	}
}

static json_t *
llm_analysis_requirements(const json_t *r)
{
	static const char *const deals[] = {"buy", "rent", "sell", "let", NULL};
	static const char *const needs[] = {"need_parking", "need_elevator",
	    "need_mamad", "need_balcony", NULL};
	const char *deal = json_string_value(json_object_get(r, "deal_type"));
	json_t *o = json_object();

	json_object_set_new(o, "deal_type", json_null());
	for (const char *const *d = deals; deal != NULL && *d != NULL; d++)
		if (strcasecmp(deal, *d) == 0)
			json_object_set_new(o, "deal_type", json_string(*d));
	json_object_set_new(
	    o, "cities", llm_analysis_strings(json_object_get(r, "cities")));
	json_object_set_new(o, "neighbourhoods",
	    llm_analysis_strings(json_object_get(r, "neighbourhoods")));
	json_object_set_new(o, "rooms_min",
	    llm_analysis_rooms(json_object_get(r, "rooms_min")));
	json_object_set_new(o, "rooms_max",
	    llm_analysis_rooms(json_object_get(r, "rooms_max")));
	llm_analysis_order(o, "rooms_min", "rooms_max");
	json_object_set_new(o, "budget_min",
	    llm_analysis_budget(json_object_get(r, "budget_min")));
	json_object_set_new(o, "budget_max",
	    llm_analysis_budget(json_object_get(r, "budget_max")));
	llm_analysis_order(o, "budget_min", "budget_max");
	json_object_set_new(o, "property_type",
	    llm_analysis_text(json_object_get(r, "property_type")));
	json_object_set_new(
	    o, "timeline", llm_analysis_text(json_object_get(r, "timeline")));
	for (const char *const *n = needs; *n != NULL; n++)
		json_object_set_new(
		    o, *n, llm_analysis_bool(json_object_get(r, *n)));
	return o;
}

/*
 * Validate and normalise the model's analysis in: return a new object
 * {summary, sentiment, lead_score, reasons, requirements}, or NULL with
 * why filled when the summary, the sentiment or the score is missing or
 * wrong. Rooms are rounded to halves, budgets to whole shekels, pairs
 * ordered, unknown values made null.
 */
json_t *
llm_analysis_validate(const json_t *in, char *why, size_t whylen)
{
	static const char *const moods[] = {
	    "positive", "neutral", "negative", "mixed", NULL};
	const char *summary = json_string_value(json_object_get(in, "summary"));
	const char *mood = json_string_value(json_object_get(in, "sentiment"));
	const json_t *score = json_object_get(in, "lead_score");
	const char *sentiment = NULL;
	double sc;

	if (!json_is_object(in)) {
		snprintf(why, whylen, "the analysis is not a JSON object");
		return NULL;
	}
	if (summary == NULL || summary[0] == '\0') {
		snprintf(why, whylen, "the analysis has no summary");
		return NULL;
	}
	for (const char *const *m = moods; mood != NULL && *m != NULL; m++)
		if (strcasecmp(mood, *m) == 0)
			sentiment = *m;
	if (sentiment == NULL) {
		snprintf(why, whylen, "the analysis has no valid sentiment");
		return NULL;
	}
	if (!json_is_number(score)) {
		snprintf(why, whylen, "the analysis has no lead score");
		return NULL;
	}
	sc = json_number_value(score);
	if (!(sc >= 0.0 && sc <= 100.0)) {
		snprintf(why, whylen, "the lead score is not within 0-100");
		return NULL;
	}
	return json_pack("{s:s, s:s, s:I, s:o, s:o}", "summary", summary,
	    "sentiment", sentiment, "lead_score", (json_int_t)llround(sc),
	    "reasons", llm_analysis_strings(json_object_get(in, "reasons")),
	    "requirements",
	    llm_analysis_requirements(json_object_get(in, "requirements")));
}

static void
llm_analysis_on_store(enum store_write_state st, json_t *reply, void *arg)
{
	(void)reply;
	(void)arg;
	if (st == STORE_WRITE_REJECTED)
		log_warnx("crm-store refused an analysis write");
}

/* Write the analysis (and the lead's requirements). Return true if so. */
static bool
llm_analysis_store(struct llm_oneshot *o, const json_t *a)
{
	struct worker_job *j = o->job;
	json_t *biz = json_object_get(o->payload, "business_id");
	json_t *cust = json_object_get(o->payload, "customer");
	const char *phone = json_string_value(json_object_get(cust, "phone"));
	json_t *req = json_object_get(a, "requirements");
	json_t *data;
	int rc;

	if (o->l->store == NULL || j->call_sid[0] == '\0')
		return false;
	data = json_pack("{s:s, s:O, s:O, s:O, s:{s:O, s:O}}", "call_sid",
	    j->call_sid, "summary", json_object_get(a, "summary"), "sentiment",
	    json_object_get(a, "sentiment"), "lead_score",
	    json_object_get(a, "lead_score"), "extracted", "requirements", req,
	    "reasons", json_object_get(a, "reasons"));
	rc = data != NULL ? store_write(o->l->store, "analysis", j->call_sid,
				data, llm_analysis_on_store, NULL)
			  : -1;
	json_decref(data);
	if (phone == NULL)
		phone = json_string_value(json_object_get(o->payload, "from"));
	if (rc == 0 && phone != NULL && biz != NULL && !json_is_null(biz)) {
		char *bs = json_dumps(biz, JSON_ENCODE_ANY);
		char *key = xasprintf("%s:%s", bs ? bs : "", phone);

		data = json_deep_copy(req);
		if (data != NULL) {
			json_object_set(data, "business_id", biz);
			json_object_set_new(data, "phone", json_string(phone));
			json_object_set(data, "lead_score",
			    json_object_get(a, "lead_score"));
			json_object_set(
			    data, "sentiment", json_object_get(a, "sentiment"));
			(void)store_write(o->l->store, "customer", key, data,
			    llm_analysis_on_store, NULL);
		}
		json_decref(data);
		free(key);
		free(bs);
	}
	return rc == 0;
}

static void
llm_analysis_on_reply(struct llm_oneshot *o, const char *body, size_t len)
{
	struct log_ctx ctx = {o->job->call_sid, NULL, o->job->job_id, -1};
	struct openai_chat_reply r;
	json_t *in, *a;
	char why[200];
	bool stored;

	if (openai_chat_parse_reply(body, len, &r) < 0 || r.content == NULL) {
		openai_chat_reply_free(&r);
		llm_job_oneshot_fail(
		    o, "provider", "the reply is not the expected JSON");
		return;
	}
	in = json_loads(r.content, JSON_REJECT_DUPLICATES, NULL);
	openai_chat_reply_free(&r);
	a = llm_analysis_validate(in, why, sizeof(why));
	json_decref(in);
	if (a == NULL) {
		llm_job_oneshot_fail(o, "invalid", why);
		return;
	}
	stored = llm_analysis_store(o, a);
	json_object_set_new(a, "stored", json_boolean(stored));
	json_object_set_new(
	    a, "llm_ms", json_integer((json_int_t)llm_job_oneshot_ms(o)));
	log_call(LOG_LEVEL_INFO, &ctx,
	    "call analysed in %ld ms: lead score %lld, %s%s",
	    llm_job_oneshot_ms(o),
	    (long long)json_integer_value(json_object_get(a, "lead_score")),
	    json_string_value(json_object_get(a, "sentiment")),
	    stored ? ", written to crm-store" : "");
	llm_job_oneshot_reply(o, a);
}

/* The ANALYSIS_JOB handler (arg: struct llm). */
void
llm_analysis_on_job(struct nnsock *sock, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct llm *l = arg;
	struct llm_oneshot *o;

	(void)sock;
	(void)rx;
	if ((o = llm_job_oneshot_new(l, m, payload, MSG_ANALYSIS_RESULT)) ==
	    NULL)
		return;
	llm_job_oneshot_start(o,
	    llm_analysis_request(payload, l->analysis_model),
	    llm_analysis_on_reply);
}
