/*
 * G.711 mu-law codec (see mulaw.h for why and for the limits).
 *
 * The arithmetic works on the 16-bit scale: a magnitude is clipped to
 * 32635, biased by 0x84 so every segment starts at a power of two, and the
 * segment (exponent) is the position of its highest set bit above bit 7.
 * The four bits below that bit are the mantissa. The code is the
 * one's complement of sign | exponent | mantissa, so silence is 0xFF.
 * Decoding returns the middle of the quantisation step, which bounds the
 * round-trip error by half a step: (|x| + 0x84) / 32.
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

int16_t
mulaw_decode(uint8_t code)
{
	unsigned u = (uint8_t)~code;
	unsigned exp = (u >> 4) & 0x07;
	unsigned mant = u & 0x0F;
	int mag = (int)((((mant << 3) + MULAW_BIAS) << exp) - MULAW_BIAS);

	return (int16_t)((u & 0x80) ? -mag : mag);
}

void
mulaw_encode_buf(const int16_t *pcm, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = mulaw_encode(pcm[i]);
}

void
mulaw_decode_buf(const uint8_t *in, size_t n, int16_t *pcm)
{
	for (size_t i = 0; i < n; i++)
		pcm[i] = mulaw_decode(in[i]);
}
