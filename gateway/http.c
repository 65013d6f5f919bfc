/*
 * HTTP/1.1 server on libevent bufferevents, parsing with http-parser.
 *
 * Why hand-built instead of evhttp: Twilio's Media Streams arrive as an
 * HTTP Upgrade on the same port as the webhooks, and the WebSocket layer
 * (ws.c, later) must take the connection's bufferevent over with the bytes
 * already read; evhttp cannot hand a connection over. http-parser is
 * unmaintained upstream (nodejs/http-parser#522), so this is the only file
 * that includes it (R14) and can be ported to llhttp alone.
 *
 * Two layers:
 *  - struct http_reader: a pure parser (R15). Feed it bytes in any splits;
 *    it stops after each complete request (http_parser_pause), so
 *    pipelined requests come out one by one and bytes after an upgrade
 *    request are never consumed. Limits: HTTP_URL_MAX (414),
 *    HTTP_HEADER_BYTES_MAX of request target, names and values and
 *    HTTP_HEADERS_MAX headers (431), the body limit given to
 *    http_reader_new (413, checked against Content-Length before the body
 *    arrives and against chunked bodies as they arrive); anything
 *    http-parser rejects, a target not starting with '/', or an HTTP/1.1
 *    request without Host is a 400.
 *  - struct http_server / struct http_conn: the listener and connections.
 *    Requests of a connection are handled one at a time, in order, by a
 *    synchronous handler (routes.c), which must never wait on another
 *    service. Keep-alive is http-parser's verdict; an error, an Upgrade
 *    not taken over, "Connection: close" or a stopping server closes the
 *    connection after the response is flushed, with a short lingering
 *    read so the client sees the answer instead of a reset. Timeouts: a
 *    request must arrive whole within read_timeout_ms of its first byte
 *    (408), a keep-alive connection idle for idle_timeout_ms is closed,
 *    and a client that does not take its response for write_timeout_ms is
 *    dropped. While more than HTTP_OUT_HIGH bytes wait to be sent, reading
 *    pauses.
 *
 * Freeing (R8): a connection is never freed inside its own callbacks; it
 * is marked dead and moved to a list a zero-delay event frees.
 *
 * Upgrade hook: a handler called for a request with req->upgrade may call
 * http_conn_detach(); it then owns the bufferevent (its callbacks,
 * timeouts and free), the server writes nothing more and frees only its
 * own state. Any bytes the client sent after the request are still in the
 * bufferevent's input buffer.
 *
 * Deferred responses: a handler that must ask another process first (the
 * browser API asks crm-store) calls http_conn_defer() and returns; resp is
 * then ignored. The connection stops reading (pipelined requests wait) and
 * is answered later by http_defer_respond(), or taken over by
 * http_defer_detach() (a Server-Sent Events stream). The token is owned by
 * whoever deferred and must be given back exactly once, by one of those
 * two or http_defer_abandon(). The connection may close meanwhile (the
 * client left, a timeout, the server stopping or freed): the token is then
 * an orphan whose answer goes nowhere, so a late reply is always safe
 * (R8). A deferred connection not answered within write_timeout_ms is
 * closed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>

#include "gateway.h"
#include "log.h"
#include "xmalloc.h"

#define HTTP_READ_TIMEOUT_MS  15000
#define HTTP_IDLE_TIMEOUT_MS  60000
#define HTTP_WRITE_TIMEOUT_MS 30000
#define HTTP_LINGER_MS	      2000
#define HTTP_OUT_HIGH	      ((size_t)256 * 1024)
#define HTTP_BACKLOG	      128

/* A growable NUL-terminated byte string. */
struct http_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct http_reader {
	http_parser parser;
	size_t body_max;
	struct http_request *req;  /* being parsed */
	struct http_request *done; /* complete, not yet taken */
	struct http_buf url;
	struct http_buf name;
	struct http_buf value;
	struct http_buf body;
	size_t header_bytes;
	size_t headers_cap;
	bool in_value;	 /* the last callback was a header value */
	bool in_request; /* a request has begun and is not complete */
	bool upgraded;	 /* the last request switched protocols */
	int status;	 /* error status to answer, 0 while none */
	const char *error;
};

enum http_conn_state {
	HTTP_CONN_OPEN,	  /* reading and answering requests */
	HTTP_CONN_FLUSH,  /* last response being written, then linger */
	HTTP_CONN_LINGER, /* write side shut; discarding input briefly */
	HTTP_CONN_DEAD,	  /* on the server's dead list */
};

struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev; /* NULL once detached */
	struct http_reader *reader;
	struct event *timer;
	struct http_defer *defer; /* the request waiting for its answer */
	TAILQ_ENTRY(http_conn) entry;
	enum http_conn_state state;
	bool upgrade_req; /* the request being handled asks to upgrade */
	bool in_handler;  /* the handler runs: it may defer */
	bool blocked;	  /* reading paused: too much output queued */
	char peer[64];
};

/* A request answered later; owned by whoever deferred it. */
struct http_defer {
	struct http_conn *conn; /* NULL once the connection is gone */
	bool head;		/* HEAD: the answer has no body */
	bool close;		/* close after the answer */
};

TAILQ_HEAD(http_conn_list, http_conn);

struct http_server {
	struct event_base *base;
	struct evconnlistener *lev;
	struct event *reaper;
	struct event *retry;
	struct http_conn_list conns;
	struct http_conn_list dead;
	void (*handler)(struct http_conn *c, const struct http_request *req,
	    struct http_response *resp, void *arg);
	void *arg;
	struct http_config cfg;
	char address[80];
	bool stopping;
	struct http_stats stats;
};

/* ---- buffers ---------------------------------------------------------- */

static void
http_buf_add(struct http_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Return the buffer's string (never NULL; caller frees) and empty it. */
static char *
http_buf_take(struct http_buf *b)
{
	char *s = b->p != NULL ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return s;
}

static void
http_buf_reset(struct http_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

static void
http_buf_free(struct http_buf *b)
{
	X_FREE(b->p);
	b->len = b->cap = 0;
}

/* ---- the pure reader -------------------------------------------------- */

static int
http_reader_fail(struct http_reader *r, int status, const char *why)
{
	if (r->status == 0) {
		r->status = status;
		r->error = why;
	}
	return -1;
}

/* Count n more bytes of request head against the limits. */
static int
http_reader_count(struct http_reader *r, size_t n)
{
	r->header_bytes += n;
	if (r->header_bytes > HTTP_HEADER_BYTES_MAX)
		return http_reader_fail(r, 431, "request head too large");
	return 0;
}

/*
 * Return true when the len bytes at s are an RFC 9110 token. http-parser
 * lets spaces through in names ("X-A : b"), which a proxy in front may
 * read differently (request smuggling), so names are checked here.
 */
static bool
http_is_token(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') ||
			strchr("!#$%&'*+-.^_`|~", c) != NULL) ||
		    c == '\0')
			return false;
	}
	return true;
}

/* Move the header being read into the request. */
static int
http_reader_push_header(struct http_reader *r)
{
	struct http_request *req = r->req;

	if (req->nheaders == HTTP_HEADERS_MAX)
		return http_reader_fail(r, 431, "too many header fields");
	if (!http_is_token(r->name.p, r->name.len))
		return http_reader_fail(r, 400, "bad header field name");
	if (req->nheaders == r->headers_cap) {
		r->headers_cap = r->headers_cap ? r->headers_cap * 2 : 8;
		req->headers = xreallocarray(
		    req->headers, r->headers_cap, sizeof(*req->headers));
	}
	req->headers[req->nheaders].name = http_buf_take(&r->name);
	req->headers[req->nheaders].value = http_buf_take(&r->value);
	req->nheaders++;
	r->in_value = false;
	return 0;
}

static int
http_on_message_begin(http_parser *p)
{
	struct http_reader *r = p->data;

	if (r->req == NULL)
		r->req = xcalloc(1, sizeof(*r->req));
	r->in_request = true;
	r->in_value = false;
	r->header_bytes = 0;
	r->headers_cap = 0;
	http_buf_reset(&r->url);
	http_buf_reset(&r->name);
	http_buf_reset(&r->value);
	http_buf_reset(&r->body);
	return 0;
}

static int
http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;

	if (r->url.len + len > HTTP_URL_MAX)
		return http_reader_fail(r, 414, "request target too long");
	if (http_reader_count(r, len) < 0)
		return -1;
	http_buf_add(&r->url, at, len);
	return 0;
}

static int
http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;

	if (r->in_value && http_reader_push_header(r) < 0)
		return -1;
	if (http_reader_count(r, len) < 0)
		return -1;
	http_buf_add(&r->name, at, len);
	return 0;
}

static int
http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;

	r->in_value = true;
	if (http_reader_count(r, len) < 0)
		return -1;
	http_buf_add(&r->value, at, len);
	return 0;
}

static int
http_on_headers_complete(http_parser *p)
{
	struct http_reader *r = p->data;
	struct http_request *req = r->req;
	const char *method = http_method_str((enum http_method)p->method);
	char *q;

	if ((r->in_value || r->name.len > 0) && http_reader_push_header(r) < 0)
		return -1;
	snprintf(req->method, sizeof(req->method), "%s", method);
	req->version_major = p->http_major;
	req->version_minor = p->http_minor;
	req->keep_alive = http_should_keep_alive(p) != 0;
	req->upgrade = p->upgrade != 0;
	req->target = http_buf_take(&r->url);
	if (req->target[0] != '/')
		return http_reader_fail(r, 400, "request target not a path");
	req->path = xstrdup(req->target);
	if ((q = strchr(req->path, '?')) != NULL) {
		*q = '\0';
		req->query = xstrdup(q + 1);
	} else {
		req->query = xstrdup("");
	}
	if ((p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1)) &&
	    http_request_header(req, "Host") == NULL)
		return http_reader_fail(
		    r, 400, "HTTP/1.1 request without Host");
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->body_max)
		return http_reader_fail(r, 413, "body too large");
	return 0;
}

static int
http_on_body(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;

	if (r->body.len + len > r->body_max)
		return http_reader_fail(r, 413, "body too large");
	http_buf_add(&r->body, at, len);
	return 0;
}

static int
http_on_message_complete(http_parser *p)
{
	struct http_reader *r = p->data;
	struct http_request *req = r->req;

	req->body_len = r->body.len;
	req->body = http_buf_take(&r->body);
	r->done = req;
	r->req = NULL;
	r->in_request = false;
	if (req->upgrade)
		r->upgraded = true;
	/* Stop here: the caller answers this request before the next. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_message_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_header_field,
    .on_header_value = http_on_header_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
};

/* Return a new reader of requests whose bodies may be up to body_max. */
struct http_reader *
http_reader_new(size_t body_max)
{
	struct http_reader *r = xcalloc(1, sizeof(*r));

	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
	r->body_max = body_max ? body_max : HTTP_BODY_MAX;
	return r;
}

void
http_reader_free(struct http_reader *r)
{
	if (r == NULL)
		return;
	http_request_free(r->req);
	http_request_free(r->done);
	http_buf_free(&r->url);
	http_buf_free(&r->name);
	http_buf_free(&r->value);
	http_buf_free(&r->body);
	free(r);
}

/*
 * Feed len bytes at buf; store in *used how many were consumed. Return
 * HTTP_READ_REQUEST when a request is complete (take it before feeding the
 * rest), HTTP_READ_MORE when every byte was used without completing one,
 * HTTP_READ_ERROR when the bytes are not an acceptable request (answer
 * http_reader_status() and close; the reader accepts nothing more). After
 * an upgrade request the reader accepts nothing more either.
 */
enum http_read
http_reader_feed(
    struct http_reader *r, const char *buf, size_t len, size_t *used)
{
	size_t n;
	enum http_errno err;

	*used = 0;
	if (r->done != NULL)
		return HTTP_READ_REQUEST;
	if (r->status != 0)
		return HTTP_READ_ERROR;
	if (r->upgraded) {
		http_reader_fail(r, 400, "data after an upgrade request");
		return HTTP_READ_ERROR;
	}
	if (len == 0)
		return HTTP_READ_MORE; /* 0 means EOF to http-parser */
	n = http_parser_execute(&r->parser, &http_settings, buf, len);
	err = HTTP_PARSER_ERRNO(&r->parser);
	*used = n;
	if (err == HPE_PAUSED && r->done != NULL) {
		http_parser_pause(&r->parser, 0);
		return HTTP_READ_REQUEST;
	}
	if (err != HPE_OK) {
		http_reader_fail(r, err == HPE_HEADER_OVERFLOW ? 431 : 400,
		    http_errno_description(err));
		return HTTP_READ_ERROR;
	}
	if (n != len) {
		http_reader_fail(r, 400, "unparsed bytes");
		return HTTP_READ_ERROR;
	}
	return HTTP_READ_MORE;
}

/* Return the complete request (caller frees), or NULL when none is. */
struct http_request *
http_reader_take(struct http_reader *r)
{
	struct http_request *req = r->done;

	r->done = NULL;
	return req;
}

/* Return the status to answer after HTTP_READ_ERROR (0 before any). */
int
http_reader_status(const struct http_reader *r)
{
	return r->status;
}

/* Return why the reader failed, for a log line ("" before any error). */
const char *
http_reader_error(const struct http_reader *r)
{
	return r->error != NULL ? r->error : "";
}

/* Return true when no byte of a request is pending. */
bool
http_reader_is_idle(const struct http_reader *r)
{
	return !r->in_request && r->done == NULL;
}

void
http_request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	free(req->target);
	free(req->path);
	free(req->query);
	for (size_t i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->body);
	free(req);
}

/* Return the value of the first header called name (any case), or NULL. */
const char *
http_request_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* ---- responses -------------------------------------------------------- */

/* Return the reason phrase of an HTTP status. */
const char *
http_status_text(int status)
{
	switch (status) {
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

/* Make resp an empty 200 with a new body buffer. */
void
http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->body = evbuffer_new();
	if (resp->body == NULL)
		fatalx("out of memory for a response body");
}

/* Free what resp owns (not resp itself). */
void
http_response_clean(struct http_response *resp)
{
	if (resp->body != NULL)
		evbuffer_free(resp->body);
	resp->body = NULL;
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->nheaders = 0;
}

/* Set status, type (a static string) and body text of resp. */
void
http_response_set(struct http_response *resp, int status,
    const char *content_type, const char *body)
{
	resp->status = status;
	resp->content_type = content_type;
	evbuffer_drain(resp->body, evbuffer_get_length(resp->body));
	if (body != NULL)
		evbuffer_add(resp->body, body, strlen(body));
}

/*
 * Add a header to resp (copied). Return 0, or -1 when there are already
 * HTTP_RESP_HEADERS_MAX or name or value holds a CR or LF.
 */
int
http_response_add_header(
    struct http_response *resp, const char *name, const char *value)
{
	if (resp->nheaders == HTTP_RESP_HEADERS_MAX ||
	    strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -1;
	resp->headers[resp->nheaders].name = xstrdup(name);
	resp->headers[resp->nheaders].value = xstrdup(value);
	resp->nheaders++;
	return 0;
}

/*
 * Append resp as HTTP/1.1 bytes to out, moving its body (left out for a
 * HEAD request and for 204). Connection: close is written when resp->close.
 */
void
http_response_write(
    const struct http_response *resp, bool head, struct evbuffer *out)
{
	size_t len = evbuffer_get_length(resp->body);
	bool nobody = resp->status == 204 || resp->status == 304 ||
		      (resp->status >= 100 && resp->status < 200);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		date[0] = '\0';
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", resp->status,
	    http_status_text(resp->status));
	if (date[0] != '\0')
		evbuffer_add_printf(out, "Date: %s\r\n", date);
	if (resp->content_type != NULL && !nobody)
		evbuffer_add_printf(
		    out, "Content-Type: %s\r\n", resp->content_type);
	if (!nobody)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	for (size_t i = 0; i < resp->nheaders; i++)
		evbuffer_add_printf(out, "%s: %s\r\n", resp->headers[i].name,
		    resp->headers[i].value);
	if (resp->close)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (!head && !nobody)
		evbuffer_add_buffer(out, resp->body);
}

/* ---- connections ------------------------------------------------------ */

static void http_conn_process(struct http_conn *c);

static void
http_conn_arm(struct http_conn *c, long ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

/* Mark c dead and let the reaper free it (R8). */
static void
http_conn_close_soon(struct http_conn *c)
{
	struct http_server *s = c->srv;

	if (c->state == HTTP_CONN_DEAD)
		return;
	c->state = HTTP_CONN_DEAD;
	if (c->defer != NULL) {
		c->defer->conn = NULL; /* its owner answers into nothing */
		c->defer = NULL;
	}
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	TAILQ_REMOVE(&s->conns, c, entry);
	TAILQ_INSERT_TAIL(&s->dead, c, entry);
	event_active(s->reaper, EV_TIMEOUT, 1);
}

static void
http_conn_free(struct http_conn *c)
{
	if (c->defer != NULL)
		c->defer->conn = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	http_reader_free(c->reader);
	event_free(c->timer);
	c->srv->stats.open--;
	free(c);
}

static void
http_server_reap(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;
	struct http_conn *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&s->dead)) != NULL) {
		TAILQ_REMOVE(&s->dead, c, entry);
		http_conn_free(c);
	}
}

/* Shut the write side and read what the client still sends, briefly. */
static void
http_conn_linger(struct http_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	c->state = HTTP_CONN_LINGER;
	if (fd < 0 || shutdown(fd, SHUT_WR) < 0) {
		http_conn_close_soon(c);
		return;
	}
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_enable(c->bev, EV_READ);
	http_conn_arm(c, HTTP_LINGER_MS);
}

/* Close c once its queued output is written. */
static void
http_conn_flush_close(struct http_conn *c)
{
	c->state = HTTP_CONN_FLUSH;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		http_conn_linger(c);
	else
		http_conn_arm(c, c->srv->cfg.write_timeout_ms);
}

static void
http_conn_count_error(struct http_server *s, int status)
{
	switch (status) {
	case 408:
		s->stats.timeouts++;
		break;
	case 413:
		s->stats.too_large++;
		break;
	case 414:
		s->stats.uri_too_long++;
		break;
	case 431:
		s->stats.headers_large++;
		break;
	default:
		s->stats.parse_errors++;
		break;
	}
}

/* Answer a request the reader refused (or a timeout) and close. */
static void
http_conn_fail(struct http_conn *c, int status, const char *why)
{
	struct http_response resp;
	json_t *f = json_pack("{s:s, s:i}", "peer", c->peer, "status", status);

	log_fields(LOG_LEVEL_INFO, NULL, f, "http: refused a request: %s", why);
	json_decref(f);
	http_conn_count_error(c->srv, status);
	http_response_init(&resp);
	http_response_set(&resp, status, "text/plain; charset=utf-8", NULL);
	evbuffer_add_printf(
	    resp.body, "%d %s\n", status, http_status_text(status));
	resp.close = true;
	http_response_write(&resp, false, bufferevent_get_output(c->bev));
	http_response_clean(&resp);
	http_conn_flush_close(c);
}

/* Queue resp on c, then close c or wait for its next request. */
static void
http_conn_answer(
    struct http_conn *c, struct http_response *resp, bool head, bool close)
{
	if (resp->status < 100 || resp->status > 599)
		http_response_set(resp, 500, "text/plain; charset=utf-8",
		    "500 Internal Server Error\n");
	resp->close = resp->close || close || c->srv->stopping;
	http_response_write(resp, head, bufferevent_get_output(c->bev));
	if (resp->close)
		http_conn_flush_close(c);
	else
		http_conn_arm(c, c->srv->cfg.idle_timeout_ms);
}

/* Hand one complete request to the handler and queue its response. */
static void
http_conn_handle(struct http_conn *c, struct http_request *req)
{
	struct http_server *s = c->srv;
	struct http_response resp;
	bool close = !req->keep_alive || req->upgrade || s->stopping;

	snprintf(req->peer, sizeof(req->peer), "%s", c->peer);
	http_response_init(&resp);
	c->upgrade_req = req->upgrade;
	c->in_handler = true;
	s->handler(c, req, &resp, s->arg);
	c->in_handler = false;
	c->upgrade_req = false;
	if (c->bev == NULL) { /* detached: the new owner answers */
		http_response_clean(&resp);
		return;
	}
	if (c->defer != NULL) { /* answered later: http_defer_respond */
		c->defer->head = strcmp(req->method, "HEAD") == 0;
		c->defer->close = close;
		http_response_clean(&resp);
		bufferevent_disable(c->bev, EV_READ);
		http_conn_arm(c, s->cfg.write_timeout_ms);
		return;
	}
	http_conn_answer(c, &resp, strcmp(req->method, "HEAD") == 0, close);
	http_response_clean(&resp);
}

/* Parse and answer what is in the input buffer, in order. */
static void
http_conn_process(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (c->state == HTTP_CONN_OPEN && c->bev != NULL &&
	       c->defer == NULL && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		bool was_idle = http_reader_is_idle(c->reader);
		enum http_read st;
		size_t used = 0;

		if (evbuffer_get_length(out) > HTTP_OUT_HIGH) {
			c->blocked = true;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = http_reader_feed(c->reader, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (was_idle && !http_reader_is_idle(c->reader))
			http_conn_arm(c, c->srv->cfg.read_timeout_ms);
		if (st == HTTP_READ_ERROR) {
			http_conn_fail(c, http_reader_status(c->reader),
			    http_reader_error(c->reader));
			return;
		}
		if (st == HTTP_READ_REQUEST) {
			struct http_request *req = http_reader_take(c->reader);

			http_conn_handle(c, req);
			http_request_free(req);
		}
	}
}

static void
http_conn_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->state == HTTP_CONN_OPEN) {
		http_conn_process(c);
		return;
	}
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
http_conn_write(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct http_server *s = c->srv;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->state == HTTP_CONN_FLUSH) {
		http_conn_linger(c);
		return;
	}
	if (c->state != HTTP_CONN_OPEN)
		return;
	if (c->blocked) {
		c->blocked = false;
		bufferevent_enable(bev, EV_READ);
		http_conn_process(c);
	}
	if (c->state == HTTP_CONN_OPEN && s->stopping && c->defer == NULL &&
	    http_reader_is_idle(c->reader))
		http_conn_close_soon(c);
}

static void
http_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    (c->state == HTTP_CONN_OPEN || c->state == HTTP_CONN_FLUSH) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* Half-closed client: still send what it asked for. */
		c->state = HTTP_CONN_FLUSH;
		return;
	}
	http_conn_close_soon(c);
}

static void
http_conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == HTTP_CONN_OPEN && !http_reader_is_idle(c->reader)) {
		http_conn_fail(c, 408, "request not received in time");
		return;
	}
	http_conn_close_soon(c);
}

static void
http_format_addr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, ss, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
		port = ntohs(sin.sin_port);
		snprintf(buf, size, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, ss, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host));
		port = ntohs(sin6.sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
	} else {
		snprintf(buf, size, "?");
	}
}

static void
http_server_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct http_server *s = arg;
	struct sockaddr_storage ss;
	struct bufferevent *bev;
	struct http_conn *c;
	struct timeval wtv = {s->cfg.write_timeout_ms / 1000,
	    (suseconds_t)(s->cfg.write_timeout_ms % 1000) * 1000};

	(void)lev;
	if (s->stopping || s->stats.open >= HTTP_CONNS_MAX) {
		s->stats.refused++;
		evutil_closesocket(fd);
		return;
	}
	bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_warnx("http: cannot make a bufferevent");
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->bev = bev;
	c->reader = http_reader_new(s->cfg.body_max);
	c->timer = evtimer_new(s->base, http_conn_timeout, c);
	if (c->timer == NULL)
		fatalx("out of memory for a connection timer");
	memset(&ss, 0, sizeof(ss));
	memcpy(
	    &ss, sa, (size_t)salen < sizeof(ss) ? (size_t)salen : sizeof(ss));
	http_format_addr(&ss, c->peer, sizeof(c->peer));
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->stats.connections++;
	s->stats.open++;
	bufferevent_setcb(
	    bev, http_conn_read, http_conn_write, http_conn_event, c);
	bufferevent_set_timeouts(bev, NULL, &wtv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	/* The first request must come as fast as any later one. */
	http_conn_arm(c, s->cfg.read_timeout_ms);
}

static void
http_server_retry(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;

	(void)fd;
	(void)what;
	if (s->lev != NULL)
		evconnlistener_enable(s->lev);
}

static void
http_server_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http_server *s = arg;
	struct timeval tv = {1, 0};

	/* EMFILE and friends: pause accepting instead of spinning. */
	log_warn("http: accept failed; pausing for a second");
	evconnlistener_disable(lev);
	evtimer_add(s->retry, &tv);
}

/* ---- the server ------------------------------------------------------- */

/*
 * Return a server on base that answers every request through handler
 * (called with arg). cfg may be NULL or have zero fields for defaults.
 * It accepts nothing until http_server_listen.
 */
struct http_server *
http_server_new(struct event_base *base, const struct http_config *cfg,
    void (*handler)(struct http_conn *c, const struct http_request *req,
	struct http_response *resp, void *arg),
    void *arg)
{
	struct http_server *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->handler = handler;
	s->arg = arg;
	if (cfg != NULL)
		s->cfg = *cfg;
	if (s->cfg.read_timeout_ms <= 0)
		s->cfg.read_timeout_ms = HTTP_READ_TIMEOUT_MS;
	if (s->cfg.idle_timeout_ms <= 0)
		s->cfg.idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS;
	if (s->cfg.write_timeout_ms <= 0)
		s->cfg.write_timeout_ms = HTTP_WRITE_TIMEOUT_MS;
	if (s->cfg.body_max == 0)
		s->cfg.body_max = HTTP_BODY_MAX;
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->dead);
	s->reaper = event_new(base, -1, 0, http_server_reap, s);
	s->retry = evtimer_new(base, http_server_retry, s);
	if (s->reaper == NULL || s->retry == NULL)
		fatalx("out of memory for the HTTP server");
	return s;
}

/*
 * Parse "a.b.c.d:port", "[v6]:port" or "localhost:port" (port 0-65535)
 * into ss. evutil_parse_sockaddr_port refuses port 0, which tests need.
 */
static int
http_parse_listen(const char *hostport, struct sockaddr_storage *ss, int *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	char *end;
	size_t hlen;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (hostport == NULL || (colon = strrchr(hostport, ':')) == NULL)
		return -1;
	hlen = (size_t)(colon - hostport);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535 || hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 sin6;

		host[hlen - 1] = '\0';
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &sin6.sin6_addr) != 1)
			return -1;
		memcpy(ss, &sin6, sizeof(sin6));
		*len = (int)sizeof(sin6);
		return 0;
	}
	{
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return -1;
		memcpy(ss, &sin, sizeof(sin));
		*len = (int)sizeof(sin);
	}
	return 0;
}

/*
 * Bind and listen on hostport ("127.0.0.1:8080", "[::1]:0"; port 0 picks
 * a free port). Return 0, or -1 after logging why.
 */
int
http_server_listen(struct http_server *s, const char *hostport)
{
	struct sockaddr_storage ss;
	int sslen = (int)sizeof(ss);
	socklen_t blen = sizeof(ss);

	if (http_parse_listen(hostport, &ss, &sslen) < 0) {
		log_warnx("http: cannot parse listen address \"%s\" "
			  "(want IPv4:port or [IPv6]:port)",
		    hostport ? hostport : "");
		return -1;
	}
	s->lev = evconnlistener_new_bind(s->base, http_server_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    HTTP_BACKLOG, (struct sockaddr *)&ss, sslen);
	if (s->lev == NULL) {
		log_warn("http: cannot listen on %s", hostport);
		return -1;
	}
	evconnlistener_set_error_cb(s->lev, http_server_accept_error);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(evconnlistener_get_fd(s->lev), (struct sockaddr *)&ss,
		&blen) < 0) {
		log_warn("http: getsockname");
		return -1;
	}
	http_format_addr(&ss, s->address, sizeof(s->address));
	return 0;
}

/* Return the bound "address:port" ("" before http_server_listen). */
const char *
http_server_address(const struct http_server *s)
{
	return s->address;
}

/*
 * Stop accepting connections; close idle keep-alive connections now and
 * every other one after its current request is answered.
 */
void
http_server_stop(struct http_server *s)
{
	struct http_conn *c, *tmp;

	s->stopping = true;
	if (s->lev != NULL) {
		evconnlistener_free(s->lev);
		s->lev = NULL;
	}
	evtimer_del(s->retry);
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		if (c->state == HTTP_CONN_OPEN && c->defer == NULL &&
		    http_reader_is_idle(c->reader) &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			http_conn_close_soon(c);
	}
}

/* Return how many connections are open (dead ones not yet freed count). */
size_t
http_server_open(const struct http_server *s)
{
	return s->stats.open;
}

const struct http_stats *
http_server_stats(const struct http_server *s)
{
	return &s->stats;
}

/* Close every connection and the listener, and free s (NULL is fine). */
void
http_server_free(struct http_server *s)
{
	struct http_conn *c;

	if (s == NULL)
		return;
	if (s->lev != NULL)
		evconnlistener_free(s->lev);
	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		TAILQ_REMOVE(&s->conns, c, entry);
		http_conn_free(c);
	}
	while ((c = TAILQ_FIRST(&s->dead)) != NULL) {
		TAILQ_REMOVE(&s->dead, c, entry);
		http_conn_free(c);
	}
	event_free(s->reaper);
	event_free(s->retry);
	free(s);
}

/*
 * Take the bufferevent of c over, from a handler answering an upgrade
 * request (req->upgrade). Return it (the caller now owns it: set its
 * callbacks and timeouts, enable it, write the 101, free it), or NULL when
 * c is NULL or the request is not an upgrade. Bytes the client sent after
 * the request are still in its input buffer.
 */
static struct bufferevent *
http_conn_take(struct http_conn *c)
{
	struct bufferevent *bev = c->bev;

	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	c->bev = NULL;
	http_conn_close_soon(c);
	return bev;
}

struct bufferevent *
http_conn_detach(struct http_conn *c)
{
	if (c == NULL || !c->upgrade_req || c->bev == NULL)
		return NULL;
	return http_conn_take(c);
}

/*
 * From a handler: answer the request being handled later. Return the
 * token to give to http_defer_respond, http_defer_detach or
 * http_defer_abandon (exactly one of them, once), or NULL when c is NULL,
 * the handler is not running or the request is already deferred.
 */
struct http_defer *
http_conn_defer(struct http_conn *c)
{
	struct http_defer *d;

	if (c == NULL || !c->in_handler || c->defer != NULL || c->bev == NULL)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->conn = c;
	c->defer = d;
	return d;
}

/* Return true while the deferred request's connection is open. */
bool
http_defer_is_alive(const struct http_defer *d)
{
	return d != NULL && d->conn != NULL && d->conn->state == HTTP_CONN_OPEN;
}

/* Unlink d from its connection (if any) and free it; return the conn. */
static struct http_conn *
http_defer_end(struct http_defer *d)
{
	struct http_conn *c = d->conn;

	if (c != NULL)
		c->defer = NULL;
	free(d);
	return c != NULL && c->state == HTTP_CONN_OPEN && c->bev != NULL ? c
									 : NULL;
}

/*
 * Answer a deferred request with resp (its body is moved; the caller
 * still cleans resp) and free d. Safe on an orphan: the answer is dropped.
 * Requests the client pipelined behind it are then read and handled.
 */
void
http_defer_respond(struct http_defer *d, struct http_response *resp)
{
	bool head = d->head, close = d->close;
	struct http_conn *c = http_defer_end(d);

	if (c == NULL)
		return;
	http_conn_answer(c, resp, head, close);
	if (c->state == HTTP_CONN_OPEN) {
		bufferevent_enable(c->bev, EV_READ);
		http_conn_process(c);
	}
}

/*
 * Take a deferred request's connection over (see http_conn_detach: the
 * caller owns the returned bufferevent, disabled, without callbacks or
 * timeouts) and free d. Return NULL when the connection is gone.
 */
struct bufferevent *
http_defer_detach(struct http_defer *d)
{
	struct http_conn *c = http_defer_end(d);

	return c != NULL ? http_conn_take(c) : NULL;
}

/* Give a deferred request up: close its connection (if open), free d. */
void
http_defer_abandon(struct http_defer *d)
{
	struct http_conn *c;

	if (d == NULL)
		return;
	if ((c = http_defer_end(d)) != NULL)
		http_conn_close_soon(c);
}

/* Return the client's "address:port" ("" for NULL). */
const char *
http_conn_peer(const struct http_conn *c)
{
	return c != NULL ? c->peer : "";
}
