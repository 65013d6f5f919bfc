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
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking jobs, drain the jobs in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include "daemon.h"
#include "settings.h"
#include "worker.h"

static const struct config_key tts_config[] = {
    {"GOOGLE_APPLICATION_CREDENTIALS", CONFIG_STRING, NULL, 0, 0,
	CONFIG_REQUIRED, "path of the Google service-account JSON file"},
    {"GOOGLE_TTS_BASE_URL", CONFIG_URL, "https://texttospeech.googleapis.com",
	0, 0, 0, "base URL of Google Cloud Text-to-Speech"},
    {"MERKAZIA_TTS_VOICE", CONFIG_STRING, "he-IL-Wavenet-A", 0, 0, 0,
	"default Google voice name"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const struct msg_handler tts_job_handlers[] = {
    {0, NULL},
};

static int
tts_init(struct daemon *d)
{
	d->ctx =
	    worker_new(d, "tts", ENDPOINT_JOBS_TTS, tts_job_handlers, NULL, d);
	return d->ctx != NULL ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "tts-worker",
	    .summary =
		"Hebrew sentences to 8 kHz mu-law speech (Google Cloud TTS)",
	    .config = {tts_config, NULL},
	    .init = tts_init,
	    .stop = worker_daemon_stop,
	    .drained = worker_daemon_drained,
	    .shutdown = worker_daemon_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
