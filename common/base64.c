/*
 * Strict RFC 4648 base64 (see base64.h for why and for what is rejected).
 *
 * Decoding looks every character up in b64_dec: an alphabet character
 * maps to its 6-bit value with bit 0x40 set, anything else to 0. A quantum
 * of four characters is valid when the AND of its four entries still has
 * 0x40, so each quantum costs one branch. Only the last quantum may hold
 * padding; it is decoded apart.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"
#include "log.h"
#include "xmalloc.h"

#define B64_VALID 0x40
/* The longest input whose encoding and NUL fit in a size_t. */
#define B64_MAX_IN ((SIZE_MAX / 4 - 1) * 3)

static const char b64_enc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each alphabet character maps to its value | B64_VALID (0x40). */
static const uint8_t b64_dec[256] = {
    ['A'] = 0x40,
    ['B'] = 0x41,
    ['C'] = 0x42,
    ['D'] = 0x43,
    ['E'] = 0x44,
    ['F'] = 0x45,
    ['G'] = 0x46,
    ['H'] = 0x47,
    ['I'] = 0x48,
    ['J'] = 0x49,
    ['K'] = 0x4A,
    ['L'] = 0x4B,
    ['M'] = 0x4C,
    ['N'] = 0x4D,
    ['O'] = 0x4E,
    ['P'] = 0x4F,
    ['Q'] = 0x50,
    ['R'] = 0x51,
    ['S'] = 0x52,
    ['T'] = 0x53,
    ['U'] = 0x54,
    ['V'] = 0x55,
    ['W'] = 0x56,
    ['X'] = 0x57,
    ['Y'] = 0x58,
    ['Z'] = 0x59,
    ['a'] = 0x5A,
    ['b'] = 0x5B,
    ['c'] = 0x5C,
    ['d'] = 0x5D,
    ['e'] = 0x5E,
    ['f'] = 0x5F,
    ['g'] = 0x60,
    ['h'] = 0x61,
    ['i'] = 0x62,
    ['j'] = 0x63,
    ['k'] = 0x64,
    ['l'] = 0x65,
    ['m'] = 0x66,
    ['n'] = 0x67,
    ['o'] = 0x68,
    ['p'] = 0x69,
    ['q'] = 0x6A,
    ['r'] = 0x6B,
    ['s'] = 0x6C,
    ['t'] = 0x6D,
    ['u'] = 0x6E,
    ['v'] = 0x6F,
    ['w'] = 0x70,
    ['x'] = 0x71,
    ['y'] = 0x72,
    ['z'] = 0x73,
    ['0'] = 0x74,
    ['1'] = 0x75,
    ['2'] = 0x76,
    ['3'] = 0x77,
    ['4'] = 0x78,
    ['5'] = 0x79,
    ['6'] = 0x7A,
    ['7'] = 0x7B,
    ['8'] = 0x7C,
    ['9'] = 0x7D,
    ['+'] = 0x7E,
    ['/'] = 0x7F,
};

size_t
base64_encoded_len(size_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

int
base64_encode(const void *src, size_t len, char *dst, size_t dstsize)
{
	const uint8_t *s = src;
	size_t i = 0;
	char *d = dst;

	if (len > B64_MAX_IN || dstsize < base64_encoded_len(len) + 1)
		return -1;
	for (; len - i >= 3; i += 3) {
		uint32_t v =
		    (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		d[0] = b64_enc[v >> 18];
		d[1] = b64_enc[(v >> 12) & 0x3F];
		d[2] = b64_enc[(v >> 6) & 0x3F];
		d[3] = b64_enc[v & 0x3F];
		d += 4;
	}
	if (len - i == 1) {
		d[0] = b64_enc[s[i] >> 2];
		d[1] = b64_enc[(s[i] & 0x03) << 4];
		d[2] = '=';
		d[3] = '=';
		d += 4;
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 8 | s[i + 1];

		d[0] = b64_enc[v >> 10];
		d[1] = b64_enc[(v >> 4) & 0x3F];
		d[2] = b64_enc[(v << 2) & 0x3F];
		d[3] = '=';
		d += 4;
	}
	*d = '\0';
	return 0;
}

char *
base64_encode_alloc(const void *src, size_t len)
{
	size_t size;
	char *out;

	if (len > B64_MAX_IN)
		fatalx("base64_encode_alloc: %zu bytes cannot be encoded", len);
	size = base64_encoded_len(len) + 1;
	out = xmalloc(size);
	if (base64_encode(src, len, out, size) == -1)
		fatalx("base64_encode_alloc: buffer size mismatch");
	return out;
}

/*
 * Decode the final quantum q (which may be padded) into d and return the
 * bytes written (1, 2 or 3), or -1.
 */
static int
base64_decode_last(const unsigned char *q, uint8_t *d, size_t room)
{
	unsigned a = b64_dec[q[0]], b = b64_dec[q[1]];
	unsigned c, e;

	if (!(a & b & B64_VALID))
		return -1;
	a &= 0x3F;
	b &= 0x3F;
	if (q[2] == '=') {
		/* "xx==": one byte; the low 4 bits of b must be zero. */
		if (q[3] != '=' || (b & 0x0F) || room < 1)
			return -1;
		d[0] = (uint8_t)(a << 2 | b >> 4);
		return 1;
	}
	c = b64_dec[q[2]];
	if (!(c & B64_VALID))
		return -1;
	c &= 0x3F;
	if (q[3] == '=') {
		/* "xxx=": two bytes; the low 2 bits of c must be zero. */
		if ((c & 0x03) || room < 2)
			return -1;
		d[0] = (uint8_t)(a << 2 | b >> 4);
		d[1] = (uint8_t)((b & 0x0F) << 4 | c >> 2);
		return 2;
	}
	e = b64_dec[q[3]];
	if (!(e & B64_VALID) || room < 3)
		return -1;
	e &= 0x3F;
	d[0] = (uint8_t)(a << 2 | b >> 4);
	d[1] = (uint8_t)((b & 0x0F) << 4 | c >> 2);
	d[2] = (uint8_t)((c & 0x03) << 6 | e);
	return 3;
}

int
base64_decode(
    const char *src, size_t len, uint8_t *dst, size_t dstsize, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i, full, o = 0;
	int last;

	if (len % 4 != 0)
		return -1;
	if (len == 0) {
		*outlen = 0;
		return 0;
	}
	full = len - 4; /* characters before the last quantum */
	if (dstsize < full / 4 * 3)
		return -1;
	for (i = 0; i < full; i += 4) {
		uint32_t a = b64_dec[s[i]], b = b64_dec[s[i + 1]];
		uint32_t c = b64_dec[s[i + 2]], e = b64_dec[s[i + 3]];
		uint32_t v;

		if (!(a & b & c & e & B64_VALID))
			return -1;
		v = (a & 0x3F) << 18 | (b & 0x3F) << 12 | (c & 0x3F) << 6 |
		    (e & 0x3F);
		dst[o] = (uint8_t)(v >> 16);
		dst[o + 1] = (uint8_t)(v >> 8);
		dst[o + 2] = (uint8_t)v;
		o += 3;
	}
	last = base64_decode_last(s + full, dst + o, dstsize - o);
	if (last == -1)
		return -1;
	*outlen = o + (size_t)last;
	return 0;
}

int
base64_decode_alloc(const char *src, size_t len, uint8_t **out, size_t *outlen)
{
	size_t size = base64_decoded_max(len);
	uint8_t *buf = xmalloc(size);

	if (base64_decode(src, len, buf, size, outlen) == -1) {
		free(buf);
		*out = NULL;
		return -1;
	}
	*out = buf;
	return 0;
}
