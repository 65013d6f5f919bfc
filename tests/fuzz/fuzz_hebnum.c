/*
 * libFuzzer target for common/hebnum.c.
 *
 * Why: hebnum_normalize() runs on every sentence the LLM writes before it
 * is spoken, and the LLM can write anything (invalid UTF-8, endless digit
 * strings, half a phone number). This target feeds it arbitrary bytes so
 * ASan/UBSan find any out-of-bounds read, overflow or leak.
 *
 * The input is copied into a NUL-terminated buffer of the given size; the
 * fuzzer's data is never read past size (no strlen on it). The same file
 * links with tests/fuzz/replay.c to replay tests/fuzz/corpus/hebnum/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hebnum.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *out;

	text = xmalloc(size + 1);
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';
	out = hebnum_normalize(text);
	free(out);
	out = hebnum_normalize_len(text, size);
	free(out);
	free(text);
	return 0;
}
