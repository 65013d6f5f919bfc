/*
 * The gateway's sockets: which endpoints it binds and connects, and the
 * tables that route what arrives on them. HTTP, calls and jobs live in
 * their own files; this one only wires them to the process graph of
 * common/endpoints.h.
 */
#include <stdlib.h>

#include "gateway.h"
#include "log.h"
#include "xmalloc.h"

static const struct msg_handler gateway_result_handlers[] = {
    {0, NULL},
};

static const struct msg_handler gateway_change_handlers[] = {
    {0, NULL},
};

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
	    (g->store = nnsock_endpoint(ENDPOINT_STORE, false)) == NULL ||
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
	return 0;
}

void
gateway_stop(struct daemon *d)
{
	(void)d;
}

bool
gateway_drained(struct daemon *d)
{
	const struct gateway *g = d->ctx;

	return g == NULL || g->calls_live == 0;
}

void
gateway_shutdown(struct daemon *d)
{
	struct gateway *g = d->ctx;

	if (g == NULL)
		return;
	for (size_t i = 0; i < 3; i++)
		nnsock_close(g->jobs[i]);
	nnsock_close(g->results);
	nnsock_close(g->cancel);
	nnsock_close(g->call_events);
	nnsock_close(g->store);
	nnsock_close(g->store_changes);
	health_follow_free(g->health);
	free(g);
	d->ctx = NULL;
}
