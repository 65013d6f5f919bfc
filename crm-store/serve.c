/*
 * crm-store's sockets: the raw REP endpoint requests arrive on, the PUB
 * endpoint of committed changes, and the heartbeat. The database and the
 * request handlers live in their own files.
 */
#include <stdlib.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

static const struct msg_handler store_handlers[] = {
    {0, NULL},
};

int
store_init(struct daemon *d)
{
	struct store *s = xcalloc(1, sizeof(*s));

	d->ctx = s;
	s->d = d;
	if ((s->rep = nnsock_endpoint(ENDPOINT_STORE, true)) == NULL ||
	    (s->changes = nnsock_endpoint(ENDPOINT_STORE_CHANGES, true)) ==
		NULL ||
	    nnsock_watch(s->rep, d->base, store_handlers, s) < 0)
		return -1;
	s->health = health_pub_new(d->base, "crm-store", d->instance);
	return s->health != NULL ? 0 : -1;
}

void
store_stop(struct daemon *d)
{
	struct store *s = d->ctx;

	if (s == NULL)
		return;
	nnsock_close(s->rep);
	s->rep = NULL;
}

bool
store_drained(struct daemon *d)
{
	const struct store *s = d->ctx;

	return s == NULL || s->in_flight == 0;
}

void
store_shutdown(struct daemon *d)
{
	struct store *s = d->ctx;

	if (s == NULL)
		return;
	nnsock_close(s->rep);
	nnsock_close(s->changes);
	health_pub_free(s->health);
	free(s);
	d->ctx = NULL;
}
