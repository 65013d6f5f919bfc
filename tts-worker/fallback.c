/*
 * The offline voice: espeak-ng Hebrew at 8 kHz mu-law, for when Google
 * cannot answer within the job's budget (down, refusing, too slow, or the
 * budget nearly spent before we started).
 *
 * Why: a caller who hears a robotic sentence is better off than one who
 * hears silence (shared/design.md: "fallback phrases, offline voice").
 * espeak-ng reads digits poorly, so the text is run through
 * hebnum_normalize() first; job.c already passes normalised text, and a
 * second pass finds no digits left, so calling it again is harmless and
 * keeps this function safe for any caller.
 *
 * Limits: espeak-ng renders synchronously on the loop (tens of ms for a
 * sentence); job.c keeps MERKAZIA_TTS_FALLBACK_MS of each job's budget for
 * it. common/audio.c refuses more than AUDIO_ESPEAK_MAX_SECONDS of speech
 * at once, so a long text is spoken in pieces of TTS_FALLBACK_PIECE bytes
 * (cut like Google's pieces, google_tts_split_len) and the audio joined.
 * The speaking rate maps to words per minute around espeak's default.
 */
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "hebnum.h"
#include "tts.h"
#include "xmalloc.h"

/* Hebrew is 2 bytes a letter: about 100 words, 75 s at the slowest rate. */
#define TTS_FALLBACK_PIECE 1000

/*
 * Speak text in Hebrew with espeak-ng at speaking rate rate (1.0 normal)
 * and store new 8 kHz mu-law bytes in *mulaw and their count in *n.
 * Return 0, or -1 (logged by audio.c) when nothing could be rendered.
 */
int
tts_fallback_render(const char *text, double rate, uint8_t **mulaw, size_t *n)
{
	char *spoken = hebnum_normalize(text);
	double wpm = AUDIO_WPM_DEFAULT * (rate > 0 ? rate : 1.0);
	size_t len = strlen(spoken), off = 0;
	uint8_t *out = NULL;
	size_t outlen = 0;

	*mulaw = NULL;
	*n = 0;
	if (wpm < AUDIO_WPM_MIN)
		wpm = AUDIO_WPM_MIN;
	if (wpm > AUDIO_WPM_MAX)
		wpm = AUDIO_WPM_MAX;
	while (off < len) {
		size_t k = google_tts_split_len(
		    spoken + off, len - off, TTS_FALLBACK_PIECE);
		char *piece = xstrndup(spoken + off, k);
		uint8_t *audio = NULL;
		size_t alen = 0;
		int rc = audio_espeak_mulaw(piece, (int)wpm, &audio, &alen);

		free(piece);
		if (rc < 0) {
			free(out);
			free(spoken);
			return -1;
		}
		out = xreallocarray(out, outlen + alen + 1, 1);
		memcpy(out + outlen, audio, alen);
		outlen += alen;
		free(audio);
		off += k;
		while (off < len && (spoken[off] == ' ' || spoken[off] == '\n'))
			off++;
	}
	free(spoken);
	if (out == NULL)
		return -1;
	*mulaw = out;
	*n = outlen;
	return 0;
}
