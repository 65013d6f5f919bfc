/*
 * Unit tests for common/base64.c: the RFC 4648 section 10 vectors both
 * ways, binary vectors using '+' and '/', exact decoded lengths into
 * exactly sized buffers, rejection of bad characters, bad padding,
 * non-canonical trailing bits and bad lengths, too-small buffers, and round
 * trips of random buffers (including Twilio's 160-byte frame).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

struct b64_vector {
	const char *raw;
	size_t rawlen;
	const char *text;
};

static const struct b64_vector vectors[] = {
    {"", 0, ""},
    {"f", 1, "Zg=="},
    {"fo", 2, "Zm8="},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg=="},
    {"fooba", 5, "Zm9vYmE="},
    {"foobar", 6, "Zm9vYmFy"},
    {"\xff\xfe\xfd", 3, "//79"},
    {"\xfb\xff", 2, "+/8="},
    {"\x00", 1, "AA=="},
    {"\x00\x00\x00\x00", 4, "AAAAAA=="},
    {"\xff\xff\xff\xff\xff", 5, "//////8="},
};

/* Texts the strict decoder must refuse, with the reason. */
static const struct {
	const char *text;
	size_t len;
	const char *why;
} bad[] = {
    {"Z", 1, "length 1"},
    {"Zg", 2, "unpadded"},
    {"Zg=", 3, "length 3"},
    {"Zm9vY", 5, "length 5"},
    {"Zm9vYmF", 7, "length 7"},
    {"====", 4, "padding only"},
    {"Z===", 4, "three pads"},
    {"Zg=A", 4, "data after pad"},
    {"Zm=v", 4, "pad in the middle of a quantum"},
    {"Zg==Zg==", 8, "pad before the last quantum"},
    {"Zh==", 4, "non-zero bits before \"==\""},
    {"Zm9=", 4, "non-zero bits before \"=\""},
    {"Zm9-", 4, "URL alphabet '-'"},
    {"Zm9_", 4, "URL alphabet '_'"},
    {"Zm9\n", 4, "newline"},
    {"Zm 9", 4, "space"},
    {"Zm9v\0m9v", 8, "embedded NUL"},
    {"Zm9\xc3", 4, "non-ASCII byte"},
    {"Zm9v!!!!", 8, "bad characters in the last quantum"},
    {"!m9vZm9v", 8, "bad character in a full quantum"},
};

static void
test_lengths(void **state)
{
	static const size_t enc[][2] = {{0, 0}, {1, 4}, {2, 4}, {3, 4}, {4, 8},
	    {160, 216}, {161, 216}, {162, 216}, {163, 220}};

	(void)state;
	for (size_t i = 0; i < sizeof(enc) / sizeof(*enc); i++)
		assert_int_equal(base64_encoded_len(enc[i][0]), enc[i][1]);
	assert_int_equal(base64_decoded_max(0), 0);
	assert_int_equal(base64_decoded_max(4), 3);
	assert_int_equal(base64_decoded_max(216), 162);
}

static void
test_encode_vectors(void **state)
{
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(*vectors); i++) {
		const struct b64_vector *v = &vectors[i];
		size_t need = base64_encoded_len(v->rawlen) + 1;
		char *a;

		memset(out, 'x', sizeof(out));
		assert_int_equal(
		    base64_encode(v->raw, v->rawlen, out, need), 0);
		assert_string_equal(out, v->text);
		a = base64_encode_alloc(v->raw, v->rawlen);
		assert_string_equal(a, v->text);
		free(a);
	}
}

static void
test_decode_vectors(void **state)
{
	uint8_t out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(*vectors); i++) {
		const struct b64_vector *v = &vectors[i];
		size_t len = strlen(v->text), outlen = 999;
		uint8_t *a;

		/* A buffer of exactly the decoded size is enough. */
		assert_int_equal(
		    base64_decode(v->text, len, out, v->rawlen, &outlen), 0);
		assert_int_equal(outlen, v->rawlen);
		assert_memory_equal(out, v->raw, v->rawlen);
		/* One byte less is not. */
		if (v->rawlen > 0)
			assert_int_equal(base64_decode(v->text, len, out,
					     v->rawlen - 1, &outlen),
			    -1);
		assert_int_equal(
		    base64_decode_alloc(v->text, len, &a, &outlen), 0);
		assert_non_null(a);
		assert_int_equal(outlen, v->rawlen);
		assert_memory_equal(a, v->raw, v->rawlen);
		free(a);
	}
}

static void
test_decode_rejects(void **state)
{
	uint8_t out[64], sentinel[1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		size_t outlen = 12345;
		uint8_t *a = sentinel;

		if (base64_decode(bad[i].text, bad[i].len, out, sizeof(out),
			&outlen) != -1)
			fail_msg("accepted %s", bad[i].why);
		assert_int_equal(outlen, 12345);
		assert_int_equal(
		    base64_decode_alloc(bad[i].text, bad[i].len, &a, &outlen),
		    -1);
		assert_null(a);
	}
}

/* Every one of the 256 byte values as a character: only 64 decode. */
static void
test_decode_every_character(void **state)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t out[3];
	size_t outlen;

	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		char text[4] = {'A', 'A', 'A', (char)c};
		int ok = c != 0 && strchr(alphabet, (int)c) != NULL;
		int rc = base64_decode(text, 4, out, sizeof(out), &outlen);

		if (c == '=') /* "AAA=" is a valid padded quantum */
			ok = 1;
		assert_int_equal(rc, ok ? 0 : -1);
		if (ok && c != '=')
			assert_int_equal(out[2],
			    (uint8_t)(strchr(alphabet, (int)c) - alphabet));
	}
}

static void
test_encode_small_buffer(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'x', sizeof(out));
	/* "foo" needs 4 characters and the NUL. */
	assert_int_equal(base64_encode("foo", 3, out, 4), -1);
	assert_int_equal(out[0], 'x');
	assert_int_equal(base64_encode("foo", 3, out, 0), -1);
	assert_int_equal(base64_encode("foo", 3, out, 5), 0);
	assert_string_equal(out, "Zm9v");
	/* Empty input still needs room for the NUL. */
	assert_int_equal(base64_encode("", 0, out, 0), -1);
	assert_int_equal(base64_encode("", 0, out, 1), 0);
	assert_string_equal(out, "");
}

static void
test_round_trip_random(void **state)
{
	uint8_t raw[1024], back[1024];
	char text[1400];
	unsigned seed = 12345;

	(void)state;
	for (size_t len = 0; len <= sizeof(raw); len += (len < 200 ? 1 : 37)) {
		size_t outlen = 0;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			raw[i] = (uint8_t)(seed >> 16);
		}
		assert_int_equal(
		    base64_encode(raw, len, text, sizeof(text)), 0);
		assert_int_equal(strlen(text), base64_encoded_len(len));
		assert_int_equal(base64_decode(text, strlen(text), back,
				     base64_decoded_max(strlen(text)), &outlen),
		    0);
		assert_int_equal(outlen, len);
		assert_memory_equal(back, raw, len);
	}
}

/* A Twilio media frame: 160 bytes of mu-law become 216 characters. */
static void
test_twilio_frame(void **state)
{
	uint8_t frame[160], back[162];
	char text[217];
	size_t outlen;

	(void)state;
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(0xFF - i);
	assert_int_equal(
	    base64_encode(frame, sizeof(frame), text, sizeof(text)), 0);
	assert_int_equal(strlen(text), 216);
	assert_int_equal(text[215], '=');
	assert_int_equal(text[214], '=');
	assert_int_equal(
	    base64_decode(text, 216, back, sizeof(back), &outlen), 0);
	assert_int_equal(outlen, 160);
	assert_memory_equal(back, frame, 160);
	/* The exact size suffices, although decoded_max(216) is 162. */
	assert_int_equal(base64_decode(text, 216, back, 160, &outlen), 0);
	assert_int_equal(base64_decode(text, 216, back, 159, &outlen), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_encode_vectors),
	    cmocka_unit_test(test_decode_vectors),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_decode_every_character),
	    cmocka_unit_test(test_encode_small_buffer),
	    cmocka_unit_test(test_round_trip_random),
	    cmocka_unit_test(test_twilio_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
