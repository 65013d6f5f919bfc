/*
 * The shared plumbing of a stage worker (see worker.h for a job's life).
 *
 * Budgets: a job carries the time it had left when it was sent; the
 * worker measures from when it received it (hosts' clocks differ, so no
 * wall-clock deadline crosses a socket). A reply carries what is left.
 */
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "clock.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

static void worker_retry_cb(evutil_socket_t fd, short what, void *arg);
static struct nnsock *worker_reply_sock(struct worker *w, const char *addr);
static void worker_drop_pending(struct worker *w, const struct nnsock *sock);
static void worker_on_cancel_msg(struct nnsock *s, const struct msg *m,
    json_t *payload, const struct nnsock_rx *rx, void *arg);

static const struct msg_handler worker_cancel_handlers[] = {
    {MSG_JOB_CANCEL, worker_on_cancel_msg},
    {0, NULL},
};

/*
 * Connect the job and cancel sockets of a stage and start its heartbeat.
 * job_handlers is a {0, NULL}-terminated table whose handlers get arg;
 * on_cancel (may be NULL) hears each job in flight that a cancel hits.
 * Return NULL (logged) when a socket cannot be set up.
 */
struct worker *
worker_new(struct daemon *d, const char *stage, enum endpoint_id jobs,
    const struct msg_handler *job_handlers,
    void (*on_cancel)(struct worker_job *, void *), void *arg)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->d = d;
	snprintf(w->stage, sizeof(w->stage), "%s", stage);
	TAILQ_INIT(&w->inflight);
	TAILQ_INIT(&w->pending);
	w->retry = evtimer_new(d->base, worker_retry_cb, w);
	w->on_cancel = on_cancel;
	w->arg = arg;
	w->jobs = nnsock_endpoint(jobs, false);
	w->cancel = nnsock_endpoint(ENDPOINT_CANCEL, false);
	w->health = health_pub_new(d->base, stage, d->instance);
	if (w->jobs == NULL || w->cancel == NULL || w->health == NULL ||
	    nnsock_watch(w->jobs, d->base, job_handlers, arg) < 0 ||
	    nnsock_watch(w->cancel, d->base, worker_cancel_handlers, w) < 0) {
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
	struct worker_job *j;

	if (w == NULL)
		return;
	while ((j = TAILQ_FIRST(&w->inflight)) != NULL) {
		TAILQ_REMOVE(&w->inflight, j, entry);
		free(j);
	}
	worker_drop_pending(w, NULL);
	if (w->retry != NULL)
		event_free(w->retry);
	for (size_t i = 0; i < w->nreplies; i++)
		nnsock_close(w->replies[i].sock);
	nnsock_close(w->jobs);
	nnsock_close(w->cancel);
	health_pub_free(w->health);
	free(w->cancels);
	free(w);
}

/* Forget the results waiting for sock (every one when sock is NULL). */
static void
worker_drop_pending(struct worker *w, const struct nnsock *sock)
{
	struct worker_pending *p, *next;

	for (p = TAILQ_FIRST(&w->pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (sock != NULL && p->sock != sock)
			continue;
		TAILQ_REMOVE(&w->pending, p, entry);
		free(p->buf);
		free(p);
	}
}

static void
worker_update_health(struct worker *w)
{
	if (w->health != NULL)
		health_pub_set_jobs(w->health, w->in_flight);
}

/* Forget cancels older than WORKER_CANCEL_MEMORY_MS. */
static void
worker_expire_cancels(struct worker *w, int64_t now)
{
	size_t i = 0;

	while (i < w->ncancels) {
		if (now - w->cancels[i].at_ms > WORKER_CANCEL_MEMORY_MS)
			w->cancels[i] = w->cancels[--w->ncancels];
		else
			i++;
	}
}

static bool
worker_is_cancelled(struct worker *w, const char *call_sid, uint32_t generation)
{
	if (call_sid[0] == '\0')
		return false;
	for (size_t i = 0; i < w->ncancels; i++)
		if (strcmp(w->cancels[i].call_sid, call_sid) == 0 &&
		    generation <= w->cancels[i].generation)
			return true;
	return false;
}

static void
worker_on_cancel_msg(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct worker *w = arg;
	struct worker_job *j;
	int64_t now = clock_mono_ms();
	size_t i;

	(void)s;
	(void)payload;
	(void)rx;
	if (m->call_sid[0] == '\0') {
		log_warnx("dropped a JOB_CANCEL without a call SID");
		return;
	}
	worker_expire_cancels(w, now);
	for (i = 0; i < w->ncancels; i++)
		if (strcmp(w->cancels[i].call_sid, m->call_sid) == 0)
			break;
	if (i == w->ncancels) {
		w->cancels = xreallocarray(
		    w->cancels, w->ncancels + 1, sizeof(*w->cancels));
		w->ncancels++;
		snprintf(w->cancels[i].call_sid, sizeof(w->cancels[i].call_sid),
		    "%s", m->call_sid);
		w->cancels[i].generation = m->generation;
	} else if (m->generation > w->cancels[i].generation)
		w->cancels[i].generation = m->generation;
	w->cancels[i].at_ms = now;
	for (j = TAILQ_FIRST(&w->inflight); j != NULL;
	     j = TAILQ_NEXT(j, entry)) {
		if (j->cancelled || strcmp(j->call_sid, m->call_sid) != 0 ||
		    j->generation > m->generation)
			continue;
		j->cancelled = true;
		{
			struct log_ctx ctx = {
			    j->call_sid, NULL, j->job_id, (long)j->generation};

			log_call(LOG_LEVEL_INFO, &ctx, "job cancelled");
		}
		if (w->on_cancel != NULL)
			w->on_cancel(j, w->arg);
	}
}

/*
 * Register the job m as in flight and return it, or return NULL (logged
 * and counted) when its budget is already spent or its call and
 * generation were cancelled. The caller ends it with worker_job_end().
 */
struct worker_job *
worker_job_begin(struct worker *w, const struct msg *m)
{
	struct log_ctx ctx = {
	    m->call_sid, NULL, m->job_id, (long)m->generation};
	struct worker_job *j;

	worker_expire_cancels(w, clock_mono_ms());
	if (worker_is_cancelled(w, m->call_sid, m->generation)) {
		w->jobs_dropped++;
		log_call(LOG_LEVEL_INFO, &ctx,
		    "dropped %s: its call and generation were cancelled",
		    msg_type_name(m->type));
		return NULL;
	}
	if (m->reply[0] == '\0') {
		w->jobs_dropped++;
		log_call(LOG_LEVEL_WARN, &ctx, "dropped %s: no reply address",
		    msg_type_name(m->type));
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->w = w;
	j->type = m->type;
	j->job_id = m->job_id;
	j->generation = m->generation;
	j->budget_ms = m->budget_ms;
	j->attempt = m->attempt;
	snprintf(j->reply, sizeof(j->reply), "%s", m->reply);
	snprintf(j->call_sid, sizeof(j->call_sid), "%s", m->call_sid);
	j->received_ms = clock_mono_ms();
	/* Connect to the reply address now, while the job is worked on. */
	(void)worker_reply_sock(w, j->reply);
	TAILQ_INSERT_TAIL(&w->inflight, j, entry);
	w->in_flight++;
	worker_update_health(w);
	return j;
}

/* The job's remaining budget in ms (LONG_MAX when it has none). */
long
worker_job_remaining_ms(const struct worker_job *j)
{
	int64_t used;

	if (j->budget_ms == 0)
		return __LONG_MAX__;
	used = clock_mono_ms() - j->received_ms;
	return used >= (int64_t)j->budget_ms ? 0 : (long)(j->budget_ms - used);
}

bool
worker_job_is_cancelled(const struct worker_job *j)
{
	return j->cancelled ||
	       worker_is_cancelled(j->w, j->call_sid, j->generation);
}

static struct nnsock *
worker_reply_sock(struct worker *w, const char *addr)
{
	struct nnsock *s;

	for (size_t i = 0; i < w->nreplies; i++)
		if (strcmp(w->replies[i].addr, addr) == 0)
			return w->replies[i].sock;
	if (w->nreplies == WORKER_MAX_REPLY_SOCKS) {
		log_warnx("more than %d reply addresses; closing %s",
		    WORKER_MAX_REPLY_SOCKS, w->replies[0].addr);
		worker_drop_pending(w, w->replies[0].sock);
		nnsock_close(w->replies[0].sock);
		memmove(&w->replies[0], &w->replies[1],
		    (w->nreplies - 1) * sizeof(w->replies[0]));
		w->nreplies--;
	}
	s = nnsock_open(NN_PUSH, false, "RESULTS");
	if (s == NULL || nnsock_connect_list(s, addr) < 0) {
		nnsock_close(s);
		return NULL;
	}
	snprintf(w->replies[w->nreplies].addr,
	    sizeof(w->replies[w->nreplies].addr), "%s", addr);
	w->replies[w->nreplies++].sock = s;
	return s;
}

/*
 * Send buf (taken) on s, or queue it behind the results already waiting
 * for s: a reply socket that has just connected may not take a message
 * yet, and results of one job must keep their order.
 */
static int
worker_send_or_queue(struct worker *w, struct nnsock *s, uint8_t *buf,
    size_t len, const struct worker_job *j)
{
	struct worker_pending *p;
	bool waiting = false;
	long left = worker_job_remaining_ms(j);

	for (p = TAILQ_FIRST(&w->pending); p != NULL; p = TAILQ_NEXT(p, entry))
		if (p->sock == s)
			waiting = true;
	if (!waiting && nnsock_send_bytes(s, buf, len) == 0) {
		free(buf);
		return 0;
	}
	p = xcalloc(1, sizeof(*p));
	p->sock = s;
	p->buf = buf;
	p->len = len;
	p->job_id = j->job_id;
	snprintf(p->call_sid, sizeof(p->call_sid), "%s", j->call_sid);
	p->until_ms = clock_mono_ms() +
		      (left < WORKER_RETRY_MAX_MS ? left : WORKER_RETRY_MAX_MS);
	TAILQ_INSERT_TAIL(&w->pending, p, entry);
	if (!evtimer_pending(w->retry, NULL)) {
		struct timeval tv = {0, (suseconds_t)WORKER_RETRY_MS * 1000};

		evtimer_add(w->retry, &tv);
	}
	return 0;
}

static void
worker_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_pending *p, *next;
	const struct nnsock *blocked[WORKER_MAX_REPLY_SOCKS];
	size_t nblocked = 0;
	int64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	for (p = TAILQ_FIRST(&w->pending); p != NULL; p = next) {
		bool skip = false;

		next = TAILQ_NEXT(p, entry);
		for (size_t i = 0; i < nblocked; i++)
			if (blocked[i] == p->sock)
				skip = true;
		if (skip)
			continue;
		if (nnsock_send_bytes(p->sock, p->buf, p->len) < 0) {
			if (now < p->until_ms) {
				if (nblocked < WORKER_MAX_REPLY_SOCKS)
					blocked[nblocked++] = p->sock;
				continue;
			}
			{
				struct log_ctx ctx = {
				    p->call_sid, NULL, p->job_id, -1};

				w->replies_failed++;
				log_call(LOG_LEVEL_WARN, &ctx,
				    "dropped a result: its reply address "
				    "did not take it in time");
			}
		}
		TAILQ_REMOVE(&w->pending, p, entry);
		free(p->buf);
		free(p);
	}
	if (!TAILQ_EMPTY(&w->pending)) {
		struct timeval tv = {0, (suseconds_t)WORKER_RETRY_MS * 1000};

		evtimer_add(w->retry, &tv);
	}
}

/*
 * Send a result of job j to its reply address: type, flags, a JSON
 * payload (may be NULL) and a blob (may be NULL). Nothing is sent for a
 * cancelled job (return -1). Return -1 (logged, counted) when the result
 * cannot be sent at all; a result that must wait for a connecting socket
 * is queued and retried (see worker_send_or_queue).
 */
int
worker_job_reply(struct worker_job *j, enum msg_type type, uint16_t flags,
    const char *json, const void *blob, size_t blob_len)
{
	struct log_ctx ctx = {
	    j->call_sid, NULL, j->job_id, (long)j->generation};
	struct nnsock *s;
	struct msg m;
	uint8_t *buf;
	size_t len = 0;
	long left;

	if (worker_job_is_cancelled(j))
		return -1;
	msg_init(&m, type);
	m.flags = flags;
	m.job_id = j->job_id;
	m.generation = j->generation;
	m.attempt = j->attempt;
	left = worker_job_remaining_ms(j);
	m.budget_ms = j->budget_ms == 0 ? 0 : (uint32_t)left;
	(void)msg_set_call_sid(&m, j->call_sid);
	m.json = json;
	m.json_len = json ? strlen(json) : 0;
	m.blob = blob;
	m.blob_len = blob_len;
	s = worker_reply_sock(j->w, j->reply);
	buf = s ? msg_encode(&m, &len) : NULL;
	if (buf == NULL) {
		j->w->replies_failed++;
		log_call(LOG_LEVEL_WARN, &ctx, "cannot send %s to %s",
		    msg_type_name(type), j->reply);
		return -1;
	}
	return worker_send_or_queue(j->w, s, buf, len, j);
}

/* End job j: forget it and free it (and nothing in j->data). */
void
worker_job_end(struct worker_job *j)
{
	struct worker *w;

	if (j == NULL)
		return;
	w = j->w;
	TAILQ_REMOVE(&w->inflight, j, entry);
	w->in_flight--;
	w->jobs_done++;
	worker_update_health(w);
	free(j);
}

/* Say in the next heartbeats whether the provider is reachable. */
void
worker_set_provider(struct worker *w, bool reachable, const char *last_error)
{
	if (w->health != NULL)
		health_pub_set(w->health, w->in_flight, reachable, last_error);
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

	return w == NULL || (w->in_flight == 0 && TAILQ_EMPTY(&w->pending));
}

void
worker_daemon_shutdown(struct daemon *d)
{
	worker_free(d->ctx);
	d->ctx = NULL;
}
