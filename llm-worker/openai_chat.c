/*
 * The OpenAI Chat Completions wire format: POST {OPENAI_BASE_URL}/chat/
 * completions over httpc, and the parsers of what comes back.
 *
 * Why one file: the request headers, the stream's chunk object
 * (chat.completion.chunk: choices[0].delta.content, delta.tool_calls
 * pieces, finish_reason, the usage chunk with empty choices), the
 * non-streamed reply and the error document {"error": {message, type,
 * param, code}} are the provider's contract (reference/ai-apis.md §3);
 * when it changes, this file changes. The parsers are pure (bytes in,
 * structs out, R15) and fuzzed (tests/fuzz/fuzz_provider_json.c).
 *
 * Retries follow §1.5 (the official SDK's policy): connection errors,
 * 408, 409, 429 and 5xx; never insufficient_quota; Retry-After honoured
 * when 0 < it <= 120 s, else min(0.5 s * 2^n, 8 s) * (1 - 0.25 * jitter).
 *
 * The Bearer key travels only in the Authorization header; httpc never
 * logs headers or bodies.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "xmalloc.h"

#define OPENAI_CHAT_CONNECT_MS 2000L

/*
 * Parse the data of one stream event (a chat.completion.chunk) into *out;
 * its pointers borrow from out->root, freed by openai_chat_chunk_free.
 * Return 0, or -1 when data is not a JSON object (out is then empty).
 */
int
openai_chat_parse_chunk(
    const char *data, size_t len, struct openai_chat_chunk *out)
{
	json_t *choices, *c0, *delta, *v;

	memset(out, 0, sizeof(*out));
	out->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(out->root)) {
		json_decref(out->root);
		out->root = NULL;
		return -1;
	}
	if (json_is_object(v = json_object_get(out->root, "error"))) {
		out->is_error = true;
		openai_error_fill(v, &out->error);
		return 0;
	}
	if (json_is_object(v = json_object_get(out->root, "usage")))
		out->usage = v;
	choices = json_object_get(out->root, "choices");
	c0 = json_array_get(choices, 0);
	if (!json_is_object(c0))
		return 0;
	out->finish_reason =
	    json_string_value(json_object_get(c0, "finish_reason"));
	delta = json_object_get(c0, "delta");
	if (!json_is_object(delta))
		return 0;
	v = json_object_get(delta, "content");
	if (json_is_string(v)) {
		out->content = json_string_value(v);
		out->content_len = json_string_length(v);
	}
	v = json_object_get(delta, "tool_calls");
	if (json_is_array(v))
		out->tool_calls = v;
	return 0;
}

void
openai_chat_chunk_free(struct openai_chat_chunk *c)
{
	if (c == NULL)
		return;
	json_decref(c->root);
	memset(c, 0, sizeof(*c));
}

/*
 * Parse a non-streamed reply (chat.completion) into *out; pointers
 * borrow from out->root (openai_chat_reply_free). Return 0, or -1 when it
 * is not a JSON object with choices[0].message.
 */
int
openai_chat_parse_reply(
    const char *body, size_t len, struct openai_chat_reply *out)
{
	json_t *c0, *msg, *v;

	memset(out, 0, sizeof(*out));
	out->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	c0 = json_array_get(json_object_get(out->root, "choices"), 0);
	msg = json_object_get(c0, "message");
	if (!json_is_object(out->root) || !json_is_object(msg)) {
		json_decref(out->root);
		out->root = NULL;
		return -1;
	}
	out->content = json_string_value(json_object_get(msg, "content"));
	out->finish_reason =
	    json_string_value(json_object_get(c0, "finish_reason"));
	if (json_is_array(v = json_object_get(msg, "tool_calls")))
		out->tool_calls = v;
	if (json_is_object(v = json_object_get(out->root, "usage")))
		out->usage = v;
	return 0;
}

void
openai_chat_reply_free(struct openai_chat_reply *r)
{
	if (r == NULL)
		return;
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
}

/*
 * Build (not start) a chat request with the JSON body (dumped here) and
 * budget_ms. Return the request, or NULL when body cannot be encoded.
 */
struct httpc_req *
openai_chat_request(struct llm *l, const json_t *body, long budget_ms)
{
	size_t blen = strlen(l->base_url);
	char *url, *auth, *js;
	struct httpc_req *r;

	js = json_dumps(body, JSON_COMPACT);
	if (js == NULL)
		return NULL;
	while (blen > 0 && l->base_url[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s/chat/completions", (int)blen, l->base_url);
	auth = xasprintf("Bearer %s", l->api_key);
	r = httpc_req_new(l->http, "POST", url, budget_ms);
	httpc_req_connect_timeout(r, OPENAI_CHAT_CONNECT_MS);
	httpc_req_header(r, "Authorization", auth);
	httpc_req_header(r, "Content-Type", "application/json");
	httpc_req_body_take(r, js, strlen(js));
	free(auth);
	free(url);
	return r;
}
