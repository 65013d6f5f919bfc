/*
 * Alerts from heartbeats: a stage with no live worker, a worker whose
 * provider is unreachable, and their recoveries.
 *
 * Why: the heartbeat follower (common/health.c) logs each worker live or
 * lost, which is what the gateway's /readyz needs; ops need one line per
 * outage instead: "no llm-worker is alive" is an alert even when three
 * instances died one by one, and a worker that is alive but whose OpenAI
 * key ran out of quota is as useless as a dead one. This file turns the
 * follower's table into such transitions, each one JSON line with an
 * "alert" field (docs/watchdog.md):
 *   stage_down     (warn) stage has had no live worker for the heartbeat
 *                  timeout: at once when its last worker is lost (the
 *                  follower already waited the timeout), or, for a stage
 *                  never heard of, the timeout plus two heartbeat
 *                  intervals after the watchdog started;
 *   stage_up       (info) it has a live worker again;
 *   provider_down  (warn) a live worker reports provider_reachable false
 *                  (for crm-store: its database), with its last_error;
 *   provider_up    (info) that worker reports it reachable again.
 * Each alert fires once per outage. A worker that goes away while its
 * provider is down is dropped silently (the stage alert covers it).
 *
 * Pure apart from logging: alerts_check() takes the workers and the time,
 * so tests can drive it over a fake clock. Stages are the four heartbeat
 * publishers of docs/protocol.md (HEARTBEAT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "watchdog.h"
#include "xmalloc.h"

/*
 * A stage never heard of is judged only after the timeout plus this:
 * publishers started before us reconnect and send their next heartbeat
 * up to an interval or two later.
 */
#define ALERTS_START_GRACE_MS (2 * HEALTH_INTERVAL_MS)

static const char *const alerts_stage_names[ALERTS_STAGES] = {
    "stt", "llm", "tts", "crm-store"};

/* Start with every stage unknown since now; timeout_ms as the follower's. */
void
alerts_init(struct alerts *a, long timeout_ms, int64_t now)
{
	memset(a, 0, sizeof(*a));
	a->timeout_ms = timeout_ms;
	for (size_t i = 0; i < ALERTS_STAGES; i++) {
		a->stages[i].name = alerts_stage_names[i];
		a->stages[i].live_ms = now;
	}
}

void
alerts_free(struct alerts *a)
{
	free(a->prov);
	a->prov = NULL;
	a->nprov = 0;
}

static void
alerts_stage_check(
    struct alerts *a, struct alerts_stage *s, size_t live, int64_t now)
{
	json_t *f;

	if (live > 0) {
		if (s->down) {
			f = json_pack("{s:s, s:s, s:I, s:I}", "alert",
			    "stage_up", "stage", s->name, "down_ms",
			    (json_int_t)(now - s->down_ms), "workers",
			    (json_int_t)live);
			log_fields(LOG_LEVEL_INFO, NULL, f,
			    "stage %s is back: %zu live worker%s", s->name,
			    live, live == 1 ? "" : "s");
			json_decref(f);
			s->down = false;
		}
		s->ever_live = true;
		s->live_ms = now;
		return;
	}
	if (s->down ||
	    (!s->ever_live &&
		now - s->live_ms < a->timeout_ms + (long)ALERTS_START_GRACE_MS))
		return;
	s->down = true;
	s->down_ms = now;
	f = json_pack("{s:s, s:s, s:I, s:I, s:b}", "alert", "stage_down",
	    "stage", s->name, "timeout_ms", (json_int_t)a->timeout_ms,
	    "no_worker_ms",
	    (json_int_t)now - (json_int_t)s->live_ms +
		(json_int_t)(s->ever_live ? a->timeout_ms : 0),
	    "ever_live", s->ever_live);
	log_fields(LOG_LEVEL_WARN, NULL, f,
	    "stage %s has no live worker (heartbeat timeout %ld ms)", s->name,
	    a->timeout_ms);
	json_decref(f);
}

static struct alerts_provider *
alerts_provider_get(struct alerts *a, const struct health_worker *w)
{
	struct alerts_provider *p;

	for (size_t i = 0; i < a->nprov; i++) {
		p = &a->prov[i];
		if (p->pid == w->pid && strcmp(p->stage, w->stage) == 0 &&
		    strcmp(p->instance, w->instance) == 0)
			return p;
	}
	a->prov = xreallocarray(a->prov, a->nprov + 1, sizeof(*a->prov));
	p = &a->prov[a->nprov++];
	memset(p, 0, sizeof(*p));
	snprintf(p->stage, sizeof(p->stage), "%s", w->stage);
	snprintf(p->instance, sizeof(p->instance), "%s", w->instance);
	p->pid = w->pid;
	return p;
}

static void
alerts_provider_check(
    struct alerts *a, const struct health_worker *w, int64_t now)
{
	struct alerts_provider *p = alerts_provider_get(a, w);
	json_t *f;

	p->seen = true;
	if (!w->provider_reachable && !p->down) {
		p->down = true;
		p->down_ms = now;
		f = json_pack("{s:s, s:s, s:s, s:I, s:s}", "alert",
		    "provider_down", "stage", w->stage, "worker_instance",
		    w->instance, "worker_pid", (json_int_t)w->pid, "last_error",
		    w->last_error);
		log_fields(LOG_LEVEL_WARN, NULL, f,
		    "%s/%s (pid %ld) cannot reach its provider: %s", w->stage,
		    w->instance, w->pid,
		    w->last_error[0] ? w->last_error : "(no error given)");
		json_decref(f);
	} else if (w->provider_reachable && p->down) {
		p->down = false;
		f = json_pack("{s:s, s:s, s:s, s:I, s:I}", "alert",
		    "provider_up", "stage", w->stage, "worker_instance",
		    w->instance, "worker_pid", (json_int_t)w->pid, "down_ms",
		    (json_int_t)(now - p->down_ms));
		log_fields(LOG_LEVEL_INFO, NULL, f,
		    "%s/%s (pid %ld) reaches its provider again", w->stage,
		    w->instance, w->pid);
		json_decref(f);
	}
}

/*
 * Judge the follower's n workers w at time now and log every transition
 * (see the top of this file).
 */
void
alerts_check(struct alerts *a, const struct health_worker *const *w, size_t n,
    int64_t now)
{
	size_t i = 0;

	for (size_t s = 0; s < ALERTS_STAGES; s++) {
		size_t live = 0;

		for (size_t k = 0; k < n; k++)
			if (w[k]->live &&
			    strcmp(w[k]->stage, a->stages[s].name) == 0)
				live++;
		alerts_stage_check(a, &a->stages[s], live, now);
	}
	for (size_t k = 0; k < a->nprov; k++)
		a->prov[k].seen = false;
	for (size_t k = 0; k < n; k++)
		if (w[k]->live)
			alerts_provider_check(a, w[k], now);
	while (i < a->nprov) {
		if (!a->prov[i].seen) {
			a->prov[i] = a->prov[--a->nprov];
			continue;
		}
		i++;
	}
}
