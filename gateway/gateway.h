/*
 * The gateway's private header: its state and every function its files
 * share, grouped by file (R2).
 */
#ifndef MERKAZIA_GATEWAY_H
#define MERKAZIA_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "daemon.h"
#include "health.h"
#include "nnsock.h"

/* Limits of one HTTP request (http.c); docs/gateway.md lists them. */
#define HTTP_HEADER_BYTES_MAX                           \
	((size_t)16 * 1024) /* request line and headers \
			     */
#define HTTP_HEADERS_MAX      64
#define HTTP_URL_MAX	      ((size_t)8 * 1024)
#define HTTP_BODY_MAX	      ((size_t)1024 * 1024)
#define HTTP_METHOD_MAX	      16
#define HTTP_RESP_HEADERS_MAX 8
#define HTTP_CONNS_MAX	      4096

/* Limits of a form body (form.c). */
#define FORM_PAIRS_MAX 512
#define FORM_LEN_MAX   HTTP_BODY_MAX

/* Length of a base64 HMAC-SHA1 signature, without the NUL (twilio_sig.c). */
#define TWILIO_SIG_LEN 28

struct http_server;
struct http_conn;
struct http_reader;

struct http_header {
	char *name;
	char *value;
};

/*
 * One parsed request. Every string is NUL-terminated and owned by the
 * request (http_request_free). The body may hold NUL bytes; body_len is
 * its length and body[body_len] is a NUL.
 */
struct http_request {
	char method[HTTP_METHOD_MAX]; /* "GET", "POST", ... */
	char *target;		      /* path and query, exactly as sent */
	char *path;		      /* target before '?' */
	char *query;		      /* target after '?', "" when none */
	struct http_header *headers;
	size_t nheaders;
	char *body;
	size_t body_len;
	int version_major;
	int version_minor;
	bool keep_alive; /* the client allows another request after this */
	bool upgrade;	 /* Connection: Upgrade with an Upgrade header */
	char peer[64];	 /* "address:port" of the client; "" when parsed
			    from a buffer */
};

/*
 * A response a handler fills. body is an evbuffer the handler appends to;
 * headers beyond Content-Type, Content-Length, Date and Connection go in
 * headers[] (strings owned by the response).
 */
struct http_response {
	int status;
	const char *content_type; /* static string, or NULL for none */
	struct evbuffer *body;
	struct http_header headers[HTTP_RESP_HEADERS_MAX];
	size_t nheaders;
	bool close; /* close the connection after this response */
};

/* Timeouts and limits of the server; zero fields take the defaults. */
struct http_config {
	long read_timeout_ms;  /* first byte to last byte of a request */
	long idle_timeout_ms;  /* keep-alive connection with no request */
	long write_timeout_ms; /* a response not taken by the client */
	size_t body_max;
};

enum http_read {
	HTTP_READ_MORE,	   /* every byte used; a request is not complete */
	HTTP_READ_REQUEST, /* a request is complete: http_reader_take */
	HTTP_READ_ERROR,   /* answer http_reader_status() and close */
};

/* Counters of the HTTP layer, for /metrics. */
struct http_stats {
	unsigned long connections;   /* accepted */
	unsigned long open;	     /* currently open */
	unsigned long refused;	     /* over HTTP_CONNS_MAX */
	unsigned long parse_errors;  /* answered 400 by the reader */
	unsigned long too_large;     /* 413 */
	unsigned long uri_too_long;  /* 414 */
	unsigned long headers_large; /* 431 */
	unsigned long timeouts;	     /* 408 */
};

/* Live-call counters and the Twilio state routes.c keeps. */
struct routes_metrics {
	unsigned long *hits; /* [route][status] */
	unsigned long calls_answered;
	unsigned long calls_not_in_service;
	unsigned long sig_rejected;
	unsigned long call_events_sent;
	unsigned long call_events_dropped;
};

struct routes_business {
	char *number; /* E.164, as Twilio sends To */
	char *business;
};

struct gateway {
	struct daemon *d;
	struct nnsock *jobs[3]; /* stt, llm, tts */
	struct nnsock *results;
	struct nnsock *cancel;
	struct nnsock *call_events;
	struct nnsock *store;
	struct nnsock *store_changes;
	struct health_follow *health;
	long calls_live;
	/* HTTP and Twilio (http.c, routes.c) */
	struct http_server *http;
	char *public_url;  /* effective, no trailing '/' */
	char *stream_url;  /* ws(s)://.../twilio/media */
	char *auth_token;  /* TWILIO_AUTH_TOKEN: a secret, never logged */
	char *default_biz; /* MERKAZIA_DEFAULT_BUSINESS or NULL */
	bool sig_check;
	struct routes_business *biz;
	size_t nbiz;
	struct routes_metrics metrics;
};

/* wiring.c */
int gateway_init(struct daemon *d);
void gateway_stop(struct daemon *d);
bool gateway_drained(struct daemon *d);
void gateway_shutdown(struct daemon *d);

/* http.c */
struct http_reader *http_reader_new(size_t body_max);
void http_reader_free(struct http_reader *r);
enum http_read http_reader_feed(
    struct http_reader *r, const char *buf, size_t len, size_t *used);
struct http_request *http_reader_take(struct http_reader *r);
int http_reader_status(const struct http_reader *r);
const char *http_reader_error(const struct http_reader *r);
bool http_reader_is_idle(const struct http_reader *r);
void http_request_free(struct http_request *req);
const char *http_request_header(
    const struct http_request *req, const char *name);
const char *http_status_text(int status);
void http_response_init(struct http_response *resp);
void http_response_clean(struct http_response *resp);
void http_response_set(struct http_response *resp, int status,
    const char *content_type, const char *body);
int http_response_add_header(
    struct http_response *resp, const char *name, const char *value);
void http_response_write(
    const struct http_response *resp, bool head, struct evbuffer *out);
struct http_server *http_server_new(struct event_base *base,
    const struct http_config *cfg,
    void (*handler)(struct http_conn *c, const struct http_request *req,
	struct http_response *resp, void *arg),
    void *arg);
int http_server_listen(struct http_server *s, const char *hostport);
const char *http_server_address(const struct http_server *s);
void http_server_stop(struct http_server *s);
size_t http_server_open(const struct http_server *s);
const struct http_stats *http_server_stats(const struct http_server *s);
void http_server_free(struct http_server *s);
struct bufferevent *http_conn_detach(struct http_conn *c);
const char *http_conn_peer(const struct http_conn *c);

/* form.c */
struct form_pair {
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
};

struct form {
	struct form_pair *pairs;
	size_t n;
};

int form_parse(const char *buf, size_t len, struct form *out)
    __attribute__((warn_unused_result));
void form_free(struct form *f);
const char *form_get(const struct form *f, const char *key);
int form_decode(const char *src, size_t len, char **out, size_t *outlen)
    __attribute__((warn_unused_result));
bool form_is_urlencoded(const char *content_type);

/* twilio_sig.c */
int twilio_sig_compute(const char *token, const char *url,
    const struct form *params, char out[TWILIO_SIG_LEN + 1]);
bool twilio_sig_is_valid(const char *token, const char *url,
    const struct form *params, const char *sig);
bool twilio_sig_is_valid_any(const char *token, const char *url,
    const struct form *params, const char *sig);
bool twilio_sig_is_valid_ws(
    const char *token, const char *stream_url, const char *sig);
char *twilio_sig_url_variant(const char *url, bool with_port);

/* routes.c */
int routes_setup(struct gateway *g, const char *public_url, const char *bound,
    const char *token, bool sig_check, const char *default_business);
void routes_cleanup(struct gateway *g);
void routes_handle(struct http_conn *c, const struct http_request *req,
    struct http_response *resp, void *arg);
int routes_business_set(
    struct gateway *g, const char *number, const char *business);
const char *routes_business_lookup(const struct gateway *g, const char *number);
char *routes_stream_url(const char *public_url);
void routes_xml_escape(struct evbuffer *out, const char *s);

#endif
