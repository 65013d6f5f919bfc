/*
 * libFuzzer target for llm-worker/sentence.c, the Hebrew sentence
 * splitter.
 *
 * Why: it runs on every piece of text the model streams, and the model
 * (or a broken stream) can produce anything: invalid UTF-8, NUL bytes,
 * endless text without a mark, thousands of dots. The first input byte
 * chooses the piece size and the long-clause limit; the rest is the text.
 * Checks, beyond ASan/UBSan: every emitted sentence is non-empty, has no
 * leading or trailing space, and, when the input was cut only at ASCII
 * bytes, the sentences together hold every non-space byte of the input.
 * Uses the given length only. Replayed over tests/fuzz/corpus/sentence/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../llm-worker/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_sentence_acc {
	size_t nonspace;
};

static void
fuzz_sentence_emit(const char *text, size_t len, void *arg)
{
	struct fuzz_sentence_acc *acc = arg;

	if (len == 0 || text[0] == ' ' || text[len - 1] == ' ')
		abort();
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' &&
		    text[i] != '\r' && text[i] != '\f' && text[i] != '\v')
			acc->nonspace++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sentence_splitter s;
	struct fuzz_sentence_acc acc = {0};
	size_t step, off = 1, nonspace = 0;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 13) + 1;
	sentence_init(
	    &s, (size_t)(data[0] % 100) + 20, fuzz_sentence_emit, &acc);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		sentence_feed(&s, (const char *)data + off, n);
		off += n;
	}
	sentence_finish(&s);
	sentence_free(&s);
	for (size_t i = 1; i < size; i++)
		if (data[i] != ' ' && data[i] != '\n' && data[i] != '\t' &&
		    data[i] != '\r' && data[i] != '\f' && data[i] != '\v')
			nonspace++;
	/* NBSP (C2 A0) is trimmed as space: count only when absent. */
	if (memmem(data, size, "\xc2\xa0", 2) == NULL &&
	    acc.nonspace != nonspace)
		abort();
	return 0;
}
