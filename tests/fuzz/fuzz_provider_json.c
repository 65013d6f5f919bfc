/*
 * libFuzzer target for the provider JSON parsers: the chat reply, chunk
 * and error parsers of llm-worker/openai_chat.c, the analysis validator
 * of llm-worker/analysis.c, and the transcription answer and error
 * parsers of stt-worker/openai_stt.c.
 *
 * Why: whatever answers at OPENAI_BASE_URL (OpenAI, a compatible server,
 * a stand-in, a proxy's error page) is parsed by these functions before
 * anything else looks at it. The stt-worker's parser lives in another
 * daemon's archive, so its file is compiled into this target directly
 * (the prefixes openai_stt_* and openai_chat_* never clash). Uses the given
 * length only. Replayed over tests/fuzz/corpus/provider_json/.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../llm-worker/llm.h"

#include "../../stt-worker/openai_stt.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct openai_chat_chunk ch;
	struct openai_chat_reply r;
	struct openai_error e;
	struct openai_stt_result tr;
	struct openai_error se;
	char why[128];
	json_t *j;

	if (openai_chat_parse_chunk(s, size, &ch) == 0)
		openai_chat_chunk_free(&ch);
	if (openai_chat_parse_reply(s, size, &r) == 0) {
		if (r.content != NULL) {
			j = json_loads(r.content, 0, NULL);
			json_decref(llm_analysis_validate(j, why, sizeof(why)));
			json_decref(j);
		}
		openai_chat_reply_free(&r);
	}
	(void)openai_error_parse(s, size, &e);
	(void)openai_error_is_quota(&e);
	j = json_loadb(s, size, 0, NULL);
	json_decref(llm_analysis_validate(j, why, sizeof(why)));
	json_decref(j);
	if (openai_stt_parse(s, size, &tr) == 0)
		openai_stt_result_free(&tr);
	(void)openai_error_parse(s, size, &se);
	return 0;
}
