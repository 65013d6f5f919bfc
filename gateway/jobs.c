/*
 * The job layer: every job the gateway sends to a stage (STT, LLM, TTS,
 * analysis), until its final result arrives or its time runs out.
 *
 * Why: workers are stateless and may die at any moment; a PULL socket
 * loses what a killed worker had taken (pitfalls.md), so the gateway must
 * notice a late result and send the job again, to another instance. Each
 * job carries an id unique to this gateway (seeded from the wall clock at
 * start, so a result from an earlier run is never mistaken for a new
 * job's), the call's turn generation, the time left of its budget (a
 * budget, not a deadline: hosts' clocks differ), the attempt number and
 * the reply address (this gateway's RESULTS endpoint).
 *
 * Resend: a job with no result after its stage's resend interval is sent
 * again (attempt + 1, flag RESENT, the budget left) while attempts and
 * budget remain. A job that has had any result (an LLM job that sent a
 * sentence) is never re-sent: its worker is alive, and a second reply
 * would speak the same sentences twice. The first attempt that answers
 * owns the job; results of other attempts are late duplicates, and so is
 * anything for a job already finished (ignored by job id, counted).
 * Results whose generation is not the job's are dropped as stale; a
 * barge-in (jobs_cancel) forgets the call's jobs of older generations
 * and publishes JOB_CANCEL so workers stop them. A job with no final
 * result when its budget (plus a grace for the trip back) is spent
 * expires: its owner is told once.
 *
 * Owners are opaque (a conversation, or NULL for fire-and-forget jobs
 * such as the analysis); jobs_forget_owner drops an owner's jobs when it
 * goes away, so a callback never reaches freed memory. Callbacks run from
 * the loop (deliver, tick) after the job is unlinked when it is over, so
 * they may submit, cancel or forget (R8). Sending goes through struct
 * jobs_io (nanomsg in wiring.c, a fake in tests); a send that cannot go
 * now (no worker connected) is retried at the next tick.
 *
 * Clock: jobs_tick(now) does the timing; a persistent JOBS_TICK_MS timer
 * calls it with the monotonic clock, tests call it themselves.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "xmalloc.h"

#define JOBS_TICK_MS  50
#define JOBS_GRACE_MS 1000 /* a final result may still be on its way */

struct job {
	TAILQ_ENTRY(job) entry;
	uint64_t id;
	int stage;
	uint16_t type;
	uint32_t generation;
	char call_sid[MSG_SID_MAX + 1];
	char *json;
	size_t json_len;
	uint8_t *blob;
	size_t blob_len;
	int64_t created_ms;
	int64_t sent_ms;
	long budget_ms;
	uint16_t attempt;  /* of the last send; 0: never sent */
	uint16_t answered; /* the attempt whose results are taken; 0: none */
	bool must_send;	   /* a send failed: try again at the next tick */
	const struct jobs_owner_ops *ops;
	void *owner;
	long tag;
};

TAILQ_HEAD(jobs_list, job);

struct jobs {
	struct event *tick;
	struct jobs_io io;
	struct jobs_config cfg;
	char *reply;
	struct jobs_list list;
	size_t n;
	uint64_t next_id;
	int64_t now_ms; /* of the last tick; used when none is given */
	struct jobs_stats st;
};

static const char *const jobs_stage_names[JOBS_NSTAGE] = {"stt", "llm", "tts"};

/* Return the stage's name ("stt"), also its metrics label. */
const char *
jobs_stage_name(int stage)
{
	return stage >= 0 && stage < JOBS_NSTAGE ? jobs_stage_names[stage]
						 : "?";
}

static void
jobs_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	jobs_tick(arg, clock_mono_ms());
}

/*
 * Return a new job table that sends through io, with cfg's budgets and
 * resend intervals (non-positive fields take defaults), naming reply_addr
 * as every job's reply address. base may be NULL (tests drive jobs_tick).
 */
struct jobs *
jobs_new(struct event_base *base, const struct jobs_io *io,
    const struct jobs_config *cfg, const char *reply_addr)
{
	static const long budget[JOBS_NSTAGE] = {15000, 20000, 10000};
	static const long resend[JOBS_NSTAGE] = {5000, 6000, 4000};
	struct jobs *t = xcalloc(1, sizeof(*t));

	t->io = *io;
	if (cfg != NULL)
		t->cfg = *cfg;
	for (int i = 0; i < JOBS_NSTAGE; i++) {
		if (t->cfg.budget_ms[i] <= 0)
			t->cfg.budget_ms[i] = budget[i];
		if (t->cfg.resend_ms[i] <= 0)
			t->cfg.resend_ms[i] = resend[i];
	}
	if (t->cfg.analysis_budget_ms <= 0)
		t->cfg.analysis_budget_ms = 60000;
	if (t->cfg.attempts_max <= 0)
		t->cfg.attempts_max = 3;
	t->reply = xstrdup(reply_addr != NULL ? reply_addr : "");
	TAILQ_INIT(&t->list);
	/* Unique per gateway and across its restarts: ms since the epoch,
	 * times 1000, leaves room for 1000 jobs a millisecond. */
	t->next_id = (uint64_t)clock_wall_ms() * 1000u;
	t->now_ms = clock_mono_ms();
	if (base != NULL) {
		struct timeval tv = {0, (suseconds_t)JOBS_TICK_MS * 1000};

		t->tick = event_new(base, -1, EV_PERSIST, jobs_on_tick, t);
		if (t->tick == NULL)
			fatalx("out of memory for the job timer");
		evtimer_add(t->tick, &tv);
	}
	return t;
}

static void
jobs_job_free(struct job *j)
{
	free(j->json);
	free(j->blob);
	free(j);
}

static void
jobs_unlink(struct jobs *t, struct job *j)
{
	TAILQ_REMOVE(&t->list, j, entry);
	t->n--;
}

/* Free every job (no callback runs) and the table. */
void
jobs_free(struct jobs *t)
{
	struct job *j;

	if (t == NULL)
		return;
	while ((j = TAILQ_FIRST(&t->list)) != NULL) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		jobs_unlink(t, j);
		jobs_job_free(j);
	}
	if (t->tick != NULL)
		event_free(t->tick);
	free(t->reply);
	free(t);
}

static long
jobs_left_ms(const struct job *j, int64_t now_ms)
{
	long used = (long)(now_ms - j->created_ms);

	return j->budget_ms > used ? j->budget_ms - used : 0;
}

static struct log_ctx
jobs_ctx(const struct job *j)
{
	struct log_ctx ctx = {j->call_sid[0] ? j->call_sid : NULL, NULL, j->id,
	    (long)j->generation};

	return ctx;
}

/* Send (or re-send) j now with attempt; return 0, or -1 to retry later. */
static int
jobs_send(struct jobs *t, struct job *j, uint16_t attempt, int64_t now_ms)
{
	struct msg m;
	long left = jobs_left_ms(j, now_ms);

	msg_init(&m, (enum msg_type)j->type);
	if (msg_set_reply(&m, t->reply) < 0 ||
	    (j->call_sid[0] && msg_set_call_sid(&m, j->call_sid) < 0))
		return -1;
	m.job_id = j->id;
	m.generation = j->generation;
	m.budget_ms = (uint32_t)(left > 0 ? left : 1);
	m.attempt = attempt;
	m.flags = attempt > 1 ? MSG_F_RESENT : 0;
	m.json = j->json;
	m.json_len = j->json_len;
	m.blob = j->blob;
	m.blob_len = j->blob_len;
	if (t->io.send(t->io.arg, j->stage, &m) < 0) {
		if (!j->must_send)
			t->st.send_failed++;
		j->must_send = true;
		return -1;
	}
	j->must_send = false;
	j->attempt = attempt;
	j->sent_ms = now_ms;
	if (attempt > 1)
		t->st.resent[j->stage]++;
	else
		t->st.sent[j->stage]++;
	return 0;
}

/*
 * Send a new job of type on stage for call_sid (may be NULL) and its
 * generation: payload (borrowed; serialised now and kept for a resend),
 * blob (copied; may be NULL). Results go to ops with owner and tag.
 * Return the job's id (never 0). A job that cannot be sent now (no
 * worker connected yet) is kept and sent at a later tick.
 */
uint64_t
jobs_submit(struct jobs *t, int stage, enum msg_type type, const char *call_sid,
    uint32_t generation, json_t *payload, const uint8_t *blob, size_t blob_len,
    const struct jobs_owner_ops *ops, void *owner, long tag)
{
	struct job *j = xcalloc(1, sizeof(*j));
	int64_t now = clock_mono_ms();

	if (stage < 0 || stage >= JOBS_NSTAGE)
		fatalx("jobs_submit: no stage %d", stage);
	j->id = ++t->next_id;
	j->stage = stage;
	j->type = (uint16_t)type;
	j->generation = generation;
	snprintf(j->call_sid, sizeof(j->call_sid), "%s",
	    call_sid != NULL ? call_sid : "");
	j->json = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (j->json == NULL)
		j->json = xstrdup("{}");
	j->json_len = strlen(j->json);
	if (blob != NULL && blob_len > 0) {
		j->blob = xmalloc(blob_len);
		memcpy(j->blob, blob, blob_len);
		j->blob_len = blob_len;
	}
	j->created_ms = now;
	j->budget_ms = type == MSG_ANALYSIS_JOB ? t->cfg.analysis_budget_ms
						: t->cfg.budget_ms[stage];
	j->ops = ops;
	j->owner = owner;
	j->tag = tag;
	TAILQ_INSERT_TAIL(&t->list, j, entry);
	t->n++;
	(void)jobs_send(t, j, 1, now);
	return j->id;
}

static struct job *
jobs_find(const struct jobs *t, uint64_t id)
{
	struct job *j;

	for (j = TAILQ_FIRST(&t->list); j != NULL; j = TAILQ_NEXT(j, entry))
		if (j->id == id)
			return j;
	return NULL;
}

/*
 * A message arrived on the RESULTS endpoint: hand it to its job's owner,
 * or drop it (late duplicate, other attempt, stale generation, unknown).
 */
void
jobs_deliver(struct jobs *t, const struct msg *m, json_t *payload)
{
	struct job *j = jobs_find(t, m->job_id);
	const struct jobs_owner_ops *ops;
	void *owner;
	long tag;
	bool final;

	if (j == NULL) {
		t->st.unknown++;
		log_debug("result %s of job %llu ignored: no such job in "
			  "flight (finished, cancelled or a late duplicate)",
		    msg_type_name(m->type), (unsigned long long)m->job_id);
		return;
	}
	if (m->generation != j->generation) {
		struct log_ctx ctx = jobs_ctx(j);

		t->st.stale++;
		log_call(LOG_LEVEL_DEBUG, &ctx,
		    "result %s of generation %u dropped (job of %u)",
		    msg_type_name(m->type), m->generation, j->generation);
		return;
	}
	if (j->answered == 0)
		j->answered = m->attempt > 0 ? m->attempt : 1;
	else if (m->attempt != j->answered) {
		struct log_ctx ctx = jobs_ctx(j);

		t->st.duplicates++;
		log_call(LOG_LEVEL_DEBUG, &ctx,
		    "late duplicate %s of attempt %u ignored (attempt %u "
		    "answered first)",
		    msg_type_name(m->type), m->attempt, j->answered);
		return;
	}
	final = (m->flags & MSG_F_FINAL) != 0;
	ops = j->ops;
	owner = j->owner;
	tag = j->tag;
	if (final) {
		jobs_unlink(t, j);
		jobs_job_free(j);
	}
	t->st.results++;
	if (ops != NULL && ops->result != NULL)
		ops->result(owner, tag, m, payload);
}

/* Return the first job to expire at now_ms, or NULL. */
static struct job *
jobs_next_expired(const struct jobs *t, int64_t now_ms)
{
	struct job *j;

	for (j = TAILQ_FIRST(&t->list); j != NULL; j = TAILQ_NEXT(j, entry))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		if (now_ms - j->created_ms >= j->budget_ms + JOBS_GRACE_MS)
			return j;
	return NULL;
}

/*
 * Do the timing at now_ms: send what could not be sent, re-send jobs
 * whose result is late, expire jobs out of budget (telling their owners).
 */
void
jobs_tick(struct jobs *t, int64_t now_ms)
{
	struct job *j;

	t->now_ms = now_ms;
	for (j = TAILQ_FIRST(&t->list); j != NULL; j = TAILQ_NEXT(j, entry)) {
		if (j->answered != 0 || jobs_left_ms(j, now_ms) <= 0)
			continue;
		if (j->must_send) {
			(void)jobs_send(
			    t, j, j->attempt > 0 ? j->attempt : 1, now_ms);
		} else if (now_ms - j->sent_ms >= t->cfg.resend_ms[j->stage] &&
			   j->attempt < t->cfg.attempts_max) {
			struct log_ctx ctx = jobs_ctx(j);
			uint16_t a = (uint16_t)(j->attempt + 1);

			if (jobs_send(t, j, a, now_ms) == 0)
				log_call(LOG_LEVEL_INFO, &ctx,
				    "%s job late after %ld ms: sent again "
				    "(attempt %u, %ld ms of budget left)",
				    jobs_stage_name(j->stage),
				    t->cfg.resend_ms[j->stage], a,
				    jobs_left_ms(j, now_ms));
		}
	}
	/* Each expiry unlinks one job before its callback: bounded. */
	while ((j = jobs_next_expired(t, now_ms)) != NULL) {
		const struct jobs_owner_ops *ops = j->ops;
		void *owner = j->owner;
		long tag = j->tag;
		int stage = j->stage;
		struct log_ctx ctx = jobs_ctx(j);

		log_call(LOG_LEVEL_WARN, &ctx,
		    "%s job got no final result within its %ld ms budget "
		    "(%u attempt(s)%s); giving up",
		    jobs_stage_name(stage), j->budget_ms, j->attempt,
		    j->answered ? ", answered in part" : "");
		t->st.expired[stage]++;
		jobs_unlink(t, j);
		jobs_job_free(j);
		if (ops != NULL && ops->expired != NULL)
			ops->expired(owner, tag, stage);
	}
}

/*
 * Barge-in or hang-up: forget every job of call_sid whose generation is
 * generation or older (their results will be dropped) and publish
 * JOB_CANCEL so workers stop them. Return the publish's result.
 */
int
jobs_cancel(struct jobs *t, const char *call_sid, uint32_t generation,
    const char *reason)
{
	struct job *j, *next;
	struct msg m;
	char *s;
	int rc;

	for (j = TAILQ_FIRST(&t->list); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (strcmp(j->call_sid, call_sid) == 0 &&
		    j->generation <= generation) {
			jobs_unlink(t, j);
			jobs_job_free(j);
		}
	}
	msg_init(&m, MSG_JOB_CANCEL);
	if (msg_set_call_sid(&m, call_sid) < 0)
		return -1;
	m.generation = generation;
	s = xasprintf("{\"reason\":\"%s\"}", reason);
	m.json = s;
	m.json_len = strlen(s);
	rc = t->io.cancel != NULL ? t->io.cancel(t->io.arg, &m) : 0;
	free(s);
	if (rc == 0)
		t->st.cancels++;
	return rc;
}

/* Forget every job of owner (it is going away); no callback runs. */
void
jobs_forget_owner(struct jobs *t, void *owner)
{
	struct job *j, *next;

	for (j = TAILQ_FIRST(&t->list); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (j->owner == owner) {
			jobs_unlink(t, j);
			jobs_job_free(j);
		}
	}
}

/* Return how many jobs are waiting for a final result. */
size_t
jobs_in_flight(const struct jobs *t)
{
	return t != NULL ? t->n : 0;
}

/* Return the table's counters. */
const struct jobs_stats *
jobs_stats(const struct jobs *t)
{
	return &t->st;
}

/* Append the job metrics (Prometheus text) to b. */
void
jobs_metrics_write(const struct jobs *t, struct evbuffer *b)
{
	const struct jobs_stats *st = &t->st;

	evbuffer_add_printf(b,
	    "# HELP merkazia_jobs_total Jobs sent to the stages, by stage "
	    "and how.\n"
	    "# TYPE merkazia_jobs_total counter\n");
	for (int i = 0; i < JOBS_NSTAGE; i++)
		evbuffer_add_printf(b,
		    "merkazia_jobs_total{stage=\"%s\",result=\"sent\"} %lu\n"
		    "merkazia_jobs_total{stage=\"%s\",result=\"resent\"} %lu\n"
		    "merkazia_jobs_total{stage=\"%s\",result=\"expired\"} "
		    "%lu\n",
		    jobs_stage_names[i], st->sent[i], jobs_stage_names[i],
		    st->resent[i], jobs_stage_names[i], st->expired[i]);
	evbuffer_add_printf(b,
	    "# HELP merkazia_job_results_total Result messages, by what "
	    "became of them.\n"
	    "# TYPE merkazia_job_results_total counter\n"
	    "merkazia_job_results_total{result=\"delivered\"} %lu\n"
	    "merkazia_job_results_total{result=\"duplicate\"} %lu\n"
	    "merkazia_job_results_total{result=\"stale\"} %lu\n"
	    "merkazia_job_results_total{result=\"unknown\"} %lu\n"
	    "# HELP merkazia_jobs_in_flight Jobs waiting for a final "
	    "result.\n"
	    "# TYPE merkazia_jobs_in_flight gauge\n"
	    "merkazia_jobs_in_flight %zu\n"
	    "# HELP merkazia_job_cancels_total JOB_CANCEL messages "
	    "published.\n"
	    "# TYPE merkazia_job_cancels_total counter\n"
	    "merkazia_job_cancels_total %lu\n",
	    st->results, st->duplicates, st->stale, st->unknown, t->n,
	    st->cancels);
}
