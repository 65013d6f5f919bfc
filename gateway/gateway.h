/*
 * The gateway's private header: its state and every function its files
 * share, grouped by file (R2).
 */
#ifndef MERKAZIA_GATEWAY_H
#define MERKAZIA_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "daemon.h"
#include "health.h"
#include "log.h"
#include "nnsock.h"
#include "store.h"

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
struct httpc;
struct twilio_rest;
struct http_conn;
struct http_reader;
struct http_defer;

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

/* WebSocket limits and counters (ws.c). */
#define WS_MESSAGE_MAX	      ((size_t)64 * 1024) /* one received message */
#define WS_OUTPUT_MAX_DEFAULT ((size_t)256 * 1024)
#define WS_ACCEPT_LEN	      28 /* base64 of a SHA-1 */
#define WS_CLOSE_TIMEOUT_MS   2000
#define WS_WRITE_TIMEOUT_MS   30000

struct ws_conn;

/* Why a WebSocket connection ended (ws_handlers.closed). */
enum ws_end {
	WS_END_CLOSED,	 /* close handshake done (either side began it) */
	WS_END_EOF,	 /* the peer went away without a close frame */
	WS_END_PROTOCOL, /* a frame broke RFC 6455 or a limit; 1002/1007/1009 */
	WS_END_OVERFLOW, /* the peer does not read; output over the cap */
	WS_END_TIMEOUT,	 /* no answer to our close, or output not taken */
	WS_END_ERROR,	 /* socket error */
};

struct ws_handlers {
	/* A complete text message (valid UTF-8; wslay checks it). */
	void (*text)(
	    struct ws_conn *ws, const char *msg, size_t len, void *arg);
	/* A complete binary message. */
	void (*binary)(struct ws_conn *ws, size_t len, void *arg);
	/* The connection is over; called once. Free ws later, never here. */
	void (*closed)(struct ws_conn *ws, enum ws_end why, void *arg);
};

struct ws_limits {
	size_t message_max; /* 0: WS_MESSAGE_MAX */
	size_t output_max;  /* 0: WS_OUTPUT_MAX_DEFAULT */
	long close_timeout_ms;
	long write_timeout_ms;
};

struct ws_stats {
	unsigned long protocol_errors; /* closed with 1002, 1007 or 1009 */
	unsigned long overflows;       /* dropped for not reading */
	unsigned long timeouts;
	unsigned long pings; /* answered with a pong */
};

/* Media Streams messages (media.c). */
#define MEDIA_SID_MAX	     64
#define MEDIA_NAME_MAX	     256
#define MEDIA_PARAMS_MAX     32
#define MEDIA_TRACK_INBOUND  0x1u
#define MEDIA_TRACK_OUTBOUND 0x2u

enum media_type {
	MEDIA_CONNECTED,
	MEDIA_START,
	MEDIA_MEDIA,
	MEDIA_MARK,
	MEDIA_DTMF,
	MEDIA_STOP,
};

enum media_error {
	MEDIA_OK,
	MEDIA_ERR_JSON,	   /* not a JSON object */
	MEDIA_ERR_EVENT,   /* no "event" string */
	MEDIA_ERR_UNKNOWN, /* an event Twilio does not define */
	MEDIA_ERR_FIELD,   /* a field missing, of the wrong type or too long */
	MEDIA_ERR_BASE64,  /* media.payload is not strict base64 */
	MEDIA_ERR_FORMAT,  /* start.mediaFormat is not mu-law 8000 mono */
};

struct media_param {
	char *name;
	char *value;
};

/*
 * One parsed Media Streams message. Strings are NUL-terminated; "" when
 * absent. payload and params are owned (media_msg_clean).
 */
struct media_msg {
	enum media_type type;
	long seq; /* sequenceNumber; -1 when absent */
	char stream_sid[MEDIA_SID_MAX];
	char call_sid[MEDIA_SID_MAX];	 /* start, stop */
	char account_sid[MEDIA_SID_MAX]; /* start, stop */
	unsigned int tracks;		 /* start: MEDIA_TRACK_* */
	struct media_param *params;	 /* start: customParameters */
	size_t nparams;
	unsigned int track; /* media: MEDIA_TRACK_* */
	long chunk;	    /* media; -1 when absent */
	long timestamp;	    /* media, ms since stream start; -1 absent */
	uint8_t *payload;   /* media: mu-law bytes */
	size_t payload_len;
	char name[MEDIA_NAME_MAX]; /* mark */
	char digit[8];		   /* dtmf */
	char protocol[32];	   /* connected */
	char version[32];	   /* connected */
	const char *error;	   /* why parsing failed (static text) */
};

/* Sequence numbers of one stream: what came last, how many went missing. */
struct media_seq {
	long last; /* 0 before any */
	unsigned long gaps;
	unsigned long reordered; /* not above the last one seen */
};

/* Outbound pacing (playout.c). */
#define PLAYOUT_FRAME_MS    20
#define PLAYOUT_FRAME_BYTES 160 /* 20 ms of 8 kHz mu-law */
#define PLAYOUT_LEAD_MAX_MS 100
#define PLAYOUT_RESYNC_MS   200 /* further behind than this: restart */

struct playout;

struct playout_ops {
	int (*media)(void *arg, const uint8_t *frame, size_t len);
	int (*mark)(void *arg, const char *name);
	int (*clear)(void *arg);
};

struct playout_stats {
	unsigned long frames_sent;
	unsigned long late_frames;
	unsigned long marks_sent;
	unsigned long marks_heard;
	unsigned long marks_cleared;
	unsigned long clears;
};

/* What became of one queued item, as far as the gateway knows. */
enum playout_state {
	PLAYOUT_QUEUED,	 /* not (fully) sent */
	PLAYOUT_SENT,	 /* every frame and its mark sent; echo pending */
	PLAYOUT_HEARD,	 /* its mark came back before any later clear */
	PLAYOUT_CLEARED, /* dropped or cleared: not heard (whole) */
};

/* Fixed phrases every business has in memory (phrases.c). */
enum phrase_kind {
	PHRASE_GREETING,
	PHRASE_FILLER,
	PHRASE_APOLOGY,
	PHRASE_TRANSFER,
	PHRASE_GOODBYE,
	PHRASE_N,
};

/* Immutable mu-law audio shared by reference count (clip.c). */
struct clip;

struct phrase {
	char *text;
	const uint8_t *mulaw; /* NULL until rendered; clip's bytes */
	size_t len;
	struct clip *clip; /* the audio, for playout_enqueue_clip */
};

struct phrases;

/* The call table's settings (call.c). */
struct call_config {
	long start_timeout_ms; /* a stream without "start" is closed */
	long lead_ms;	       /* playout lead, 20..PLAYOUT_LEAD_MAX_MS */
	long late_ms;	       /* a frame this late counts as late */
	size_t ws_output_max;
};

struct call_metrics {
	unsigned long streams;		/* WebSocket upgrades accepted */
	unsigned long started;		/* "start" received */
	unsigned long no_start;		/* closed for no "start" in time */
	unsigned long upgrades_refused; /* 400/403/503 on /twilio/media */
	unsigned long media_in;		/* inbound media messages */
	unsigned long bad_messages;	/* not JSON, unknown or malformed */
	unsigned long seq_gaps;		/* missing sequence numbers */
	unsigned long events_sent;
	unsigned long events_dropped;
	struct ws_stats ws;
	struct playout_stats po;
};

struct call_table;
struct call;

/* The job layer (jobs.c). */
enum jobs_stage {
	JOBS_STT,
	JOBS_LLM,
	JOBS_TTS,
	JOBS_NSTAGE,
};

struct jobs_config {
	long budget_ms[JOBS_NSTAGE]; /* time budget of a job per stage */
	long resend_ms[JOBS_NSTAGE]; /* no result this long: send again */
	long analysis_budget_ms;     /* ANALYSIS_JOB (on the llm stage) */
	int attempts_max;	     /* sends of one job, first included */
};

struct jobs_stats {
	unsigned long sent[JOBS_NSTAGE];
	unsigned long resent[JOBS_NSTAGE];
	unsigned long expired[JOBS_NSTAGE]; /* no final result in budget */
	unsigned long results;		    /* delivered to their owner */
	unsigned long duplicates;	    /* late duplicates ignored */
	unsigned long stale;		    /* older generation dropped */
	unsigned long unknown;		    /* no such job (any more) */
	unsigned long cancels;		    /* JOB_CANCEL published */
	unsigned long send_failed;	    /* a send that must wait */
};

struct jobs;
struct job;

/*
 * What becomes of a job: result() gets every result message of it (m
 * and payload borrowed), expired() is called once when no final result
 * came within its budget and attempts. The job is forgotten after a
 * final result or expiry; neither callback may free the jobs table.
 */
struct jobs_owner_ops {
	void (*result)(
	    void *owner, long tag, const struct msg *m, json_t *payload);
	void (*expired)(void *owner, long tag, int stage);
};

/* How jobs are sent; tests replace it. */
struct jobs_io {
	int (*send)(void *arg, int stage, const struct msg *m);
	int (*cancel)(void *arg, const struct msg *m);
	void *arg;
};

/* The business settings crm-store gives (crm.c). */
struct crm_business {
	char *id;
	char *name;
	char *greeting;
	char *voice;
	char *instructions;
	char *transfer_number; /* E.164 for transfer_to_human, or NULL */
};

struct crm;

/* One agent reply: sentences in index order (reply.c). */
struct reply;

/* One call's conversation: VAD, STT, LLM, TTS (conversation.c). */
struct conversation;
struct conversation_ask; /* a crm-store query a call waits on */

struct conversation_config {
	long max_turns;	      /* caller turns per call before the goodbye */
	long bargein_min_ms;  /* caller speech over the agent that stops it */
	long filler_after_ms; /* no reply audio this long: the filler; 0 off */
};

/* Barge-in (bargein.c): what the caller's speech over the agent does. */
#define BARGEIN_GAP_MS	    200	 /* silence that ends a burst */
#define BARGEIN_HOLD_MAX_MS 1000 /* a pause never lasts longer */
#define BARGEIN_JOIN_MS	    400	 /* a shorter pause joins two bursts */
/* Speech moves: a burst whose frames' energy spreads less than this
 * (vad_speech_spread_db) over BARGEIN_NOISE_CHECK_MS of it is noise. */
#define BARGEIN_SPEECH_SPREAD_DB 1.5
#define BARGEIN_NOISE_CHECK_MS	 160

enum bargein_action {
	BARGEIN_NONE,
	BARGEIN_PAUSE,	/* speech began over the agent: stop feeding audio */
	BARGEIN_RESUME, /* a short burst (a backchannel): the agent goes on */
	BARGEIN_CUT,	/* enough speech: clear, cancel, new generation */
};

enum bargein_state {
	BARGEIN_IDLE,	  /* no burst */
	BARGEIN_HOLD,	  /* a burst over the agent; playout paused */
	BARGEIN_CALLER,	  /* a burst that is the caller's turn */
	BARGEIN_CUT_DONE, /* a burst that cut the agent */
};

struct bargein {
	int min_ms;
	enum bargein_state state;
	int base_ms;	   /* speech of earlier bursts of this VAD turn */
	int end_speech_ms; /* the VAD turn's speech when the last burst ended */
	int64_t end_at;	   /* the last burst's last speech */
	int64_t hold_since;
	bool resumed; /* a burst of this VAD turn paused and resumed */
	bool other;   /* a burst of it was a turn or a cut */
	unsigned long holds, backchannels, cuts, noises;
};

struct routes_business {
	char *number; /* E.164, as Twilio sends To */
	char *business;
};

/* The browser API's settings (api.c); docs/api.md is its contract. */
struct api_config {
	const char *web_dir;	     /* the built UI (web/dist) */
	const char *csrf_key;	     /* NULL or "": a random key per process */
	const char *trusted_proxies; /* comma-separated addresses, or NULL */
	long session_cache_ms;	     /* a looked-up session is kept this long */
	long store_budget_ms;	     /* time budget of one crm-store request */
	long session_ttl_s;	     /* the cookie's Max-Age */
	long login_email_max;	     /* failed logins per email in the window */
	long login_ip_max;	     /* failed logins per client address */
	long login_window_s;	     /* the sliding window of failed logins */
};

struct api;

/* Server-Sent Events (sse.c). */
struct sse_config {
	long ping_ms;	   /* a ": ping" comment this often */
	long recheck_ms;   /* the session of a stream is asked for again */
	size_t output_max; /* bytes a stream may have unsent before it is
			      dropped as a slow reader */
	size_t streams_max;
};

struct sse;

/* The recording path (recording.c). */
struct recording;
struct recording_recent;
struct recording_ask; /* a call_by_sid query a recording waits on */

struct gateway {
	struct daemon *d;
	struct nnsock *jobs[3]; /* stt, llm, tts */
	struct nnsock *results;
	struct nnsock *cancel;
	struct nnsock *call_events;
	struct store_client *store; /* crm-store client (crm.c) */
	struct nnsock *store_changes;
	struct crm *crm;
	struct jobs *jobtab; /* jobs in flight (jobs.c) */
	char *results_addr;  /* this gateway's RESULTS address */
	struct conversation_config conv_cfg;
	struct conversation_ask *asks; /* queries in flight for calls */
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
	/* Media Streams (ws.c, media.c, call.c, playout.c, phrases.c) */
	struct call_table *calls;
	struct call_config call_cfg;
	struct call_metrics call_metrics;
	struct phrases *phrases;
	/* Browser API, static UI and live events (api.c, sse.c) */
	struct api *api;
	struct sse *sse;
	/* Twilio REST (transfers, hang-ups, recordings): common/twilio_rest.c
	 */
	struct httpc *httpc;
	struct twilio_rest *rest;
	/* Recordings of the Record fallback being transcribed (recording.c) */
	struct recording *recordings;
	struct recording_recent *rec_recent; /* webhook's call -> business */
	size_t rec_recent_next;
	struct recording_ask *rec_asks; /* call_by_sid queries in flight */
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
struct http_defer *http_conn_defer(struct http_conn *c);
bool http_defer_is_alive(const struct http_defer *d);
void http_defer_respond(struct http_defer *d, struct http_response *resp);
struct bufferevent *http_defer_detach(struct http_defer *d);
void http_defer_abandon(struct http_defer *d);

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

/* ws.c */
int ws_handshake(
    const struct http_request *req, char accept[WS_ACCEPT_LEN + 1]);
void ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);
struct ws_conn *ws_conn_new(struct bufferevent *bev, const char *accept,
    const struct ws_limits *lim, const struct ws_handlers *h, void *arg,
    struct ws_stats *st);
struct ws_conn *ws_conn_new_memory(const struct ws_limits *lim,
    const struct ws_handlers *h, void *arg, struct ws_stats *st);
int ws_conn_feed(struct ws_conn *ws, const void *data, size_t len);
struct evbuffer *ws_conn_output(struct ws_conn *ws);
int ws_send_text(struct ws_conn *ws, const char *msg, size_t len);
int ws_close(struct ws_conn *ws, unsigned int code, const char *reason);
bool ws_is_open(const struct ws_conn *ws);
size_t ws_output_len(const struct ws_conn *ws);
const char *ws_end_name(enum ws_end why);
void ws_conn_free(struct ws_conn *ws);

/* media.c */
enum media_error media_parse(const char *buf, size_t len, struct media_msg *m)
    __attribute__((warn_unused_result));
enum media_error media_parse_json(const char *buf, size_t len,
    struct media_msg *m) __attribute__((warn_unused_result));
int media_parse_fast(const char *buf, size_t len, struct media_msg *m)
    __attribute__((warn_unused_result));
void media_msg_clean(struct media_msg *m);
const char *media_param(const struct media_msg *m, const char *name);
const char *media_type_name(enum media_type t);
const char *media_error_name(enum media_error e);
bool media_is_valid_sid(const char *s);
unsigned long media_seq_note(struct media_seq *s, long seq);
char *media_build_media(
    const char *stream_sid, const uint8_t *mulaw, size_t len, size_t *outlen);
size_t media_format_media(char *buf, size_t size, const char *stream_sid,
    const uint8_t *mulaw, size_t len);
char *media_build_mark(
    const char *stream_sid, const char *name, size_t *outlen);
char *media_build_clear(const char *stream_sid, size_t *outlen);

/* clip.c */
struct clip *clip_new(const uint8_t *mulaw, size_t len);
struct clip *clip_ref(struct clip *c);
void clip_unref(struct clip *c);
const uint8_t *clip_bytes(const struct clip *c);
size_t clip_len(const struct clip *c);
size_t clip_live(void);

/* playout.c */
struct playout *playout_new(const struct playout_ops *ops, void *arg,
    long lead_ms, long late_ms, struct playout_stats *st);
void playout_free(struct playout *po);
unsigned long playout_enqueue(struct playout *po, const uint8_t *mulaw,
    size_t len, const char *label, int64_t now_ms);
unsigned long playout_enqueue_clip(
    struct playout *po, struct clip *clip, const char *label, int64_t now_ms);
void playout_tick(struct playout *po, int64_t now_ms);
int playout_clear(struct playout *po, int64_t now_ms);
void playout_stop(struct playout *po);
int playout_mark_echo(struct playout *po, const char *name);
bool playout_is_idle(const struct playout *po);
size_t playout_nitems(const struct playout *po);
const char *playout_item_label(const struct playout *po, size_t i);
enum playout_state playout_item_state(const struct playout *po, size_t i);
const char *playout_item_mark(const struct playout *po, size_t i);
size_t playout_heard(const struct playout *po, const char **labels, size_t max);
int64_t playout_ahead_ms(const struct playout *po, int64_t now_ms);
const char *playout_state_name(enum playout_state s);
void playout_pause(struct playout *po, bool paused, int64_t now_ms);
bool playout_is_paused(const struct playout *po);
bool playout_is_playing(const struct playout *po);

/* phrases.c */
const char *phrases_default_text(enum phrase_kind k);
const char *phrases_kind_name(enum phrase_kind k);
int phrases_set(struct gateway *g, const char *business, enum phrase_kind k,
    const char *text, const uint8_t *mulaw, size_t len);
int phrases_render(
    struct gateway *g, const char *business, const char *greeting_text);
const struct phrase *phrases_get(
    const struct gateway *g, const char *business, enum phrase_kind k);
void phrases_free(struct gateway *g);

/* call.c */
int call_setup(
    struct gateway *g, struct event_base *base, const struct call_config *cfg);
void call_cleanup(struct gateway *g);
void call_upgrade(struct gateway *g, struct http_conn *c,
    const struct http_request *req, struct http_response *resp);
struct call *call_find_stream(const struct gateway *g, const char *stream_sid);
struct call *call_find_sid(const struct gateway *g, const char *call_sid);
int call_play(struct call *call, enum phrase_kind k);
int call_clear(struct call *call);
const struct playout *call_playout(const struct call *call);
void call_metrics_write(const struct gateway *g, struct evbuffer *b);

/* crm.c */
int crm_setup(struct gateway *g);
void crm_cleanup(struct gateway *g);
bool crm_is_settled(const struct gateway *g);
bool crm_database_is_up(const struct gateway *g);
const struct crm_business *crm_business(
    const struct gateway *g, const char *id);
void crm_on_change(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
int crm_write(
    struct gateway *g, const char *kind, const char *key, json_t *data);
void crm_call_answered(struct gateway *g, const char *sid, const char *business,
    const char *from, const char *to, const char *status);
void crm_call_status(struct gateway *g, const char *sid, const char *business,
    const char *status, long duration_s);
void crm_metrics_write(const struct gateway *g, struct evbuffer *b);
size_t crm_business_count(const struct gateway *g);
const struct crm_business *crm_business_at(const struct gateway *g, size_t i);

/* recording.c */
void recording_status(struct gateway *g, const struct form *form);
void recording_note_call(struct gateway *g, const char *call_sid,
    const char *business, const char *from);
void recording_cleanup(struct gateway *g);

/* phone.c */
#define PHONE_E164_MAX 16 /* "+" and at most 15 digits */
int phone_normalize(const char *in, size_t len, char *out, size_t outlen);
bool phone_is_e164(const char *s);

/* csv.c */
#define CSV_FIELDS_MAX 200
#define CSV_FIELD_MAX  4096
struct csv_row {
	char **f; /* the fields, NUL-terminated */
	size_t n;
	size_t line; /* the line the row starts on, 1-based */
};
struct csv {
	struct csv_row *rows;
	size_t n;
};
char csv_sniff(const char *buf, size_t len);
int csv_parse(const char *buf, size_t len, char delim, size_t max_rows,
    struct csv *out, char *why, size_t whylen);
void csv_free(struct csv *c);

/* import.c */
#define IMPORT_ROWS_MAX 2000
/* The rows sent to crm-store, as JSON, at most (MSG_JSON_MAX is 512 KiB). */
#define IMPORT_JSON_MAX ((size_t)400 * 1024)
extern const char *const import_stages[];
bool import_is_one_of(const char *v, const char *const *list);
int import_prepare(const struct csv *c, json_t *mapping, json_t **rows,
    json_t **report, const char **field, char *why, size_t whylen);
json_t *import_report(json_t *mine, json_t *store_rows, bool dry_run);

/* api.c */
int api_setup(struct gateway *g, const struct api_config *cfg);
void api_cleanup(struct gateway *g);
bool api_is_api_path(const char *path);
void api_handle(struct gateway *g, struct http_conn *c,
    const struct http_request *req, struct http_response *resp);
void api_static(struct gateway *g, const struct http_request *req,
    struct http_response *resp);
void api_metrics_write(const struct gateway *g, struct evbuffer *b);

/* sse.c */
int sse_setup(
    struct gateway *g, struct event_base *base, const struct sse_config *cfg);
void sse_stop(struct gateway *g);
void sse_cleanup(struct gateway *g);
void sse_open(struct gateway *g, struct bufferevent *bev, const char *session,
    long long user_id, long long business_id);
void sse_on_change(struct gateway *g, json_t *payload);
void sse_call_event(struct gateway *g, const char *call_sid, json_t *ev);
void sse_session_ended(struct gateway *g, const char *session);
size_t sse_open_count(const struct gateway *g);
void sse_metrics_write(const struct gateway *g, struct evbuffer *b);

/* jobs.c */
struct jobs *jobs_new(struct event_base *base, const struct jobs_io *io,
    const struct jobs_config *cfg, const char *reply_addr);
void jobs_free(struct jobs *t);
uint64_t jobs_submit(struct jobs *t, int stage, enum msg_type type,
    const char *call_sid, uint32_t generation, json_t *payload,
    const uint8_t *blob, size_t blob_len, const struct jobs_owner_ops *ops,
    void *owner, long tag);
void jobs_deliver(struct jobs *t, const struct msg *m, json_t *payload);
void jobs_tick(struct jobs *t, int64_t now_ms);
int jobs_cancel(struct jobs *t, const char *call_sid, uint32_t generation,
    const char *reason);
void jobs_forget_owner(struct jobs *t, void *owner);
size_t jobs_in_flight(const struct jobs *t);
const struct jobs_stats *jobs_stats(const struct jobs *t);
const char *jobs_stage_name(int stage);
void jobs_metrics_write(const struct jobs *t, struct evbuffer *b);

/* reply.c */
struct reply *reply_new(void);
void reply_free(struct reply *r);
int reply_sentence(struct reply *r, long index, const char *text);
int reply_audio(struct reply *r, long index, const uint8_t *mulaw, size_t len,
    struct playout *po, int64_t now_ms);
int reply_skip(struct reply *r, long index, struct playout *po, int64_t now_ms);
void reply_set_total(
    struct reply *r, long n, struct playout *po, int64_t now_ms);
long reply_count(const struct reply *r);
long reply_queued(const struct reply *r);
bool reply_is_queued(const struct reply *r);
bool reply_is_played(const struct reply *r, const struct playout *po);
char *reply_heard(
    const struct reply *r, const struct playout *po, json_t *marks);
char *reply_generated(const struct reply *r);
bool reply_is_interrupted(const struct reply *r, const struct playout *po);
void reply_cut(struct reply *r);

/* bargein.c */
void bargein_init(struct bargein *b, int min_ms);
enum bargein_action bargein_step(struct bargein *b, bool agent_playing,
    int speech_ms, int silence_ms, double spread_db, int64_t now_ms);
bool bargein_is_holding(const struct bargein *b);
bool bargein_is_backchannel(const struct bargein *b, bool agent_playing);
const char *bargein_action_name(enum bargein_action a);

/* conversation.c */
struct conversation *conversation_new(struct call *call);
void conversation_free(struct conversation *cv);
void conversation_start(struct conversation *cv);
void conversation_media(
    struct conversation *cv, const uint8_t *mulaw, size_t len);
void conversation_mark(struct conversation *cv);
void conversation_end(struct conversation *cv);
void conversation_cleanup(struct gateway *g);

/* handoff.c (transfer_to_human through Twilio's REST API) */
struct handoff;
struct handoff *handoff_transfer(struct call *call);
void handoff_on_mark(struct handoff *h);
bool handoff_is_transferred(const struct handoff *h);
void handoff_free(struct handoff *h);

/* greeting.c (the known caller's personal greeting) */
struct greeting;
struct greeting *greeting_new(struct call *call);
void greeting_on_customer(struct greeting *gr, const char *name);
const char *greeting_heard_text(const struct greeting *gr);
void greeting_free(struct greeting *gr);
char *greeting_sentence(const char *name);

/* conversation.c, for handoff.c and greeting.c */
void conversation_transfer_failed(struct conversation *cv, const char *why);
bool conversation_is_greeting_time(const struct conversation *cv);

/* call.c (what conversation.c reads and asks of a call) */
const char *call_sid(const struct call *call);
const char *call_stream_sid(const struct call *call);
struct conversation *call_conversation(const struct call *call);
const char *call_business(const struct call *call);
const char *call_from(const struct call *call);
uint32_t call_generation(const struct call *call);
struct gateway *call_gateway(const struct call *call);
struct playout *call_playout_mut(struct call *call);
int64_t call_started_ms(const struct call *call);
struct log_ctx call_log_ctx(const struct call *call);
void call_kick(struct call *call);
void call_event(struct call *call, const char *event);
int call_hangup(struct call *call, const char *why);

/* vad.c */
/*
 * Voice activity and end of turn of one call's inbound audio, on 20 ms
 * frames of 160 mu-law bytes. Every VAD_SPEECH_START is followed by
 * exactly one VAD_UTTERANCE_END.
 */
#define VAD_FRAME_MS	20
#define VAD_FRAME_BYTES 160 /* 20 ms of 8 kHz mu-law */

enum vad_event { VAD_NONE, VAD_SPEECH_START, VAD_UTTERANCE_END };

/* What decides that a frame is speech (benchmarks; default BOTH). */
enum vad_detector {
	VAD_DETECT_BOTH,   /* WebRTC and the energy gate over the noise floor */
	VAD_DETECT_WEBRTC, /* WebRTC alone */
	VAD_DETECT_ENERGY, /* the energy gate alone */
};

struct vad_params {
	int hangover_ms;      /* silence that ends a turn, default 600 */
	int hangover_long_ms; /* after a run of short bursts (dictation),
				 default 1200 */
	int min_speech_ms;    /* speech shorter than this is not a turn (a
				 click, a cough), default 120 */
	int max_utterance_ms; /* a turn is cut here, default 15000 */
	int preroll_ms;	      /* audio kept before the onset, default 200 */
	int mode;	      /* WebRTC aggressiveness 0..3, default 2 */
};

struct vad;

void vad_params_default(struct vad_params *p);
struct vad *vad_new(const struct vad_params *p);
void vad_free(struct vad *v);
enum vad_event vad_feed(struct vad *v, const uint8_t *mulaw, size_t n);
const uint8_t *vad_utterance(const struct vad *v, size_t *len);
int vad_speech_ms(const struct vad *v);
int vad_silence_ms(const struct vad *v);
double vad_speech_spread_db(const struct vad *v);
bool vad_in_speech(const struct vad *v);
int vad_set_detector(struct vad *v, enum vad_detector d);
size_t vad_pending(const struct vad *v);
double vad_noise_floor_db(const struct vad *v);
const char *vad_event_name(enum vad_event e);

#endif
