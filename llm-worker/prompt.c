/*
 * The chat requests the llm-worker sends: the Hebrew receptionist's system
 * prompt, the business's instructions, what we know of the caller, the
 * conversation as the caller HEARD it, the new turn, and the tools.
 *
 * Why pure (R15): the prompt decides how the agent sounds, and every rule
 * in it (short sentences, numbers as Hebrew words with the right gender,
 * what to ask a real-estate caller) is checked by unit tests
 * (tests/unit/test_llm_worker_prompt.c) without a provider. JSON is built
 * with jansson, never by string pasting, so a caller's words cannot break
 * the request.
 *
 * What goes in (LLM_JOB payload, docs/protocol.md): instructions (the
 * business's own text, capped at LLM_PROMPT_INSTR_MAX bytes),
 * business_name, customer {name, phone, history, ...}, heard [{role:
 * caller|agent, text}] of which the newest LLM_PROMPT_TURNS_MAX are kept
 * (an entry marked "heard": false is skipped, and an agent entry's "heard"
 * text wins over its "text", so words the caller never heard never reach
 * the model), and text (the caller's new turn). TEXT_JOB (SMS, WhatsApp)
 * gets a written-channel variant with history [{role, text|body}] and
 * body.
 *
 * Owns nothing; every returned object or string is new and the caller's.
 */
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "xmalloc.h"

/* The receptionist: how to speak and what to find out. */
static const char llm_prompt_base[] =
    "אתה נציג הקבלה הטלפוני של משרד תיווך נדל״ן. אתה מדבר עם מתקשר "
    "בטלפון, וכל מה שאתה כותב מוקרא לו בקול.\n"
    "איך לדבר:\n"
    "- ענה בעברית, בנימוס ובחום, במשפטים קצרים ופשוטים: משפט אחד עד שלושה "
    "בכל תור, ולא יותר מחמש עשרה מילים במשפט.\n"
    "- כתוב כל מספר במילים עבריות, לעולם לא בספרות, ובהתאמה למין של שם "
    "העצם: \"שלושה חדרים\", \"שלוש קומות\", \"שלושה וחצי חדרים\", "
    "\"מיליון ומאתיים אלף שקל\", \"בשעה ארבע וחצי\", \"בשנים עשר במרץ\".\n"
    "- מספר טלפון אומרים ספרה אחר ספרה, בקבוצות.\n"
    "- בלי רשימות, בלי כוכביות, בלי סמלים, בלי אימוג׳י ובלי קישורים: רק "
    "טקסט שאפשר להגיד בקול.\n"
    "- שאל שאלה אחת בכל פעם, וחכה לתשובה.\n"
    "מה לברר, בהדרגה ובשיחה טבעית:\n"
    "- האם המתקשר מחפש לקנות, לשכור, למכור או להשכיר נכס;\n"
    "- באיזו עיר ובאיזו שכונה;\n"
    "- כמה חדרים;\n"
    "- מה התקציב;\n"
    "- ממתי, או מתי הוא רוצה לעבור או לסגור;\n"
    "- דרישות חשובות כמו חניה, מעלית, ממ״ד ומרפסת.\n"
    "כללים:\n"
    "- ענה רק לפי הנחיות העסק שלמטה. אל תמציא נכסים, מחירים או פרטים. אם "
    "אינך יודע, אמור שאחד הסוכנים יחזור אליו.\n"
    "- כשהמתקשר רוצה לראות נכס, קבע איתו תאריך ושעה, ואז השתמש בכלי "
    "book_viewing, ואמור לו שהבקשה נרשמה ושסוכן יאשר אותה.\n"
    "- אם המתקשר מבקש לדבר עם אדם, או כועס מאוד, השתמש בכלי "
    "transfer_to_human.\n"
    "- כשהמתקשר נפרד והשיחה הסתיימה, אמור משפט פרידה קצר והשתמש בכלי "
    "end_call.\n"
    "- השיחה שלמטה היא מה שהמתקשר שמע בפועל. אם הוא קטע אותך, הוא לא שמע "
    "את ההמשך: אל תניח שהוא יודע אותו.\n";

/* The written variant for SMS and WhatsApp. */
static const char llm_prompt_text_base[] =
    "אתה נציג של משרד תיווך נדל״ן ועונה להודעות ווטסאפ ו־SMS. ענה "
    "בעברית, בנימוס ובקצרה: הודעה אחת של עד שלושה משפטים. מותר לכתוב "
    "מספרים בספרות. ברר בהדרגה אם הפונה רוצה לקנות, לשכור, למכור או "
    "להשכיר, באיזו עיר, כמה חדרים, מה התקציב וממתי. ענה רק לפי הנחיות "
    "העסק שלמטה ואל תמציא נכסים או מחירים; אם אינך יודע, כתוב שסוכן יחזור "
    "אליו.\n";

/*
 * Return the length of the longest prefix of s (len bytes) of at most max
 * bytes that does not end inside a UTF-8 character.
 */
size_t
llm_prompt_utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = max;

	if (len <= max)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Append text (capped at max bytes) to a growing string. */
static void
llm_prompt_add(char **buf, size_t *len, const char *text, size_t max)
{
	size_t n = llm_prompt_utf8_cut(text, strlen(text), max);

	*buf = xreallocarray(*buf, *len + n + 1, 1);
	memcpy(*buf + *len, text, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* One line "label: value" for a scalar JSON value; nothing otherwise. */
static void
llm_prompt_add_field(char **buf, size_t *len, const char *label, json_t *v)
{
	char num[64];
	const char *s = NULL;

	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v)) {
		snprintf(
		    num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s = num;
	} else if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%g", json_real_value(v));
		s = num;
	} else if (json_is_boolean(v))
		s = json_is_true(v) ? "כן" : "לא";
	if (s == NULL || s[0] == '\0')
		return;
	llm_prompt_add(buf, len, "- ", 2);
	llm_prompt_add(buf, len, label, 64);
	llm_prompt_add(buf, len, ": ", 2);
	llm_prompt_add(buf, len, s, LLM_PROMPT_TEXT_MAX);
	llm_prompt_add(buf, len, "\n", 1);
}

/* The known caller: name, phone, past calls, anything else scalar. */
static void
llm_prompt_add_customer(char **buf, size_t *len, json_t *cust)
{
	const char *key;
	json_t *v, *e;
	size_t i;

	if (!json_is_object(cust) || json_object_size(cust) == 0)
		return;
	llm_prompt_add(buf, len, "\nמה שידוע על המתקשר (לקוח מוכר):\n", 200);
	json_object_foreach(cust, key, v) {
		if (strcmp(key, "history") == 0)
			continue;
		if (strcmp(key, "name") == 0)
			llm_prompt_add_field(buf, len, "שם", v);
		else
			llm_prompt_add_field(buf, len, key, v);
	}
	v = json_object_get(cust, "history");
	if (json_is_string(v)) {
		llm_prompt_add_field(buf, len, "היסטוריה", v);
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return;
	llm_prompt_add(buf, len, "פניות קודמות:\n", 100);
	json_array_foreach(v, i, e) {
		const char *t = json_string_value(e);
		const char *at = NULL;

		if (i >= LLM_PROMPT_TURNS_MAX)
			break;
		if (json_is_object(e)) {
			t = json_string_value(json_object_get(e, "summary"));
			if (t == NULL)
				t = json_string_value(
				    json_object_get(e, "text"));
			at = json_string_value(json_object_get(e, "at"));
		}
		if (t == NULL || t[0] == '\0')
			continue;
		llm_prompt_add(buf, len, "- ", 2);
		if (at != NULL) {
			llm_prompt_add(buf, len, at, 40);
			llm_prompt_add(buf, len, ": ", 2);
		}
		llm_prompt_add(buf, len, t, LLM_PROMPT_TEXT_MAX);
		llm_prompt_add(buf, len, "\n", 1);
	}
}

static char *
llm_prompt_system_of(const char *base, const json_t *job, const char *today)
{
	const char *instr =
	    json_string_value(json_object_get(job, "instructions"));
	const char *name =
	    json_string_value(json_object_get(job, "business_name"));
	char *buf = NULL;
	size_t len = 0;

	llm_prompt_add(&buf, &len, base, sizeof(llm_prompt_base));
	if (name != NULL && name[0] != '\0') {
		llm_prompt_add(&buf, &len, "\nשם העסק: ", 100);
		llm_prompt_add(&buf, &len, name, 200);
		llm_prompt_add(&buf, &len, "\n", 1);
	}
	if (today != NULL) {
		llm_prompt_add(&buf, &len, "התאריך היום: ", 100);
		llm_prompt_add(&buf, &len, today, 64);
		llm_prompt_add(&buf, &len, " (שעון ישראל).\n", 100);
	}
	if (instr != NULL && instr[0] != '\0') {
		llm_prompt_add(&buf, &len, "\nהנחיות העסק:\n", 100);
		llm_prompt_add(&buf, &len, instr, LLM_PROMPT_INSTR_MAX);
		llm_prompt_add(&buf, &len, "\n", 1);
	}
	llm_prompt_add_customer(&buf, &len, json_object_get(job, "customer"));
	return buf;
}

/* Return the system prompt of an LLM_JOB payload (new string). */
char *
llm_prompt_system(const json_t *job)
{
	return llm_prompt_system_of(llm_prompt_base, job, NULL);
}

/* The chat role of a turn, or NULL for a turn to skip. */
static const char *
llm_prompt_role(const json_t *turn)
{
	const char *r = json_string_value(json_object_get(turn, "role"));

	if (r == NULL)
		return NULL;
	if (strcmp(r, "caller") == 0 || strcmp(r, "user") == 0 ||
	    strcmp(r, "customer") == 0 || strcmp(r, "in") == 0)
		return "user";
	if (strcmp(r, "agent") == 0 || strcmp(r, "assistant") == 0 ||
	    strcmp(r, "out") == 0)
		return "assistant";
	return NULL;
}

/* The words of a turn the other side actually got, or NULL. */
static const char *
llm_prompt_turn_text(const json_t *turn)
{
	json_t *h = json_object_get(turn, "heard");
	const char *t;

	if (json_is_false(h))
		return NULL;
	if (json_is_string(h))
		t = json_string_value(h);
	else if ((t = json_string_value(json_object_get(turn, "text"))) == NULL)
		t = json_string_value(json_object_get(turn, "body"));
	return t != NULL && t[0] != '\0' ? t : NULL;
}

static json_t *
llm_prompt_message(const char *role, const char *text)
{
	size_t max = strcmp(role, "system") == 0 ? LLM_PROMPT_SYSTEM_MAX
						 : LLM_PROMPT_TEXT_MAX;
	size_t n = llm_prompt_utf8_cut(text, strlen(text), max);

	return json_pack("{s:s, s:s%}", "role", role, "content", text, n);
}

/* Append the newest LLM_PROMPT_TURNS_MAX usable turns to msgs. */
static void
llm_prompt_add_turns(json_t *msgs, const json_t *turns)
{
	size_t n = json_array_size(turns), first = 0, kept = 0;

	for (size_t i = n; i > 0; i--) {
		const json_t *t = json_array_get(turns, i - 1);

		if (llm_prompt_role(t) == NULL ||
		    llm_prompt_turn_text(t) == NULL)
			continue;
		if (++kept > LLM_PROMPT_TURNS_MAX)
			break;
		first = i - 1;
	}
	for (size_t i = first; i < n; i++) {
		const json_t *t = json_array_get(turns, i);
		const char *role = llm_prompt_role(t);
		const char *text = llm_prompt_turn_text(t);
		json_t *m;

		if (role == NULL || text == NULL)
			continue;
		if ((m = llm_prompt_message(role, text)) != NULL)
			json_array_append_new(msgs, m);
	}
}

/* A nullable string property of a tool's parameters. */
static json_t *
llm_prompt_prop(const char *description, bool nullable)
{
	return nullable ? json_pack("{s:[ss], s:s}", "type", "string", "null",
			      "description", description)
			: json_pack("{s:s, s:s}", "type", "string",
			      "description", description);
}

/* A function tool; props is taken, every property required (strict). */
static json_t *
llm_prompt_tool(const char *name, const char *description, json_t *props)
{
	json_t *req = json_array();
	const char *key;
	json_t *v;

	json_object_foreach(props, key, v) {
		json_array_append_new(req, json_string(key));
	}
	return json_pack("{s:s, s:{s:s, s:s, s:b, s:{s:s, s:o, s:o, s:b}}}",
	    "type", "function", "function", "name", name, "description",
	    description, "strict", 1, "parameters", "type", "object",
	    "properties", props, "required", req, "additionalProperties", 0);
}

/* The tools of a call turn (strict JSON schemas). */
json_t *
llm_prompt_tools(void)
{
	json_t *book = json_object(), *xfer = json_object(),
	       *end = json_object();

	json_object_set_new(book, "requested_text",
	    llm_prompt_prop("when the caller wants to come, as said "
			    "(Hebrew)",
		false));
	json_object_set_new(book, "date",
	    llm_prompt_prop(
		"the day as YYYY-MM-DD (Israel time), if known", true));
	json_object_set_new(book, "time",
	    llm_prompt_prop(
		"the hour as HH:MM, 24-hour clock, if known", true));
	json_object_set_new(book, "address",
	    llm_prompt_prop("the property's address or area", true));
	json_object_set_new(book, "listing",
	    llm_prompt_prop("which listing, in a few words", true));
	json_object_set_new(book, "customer_name",
	    llm_prompt_prop("the caller's name, if given", true));
	json_object_set_new(book, "notes",
	    llm_prompt_prop("what the caller is looking for (Hebrew)", true));
	json_object_set_new(xfer, "reason",
	    llm_prompt_prop("why, in a few Hebrew words", false));
	json_object_set_new(end, "reason",
	    llm_prompt_prop("why, in a few Hebrew words", false));
	return json_pack("[o, o, o]",
	    llm_prompt_tool("book_viewing",
		"Record the caller's request to view a property at a time "
		"they agreed to. An agent confirms it later.",
		book),
	    llm_prompt_tool("transfer_to_human",
		"Transfer the call to a human agent, after telling the "
		"caller.",
		xfer),
	    llm_prompt_tool(
		"end_call", "End the call after the goodbye sentence.", end));
}

/*
 * Return the streaming chat request of an LLM_JOB payload: system prompt,
 * heard turns, the caller's new text, tools.
 */
json_t *
llm_prompt_call(const json_t *job, const struct llm_prompt_opts *o)
{
	char *sys = llm_prompt_system_of(llm_prompt_base, job, o->today);
	const char *text = json_string_value(json_object_get(job, "text"));
	json_t *msgs = json_array();
	json_t *req;

	json_array_append_new(msgs, llm_prompt_message("system", sys));
	free(sys);
	llm_prompt_add_turns(msgs, json_object_get(job, "heard"));
	if (text != NULL && text[0] != '\0')
		json_array_append_new(msgs, llm_prompt_message("user", text));
	req = json_pack("{s:s, s:o, s:b, s:o, s:s, s:f}", "model", o->model,
	    "messages", msgs, "stream", o->stream, "tools", llm_prompt_tools(),
	    "tool_choice", "auto", "temperature", 0.4);
	if (req == NULL)
		return NULL;
	if (o->stream)
		json_object_set_new(req, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
	if (o->max_tokens > 0)
		json_object_set_new(
		    req, "max_completion_tokens", json_integer(o->max_tokens));
	return req;
}

/*
 * Return the chat request answering a TEXT_JOB (SMS or WhatsApp):
 * written-channel prompt, history, the new message body. Not streamed.
 */
json_t *
llm_prompt_text(const json_t *job, const struct llm_prompt_opts *o)
{
	char *sys = llm_prompt_system_of(llm_prompt_text_base, job, o->today);
	const char *body = json_string_value(json_object_get(job, "body"));
	json_t *msgs = json_array();
	json_t *req;

	json_array_append_new(msgs, llm_prompt_message("system", sys));
	free(sys);
	llm_prompt_add_turns(msgs, json_object_get(job, "history"));
	if (body != NULL && body[0] != '\0')
		json_array_append_new(msgs, llm_prompt_message("user", body));
	req = json_pack("{s:s, s:o, s:f}", "model", o->model, "messages", msgs,
	    "temperature", 0.4);
	if (req != NULL && o->max_tokens > 0)
		json_object_set_new(
		    req, "max_completion_tokens", json_integer(o->max_tokens));
	return req;
}

/*
 * Return the turns as a Hebrew transcript, one "מתקשר: ..." / "נציג: ..."
 * line each (heard text only), for the post-call analysis.
 */
char *
llm_prompt_transcript(const json_t *turns)
{
	char *buf = NULL;
	size_t len = 0, i;
	json_t *t;

	llm_prompt_add(&buf, &len, "", 0);
	json_array_foreach(turns, i, t) {
		const char *role = llm_prompt_role(t);
		const char *text = llm_prompt_turn_text(t);

		if (role == NULL || text == NULL)
			continue;
		llm_prompt_add(&buf, &len,
		    strcmp(role, "user") == 0 ? "מתקשר: " : "נציג: ", 40);
		llm_prompt_add(&buf, &len, text, LLM_PROMPT_TEXT_MAX);
		llm_prompt_add(&buf, &len, "\n", 1);
	}
	return buf;
}
