/*
 * sim-caller: the simulated Twilio -- calls the gateway the way Twilio
 * does and reports what a caller would have heard.
 *
 * Why: the product's contract with Twilio (shared design, "What real
 * means here") can only be tested end to end with something that speaks
 * the real webhook and Media Streams protocol, streams real Hebrew audio
 * in real time and records what comes back. Tests, benchmarks and the
 * demo all use this one tool. docs/sim-caller.md is the full manual;
 * briefly:
 *
 *   sim-caller [--env STACK_ENV] [--gateway HOST:PORT] [--public-url URL]
 *              [--token TOKEN] [--account-sid SID] [--from E164] [--to E164]
 *              [--scenario FILE] [--say TEXT]... [--wpm N]
 *              [--barge-in ID[:MS]]... [--wav PATH]
 *              [--jitter-ms N] [--pause-ms N] [--reply-timeout-ms N]
 *              [--hangup-after MS] [--max-call-ms MS]
 *              [--webhook-timeout-ms MS] [--calls N] [--concurrency N]
 *              [--interval-ms N] [--no-start] [--garbage] [--binary]
 *              [--unsigned] [--unsigned-upgrade] [--wrong-signature]
 *              [--stop-reading]
 *              [--no-stop] [-v | -q]
 *
 * Settings come from the options, else from the --env file (tools/stack's
 * stack.env: MERKAZIA_LISTEN, MERKAZIA_PUBLIC_URL, TWILIO_AUTH_TOKEN,
 * TWILIO_ACCOUNT_SID), else from the environment of the same names. Each
 * call: signed webhook -> TwiML -> signed upgrade -> connected, start,
 * 20 ms media frames from the scenario in real time, marks echoed as
 * played, clear honoured -> stop and close. One JSON line per call on
 * stdout when it ends; with --calls > 1 a last line {"aggregate": ...}
 * with p50/p99. All calls share one libevent loop (no thread per call).
 *
 * Exit status: 0 when every call ended normally ("result": "ok"), 1 when
 * one did not or the run could not start, 2 on a usage error. Logs are
 * JSON lines on stderr; the auth token is registered as a secret and
 * never printed. Only loopback addresses are ever connected to.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <jansson.h>

#include "audio.h"
#include "clock.h"
#include "httpc.h"
#include "log.h"
#include "sim_caller.h"
#include "xmalloc.h"

#define SIMCALLER_TICK_MS	  5
#define SIMCALLER_STARTS_PER_TICK 20
#define SIMCALLER_CATCH_UP_MS	  100
#define SIMCALLER_MAX_CALLS	  100000
#define SIMCALLER_MAX_CONC	  2000
#define SIMCALLER_MAX_LINES	  64
#define SIMCALLER_MAX_BARGES	  64
#define SIMCALLER_DEF_FROM	  "+972521234567"
#define SIMCALLER_DEF_TO	  "+97235550100"
#define SIMCALLER_NO_START_MS	  10000
/* Histograms of the aggregate: 0.1 ms bins up to 2 s. */
#define SIMCALLER_HIST_BIN_MS 0.1
#define SIMCALLER_HIST_TOP_MS 2000.0
/* Reals in the JSON lines: enough digits, no binary noise. */
#define SIMCALLER_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

/* The run: every call, started in order, at most concurrency at once. */
struct simcaller_run {
	struct sim sim;
	struct script script;
	struct call **calls;
	int ncalls;
	int concurrency;
	long interval_ms;
	int started;
	int active;
	int finished;
	int ok;
	int64_t next_start;
	int64_t t0;
	bool stopping;
	struct event *tick;
	struct event *sigint;
	struct event *sigterm;
	/* For the aggregate. */
	double *webhook, *greeting, *reply, *first_media, *gap_p99;
	size_t nwebhook, ngreeting, nreply, nfirst_media, ngap_p99;
	size_t capwebhook, capgreeting, capreply, capfirst_media, capgap_p99;
	struct metrics_hist gaps;     /* every received inter-frame gap */
	struct metrics_hist tick_lag; /* how late our own tick ran */
	int64_t last_tick_us;
	long underruns, proto_errors, marks_played, marks_cleared, clears;
	json_t *results;
};

/* Settings read from a --env file (values owned here). */
struct simcaller_envfile {
	char *listen;
	char *public_url;
	char *token;
	char *account_sid;
};

static void
simcaller_usage(void)
{
	fprintf(stderr,
	    "usage: sim-caller [--env FILE] [--gateway HOST:PORT] "
	    "[--public-url URL]\n"
	    "         [--token TOKEN] [--account-sid SID] [--from NUM] "
	    "[--to NUM]\n"
	    "         [--scenario FILE] [--say TEXT]... [--wpm N] "
	    "[--barge-in ID[:MS]]...\n"
	    "         [--wav PATH] [--jitter-ms N] [--pause-ms N] "
	    "[--reply-timeout-ms N]\n"
	    "         [--hangup-after MS] [--max-call-ms MS] "
	    "[--webhook-timeout-ms MS]\n"
	    "         [--calls N] [--concurrency N] [--interval-ms N]\n"
	    "         [--no-start] [--garbage] [--binary] [--unsigned] "
	    "[--wrong-signature]\n"
	    "         [--unsigned-upgrade] [--stop-reading] [--no-stop] "
	    "[-v | -q]\n"
	    "see docs/sim-caller.md\n");
}

/* Parse a decimal option in [lo, hi] into *out; return 0 or -1. */
static int
simcaller_num(const char *name, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "sim-caller: --%s must be %ld..%ld\n", name, lo,
		    hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* Undo tools/stack's shell quoting of a value ('...' with '\'' inside). */
static char *
simcaller_unquote(const char *v)
{
	size_t len = strlen(v), o = 0;
	char *out;

	if (len < 2 || v[0] != '\'' || v[len - 1] != '\'')
		return xstrdup(v);
	out = xmalloc(len);
	for (size_t i = 1; i + 1 < len; i++) {
		if (strncmp(v + i, "'\\''", 4) == 0) {
			out[o++] = '\'';
			i += 3;
			continue;
		}
		out[o++] = v[i];
	}
	out[o] = '\0';
	return out;
}

/* Read the settings we use from a KEY=VALUE file; return 0 or -1. */
static int
simcaller_read_env(const char *path, struct simcaller_envfile *e)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int nlines = 0;

	if (f == NULL) {
		log_warn("sim-caller: cannot open %s", path);
		return -1;
	}
	while (nlines++ < 100000 && fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');
		char **slot = NULL;
		size_t len = strlen(line);

		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (eq == NULL || line[0] == '#')
			continue;
		*eq = '\0';
		if (strcmp(line, "MERKAZIA_LISTEN") == 0)
			slot = &e->listen;
		else if (strcmp(line, "MERKAZIA_PUBLIC_URL") == 0)
			slot = &e->public_url;
		else if (strcmp(line, "TWILIO_AUTH_TOKEN") == 0)
			slot = &e->token;
		else if (strcmp(line, "TWILIO_ACCOUNT_SID") == 0)
			slot = &e->account_sid;
		if (slot != NULL) {
			free(*slot);
			*slot = simcaller_unquote(eq + 1);
		}
	}
	(void)fclose(f);
	return 0;
}

static void
simcaller_envfile_free(struct simcaller_envfile *e)
{
	free(e->listen);
	free(e->public_url);
	if (e->token != NULL)
		explicit_bzero(e->token, strlen(e->token));
	free(e->token);
	free(e->account_sid);
}

/* Return the first non-empty of a, b and the environment variable. */
static const char *
simcaller_pick(const char *a, const char *b, const char *envname)
{
	const char *v;

	if (a != NULL && a[0] != '\0')
		return a;
	if (b != NULL && b[0] != '\0')
		return b;
	v = envname != NULL ? getenv(envname) : NULL;
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* ---- the run ----------------------------------------------------------- */

static void
simcaller_push(double **v, size_t *n, size_t *cap, double x)
{
	if (isnan(x))
		return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

static long
simcaller_int(json_t *doc, const char *key)
{
	return (long)json_integer_value(json_object_get(doc, key));
}

/* Print a finished call's line and keep its figures. */
static void
simcaller_reap(struct simcaller_run *r, struct call *c)
{
	json_t *doc = call_report(c);
	const char *res = json_string_value(json_object_get(doc, "result"));
	struct call_figures f;
	char *line;

	call_metrics(c, &f);
	simcaller_push(&r->webhook, &r->nwebhook, &r->capwebhook, f.webhook_ms);
	simcaller_push(
	    &r->greeting, &r->ngreeting, &r->capgreeting, f.greeting_ms);
	simcaller_push(&r->first_media, &r->nfirst_media, &r->capfirst_media,
	    f.first_media_ms);
	for (size_t i = 0; i < f.nreply; i++)
		simcaller_push(
		    &r->reply, &r->nreply, &r->capreply, f.reply_ms[i]);
	for (size_t i = 0; i < f.ngap; i++)
		metrics_hist_add(&r->gaps, f.gap_ms[i]);
	if (f.ngap > 0)
		simcaller_push(&r->gap_p99, &r->ngap_p99, &r->capgap_p99,
		    metrics_percentile(f.gap_ms, f.ngap, 99.0));
	call_metrics_free(&f);
	r->underruns += simcaller_int(doc, "underruns");
	r->proto_errors += simcaller_int(doc, "protocol_errors");
	r->marks_played += simcaller_int(doc, "marks_played");
	r->marks_cleared += simcaller_int(doc, "marks_cleared");
	r->clears += simcaller_int(doc, "clears");
	if (call_is_ok(c) && res != NULL && strcmp(res, "ok") == 0)
		r->ok++;
	if (res != NULL) {
		json_t *n = json_object_get(r->results, res);

		json_object_set_new(r->results, res,
		    json_integer(n ? json_integer_value(n) + 1 : 1));
	}
	line = json_dumps(doc, SIMCALLER_JSON_FLAGS);
	if (line != NULL) {
		printf("%s\n", line);
		(void)fflush(stdout);
		free(line);
	}
	json_decref(doc);
}

static void
simcaller_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct simcaller_run *r = arg;
	int64_t now = clock_mono_ms(), now_us = clock_mono_us();

	(void)fd;
	(void)what;
	if (r->last_tick_us > 0) {
		int64_t lag_us = now_us - r->last_tick_us -
				 (int64_t)SIMCALLER_TICK_MS * 1000;

		metrics_hist_add(&r->tick_lag, (double)lag_us / 1000.0);
	}
	r->last_tick_us = now_us;
	/* Calls start on a schedule of one every interval_ms (several a tick
	 * when the interval is shorter than the tick), at most
	 * SIMCALLER_STARTS_PER_TICK a tick. */
	for (int k = 0; k < SIMCALLER_STARTS_PER_TICK && !r->stopping &&
			r->started < r->ncalls && r->active < r->concurrency &&
			now >= r->next_start;
	     k++) {
		struct call *c = call_new(&r->sim, r->started);

		r->calls[r->started++] = c;
		r->active++;
		r->next_start += r->interval_ms;
		call_start(c);
	}
	/* Held back by --concurrency: the next call starts when a slot frees
	 * and the pace resumes from there. A late tick catches up at most
	 * SIMCALLER_CATCH_UP_MS of the schedule, never in a burst beyond. */
	if (r->active >= r->concurrency && r->next_start < now)
		r->next_start = now;
	else if (r->next_start < now - SIMCALLER_CATCH_UP_MS)
		r->next_start = now - SIMCALLER_CATCH_UP_MS;
	for (int i = 0; i < r->started; i++)
		if (r->calls[i] != NULL)
			call_tick(r->calls[i], now);
	/* R8: calls are freed here, never inside their own callbacks. */
	for (int i = 0; i < r->started; i++) {
		struct call *c = r->calls[i];

		if (c == NULL || !call_is_done(c))
			continue;
		simcaller_reap(r, c);
		call_free(c);
		r->calls[i] = NULL;
		r->active--;
		r->finished++;
	}
	if (r->finished == r->ncalls || (r->stopping && r->active == 0))
		event_base_loopexit(r->sim.base, NULL);
}

static void
simcaller_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct simcaller_run *r = arg;

	(void)what;
	if (r->stopping)
		return;
	log_info("sim-caller: signal %d: hanging up every call", (int)sig);
	r->stopping = true;
	for (int i = 0; i < r->started; i++)
		if (r->calls[i] != NULL)
			call_hangup(r->calls[i]);
}

/* Print the aggregate line of a load run. */
static void
simcaller_aggregate(struct simcaller_run *r)
{
	json_t *doc = json_pack("{s:{s:i, s:i, s:i, s:i, s:O, s:o, s:o, s:o, "
				"s:i, s:i, s:i, s:i, s:i, s:I}}",
	    "aggregate", "calls", r->ncalls, "concurrency", r->concurrency,
	    "ok", r->ok, "failed", r->finished - r->ok, "results", r->results,
	    "webhook_ms", metrics_summary(r->webhook, r->nwebhook),
	    "greeting_ms", metrics_summary(r->greeting, r->ngreeting),
	    "reply_ms", metrics_summary(r->reply, r->nreply), "underruns",
	    (int)r->underruns, "protocol_errors", (int)r->proto_errors,
	    "marks_played", (int)r->marks_played, "marks_cleared",
	    (int)r->marks_cleared, "clears", (int)r->clears, "duration_ms",
	    (json_int_t)(clock_mono_ms() - r->t0));
	json_t *agg = doc ? json_object_get(doc, "aggregate") : NULL;
	char *line;

	if (agg != NULL) {
		json_object_set_new(agg, "first_media_ms",
		    metrics_summary(r->first_media, r->nfirst_media));
		json_object_set_new(
		    agg, "frame_gap_ms", metrics_hist_summary(&r->gaps));
		json_object_set_new(agg, "frame_gap_call_p99_ms",
		    metrics_summary(r->gap_p99, r->ngap_p99));
		json_object_set_new(
		    agg, "tick_lag_ms", metrics_hist_summary(&r->tick_lag));
	}
	line = doc ? json_dumps(doc, SIMCALLER_JSON_FLAGS) : NULL;

	if (line != NULL) {
		printf("%s\n", line);
		(void)fflush(stdout);
	}
	free(line);
	json_decref(doc);
}

/* Check that hostport is a loopback HOST:PORT; return 0 or -1. */
static int
simcaller_check_gateway(const char *hostport)
{
	struct handshake_url u;
	struct sockaddr_storage ss;
	char *url = xasprintf("ws://%s/", hostport);
	int salen, rc = -1;

	if (handshake_parse_url(url, &u) == 0 &&
	    call_resolve_loopback(u.host, u.port, &ss, &salen) == 0)
		rc = 0;
	free(url);
	if (rc < 0)
		log_warnx("sim-caller: the gateway address %s is not a "
			  "loopback HOST:PORT",
		    hostport);
	return rc;
}

static int
simcaller_run(struct simcaller_run *r)
{
	int rc = 1;

	r->sim.base = event_base_new();
	if (r->sim.base == NULL) {
		log_warnx("sim-caller: cannot create the event loop");
		return 1;
	}
	r->sim.httpc = httpc_new(r->sim.base);
	r->calls = xcalloc((size_t)r->ncalls, sizeof(struct call *));
	r->results = json_object();
	metrics_hist_init(
	    &r->gaps, SIMCALLER_HIST_BIN_MS, SIMCALLER_HIST_TOP_MS);
	metrics_hist_init(
	    &r->tick_lag, SIMCALLER_HIST_BIN_MS, SIMCALLER_HIST_TOP_MS);
	r->tick = event_new(r->sim.base, -1, EV_PERSIST, simcaller_tick_cb, r);
	r->sigint = evsignal_new(r->sim.base, SIGINT, simcaller_signal_cb, r);
	r->sigterm = evsignal_new(r->sim.base, SIGTERM, simcaller_signal_cb, r);
	if (r->tick != NULL && r->sigint != NULL && r->sigterm != NULL) {
		struct timeval tv = {0, (suseconds_t)SIMCALLER_TICK_MS * 1000};

		evsignal_add(r->sigint, NULL);
		evsignal_add(r->sigterm, NULL);
		event_add(r->tick, &tv);
		r->t0 = clock_mono_ms();
		r->next_start = r->t0;
		event_base_dispatch(r->sim.base);
		if (r->ncalls > 1)
			simcaller_aggregate(r);
		rc = r->ok == r->ncalls ? 0 : 1;
	}
	for (int i = 0; i < r->started; i++)
		call_free(r->calls[i]);
	free(r->calls);
	if (r->tick != NULL)
		event_free(r->tick);
	if (r->sigint != NULL)
		event_free(r->sigint);
	if (r->sigterm != NULL)
		event_free(r->sigterm);
	httpc_free(r->sim.httpc);
	event_base_free(r->sim.base);
	json_decref(r->results);
	free(r->webhook);
	free(r->greeting);
	free(r->reply);
	free(r->first_media);
	free(r->gap_p99);
	metrics_hist_free(&r->gaps);
	metrics_hist_free(&r->tick_lag);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum {
		OPT_ENV = 256,
		OPT_GATEWAY,
		OPT_PUBLIC_URL,
		OPT_TOKEN,
		OPT_ACCOUNT,
		OPT_FROM,
		OPT_TO,
		OPT_SCENARIO,
		OPT_SAY,
		OPT_WPM,
		OPT_BARGE,
		OPT_WAV,
		OPT_JITTER,
		OPT_PAUSE,
		OPT_REPLY,
		OPT_HANGUP,
		OPT_MAXCALL,
		OPT_WEBHOOK,
		OPT_CALLS,
		OPT_CONC,
		OPT_INTERVAL,
		OPT_VOICE_PATH,
	};
	static const struct option longopts[] = {
	    {"env", required_argument, NULL, OPT_ENV},
	    {"gateway", required_argument, NULL, OPT_GATEWAY},
	    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"account-sid", required_argument, NULL, OPT_ACCOUNT},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"to", required_argument, NULL, OPT_TO},
	    {"scenario", required_argument, NULL, OPT_SCENARIO},
	    {"say", required_argument, NULL, OPT_SAY},
	    {"wpm", required_argument, NULL, OPT_WPM},
	    {"barge-in", required_argument, NULL, OPT_BARGE},
	    {"wav", required_argument, NULL, OPT_WAV},
	    {"jitter-ms", required_argument, NULL, OPT_JITTER},
	    {"pause-ms", required_argument, NULL, OPT_PAUSE},
	    {"reply-timeout-ms", required_argument, NULL, OPT_REPLY},
	    {"hangup-after", required_argument, NULL, OPT_HANGUP},
	    {"max-call-ms", required_argument, NULL, OPT_MAXCALL},
	    {"webhook-timeout-ms", required_argument, NULL, OPT_WEBHOOK},
	    {"calls", required_argument, NULL, OPT_CALLS},
	    {"concurrency", required_argument, NULL, OPT_CONC},
	    {"interval-ms", required_argument, NULL, OPT_INTERVAL},
	    {"voice-path", required_argument, NULL, OPT_VOICE_PATH},
	    {"no-start", no_argument, NULL, 'S'},
	    {"garbage", no_argument, NULL, 'G'},
	    {"binary", no_argument, NULL, 'B'},
	    {"unsigned", no_argument, NULL, 'U'},
	    {"wrong-signature", no_argument, NULL, 'W'},
	    {"unsigned-upgrade", no_argument, NULL, 'u'},
	    {"stop-reading", no_argument, NULL, 'R'},
	    {"no-stop", no_argument, NULL, 'N'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct simcaller_run run;
	struct simcaller_envfile envf = {NULL, NULL, NULL, NULL};
	const char *envpath = NULL, *gateway = NULL, *public_url = NULL;
	const char *token = NULL, *account = NULL, *from = NULL, *to = NULL;
	const char *scenario = NULL, *says[SIMCALLER_MAX_LINES];
	const char *barges[SIMCALLER_MAX_BARGES];
	char account_buf[SIM_SID_LEN + 1], *pub = NULL;
	int nsays = 0, nbarges = 0, ch, rc = 1;
	long v, wpm = 0, conc = 0;
	struct sim *sim = &run.sim;

	log_init("sim-caller", "0");
	sim->voice_path = "/twilio/voice";
	sim->jitter_ms = 60;
	sim->pause_ms = 700;
	sim->reply_timeout_ms = 10000;
	sim->hangup_after_ms = -1;
	sim->max_call_ms = 120000;
	sim->webhook_timeout_ms = 15000;
	run.ncalls = 1;
	run.interval_ms = 20;
	while ((ch = getopt_long(argc, argv, "vqh", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_ENV:
			envpath = optarg;
			break;
		case OPT_GATEWAY:
			gateway = optarg;
			break;
		case OPT_PUBLIC_URL:
			public_url = optarg;
			break;
		case OPT_TOKEN:
			token = optarg;
			break;
		case OPT_ACCOUNT:
			account = optarg;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_SCENARIO:
			scenario = optarg;
			break;
		case OPT_SAY:
			if (nsays == SIMCALLER_MAX_LINES)
				goto usage;
			says[nsays++] = optarg;
			break;
		case OPT_WPM:
			if (simcaller_num("wpm", optarg, AUDIO_WPM_MIN,
				AUDIO_WPM_MAX, &wpm) < 0)
				goto usage;
			break;
		case OPT_BARGE:
			if (nbarges == SIMCALLER_MAX_BARGES)
				goto usage;
			barges[nbarges++] = optarg;
			break;
		case OPT_WAV:
			sim->wav = optarg;
			break;
		case OPT_JITTER:
			if (simcaller_num("jitter-ms", optarg, 0, 2000, &v) < 0)
				goto usage;
			sim->jitter_ms = (int)v;
			break;
		case OPT_PAUSE:
			if (simcaller_num("pause-ms", optarg, 0, 60000, &v) < 0)
				goto usage;
			sim->pause_ms = (int)v;
			break;
		case OPT_REPLY:
			if (simcaller_num(
				"reply-timeout-ms", optarg, 0, 600000, &v) < 0)
				goto usage;
			sim->reply_timeout_ms = (int)v;
			break;
		case OPT_HANGUP:
			if (simcaller_num("hangup-after", optarg, 0, 3600000,
				&sim->hangup_after_ms) < 0)
				goto usage;
			break;
		case OPT_MAXCALL:
			if (simcaller_num("max-call-ms", optarg, 1000, 3600000,
				&sim->max_call_ms) < 0)
				goto usage;
			break;
		case OPT_WEBHOOK:
			if (simcaller_num("webhook-timeout-ms", optarg, 100,
				60000, &sim->webhook_timeout_ms) < 0)
				goto usage;
			break;
		case OPT_CALLS:
			if (simcaller_num("calls", optarg, 1,
				SIMCALLER_MAX_CALLS, &v) < 0)
				goto usage;
			run.ncalls = (int)v;
			break;
		case OPT_CONC:
			if (simcaller_num("concurrency", optarg, 1,
				SIMCALLER_MAX_CONC, &conc) < 0)
				goto usage;
			break;
		case OPT_INTERVAL:
			if (simcaller_num("interval-ms", optarg, 0, 60000,
				&run.interval_ms) < 0)
				goto usage;
			break;
		case OPT_VOICE_PATH:
			sim->voice_path = optarg;
			break;
		case 'S':
			sim->bad |= CALL_BAD_NO_START;
			break;
		case 'G':
			sim->bad |= CALL_BAD_GARBAGE;
			break;
		case 'B':
			sim->bad |= CALL_BAD_BINARY;
			break;
		case 'U':
			sim->bad |= CALL_BAD_UNSIGNED;
			break;
		case 'W':
			sim->bad |= CALL_BAD_WRONG_SIG;
			break;
		case 'u':
			sim->bad |= CALL_BAD_UNSIGNED_WS;
			break;
		case 'R':
			sim->bad |= CALL_BAD_STOP_READING;
			break;
		case 'N':
			sim->bad |= CALL_BAD_NO_STOP;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'q':
			log_set_level(LOG_LEVEL_WARN);
			break;
		case 'h':
			simcaller_usage();
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	run.concurrency =
	    conc > 0 ? (int)conc
		     : (run.ncalls < SIMCALLER_MAX_CONC ? run.ncalls
							: SIMCALLER_MAX_CONC);
	if (envpath != NULL && simcaller_read_env(envpath, &envf) < 0)
		goto done;
	gateway = simcaller_pick(gateway, envf.listen, "MERKAZIA_LISTEN");
	if (gateway == NULL) {
		fprintf(stderr, "sim-caller: no gateway address (--gateway, "
				"--env or MERKAZIA_LISTEN)\n");
		goto usage;
	}
	if (simcaller_check_gateway(gateway) < 0)
		goto done;
	sim->gateway = gateway;
	public_url =
	    simcaller_pick(public_url, envf.public_url, "MERKAZIA_PUBLIC_URL");
	pub = public_url != NULL ? xstrdup(public_url)
				 : xasprintf("http://%s", gateway);
	for (size_t n = strlen(pub); n > 0 && pub[n - 1] == '/'; n--)
		pub[n - 1] = '\0';
	sim->public_url = pub;
	sim->token = simcaller_pick(token, envf.token, "TWILIO_AUTH_TOKEN");
	if (sim->token == NULL && !(sim->bad & CALL_BAD_UNSIGNED)) {
		fprintf(stderr,
		    "sim-caller: no auth token (--token, --env or "
		    "TWILIO_AUTH_TOKEN); --unsigned to send none\n");
		goto usage;
	}
	if (sim->token != NULL)
		log_add_secret(sim->token);
	account =
	    simcaller_pick(account, envf.account_sid, "TWILIO_ACCOUNT_SID");
	if (account == NULL) {
		char hex[33];

		sig_random_hex(hex, 32);
		(void)snprintf(account_buf, sizeof(account_buf), "AC%s", hex);
		account = account_buf;
	}
	sim->account_sid = account;
	if (scenario != NULL && script_load(scenario, &run.script) < 0)
		goto done;
	for (int i = 0; i < nsays; i++)
		script_say(&run.script, says[i], (int)wpm);
	for (int i = 0; i < nbarges; i++)
		if (script_barge_in(&run.script, barges[i]) < 0)
			goto done;
	if (script_render(&run.script) < 0)
		goto done;
	sim->script = &run.script;
	sim->from =
	    from ? from
		 : (run.script.from ? run.script.from : SIMCALLER_DEF_FROM);
	sim->to = to ? to : (run.script.to ? run.script.to : SIMCALLER_DEF_TO);
	if ((sim->bad & (CALL_BAD_NO_START | CALL_BAD_STOP_READING)) &&
	    sim->hangup_after_ms < 0)
		sim->hangup_after_ms = SIMCALLER_NO_START_MS;
	sim->ncalls = run.ncalls;
	rc = simcaller_run(&run);
done:
	script_free(&run.script);
	simcaller_envfile_free(&envf);
	free(pub);
	audio_shutdown();
	return rc;
usage:
	simcaller_usage();
	simcaller_envfile_free(&envf);
	return 2;
}
