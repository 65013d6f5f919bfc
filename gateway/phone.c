/*
 * Phone numbers as people type them, made E.164: the CSV import (and the
 * customer create route) get "050-1234567", "+972 50 123 4567",
 * "972501234567", "00972501234567" or "501234567" (a spreadsheet that ate
 * the leading zero) and must find the same customer every time, since
 * customers are keyed by (business, E.164 phone).
 *
 * Pure (R15): text in, text out, no state; unit-tested in
 * tests/unit/test_gateway_phone.c.
 *
 * Rules: spaces, dashes, dots, slashes and brackets are ignored; "00" is
 * "+"; a number without a country code is Israeli: 0 + 8 digits (a
 * landline, 0X-XXXXXXX) or 0 + 9 digits (a mobile 05X-XXXXXXX or 07X),
 * or the same without its zero (9 digits starting 5 or 7, 8 digits
 * starting 2, 3, 4, 8 or 9); "972..." without "+" is Israeli too, and a
 * zero kept after 972 ("+972-050-...") is dropped. An Israeli national
 * number has 8 or 9 digits and does not start with 0. Another country's
 * "+..." number is kept when it has 8 to 15 digits. Anything else
 * (letters, an extension, too short) is refused.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"

#define PHONE_DIGITS_MAX 20

/* Return true when an Israeli national number (no 0, no 972) is valid. */
static bool
phone_is_israeli(const char *d, size_t n)
{
	if (n < 8 || n > 9 || d[0] == '0')
		return false;
	if (n == 9)
		return d[0] == '5' || d[0] == '7';
	return strchr("23489", d[0]) != NULL;
}

/*
 * Normalise the phone number in len bytes of in to E.164 ("+972...")
 * into out (at least PHONE_E164_MAX + 1 bytes). Return 0, or -1 when in
 * is not a phone number.
 */
int
phone_normalize(const char *in, size_t len, char *out, size_t outlen)
{
	char d[PHONE_DIGITS_MAX + 1] = {0};
	size_t n = 0, i = 0;
	bool plus = false;
	const char *nat;
	size_t nlen;

	if (out == NULL || outlen < PHONE_E164_MAX + 1)
		return -1;
	out[0] = '\0';
	while (i < len && (in[i] == ' ' || in[i] == '\t'))
		i++;
	if (i < len && in[i] == '+') {
		plus = true;
		i++;
	}
	for (; i < len; i++) {
		char c = in[i];

		if (c >= '0' && c <= '9') {
			if (n >= PHONE_DIGITS_MAX)
				return -1;
			d[n++] = c;
		} else if (c != ' ' && c != '-' && c != '.' && c != '(' &&
			   c != ')' && c != '/' && c != '\t') {
			return -1;
		}
	}
	d[n] = '\0';
	if (n == 0)
		return -1;
	if (!plus && n > 2 && d[0] == '0' && d[1] == '0') {
		plus = true;
		memmove(d, d + 2, n - 1);
		n -= 2;
	}
	if (!plus && d[0] == '0') {
		nat = d + 1;
		nlen = n - 1;
	} else if (strncmp(d, "972", 3) == 0 && (plus || n >= 11)) {
		nat = d + 3;
		nlen = n - 3;
		if (nlen > 0 && nat[0] == '0') {
			nat++;
			nlen--;
		}
	} else if (!plus) {
		nat = d;
		nlen = n;
	} else {
		if (n < 8 || n > 15 || d[0] == '0')
			return -1;
		snprintf(out, outlen, "+%s", d);
		return 0;
	}
	if (!phone_is_israeli(nat, nlen))
		return -1;
	snprintf(out, outlen, "+972%.*s", (int)nlen, nat);
	return 0;
}

/* Return true when s is already E.164 ("+" and 7 to 15 digits, no 0
 * first), the form crm-store's customers table accepts. */
bool
phone_is_e164(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	n = strlen(s + 1);
	return n >= 7 && n <= 15 && strspn(s + 1, "0123456789") == n;
}
