/*
 * handshake.c: the client side of the WebSocket opening handshake
 * (RFC 6455 section 4.1), as Twilio performs it for Media Streams.
 *
 * Why: Twilio opens the stream with a plain upgrade GET carrying
 * X-Twilio-Signature, no Origin, no subprotocol and no extensions (shared
 * reference twilio.md section 2.1), and treats any status but 101 as
 * error 31920. The simulated caller sends the same request and checks
 * the answer as strictly as a conforming client: status 101, "Upgrade:
 * websocket", "Connection" holding the token "upgrade",
 * Sec-WebSocket-Accept = base64(SHA-1(key + RFC GUID)), and no
 * Sec-WebSocket-Protocol or Sec-WebSocket-Extensions we never offered. A
 * redirect (the prototype's trailing-slash 31920) is a failure like any
 * other status.
 *
 * Pure: strings in, strings out (SHA-1 through OpenSSL's EVP), so the
 * unit test #includes it. Limits: a response head over HANDSHAKE_MAX_HEAD
 * bytes is refused; URLs are ws:// or wss:// with a host, an optional port
 * and a path; user info is refused.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base64.h"
#include "sim_caller.h"
#include "xmalloc.h"

#define HANDSHAKE_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/*
 * Split a ws:// or wss:// URL into *u. Return 0, or -1 for another
 * scheme, user info, an empty or too long host, a bad port or a path
 * that does not fit.
 */
int
handshake_parse_url(const char *url, struct handshake_url *u)
{
	const char *auth, *end, *host, *hend, *port = NULL;
	size_t alen, hlen, plen;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "ws://", 5) == 0) {
		auth = url + 5;
	} else if (strncasecmp(url, "wss://", 6) == 0) {
		auth = url + 6;
		u->tls = true;
	} else {
		return -1;
	}
	alen = strcspn(auth, "/?#");
	end = auth + alen;
	if (alen == 0 || memchr(auth, '@', alen) != NULL ||
	    alen >= sizeof(u->hostport))
		return -1;
	if (auth[0] == '[') {
		const char *rb = memchr(auth, ']', alen);

		if (rb == NULL)
			return -1;
		host = auth + 1;
		hend = rb;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			port = rb + 2;
		}
	} else {
		host = auth;
		hend = memchr(auth, ':', alen);
		if (hend != NULL)
			port = hend + 1;
		else
			hend = end;
	}
	hlen = (size_t)(hend - host);
	if (hlen == 0 || hlen >= sizeof(u->host))
		return -1;
	memcpy(u->host, host, hlen);
	if (port != NULL) {
		size_t portlen = (size_t)(end - port);
		long v = 0;

		if (portlen == 0 || portlen > 5)
			return -1;
		for (size_t i = 0; i < portlen; i++) {
			if (!isdigit((unsigned char)port[i]))
				return -1;
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535)
			return -1;
		memcpy(u->port, port, portlen);
	} else {
		(void)snprintf(
		    u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	memcpy(u->hostport, auth, alen);
	/* The path runs to the fragment; "ws://h?x" has the path "/?x". */
	plen = strcspn(end, "#");
	if (plen + (end[0] == '/' ? 0 : 1) >= sizeof(u->path))
		return -1;
	(void)snprintf(u->path, sizeof(u->path), "%s%.*s",
	    end[0] == '/' ? "" : "/", (int)plen, end);
	return 0;
}

/* Write the Sec-WebSocket-Key for a 16-byte nonce into key. */
void
handshake_key(const uint8_t nonce[16], char key[HANDSHAKE_KEY_LEN + 1])
{
	if (base64_encode(nonce, 16, key, HANDSHAKE_KEY_LEN + 1) < 0)
		key[0] = '\0'; /* cannot happen: 16 bytes are 24 characters */
}

/* Compute the Sec-WebSocket-Accept the server owes for key into accept.
 * Return 0 or -1. */
int
handshake_accept(const char *key, char accept[SIG_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *data = xasprintf("%s%s", key, HANDSHAKE_GUID);
	int ok;

	accept[0] = '\0';
	ok = EVP_Digest(data, strlen(data), md, &mdlen, EVP_sha1(), NULL);
	free(data);
	if (!ok || mdlen != 20)
		return -1;
	return base64_encode(md, mdlen, accept, SIG_LEN + 1);
}

/* Return the upgrade request for u (new string): Twilio's headers, with
 * X-Twilio-Signature unless signature is NULL. */
char *
handshake_request(
    const struct handshake_url *u, const char *key, const char *signature)
{
	return xasprintf("GET %s HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "User-Agent: Twilio.TmeWs/1.0\r\n"
			 "Connection: Upgrade\r\n"
			 "Upgrade: websocket\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "%s%s%s"
			 "Accept-Encoding: gzip\r\n"
			 "\r\n",
	    u->path, u->hostport, key,
	    signature != NULL ? "X-Twilio-Signature: " : "",
	    signature != NULL ? signature : "",
	    signature != NULL ? "\r\n" : "");
}

/* Return true when the comma-separated list (n bytes) holds token,
 * compared without case. */
static bool
handshake_has_token(const char *list, size_t n, const char *token)
{
	size_t tlen = strlen(token);
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (list[i] == ' ' || list[i] == '\t'))
			i++;
		s = i;
		while (i < n && list[i] != ',')
			i++;
		e = i;
		while (e > s && (list[e - 1] == ' ' || list[e - 1] == '\t'))
			e--;
		if (e - s == tlen && strncasecmp(list + s, token, tlen) == 0)
			return true;
		i++;
	}
	return false;
}

static enum handshake_result
handshake_bad(char *why, size_t whylen, const char *text)
{
	(void)snprintf(why, whylen, "%s", text);
	return HANDSHAKE_BAD;
}

/*
 * Check the len bytes of a server's answer at buf against the key we
 * sent. On HANDSHAKE_OK, *headlen is the length of the response head
 * (WebSocket frames may follow it in buf); *status is the HTTP status
 * once the status line is complete (0 before). On HANDSHAKE_BAD, why says
 * what was wrong.
 */
enum handshake_result
handshake_check(const char *buf, size_t len, const char *key, size_t *headlen,
    int *status, char *why, size_t whylen)
{
	const char *end = NULL, *line, *eol;
	char want[SIG_LEN + 1];
	bool upgrade = false, connection = false, accept = false;
	int code = 0;

	*headlen = 0;
	*status = 0;
	why[0] = '\0';
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i + 2; /* the head's last CRLF */
			*headlen = i + 4;
			break;
		}
	if (end == NULL)
		return len > HANDSHAKE_MAX_HEAD ? handshake_bad(why, whylen,
						      "response head too large")
						: HANDSHAKE_INCOMPLETE;
	if (*headlen > HANDSHAKE_MAX_HEAD)
		return handshake_bad(why, whylen, "response head too large");
	if (len < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0 ||
	    !isdigit((unsigned char)buf[9]) ||
	    !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]))
		return handshake_bad(why, whylen, "no HTTP/1.1 status line");
	code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	*status = code;
	if (code != 101) {
		(void)snprintf(why, whylen, "status %d, not 101", code);
		return HANDSHAKE_BAD;
	}
	if (handshake_accept(key, want) < 0)
		return handshake_bad(why, whylen, "cannot compute the accept");
	line = memchr(buf, '\n', (size_t)(end - buf));
	if (line == NULL)
		return handshake_bad(why, whylen, "malformed head");
	for (line++; line < end; line = eol + 1) {
		const char *colon, *v, *ve;
		size_t nlen;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			break;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL)
			return handshake_bad(why, whylen, "header without ':'");
		nlen = (size_t)(colon - line);
		v = colon + 1;
		ve = eol;
		if (ve > v && ve[-1] == '\r')
			ve--;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
#define HANDSHAKE_IS(name) \
	(nlen == strlen(name) && strncasecmp(line, name, strlen(name)) == 0)
		if (HANDSHAKE_IS("Upgrade"))
			upgrade =
			    upgrade || ((size_t)(ve - v) == 9 &&
					   strncasecmp(v, "websocket", 9) == 0);
		else if (HANDSHAKE_IS("Connection"))
			connection =
			    connection ||
			    handshake_has_token(v, (size_t)(ve - v), "upgrade");
		else if (HANDSHAKE_IS("Sec-WebSocket-Accept"))
			accept = (size_t)(ve - v) == SIG_LEN &&
				 memcmp(v, want, SIG_LEN) == 0;
		else if (HANDSHAKE_IS("Sec-WebSocket-Protocol"))
			return handshake_bad(
			    why, whylen, "a subprotocol nobody asked for");
		else if (HANDSHAKE_IS("Sec-WebSocket-Extensions"))
			return handshake_bad(
			    why, whylen, "an extension nobody asked for");
#undef HANDSHAKE_IS
	}
	if (!upgrade)
		return handshake_bad(why, whylen, "no Upgrade: websocket");
	if (!connection)
		return handshake_bad(why, whylen, "no Connection: upgrade");
	if (!accept)
		return handshake_bad(
		    why, whylen, "missing or wrong Sec-WebSocket-Accept");
	return HANDSHAKE_OK;
}
