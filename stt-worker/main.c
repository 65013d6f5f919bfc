/*
 * stt-worker: utterance audio to Hebrew text (OpenAI transcription)
 *
 * Manual. A stateless stage worker: it connects a PULL socket to the job
 * endpoint of every gateway in MERKAZIA_ENDPOINT_JOBS_STT (default
 * ipc://$MERKAZIA_RUNTIME_DIR/jobs-stt.sock), subscribes to the gateways'
 * job cancels (MERKAZIA_ENDPOINT_CANCEL), and publishes a heartbeat every
 * second to every follower (MERKAZIA_ENDPOINT_HEALTH_GATEWAY,
 * MERKAZIA_ENDPOINT_HEALTH_WATCHDOG). Results go to the reply address each
 * job carries. Start more instances (systemd: merkazia-stt-worker@N) to scale
 * the stage; nothing else is reconfigured.
 *
 * A job (STT_JOB: mu-law 8 kHz utterance) becomes a 16-bit WAV posted to
 * {OPENAI_BASE_URL}/audio/transcriptions (language he); the transcript
 * passes the hallucination filter (filter.c) and goes back as STT_RESULT
 * {text, confidence, no_speech, duration_ms, stt_ms}; failures come back
 * as STT_RESULT with flag ERROR {error: bad_audio|quota|timeout|provider}.
 * Provider failures are retried within the job's budget; insufficient_quota
 * raises an operator alert (log and heartbeat). See docs/stt-worker.md.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking jobs, drain the jobs in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include <stdlib.h>

#include "daemon.h"
#include "httpc.h"
#include "settings.h"
#include "xmalloc.h"

#include "stt.h"

static const struct config_key stt_config[] = {
    {"MERKAZIA_STT_MODEL", CONFIG_STRING, "whisper-1", 0, 0, 0,
	"OpenAI transcription model (whisper-1: verbose_json with "
	"segment statistics; gpt-4o-transcribe, gpt-4o-mini-transcribe: json "
	"with token logprobs)"},
    {"MERKAZIA_STT_PROMPT", CONFIG_STRING, NULL, 0, 0, 0,
	"transcription prompt when a job brings none: a neutral vocabulary "
	"list (Whisper echoes prompts on silence); unset: none"},
    {"MERKAZIA_STT_TIMEOUT_MS", CONFIG_INT, "8000", 500, 120000, 0,
	"cap on one transcription request (connect included)"},
    {"MERKAZIA_STT_RETRIES", CONFIG_INT, "2", 0, 5, 0,
	"retries of a failed transcription (429, 5xx, connection), within "
	"the job's budget"},
    {"MERKAZIA_STT_DEFAULT_BUDGET_MS", CONFIG_INT, "15000", 1000, 600000, 0,
	"time budget of a job that carries none"},
    {"MERKAZIA_STT_SILENCE_DBFS", CONFIG_INT, "-50", -120, 0, 0,
	"an utterance at or below this RMS level (dBFS) is low energy: a "
	"blocklisted transcript of it counts as no speech"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const struct msg_handler stt_job_handlers[] = {
    {MSG_STT_JOB, stt_job_on_msg},
    {0, NULL},
};

static void stt_shutdown(struct daemon *d);

static int
stt_init(struct daemon *d)
{
	struct stt *s = xcalloc(1, sizeof(*s));
	const struct config *cfg = d->cfg;

	d->ctx = s;
	s->d = d;
	s->base_url = config_str(cfg, "OPENAI_BASE_URL");
	s->api_key = config_str(cfg, "OPENAI_API_KEY");
	s->model = config_str(cfg, "MERKAZIA_STT_MODEL");
	s->prompt = config_str(cfg, "MERKAZIA_STT_PROMPT");
	s->timeout_ms = config_int(cfg, "MERKAZIA_STT_TIMEOUT_MS");
	s->retries = config_int(cfg, "MERKAZIA_STT_RETRIES");
	s->default_ms = config_int(cfg, "MERKAZIA_STT_DEFAULT_BUDGET_MS");
	s->silence_dbfs = config_int(cfg, "MERKAZIA_STT_SILENCE_DBFS");
	s->http = httpc_new(d->base);
	s->w = worker_new(d, "stt", ENDPOINT_JOBS_STT, stt_job_handlers,
	    stt_job_on_cancel, s);
	if (s->http == NULL || s->w == NULL) {
		stt_shutdown(d);
		return -1;
	}
	worker_set_provider(s->w, true, NULL);
	return 0;
}

static void
stt_stop(struct daemon *d)
{
	struct stt *s = d->ctx;

	if (s != NULL)
		worker_stop(s->w);
}

static bool
stt_drained(struct daemon *d)
{
	const struct stt *s = d->ctx;

	return s == NULL || s->w == NULL ||
	       (s->w->in_flight == 0 && TAILQ_EMPTY(&s->w->pending));
}

static void
stt_shutdown(struct daemon *d)
{
	struct stt *s = d->ctx;

	if (s == NULL)
		return;
	stt_job_free_all(s);
	worker_free(s->w);
	httpc_free(s->http);
	free(s);
	d->ctx = NULL;
}

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "stt-worker",
	    .summary = "utterance audio to Hebrew text (OpenAI transcription)",
	    .config = {settings_openai, stt_config, NULL},
	    .init = stt_init,
	    .stop = stt_stop,
	    .drained = stt_drained,
	    .shutdown = stt_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
