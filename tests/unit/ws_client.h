/*
 * A small RFC 6455 client side for the gateway's WebSocket tests, written
 * here from the RFC (not with wslay) so the tests do not check wslay
 * against itself: frames are built with the client's masking (section
 * 5.3), and server frames (never masked) are parsed back.
 *
 * Header-only (static inline) because two test executables use it.
 */
#ifndef MERKAZIA_TEST_WS_CLIENT_H
#define MERKAZIA_TEST_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WSC_CONT  0x0u
#define WSC_TEXT  0x1u
#define WSC_BIN	  0x2u
#define WSC_CLOSE 0x8u
#define WSC_PING  0x9u
#define WSC_PONG  0xAu

/* One parsed server frame; payload points into the parsed buffer. */
struct wsc_frame {
	bool fin;
	unsigned int opcode;
	bool masked;
	const uint8_t *payload;
	size_t len;
};

/*
 * Build one frame into out (cap bytes): fin, rsv (the three RSV bits as
 * bits 6..4 of the first byte), opcode, payload of len bytes, masked with
 * a key derived from seed when mask. Return the frame's length, or 0 when
 * it does not fit.
 */
static inline size_t
wsc_frame_ex(uint8_t *out, size_t cap, bool fin, unsigned int rsv,
    unsigned int opcode, const void *payload, size_t len, bool mask,
    uint32_t seed)
{
	const uint8_t *p = payload;
	uint8_t key[4];
	size_t n = 0;

	if (cap < len + 14)
		return 0;
	out[n++] =
	    (uint8_t)((fin ? 0x80u : 0) | ((rsv & 7u) << 4) | (opcode & 0x0Fu));
	if (len < 126) {
		out[n++] = (uint8_t)((mask ? 0x80u : 0) | len);
	} else if (len <= 0xFFFF) {
		out[n++] = (uint8_t)((mask ? 0x80u : 0) | 126u);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = (uint8_t)((mask ? 0x80u : 0) | 127u);
		for (int i = 7; i >= 0; i--)
			out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	key[0] = (uint8_t)(seed * 2654435761u >> 24);
	key[1] = (uint8_t)(seed * 40503u >> 8);
	key[2] = (uint8_t)(seed + 0x5Au);
	key[3] = (uint8_t)(seed >> 3 ^ 0xC3u);
	if (mask) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	for (size_t i = 0; i < len; i++)
		out[n + i] = mask ? (uint8_t)(p[i] ^ key[i % 4]) : p[i];
	return n + len;
}

/* A masked frame without RSV bits. */
static inline size_t
wsc_frame(uint8_t *out, size_t cap, bool fin, unsigned int opcode,
    const void *payload, size_t len)
{
	return wsc_frame_ex(
	    out, cap, fin, 0, opcode, payload, len, true, (uint32_t)len + 7u);
}

/*
 * Parse one frame at buf (len bytes) into f. Return its length, or 0
 * when buf holds no complete frame yet.
 */
static inline size_t
wsc_parse(const uint8_t *buf, size_t len, struct wsc_frame *f)
{
	size_t n = 2;
	uint64_t plen;

	if (len < 2)
		return 0;
	f->fin = (buf[0] & 0x80u) != 0;
	f->opcode = buf[0] & 0x0Fu;
	f->masked = (buf[1] & 0x80u) != 0;
	plen = buf[1] & 0x7Fu;
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (uint64_t)buf[2] << 8 | buf[3];
		n = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		n = 10;
	}
	if (f->masked)
		n += 4;
	if (len < n || len - n < plen)
		return 0;
	f->payload = buf + n;
	f->len = (size_t)plen;
	return n + (size_t)plen;
}

/* Return the status code of a close frame's payload (1005 when none). */
static inline unsigned int
wsc_close_code(const struct wsc_frame *f)
{
	if (f->len < 2)
		return 1005;
	return (unsigned int)f->payload[0] << 8 | f->payload[1];
}

#endif
