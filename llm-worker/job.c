/*
 * LLM_JOB: a caller's turn in, the agent's reply out sentence by sentence;
 * TEXT_JOB: an SMS or WhatsApp message in, a reply out; and the shared
 * plumbing of non-streamed requests (struct llm_oneshot, also used by
 * analysis.c).
 *
 * A call turn: the request (prompt.c) is posted with stream=true; the
 * body's bytes go through the SSE parser (sse_parse.c), each chunk's
 * delta.content pieces into the sentence splitter (sentence.c), and each
 * sentence leaves at once as LLM_SENTENCE {index, text} (first_token_ms on
 * index 0) with the job's generation. delta.tool_calls pieces are joined
 * per index. At the end of the stream: transfer_to_human and end_call
 * become LLM_ACTION {action, arguments, index} (index: the last sentence
 * sent, after which it takes effect); book_viewing becomes an appointment
 * write to crm-store (common/store.h; idempotency key "<call SID>:
 * <generation>:<tool index>"), or, without a store client or a business
 * id, an LLM_ACTION book_viewing the gateway can write. After a round
 * with tool calls, the next round sends the model its own calls and their
 * results (up to LLM_JOB_ROUNDS rounds), so it can confirm in words ("I
 * wrote down the viewing..."); actions go out after the last round. Last comes
 * LLM_DONE (FINAL) {sentences, usage, llm_ms, first_token_ms, finish_reason,
 * text, bookings}; a failure ends with LLM_DONE FINAL|ERROR {error, message,
 * sentences, llm_ms}, error being quota, timeout, rate_limit or provider.
 *
 * Retries (openai_retry_ms) are made only while no sentence of the
 * round was sent (the gateway already plays those) and while the wait and
 * another try fit the job's budget. insufficient_quota raises an operator
 * alert (log level error, heartbeat provider unreachable with last error
 * insufficient_quota) until a request succeeds again.
 *
 * Cancels: a JOB_CANCEL for the job's call and generation cancels the
 * provider request (httpc_cancel never calls back) and ends the job from
 * a zero-delay event (R8); nothing more is sent. Callbacks that must stop
 * the stream (a malformed event, an error event) only mark the job and
 * cancel the request after the parser has returned, then finish from the
 * same event.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#include "llm.h"

#define LLM_JOB_ARGS_MAX  ((size_t)16 * 1024) /* one tool call's arguments */
#define LLM_JOB_REPLY_MAX ((size_t)64 * 1024) /* the whole reply text */
#define LLM_JOB_ROUNDS	  3 /* a reply and up to two tool rounds */

struct llm_tool {
	char *id;
	char *name;
	char *args;
	size_t args_len;
};

struct llm_call {
	struct llm *l;
	struct worker_job *job;
	json_t *payload;
	json_t *body; /* the request; grows by a tool round */
	struct httpc_req *req;
	struct event *ev; /* retry wait, or the deferred finish */
	struct sse_parser sse;
	struct sentence_splitter split;
	struct llm_tool tools[OPENAI_CHAT_TOOLS_MAX];
	size_t ntools;
	char *text; /* the reply's text, every round */
	size_t text_len;
	size_t round_text; /* where this round's text starts */
	json_t *actions;
	json_t *bookings;
	long prompt_tokens, completion_tokens;
	bool has_usage;
	unsigned long sent;
	unsigned long round_sent;
	int64_t started_ms;
	long first_token_ms;
	int retries;
	int rounds;
	char finish[32];
	bool got_done;
	bool ending;	/* cancelled: end without a word */
	bool finishing; /* the ev finishes the job */
	bool failed;
	char error[32];
	char message[512];
};

static void llm_call_attempt(struct llm_call *c);
static void llm_call_finish(struct llm_call *c);

static struct log_ctx
llm_job_ctx(const struct worker_job *j)
{
	struct log_ctx ctx = {
	    j->call_sid, NULL, j->job_id, (long)j->generation};

	return ctx;
}

/* What is left of a job's budget (its own or the default), in ms. */
static long
llm_job_remaining(const struct llm *l, const struct worker_job *j)
{
	long used;

	if (j->budget_ms != 0)
		return worker_job_remaining_ms(j);
	used = (long)(clock_mono_ms() - j->received_ms);
	return used >= l->default_ms ? 0 : l->default_ms - used;
}

static double
llm_job_jitter(void)
{
	return (double)arc4random_uniform(1000) / 1000.0;
}

/*
 * Account a finished request in the heartbeat: quota raises the operator
 * alert (logged once per request), success clears it.
 */
static void
llm_job_provider(struct llm *l, const struct worker_job *j, bool ok, bool quota,
    const char *last_error)
{
	struct log_ctx ctx = llm_job_ctx(j);

	if (quota) {
		log_call(LOG_LEVEL_ERROR, &ctx,
		    "operator alert: OpenAI insufficient_quota: the account's "
		    "quota is spent; the agent cannot answer until billing is "
		    "fixed");
		l->quota_alert = true;
		worker_set_provider(l->w, false, "insufficient_quota");
		return;
	}
	if (ok) {
		if (l->quota_alert)
			log_info(
			    "OpenAI chat works again; quota alert cleared");
		l->quota_alert = false;
		worker_set_provider(l->w, true, NULL);
		return;
	}
	if (last_error != NULL)
		worker_set_provider(l->w, false, last_error);
}

/* Today's date in the host's time zone: "YYYY-MM-DD, יום <weekday>". */
void
llm_job_today(char *buf, size_t size)
{
	static const char *const days[] = {
	    "ראשון", "שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת"};
	time_t now = (time_t)(clock_wall_ms() / 1000);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02d, יום %s", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, days[tm.tm_wday % 7]);
}

/* ------------------------------------------------------------------ */
/* Call turns (LLM_JOB)                                                 */

static void
llm_call_reset_tools(struct llm_call *c)
{
	for (size_t i = 0; i < c->ntools; i++) {
		free(c->tools[i].id);
		free(c->tools[i].name);
		free(c->tools[i].args);
	}
	memset(c->tools, 0, sizeof(c->tools));
	c->ntools = 0;
}

static void
llm_call_free(struct llm_call *c)
{
	if (c == NULL)
		return;
	if (c->req != NULL)
		httpc_cancel(c->req);
	if (c->ev != NULL)
		event_free(c->ev);
	sse_parse_free(&c->sse);
	sentence_free(&c->split);
	llm_call_reset_tools(c);
	free(c->text);
	json_decref(c->actions);
	json_decref(c->bookings);
	json_decref(c->body);
	json_decref(c->payload);
	free(c);
}

static void
llm_call_end(struct llm_call *c)
{
	struct worker_job *j = c->job;

	j->data = NULL;
	llm_call_free(c);
	worker_job_end(j);
}

/* Mark the turn failed; the first failure's words are kept. */
static void
llm_call_set_failed(struct llm_call *c, const char *error, const char *msg)
{
	if (c->failed)
		return;
	c->failed = true;
	snprintf(c->error, sizeof(c->error), "%s", error);
	snprintf(c->message, sizeof(c->message), "%s", msg);
}

/* Finish from a zero-delay event (never inside a callback chain). */
static void
llm_call_finish_later(struct llm_call *c)
{
	struct timeval now = {0, 0};

	c->finishing = true;
	evtimer_del(c->ev);
	evtimer_add(c->ev, &now);
}

static void
llm_call_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct llm_call *c = arg;

	(void)fd;
	(void)what;
	if (c->ending || worker_job_is_cancelled(c->job)) {
		llm_call_end(c);
		return;
	}
	if (c->finishing) {
		c->finishing = false;
		llm_call_finish(c);
		return;
	}
	llm_call_attempt(c);
}

/* The splitter's sentence: send it now. */
static void
llm_call_emit(const char *text, size_t len, void *arg)
{
	struct llm_call *c = arg;
	json_t *o;
	char *js;

	if (c->ending || worker_job_is_cancelled(c->job))
		return;
	o = json_pack(
	    "{s:I, s:s%}", "index", (json_int_t)c->sent, "text", text, len);
	if (o == NULL)
		return; /* not UTF-8: cannot be spoken either */
	if (c->sent == 0)
		json_object_set_new(
		    o, "first_token_ms", json_integer(c->first_token_ms));
	js = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (js == NULL)
		return;
	if (worker_job_reply(c->job, MSG_LLM_SENTENCE, 0, js, NULL, 0) == 0) {
		c->sent++;
		c->round_sent++;
	}
	free(js);
}

static void
llm_call_add_text(struct llm_call *c, const char *s, size_t n)
{
	if (c->text_len + n > LLM_JOB_REPLY_MAX)
		return;
	c->text = xreallocarray(c->text, c->text_len + n + 1, 1);
	memcpy(c->text + c->text_len, s, n);
	c->text_len += n;
	c->text[c->text_len] = '\0';
}

/* Join the pieces of delta.tool_calls per index. Return 0 or -1. */
static int
llm_call_add_tools(struct llm_call *c, json_t *calls)
{
	size_t i;
	json_t *tc;

	json_array_foreach(calls, i, tc) {
		json_int_t idx =
		    json_integer_value(json_object_get(tc, "index"));
		json_t *fn = json_object_get(tc, "function");
		const char *id = json_string_value(json_object_get(tc, "id"));
		const char *name =
		    json_string_value(json_object_get(fn, "name"));
		json_t *args = json_object_get(fn, "arguments");
		struct llm_tool *t;

		if (!json_is_integer(json_object_get(tc, "index")))
			idx = (json_int_t)i;
		if (idx < 0 || idx >= OPENAI_CHAT_TOOLS_MAX)
			return -1;
		t = &c->tools[idx];
		if ((size_t)idx + 1 > c->ntools)
			c->ntools = (size_t)idx + 1;
		if (id != NULL && t->id == NULL)
			t->id = xstrdup(id);
		if (name != NULL && t->name == NULL)
			t->name = xstrdup(name);
		if (json_is_string(args)) {
			size_t n = json_string_length(args);

			if (t->args_len + n > LLM_JOB_ARGS_MAX)
				return -1;
			t->args =
			    xreallocarray(t->args, t->args_len + n + 1, 1);
			memcpy(
			    t->args + t->args_len, json_string_value(args), n);
			t->args_len += n;
			t->args[t->args_len] = '\0';
		}
	}
	return 0;
}

static void
llm_call_add_usage(struct llm_call *c, const json_t *u)
{
	c->prompt_tokens +=
	    (long)json_integer_value(json_object_get(u, "prompt_tokens"));
	c->completion_tokens +=
	    (long)json_integer_value(json_object_get(u, "completion_tokens"));
	c->has_usage = true;
}

/* One event of the stream (sse_parse.c callback). Non-zero stops. */
static int
llm_call_on_event(
    enum sse_parse_kind kind, const char *data, size_t len, void *arg)
{
	struct llm_call *c = arg;
	struct openai_chat_chunk ch;

	if (kind == SSE_PARSE_DONE) {
		c->got_done = true;
		sentence_finish(&c->split);
		return 1;
	}
	if (openai_chat_parse_chunk(data, len, &ch) < 0) {
		llm_call_set_failed(
		    c, "provider", "malformed stream: an event is not JSON");
		return 1;
	}
	if (ch.is_error) {
		char msg[400];

		snprintf(msg, sizeof(msg), "error in the stream: %s%s%s",
		    ch.error.code, ch.error.code[0] ? ": " : "",
		    ch.error.message);
		llm_call_set_failed(c,
		    openai_error_is_quota(&ch.error) ? "quota" : "provider",
		    msg);
		openai_chat_chunk_free(&ch);
		return 1;
	}
	if (ch.usage != NULL)
		llm_call_add_usage(c, ch.usage);
	if (ch.finish_reason != NULL)
		snprintf(c->finish, sizeof(c->finish), "%s", ch.finish_reason);
	if (ch.tool_calls != NULL && llm_call_add_tools(c, ch.tool_calls) < 0) {
		llm_call_set_failed(c, "provider", "malformed tool call");
		openai_chat_chunk_free(&ch);
		return 1;
	}
	if (ch.content != NULL && ch.content_len > 0) {
		if (c->first_token_ms < 0)
			c->first_token_ms =
			    (long)(clock_mono_ms() - c->started_ms);
		llm_call_add_text(c, ch.content, ch.content_len);
		sentence_feed(&c->split, ch.content, ch.content_len);
	}
	openai_chat_chunk_free(&ch);
	return worker_job_is_cancelled(c->job) ? 1 : 0;
}

static void
llm_call_on_chunk(struct httpc_req *r, const void *data, size_t len, void *arg)
{
	struct llm_call *c = arg;

	if (c->ending || c->failed)
		return;
	if (sse_parse_feed(&c->sse, data, len, llm_call_on_event, c) < 0)
		llm_call_set_failed(
		    c, "provider", "malformed stream: an event is too large");
	if (c->failed || worker_job_is_cancelled(c->job)) {
		httpc_cancel(r);
		c->req = NULL;
		llm_call_finish_later(c);
	}
}

/* The number in the n digits at s, or -1 when they are not all digits. */
static int
llm_call_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" and "HH:MM" as a timestamptz in Israel time, or NULL. */
static char *
llm_call_starts_at(const char *date, const char *time_)
{
	int y, mo, d, h, mi;

	if (date == NULL || time_ == NULL || strlen(date) != 10 ||
	    strlen(time_) != 5 || date[4] != '-' || date[7] != '-' ||
	    time_[2] != ':')
		return NULL;
	y = llm_call_digits(date, 4);
	mo = llm_call_digits(date + 5, 2);
	d = llm_call_digits(date + 8, 2);
	h = llm_call_digits(time_, 2);
	mi = llm_call_digits(time_ + 3, 2);
	if (y < 2000 || y > 2100 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h < 0 || h > 23 || mi < 0 || mi > 59)
		return NULL;
	return xasprintf(
	    "%04d-%02d-%02d %02d:%02d:00 Asia/Jerusalem", y, mo, d, h, mi);
}

static void
llm_call_on_store(enum store_write_state st, json_t *reply, void *arg)
{
	(void)reply;
	(void)arg;
	if (st == STORE_WRITE_REJECTED)
		log_warnx("crm-store refused an appointment write");
}

/*
 * book_viewing: write the appointment to crm-store, or hand it to the
 * gateway as an action when this worker cannot. Return the tool result
 * the model hears in a follow-up round.
 */
static json_t *
llm_call_book(struct llm_call *c, size_t idx, json_t *args)
{
	struct worker_job *j = c->job;
	struct log_ctx ctx = llm_job_ctx(j);
	json_t *biz = json_object_get(c->payload, "business_id");
	const char *phone = json_string_value(
	    json_object_get(json_object_get(c->payload, "customer"), "phone"));
	const char *date = json_string_value(json_object_get(args, "date"));
	const char *tm = json_string_value(json_object_get(args, "time"));
	const char *addr = json_string_value(json_object_get(args, "address"));
	const char *notes = json_string_value(json_object_get(args, "notes"));
	const char *said =
	    json_string_value(json_object_get(args, "requested_text"));
	const char *listing =
	    json_string_value(json_object_get(args, "listing"));
	const char *name =
	    json_string_value(json_object_get(args, "customer_name"));
	char *key, *starts, *req, *note;
	json_t *data;
	int rc = -1;

	if (phone == NULL)
		phone = json_string_value(json_object_get(c->payload, "from"));
	key = xasprintf("%s:%u:%zu", j->call_sid[0] ? j->call_sid : "job",
	    j->generation, idx);
	starts = llm_call_starts_at(date, tm);
	if (said != NULL && said[0] != '\0')
		req = xstrdup(said);
	else
		req = xasprintf("%s %s", date ? date : "", tm ? tm : "");
	note = xasprintf("%s%s%s%s%s%s", name ? name : "",
	    name && (listing || notes) ? "; " : "", listing ? listing : "",
	    listing && notes ? "; " : "", notes ? notes : "", "");
	data = json_pack("{s:s, s:s, s:s}", "key", key, "status", "requested",
	    "requested_text", req);
	if (data != NULL) {
		if (biz != NULL)
			json_object_set(data, "business_id", biz);
		if (j->call_sid[0])
			json_object_set_new(
			    data, "call_sid", json_string(j->call_sid));
		if (phone != NULL)
			json_object_set_new(
			    data, "customer_phone", json_string(phone));
		if (starts != NULL)
			json_object_set_new(
			    data, "starts_at", json_string(starts));
		if (addr != NULL)
			json_object_set_new(data, "address", json_string(addr));
		if (note[0] != '\0')
			json_object_set_new(data, "notes", json_string(note));
	}
	if (data != NULL && c->l->store != NULL && biz != NULL &&
	    !json_is_null(biz))
		rc = store_write(c->l->store, "appointment", key, data,
		    llm_call_on_store, NULL);
	if (rc == 0) {
		log_call(LOG_LEVEL_INFO, &ctx,
		    "viewing request %s written to crm-store", key);
		json_array_append_new(c->bookings, json_string(key));
	} else {
		/* No store client or no business: the gateway writes it. */
		json_t *a = json_pack("{s:s, s:O, s:s}", "action",
		    "book_viewing", "arguments", args, "key", key);

		if (a != NULL && data != NULL)
			json_object_set(a, "appointment", data);
		if (a != NULL)
			json_array_append_new(c->actions, a);
		log_call(LOG_LEVEL_INFO, &ctx,
		    "viewing request %s handed to the gateway", key);
	}
	json_decref(data);
	free(note);
	free(req);
	free(starts);
	free(key);
	return json_pack("{s:s, s:s}", "status", "requested", "note",
	    "הבקשה נרשמה; סוכן יאשר אותה בהמשך");
}

/*
 * The round's stream is complete: act on its tool calls. Return true when
 * another round was started (book_viewing without words).
 */
static bool
llm_call_tools(struct llm_call *c)
{
	struct log_ctx ctx = llm_job_ctx(c->job);
	json_t *calls = json_array(), *results = json_array();
	bool again;

	for (size_t i = 0; i < c->ntools; i++) {
		struct llm_tool *t = &c->tools[i];
		json_t *args, *res = NULL;

		if (t->name == NULL)
			continue;
		args = json_loads(t->args ? t->args : "{}", 0, NULL);
		if (!json_is_object(args)) {
			log_call(LOG_LEVEL_WARN, &ctx,
			    "tool call %s with arguments that are not a JSON "
			    "object; taken as {}",
			    t->name);
			json_decref(args);
			args = json_object();
		}
		if (strcmp(t->name, "book_viewing") == 0) {
			res = llm_call_book(c, i, args);
		} else if (strcmp(t->name, "transfer_to_human") == 0 ||
			   strcmp(t->name, "end_call") == 0) {
			json_array_append_new(
			    c->actions, json_pack("{s:s, s:O}", "action",
					    t->name, "arguments", args));
			res = json_pack("{s:s}", "status", "ok");
		} else {
			log_call(LOG_LEVEL_WARN, &ctx,
			    "the model called an unknown tool %s", t->name);
			res = json_pack("{s:s}", "error", "unknown tool");
		}
		json_array_append_new(
		    calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id",
			       t->id ? t->id : "", "type", "function",
			       "function", "name", t->name, "arguments",
			       t->args ? t->args : "{}"));
		json_array_append_new(results,
		    json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
			t->id ? t->id : "", "content", ""));
		if (res != NULL) {
			char *rs = json_dumps(res, JSON_COMPACT);
			json_t *last = json_array_get(
			    results, json_array_size(results) - 1);

			if (rs != NULL)
				json_object_set_new(
				    last, "content", json_string(rs));
			free(rs);
			json_decref(res);
		}
		json_decref(args);
	}
	again = json_array_size(calls) > 0 && c->rounds + 1 < LLM_JOB_ROUNDS;
	if (again) {
		json_t *msgs = json_object_get(c->body, "messages");
		size_t n = c->text_len - c->round_text;
		json_t *am =
		    n > 0 ? json_pack("{s:s, s:s%, s:O}", "role", "assistant",
				"content", c->text + c->round_text, n,
				"tool_calls", calls)
			  : json_pack("{s:s, s:n, s:O}", "role", "assistant",
				"content", "tool_calls", calls);
		size_t i;
		json_t *r;

		json_array_append_new(msgs, am);
		json_array_foreach(results, i, r) {
			json_array_append(msgs, r);
		}
		c->rounds++;
		c->retries = 0;
		c->round_sent = 0;
		c->round_text = c->text_len;
	}
	json_decref(calls);
	json_decref(results);
	llm_call_reset_tools(c);
	return again;
}

/* Send the actions, then LLM_DONE; end the job. */
static void
llm_call_finish(struct llm_call *c)
{
	struct log_ctx ctx = llm_job_ctx(c->job);
	long ms = (long)(clock_mono_ms() - c->started_ms);
	size_t i;
	json_t *a, *o;
	char *js;

	if (c->ending || worker_job_is_cancelled(c->job)) {
		llm_call_end(c);
		return;
	}
	if (c->failed && strcmp(c->error, "quota") == 0)
		llm_job_provider(c->l, c->job, false, true, NULL);
	if (!c->failed && llm_call_tools(c)) {
		llm_call_attempt(c);
		return;
	}
	if (!c->failed) {
		json_array_foreach(c->actions, i, a) {
			json_object_set_new(
			    a, "index", json_integer((json_int_t)c->sent - 1));
			js = json_dumps(a, JSON_COMPACT);
			if (js != NULL)
				(void)worker_job_reply(
				    c->job, MSG_LLM_ACTION, 0, js, NULL, 0);
			free(js);
		}
	}
	o = json_pack("{s:I, s:I, s:I}", "sentences", (json_int_t)c->sent,
	    "llm_ms", (json_int_t)ms, "first_token_ms",
	    (json_int_t)c->first_token_ms);
	if (o == NULL) {
		llm_call_end(c);
		return;
	}
	if (c->has_usage)
		json_object_set_new(o, "usage",
		    json_pack("{s:I, s:I, s:I}", "prompt_tokens",
			(json_int_t)c->prompt_tokens, "completion_tokens",
			(json_int_t)c->completion_tokens, "total_tokens",
			(json_int_t)c->prompt_tokens +
			    (json_int_t)c->completion_tokens));
	else
		json_object_set_new(o, "usage", json_null());
	if (c->failed) {
		json_object_set_new(o, "error", json_string(c->error));
		json_object_set_new(o, "message", json_string(c->message));
		json_object_set_new(
		    o, "attempts", json_integer(c->retries + 1));
		log_call(LOG_LEVEL_WARN, &ctx,
		    "reply failed (%s) after %d attempt(s) in %ld ms, %lu "
		    "sentence(s) sent: %s",
		    c->error, c->retries + 1, ms, c->sent, c->message);
	} else {
		json_object_set_new(o, "finish_reason",
		    c->finish[0] ? json_string(c->finish) : json_null());
		json_object_set_new(o, "text",
		    json_stringn(c->text ? c->text : "", c->text_len));
		json_object_set(o, "bookings", c->bookings);
		log_call(LOG_LEVEL_INFO, &ctx,
		    "replied in %lu sentence(s): first token %ld ms, done %ld "
		    "ms",
		    c->sent, c->first_token_ms, ms);
	}
	js = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (js != NULL)
		(void)worker_job_reply(c->job, MSG_LLM_DONE,
		    MSG_F_FINAL | (c->failed ? MSG_F_ERROR : 0), js, NULL, 0);
	free(js);
	llm_call_end(c);
}

static void
llm_call_done(struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct llm_call *c = arg;
	struct log_ctx ctx = llm_job_ctx(c->job);
	struct openai_error e;
	const char *xs;
	char msg[400];
	long wait, left;

	c->req = NULL;
	if (c->ending || worker_job_is_cancelled(c->job)) {
		llm_call_end(c);
		return;
	}
	if (res->status == HTTPC_OK && res->code == 200 && !c->failed) {
		if (sse_parse_finish(&c->sse, llm_call_on_event, c) < 0)
			llm_call_set_failed(c, "provider", "malformed stream");
		if (!c->failed && !c->got_done && c->finish[0] == '\0')
			llm_call_set_failed(
			    c, "provider", "the stream ended before [DONE]");
		if (!c->failed) {
			sentence_finish(&c->split);
			llm_job_provider(c->l, c->job, true, false, NULL);
			llm_call_finish(c);
			return;
		}
	}
	if (c->failed) {
		/* A malformed or cut stream is not retried. */
		llm_call_finish(c);
		return;
	}
	(void)openai_error_parse(
	    res->status == HTTPC_OK ? res->body : NULL, res->body_len, &e);
	if (res->status == HTTPC_OK)
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s", res->code,
		    e.message[0] ? ": " : "", e.message);
	else
		snprintf(msg, sizeof(msg), "%s: %s",
		    httpc_status_name(res->status), res->error);
	if (res->status == HTTPC_OK && res->code == 429 &&
	    openai_error_is_quota(&e)) {
		llm_call_set_failed(c, "quota", msg);
		llm_call_finish(c);
		return;
	}
	wait = openai_retry_ms(res->status, res->code, res->retry_after_ms, &e,
	    c->retries, llm_job_jitter());
	xs = res->status == HTTPC_OK ? httpc_header(r, "x-should-retry") : NULL;
	if (xs != NULL && strcmp(xs, "false") == 0)
		wait = -1;
	left = llm_job_remaining(c->l, c->job) - LLM_JOB_REPLY_MARGIN_MS;
	if (wait >= 0 && c->round_sent == 0 && c->retries < c->l->retries &&
	    wait + LLM_JOB_MIN_TRY_MS <= left) {
		struct timeval tv = {
		    wait / 1000, (suseconds_t)(wait % 1000) * 1000};

		c->retries++;
		log_call(LOG_LEVEL_WARN, &ctx,
		    "chat try %d failed (%s); retrying in %ld ms", c->retries,
		    msg, wait);
		evtimer_add(c->ev, &tv);
		return;
	}
	if (res->status != HTTPC_OK || res->code >= 500)
		llm_job_provider(c->l, c->job, false, false,
		    res->status != HTTPC_OK ? httpc_status_name(res->status)
					    : msg);
	if (!c->failed)
		llm_call_set_failed(
		    c, openai_error_kind(res->status, res->code, &e), msg);
	llm_call_finish(c);
}

/* Start a try of the current round, or fail when no budget is left. */
static void
llm_call_attempt(struct llm_call *c)
{
	long left = llm_job_remaining(c->l, c->job) - LLM_JOB_REPLY_MARGIN_MS;
	long budget = left < c->l->timeout_ms ? left : c->l->timeout_ms;

	if (left < LLM_JOB_MIN_TRY_MS) {
		llm_call_set_failed(
		    c, "timeout", "the job's time budget ran out");
		llm_call_finish(c);
		return;
	}
	sse_parse_free(&c->sse);
	sse_parse_init(&c->sse, 0);
	llm_call_reset_tools(c);
	c->got_done = false;
	c->finish[0] = '\0';
	c->req = openai_chat_request(c->l, c->body, budget);
	if (c->req == NULL) {
		llm_call_set_failed(c, "provider", "cannot encode the request");
		llm_call_finish(c);
		return;
	}
	httpc_req_on_chunk(c->req, llm_call_on_chunk);
	httpc_start(c->req, llm_call_done, c);
}

/* The LLM_JOB handler (arg: struct llm). */
void
llm_job_on_call(struct nnsock *sock, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct llm *l = arg;
	struct llm_prompt_opts po;
	struct worker_job *j;
	struct llm_call *c;
	char today[64];
	const char *t;

	(void)sock;
	(void)rx;
	if ((j = worker_job_begin(l->w, m)) == NULL)
		return;
	c = xcalloc(1, sizeof(*c));
	c->l = l;
	c->job = j;
	j->data = c;
	c->payload = json_incref(payload);
	c->started_ms = clock_mono_ms();
	c->first_token_ms = -1;
	c->actions = json_array();
	c->bookings = json_array();
	c->ev = evtimer_new(l->d->base, llm_call_ev_cb, c);
	sse_parse_init(&c->sse, 0);
	sentence_init(&c->split, (size_t)l->long_chars, llm_call_emit, c);
	if ((t = json_string_value(json_object_get(payload, "today"))) != NULL)
		snprintf(today, sizeof(today), "%s", t);
	else
		llm_job_today(today, sizeof(today));
	memset(&po, 0, sizeof(po));
	po.model = l->model;
	po.max_tokens = l->max_tokens;
	po.today = today;
	po.stream = true;
	c->body = llm_prompt_call(payload, &po);
	if (c->body == NULL) {
		llm_call_set_failed(c, "provider", "cannot build the request");
		llm_call_finish(c);
		return;
	}
	llm_call_attempt(c);
}

/* ------------------------------------------------------------------ */
/* Non-streamed requests (TEXT_JOB, ANALYSIS_JOB)                       */

static void llm_oneshot_attempt(struct llm_oneshot *o);

static void
llm_oneshot_free(struct llm_oneshot *o)
{
	if (o == NULL)
		return;
	if (o->req != NULL)
		httpc_cancel(o->req);
	if (o->ev != NULL)
		event_free(o->ev);
	json_decref(o->body);
	json_decref(o->payload);
	free(o);
}

static void
llm_oneshot_end(struct llm_oneshot *o)
{
	struct worker_job *j = o->job;

	j->data = NULL;
	llm_oneshot_free(o);
	worker_job_end(j);
}

/* The time since the job arrived, in ms. */
long
llm_job_oneshot_ms(const struct llm_oneshot *o)
{
	return (long)(clock_mono_ms() - o->started_ms);
}

/* Send result (taken; FINAL) and end the job. */
void
llm_job_oneshot_reply(struct llm_oneshot *o, json_t *result)
{
	char *js = result ? json_dumps(result, JSON_COMPACT) : NULL;

	if (js != NULL)
		(void)worker_job_reply(
		    o->job, o->result_type, MSG_F_FINAL, js, NULL, 0);
	free(js);
	json_decref(result);
	llm_oneshot_end(o);
}

/* Send the error result (FINAL|ERROR) and end the job. */
void
llm_job_oneshot_fail(
    struct llm_oneshot *o, const char *error, const char *message)
{
	struct log_ctx ctx = llm_job_ctx(o->job);
	long ms = llm_job_oneshot_ms(o);
	json_t *r = json_pack("{s:s, s:s, s:I, s:i}", "error", error, "message",
	    message, "llm_ms", (json_int_t)ms, "attempts", o->retries + 1);
	char *js = r ? json_dumps(r, JSON_COMPACT) : NULL;

	log_call(LOG_LEVEL_WARN, &ctx,
	    "%s failed (%s) after %d attempt(s) in %ld ms: %s",
	    msg_type_name(o->job->type), error, o->retries + 1, ms, message);
	if (js != NULL)
		(void)worker_job_reply(o->job, o->result_type,
		    MSG_F_FINAL | MSG_F_ERROR, js, NULL, 0);
	free(js);
	json_decref(r);
	llm_oneshot_end(o);
}

static void
llm_oneshot_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct llm_oneshot *o = arg;

	(void)fd;
	(void)what;
	if (o->ending || worker_job_is_cancelled(o->job)) {
		llm_oneshot_end(o);
		return;
	}
	llm_oneshot_attempt(o);
}

static void
llm_oneshot_done(struct httpc_req *r, const struct httpc_result *res, void *arg)
{
	struct llm_oneshot *o = arg;
	struct log_ctx ctx = llm_job_ctx(o->job);
	struct openai_error e;
	const char *xs;
	char msg[400];
	long wait, left;

	o->req = NULL;
	if (o->ending || worker_job_is_cancelled(o->job)) {
		llm_oneshot_end(o);
		return;
	}
	if (res->status == HTTPC_OK && res->code == 200) {
		llm_job_provider(o->l, o->job, true, false, NULL);
		o->on_reply(o, res->body, res->body_len);
		return;
	}
	(void)openai_error_parse(
	    res->status == HTTPC_OK ? res->body : NULL, res->body_len, &e);
	if (res->status == HTTPC_OK)
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s", res->code,
		    e.message[0] ? ": " : "", e.message);
	else
		snprintf(msg, sizeof(msg), "%s: %s",
		    httpc_status_name(res->status), res->error);
	if (res->status == HTTPC_OK && res->code == 429 &&
	    openai_error_is_quota(&e)) {
		llm_job_provider(o->l, o->job, false, true, NULL);
		llm_job_oneshot_fail(o, "quota", msg);
		return;
	}
	wait = openai_retry_ms(res->status, res->code, res->retry_after_ms, &e,
	    o->retries, llm_job_jitter());
	xs = res->status == HTTPC_OK ? httpc_header(r, "x-should-retry") : NULL;
	if (xs != NULL && strcmp(xs, "false") == 0)
		wait = -1;
	left = llm_job_remaining(o->l, o->job) - LLM_JOB_REPLY_MARGIN_MS;
	if (wait >= 0 && o->retries < o->l->retries &&
	    wait + LLM_JOB_MIN_TRY_MS <= left) {
		struct timeval tv = {
		    wait / 1000, (suseconds_t)(wait % 1000) * 1000};

		o->retries++;
		log_call(LOG_LEVEL_WARN, &ctx,
		    "chat try %d failed (%s); retrying in %ld ms", o->retries,
		    msg, wait);
		evtimer_add(o->ev, &tv);
		return;
	}
	if (res->status != HTTPC_OK || res->code >= 500)
		llm_job_provider(o->l, o->job, false, false,
		    res->status != HTTPC_OK ? httpc_status_name(res->status)
					    : msg);
	llm_job_oneshot_fail(
	    o, openai_error_kind(res->status, res->code, &e), msg);
}

static void
llm_oneshot_attempt(struct llm_oneshot *o)
{
	long left = llm_job_remaining(o->l, o->job) - LLM_JOB_REPLY_MARGIN_MS;
	long budget = left < o->l->timeout_ms ? left : o->l->timeout_ms;

	if (left < LLM_JOB_MIN_TRY_MS) {
		llm_job_oneshot_fail(
		    o, "timeout", "the job's time budget ran out");
		return;
	}
	o->req = openai_chat_request(o->l, o->body, budget);
	if (o->req == NULL) {
		llm_job_oneshot_fail(
		    o, "provider", "cannot encode the request");
		return;
	}
	httpc_start(o->req, llm_oneshot_done, o);
}

/*
 * Begin the job m as a non-streamed request whose result (and error) is
 * of result_type. Return NULL when worker_job_begin dropped it.
 */
struct llm_oneshot *
llm_job_oneshot_new(struct llm *l, const struct msg *m, json_t *payload,
    enum msg_type result_type)
{
	struct worker_job *j = worker_job_begin(l->w, m);
	struct llm_oneshot *o;

	if (j == NULL)
		return NULL;
	o = xcalloc(1, sizeof(*o));
	o->l = l;
	o->job = j;
	j->data = o;
	o->payload = json_incref(payload);
	o->result_type = result_type;
	o->started_ms = clock_mono_ms();
	o->ev = evtimer_new(l->d->base, llm_oneshot_ev_cb, o);
	return o;
}

/* Send the request body (taken; NULL fails the job); on_reply hears 200. */
void
llm_job_oneshot_start(struct llm_oneshot *o, json_t *body,
    void (*on_reply)(struct llm_oneshot *o, const char *body, size_t len))
{
	o->body = body;
	o->on_reply = on_reply;
	if (body == NULL) {
		llm_job_oneshot_fail(o, "provider", "cannot build the request");
		return;
	}
	llm_oneshot_attempt(o);
}

/* TEXT_JOB's answer: the message text. */
static void
llm_text_on_reply(struct llm_oneshot *o, const char *body, size_t len)
{
	struct openai_chat_reply r;
	const char *sid;
	json_t *res;

	if (openai_chat_parse_reply(body, len, &r) < 0 || r.content == NULL ||
	    r.content[0] == '\0') {
		openai_chat_reply_free(&r);
		llm_job_oneshot_fail(
		    o, "provider", "the reply is not the expected JSON");
		return;
	}
	sid = json_string_value(json_object_get(o->payload, "message_sid"));
	res = json_pack("{s:s, s:s, s:I}", "body", r.content, "message_sid",
	    sid ? sid : "", "llm_ms", (json_int_t)llm_job_oneshot_ms(o));
	if (res != NULL && r.usage != NULL)
		json_object_set(res, "usage", r.usage);
	openai_chat_reply_free(&r);
	llm_job_oneshot_reply(o, res);
}

/* The TEXT_JOB handler (arg: struct llm). */
void
llm_job_on_text(struct nnsock *sock, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct llm *l = arg;
	struct llm_prompt_opts po;
	struct llm_oneshot *o;
	char today[64];

	(void)sock;
	(void)rx;
	if ((o = llm_job_oneshot_new(l, m, payload, MSG_TEXT_REPLY)) == NULL)
		return;
	llm_job_today(today, sizeof(today));
	memset(&po, 0, sizeof(po));
	po.model = l->model;
	po.max_tokens = l->max_tokens;
	po.today = today;
	llm_job_oneshot_start(
	    o, llm_prompt_text(payload, &po), llm_text_on_reply);
}

/* ------------------------------------------------------------------ */
/* Cancels and shutdown                                                 */

/* A cancel hit job: stop its request; end it from the loop (R8). */
void
llm_job_on_cancel(struct worker_job *job, void *arg)
{
	struct timeval now = {0, 0};

	(void)arg;
	if (job->data == NULL)
		return;
	if (job->type == MSG_LLM_JOB) {
		struct llm_call *c = job->data;

		if (c->ending)
			return;
		if (c->req != NULL)
			httpc_cancel(c->req);
		c->req = NULL;
		c->ending = true;
		evtimer_del(c->ev);
		evtimer_add(c->ev, &now);
	} else {
		struct llm_oneshot *o = job->data;

		if (o->ending)
			return;
		if (o->req != NULL)
			httpc_cancel(o->req);
		o->req = NULL;
		o->ending = true;
		evtimer_del(o->ev);
		evtimer_add(o->ev, &now);
	}
}

/* At shutdown: free the state of every job still in flight. */
void
llm_job_free_all(struct llm *l)
{
	struct worker_job *j;

	if (l->w == NULL)
		return;
	for (j = TAILQ_FIRST(&l->w->inflight); j != NULL;
	     j = TAILQ_NEXT(j, entry)) {
		void *data = j->data;

		j->data = NULL;
		if (j->type == MSG_LLM_JOB)
			llm_call_free(data);
		else
			llm_oneshot_free(data);
	}
}
