/*
 * llm-worker: the agent's brain: streaming chat, sentences, tools, analysis
 *
 * Manual. A stateless stage worker: it connects a PULL socket to the job
 * endpoint of every gateway in MERKAZIA_ENDPOINT_JOBS_LLM (default
 * ipc://$MERKAZIA_RUNTIME_DIR/jobs-llm.sock), subscribes to the gateways'
 * job cancels (MERKAZIA_ENDPOINT_CANCEL), and publishes a heartbeat every
 * second to every follower (MERKAZIA_ENDPOINT_HEALTH_GATEWAY,
 * MERKAZIA_ENDPOINT_HEALTH_WATCHDOG). Results go to the reply address each
 * job carries. Start more instances (systemd: merkazia-llm-worker@N) to scale
 * the stage; nothing else is reconfigured.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking jobs, drain the jobs in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include "daemon.h"
#include "settings.h"
#include "worker.h"

static const struct config_key llm_config[] = {
    {"MERKAZIA_LLM_MODEL", CONFIG_STRING, "gpt-4o", 0, 0, 0,
	"OpenAI chat model"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const struct msg_handler llm_job_handlers[] = {
    {0, NULL},
};

static int
llm_init(struct daemon *d)
{
	d->ctx =
	    worker_new(d, "llm", ENDPOINT_JOBS_LLM, llm_job_handlers, NULL, d);
	return d->ctx != NULL ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "llm-worker",
	    .summary =
		"the agent's brain: streaming chat, sentences, tools, analysis",
	    .config = {settings_openai, llm_config, NULL},
	    .init = llm_init,
	    .stop = worker_daemon_stop,
	    .drained = worker_daemon_drained,
	    .shutdown = worker_daemon_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
