/*
 * stt-worker's private header: the daemon's state, and the prototypes of
 * its files, grouped by file (R2).
 *
 *   job.c         STT_JOB -> audio -> transcription (with retries) ->
 *                 filter -> STT_RESULT; cancels
 *   openai_stt.c  the OpenAI transcription wire format: the multipart
 *                 request over httpc; response and error parsers (pure)
 *   filter.c      the hallucination filter (pure)
 */
#ifndef MERKAZIA_STT_H
#define MERKAZIA_STT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "httpc.h"
#include "openai.h"
#include "nnsock.h"
#include "worker.h"

/* Whisper's own gates (reference: openai/whisper transcribe.py). */
#define STT_NO_SPEECH_PROB  0.6
#define STT_LOGPROB_MIN	    (-1.0)
#define STT_COMPRESSION_MAX 2.4
#define STT_BLOCKLIST_CHARS 40 /* only short whole transcripts match */
#define STT_AUDIO_MAX	    ((size_t)8000 * 120) /* 2 minutes of mu-law */

/* The daemon's state (d->ctx). Strings are borrowed from the config. */
struct stt {
	struct daemon *d;
	struct worker *w;
	struct httpc *http;
	const char *base_url;
	const char *api_key;
	const char *model;
	const char *prompt; /* NULL: none */
	long timeout_ms;    /* cap on one provider request */
	long default_ms;    /* budget of a job that carries none */
	long retries;	    /* provider retries per job */
	long silence_dbfs;  /* RMS at or below: low energy */
	bool quota_alert;
};

/* filter.c */
/* What the transcription said about itself, and what we measured. */
struct stt_filter_in {
	const char *text;
	const char *prompt;	  /* sent to the provider, or NULL */
	bool has_segments;	  /* whisper-1 verbose_json */
	double no_speech_prob;	  /* mean over segments */
	double avg_logprob;	  /* mean over segments (or tokens) */
	bool has_logprob;	  /* avg_logprob is known */
	double compression_ratio; /* max over segments; 0: unknown */
	bool all_silent;	  /* every segment no_speech > .6, lp < -1 */
	double rms_dbfs;	  /* of the utterance */
	double silence_dbfs;	  /* threshold of low energy */
};

struct stt_filter_out {
	bool no_speech;
	const char *hit;    /* "blocklist", "repetition", "prompt_echo" */
	const char *signal; /* "no_speech_prob", "avg_logprob", */
			    /* "compression_ratio", "low_energy" */
	const char *reason; /* why no_speech, or NULL */
};

char *stt_filter_normalize(const char *text);
bool stt_filter_is_blocklisted(const char *norm);
bool stt_filter_is_repetition(const char *norm);
bool stt_filter_is_prompt_echo(const char *norm, const char *prompt_norm);
double stt_filter_rms_dbfs(const int16_t *pcm, size_t n);
void stt_filter_judge(
    const struct stt_filter_in *in, struct stt_filter_out *out);

/* openai_stt.c */
struct openai_stt_result {
	char *text; /* owned */
	bool has_segments;
	size_t nsegments;
	double no_speech_prob;
	double avg_logprob;
	bool has_logprob;
	double compression_ratio;
	bool all_silent;
	double duration_s; /* -1: unknown */
};

int openai_stt_parse(
    const char *body, size_t len, struct openai_stt_result *out);
void openai_stt_result_free(struct openai_stt_result *r);
bool openai_stt_is_verbose(const char *model);
struct httpc_req *openai_stt_request(struct stt *s, const uint8_t *wav,
    size_t wav_len, const char *language, const char *prompt, long budget_ms);

/* job.c */
void stt_job_on_msg(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void stt_job_on_cancel(struct worker_job *job, void *arg);
void stt_job_free_all(struct stt *s);

#endif
