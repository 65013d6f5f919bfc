/*
 * XML escaping for the documents we write: TwiML answered to Twilio's
 * webhooks (gateway) and TwiML sent through Twilio's REST API
 * (twilio_rest.c).
 *
 * Why here: both write attribute values and text that come from outside
 * (phone numbers, URLs, a business's Hebrew phrases); one escaper means one
 * set of rules. It writes entities for the five XML special characters and
 * drops what XML 1.0 cannot carry at all: control characters other than
 * tab, LF and CR, and bytes that are not part of well-formed UTF-8
 * (overlong forms, surrogates, code points above U+10FFFF, U+FFFE and
 * U+FFFF). A document built from escaped pieces is therefore always
 * well-formed, whatever the input; Twilio refuses a malformed one (and a
 * webhook answer it cannot parse becomes "application error" for the
 * caller).
 *
 * Owns nothing; thread-safe; never logs.
 */
#ifndef MERKAZIA_XML_H
#define MERKAZIA_XML_H

#include <stddef.h>

struct evbuffer;

/* xml.c */
void xml_escape(struct evbuffer *out, const char *s);
char *xml_escape_alloc(const char *s);

#endif
