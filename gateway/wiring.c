/*
 * The gateway's sockets: which endpoints it binds and connects, and the
 * tables that route what arrives on them. HTTP, calls and jobs live in
 * their own files; this one only wires them to the process graph of
 * common/endpoints.h and to the HTTP listener (MERKAZIA_HTTP_LISTEN),
 * whose bound address it logs (field "listen") and sends to systemd as
 * STATUS=, so tests and ops can use port 0.
 *
 * Results: every message on RESULTS goes to the job layer (jobs.c), which
 * hands it to the call that owns the job; the jobs go out on the stage's
 * PUSH socket and cancels on CANCEL (gateway_jobs_io). crm-store's
 * changes go to crm.c and to the browsers' event streams (sse.c). The
 * browser API (api.c) and the streams get their settings here. The reply
 * address every job names is RESULTS's
 * address as configured (MERKAZIA_ENDPOINT_RESULTS, else the ipc://
 * default): with workers on other hosts it must be a tcp:// address they
 * can reach.
 */
#include <stdlib.h>

#include <jansson.h>

#include "clock.h"
#include "endpoints.h"
#include "gateway.h"
#include "httpc.h"
#include "log.h"
#include "twilio_rest.h"
#include "xmalloc.h"

static void
gateway_on_result(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct gateway *g = arg;

	(void)s;
	(void)rx;
	if (g->jobtab != NULL)
		jobs_deliver(g->jobtab, m, payload);
}

static const struct msg_handler gateway_result_handlers[] = {
    {MSG_STT_RESULT, gateway_on_result},
    {MSG_LLM_SENTENCE, gateway_on_result},
    {MSG_LLM_ACTION, gateway_on_result},
    {MSG_LLM_DONE, gateway_on_result},
    {MSG_ANALYSIS_RESULT, gateway_on_result},
    {MSG_TEXT_REPLY, gateway_on_result},
    {MSG_TTS_RESULT, gateway_on_result},
    {0, NULL},
};

/* A committed change: the business map (crm.c) and the browsers. */
static void
gateway_on_change(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct gateway *g = arg;

	crm_on_change(s, m, payload, rx, arg);
	sse_on_change(g, payload);
}

static const struct msg_handler gateway_change_handlers[] = {
    {MSG_STORE_CHANGE, gateway_on_change},
    {0, NULL},
};

/* Jobs go out on the stage's PUSH socket, without blocking. */
static int
gateway_job_send(void *arg, int stage, const struct msg *m)
{
	struct gateway *g = arg;

	return nnsock_send(g->jobs[stage], m);
}

static int
gateway_job_cancel(void *arg, const struct msg *m)
{
	struct gateway *g = arg;

	return nnsock_send(g->cancel, m);
}

/* The job layer, with its budgets and resend intervals from settings. */
static void
gateway_jobs_init(struct gateway *g)
{
	const struct config *cfg = g->d->cfg;
	static const char *const budget[JOBS_NSTAGE] = {
	    "MERKAZIA_JOB_STT_BUDGET_MS", "MERKAZIA_JOB_LLM_BUDGET_MS",
	    "MERKAZIA_JOB_TTS_BUDGET_MS"};
	static const char *const resend[JOBS_NSTAGE] = {
	    "MERKAZIA_JOB_STT_RESEND_MS", "MERKAZIA_JOB_LLM_RESEND_MS",
	    "MERKAZIA_JOB_TTS_RESEND_MS"};
	struct jobs_config jc = {0};
	struct jobs_io io = {gateway_job_send, gateway_job_cancel, g};

	for (int i = 0; i < JOBS_NSTAGE; i++) {
		jc.budget_ms[i] = config_int(cfg, budget[i]);
		jc.resend_ms[i] = config_int(cfg, resend[i]);
	}
	jc.analysis_budget_ms =
	    config_int(cfg, "MERKAZIA_JOB_ANALYSIS_BUDGET_MS");
	jc.attempts_max = (int)config_int(cfg, "MERKAZIA_JOB_ATTEMPTS");
	g->results_addr = endpoints_address(ENDPOINT_RESULTS);
	g->jobtab = jobs_new(g->d->base, &io, &jc, g->results_addr);
	g->conv_cfg.max_turns = config_int(cfg, "MERKAZIA_CALL_MAX_TURNS");
	g->conv_cfg.bargein_min_ms = config_int(cfg, "MERKAZIA_BARGEIN_MIN_MS");
	g->conv_cfg.filler_after_ms =
	    config_int(cfg, "MERKAZIA_FILLER_AFTER_MS");
}

/*
 * Set up the call table and render the fixed phrases with espeak-ng now,
 * at start, never on the audio path (phrases.c).
 */
static int
gateway_media_init(struct gateway *g)
{
	const struct config *cfg = g->d->cfg;
	struct call_config cc = {
	    .start_timeout_ms =
		config_int(cfg, "MERKAZIA_STREAM_START_TIMEOUT_MS"),
	    .lead_ms = config_int(cfg, "MERKAZIA_PLAYOUT_LEAD_MS"),
	    .late_ms = config_int(cfg, "MERKAZIA_PLAYOUT_LATE_MS"),
	    .ws_output_max = (size_t)config_int(cfg, "MERKAZIA_WS_OUTPUT_MAX"),
	};
	int64_t t0 = clock_mono_ms();

	if (call_setup(g, g->d->base, &cc) < 0)
		return -1;
	if (phrases_render(g, NULL, config_str(cfg, "MERKAZIA_GREETING_TEXT")) <
	    0)
		log_warnx("some fixed phrases have no audio; calls will not "
			  "hear them");
	log_info("phrases rendered with espeak-ng in %lld ms",
	    (long long)(clock_mono_ms() - t0));
	return 0;
}

/* The browser API and its event streams, from settings. */
static int
gateway_api_init(struct gateway *g)
{
	const struct config *cfg = g->d->cfg;
	struct api_config ac = {
	    .web_dir = config_str(cfg, "MERKAZIA_WEB_DIR"),
	    .csrf_key = config_str(cfg, "MERKAZIA_CSRF_KEY"),
	    .trusted_proxies = config_str(cfg, "MERKAZIA_TRUSTED_PROXIES"),
	    .session_cache_ms = config_int(cfg, "MERKAZIA_SESSION_CACHE_MS"),
	    .store_budget_ms = config_int(cfg, "MERKAZIA_API_STORE_BUDGET_MS"),
	    .session_ttl_s =
		config_int(cfg, "MERKAZIA_SESSION_TTL_HOURS") * 3600,
	    .login_email_max = config_int(cfg, "MERKAZIA_LOGIN_EMAIL_FAILURES"),
	    .login_ip_max = config_int(cfg, "MERKAZIA_LOGIN_IP_FAILURES"),
	    .login_window_s = config_int(cfg, "MERKAZIA_LOGIN_WINDOW_S"),
	};
	struct sse_config sc = {
	    .ping_ms = config_int(cfg, "MERKAZIA_SSE_PING_MS"),
	    .recheck_ms = config_int(cfg, "MERKAZIA_SSE_RECHECK_MS"),
	    .output_max = (size_t)config_int(cfg, "MERKAZIA_SSE_OUTPUT_MAX"),
	    .streams_max = (size_t)config_int(cfg, "MERKAZIA_SSE_STREAMS_MAX"),
	};

	if (api_setup(g, &ac) < 0)
		return -1;
	return sse_setup(g, g->d->base, &sc);
}

/* Start the HTTP server and the routes' state, and tell where it listens. */
static int
gateway_http_init(struct gateway *g)
{
	const struct config *cfg = g->d->cfg;
	struct http_config hc = {
	    .read_timeout_ms = config_int(cfg, "MERKAZIA_HTTP_READ_TIMEOUT_MS"),
	    .idle_timeout_ms = config_int(cfg, "MERKAZIA_HTTP_IDLE_TIMEOUT_MS"),
	};
	const char *addr;
	json_t *f;

	g->http = http_server_new(g->d->base, &hc, routes_handle, g);
	if (http_server_listen(
		g->http, config_str(cfg, "MERKAZIA_HTTP_LISTEN")) < 0)
		return -1;
	addr = http_server_address(g->http);
	if (routes_setup(g, config_str(cfg, "MERKAZIA_PUBLIC_URL"), addr,
		config_str(cfg, "TWILIO_AUTH_TOKEN"),
		config_bool(cfg, "MERKAZIA_TWILIO_SIGNATURE_CHECK"),
		config_str(cfg, "MERKAZIA_DEFAULT_BUSINESS")) < 0)
		return -1;
	if (!g->sig_check)
		log_warnx("MERKAZIA_TWILIO_SIGNATURE_CHECK=0: Twilio webhooks "
			  "are accepted WITHOUT signature checks; use this "
			  "only for local development");
	if (gateway_api_init(g) < 0 || gateway_media_init(g) < 0)
		return -1;
	f = json_pack("{s:s, s:s, s:s}", "listen", addr, "public_url",
	    g->public_url, "stream_url", g->stream_url);
	log_fields(LOG_LEVEL_INFO, NULL, f, "http: listening on %s", addr);
	json_decref(f);
	daemon_status(g->d, "listening on %s", addr);
	return 0;
}

int
gateway_init(struct daemon *d)
{
	struct gateway *g = xcalloc(1, sizeof(*g));
	const enum endpoint_id jobs[3] = {
	    ENDPOINT_JOBS_STT, ENDPOINT_JOBS_LLM, ENDPOINT_JOBS_TTS};

	d->ctx = g;
	g->d = d;
	for (size_t i = 0; i < 3; i++)
		if ((g->jobs[i] = nnsock_endpoint(jobs[i], true)) == NULL)
			return -1;
	if ((g->results = nnsock_endpoint(ENDPOINT_RESULTS, true)) == NULL ||
	    (g->cancel = nnsock_endpoint(ENDPOINT_CANCEL, true)) == NULL ||
	    (g->call_events = nnsock_endpoint(ENDPOINT_CALL_EVENTS, true)) ==
		NULL ||
	    (g->store_changes =
		    nnsock_endpoint(ENDPOINT_STORE_CHANGES, false)) == NULL)
		return -1;
	if (nnsock_watch(g->results, d->base, gateway_result_handlers, g) < 0 ||
	    nnsock_watch(
		g->store_changes, d->base, gateway_change_handlers, g) < 0)
		return -1;
	g->health = health_follow_new(d->base, ENDPOINT_HEALTH_GATEWAY,
	    config_int(d->cfg, "MERKAZIA_HEARTBEAT_TIMEOUT_MS"), NULL, NULL);
	if (g->health == NULL)
		return -1;
	gateway_jobs_init(g);
	if (crm_setup(g) < 0)
		return -1;
	g->httpc = httpc_new(d->base);
	g->rest = twilio_rest_new(d->base, g->httpc,
	    config_str(d->cfg, "TWILIO_ACCOUNT_SID"),
	    config_str(d->cfg, "TWILIO_AUTH_TOKEN"),
	    config_str(d->cfg, "TWILIO_API_BASE_URL"));
	if (g->httpc == NULL || g->rest == NULL) {
		log_error("not starting: the Twilio settings are unusable");
		return -1;
	}
	return gateway_http_init(g);
}

/* Stop accepting connections; requests in flight are still answered. */
void
gateway_stop(struct daemon *d)
{
	struct gateway *g = d->ctx;

	if (g != NULL && g->http != NULL)
		http_server_stop(g->http);
	if (g != NULL)
		sse_stop(g);
}

bool
gateway_drained(struct daemon *d)
{
	const struct gateway *g = d->ctx;

	return g == NULL ||
	       (g->calls_live == 0 &&
		   (g->http == NULL || http_server_open(g->http) == 0) &&
		   crm_is_settled(g));
}

void
gateway_shutdown(struct daemon *d)
{
	struct gateway *g = d->ctx;

	if (g == NULL)
		return;
	call_cleanup(g);
	conversation_cleanup(g);
	jobs_free(g->jobtab);
	g->jobtab = NULL;
	crm_cleanup(g);
	twilio_rest_free(g->rest); /* before its HTTP client */
	g->rest = NULL;
	httpc_free(g->httpc);
	g->httpc = NULL;
	api_cleanup(g); /* after the store client: no reply can come */
	sse_cleanup(g);
	free(g->results_addr);
	phrases_free(g);
	http_server_free(g->http);
	g->http = NULL;
	routes_cleanup(g);
	for (size_t i = 0; i < 3; i++)
		nnsock_close(g->jobs[i]);
	nnsock_close(g->results);
	nnsock_close(g->cancel);
	nnsock_close(g->call_events);
	nnsock_close(g->store_changes);
	health_follow_free(g->health);
	free(g);
	d->ctx = NULL;
}
