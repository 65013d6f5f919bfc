/*
 * Fuzz target: X-Twilio-Signature (gateway/twilio_sig.c). The input is a
 * URL, a newline and a form body. The signature computed over them must be
 * accepted by every check, must not depend on the order of the pairs, and
 * a changed signature must be refused. The URL's port variants must never
 * crash and never equal the URL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "12345"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t ulen = nl ? (size_t)(nl - (const char *)data) : size;
	char *url = malloc(ulen + 1);
	char sig[TWILIO_SIG_LEN + 1], sig2[TWILIO_SIG_LEN + 1];
	struct form f;

	if (url == NULL)
		abort();
	memcpy(url, data, ulen);
	url[ulen] = '\0';
	if (strlen(url) != ulen) { /* a NUL inside: not a URL */
		free(url);
		return 0;
	}
	for (int v = 0; v < 2; v++) {
		char *alt = twilio_sig_url_variant(url, v == 0);

		if (alt != NULL && strcmp(alt, url) == 0)
			abort();
		free(alt);
	}
	if (form_parse(nl ? nl + 1 : "", nl ? size - ulen - 1 : 0, &f) < 0) {
		free(url);
		return 0;
	}
	if (twilio_sig_compute(TOKEN, url, &f, sig) < 0 ||
	    strlen(sig) != TWILIO_SIG_LEN ||
	    !twilio_sig_is_valid(TOKEN, url, &f, sig) ||
	    !twilio_sig_is_valid_any(TOKEN, url, &f, sig))
		abort();
	/* reverse the pairs: same signature */
	for (size_t i = 0; i < f.n / 2; i++) {
		struct form_pair t = f.pairs[i];

		f.pairs[i] = f.pairs[f.n - 1 - i];
		f.pairs[f.n - 1 - i] = t;
	}
	if (twilio_sig_compute(TOKEN, url, &f, sig2) < 0 ||
	    strcmp(sig, sig2) != 0)
		abort();
	sig2[0] = sig2[0] == 'A' ? 'B' : 'A';
	if (twilio_sig_is_valid(TOKEN, url, &f, sig2))
		abort();
	(void)twilio_sig_is_valid_ws(TOKEN, url, sig);
	form_free(&f);
	free(url);
	return 0;
}
