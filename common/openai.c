/*
 * The OpenAI error document, quota test and retry policy shared by the
 * stt-worker and the llm-worker (see openai.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "openai.h"

/* Fill *e from an "error" object (code may be a string or a number). */
void
openai_error_fill(const json_t *err, struct openai_error *e)
{
	const char *s;
	json_t *code = json_object_get(err, "code");

	memset(e, 0, sizeof(*e));
	if ((s = json_string_value(code)) != NULL)
		snprintf(e->code, sizeof(e->code), "%s", s);
	else if (json_is_integer(code))
		snprintf(e->code, sizeof(e->code), "%lld",
		    (long long)json_integer_value(code));
	if ((s = json_string_value(json_object_get(err, "type"))) != NULL)
		snprintf(e->type, sizeof(e->type), "%s", s);
	if ((s = json_string_value(json_object_get(err, "message"))) != NULL)
		snprintf(e->message, sizeof(e->message), "%s", s);
}

/*
 * Parse an error document {"error": {...}} into *e (truncated strings, ""
 * when absent). Return 0, or -1 when body is not one (e is then all "").
 */
int
openai_error_parse(const char *body, size_t len, struct openai_error *e)
{
	json_t *root, *err;

	memset(e, 0, sizeof(*e));
	if (body == NULL)
		return -1;
	root = json_loadb(body, len, 0, NULL);
	err = json_object_get(root, "error");
	if (!json_is_object(err)) {
		json_decref(root);
		return -1;
	}
	openai_error_fill(err, e);
	json_decref(root);
	return 0;
}

/* Whether the error is the account's quota (never retried). */
bool
openai_error_is_quota(const struct openai_error *e)
{
	return e != NULL && (strcmp(e->code, "insufficient_quota") == 0 ||
				strcmp(e->type, "insufficient_quota") == 0);
}

/*
 * How long to wait before retry number retry (0 for the first) of a
 * request that ended with st and HTTP code (e: its error document, may be
 * NULL); jitter in [0, 1). Return the wait in ms, or -1 when the failure
 * must not be retried.
 */
long
openai_retry_ms(enum httpc_status st, long code, long retry_after_ms,
    const struct openai_error *e, int retry, double jitter)
{
	double backoff =
	    OPENAI_BACKOFF_FIRST_MS * pow(2.0, retry > 10 ? 10 : retry);

	if (backoff > OPENAI_BACKOFF_MAX_MS)
		backoff = OPENAI_BACKOFF_MAX_MS;
	backoff *= 1.0 - 0.25 * jitter;
	if (st == HTTPC_ERR_INVALID || st == HTTPC_ERR_TOO_LARGE)
		return -1;
	if (st != HTTPC_OK)
		return (long)backoff;
	if (code == 429 && openai_error_is_quota(e))
		return -1;
	if (code != 408 && code != 409 && code != 429 && code < 500)
		return -1;
	if (retry_after_ms > 0 && retry_after_ms <= OPENAI_RETRY_AFTER_MAX_MS)
		return retry_after_ms;
	return (long)backoff;
}

/* The error kind a worker's result carries for a failed request. */
const char *
openai_error_kind(enum httpc_status st, long code, const struct openai_error *e)
{
	if (st == HTTPC_ERR_TIMEOUT)
		return "timeout";
	if (st == HTTPC_OK && code == 429 && openai_error_is_quota(e))
		return "quota";
	if (st == HTTPC_OK && code == 429)
		return "rate_limit";
	return "provider";
}
