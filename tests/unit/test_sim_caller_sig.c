/*
 * Unit tests for tools/sim-caller/sig.c and handshake.c: how the
 * simulated caller signs like Twilio and opens a WebSocket like a
 * conforming client.
 *
 * The signature vectors are the shared Twilio reference's (section 3.3:
 * V1, V5, V14 both ways, D1; section 3.4: the WebSocket upgrade and the
 * Hebrew WhatsApp form), copied here because tests must not read
 * ../shared; the gateway's tests check its own implementation against the
 * same numbers. The handshake's accept value is RFC 6455's own example
 * (section 1.3). Both files are pure and #included whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/sim-caller/handshake.c"
#include "../../tools/sim-caller/sig.c"

#define TOKEN "12345"
#define BASE  "https://mycompany.com/myapp.php?foo=1&bar=2"

static const struct sig_param vec_p[] = {
    {"CallSid", "CA1234567890ABCDE"},
    {"Caller", "+14158675309"},
    {"Digits", "1234"},
    {"From", "+14158675309"},
    {"To", "+18005551212"},
};

static void
check_sig(
    const char *url, const struct sig_param *p, size_t n, const char *want)
{
	char got[SIG_LEN + 1];

	assert_int_equal(sig_compute(TOKEN, url, p, n, got), 0);
	assert_string_equal(got, want);
}

static void
test_vectors(void **state)
{
	/* Given in a different order: the signature sorts. */
	const struct sig_param shuffled[] = {
	    vec_p[4], vec_p[2], vec_p[0], vec_p[3], vec_p[1]};
	const struct sig_param v5[] = {
	    {"Sid", "CA123"},
	    {"SidAccount", "AC123"},
	    {"Digits", "5678"},
	    {"Digits", "1234"},
	    {"Digits", "1234"},
	};
	struct sig_param v14[7];
	const struct sig_param d1[] = {
	    {"CallSid", "CA1234567890ABCDE"},
	    {"Caller", "+14158675310"},
	    {"Digits", "1234"},
	    {"From", "+14158675310"},
	    {"To", "+18005551212"},
	};
	const struct sig_param wa[] = {
	    {"AccountSid", "AC00000000000000000000000000000001"},
	    {"Body", "שלום"},
	    {"From", "whatsapp:+972501234567"},
	    {"MessageSid", "SM00000000000000000000000000000001"},
	    {"NumMedia", "0"},
	    {"ProfileName", "דני"},
	    {"To", "whatsapp:+14155238886"},
	    {"WaId", "972501234567"},
	};

	(void)state;
	check_sig(BASE, vec_p, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	check_sig(BASE, shuffled, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	check_sig("https://mycompany.com:443/myapp.php?foo=1&bar=2", vec_p, 5,
	    "kvajT1Ptam85bY51eRf/AJRuM3w=");
	check_sig(BASE, v5, 5, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
	memcpy(v14, vec_p, sizeof(vec_p));
	v14[5].name = "ReasonConferenceEnded";
	v14[5].value = "test";
	v14[6].name = "Reason";
	v14[6].value = "Participant";
	check_sig(BASE, v14, 7, "vOEb5UThFn24KEfnOFLQY2AE5FY=");
	check_sig("http://mycompany.com/myapp.php?foo=1&bar=2", v14, 7,
	    "n2xBNyzSW7rfYStDtOFiFMv7qNo=");
	check_sig("https://example.com/myapp.php?foo=1&bar=2", d1, 5,
	    "L/OH5YylLD5NRKLltdqwSvS0BnU=");
	check_sig(
	    "wss://example.com/media", NULL, 0, "7PR3qMkpDyEJtMrVOY/LDyNq8J8=");
	check_sig("wss://example.com/media/", NULL, 0,
	    "T+WBXwUXC0/CyoZ1DA+p9ilZORs=");
	check_sig("https://gw.example.co.il/twilio/whatsapp", wa, 8,
	    "ppwG/UkcWj6KmCx5wbr5g/v30C8=");
}

static void
test_sig_refusals(void **state)
{
	char got[SIG_LEN + 1];

	(void)state;
	assert_int_equal(sig_compute("", BASE, vec_p, 5, got), -1);
	assert_int_equal(sig_compute(NULL, BASE, vec_p, 5, got), -1);
	assert_int_equal(sig_compute("other", BASE, vec_p, 5, got), 0);
	assert_string_not_equal(got, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

static void
test_form_encode(void **state)
{
	const struct sig_param p[] = {
	    {"From", "+972521234567"},
	    {"Body", "שלום עולם"},
	    {"X", "a-b_c.d*e&f=g/h"},
	    {"Empty", ""},
	};
	char *s;

	(void)state;
	s = sig_form_encode(p, 4);
	assert_string_equal(s, "From=%2B972521234567"
			       "&Body=%D7%A9%D7%9C%D7%95%D7%9D+%D7%A2%D7%95"
			       "%D7%9C%D7%9D"
			       "&X=a-b_c.d*e%26f%3Dg%2Fh&Empty=");
	free(s);
	s = sig_form_encode(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

static void
test_random_hex(void **state)
{
	char a[33], b[33];

	(void)state;
	sig_random_hex(a, 32);
	sig_random_hex(b, 32);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
}

static void
test_url(void **state)
{
	struct handshake_url u;

	(void)state;
	assert_int_equal(
	    handshake_parse_url("ws://127.0.0.1:8080/twilio/media", &u), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.hostport, "127.0.0.1:8080");
	assert_string_equal(u.path, "/twilio/media");

	assert_int_equal(
	    handshake_parse_url("WSS://gw.example.co.il/twilio/media/", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.port, "443");
	assert_string_equal(u.hostport, "gw.example.co.il");
	assert_string_equal(u.path, "/twilio/media/");

	assert_int_equal(handshake_parse_url("ws://[::1]:99?x=1#frag", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "99");
	assert_string_equal(u.hostport, "[::1]:99");
	assert_string_equal(u.path, "/?x=1");

	assert_int_equal(handshake_parse_url("ws://h", &u), 0);
	assert_string_equal(u.path, "/");
	assert_string_equal(u.port, "80");

	assert_int_equal(handshake_parse_url("http://h/x", &u), -1);
	assert_int_equal(handshake_parse_url("ws:///x", &u), -1);
	assert_int_equal(handshake_parse_url("ws://u:p@h/x", &u), -1);
	assert_int_equal(handshake_parse_url("ws://h:0/x", &u), -1);
	assert_int_equal(handshake_parse_url("ws://h:65536/x", &u), -1);
	assert_int_equal(handshake_parse_url("ws://h:8a/x", &u), -1);
	assert_int_equal(handshake_parse_url("ws://[::1/x", &u), -1);
	assert_int_equal(handshake_parse_url("ws://[::1]x/x", &u), -1);
}

static void
test_accept_and_request(void **state)
{
	static const uint8_t nonce[16] = "the sample nonce";
	char key[HANDSHAKE_KEY_LEN + 1], acc[SIG_LEN + 1];
	struct handshake_url u;
	char *req;

	(void)state;
	handshake_key(nonce, key);
	assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_int_equal(handshake_accept(key, acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	assert_int_equal(
	    handshake_parse_url("ws://127.0.0.1:5/twilio/media", &u), 0);
	req = handshake_request(&u, key, "SIG=");
	assert_non_null(strstr(req, "GET /twilio/media HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "\r\nHost: 127.0.0.1:5\r\n"));
	assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(req, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(
	    strstr(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(req, "\r\nX-Twilio-Signature: SIG=\r\n"));
	assert_null(strstr(req, "Origin"));
	assert_null(strstr(req, "Sec-WebSocket-Protocol"));
	assert_int_equal(strcmp(req + strlen(req) - 4, "\r\n\r\n"), 0);
	free(req);
	req = handshake_request(&u, key, NULL);
	assert_null(strstr(req, "X-Twilio-Signature"));
	free(req);
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACC "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static enum handshake_result
check(const char *resp, size_t *headlen, int *status, char *why)
{
	return handshake_check(
	    resp, strlen(resp), KEY, headlen, status, why, 96);
}

static void
test_check(void **state)
{
	const char *ok = "HTTP/1.1 101 Switching Protocols\r\n"
			 "upgrade: WebSocket\r\n"
			 "Connection: keep-alive, Upgrade\r\n"
			 "Sec-WebSocket-Accept:  " ACC " \r\n"
			 "\r\n\x81\x02hi";
	char why[96];
	size_t headlen;
	int status;

	(void)state;
	assert_int_equal(check(ok, &headlen, &status, why), HANDSHAKE_OK);
	assert_int_equal(status, 101);
	assert_int_equal(headlen, strlen(ok) - 4);

	assert_int_equal(
	    check("HTTP/1.1 101 Switching", &headlen, &status, why),
	    HANDSHAKE_INCOMPLETE);
	assert_int_equal(
	    check("HTTP/1.1 403 Forbidden\r\n\r\n", &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_int_equal(status, 403);
	assert_string_equal(why, "status 403, not 101");
	assert_int_equal(check("HTTP/1.1 301 Moved\r\nLocation: /x/\r\n\r\n",
			     &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_int_equal(check("HTTP/1.1 101 S\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\n\r\n",
			     &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_string_equal(why, "missing or wrong Sec-WebSocket-Accept");
	assert_int_equal(check("HTTP/1.1 101 S\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\n"
			       "Sec-WebSocket-Accept: "
			       "x3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
			     &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_int_equal(check("HTTP/1.1 101 S\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Accept: " ACC "\r\n\r\n",
			     &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_string_equal(why, "no Upgrade: websocket");
	assert_int_equal(check("HTTP/1.1 101 S\r\nUpgrade: websocket\r\n"
			       "Connection: close\r\n"
			       "Sec-WebSocket-Accept: " ACC "\r\n\r\n",
			     &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_int_equal(
	    check("HTTP/1.1 101 S\r\nUpgrade: websocket\r\n"
		  "Connection: Upgrade\r\n"
		  "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		  "Sec-WebSocket-Accept: " ACC "\r\n\r\n",
		&headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_int_equal(
	    check("HTTP/1.0 101 S\r\n\r\n", &headlen, &status, why),
	    HANDSHAKE_BAD);
	assert_int_equal(check("HTTP/1.1 101 S\r\nbroken header\r\n\r\n",
			     &headlen, &status, why),
	    HANDSHAKE_BAD);
}

static void
test_check_too_large(void **state)
{
	char *big = xmalloc(HANDSHAKE_MAX_HEAD + 64);
	char why[96];
	size_t headlen;
	int status;

	(void)state;
	memset(big, 'a', HANDSHAKE_MAX_HEAD + 63);
	memcpy(big, "HTTP/1.1 101 S\r\nX: ", 19);
	big[HANDSHAKE_MAX_HEAD + 63] = '\0';
	assert_int_equal(handshake_check(big, strlen(big), KEY, &headlen,
			     &status, why, sizeof(why)),
	    HANDSHAKE_BAD);
	assert_string_equal(why, "response head too large");
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_sig_refusals),
	    cmocka_unit_test(test_form_encode),
	    cmocka_unit_test(test_random_hex),
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_accept_and_request),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_check_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
