/*
 * Fuzz target: voice activity and end of turn (gateway/vad.c) over
 * arbitrary bytes taken as mu-law. The first two bytes pick the parameters
 * (short turns and hangovers, so cuts and ends happen in small inputs) and
 * seed the chunking; the rest is fed in random chunks of 0..400 bytes,
 * then drained with vad_feed(v, NULL, 0). Checked: events alternate
 * (START, END, START, ...); vad_in_speech is true exactly between them;
 * an utterance exists only right after an END, in whole frames, no longer
 * than pre-roll plus max_utterance_ms, and the bytes fed are never
 * outnumbered by the bytes of the utterances; nothing stays pending but a
 * partial frame.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_event(struct vad *v, enum vad_event e, const struct vad_params *p,
    int *open, size_t *utt_total)
{
	size_t len;
	const uint8_t *u = vad_utterance(v, &len);

	if (vad_speech_ms(v) < 0)
		abort();
	switch (e) {
	case VAD_NONE:
		if (u != NULL || len != 0 || vad_in_speech(v) != (*open != 0))
			abort();
		break;
	case VAD_SPEECH_START:
		if (*open || !vad_in_speech(v) || u != NULL ||
		    vad_speech_ms(v) < p->min_speech_ms)
			abort();
		*open = 1;
		break;
	case VAD_UTTERANCE_END:
		if (!*open || vad_in_speech(v) || vad_speech_ms(v) != 0 ||
		    u == NULL || len == 0 || len % VAD_FRAME_BYTES != 0 ||
		    len > (size_t)(p->preroll_ms + p->max_utterance_ms) * 8)
			abort();
		*open = 0;
		*utt_total += len;
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vad_params p;
	struct vad *v;
	uint32_t rng;
	size_t off = 2, utt_total = 0;
	int open = 0;
	enum vad_event e;

	if (size < 2)
		return 0;
	vad_params_default(&p);
	p.hangover_ms = 20 * (1 + (data[0] & 0x0f));
	p.hangover_long_ms = p.hangover_ms * (1 + (data[0] >> 6));
	p.min_speech_ms = 20 * (data[1] & 0x07);
	p.max_utterance_ms = 400 + 200 * ((data[1] >> 3) & 0x07);
	p.preroll_ms = 20 * ((data[0] >> 4) & 0x03);
	p.mode = data[1] >> 6;
	v = vad_new(&p);
	if ((data[1] & 0x20) && vad_set_detector(v, VAD_DETECT_ENERGY) != 0)
		abort();
	rng = (uint32_t)data[0] << 8 | data[1];
	while (off < size) {
		size_t k;

		rng = rng * 1103515245u + 12345u;
		k = (rng >> 16) % 401;
		if (k > size - off)
			k = size - off;
		e = vad_feed(v, data + off, k);
		off += k;
		check_event(v, e, &p, &open, &utt_total);
	}
	while (vad_pending(v) >= VAD_FRAME_BYTES) {
		e = vad_feed(v, NULL, 0);
		check_event(v, e, &p, &open, &utt_total);
	}
	if (utt_total > size - 2)
		abort();
	vad_free(v);
	return 0;
}
