/*
 * G.711 mu-law codec (see mulaw.h for why and for the limits).
 *
 * The arithmetic works on the 16-bit scale: a magnitude is clipped to
 * 32635, biased by 0x84 so every segment starts at a power of two, and the
 * segment (exponent) is the position of its highest set bit above bit 7.
 * The four bits below that bit are the mantissa. The code is the
 * one's complement of sign | exponent | mantissa, so silence is 0xFF.
 * Decoding returns the middle of the quantisation step, which bounds the
 * round-trip error by half a step: (|x| + 0x84) / 32. It is that
 * arithmetic, evaluated by the compiler into a 256-entry table.
 */
#include <stddef.h>
#include <stdint.h>

#include "mulaw.h"

#define MULAW_BIAS 0x84
#define MULAW_CLIP 32635

uint8_t
mulaw_encode(int16_t pcm)
{
	int mag = pcm;
	unsigned sign = 0;
	unsigned exp, mant;

	if (mag < 0) {
		mag = -mag;
		sign = 0x80;
	}
	if (mag > MULAW_CLIP)
		mag = MULAW_CLIP;
	mag += MULAW_BIAS;
	/* mag is in [0x84, 0x7FFF]: its top bit is bit 7 + exponent. */
	exp = (unsigned)(31 - __builtin_clz((unsigned)mag)) - 7;
	mant = ((unsigned)mag >> (exp + 3)) & 0x0F;
	return (uint8_t) ~(sign | (exp << 4) | mant);
}

void
mulaw_encode_buf(const int16_t *pcm, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = mulaw_encode(pcm[i]);
}

/*
 * The decoding of every code, as a constant table built by the compiler
 * from the arithmetic above: the gateway decodes every inbound frame
 * (8,000 codes a second per call) for its VAD, and a lookup is cheaper.
 */
#define MULAW_DEC_U(c) ((unsigned)(~(c)) & 0xFFu)
#define MULAW_DEC_MAG(c)                                      \
	((int)((((MULAW_DEC_U(c) & 0x0Fu) << 3) + MULAW_BIAS) \
	       << ((MULAW_DEC_U(c) >> 4) & 0x07u)) -          \
	    MULAW_BIAS)
#define MULAW_DEC(c) \
	(int16_t)(   \
	    (MULAW_DEC_U(c) & 0x80u) ? -MULAW_DEC_MAG(c) : MULAW_DEC_MAG(c))
#define MULAW_DEC4(c) \
	MULAW_DEC(c), MULAW_DEC((c) + 1), MULAW_DEC((c) + 2), MULAW_DEC((c) + 3)
#define MULAW_DEC16(c)                                           \
	MULAW_DEC4(c), MULAW_DEC4((c) + 4), MULAW_DEC4((c) + 8), \
	    MULAW_DEC4((c) + 12)
#define MULAW_DEC64(c)                                                \
	MULAW_DEC16(c), MULAW_DEC16((c) + 16), MULAW_DEC16((c) + 32), \
	    MULAW_DEC16((c) + 48)

static const int16_t mulaw_dec[256] = {
    MULAW_DEC64(0u), MULAW_DEC64(64u), MULAW_DEC64(128u), MULAW_DEC64(192u)};

int16_t
mulaw_decode(uint8_t code)
{
	return mulaw_dec[code];
}

void
mulaw_decode_buf(const uint8_t *in, size_t n, int16_t *pcm)
{
	for (size_t i = 0; i < n; i++)
		pcm[i] = mulaw_dec[in[i]];
}
