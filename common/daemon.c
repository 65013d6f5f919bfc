/*
 * The daemon skeleton (see daemon.h for the sequence).
 *
 * Exit codes: 0 after a clean stop, 1 for bad options, settings or a
 * failed init. Every problem in the settings is listed before exiting.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "daemon.h"
#include "endpoints.h"
#include "log.h"
#include "xmalloc.h"

#ifndef MERKAZIA_VERSION
#define MERKAZIA_VERSION "0.0.0"
#endif
#ifndef MERKAZIA_BUILD_ID
#define MERKAZIA_BUILD_ID "unknown"
#endif

#define DAEMON_DRAIN_POLL_MS 20

const struct config_key daemon_common_config[] = {
    {"MERKAZIA_INSTANCE", CONFIG_STRING, "0", 0, 0, 0,
	"name of this instance (systemd's %i); appears in logs and "
	"heartbeats"},
    {"MERKAZIA_RUNTIME_DIR", CONFIG_STRING, NULL, 0, 0, 0,
	"directory of the default ipc:// endpoints; default "
	"$RUNTIME_DIRECTORY, else /run/merkazia"},
    {"MERKAZIA_STATE_DIR", CONFIG_STRING, NULL, 0, 0, 0,
	"directory for durable state (spool files); default "
	"$STATE_DIRECTORY, else /var/lib/merkazia"},
    {"MERKAZIA_LOG_LEVEL", CONFIG_STRING, "info", 0, 0, 0,
	"debug, info, warn or error"},
    {"MERKAZIA_DRAIN_MS", CONFIG_INT, "5000", 0, 600000, 0,
	"on SIGTERM, how long to wait for work in flight before exiting"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

struct daemon_state {
	struct daemon d;
	struct event *sig[3];
	struct event **timers;
	size_t ntimers;
	struct event *watchdog;
	struct event *drain;
	int64_t drain_deadline;
	char *runtime_dir;
	char *state_dir;
};

const char *
daemon_version(void)
{
	return MERKAZIA_VERSION;
}

const char *
daemon_build_id(void)
{
	return MERKAZIA_BUILD_ID;
}

/*
 * Return the directory for durable state (spool files):
 * MERKAZIA_STATE_DIR, else $STATE_DIRECTORY, else /var/lib/merkazia. Valid
 * from the init hook on.
 */
const char *
daemon_state_dir(const struct daemon *d)
{
	const struct daemon_state *st =
	    (const struct daemon_state *)(const void *)d;

	return st->state_dir;
}

/* Send STATUS=<text> to systemd (no-op without NOTIFY_SOCKET). */
void
daemon_status(struct daemon *d, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;

	(void)d;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (text == NULL)
		return;
	sd_notifyf(0, "STATUS=%s", text);
	free(text);
}

static void
daemon_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *st = arg;
	struct daemon *d = &st->d;
	bool done = d->spec->drained == NULL || d->spec->drained(d);

	(void)fd;
	(void)what;
	if (done) {
		log_info("drained; stopping");
		event_base_loopbreak(d->base);
		return;
	}
	if (clock_mono_ms() >= st->drain_deadline) {
		log_warnx("drain deadline of %ld ms passed with work in "
			  "flight; stopping",
		    config_int(d->cfg, "MERKAZIA_DRAIN_MS"));
		event_base_loopbreak(d->base);
		return;
	}
	{
		struct timeval tv = {
		    0, (suseconds_t)DAEMON_DRAIN_POLL_MS * 1000};

		evtimer_add(st->drain, &tv);
	}
}

/* Begin a clean stop, as SIGTERM does. */
void
daemon_request_stop(struct daemon *d)
{
	struct daemon_state *st = (struct daemon_state *)(void *)d;
	struct timeval now = {0, 0};

	if (d->stopping)
		return;
	d->stopping = true;
	sd_notify(0, "STOPPING=1");
	log_info("stopping");
	if (d->spec->stop != NULL)
		d->spec->stop(d);
	st->drain_deadline =
	    clock_mono_ms() + config_int(d->cfg, "MERKAZIA_DRAIN_MS");
	st->drain = evtimer_new(d->base, daemon_drain_tick, st);
	evtimer_add(st->drain, &now);
}

static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *st = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP ignored; restart the unit to reload settings");
		return;
	}
	log_info("received signal %d", (int)sig);
	daemon_request_stop(&st->d);
}

struct daemon_timer_ctx {
	struct daemon *d;
	const struct daemon_timer *t;
};

static void
daemon_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	const struct daemon_timer_ctx *c = arg;

	(void)fd;
	(void)what;
	c->t->fn(c->d);
}

static void
daemon_watchdog_ping(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

static void
daemon_usage(const struct daemon_spec *spec, FILE *f)
{
	fprintf(f,
	    "usage: %s [-v] [-f FILE] [--check-config] [--config-keys] "
	    "[--version]\n%s\n"
	    "  -f FILE          read KEY=VALUE settings from FILE (also "
	    "MERKAZIA_CONFIG_FILE)\n"
	    "  -v               log at debug level\n"
	    "  --check-config   print the effective settings and exit; exit "
	    "1 listing every problem\n"
	    "  --config-keys    print the name of every setting and exit\n"
	    "  --version        print the version and build and exit\n",
	    spec->name, spec->summary);
}

static void
daemon_free_state(struct daemon_state *st, struct daemon_timer_ctx *tctx)
{
	for (size_t i = 0; i < 3; i++)
		if (st->sig[i] != NULL)
			event_free(st->sig[i]);
	for (size_t i = 0; i < st->ntimers; i++)
		event_free(st->timers[i]);
	free(st->timers);
	free(tctx);
	if (st->watchdog != NULL)
		event_free(st->watchdog);
	if (st->drain != NULL)
		event_free(st->drain);
	if (st->d.base != NULL)
		event_base_free(st->d.base);
	config_free(st->d.cfg);
	free(st->runtime_dir);
	free(st->state_dir);
	log_clear_secrets();
	libevent_global_shutdown();
}

/* Run the daemon described by spec; return the process exit code. */
int
daemon_run(const struct daemon_spec *spec, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"check-config", no_argument, NULL, 'C'},
	    {"config-keys", no_argument, NULL, 'K'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct config_key *tables[6] = {daemon_common_config, NULL};
	struct daemon_state st;
	struct daemon_timer_ctx *tctx = NULL;
	const char *file = getenv("MERKAZIA_CONFIG_FILE");
	bool check = false, keys = false, verbose = false;
	enum log_level level = LOG_LEVEL_INFO;
	uint64_t wd_usec = 0;
	int c, nsig = 0;
	const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};

	memset(&st, 0, sizeof(st));
	st.d.spec = spec;
	for (size_t i = 0; i < 4 && spec->config[i] != NULL; i++)
		tables[i + 1] = spec->config[i];
	log_init(spec->name, NULL);
	while ((c = getopt_long(argc, argv, "f:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'C':
			check = true;
			break;
		case 'K':
			keys = true;
			break;
		case 'V':
			printf("%s %s (build %s)\n", spec->name,
			    MERKAZIA_VERSION, MERKAZIA_BUILD_ID);
			return 0;
		case 'h':
			daemon_usage(spec, stdout);
			return 0;
		default:
			daemon_usage(spec, stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", spec->name,
		    argv[optind]);
		daemon_usage(spec, stderr);
		return 1;
	}
	st.d.cfg = config_new(tables);
	if (keys) {
		config_print_keys(st.d.cfg, stdout);
		config_free(st.d.cfg);
		return 0;
	}
	if (file != NULL && *file == '\0')
		file = NULL;
	(void)config_load(st.d.cfg, file);
	if (log_level_parse(
		config_str(st.d.cfg, "MERKAZIA_LOG_LEVEL"), &level) < 0) {
		fprintf(stderr, "%s: MERKAZIA_LOG_LEVEL: unknown level\n",
		    spec->name);
		level = LOG_LEVEL_INFO;
		if (!check) {
			config_free(st.d.cfg);
			return 1;
		}
	}
	if (check) {
		size_t n = config_nproblems(st.d.cfg);

		config_print(st.d.cfg, stdout);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s: %s\n", spec->name,
			    config_problem(st.d.cfg, i));
		if (n)
			fprintf(stderr, "%s: %zu problem%s in the settings\n",
			    spec->name, n, n == 1 ? "" : "s");
		config_free(st.d.cfg);
		log_clear_secrets();
		return n ? 1 : 0;
	}
	st.d.instance = config_str(st.d.cfg, "MERKAZIA_INSTANCE");
	log_init(spec->name, st.d.instance);
	log_set_level(verbose ? LOG_LEVEL_DEBUG : level);
	if (config_nproblems(st.d.cfg) > 0) {
		for (size_t i = 0; i < config_nproblems(st.d.cfg); i++)
			log_error(
			    "bad setting: %s", config_problem(st.d.cfg, i));
		log_error("not starting: %zu problem(s) in the settings",
		    config_nproblems(st.d.cfg));
		daemon_free_state(&st, NULL);
		return 1;
	}
	{
		const char *rd = config_str(st.d.cfg, "MERKAZIA_RUNTIME_DIR");
		const char *sd = config_str(st.d.cfg, "MERKAZIA_STATE_DIR");
		const char *env;

		if (rd == NULL)
			rd = (env = getenv("RUNTIME_DIRECTORY"))
				 ? env
				 : "/run/merkazia";
		if (sd == NULL)
			sd = (env = getenv("STATE_DIRECTORY"))
				 ? env
				 : "/var/lib/merkazia";
		st.runtime_dir = xstrdup(rd);
		st.state_dir = xstrdup(sd);
		endpoints_set_runtime_dir(st.runtime_dir);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	st.d.base = event_base_new();
	if (st.d.base == NULL)
		fatalx("cannot create the event loop");
	for (int i = 0; i < 3; i++) {
		st.sig[i] =
		    evsignal_new(st.d.base, sigs[i], daemon_signal, &st);
		if (st.sig[i] == NULL || event_add(st.sig[i], NULL) < 0)
			fatalx("cannot watch signal %d", sigs[i]);
		nsig++;
	}
	if (spec->timers != NULL) {
		for (const struct daemon_timer *t = spec->timers; t->name; t++)
			st.ntimers++;
		st.timers = xcalloc(st.ntimers, sizeof(struct event *));
		tctx = xcalloc(st.ntimers, sizeof(*tctx));
		for (size_t i = 0; i < st.ntimers; i++) {
			struct timeval tv;

			tctx[i].d = &st.d;
			tctx[i].t = &spec->timers[i];
			tv.tv_sec = spec->timers[i].interval_ms / 1000;
			tv.tv_usec =
			    (suseconds_t)(spec->timers[i].interval_ms % 1000) *
			    1000;
			st.timers[i] = event_new(st.d.base, -1, EV_PERSIST,
			    daemon_timer_fire, &tctx[i]);
			event_add(st.timers[i], &tv);
		}
	}
	if (spec->init != NULL && spec->init(&st.d) < 0) {
		log_error("not starting: initialisation failed");
		if (spec->shutdown != NULL)
			spec->shutdown(&st.d);
		daemon_free_state(&st, tctx);
		return 1;
	}
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv;
		uint64_t half = wd_usec / 2;

		tv.tv_sec = (time_t)(half / 1000000);
		tv.tv_usec = (suseconds_t)(half % 1000000);
		st.watchdog = event_new(
		    st.d.base, -1, EV_PERSIST, daemon_watchdog_ping, NULL);
		event_add(st.watchdog, &tv);
		sd_notify(0, "WATCHDOG=1");
	}
	log_info("started %s %s (build %s)", spec->name, MERKAZIA_VERSION,
	    MERKAZIA_BUILD_ID);
	sd_notify(0, "READY=1");
	event_base_dispatch(st.d.base);
	if (spec->shutdown != NULL)
		spec->shutdown(&st.d);
	log_info("stopped");
	daemon_free_state(&st, tctx);
	(void)nsig;
	return 0;
}
