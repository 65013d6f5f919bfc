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
 * Jobs: LLM_JOB (a caller's turn) streams a chat completion and sends
 * each sentence as LLM_SENTENCE as soon as it is complete, tool calls as
 * LLM_ACTION (transfer_to_human, end_call) or as an appointment written to
 * crm-store (book_viewing), then LLM_DONE; TEXT_JOB (SMS, WhatsApp) gets a
 * TEXT_REPLY; ANALYSIS_JOB (a finished call) gets a structured analysis
 * written to crm-store and sent as ANALYSIS_RESULT. Failures come back as
 * the job's last result with flag ERROR. A JOB_CANCEL stops a job's
 * provider request and its results. See docs/llm-worker.md.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking jobs, drain the jobs in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include <stdlib.h>

#include "daemon.h"
#include "httpc.h"
#include "log.h"
#include "settings.h"
#include "spool.h"
#include "store.h"
#include "xmalloc.h"

#include "llm.h"

static const struct config_key llm_config[] = {
    {"MERKAZIA_LLM_MODEL", CONFIG_STRING, "gpt-4o", 0, 0, 0,
	"OpenAI chat model"},
    {"MERKAZIA_LLM_ANALYSIS_MODEL", CONFIG_STRING, NULL, 0, 0, 0,
	"chat model of the post-call analysis (structured output); unset: "
	"MERKAZIA_LLM_MODEL"},
    {"MERKAZIA_LLM_TIMEOUT_MS", CONFIG_INT, "20000", 500, 600000, 0,
	"cap on one chat request (connect included)"},
    {"MERKAZIA_LLM_RETRIES", CONFIG_INT, "2", 0, 5, 0,
	"retries of a failed chat request (429, 5xx, connection) made while "
	"no sentence was sent, within the job's budget"},
    {"MERKAZIA_LLM_DEFAULT_BUDGET_MS", CONFIG_INT, "30000", 1000, 600000, 0,
	"time budget of a job that carries none"},
    {"MERKAZIA_LLM_MAX_TOKENS", CONFIG_INT, "300", 0, 16384, 0,
	"max_completion_tokens of a reply (0: not sent)"},
    {"MERKAZIA_LLM_SENTENCE_CHARS", CONFIG_INT, "90", 20, 1000, 0,
	"a clause longer than this many characters is sent at its next "
	"comma"},
    {"MERKAZIA_LLM_STORE", CONFIG_BOOL, "1", 0, 0, 0,
	"write appointments and analyses to crm-store (0: hand appointments "
	"to the gateway as LLM_ACTION book_viewing)"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const struct msg_handler llm_job_handlers[] = {
    {MSG_LLM_JOB, llm_job_on_call},
    {MSG_TEXT_JOB, llm_job_on_text},
    {MSG_ANALYSIS_JOB, llm_analysis_on_job},
    {0, NULL},
};

static void llm_shutdown(struct daemon *d);

static void
llm_on_write(
    enum store_write_state st, const char *kind, const char *key, void *arg)
{
	(void)arg;
	if (st == STORE_WRITE_SPOOLED)
		log_info(
		    "%s write %s spooled until crm-store is back", kind, key);
}

/* The crm-store client with this instance's spool, or NULL (logged). */
static struct store_client *
llm_store_open(struct daemon *d)
{
	struct store_opts so = {0};
	struct store_client *c;
	char *path = spool_path(daemon_state_dir(d), "llm-worker", d->instance);

	so.spool_path = path;
	so.on_write = llm_on_write;
	c = store_new(d->base, &so);
	if (c == NULL) {
		log_warnx("cannot open the crm-store client (spool %s); "
			  "appointments go to the gateway",
		    path ? path : "(none)");
	}
	free(path);
	return c;
}

static int
llm_init(struct daemon *d)
{
	struct llm *l = xcalloc(1, sizeof(*l));
	const struct config *cfg = d->cfg;

	d->ctx = l;
	l->d = d;
	l->base_url = config_str(cfg, "OPENAI_BASE_URL");
	l->api_key = config_str(cfg, "OPENAI_API_KEY");
	l->model = config_str(cfg, "MERKAZIA_LLM_MODEL");
	l->analysis_model = config_str(cfg, "MERKAZIA_LLM_ANALYSIS_MODEL");
	if (l->analysis_model == NULL || l->analysis_model[0] == '\0')
		l->analysis_model = l->model;
	l->timeout_ms = config_int(cfg, "MERKAZIA_LLM_TIMEOUT_MS");
	l->retries = config_int(cfg, "MERKAZIA_LLM_RETRIES");
	l->default_ms = config_int(cfg, "MERKAZIA_LLM_DEFAULT_BUDGET_MS");
	l->max_tokens = config_int(cfg, "MERKAZIA_LLM_MAX_TOKENS");
	l->long_chars = config_int(cfg, "MERKAZIA_LLM_SENTENCE_CHARS");
	l->http = httpc_new(d->base);
	if (config_bool(cfg, "MERKAZIA_LLM_STORE"))
		l->store = llm_store_open(d);
	l->w = worker_new(d, "llm", ENDPOINT_JOBS_LLM, llm_job_handlers,
	    llm_job_on_cancel, l);
	if (l->http == NULL || l->w == NULL) {
		llm_shutdown(d);
		return -1;
	}
	worker_set_provider(l->w, true, NULL);
	return 0;
}

static void
llm_stop(struct daemon *d)
{
	struct llm *l = d->ctx;

	if (l != NULL)
		worker_stop(l->w);
}

static bool
llm_drained(struct daemon *d)
{
	const struct llm *l = d->ctx;

	return l == NULL || l->w == NULL ||
	       (l->w->in_flight == 0 && TAILQ_EMPTY(&l->w->pending));
}

static void
llm_shutdown(struct daemon *d)
{
	struct llm *l = d->ctx;

	if (l == NULL)
		return;
	llm_job_free_all(l);
	worker_free(l->w);
	store_free(l->store);
	httpc_free(l->http);
	free(l);
	d->ctx = NULL;
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
	    .stop = llm_stop,
	    .drained = llm_drained,
	    .shutdown = llm_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
