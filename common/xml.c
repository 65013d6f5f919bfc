/*
 * XML escaping (see xml.h for the rules and why they live here).
 *
 * Works byte by byte on NUL-terminated UTF-8: ASCII is escaped or copied,
 * a multi-byte sequence is copied whole when it is well-formed (RFC 3629)
 * and an XML 1.0 character, and every byte of anything else is dropped on
 * its own, so one bad byte never swallows the valid text after it.
 */
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "xml.h"
#include "xmalloc.h"

/*
 * Return the length (2..4) of the well-formed UTF-8 sequence at s whose
 * code point XML allows, or 0 when the bytes there are not one.
 */
static size_t
xml_utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		cp = s[0] & 0x1Fu;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		cp = s[0] & 0x0Fu;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF)
		return 0; /* overlong or out of range */
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
		return 0; /* surrogates and non-characters XML excludes */
	return n;
}

/*
 * Append s to out escaped for XML text or a double- or single-quoted
 * attribute value: & < > " ' become entities; forbidden control
 * characters and malformed UTF-8 are dropped (see xml.h).
 */
void
xml_escape(struct evbuffer *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n;

		switch (*p) {
		case '&':
			evbuffer_add(out, "&amp;", 5);
			break;
		case '<':
			evbuffer_add(out, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(out, "&gt;", 4);
			break;
		case '"':
			evbuffer_add(out, "&quot;", 6);
			break;
		case '\'':
			evbuffer_add(out, "&apos;", 6);
			break;
		default:
			if (*p < 0x80) {
				if (*p >= 0x20 || *p == '\t' || *p == '\n' ||
				    *p == '\r')
					evbuffer_add(out, p, 1);
				break;
			}
			n = xml_utf8_len(p);
			if (n == 0)
				break; /* drop this byte only */
			evbuffer_add(out, p, n);
			p += n;
			continue;
		}
		p++;
	}
}

/* Return s escaped as by xml_escape() in a new string (caller frees). */
char *
xml_escape_alloc(const char *s)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *out;

	if (b == NULL)
		fatalx("xml: cannot allocate a buffer");
	xml_escape(b, s);
	len = evbuffer_get_length(b);
	out = xmalloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}
