/*
 * sim-caller's private header: the simulated Twilio caller's parts.
 *
 * Why one header: the tool is split by concern (R1) and the pure parts
 * (twiml.c, sig.c, handshake.c, media.c, player.c, the noise of script.c,
 * the percentiles of metrics.c) are #included whole by the unit tests
 * tests/unit/test_sim_caller_*.c, which cannot link a tool's objects; this
 * header is what they and the impure parts (wsc.c, call.c, main.c) share.
 * Prototypes are grouped by file (R2). docs/sim-caller.md is the manual.
 *
 * Ownership: every *_free / *_clear takes what its struct points to; the
 * pure parsers hand back new strings the caller owns through those.
 */
#ifndef MERKAZIA_SIM_CALLER_H
#define MERKAZIA_SIM_CALLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct httpc;
struct sockaddr;
struct sockaddr_storage;

/* One Media Streams frame: 20 ms of 8 kHz mu-law. */
#define SIM_FRAME_BYTES 160
#define SIM_FRAME_MS	20
/* A Twilio SID: two letters and 32 hex digits. */
#define SIM_SID_LEN 34

/* ---- twiml.c: the voice webhook's answer ------------------------------ */

#define TWIML_MAX_PARAMS 32
#define TWIML_MAX_DEPTH	 16

enum twiml_kind {
	TWIML_STREAM,	  /* <Connect><Stream url=...> */
	TWIML_SAY_HANGUP, /* <Say> and/or <Hangup/>, no stream */
	TWIML_OTHER,	  /* anything else (<Record>, <Redirect>, ...) */
};

struct twiml_param {
	char *name;
	char *value;
};

struct twiml {
	enum twiml_kind kind;
	char *stream_url; /* NULL unless TWIML_STREAM */
	char *status_callback;
	struct twiml_param params[TWIML_MAX_PARAMS];
	size_t nparams;
	char *say;	 /* text of the first <Say>, NULL when none */
	bool hangup;	 /* a <Hangup/> verb was there */
	char verbs[160]; /* the verbs in order: "Connect>Stream,Say" */
};

int twiml_parse(const char *xml, size_t len, struct twiml *out)
    __attribute__((warn_unused_result));
void twiml_clear(struct twiml *t);
const char *twiml_kind_name(enum twiml_kind kind);

/* ---- sig.c: forms and X-Twilio-Signature ------------------------------ */

/* Length of a signature: base64 of a 20-byte HMAC-SHA1. */
#define SIG_LEN 28

struct sig_param {
	const char *name;
	const char *value;
};

char *sig_form_encode(const struct sig_param *p, size_t n);
int sig_compute(const char *token, const char *url, const struct sig_param *p,
    size_t n, char out[SIG_LEN + 1]) __attribute__((warn_unused_result));
void sig_random_hex(char *out, size_t ndigits);

/* ---- handshake.c: the WebSocket opening handshake (client side) ------- */

/* Largest response head we wait for before giving up. */
#define HANDSHAKE_MAX_HEAD 8192
/* Sec-WebSocket-Key: base64 of 16 random bytes. */
#define HANDSHAKE_KEY_LEN 24

struct handshake_url {
	bool tls;	/* wss:// (we cannot speak it; the caller decides) */
	char host[256]; /* without brackets for an IPv6 literal */
	char port[8];	/* "80" / "443" when the URL names none */
	char hostport[272]; /* as it goes into the Host header */
	char path[1024];    /* "/" when the URL has none */
};

enum handshake_result {
	HANDSHAKE_INCOMPLETE, /* need more bytes */
	HANDSHAKE_OK,	      /* 101 with the right headers */
	HANDSHAKE_BAD,	      /* anything else; see why and *status */
};

int handshake_parse_url(const char *url, struct handshake_url *u)
    __attribute__((warn_unused_result));
void handshake_key(const uint8_t nonce[16], char key[HANDSHAKE_KEY_LEN + 1]);
int handshake_accept(const char *key, char accept[SIG_LEN + 1])
    __attribute__((warn_unused_result));
char *handshake_request(
    const struct handshake_url *u, const char *key, const char *signature);
enum handshake_result handshake_check(const char *buf, size_t len,
    const char *key, size_t *headlen, int *status, char *why, size_t whylen);

/* ---- media.c: Media Streams messages, both ways ----------------------- */

enum media_event {
	MEDIA_EV_MEDIA,
	MEDIA_EV_MARK,
	MEDIA_EV_CLEAR,
};

/* A message the server (the gateway) sent us, decoded. */
struct media_msg {
	enum media_event event;
	uint8_t *audio; /* MEDIA_EV_MEDIA: decoded mu-law (caller frees) */
	size_t audio_len;
	char *mark; /* MEDIA_EV_MARK: the name (caller frees) */
};

/* What a start message carries. */
struct media_start {
	const char *account_sid;
	const char *stream_sid;
	const char *call_sid;
	const struct twiml_param *params;
	size_t nparams;
};

int media_parse(const char *text, size_t len, const char *stream_sid,
    struct media_msg *out, const char **why)
    __attribute__((warn_unused_result));
void media_msg_clear(struct media_msg *m);
char *media_connected(void);
char *media_start(unsigned long seq, const struct media_start *s);
int media_frame(char *buf, size_t size, unsigned long seq, unsigned long chunk,
    unsigned long timestamp, const uint8_t frame[SIM_FRAME_BYTES],
    const char *stream_sid) __attribute__((warn_unused_result));
char *media_mark(unsigned long seq, const char *stream_sid, const char *name);
char *media_stop(unsigned long seq, const char *stream_sid,
    const char *account_sid, const char *call_sid);

/* Enough for one media message of SIM_FRAME_BYTES. */
#define MEDIA_FRAME_MSG_MAX 512

/* ---- player.c: how Twilio plays what it receives ---------------------- */

enum player_state {
	PLAYER_IDLE,	  /* nothing buffered */
	PLAYER_BUFFERING, /* filling the jitter buffer */
	PLAYER_PLAYING,
};

/* Every mark received, in order. */
struct player_mark {
	char *name;
	size_t pos;	 /* audio bytes received before it */
	int64_t recv_ms; /* when it arrived */
	int64_t echo_ms; /* when it was echoed, -1 while pending */
	bool played;	 /* its audio played fully (not cleared) */
};

struct player {
	enum player_state state;
	int jitter_ms;
	int64_t buffering_since;
	uint8_t *buf; /* received audio not yet played: buf[head..tail) */
	size_t head, tail, cap;
	size_t received; /* audio bytes received, ever */
	size_t consumed; /* audio bytes played or cleared, ever */
	struct player_mark *marks;
	size_t nmarks, capmarks;
	size_t next_mark; /* first mark not echoed yet */
	size_t *outbox;	  /* mark indexes to echo now */
	size_t noutbox, capoutbox;
	bool dry; /* ran out of audio inside a sentence */
	int64_t dry_since;
	unsigned long clears;
	unsigned long underruns;
	int64_t underrun_ms;
	size_t played_bytes;
	size_t cleared_bytes;
};

void player_init(struct player *p, int jitter_ms);
void player_free(struct player *p);
void player_audio(
    struct player *p, const uint8_t *data, size_t len, int64_t now_ms);
void player_mark(struct player *p, const char *name, int64_t now_ms);
void player_clear(struct player *p, int64_t now_ms);
size_t player_frame(
    struct player *p, int64_t now_ms, uint8_t out[SIM_FRAME_BYTES]);
bool player_is_idle(const struct player *p);
size_t player_take_outbox(struct player *p, size_t *idx, size_t max);
bool player_frame_is_audible(const uint8_t *frame, size_t n);

/* ---- script.c: what the caller says (tests/scenarios/NAME.json) ---------- */

enum script_kind {
	SCRIPT_SAY,
	SCRIPT_SILENCE,
	SCRIPT_NOISE,
};

struct script_step {
	enum script_kind kind;
	char *id;  /* NULL when the step has none */
	char *say; /* SCRIPT_SAY */
	int wpm;
	int ms;		   /* SCRIPT_SILENCE, SCRIPT_NOISE */
	double level_dbfs; /* SCRIPT_NOISE */
	unsigned long seed;
	int barge_ms;	/* start this line barge_ms after the reply began; -1 */
	uint8_t *audio; /* rendered mu-law (SAY, NOISE) */
	size_t len;
	size_t speech_end;   /* bytes up to the end of the last audible frame */
	size_t speech_start; /* bytes before the first audible frame */
};

struct script {
	char *name;
	char *from;
	char *to;
	struct script_step *steps;
	size_t n;
};

int script_load(const char *path, struct script *s)
    __attribute__((warn_unused_result));
void script_say(struct script *s, const char *text, int wpm);
int script_barge_in(struct script *s, const char *spec)
    __attribute__((warn_unused_result));
int script_render(struct script *s) __attribute__((warn_unused_result));
void script_free(struct script *s);
void script_noise(
    uint8_t *out, size_t n, double level_dbfs, unsigned long seed);

/* ---- metrics.c: figures -------------------------------------------------- */

double metrics_percentile(double *v, size_t n, double p);
json_t *metrics_summary(double *v, size_t n);

/* Values in fixed-width bins from 0 (the last bin takes everything above
 * the top); the exact maximum is kept. */
struct metrics_hist {
	uint64_t *bins;
	size_t nbins;
	double width;
	uint64_t n;
	double max;
};

void metrics_hist_init(struct metrics_hist *h, double width, double top);
void metrics_hist_add(struct metrics_hist *h, double v);
double metrics_hist_percentile(const struct metrics_hist *h, double p);
json_t *metrics_hist_summary(const struct metrics_hist *h);
void metrics_hist_free(struct metrics_hist *h);

/* ---- wsc.c: WebSocket client on a bufferevent, framing by wslay ------ */

struct wsc;

struct wsc_callbacks {
	void (*on_open)(void *arg);
	void (*on_text)(const char *text, size_t len, void *arg);
	void (*on_binary)(size_t len, void *arg);
	/* The connection is gone (code 1006 when no close frame came); why
	 * says what failed when it did not close cleanly. Called once. */
	void (*on_closed)(int code, const char *why, void *arg);
};

struct wsc_stats {
	uint64_t bytes_in, bytes_out; /* on the wire */
	uint64_t msgs_in, msgs_out;   /* WebSocket messages */
	int upgrade_status;	      /* HTTP status of the upgrade, 0: none */
	int64_t open_ms;	      /* connect to 101, -1 when not open */
};

struct wsc *wsc_new(struct event_base *base, const struct sockaddr *sa,
    int salen, const struct handshake_url *u, const char *signature,
    const struct wsc_callbacks *cb, void *arg);
int wsc_send_text(struct wsc *w, const char *text, size_t len);
int wsc_send_binary(struct wsc *w, const void *data, size_t len);
void wsc_close(struct wsc *w, uint16_t code);
void wsc_stop_reading(struct wsc *w);
const struct wsc_stats *wsc_stats(const struct wsc *w);
void wsc_free(struct wsc *w);

/* ---- call.c: one simulated call --------------------------------------- */

/* Bad-input modes (--no-start and friends) as bits. */
#define CALL_BAD_NO_START     0x01u
#define CALL_BAD_GARBAGE      0x02u
#define CALL_BAD_UNSIGNED     0x04u
#define CALL_BAD_STOP_READING 0x08u
#define CALL_BAD_BINARY	      0x10u
#define CALL_BAD_WRONG_SIG    0x20u
#define CALL_BAD_NO_STOP      0x40u
#define CALL_BAD_UNSIGNED_WS  0x80u

/* What every call of a run shares (owned by main.c). */
struct sim {
	struct event_base *base;
	struct httpc *httpc;
	const struct script *script;
	const char *gateway;	/* host:port the webhook is posted to */
	const char *public_url; /* what the gateway believes it is */
	const char *voice_path;
	const char *token;
	const char *account_sid;
	const char *from;
	const char *to;
	const char *wav;  /* NULL: no recording */
	unsigned int bad; /* CALL_BAD_* */
	int jitter_ms;
	int pause_ms;
	int reply_timeout_ms;
	long hangup_after_ms; /* -1: none */
	long max_call_ms;
	long webhook_timeout_ms;
	int ncalls; /* how many calls the run makes (for WAV names) */
};

struct call;

/* A finished call's figures for the aggregate (call_metrics). */
struct call_figures {
	double webhook_ms;     /* NAN when none */
	double greeting_ms;    /* NAN when none */
	double first_media_ms; /* NAN when none */
	double *reply_ms;      /* every turn's reply latency */
	size_t nreply;
	double *gap_ms; /* gaps between received media messages */
	size_t ngap;
};

struct call *call_new(struct sim *sim, int index);
void call_start(struct call *c);
void call_tick(struct call *c, int64_t now_ms);
void call_hangup(struct call *c);
bool call_is_done(const struct call *c);
bool call_is_ok(const struct call *c);
json_t *call_report(struct call *c);
void call_metrics(const struct call *c, struct call_figures *m);
void call_metrics_free(struct call_figures *m);
void call_free(struct call *c);
int call_resolve_loopback(const char *host, const char *port,
    struct sockaddr_storage *ss, int *salen);

#endif
