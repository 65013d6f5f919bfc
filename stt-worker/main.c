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
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking jobs, drain the jobs in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include "daemon.h"
#include "settings.h"
#include "worker.h"

static const struct config_key stt_config[] = {
    {"MERKAZIA_STT_MODEL", CONFIG_STRING, "whisper-1", 0, 0, 0,
	"OpenAI transcription model"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const struct msg_handler stt_job_handlers[] = {
    {0, NULL},
};

static int
stt_init(struct daemon *d)
{
	d->ctx =
	    worker_new(d, "stt", ENDPOINT_JOBS_STT, stt_job_handlers, NULL, d);
	return d->ctx != NULL ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "stt-worker",
	    .summary = "utterance audio to Hebrew text (OpenAI transcription)",
	    .config = {settings_openai, stt_config, NULL},
	    .init = stt_init,
	    .stop = worker_daemon_stop,
	    .drained = worker_daemon_drained,
	    .shutdown = worker_daemon_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
