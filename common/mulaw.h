/*
 * G.711 mu-law <-> 16-bit linear PCM.
 *
 * Why: Twilio Media Streams carry 8 kHz mu-law both ways, Google TTS is
 * asked for MULAW 8000, and VAD, WAV and resampling want linear PCM16. One
 * small codec converts between them everywhere (arithmetic, plus one
 * compile-time table for decoding).
 *
 * Owns nothing; every function is pure and thread-safe. Buffers are
 * caller-owned and may not overlap.
 *
 * Limits: mu-law has 255 distinct levels (codes 0x7F and 0xFF both mean
 * zero), so decode -> encode is exact for every code except 0x7F, which
 * comes back as 0xFF. Linear input beyond +/-32635 is clipped before
 * encoding, as G.711 prescribes.
 */
#ifndef MERKAZIA_MULAW_H
#define MERKAZIA_MULAW_H

#include <stddef.h>
#include <stdint.h>

/* The mu-law code of digital silence. */
#define MULAW_SILENCE 0xFF

/* mulaw.c */
/* Encode one linear sample and return its mu-law code. */
uint8_t mulaw_encode(int16_t pcm);
/* Decode one mu-law code and return its linear sample. */
int16_t mulaw_decode(uint8_t code);
/* Encode n samples of pcm into n codes at out. */
void mulaw_encode_buf(const int16_t *pcm, size_t n, uint8_t *out);
/* Decode n codes of in into n samples at pcm. */
void mulaw_decode_buf(const uint8_t *in, size_t n, int16_t *pcm);

#endif
