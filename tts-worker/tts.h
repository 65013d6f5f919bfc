/*
 * The tts-worker's private header: one section per file, so the header is
 * a map of the daemon (R2).
 *
 *   job.c         TTS_JOB -> cache, Google, fallback -> TTS_RESULT
 *   google_tts.c  the text:synthesize request and the pure parsers of its
 *                 answer (JSON, base64, WAV chunks) and of long text
 *   gauth.c       service-account JWT (RS256) and the access-token cache
 *   cache.c       on-disk audio cache keyed by SHA-256, with cleanup
 *   fallback.c    espeak-ng Hebrew when Google cannot answer in time
 *
 * OpenSSL is used only by gauth.c (RSA, JWT) and cache.c (SHA-256) (R14).
 */
#ifndef MERKAZIA_TTS_H
#define MERKAZIA_TTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <bsd/sys/queue.h>
#include <event2/event.h>

#include "worker.h"

struct httpc;
struct httpc_req;
struct httpc_result;
struct gauth;
struct gauth_wait;
struct tts_cache;
struct tts_job;

/* Google's limit on input.text, in UTF-8 bytes. */
#define GOOGLE_TTS_MAX_TEXT 5000
/* The longest text a job may carry (bytes, after number expansion). */
#define TTS_TEXT_MAX	   ((size_t)16 * 1024)
#define TTS_VOICE_MAX	   64
#define TTS_RATE_MIN	   0.25
#define TTS_RATE_MAX	   4.0
#define TTS_FALLBACK_VOICE "espeak-ng"

/* What job.c needs from the daemon's settings; filled by main.c. */
struct tts_settings {
	const char *base_url;		    /* GOOGLE_TTS_BASE_URL */
	const char *voice;		    /* MERKAZIA_TTS_VOICE */
	long timeout_ms;		    /* MERKAZIA_TTS_TIMEOUT_MS */
	long fallback_ms;		    /* MERKAZIA_TTS_FALLBACK_MS */
	long retries;			    /* MERKAZIA_TTS_RETRIES */
	long cache_max_age_s;		    /* MERKAZIA_TTS_CACHE_MAX_AGE_S */
	unsigned long long cache_max_bytes; /* MERKAZIA_TTS_CACHE_MAX_MB */
};

/* The stage's state; the daemon's ctx stays the struct worker. */
struct tts_worker {
	struct daemon *d;
	struct worker *w;
	struct httpc *http;
	struct gauth *auth;
	struct tts_cache *cache; /* NULL: running without a cache */
	struct tts_settings set;
	TAILQ_HEAD(tts_jobs, tts_job) jobs; /* in flight */
	unsigned long google_ok;
	unsigned long cache_hits;
	unsigned long fallbacks;
	unsigned long errors;
};

/* job.c */
struct tts_worker *tts_worker_new(struct daemon *d,
    const struct tts_settings *set, const char *credentials,
    const char *cache_dir, char *err, size_t errsize);
void tts_worker_cleanup(struct tts_worker *tw);
void tts_worker_free(struct tts_worker *tw);
void tts_job_on_cancel(struct worker_job *wj, void *arg);
extern const struct msg_handler tts_job_handlers[];

/* google_tts.c */
/* A parsed WAV header: where the samples are and what they are. */
struct google_tts_wav {
	unsigned int
	    format; /* 1 PCM, 7 mu-law, 6 A-law (extensible resolved) */
	unsigned int channels;
	unsigned int rate;
	unsigned int bits;
	const uint8_t *data; /* into the parsed buffer */
	size_t data_len;
};
#define GOOGLE_TTS_WAV_PCM   1u
#define GOOGLE_TTS_WAV_ALAW  6u
#define GOOGLE_TTS_WAV_MULAW 7u

int google_tts_wav_parse(const uint8_t *buf, size_t len,
    struct google_tts_wav *out) __attribute__((warn_unused_result));
int google_tts_wav_mulaw(const uint8_t *buf, size_t len, uint8_t **mulaw,
    size_t *n, const char **why) __attribute__((warn_unused_result));
size_t google_tts_split_len(const char *text, size_t len, size_t max);
char *google_tts_request_json(
    const char *text, size_t len, const char *voice, double rate);
int google_tts_parse_response(const char *body, size_t len, uint8_t **mulaw,
    size_t *n, const char **why) __attribute__((warn_unused_result));
void google_tts_error_text(
    const char *body, size_t len, long code, char *buf, size_t size);
struct httpc_req *google_tts_start(struct httpc *h, const char *base_url,
    const char *token, const char *text, size_t len, const char *voice,
    double rate, long budget_ms,
    void (*done)(
	struct httpc_req *r, const struct httpc_result *res, void *arg),
    void *arg);

/* gauth.c */
#define GAUTH_SCOPE	 "https://www.googleapis.com/auth/cloud-platform"
#define GAUTH_TOKEN_URI	 "https://oauth2.googleapis.com/token"
#define GAUTH_LIFETIME_S 3600
#define GAUTH_EARLY_S	 300   /* refresh this long before expiry */
#define GAUTH_TOKEN_MS	 10000 /* budget of one token request */
#define GAUTH_RETRY_MS	 1000  /* after a failed fetch, fail fast */
#define GAUTH_ERROR_MAX	 200

struct gauth *gauth_new(
    struct httpc *h, const char *path, char *err, size_t errsize);
void gauth_free(struct gauth *g);
char *gauth_jwt(const struct gauth *g, time_t now);
char *gauth_base64url(const void *data, size_t len);
const char *gauth_token(struct gauth *g);
struct gauth_wait *gauth_fetch(struct gauth *g,
    void (*cb)(const char *token, const char *error, void *arg), void *arg);
void gauth_wait_cancel(struct gauth_wait *wt);
unsigned long gauth_token_gen(const struct gauth *g);
void gauth_invalidate(struct gauth *g, unsigned long gen);
const char *gauth_last_error(const struct gauth *g);
const char *gauth_token_uri(const struct gauth *g);

/* cache.c */
#define TTS_CACHE_KEY_LEN 64 /* hex SHA-256 */

struct tts_cache_stats {
	size_t files;	/* cache files seen */
	size_t removed; /* removed by age, by the size cap or as broken */
	size_t removed_by_age;
	size_t removed_by_size;
	unsigned long long bytes; /* what is left */
};

struct tts_cache *tts_cache_new(const char *dir);
void tts_cache_free(struct tts_cache *c);
const char *tts_cache_dir(const struct tts_cache *c);
void tts_cache_key(const char *voice, double rate, const char *text, size_t len,
    char key[TTS_CACHE_KEY_LEN + 1]);
int tts_cache_get(struct tts_cache *c, const char *key, uint8_t **buf,
    size_t *len) __attribute__((warn_unused_result));
int tts_cache_put(
    struct tts_cache *c, const char *key, const uint8_t *buf, size_t len);
int tts_cache_cleanup(struct tts_cache *c, long max_age_s,
    unsigned long long max_bytes, time_t now, struct tts_cache_stats *st);

/* fallback.c */
int tts_fallback_render(const char *text, double rate, uint8_t **mulaw,
    size_t *n) __attribute__((warn_unused_result));

#endif
