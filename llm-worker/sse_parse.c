/*
 * An incremental parser of Server-Sent Events (text/event-stream), the
 * framing of OpenAI's streaming chat completions.
 *
 * Why a file of its own: the provider's bytes reach us in whatever pieces
 * TCP and libcurl make of them (a line, half a UTF-8 letter, three events
 * at once), so the parser keeps the partial line and the partial event
 * between calls and yields one callback per complete event. It is pure
 * (bytes in, callbacks out, no sockets, R15) so it is unit-tested at every
 * split point of a recorded stream and fuzzed (tests/fuzz/fuzz_llm_sse.c).
 *
 * The rules (WHATWG HTML "server-sent events", as OpenAI uses them):
 * lines end in CRLF, LF or CR (a CRLF split between two pieces is one
 * end); a line starting with ':' is a comment; "field: value" loses one
 * space after the colon; the data lines of an event are joined with '\n';
 * an empty line ends the event, which is dispatched only when it had a data
 * field; event:, id:, retry: and unknown fields are ignored (the chat
 * stream is data-only). The payload "[DONE]" ends the stream: it is
 * reported as SSE_PARSE_DONE and every byte after it is ignored.
 *
 * Limits: a line or an event larger than the parser's max is an error
 * (-1) and the parser refuses further input; nothing is allocated beyond
 * max plus one growth step. Owns its two buffers only.
 */
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "xmalloc.h"

/* Prepare p for a new stream; max bounds a line and an event (0: default). */
void
sse_parse_init(struct sse_parser *p, size_t max)
{
	memset(p, 0, sizeof(*p));
	p->max = max ? max : SSE_PARSE_EVENT_MAX;
}

void
sse_parse_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	free(p->line);
	free(p->data);
	p->line = p->data = NULL;
	p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

/* Append n bytes to a growing buffer; -1 when it would pass max. */
static int
sse_parse_append(
    char **buf, size_t *len, size_t *cap, const char *s, size_t n, size_t max)
{
	size_t want;

	if (n > max || *len > max - n)
		return -1;
	want = *len + n + 1;
	if (want > *cap || *buf == NULL) {
		size_t ncap = *cap ? *cap : 256;

		while (ncap < want)
			ncap *= 2;
		*buf = xreallocarray(*buf, ncap, 1);
		*cap = ncap;
	}
	if (n > 0)
		memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* Dispatch the event collected so far; return the callback's answer. */
static int
sse_parse_dispatch(struct sse_parser *p,
    int (*on_event)(enum sse_parse_kind, const char *, size_t, void *),
    void *arg)
{
	const char *d = p->data != NULL ? p->data : "";
	size_t n = p->data != NULL ? p->data_len : 0;
	int rc;

	if (!p->has_data)
		return 0;
	p->has_data = false;
	p->events++;
	if (n == 6 && memcmp(d, "[DONE]", 6) == 0) {
		p->done = true;
		rc = on_event(SSE_PARSE_DONE, d, n, arg);
	} else
		rc = on_event(SSE_PARSE_DATA, d, n, arg);
	if (p->data != NULL) {
		p->data_len = 0;
		p->data[0] = '\0';
	}
	return rc != 0 ? 1 : 0;
}

/* Act on one complete line (without its end). */
static int
sse_parse_line(struct sse_parser *p, const char *line, size_t len,
    int (*on_event)(enum sse_parse_kind, const char *, size_t, void *),
    void *arg)
{
	const char *colon;
	const char *value = "";
	size_t name_len = len, value_len = 0;

	if (len == 0)
		return sse_parse_dispatch(p, on_event, arg);
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	if (colon != NULL) {
		name_len = (size_t)(colon - line);
		value = colon + 1;
		value_len = len - name_len - 1;
		if (value_len > 0 && value[0] == ' ') {
			value++;
			value_len--;
		}
	}
	if (name_len != 4 || memcmp(line, "data", 4) != 0)
		return 0;
	if (p->has_data && sse_parse_append(&p->data, &p->data_len,
			       &p->data_cap, "\n", 1, p->max) < 0)
		return -1;
	if (sse_parse_append(&p->data, &p->data_len, &p->data_cap, value,
		value_len, p->max) < 0)
		return -1;
	p->has_data = true;
	return 0;
}

/*
 * Feed len bytes of the stream to p; call on_event(kind, data, data_len,
 * arg) for each complete event (data is NUL-terminated and valid until the
 * callback returns). A non-zero return of the callback stops the parse:
 * return 1 then (the rest of buf is dropped). Return 0 when every byte was
 * taken, or -1 when a line or an event passes the limit (the parser then
 * refuses further input).
 */
int
sse_parse_feed(struct sse_parser *p, const void *buf, size_t len,
    int (*on_event)(enum sse_parse_kind, const char *, size_t, void *),
    void *arg)
{
	const char *s = buf;
	size_t i = 0;

	if (p->failed)
		return -1;
	while (i < len && !p->done) {
		const char *nl;
		size_t end, n;
		int rc;

		if (p->skip_lf) {
			p->skip_lf = false;
			if (s[i] == '\n') {
				i++;
				continue;
			}
		}
		/* The end of the line: the first CR or LF from i. */
		for (end = i; end < len && s[end] != '\n' && s[end] != '\r';
		     end++)
			;
		n = end - i;
		if (end == len) {
			if (sse_parse_append(&p->line, &p->line_len,
				&p->line_cap, s + i, n, p->max) < 0) {
				p->failed = true;
				return -1;
			}
			break;
		}
		if (s[end] == '\r')
			p->skip_lf = true;
		if (p->line_len > 0) {
			if (sse_parse_append(&p->line, &p->line_len,
				&p->line_cap, s + i, n, p->max) < 0) {
				p->failed = true;
				return -1;
			}
			nl = p->line;
			n = p->line_len;
		} else
			nl = s + i;
		i = end + 1;
		rc = sse_parse_line(p, nl, n, on_event, arg);
		p->line_len = 0;
		if (rc < 0) {
			p->failed = true;
			return -1;
		}
		if (rc != 0)
			return 1;
	}
	return 0;
}

/*
 * The stream ended: treat a last line without its end as complete and
 * dispatch an event that lacked its final empty line (servers differ).
 * Return like sse_parse_feed.
 */
int
sse_parse_finish(struct sse_parser *p,
    int (*on_event)(enum sse_parse_kind, const char *, size_t, void *),
    void *arg)
{
	int rc = 0;

	if (p->failed)
		return -1;
	if (p->done)
		return 0;
	if (p->line_len > 0) {
		rc = sse_parse_line(p, p->line, p->line_len, on_event, arg);
		p->line_len = 0;
		if (rc < 0)
			p->failed = true;
		if (rc != 0)
			return rc;
	}
	return sse_parse_dispatch(p, on_event, arg);
}

/* Whether the stream's [DONE] was seen. */
bool
sse_parse_is_done(const struct sse_parser *p)
{
	return p->done;
}
