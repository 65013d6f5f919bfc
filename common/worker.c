/*
 * The shared plumbing of a stage worker (see worker.h).
 */
#include <stdlib.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

/*
 * Connect the job and cancel sockets of a stage and start its heartbeat.
 * job_handlers / cancel_handlers are {0, NULL}-terminated tables. Return
 * NULL (logged) when a socket cannot be set up.
 */
struct worker *
worker_new(struct daemon *d, const char *stage, enum endpoint_id jobs,
    const struct msg_handler *job_handlers,
    const struct msg_handler *cancel_handlers, void *arg)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->jobs = nnsock_endpoint(jobs, false);
	w->cancel = nnsock_endpoint(ENDPOINT_CANCEL, false);
	w->health = health_pub_new(d->base, stage, d->instance);
	if (w->jobs == NULL || w->cancel == NULL || w->health == NULL ||
	    nnsock_watch(w->jobs, d->base, job_handlers, arg) < 0 ||
	    nnsock_watch(w->cancel, d->base, cancel_handlers, arg) < 0) {
		log_error("cannot set up the %s worker's sockets", stage);
		worker_free(w);
		return NULL;
	}
	return w;
}

/* Take no new jobs; heartbeats go on while jobs in flight drain. */
void
worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	nnsock_close(w->jobs);
	w->jobs = NULL;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	nnsock_close(w->jobs);
	nnsock_close(w->cancel);
	health_pub_free(w->health);
	free(w);
}

/*
 * Skeleton hooks for a daemon whose ctx is its struct worker.
 */
void
worker_daemon_stop(struct daemon *d)
{
	worker_stop(d->ctx);
}

bool
worker_daemon_drained(struct daemon *d)
{
	const struct worker *w = d->ctx;

	return w == NULL || w->in_flight == 0;
}

void
worker_daemon_shutdown(struct daemon *d)
{
	worker_free(d->ctx);
	d->ctx = NULL;
}
