/*
 * tts-worker: Hebrew sentences to 8 kHz mu-law speech (Google Cloud TTS)
 *
 * Manual. A stateless stage worker: it connects a PULL socket to the job
 * endpoint of every gateway in MERKAZIA_ENDPOINT_JOBS_TTS (default
 * ipc://$MERKAZIA_RUNTIME_DIR/jobs-tts.sock), subscribes to the gateways'
 * job cancels (MERKAZIA_ENDPOINT_CANCEL), and publishes a heartbeat every
 * second to every follower (MERKAZIA_ENDPOINT_HEALTH_GATEWAY,
 * MERKAZIA_ENDPOINT_HEALTH_WATCHDOG). Results go to the reply address each
 * job carries. Start more instances (systemd: merkazia-tts-worker@N) to scale
 * the stage; nothing else is reconfigured.
 *
 * Each TTS_JOB (index, text, voice, rate) is answered by one TTS_RESULT
 * with 8 kHz mu-law audio: from the on-disk cache, from Google Cloud TTS
 * (service-account JWT auth), or from espeak-ng when Google cannot answer
 * within the job's budget; docs/tts-worker.md has the details.
 *
 * Start: the credentials file (GOOGLE_APPLICATION_CREDENTIALS) is read and
 * its key tried at start; a missing or bad file stops the daemon with exit
 * 1 and a message naming the file and the problem (never the key). The
 * cache directory (MERKAZIA_TTS_CACHE_DIR, else $CACHE_DIRECTORY, else
 * <state dir>/tts-cache) is created if needed; one that cannot be used is
 * logged and the worker runs without a cache. The cache is cleaned at
 * start and every TTS_CACHE_CLEANUP_MS.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking jobs, drain the jobs in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include <stdlib.h>

#include "audio.h"
#include "daemon.h"
#include "log.h"
#include "settings.h"
#include "tts.h"
#include "worker.h"
#include "xmalloc.h"

#define TTS_CACHE_CLEANUP_MS (10 * 60 * 1000)

static const struct config_key tts_config[] = {
    {"GOOGLE_APPLICATION_CREDENTIALS", CONFIG_STRING, NULL, 0, 0,
	CONFIG_REQUIRED, "path of the Google service-account JSON file"},
    {"GOOGLE_TTS_BASE_URL", CONFIG_URL, "https://texttospeech.googleapis.com",
	0, 0, 0, "base URL of Google Cloud Text-to-Speech"},
    {"MERKAZIA_TTS_VOICE", CONFIG_STRING, "he-IL-Wavenet-A", 0, 0, 0,
	"default Google voice name"},
    {"MERKAZIA_TTS_CACHE_DIR", CONFIG_STRING, NULL, 0, 0, 0,
	"directory of the audio cache; default $CACHE_DIRECTORY, else "
	"<state dir>/tts-cache"},
    {"MERKAZIA_TTS_CACHE_MAX_AGE_S", CONFIG_INT, "2592000", 60, 315360000, 0,
	"cached audio unused for this long is removed"},
    {"MERKAZIA_TTS_CACHE_MAX_MB", CONFIG_INT, "1024", 1, 1048576, 0,
	"size cap of the audio cache (least recently used removed first)"},
    {"MERKAZIA_TTS_TIMEOUT_MS", CONFIG_INT, "10000", 200, 120000, 0,
	"longest time Google may take for one job (also for jobs without a "
	"budget)"},
    {"MERKAZIA_TTS_FALLBACK_MS", CONFIG_INT, "400", 0, 10000, 0,
	"part of a job's budget kept for the espeak-ng fallback voice"},
    {"MERKAZIA_TTS_RETRIES", CONFIG_INT, "2", 0, 5, 0,
	"retries of a Google request after a connect error, 429 or 5xx, "
	"within the budget"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static struct tts_worker *tts_state;

static int
tts_init(struct daemon *d)
{
	const struct config *cfg = d->cfg;
	struct tts_settings set;
	const char *dir = config_str(cfg, "MERKAZIA_TTS_CACHE_DIR");
	char *cache_dir, err[512];

	set.base_url = config_str(cfg, "GOOGLE_TTS_BASE_URL");
	set.voice = config_str(cfg, "MERKAZIA_TTS_VOICE");
	set.timeout_ms = config_int(cfg, "MERKAZIA_TTS_TIMEOUT_MS");
	set.fallback_ms = config_int(cfg, "MERKAZIA_TTS_FALLBACK_MS");
	set.retries = config_int(cfg, "MERKAZIA_TTS_RETRIES");
	set.cache_max_age_s = config_int(cfg, "MERKAZIA_TTS_CACHE_MAX_AGE_S");
	set.cache_max_bytes =
	    (unsigned long long)config_int(cfg, "MERKAZIA_TTS_CACHE_MAX_MB") *
	    1024 * 1024;
	if (dir == NULL || dir[0] == '\0')
		dir = getenv("CACHE_DIRECTORY"); /* systemd's CacheDirectory= */
	if (dir != NULL && dir[0] != '\0')
		cache_dir = xstrdup(dir);
	else
		cache_dir = xasprintf("%s/tts-cache", daemon_state_dir(d));
	tts_state = tts_worker_new(d, &set,
	    config_str(cfg, "GOOGLE_APPLICATION_CREDENTIALS"), cache_dir, err,
	    sizeof(err));
	free(cache_dir);
	if (tts_state == NULL) {
		log_error("GOOGLE_APPLICATION_CREDENTIALS: %s", err);
		return -1;
	}
	d->ctx = tts_state->w;
	tts_worker_cleanup(tts_state);
	return 0;
}

static void
tts_cleanup_timer(struct daemon *d)
{
	(void)d;
	tts_worker_cleanup(tts_state);
}

static void
tts_shutdown(struct daemon *d)
{
	tts_worker_free(tts_state);
	tts_state = NULL;
	d->ctx = NULL;
	audio_shutdown();
}

static const struct daemon_timer tts_timers[] = {
    {"tts-cache-cleanup", TTS_CACHE_CLEANUP_MS, tts_cleanup_timer},
    {NULL, 0, NULL},
};

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "tts-worker",
	    .summary =
		"Hebrew sentences to 8 kHz mu-law speech (Google Cloud TTS)",
	    .config = {tts_config, NULL},
	    .timers = tts_timers,
	    .init = tts_init,
	    .stop = worker_daemon_stop,
	    .drained = worker_daemon_drained,
	    .shutdown = tts_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
