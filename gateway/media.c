/*
 * Twilio Media Streams messages, both ways, as pure functions (R15).
 *
 * Why a file of its own: every text frame Twilio sends on /twilio/media is
 * one JSON message (connected, start, media, mark, dtmf, stop; shapes in
 * docs/gateway.md), and everything we send back (media, mark, clear) must
 * carry exactly the streamSid Twilio gave in "start" (a made-up one is
 * Twilio error 31951, the prototype's silence). Parsing bytes into a
 * struct media_msg and building the outbound text here, without sockets,
 * lets the unit tests and the twilio_media fuzz target reach every branch.
 *
 * Parsing is strict about what the gateway relies on and lenient about the
 * rest: numeric fields Twilio sends as strings ("sequenceNumber":"4") are
 * also accepted as JSON integers; unknown extra fields are ignored; a
 * streamSid or callSid longer than MEDIA_SID_MAX - 1 or holding anything
 * but [A-Za-z0-9_.:-] is refused (it goes into our own JSON and logs);
 * start.mediaFormat must be audio/x-mulaw, 8000 Hz, 1 channel
 * (MEDIA_ERR_FORMAT otherwise); media.payload must be strict base64. The
 * caller logs and counts a refused message and the call goes on.
 * Inbound `media` messages of Twilio's usual shape are read by a scanner
 * (media_parse_fast) instead of jansson, with the same result; everything
 * else goes through jansson (media_parse_json).
 *
 * Owns nothing but what a struct media_msg holds (media_msg_clean) and the
 * strings the builders return (caller frees). Never logs.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "gateway.h"
#include "log.h"
#include "xmalloc.h"

static const char *const media_type_names[] = {
    "connected", "start", "media", "mark", "dtmf", "stop"};

static const char *const media_error_names[] = {
    "ok", "json", "event", "unknown", "field", "base64", "format"};

/* Return the event name of t ("start"). */
const char *
media_type_name(enum media_type t)
{
	if ((size_t)t < sizeof(media_type_names) / sizeof(*media_type_names))
		return media_type_names[t];
	return "?";
}

/* Return a short name of e for logs and metrics ("json"). */
const char *
media_error_name(enum media_error e)
{
	if ((size_t)e < sizeof(media_error_names) / sizeof(*media_error_names))
		return media_error_names[e];
	return "?";
}

/*
 * Return true when s is a usable stream or call SID: 1 to MEDIA_SID_MAX -
 * 1 characters of [A-Za-z0-9_.:-] (Twilio's are MZ/CA + 32 hex digits).
 */
bool
media_is_valid_sid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '.' ||
			c == ':' || c == '-'))
			return false;
	}
	return n > 0 && n < MEDIA_SID_MAX;
}

/* ---- parsing ---------------------------------------------------------- */

static enum media_error
media_fail(struct media_msg *m, enum media_error e, const char *why)
{
	m->error = why;
	return e;
}

/*
 * Copy the string member key of o into out (size bytes). Return 0 (also
 * when absent and !required, leaving ""), or -1 when it is not a string,
 * holds a NUL or does not fit.
 */
static int
media_get_str(json_t *o, const char *key, char *out, size_t size, bool required)
{
	json_t *v = json_object_get(o, key);
	size_t len;

	out[0] = '\0';
	if (v == NULL)
		return required ? -1 : 0;
	if (!json_is_string(v))
		return -1;
	len = json_string_length(v);
	if (len >= size || memchr(json_string_value(v), '\0', len) != NULL)
		return -1;
	memcpy(out, json_string_value(v), len + 1);
	return 0;
}

static int
media_get_sid(json_t *o, const char *key, char *out, bool required)
{
	if (media_get_str(o, key, out, MEDIA_SID_MAX, required) < 0)
		return -1;
	if (out[0] != '\0' && !media_is_valid_sid(out))
		return -1;
	return 0;
}

/*
 * Read the non-negative number member key of o, a decimal string (as
 * Twilio sends) or an integer, into *out; -1 when absent. Return 0, or -1
 * when it is something else.
 */
static int
media_get_num(json_t *o, const char *key, long *out)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	char *end;
	long n;

	*out = -1;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0 || i > (json_int_t)LONG_MAX)
			return -1;
		*out = (long)i;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (s[0] < '0' || s[0] > '9' || json_string_length(v) != strlen(s) ||
	    strlen(s) > 18)
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || n < 0)
		return -1;
	*out = n;
	return 0;
}

static unsigned int
media_track_bit(const char *s)
{
	if (strcmp(s, "inbound") == 0 || strcmp(s, "inbound_track") == 0)
		return MEDIA_TRACK_INBOUND;
	if (strcmp(s, "outbound") == 0 || strcmp(s, "outbound_track") == 0)
		return MEDIA_TRACK_OUTBOUND;
	return 0;
}

static enum media_error
media_parse_format(struct media_msg *m, json_t *f)
{
	json_t *enc = json_object_get(f, "encoding");
	json_t *rate = json_object_get(f, "sampleRate");
	json_t *ch = json_object_get(f, "channels");
	long r = -1, c = -1;

	if (!json_is_object(f))
		return media_fail(
		    m, MEDIA_ERR_FORMAT, "start without mediaFormat");
	if (!json_is_string(enc) ||
	    strcmp(json_string_value(enc), "audio/x-mulaw") != 0)
		return media_fail(
		    m, MEDIA_ERR_FORMAT, "mediaFormat.encoding is not mu-law");
	if (rate == NULL || media_get_num(f, "sampleRate", &r) < 0 || r != 8000)
		return media_fail(
		    m, MEDIA_ERR_FORMAT, "mediaFormat.sampleRate is not 8000");
	if (ch == NULL || media_get_num(f, "channels", &c) < 0 || c != 1)
		return media_fail(
		    m, MEDIA_ERR_FORMAT, "mediaFormat.channels is not 1");
	return MEDIA_OK;
}

static enum media_error
media_parse_start(struct media_msg *m, json_t *root)
{
	json_t *st = json_object_get(root, "start");
	json_t *tracks, *params, *v;
	const char *key;
	enum media_error e;
	size_t i;

	if (!json_is_object(st))
		return media_fail(
		    m, MEDIA_ERR_FIELD, "start without \"start\"");
	if (media_get_sid(st, "streamSid", m->stream_sid, false) < 0 ||
	    media_get_sid(st, "callSid", m->call_sid, false) < 0 ||
	    media_get_sid(st, "accountSid", m->account_sid, false) < 0)
		return media_fail(m, MEDIA_ERR_FIELD, "start: bad SID");
	if (m->stream_sid[0] == '\0' &&
	    media_get_sid(root, "streamSid", m->stream_sid, true) < 0)
		return media_fail(
		    m, MEDIA_ERR_FIELD, "start without streamSid");
	tracks = json_object_get(st, "tracks");
	if (tracks != NULL && !json_is_array(tracks))
		return media_fail(
		    m, MEDIA_ERR_FIELD, "start.tracks not a list");
	json_array_foreach(tracks, i, v) {
		if (!json_is_string(v))
			return media_fail(m, MEDIA_ERR_FIELD,
			    "start.tracks holds a non-string");
		m->tracks |= media_track_bit(json_string_value(v));
	}
	if ((e = media_parse_format(m, json_object_get(st, "mediaFormat"))) !=
	    MEDIA_OK)
		return e;
	params = json_object_get(st, "customParameters");
	if (params == NULL)
		return MEDIA_OK;
	if (!json_is_object(params))
		return media_fail(
		    m, MEDIA_ERR_FIELD, "start.customParameters not an object");
	if (json_object_size(params) > MEDIA_PARAMS_MAX)
		return media_fail(
		    m, MEDIA_ERR_FIELD, "too many customParameters");
	m->params = xcalloc(json_object_size(params) + 1, sizeof(*m->params));
	json_object_foreach(params, key, v) {
		struct media_param *p = &m->params[m->nparams];

		/* Twilio caps a name + value at 500 characters. */
		if (!json_is_string(v) || strlen(key) > 500 ||
		    json_string_length(v) > 500 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return media_fail(
			    m, MEDIA_ERR_FIELD, "bad customParameters value");
		p->name = xstrdup(key);
		p->value = xstrdup(json_string_value(v));
		m->nparams++;
	}
	return MEDIA_OK;
}

static enum media_error
media_parse_media(struct media_msg *m, json_t *root)
{
	json_t *md = json_object_get(root, "media");
	json_t *payload;
	char track[32];
	size_t len;

	if (!json_is_object(md))
		return media_fail(
		    m, MEDIA_ERR_FIELD, "media without \"media\"");
	if (media_get_str(md, "track", track, sizeof(track), false) < 0)
		return media_fail(
		    m, MEDIA_ERR_FIELD, "media.track not a string");
	m->track =
	    track[0] != '\0' ? media_track_bit(track) : MEDIA_TRACK_INBOUND;
	if (m->track == 0)
		return media_fail(m, MEDIA_ERR_FIELD, "media.track unknown");
	if (media_get_num(md, "chunk", &m->chunk) < 0 ||
	    media_get_num(md, "timestamp", &m->timestamp) < 0)
		return media_fail(m, MEDIA_ERR_FIELD,
		    "media.chunk or timestamp not a number");
	payload = json_object_get(md, "payload");
	if (!json_is_string(payload))
		return media_fail(m, MEDIA_ERR_FIELD, "media without payload");
	len = json_string_length(payload);
	if (base64_decode_alloc(json_string_value(payload), len, &m->payload,
		&m->payload_len) < 0)
		return media_fail(
		    m, MEDIA_ERR_BASE64, "media.payload is not base64");
	return MEDIA_OK;
}

static enum media_error
media_parse_body(struct media_msg *m, json_t *root, const char *ev)
{
	json_t *o;

	if (strcmp(ev, "connected") == 0) {
		m->type = MEDIA_CONNECTED;
		if (media_get_str(root, "protocol", m->protocol,
			sizeof(m->protocol), false) < 0 ||
		    media_get_str(root, "version", m->version,
			sizeof(m->version), false) < 0)
			return media_fail(m, MEDIA_ERR_FIELD,
			    "connected: bad protocol or version");
		return MEDIA_OK;
	}
	if (strcmp(ev, "start") == 0) {
		m->type = MEDIA_START;
		return media_parse_start(m, root);
	}
	if (strcmp(ev, "media") == 0) {
		m->type = MEDIA_MEDIA;
		return media_parse_media(m, root);
	}
	if (strcmp(ev, "mark") == 0) {
		m->type = MEDIA_MARK;
		o = json_object_get(root, "mark");
		if (!json_is_object(o) || media_get_str(o, "name", m->name,
					      sizeof(m->name), true) < 0)
			return media_fail(
			    m, MEDIA_ERR_FIELD, "mark without mark.name");
		return MEDIA_OK;
	}
	if (strcmp(ev, "dtmf") == 0) {
		m->type = MEDIA_DTMF;
		o = json_object_get(root, "dtmf");
		if (!json_is_object(o) ||
		    media_get_str(
			o, "digit", m->digit, sizeof(m->digit), true) < 0 ||
		    m->digit[0] == '\0')
			return media_fail(
			    m, MEDIA_ERR_FIELD, "dtmf without dtmf.digit");
		return MEDIA_OK;
	}
	if (strcmp(ev, "stop") == 0) {
		m->type = MEDIA_STOP;
		o = json_object_get(root, "stop");
		if (o != NULL && !json_is_object(o))
			return media_fail(
			    m, MEDIA_ERR_FIELD, "stop.stop not an object");
		if (o != NULL &&
		    (media_get_sid(o, "callSid", m->call_sid, false) < 0 ||
			media_get_sid(o, "accountSid", m->account_sid, false) <
			    0))
			return media_fail(m, MEDIA_ERR_FIELD, "stop: bad SID");
		return MEDIA_OK;
	}
	return media_fail(m, MEDIA_ERR_UNKNOWN, "unknown event");
}

static void
media_msg_reset(struct media_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->seq = m->chunk = m->timestamp = -1;
}

/*
 * Parse the len bytes at buf like media_parse, with jansson only (the
 * general path, and the unit tests' reference for the fast one).
 */
enum media_error
media_parse_json(const char *buf, size_t len, struct media_msg *m)
{
	json_error_t jerr;
	json_t *root, *ev;
	enum media_error e;

	media_msg_reset(m);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return media_fail(m, MEDIA_ERR_JSON, "not a JSON object");
	}
	ev = json_object_get(root, "event");
	if (!json_is_string(ev)) {
		json_decref(root);
		return media_fail(m, MEDIA_ERR_EVENT, "no event");
	}
	if (media_get_num(root, "sequenceNumber", &m->seq) < 0)
		e = media_fail(m, MEDIA_ERR_FIELD, "bad sequenceNumber");
	else if (media_get_sid(root, "streamSid", m->stream_sid, false) < 0)
		e = media_fail(m, MEDIA_ERR_FIELD, "bad streamSid");
	else
		e = media_parse_body(m, root, json_string_value(ev));
	json_decref(root);
	return e;
}

/* ---- the fast path for `media` ---------------------------------------- */

/*
 * An inbound `media` message arrives 50 times a second per call, always in
 * one shape: {"event":"media","sequenceNumber":"N","media":{"track":"...",
 * "chunk":"N","timestamp":"N","payload":"<base64>"},"streamSid":"MZ..."},
 * members in any order. A jansson tree per message was a quarter of the
 * gateway's CPU (docs/benchmarks.md), so media_parse_fast reads exactly that
 * shape straight from the buffer. It accepts a message only when it is
 * sure jansson would give the same result: every string plain printable
 * ASCII without escapes, no member but those above, none twice, every
 * value a string (the media object aside), nothing but blanks after the
 * object, and every field valid. For anything else, error or not, it
 * declines and media_parse runs the general path, which decides and says
 * why; so the fast path changes no result, only the cost.
 */
struct media_span {
	const char *p;
	size_t n;
	bool set;
};

struct media_scan {
	const char *p;
	const char *end;
};

static void
media_scan_blanks(struct media_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Consume byte c (after blanks); -1 when something else comes. */
static int
media_scan_char(struct media_scan *s, char c)
{
	media_scan_blanks(s);
	if (s->p >= s->end || *s->p != c)
		return -1;
	s->p++;
	return 0;
}

/*
 * Read a JSON string (after blanks) into *out, without its quotes. With
 * check, every byte must be printable ASCII other than a backslash (so
 * the bytes are the string); without, the caller validates the bytes
 * (base64 admits no quote, backslash or control character). -1 when
 * there is no such string.
 */
static int
media_scan_str(struct media_scan *s, struct media_span *out, bool check)
{
	const char *q;

	if (media_scan_char(s, '"') < 0)
		return -1;
	q = memchr(s->p, '"', (size_t)(s->end - s->p));
	if (q == NULL)
		return -1;
	if (check)
		for (const char *c = s->p; c < q; c++)
			if (*c < 0x20 || *c > 0x7e || *c == '\\')
				return -1;
	if (out->set)
		return -1; /* a member twice: jansson refuses it */
	out->p = s->p;
	out->n = (size_t)(q - s->p);
	out->set = true;
	s->p = q + 1;
	return 0;
}

static bool
media_span_is(const struct media_span *sp, const char *lit)
{
	size_t n = strlen(lit);

	return sp->n == n && memcmp(sp->p, lit, n) == 0;
}

/* The members of {"track", "chunk", "timestamp", "payload"}. */
static int
media_scan_inner(struct media_scan *s, struct media_span *track,
    struct media_span *chunk, struct media_span *ts, struct media_span *pl)
{
	if (media_scan_char(s, '{') < 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		struct media_span key = {NULL, 0, false};
		struct media_span *v;

		if (media_scan_str(s, &key, true) < 0 ||
		    media_scan_char(s, ':') < 0)
			return -1;
		if (media_span_is(&key, "payload"))
			v = pl;
		else if (media_span_is(&key, "track"))
			v = track;
		else if (media_span_is(&key, "chunk"))
			v = chunk;
		else if (media_span_is(&key, "timestamp"))
			v = ts;
		else
			return -1;
		if (media_scan_str(s, v, v != pl) < 0)
			return -1;
		media_scan_blanks(s);
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		if (media_scan_char(s, ',') < 0)
			return -1;
	}
	return -1;
}

/*
 * A number as media_get_num takes it from a string: 1 to 18 digits. Store
 * it in *out (-1 when absent); -1 for anything else.
 */
static int
media_span_num(const struct media_span *sp, long *out)
{
	long n = 0;

	*out = -1;
	if (!sp->set)
		return 0;
	if (sp->n == 0 || sp->n > 18)
		return -1;
	for (size_t i = 0; i < sp->n; i++) {
		if (sp->p[i] < '0' || sp->p[i] > '9')
			return -1;
		n = n * 10 + (sp->p[i] - '0');
	}
	*out = n;
	return 0;
}

/*
 * Parse a `media` message of the usual shape into *m (which needs no
 * setup). Return 0 with m filled as media_parse_json would fill it, or -1
 * to leave the message to media_parse_json (m then holds nothing to free).
 */
int
media_parse_fast(const char *buf, size_t len, struct media_msg *m)
{
	struct media_scan s = {buf, buf + len};
	struct media_span ev = {NULL, 0, false}, seq = ev, sid = ev;
	struct media_span track = ev, chunk = ev, ts = ev, pl = ev;
	bool inner = false;
	char trk[32];

	media_msg_reset(m);
	if (media_scan_char(&s, '{') < 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		struct media_span key = {NULL, 0, false};
		struct media_span *v;

		if (media_scan_str(&s, &key, true) < 0 ||
		    media_scan_char(&s, ':') < 0)
			return -1;
		if (media_span_is(&key, "media")) {
			if (inner ||
			    media_scan_inner(&s, &track, &chunk, &ts, &pl) < 0)
				return -1;
			inner = true;
			v = NULL;
		} else if (media_span_is(&key, "event")) {
			v = &ev;
		} else if (media_span_is(&key, "sequenceNumber")) {
			v = &seq;
		} else if (media_span_is(&key, "streamSid")) {
			v = &sid;
		} else {
			return -1;
		}
		if (v != NULL && media_scan_str(&s, v, true) < 0)
			return -1;
		media_scan_blanks(&s);
		if (s.p < s.end && *s.p == '}') {
			s.p++;
			break;
		}
		if (media_scan_char(&s, ',') < 0)
			return -1;
	}
	media_scan_blanks(&s);
	if (s.p != s.end || !inner || !ev.set || !media_span_is(&ev, "media") ||
	    !pl.set || sid.n >= MEDIA_SID_MAX || track.n >= sizeof(trk))
		return -1;
	if (media_span_num(&seq, &m->seq) < 0 ||
	    media_span_num(&chunk, &m->chunk) < 0 ||
	    media_span_num(&ts, &m->timestamp) < 0)
		return -1;
	if (sid.n > 0) {
		memcpy(m->stream_sid, sid.p, sid.n);
		m->stream_sid[sid.n] = '\0';
		if (!media_is_valid_sid(m->stream_sid))
			return -1;
	}
	m->track = MEDIA_TRACK_INBOUND;
	if (track.n > 0) {
		memcpy(trk, track.p, track.n);
		trk[track.n] = '\0';
		if ((m->track = media_track_bit(trk)) == 0)
			return -1;
	}
	if (base64_decode_alloc(pl.p, pl.n, &m->payload, &m->payload_len) < 0)
		return -1;
	m->type = MEDIA_MEDIA;
	return 0;
}

/*
 * Parse the len bytes at buf, one Media Streams message, into *m (which
 * needs no setup; media_msg_clean it afterwards whatever the result).
 * Return MEDIA_OK, or the error with m->error saying why.
 */
enum media_error
media_parse(const char *buf, size_t len, struct media_msg *m)
{
	if (media_parse_fast(buf, len, m) == 0)
		return MEDIA_OK;
	return media_parse_json(buf, len, m);
}

/* Free what m holds; m may be parsed again afterwards. */
void
media_msg_clean(struct media_msg *m)
{
	for (size_t i = 0; i < m->nparams; i++) {
		free(m->params[i].name);
		free(m->params[i].value);
	}
	X_FREE(m->params);
	m->nparams = 0;
	X_FREE(m->payload);
	m->payload_len = 0;
}

/* Return the value of custom parameter name in a start message, or NULL. */
const char *
media_param(const struct media_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nparams; i++)
		if (strcmp(m->params[i].name, name) == 0)
			return m->params[i].value;
	return NULL;
}

/*
 * Note sequence number seq (-1: the message had none) of a stream and
 * return how many numbers went missing just before it (also added to
 * s->gaps). A number not above the last one is counted as reordered.
 */
unsigned long
media_seq_note(struct media_seq *s, long seq)
{
	unsigned long missing = 0;

	if (seq < 0)
		return 0;
	if (seq <= s->last) {
		s->reordered++;
		return 0;
	}
	if (s->last > 0 && seq > s->last + 1)
		missing = (unsigned long)(seq - s->last - 1);
	s->gaps += missing;
	s->last = seq;
	return missing;
}

/* ---- building --------------------------------------------------------- */

/*
 * Write the text of a media message carrying the len mu-law bytes at
 * mulaw for stream_sid (a valid SID) into buf (size bytes) with a NUL.
 * Return its length, or 0 when it does not fit. Built by hand: it goes
 * out 50 times a second per call.
 */
size_t
media_format_media(char *buf, size_t size, const char *stream_sid,
    const uint8_t *mulaw, size_t len)
{
	static const char head[] = "{\"event\":\"media\",\"streamSid\":\"";
	static const char mid[] = "\",\"media\":{\"payload\":\"";
	static const char tail[] = "\"}}";
	size_t sidlen = strlen(stream_sid);
	size_t b64 = base64_encoded_len(len);
	size_t total = sizeof(head) - 1 + sidlen + sizeof(mid) - 1 + b64 +
		       sizeof(tail) - 1;
	char *p = buf;

	if (b64 < len || total >= size)
		return 0;
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	memcpy(p, stream_sid, sidlen);
	p += sidlen;
	memcpy(p, mid, sizeof(mid) - 1);
	p += sizeof(mid) - 1;
	if (base64_encode(mulaw, len, p, b64 + 1) < 0)
		return 0;
	p += b64;
	memcpy(p, tail, sizeof(tail));
	return total;
}

/*
 * Return the text of a media message carrying the len mu-law bytes at
 * mulaw for stream_sid (a valid SID), and its length in *outlen (caller
 * frees).
 */
char *
media_build_media(
    const char *stream_sid, const uint8_t *mulaw, size_t len, size_t *outlen)
{
	size_t size = 64 + strlen(stream_sid) + base64_encoded_len(len);
	char *s = xmalloc(size);

	*outlen = media_format_media(s, size, stream_sid, mulaw, len);
	if (*outlen == 0)
		fatalx("media: buffer too small for a media message");
	return s;
}

static char *
media_dump(json_t *j, size_t *outlen)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(j);
	if (s == NULL)
		fatalx("media: out of memory building a message");
	*outlen = strlen(s);
	return s;
}

/* Return the text of a mark message named name (caller frees). */
char *
media_build_mark(const char *stream_sid, const char *name, size_t *outlen)
{
	return media_dump(json_pack("{s:s, s:s, s:{s:s}}", "event", "mark",
			      "streamSid", stream_sid, "mark", "name", name),
	    outlen);
}

/* Return the text of a clear message (caller frees). */
char *
media_build_clear(const char *stream_sid, size_t *outlen)
{
	return media_dump(
	    json_pack("{s:s, s:s}", "event", "clear", "streamSid", stream_sid),
	    outlen);
}
