/*
 * Unit tests for common/mulaw.c: known G.711 codes both ways, the exact
 * code round trip (0x7F, negative zero, comes back as 0xFF), the error
 * bound of every 16-bit sample through mu-law and back, clipping, and the
 * buffer functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "mulaw.h"

struct mulaw_pair {
	int16_t pcm;
	uint8_t code;
};

/* Decoding: code -> the middle of its quantisation step. */
static const struct mulaw_pair decode_cases[] = {
    {0, 0xFF},	    /* positive zero */
    {0, 0x7F},	    /* negative zero */
    {8, 0xFE},	    /* smallest positive step */
    {-8, 0x7E},	    /* smallest negative step */
    {120, 0xF0},    /* top of segment 0 */
    {132, 0xEF},    /* bottom of segment 1 */
    {32124, 0x80},  /* largest positive */
    {-32124, 0x00}, /* largest negative */
};

/* Encoding: linear sample -> code, including clipping. */
static const struct mulaw_pair encode_cases[] = {
    {0, 0xFF}, {1, 0xFF}, {-1, 0x7F}, {8, 0xFE}, {100, 0xF2}, {-100, 0x72},
    {32124, 0x80}, {32635, 0x80}, {32767, 0x80}, /* clipped */
    {-32768, 0x00},				 /* clipped */
};

static void
test_decode_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(*decode_cases);
	     i++)
		assert_int_equal(
		    mulaw_decode(decode_cases[i].code), decode_cases[i].pcm);
}

static void
test_encode_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(encode_cases) / sizeof(*encode_cases);
	     i++)
		assert_int_equal(
		    mulaw_encode(encode_cases[i].pcm), encode_cases[i].code);
	assert_int_equal(mulaw_encode(0), MULAW_SILENCE);
}

/* Every code survives decode -> encode, except negative zero. */
static void
test_code_round_trip(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		uint8_t back = mulaw_encode(mulaw_decode((uint8_t)c));

		if (c == 0x7F)
			assert_int_equal(back, 0xFF);
		else
			assert_int_equal(back, c);
	}
}

/* Every linear sample comes back within half a quantisation step. */
static void
test_pcm_round_trip_bound(void **state)
{
	int prev = INT32_MIN;

	(void)state;
	for (int x = INT16_MIN; x <= INT16_MAX; x++) {
		int y = mulaw_decode(mulaw_encode((int16_t)x));
		int mag = abs(x), err = abs(y - x);

		if (mag <= 32635)
			assert_true(err <= (mag + 0x84) / 32);
		else
			assert_int_equal(abs(y), 32124); /* clipped */
		/* Sign is kept (zero aside) and the curve never falls. */
		assert_true((x > 0 && y >= 0) || (x < 0 && y <= 0) || x == 0);
		assert_true(y >= prev);
		prev = y;
	}
}

static void
test_buffers(void **state)
{
	int16_t pcm[512], back[512];
	uint8_t codes[512];
	uint8_t guard[4] = {0xAA, 0xAA, 0xAA, 0xAA};

	(void)state;
	for (int i = 0; i < 512; i++)
		pcm[i] = (int16_t)((i * 131 % 65536) - 32768);
	mulaw_encode_buf(pcm, 512, codes);
	mulaw_decode_buf(codes, 512, back);
	for (int i = 0; i < 512; i++) {
		assert_int_equal(codes[i], mulaw_encode(pcm[i]));
		assert_int_equal(back[i], mulaw_decode(codes[i]));
	}
	/* n == 0 writes nothing. */
	mulaw_encode_buf(pcm, 0, guard);
	mulaw_decode_buf(guard, 0, back);
	assert_int_equal(guard[0], 0xAA);
	assert_int_equal(back[0], mulaw_decode(codes[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_known),
	    cmocka_unit_test(test_encode_known),
	    cmocka_unit_test(test_code_round_trip),
	    cmocka_unit_test(test_pcm_round_trip_bound),
	    cmocka_unit_test(test_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
