/*
 * libFuzzer target for llm-worker/sse_parse.c and the chunk parser of
 * llm-worker/openai_chat.c: the path every byte of a streamed chat reply
 * takes.
 *
 * Why: the provider's stream (or a stand-in, or an OpenAI-compatible
 * server) can send anything in any pieces. The first input byte chooses
 * the piece size, the rest is the stream; every event's data goes through
 * openai_chat_parse_chunk as job.c does. ASan/UBSan find overreads, leaks
 * and overflows; the parser's limit is lowered so the limit path runs.
 * Uses the given length only. Replayed by tests/fuzz/replay.c over
 * tests/fuzz/corpus/llm_sse/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../llm-worker/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_llm_sse_event(
    enum sse_parse_kind kind, const char *data, size_t len, void *arg)
{
	struct openai_chat_chunk ch;
	size_t *n = arg;

	(*n)++;
	if (kind == SSE_PARSE_DATA &&
	    openai_chat_parse_chunk(data, len, &ch) == 0)
		openai_chat_chunk_free(&ch);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser p;
	size_t step, off = 1, events = 0;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	sse_parse_init(&p, 4096);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		if (sse_parse_feed(
			&p, data + off, n, fuzz_llm_sse_event, &events) < 0)
			break;
		off += n;
	}
	(void)sse_parse_finish(&p, fuzz_llm_sse_event, &events);
	sse_parse_free(&p);
	return 0;
}
