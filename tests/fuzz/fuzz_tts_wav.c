/*
 * libFuzzer target for tts-worker/google_tts.c's pure parsers.
 *
 * Why: the WAV inside Google's audioContent is walked chunk by chunk with
 * sizes read from the network (a wrong size would read past the buffer or
 * loop), and long text is cut for Google at byte offsets (a wrong cut
 * would split a UTF-8 sequence or read past the end). The input is given
 * to google_tts_wav_mulaw() as a WAV file, then to google_tts_split_len()
 * as text, cut into pieces of at most 4 + (first byte) bytes until it is
 * used up. The fuzzer's data is never read past size (no strlen on it).
 * The same file links with tests/fuzz/replay.c to replay
 * tests/fuzz/corpus/tts_wav/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tts-worker/tts.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct google_tts_wav w;
	uint8_t *mu = NULL, *copy;
	size_t n = 0, max, off = 0;
	const char *why = NULL;

	copy = xmalloc(size > 0 ? size : 1);
	if (size > 0)
		memcpy(copy, data, size);
	if (google_tts_wav_parse(copy, size, &w) == 0 &&
	    (w.data < copy || w.data + w.data_len > copy + size))
		abort();
	if (google_tts_wav_mulaw(copy, size, &mu, &n, &why) == 0)
		free(mu);
	max = 4 + (size > 0 ? copy[0] : 0);
	while (off < size) {
		size_t k = google_tts_split_len(
		    (const char *)copy + off, size - off, max);

		if (k == 0 || k > max || k > size - off)
			abort();
		off += k;
	}
	free(copy);
	return 0;
}
