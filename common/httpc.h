/*
 * Outbound HTTP for every daemon: libcurl's multi interface driven by the
 * daemon's libevent loop.
 *
 * Why: the workers call OpenAI, Google and Twilio while the same loop keeps
 * serving nanomsg jobs, cancels and heartbeats; a blocking call would stall
 * every other job of the process. One struct httpc per event_base owns a
 * curl multi handle (and so its connection and DNS caches, which keep
 * TLS handshakes off the hot path); curl tells us which sockets to watch
 * and when to wake it, and never blocks. libcurl is used only in httpc.c
 * (R14).
 *
 * A request is built, started, and then finishes exactly once:
 *   r = httpc_req_new(h, "POST", url, budget_ms);
 *   httpc_req_header(r, "Authorization", bearer);
 *   httpc_req_body(r, json, len);
 *   httpc_start(r, done, arg);
 * done(r, res, arg) runs once from the loop, never from inside
 * httpc_start(), unless httpc_cancel() or httpc_free() came first: those
 * never call done. The request and everything reachable from res are freed
 * when done returns (take the body with httpc_take_body() to keep it).
 *
 * Time budget: every request has one (ms); it bounds the whole transfer,
 * connect included. A budget <= 0 finishes the request with
 * HTTPC_ERR_TIMEOUT without sending anything.
 *
 * Streaming: with httpc_req_on_chunk(), body bytes of a 2xx response are
 * passed to the chunk callback as they arrive, in order, and are not
 * buffered; done then sees an empty body. A non-2xx response is buffered
 * as usual so the caller can read the provider's error document.
 *
 * Re-entrancy (R8): from a chunk or done callback it is safe to start new
 * requests and to cancel any request, the current one included; the work
 * is deferred to a zero-delay event. Calling httpc_free() from a callback
 * is a programming error and aborts.
 *
 * Security: request headers and bodies are never logged. Failures are
 * logged once at warn level with the method and the URL stripped of user
 * info, query and fragment (API keys sometimes travel in a query string);
 * res->url carries the same stripped URL for callers' logs.
 *
 * Limits: a buffered response body is capped (default HTTPC_MAX_BODY,
 * HTTPC_ERR_TOO_LARGE beyond); at most HTTPC_MAX_HEADERS response headers
 * are kept; redirects are not followed unless asked; only http and https.
 * Not thread-safe: one loop, one thread.
 */
#ifndef MERKAZIA_HTTPC_H
#define MERKAZIA_HTTPC_H

#include <stddef.h>

struct event_base;
struct httpc;
struct httpc_req;

#define HTTPC_MAX_BODY	  ((size_t)32 * 1024 * 1024)
#define HTTPC_MAX_HEADERS 128
#define HTTPC_CONNECT_MS  5000L

/* How a request ended; anything but HTTPC_OK means no complete response. */
enum httpc_status {
	HTTPC_OK,	     /* a complete response arrived (any HTTP code) */
	HTTPC_ERR_TIMEOUT,   /* the time budget ran out */
	HTTPC_ERR_CONNECT,   /* DNS, TCP connect or TLS handshake failed */
	HTTPC_ERR_TOO_LARGE, /* buffered body exceeded its cap */
	HTTPC_ERR_INVALID,   /* bad method, header, URL or body combination */
	HTTPC_ERR_TRANSFER,  /* anything else (reset, protocol error, ...) */
};

/* What done() gets; every pointer is valid only until done returns. */
struct httpc_result {
	enum httpc_status status;
	long code;		  /* final HTTP status, 0 when none arrived */
	const char *content_type; /* NULL when absent */
	long retry_after_ms;	  /* Retry-After in ms, -1 when absent/bad */
	const char *body;	  /* NUL-terminated, "" when streamed/none */
	size_t body_len;
	const char *error; /* curl's error text, "" on HTTPC_OK */
	long elapsed_ms;   /* from httpc_start() to completion */
	const char *url;   /* without user info, query, fragment */
};

/* httpc.c */
struct httpc *httpc_new(struct event_base *base);
void httpc_free(struct httpc *h);
size_t httpc_in_flight(const struct httpc *h);
struct httpc_req *httpc_req_new(
    struct httpc *h, const char *method, const char *url, long budget_ms);
void httpc_req_connect_timeout(struct httpc_req *r, long ms);
void httpc_req_header(struct httpc_req *r, const char *name, const char *value);
void httpc_req_body(struct httpc_req *r, const void *data, size_t len);
void httpc_req_body_take(struct httpc_req *r, void *data, size_t len);
void httpc_req_mime_text(
    struct httpc_req *r, const char *name, const char *value);
void httpc_req_mime_file(struct httpc_req *r, const char *name,
    const char *filename, const char *content_type, const void *data,
    size_t len);
void httpc_req_max_body(struct httpc_req *r, size_t max);
void httpc_req_follow(struct httpc_req *r, long max_redirects);
void httpc_req_on_chunk(
    struct httpc_req *r, void (*on_chunk)(struct httpc_req *r, const void *data,
			     size_t len, void *arg));
void httpc_start(struct httpc_req *r,
    void (*done)(
	struct httpc_req *r, const struct httpc_result *res, void *arg),
    void *arg);
void httpc_cancel(struct httpc_req *r);
long httpc_code(const struct httpc_req *r);
const char *httpc_header(const struct httpc_req *r, const char *name);
char *httpc_take_body(struct httpc_req *r, size_t *len);
const char *httpc_status_name(enum httpc_status status);

#endif
