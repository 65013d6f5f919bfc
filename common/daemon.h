/*
 * The one skeleton every daemon runs.
 *
 * Why: six daemons must start, report to systemd, stop and drain the same
 * way, or ops and tests have six behaviours to learn. main() fills a
 * struct daemon_spec and calls daemon_run(), which does, in order:
 * options (--version, --check-config, --config-keys, -f FILE, -v),
 * logging, configuration (exit 1 listing every problem), the event_base,
 * signal events, the periodic timers of the spec's table, the init hook,
 * READY=1 (and WATCHDOG=1 at half of WATCHDOG_USEC) to systemd, the loop;
 * then on SIGTERM/SIGINT: STOPPING=1, the stop hook (take no new work),
 * drain until the drained hook says so or MERKAZIA_DRAIN_MS passes, the
 * shutdown hook, free, exit 0.
 *
 * Signal handlers only set state; the loop acts (R7). libsystemd is used
 * only here (R14).
 */
#ifndef MERKAZIA_DAEMON_H
#define MERKAZIA_DAEMON_H

#include <stdbool.h>

#include <event2/event.h>

#include "config.h"

struct daemon;

struct daemon_timer {
	const char *name;
	unsigned int interval_ms;
	void (*fn)(struct daemon *d);
};

struct daemon_spec {
	const char *name;    /* "gateway" */
	const char *summary; /* one line for --help */
	/* Tables of settings: shared ones (settings.h) and the daemon's own,
	 * each {NULL}-terminated; the list ends with NULL. */
	const struct config_key *config[4];
	const struct daemon_timer *timers;  /* {NULL}-terminated, or NULL */
	int (*init)(struct daemon *d);	    /* -1: exit 1 */
	void (*stop)(struct daemon *d);	    /* stop taking new work */
	bool (*drained)(struct daemon *d);  /* no work left in flight */
	void (*shutdown)(struct daemon *d); /* free what init made */
};

struct daemon {
	const struct daemon_spec *spec;
	struct event_base *base;
	struct config *cfg;
	const char *instance;
	void *ctx; /* the daemon's own state, owned by its hooks */
	bool stopping;
};

extern const struct config_key daemon_common_config[];

/* daemon.c */
int daemon_run(const struct daemon_spec *spec, int argc, char **argv);
void daemon_status(struct daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void daemon_request_stop(struct daemon *d);
const char *daemon_version(void);
const char *daemon_build_id(void);
const char *daemon_state_dir(const struct daemon *d);

#endif
