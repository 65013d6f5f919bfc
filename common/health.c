/*
 * Heartbeat publishing and following (see health.h).
 *
 * The publisher is a timer on the daemon's loop; a send that fails (no
 * follower up yet) is not an error: heartbeats are periodic by nature.
 * The follower checks every entry each quarter of the timeout, so a lost
 * worker is noticed within 1.25 timeouts.
 */
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "clock.h"
#include "daemon.h"
#include "health.h"
#include "log.h"
#include "nnsock.h"
#include "xmalloc.h"

struct health_pub {
	struct nnsock *sock;
	struct event *timer;
	char stage[32];
	char instance[64];
	long jobs_in_flight;
	bool provider_reachable;
	char last_error[160];
	uint64_t seq;
};

struct health_follow {
	struct nnsock *sock;
	struct event *timer;
	long timeout_ms;
	struct health_worker *w;
	size_t n;
	void (*changed)(const struct health_worker *, void *);
	void *arg;
};

static void
health_pub_send(evutil_socket_t fd, short what, void *arg)
{
	struct health_pub *p = arg;
	struct msg m;
	json_t *j;
	char *s;

	(void)fd;
	(void)what;
	j = json_pack("{s:s, s:s, s:I, s:I, s:b, s:s?, s:I, s:s}", "stage",
	    p->stage, "instance", p->instance, "pid", (json_int_t)getpid(),
	    "jobs_in_flight", (json_int_t)p->jobs_in_flight,
	    "provider_reachable", p->provider_reachable, "last_error",
	    p->last_error[0] ? p->last_error : NULL, "seq",
	    (json_int_t)++p->seq, "version", daemon_version());
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL)
		return;
	msg_init(&m, MSG_HEARTBEAT);
	m.json = s;
	m.json_len = strlen(s);
	(void)nnsock_send(p->sock, &m);
	free(s);
}

/*
 * Start publishing heartbeats of this stage and instance every second to
 * every follower. Return NULL (logged) when the socket cannot be set up.
 */
struct health_pub *
health_pub_new(struct event_base *base, const char *stage, const char *instance)
{
	struct health_pub *p = xcalloc(1, sizeof(*p));
	struct timeval tv = {HEALTH_INTERVAL_MS / 1000,
	    (suseconds_t)(HEALTH_INTERVAL_MS % 1000) * 1000};
	char *gw = endpoints_address(ENDPOINT_HEALTH_GATEWAY);
	char *wd = endpoints_address(ENDPOINT_HEALTH_WATCHDOG);
	int rc;

	snprintf(p->stage, sizeof(p->stage), "%s", stage);
	snprintf(p->instance, sizeof(p->instance), "%s", instance);
	p->provider_reachable = true;
	p->sock = nnsock_open(NN_PUB, false, "HEALTH");
	rc = p->sock ? nnsock_connect_list(p->sock, gw) : -1;
	if (rc == 0)
		rc = nnsock_connect_list(p->sock, wd);
	free(gw);
	free(wd);
	if (rc < 0) {
		health_pub_free(p);
		return NULL;
	}
	p->timer = event_new(base, -1, EV_PERSIST, health_pub_send, p);
	event_add(p->timer, &tv);
	health_pub_send(-1, 0, p);
	return p;
}

/* Set what the next heartbeats say; last_error may be NULL. */
void
health_pub_set(struct health_pub *p, long jobs_in_flight,
    bool provider_reachable, const char *last_error)
{
	p->jobs_in_flight = jobs_in_flight;
	p->provider_reachable = provider_reachable;
	snprintf(p->last_error, sizeof(p->last_error), "%s",
	    last_error ? last_error : "");
}

/* Set only the jobs-in-flight count of the next heartbeats. */
void
health_pub_set_jobs(struct health_pub *p, long jobs_in_flight)
{
	p->jobs_in_flight = jobs_in_flight;
}

void
health_pub_free(struct health_pub *p)
{
	if (p == NULL)
		return;
	if (p->timer != NULL)
		event_free(p->timer);
	nnsock_close(p->sock);
	free(p);
}

static void
health_transition(struct health_follow *f, struct health_worker *w, bool live)
{
	json_t *fields;

	w->live = live;
	fields = json_pack("{s:s, s:s, s:I, s:s}", "worker_stage", w->stage,
	    "worker_instance", w->instance, "worker_pid", (json_int_t)w->pid,
	    "worker", live ? "live" : "lost");
	log_fields(live ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, NULL, fields,
	    "%s %s/%s (pid %ld)",
	    live ? "worker live:" : "worker lost:", w->stage, w->instance,
	    w->pid);
	json_decref(fields);
	if (f->changed != NULL)
		f->changed(w, f->arg);
}

static void
health_on_beat(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct health_follow *f = arg;
	const char *stage = NULL, *instance = NULL, *err;
	json_t *jerr = NULL;
	json_int_t pid = 0, jobs = 0;
	int reachable = 1;
	struct health_worker *w = NULL;

	(void)s;
	(void)m;
	(void)rx;
	if (json_unpack(payload, "{s:s, s:s, s:I, s?I, s?b, s?o}", "stage",
		&stage, "instance", &instance, "pid", &pid, "jobs_in_flight",
		&jobs, "provider_reachable", &reachable, "last_error",
		&jerr) < 0) {
		log_warnx("dropped a heartbeat without stage, instance, pid");
		return;
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->w[i].pid == pid && strcmp(f->w[i].stage, stage) == 0 &&
		    strcmp(f->w[i].instance, instance) == 0)
			w = &f->w[i];
	if (w == NULL) {
		f->w = xreallocarray(f->w, f->n + 1, sizeof(*f->w));
		w = &f->w[f->n++];
		memset(w, 0, sizeof(*w));
		snprintf(w->stage, sizeof(w->stage), "%s", stage);
		snprintf(w->instance, sizeof(w->instance), "%s", instance);
		w->pid = (long)pid;
	}
	err = json_is_string(jerr) ? json_string_value(jerr) : NULL;
	w->last_seen_ms = clock_mono_ms();
	w->jobs_in_flight = (long)jobs;
	w->provider_reachable = reachable != 0;
	snprintf(w->last_error, sizeof(w->last_error), "%s", err ? err : "");
	if (!w->live)
		health_transition(f, w, true);
}

static void
health_check(evutil_socket_t fd, short what, void *arg)
{
	struct health_follow *f = arg;
	int64_t now = clock_mono_ms();
	size_t i = 0;

	(void)fd;
	(void)what;
	while (i < f->n) {
		struct health_worker *w = &f->w[i];
		int64_t idle = now - w->last_seen_ms;

		if (w->live && idle > f->timeout_ms)
			health_transition(f, w, false);
		if (!w->live && idle > 10 * f->timeout_ms) {
			f->w[i] = f->w[--f->n];
			continue;
		}
		i++;
	}
}

static const struct msg_handler health_handlers[] = {
    {MSG_HEARTBEAT, health_on_beat},
    {0, NULL},
};

/*
 * Bind the follower's SUB endpoint (ENDPOINT_HEALTH_GATEWAY or
 * ENDPOINT_HEALTH_WATCHDOG) and track heartbeats; a worker silent for
 * timeout_ms is lost. changed (may be NULL) hears each transition.
 */
struct health_follow *
health_follow_new(struct event_base *base, int endpoint, long timeout_ms,
    void (*changed)(const struct health_worker *, void *), void *arg)
{
	struct health_follow *f = xcalloc(1, sizeof(*f));
	long tick = timeout_ms / 4 > 10 ? timeout_ms / 4 : 10;
	struct timeval tv = {tick / 1000, (tick % 1000) * 1000};

	f->timeout_ms = timeout_ms;
	f->changed = changed;
	f->arg = arg;
	f->sock = nnsock_endpoint((enum endpoint_id)endpoint, true);
	if (f->sock == NULL ||
	    nnsock_watch(f->sock, base, health_handlers, f) < 0) {
		health_follow_free(f);
		return NULL;
	}
	f->timer = event_new(base, -1, EV_PERSIST, health_check, f);
	event_add(f->timer, &tv);
	return f;
}

void
health_follow_free(struct health_follow *f)
{
	if (f == NULL)
		return;
	if (f->timer != NULL)
		event_free(f->timer);
	nnsock_close(f->sock);
	free(f->w);
	free(f);
}

size_t
health_follow_count(const struct health_follow *f)
{
	return f->n;
}

const struct health_worker *
health_follow_at(const struct health_follow *f, size_t i)
{
	return i < f->n ? &f->w[i] : NULL;
}

/* Count the live workers of a stage (all stages when stage is NULL). */
size_t
health_follow_live(const struct health_follow *f, const char *stage)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		if (f->w[i].live &&
		    (stage == NULL || strcmp(f->w[i].stage, stage) == 0))
			n++;
	return n;
}
