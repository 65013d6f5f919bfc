/*
 * twiml.c: read the TwiML the gateway answers the voice webhook with.
 *
 * Why: the simulated caller must act like Twilio on that answer. The
 * product answers <Response><Connect><Stream url="ws(s)://.../twilio/media"
 * statusCallback="..."><Parameter name=".." value=".."/>...</Stream>
 * </Connect></Response> (shared reference twilio.md section 1.4), or, for
 * a number no business owns, <Say>...</Say><Hangup/>: the first becomes a
 * media stream with the parameters as start.customParameters, the second
 * is reported as such (what the caller would hear), anything else as
 * "other" with the verbs listed, which is how the prototype's stale
 * <Record> answer would have shown up.
 *
 * A small XML reader, not a general one: elements, attributes in single
 * or double quotes, self-closing tags, text, the five named entities and
 * numeric character references; the <?xml?> declaration, comments and
 * <!DOCTYPE> are skipped; CDATA is refused. Element names are
 * case-sensitive as in TwiML. The root must be <Response>; mismatched or
 * unclosed tags, a <Stream> without url, or more than TWIML_MAX_PARAMS
 * parameters make the answer malformed (-1). Pure: bytes in, struct out,
 * no logging (the caller reports). Unit-tested by #including this file.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_caller.h"
#include "xmalloc.h"

#define TWIML_MAX_NAME 64

struct twiml_reader {
	const char *p;
	const char *end;
	char stack[TWIML_MAX_DEPTH][TWIML_MAX_NAME];
	size_t depth;
	bool root_seen;
	bool in_say; /* collecting the first <Say>'s text */
	char *say;   /* what was collected so far */
	size_t say_len;
	struct twiml *t;
};

const char *
twiml_kind_name(enum twiml_kind kind)
{
	switch (kind) {
	case TWIML_STREAM:
		return "stream";
	case TWIML_SAY_HANGUP:
		return "say-hangup";
	case TWIML_OTHER:
		break;
	}
	return "other";
}

/* Release what t points to and zero it. */
void
twiml_clear(struct twiml *t)
{
	free(t->stream_url);
	free(t->status_callback);
	free(t->say);
	for (size_t i = 0; i < t->nparams; i++) {
		free(t->params[i].name);
		free(t->params[i].value);
	}
	memset(t, 0, sizeof(*t));
}

/* Append the UTF-8 encoding of code point cp to out (room for 4). */
static size_t
twiml_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode one numeric reference body ("#65" or "#x41", without & and ;)
 * into *cp; return 0 or -1. */
static int
twiml_numeric(const char *s, size_t n, uint32_t *cp)
{
	uint32_t v = 0;
	size_t i = 1;
	int base = 10;

	if (n < 2 || s[0] != '#')
		return -1;
	if (s[1] == 'x' || s[1] == 'X') {
		base = 16;
		i = 2;
	}
	if (i >= n || n - i > 8)
		return -1;
	for (; i < n; i++) {
		char c = s[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return -1;
		v = v * (uint32_t)base + d;
	}
	if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return -1;
	*cp = v;
	return 0;
}

/* Return the n bytes at s with entities replaced, as a new string, or
 * NULL for an unknown or malformed entity. */
static char *
twiml_unescape(const char *s, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
	    {"amp", '&'},
	    {"lt", '<'},
	    {"gt", '>'},
	    {"quot", '"'},
	    {"apos", '\''},
	};
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *semi;
		size_t elen, k;
		uint32_t cp;

		if (s[i] != '&') {
			out[o++] = s[i];
			continue;
		}
		semi = memchr(s + i + 1, ';', n - i - 1);
		if (semi == NULL)
			goto bad;
		elen = (size_t)(semi - (s + i + 1));
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
			if (strlen(named[k].name) == elen &&
			    memcmp(named[k].name, s + i + 1, elen) == 0)
				break;
		if (k < sizeof(named) / sizeof(named[0])) {
			out[o++] = named[k].c;
		} else {
			/* A reference is at least 4 bytes ("&#9;"), so its
			 * UTF-8 (at most 4) never outgrows the input. */
			if (twiml_numeric(s + i + 1, elen, &cp) < 0)
				goto bad;
			o += twiml_utf8(cp, out + o);
		}
		i += elen + 1;
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static bool
twiml_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
twiml_is_name_end(char c)
{
	return twiml_is_space(c) || c == '=' || c == '/' || c == '>';
}

/* Skip past the first occurrence of the NUL-terminated marker; -1 when it
 * is not there. */
static int
twiml_skip_past(struct twiml_reader *r, const char *marker)
{
	size_t mlen = strlen(marker);

	for (const char *q = r->p; q + mlen <= r->end; q++)
		if (memcmp(q, marker, mlen) == 0) {
			r->p = q + mlen;
			return 0;
		}
	return -1;
}

/* Append sep (unless first) and name to t->verbs, silently truncated. */
static void
twiml_verb(struct twiml *t, const char *sep, const char *name)
{
	size_t len = strlen(t->verbs);

	(void)snprintf(t->verbs + len, sizeof(t->verbs) - len, "%s%s",
	    len > 0 ? sep : "", name);
}

/* Attributes of the start tag being read, as unescaped copies. */
struct twiml_attrs {
	char *names[8];
	char *values[8];
	size_t n;
};

static void
twiml_attrs_free(struct twiml_attrs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->names[i]);
		free(a->values[i]);
	}
	a->n = 0;
}

static const char *
twiml_attr(const struct twiml_attrs *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return a->values[i];
	return NULL;
}

/* Read attributes up to '>' or '/>'; set *self_closing. Return 0 or -1. */
static int
twiml_read_attrs(
    struct twiml_reader *r, struct twiml_attrs *a, bool *self_closing)
{
	for (;;) {
		const char *name, *val;
		size_t nlen;
		char q;

		while (r->p < r->end && twiml_is_space(*r->p))
			r->p++;
		if (r->p >= r->end)
			return -1;
		if (*r->p == '>') {
			r->p++;
			*self_closing = false;
			return 0;
		}
		if (*r->p == '/') {
			if (r->p + 1 >= r->end || r->p[1] != '>')
				return -1;
			r->p += 2;
			*self_closing = true;
			return 0;
		}
		name = r->p;
		while (r->p < r->end && !twiml_is_name_end(*r->p))
			r->p++;
		nlen = (size_t)(r->p - name);
		while (r->p < r->end && twiml_is_space(*r->p))
			r->p++;
		if (nlen == 0 || r->p >= r->end || *r->p != '=')
			return -1;
		r->p++;
		while (r->p < r->end && twiml_is_space(*r->p))
			r->p++;
		if (r->p >= r->end || (*r->p != '"' && *r->p != '\''))
			return -1;
		q = *r->p++;
		val = r->p;
		while (r->p < r->end && *r->p != q && *r->p != '<')
			r->p++;
		if (r->p >= r->end || *r->p != q)
			return -1;
		if (a->n == sizeof(a->names) / sizeof(a->names[0]))
			return -1;
		a->values[a->n] = twiml_unescape(val, (size_t)(r->p - val));
		if (a->values[a->n] == NULL)
			return -1;
		a->names[a->n] = xstrndup(name, nlen);
		a->n++;
		r->p++;
	}
}

/* Act on a start tag name (with attributes a) at the current depth. */
static int
twiml_element(
    struct twiml_reader *r, const char *name, const struct twiml_attrs *a)
{
	struct twiml *t = r->t;
	const char *parent = r->depth > 0 ? r->stack[r->depth - 1] : NULL;

	if (r->depth == 0) {
		if (r->root_seen || strcmp(name, "Response") != 0)
			return -1;
		r->root_seen = true;
		return 0;
	}
	if (r->depth == 1) {
		twiml_verb(t, ",", name);
		if (strcmp(name, "Hangup") == 0)
			t->hangup = true;
		if (strcmp(name, "Say") == 0 && t->say == NULL && !r->in_say) {
			r->in_say = true;
			r->say_len = 0;
		}
		return 0;
	}
	if (r->depth == 2 && strcmp(parent, "Connect") == 0 &&
	    strcmp(name, "Stream") == 0) {
		const char *url = twiml_attr(a, "url");
		const char *cb = twiml_attr(a, "statusCallback");

		twiml_verb(t, ">", name);
		if (url == NULL || url[0] == '\0' || t->stream_url != NULL)
			return -1;
		t->stream_url = xstrdup(url);
		if (cb != NULL)
			t->status_callback = xstrdup(cb);
		return 0;
	}
	if (r->depth == 3 && strcmp(parent, "Stream") == 0 &&
	    strcmp(name, "Parameter") == 0) {
		const char *pn = twiml_attr(a, "name");
		const char *pv = twiml_attr(a, "value");

		if (pn == NULL || t->nparams == TWIML_MAX_PARAMS)
			return -1;
		t->params[t->nparams].name = xstrdup(pn);
		t->params[t->nparams].value = xstrdup(pv != NULL ? pv : "");
		t->nparams++;
	}
	return 0;
}

/* Read one tag starting at '<'. Return 0 or -1. */
static int
twiml_tag(struct twiml_reader *r)
{
	struct twiml_attrs a = {{NULL}, {NULL}, 0};
	char name[TWIML_MAX_NAME];
	const char *start;
	bool closing = false, self_closing = false;
	size_t nlen;
	int rc = -1;

	r->p++; /* '<' */
	if (r->p < r->end && *r->p == '?')
		return twiml_skip_past(r, "?>");
	if (r->end - r->p >= 3 && memcmp(r->p, "!--", 3) == 0)
		return twiml_skip_past(r, "-->");
	if (r->end - r->p >= 8 && memcmp(r->p, "![CDATA[", 8) == 0)
		return -1;
	if (r->p < r->end && *r->p == '!')
		return twiml_skip_past(r, ">");
	if (r->p < r->end && *r->p == '/') {
		closing = true;
		r->p++;
	}
	start = r->p;
	while (r->p < r->end && !twiml_is_name_end(*r->p))
		r->p++;
	nlen = (size_t)(r->p - start);
	if (nlen == 0 || nlen >= sizeof(name))
		return -1;
	memcpy(name, start, nlen);
	name[nlen] = '\0';
	if (closing) {
		while (r->p < r->end && twiml_is_space(*r->p))
			r->p++;
		if (r->p >= r->end || *r->p != '>' || r->depth == 0 ||
		    strcmp(r->stack[r->depth - 1], name) != 0)
			return -1;
		r->p++;
		r->depth--;
		if (r->depth == 1 && r->in_say) {
			r->t->say = r->say != NULL ? r->say : xstrdup("");
			r->say = NULL;
			r->in_say = false;
		}
		return 0;
	}
	if (twiml_read_attrs(r, &a, &self_closing) < 0)
		goto done;
	if (r->in_say && r->depth >= 2) {
		/* SSML inside <Say>: keep only its text. */
	} else if (twiml_element(r, name, &a) < 0) {
		goto done;
	}
	if (self_closing) {
		if (r->depth == 1 && r->in_say) {
			r->t->say = xstrdup("");
			r->in_say = false;
		}
	} else {
		if (r->depth == TWIML_MAX_DEPTH)
			goto done;
		memcpy(r->stack[r->depth], name, nlen + 1);
		r->depth++;
	}
	rc = 0;
done:
	twiml_attrs_free(&a);
	return rc;
}

/* Collect text between tags when inside the first <Say>. */
static int
twiml_text(struct twiml_reader *r)
{
	const char *start = r->p;
	char *u;
	size_t ulen;

	while (r->p < r->end && *r->p != '<')
		r->p++;
	if (!r->in_say)
		return 0;
	if ((u = twiml_unescape(start, (size_t)(r->p - start))) == NULL)
		return -1;
	ulen = strlen(u);
	r->say = xreallocarray(r->say, r->say_len + ulen + 1, 1);
	memcpy(r->say + r->say_len, u, ulen + 1);
	r->say_len += ulen;
	free(u);
	return 0;
}

/* Decide what kind of answer t is from the verbs it holds. */
static enum twiml_kind
twiml_classify(const struct twiml *t)
{
	const char *v = t->verbs;

	if (t->stream_url != NULL)
		return TWIML_STREAM;
	if (v[0] == '\0')
		return TWIML_OTHER;
	while (*v != '\0') {
		size_t n = strcspn(v, ",");

		if (!((n == 3 && memcmp(v, "Say", 3) == 0) ||
			(n == 6 && memcmp(v, "Hangup", 6) == 0) ||
			(n == 5 && memcmp(v, "Pause", 5) == 0)))
			return TWIML_OTHER;
		v += n;
		if (*v == ',')
			v++;
	}
	return TWIML_SAY_HANGUP;
}

/*
 * Parse the len bytes of TwiML at xml into *out (zeroed first; release
 * with twiml_clear, also after a failure). Return 0, or -1 when it is not
 * a well-formed <Response> this reader understands.
 */
int
twiml_parse(const char *xml, size_t len, struct twiml *out)
{
	struct twiml_reader r;
	bool saw_close = false;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.p = xml;
	r.end = xml + len;
	r.t = out;
	/* A UTF-8 byte order mark is allowed before the declaration. */
	if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0)
		r.p += 3;
	while (r.p < r.end) {
		if (*r.p == '<') {
			bool had_root = r.root_seen;
			size_t depth = r.depth;

			if (twiml_tag(&r) < 0)
				goto bad;
			if (had_root && depth == 1 && r.depth == 0)
				saw_close = true;
			if (!had_root && r.root_seen && r.depth == 0)
				saw_close = true; /* <Response/> */
		} else {
			if (r.depth == 0) {
				while (r.p < r.end && twiml_is_space(*r.p))
					r.p++;
				if (r.p < r.end && *r.p != '<')
					goto bad;
				continue;
			}
			if (twiml_text(&r) < 0)
				goto bad;
		}
		if (saw_close && r.root_seen && r.depth == 0) {
			while (r.p < r.end && twiml_is_space(*r.p))
				r.p++;
			if (r.p != r.end)
				goto bad;
		}
	}
	if (!r.root_seen || r.depth != 0 || !saw_close)
		goto bad;
	out->kind = twiml_classify(out);
	return 0;
bad:
	free(r.say);
	return -1;
}
