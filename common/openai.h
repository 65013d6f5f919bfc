/*
 * What both OpenAI clients (stt-worker's transcription, llm-worker's chat)
 * share: the error document, the quota test and the retry policy.
 *
 * Why one place: ai-apis.md §1.5 gives one policy for every OpenAI call —
 * retry 408, 409, 429 and 5xx and network failures with exponential
 * backoff (or the server's Retry-After), never retry insufficient_quota
 * (a 429 that only a human can fix) nor another 4xx. Two copies would
 * drift apart. Pure functions: unit-tested and fuzzed.
 */
#ifndef MERKAZIA_OPENAI_H
#define MERKAZIA_OPENAI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "httpc.h"

#define OPENAI_BACKOFF_FIRST_MS	  500.0
#define OPENAI_BACKOFF_MAX_MS	  8000.0
#define OPENAI_RETRY_AFTER_MAX_MS 120000L

/* OpenAI's {"error": {message, type, param, code}}; "" when absent. */
struct openai_error {
	char code[64];
	char type[64];
	char message[256];
};

/* openai.c */
void openai_error_fill(const json_t *err, struct openai_error *e);
int openai_error_parse(const char *body, size_t len, struct openai_error *e);
bool openai_error_is_quota(const struct openai_error *e);
long openai_retry_ms(enum httpc_status st, long code, long retry_after_ms,
    const struct openai_error *e, int retry, double jitter);
const char *openai_error_kind(
    enum httpc_status st, long code, const struct openai_error *e);

#endif
