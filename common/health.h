/*
 * Heartbeats: publishing (workers, crm-store) and following (gateway,
 * watchdog), in one module so both followers judge liveness the same way.
 *
 * A publisher sends MSG_HEARTBEAT every second on one PUB socket connected
 * to every follower's endpoint (HEALTH_GATEWAY and HEALTH_WATCHDOG lists).
 * Payload: stage, instance, pid, jobs_in_flight, provider_reachable,
 * last_error, seq, version.
 *
 * A follower binds its own SUB endpoint and keeps one entry per
 * (stage, instance, pid). A worker heard from is "live"; one not heard
 * from for the heartbeat-loss timeout is "lost". Each transition is logged
 * as one JSON line with worker_stage, worker_instance, worker_pid and
 * worker ("live" or "lost") fields, and reported to an
 * optional callback. Entries lost for ten timeouts are forgotten.
 */
#ifndef MERKAZIA_HEALTH_H
#define MERKAZIA_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#define HEALTH_INTERVAL_MS 1000

struct health_pub;
struct health_follow;

struct health_worker {
	char stage[32];
	char instance[64];
	long pid;
	bool live;
	int64_t last_seen_ms;
	long jobs_in_flight;
	bool provider_reachable;
	char last_error[160];
};

/* health.c */
struct health_pub *health_pub_new(
    struct event_base *base, const char *stage, const char *instance);
void health_pub_set(struct health_pub *p, long jobs_in_flight,
    bool provider_reachable, const char *last_error);
void health_pub_set_jobs(struct health_pub *p, long jobs_in_flight);
void health_pub_free(struct health_pub *p);
struct health_follow *health_follow_new(struct event_base *base, int endpoint,
    long timeout_ms, void (*changed)(const struct health_worker *w, void *arg),
    void *arg);
void health_follow_free(struct health_follow *f);
size_t health_follow_count(const struct health_follow *f);
const struct health_worker *health_follow_at(
    const struct health_follow *f, size_t i);
size_t health_follow_live(const struct health_follow *f, const char *stage);

#endif
