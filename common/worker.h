/*
 * What every stage worker (stt, llm, tts) shares: a PULL socket connected
 * to every gateway's job endpoint, a SUB socket for job cancels, a
 * heartbeat publisher, the register of jobs in flight, and one PUSH
 * socket per reply address for results. The stage's own files supply the
 * job handlers and do the work.
 *
 * A job's life: the stage's handler calls worker_job_begin(), which drops
 * (and logs) a job whose time budget is already spent or whose call and
 * generation were cancelled, and otherwise registers it; the stage sends
 * results with worker_job_reply() (which stamps the job's id, generation,
 * call SID and attempt and sends to the job's reply address) and ends it
 * with worker_job_end(). A JOB_CANCEL for the job's call and a generation
 * not older than the job's marks it cancelled (worker_job_is_cancelled)
 * and calls the stage's on_cancel hook so it can abort provider requests
 * (the hook runs while the worker walks its job list: it must not end the
 * job there, but from a zero-delay event); a cancelled job sends nothing
 * more. Cancels are remembered for
 * WORKER_CANCEL_MEMORY_MS, so a job that arrives after its cancel (another
 * socket, another path) is dropped too.
 *
 * Stopping (SIGTERM) closes the PULL socket first, so no new job arrives
 * while the jobs in flight drain; a job still queued in nanomsg's buffer
 * at that moment goes to another worker (nanomsg re-routes on close) or is
 * re-sent by the gateway when its result does not arrive.
 */
#ifndef MERKAZIA_WORKER_H
#define MERKAZIA_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>

#include "daemon.h"
#include "endpoints.h"
#include "health.h"
#include "nnsock.h"

#define WORKER_CANCEL_MEMORY_MS 60000
#define WORKER_MAX_REPLY_SOCKS	32
#define WORKER_RETRY_MS		10   /* retry of a result not yet queued */
#define WORKER_RETRY_MAX_MS	2000 /* then it is dropped, logged */

struct worker;

struct worker_job {
	TAILQ_ENTRY(worker_job) entry;
	struct worker *w;
	uint16_t type;
	uint64_t job_id;
	uint32_t generation;
	uint32_t budget_ms; /* as received; 0: none */
	uint16_t attempt;
	char reply[MSG_REPLY_MAX + 1];
	char call_sid[MSG_SID_MAX + 1];
	int64_t received_ms; /* monotonic */
	bool cancelled;
	void *data; /* the stage's own state for this job */
};

struct worker_cancel {
	char call_sid[MSG_SID_MAX + 1];
	uint32_t generation;
	int64_t at_ms;
};

/* A result that could not be queued yet (a new reply socket connecting). */
struct worker_pending {
	TAILQ_ENTRY(worker_pending) entry;
	struct nnsock *sock;
	uint8_t *buf;
	size_t len;
	int64_t until_ms;
	uint64_t job_id;
	char call_sid[MSG_SID_MAX + 1];
};

struct worker_reply_sock {
	char addr[MSG_REPLY_MAX + 1];
	struct nnsock *sock;
};

struct worker {
	struct daemon *d;
	char stage[32];
	struct nnsock *jobs;
	struct nnsock *cancel;
	struct health_pub *health;
	long in_flight;
	TAILQ_HEAD(worker_jobs, worker_job) inflight;
	struct worker_cancel *cancels;
	size_t ncancels;
	struct worker_reply_sock replies[WORKER_MAX_REPLY_SOCKS];
	size_t nreplies;
	TAILQ_HEAD(worker_pendings, worker_pending) pending;
	struct event *retry;
	void (*on_cancel)(struct worker_job *job, void *arg);
	void *arg;
	unsigned long jobs_done;
	unsigned long jobs_dropped;
	unsigned long replies_failed;
};

/* worker.c */
struct worker *worker_new(struct daemon *d, const char *stage,
    enum endpoint_id jobs, const struct msg_handler *job_handlers,
    void (*on_cancel)(struct worker_job *job, void *arg), void *arg);
void worker_stop(struct worker *w);
void worker_free(struct worker *w);
struct worker_job *worker_job_begin(struct worker *w, const struct msg *m);
long worker_job_remaining_ms(const struct worker_job *j);
bool worker_job_is_cancelled(const struct worker_job *j);
int worker_job_reply(struct worker_job *j, enum msg_type type, uint16_t flags,
    const char *json, const void *blob, size_t blob_len);
void worker_job_end(struct worker_job *j);
void worker_set_provider(
    struct worker *w, bool reachable, const char *last_error);
void worker_daemon_stop(struct daemon *d);
bool worker_daemon_drained(struct daemon *d);
void worker_daemon_shutdown(struct daemon *d);

#endif
