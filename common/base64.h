/*
 * Standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /, with '='
 * padding) over buffers with explicit lengths.
 *
 * Why: every Twilio Media Streams frame (160 bytes of mu-law every 20 ms,
 * per call, both ways) is base64 inside JSON, so this sits on the gateway's
 * hot path; audio in messages to and from providers is base64 too. It is
 * hand-written (table lookups, no allocation in the core functions) so it
 * is fast, exact about lengths and independent of OpenSSL.
 *
 * Decoding is strict, because its input comes from the network: the
 * length must be a multiple of 4, only alphabet characters are allowed,
 * '=' may only end the last quantum (one or two of them), and the unused
 * bits before the padding must be zero (canonical encoding, RFC 4648
 * section 3.5). No whitespace or line breaks are accepted. Anything else
 * fails with -1; decoding never logs (the caller knows the context).
 *
 * Owns nothing except what the *_alloc functions return, which the caller
 * frees with free(). Thread-safe.
 */
#ifndef MERKAZIA_BASE64_H
#define MERKAZIA_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* base64.c */
/* Return the length of the base64 text for n bytes (no NUL counted). */
size_t base64_encoded_len(size_t n);
/* Return the most bytes that n characters of base64 can decode to. */
size_t base64_decoded_max(size_t n);
/*
 * Encode len bytes at src into dst as padded base64 and a terminating NUL.
 * dstsize must be at least base64_encoded_len(len) + 1. Return 0, or -1
 * (dst untouched) when dst is too small.
 */
int base64_encode(const void *src, size_t len, char *dst, size_t dstsize)
    __attribute__((warn_unused_result));
/* Encode len bytes at src and return the NUL-terminated text (caller frees). */
char *base64_encode_alloc(const void *src, size_t len);
/*
 * Decode len characters of base64 at src into dst (dstsize bytes) and store
 * the exact decoded length in *outlen. Return 0, or -1 when the text is not
 * strict, canonical base64 or dst is too small (dst contents undefined then).
 * base64_decoded_max(len) bytes of dst are always enough.
 */
int base64_decode(const char *src, size_t len, uint8_t *dst, size_t dstsize,
    size_t *outlen) __attribute__((warn_unused_result));
/*
 * Decode like base64_decode into a new buffer stored in *out (caller frees;
 * never NULL on success, even for empty input) with its length in *outlen.
 * Return 0, or -1 with *out set to NULL.
 */
int base64_decode_alloc(const char *src, size_t len, uint8_t **out,
    size_t *outlen) __attribute__((warn_unused_result));

#endif
