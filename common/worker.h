/*
 * What every stage worker (stt, llm, tts) shares: a PULL socket connected
 * to every gateway's job endpoint, a SUB socket for job cancels, and a
 * heartbeat publisher. The stage's own files supply the job handlers.
 *
 * Stopping (SIGTERM) closes the PULL socket first, so no new job arrives
 * while the jobs in flight drain; a job still queued in nanomsg's buffer
 * at that moment goes to another worker (nanomsg re-routes on close) or is
 * re-sent by the gateway when its result does not arrive.
 */
#ifndef MERKAZIA_WORKER_H
#define MERKAZIA_WORKER_H

#include "daemon.h"
#include "endpoints.h"
#include "health.h"
#include "nnsock.h"

struct worker {
	struct nnsock *jobs;
	struct nnsock *cancel;
	struct health_pub *health;
	long in_flight;
};

/* worker.c */
struct worker *worker_new(struct daemon *d, const char *stage,
    enum endpoint_id jobs, const struct msg_handler *job_handlers,
    const struct msg_handler *cancel_handlers, void *arg);
void worker_stop(struct worker *w);
void worker_free(struct worker *w);
void worker_daemon_stop(struct daemon *d);
bool worker_daemon_drained(struct daemon *d);
void worker_daemon_shutdown(struct daemon *d);

#endif
