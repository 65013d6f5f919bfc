/*
 * The watchdog's subscriptions: the gateways' live-call events, crm-store's
 * changes and the heartbeats. The per-call rules live in their own file.
 */
#include <stdlib.h>

#include "log.h"
#include "watchdog.h"
#include "xmalloc.h"

static const struct msg_handler watchdog_event_handlers[] = {
    {0, NULL},
};

int
watchdog_init(struct daemon *d)
{
	struct watchdog *w = xcalloc(1, sizeof(*w));

	d->ctx = w;
	w->d = d;
	if ((w->call_events = nnsock_endpoint(ENDPOINT_CALL_EVENTS, false)) ==
		NULL ||
	    (w->store_changes =
		    nnsock_endpoint(ENDPOINT_STORE_CHANGES, false)) == NULL ||
	    (w->store = nnsock_endpoint(ENDPOINT_STORE, false)) == NULL ||
	    nnsock_watch(w->call_events, d->base, watchdog_event_handlers, w) <
		0 ||
	    nnsock_watch(
		w->store_changes, d->base, watchdog_event_handlers, w) < 0)
		return -1;
	w->health = health_follow_new(d->base, ENDPOINT_HEALTH_WATCHDOG,
	    config_int(d->cfg, "MERKAZIA_HEARTBEAT_TIMEOUT_MS"), NULL, NULL);
	return w->health != NULL ? 0 : -1;
}

void
watchdog_shutdown(struct daemon *d)
{
	struct watchdog *w = d->ctx;

	if (w == NULL)
		return;
	nnsock_close(w->call_events);
	nnsock_close(w->store_changes);
	nnsock_close(w->store);
	health_follow_free(w->health);
	free(w);
	d->ctx = NULL;
}
