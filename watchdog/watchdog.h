/*
 * The watchdog's private header: its state and the functions its files
 * share, grouped by file (R2).
 *
 * rules.c is pure: a table of watched calls and the rules that judge them,
 * driven by the caller's clock (every function takes "now" in ms), so the
 * unit tests run it over a fake clock. alerts.c is pure the same way over
 * the heartbeat follower's workers. follow.c owns the sockets, timers and
 * the Twilio client, and turns the rules' verdicts into log lines and REST
 * requests.
 */
#ifndef MERKAZIA_WATCHDOG_H
#define MERKAZIA_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "daemon.h"
#include "health.h"
#include "msg.h"
#include "nnsock.h"

#define RULES_BIZ_MAX 64 /* bytes of a business id kept for the logs */

/* What a CALL_EVENT says ("event"), plus crm-store's "in progress". */
enum rules_event {
	RULES_EV_WEBHOOK,	/* voice webhook answered with the stream */
	RULES_EV_STREAM_START,	/* Media Streams `start` */
	RULES_EV_MEDIA,		/* inbound media flows (at most 1/s) */
	RULES_EV_STOP,		/* Media Streams `stop` */
	RULES_EV_HANDOFF,	/* the gateway transfers or hangs up */
	RULES_EV_END,		/* the call ended */
	RULES_EV_ADOPT,		/* crm-store lists it in progress (start) */
	RULES_EV_ADOPT_WAITING, /* same, still ringing or queued */
	RULES_EV_COUNT,
};

/* Where a watched call is. */
enum rules_state {
	RULES_WAITING,	   /* webhook seen; the stream has not started */
	RULES_LIVE,	   /* stream started; media ticks expected */
	RULES_REDIRECTING, /* the redirect to Record is on its way */
	RULES_REDIRECTED,  /* redirected (or tried): never again */
	RULES_HANDED_OFF,  /* handed off by the gateway: never touched */
};

/* Why a call is redirected. */
enum rules_reason {
	RULES_NEVER_STARTED, /* no stream start within the start timeout */
	RULES_STALLED,	     /* no media tick within the media timeout */
};

/* What rules_on_event() did with an event. */
enum rules_verdict {
	RULES_TRACKED,	 /* a new call is watched */
	RULES_UPDATED,	 /* a watched call moved on (or a tick) */
	RULES_FORGOTTEN, /* stop/end: the call is no longer held */
	RULES_IGNORED,	 /* nothing to do (unknown call's end, tombstone) */
	RULES_REFUSED,	 /* the table is full: not watched */
};

struct rules_call {
	TAILQ_ENTRY(rules_call) age; /* the table's list, oldest first */
	LIST_ENTRY(rules_call) hash; /* its bucket */
	char call_sid[MSG_SID_MAX + 1];
	char stream_sid[MSG_SID_MAX + 1];
	char business_id[RULES_BIZ_MAX];
	enum rules_state state;
	enum rules_reason reason; /* set when redirected */
	int64_t created_ms;	  /* first heard of: age-out */
	int64_t since_ms; /* WAITING: webhook; LIVE: start or last tick */
	int64_t due_ms;	  /* when the redirect was decided */
	unsigned long ticks;
	bool adopted; /* known only from crm-store's calls in progress */
};

TAILQ_HEAD(rules_age_list, rules_call);
LIST_HEAD(rules_bucket, rules_call);

struct rules_limits {
	long start_timeout_ms; /* WAITING longer than this: redirect */
	long media_timeout_ms; /* LIVE without a tick this long: redirect */
	long max_age_ms;       /* any call held longer is dropped */
	size_t max_calls;      /* table cap */
};

struct rules_table {
	struct rules_age_list calls;
	struct rules_bucket *buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
	size_t ntomb; /* REDIRECTED and HANDED_OFF entries */
	struct rules_limits lim;
	unsigned long refused;
	unsigned long evicted;
	unsigned long aged_out;
};

/* One redirect the tick decided: what follow.c needs to send it. */
struct rules_due {
	char call_sid[MSG_SID_MAX + 1];
	char stream_sid[MSG_SID_MAX + 1];
	char business_id[RULES_BIZ_MAX];
	enum rules_reason reason;
	long waited_ms; /* since the webhook, start or last tick */
	bool adopted;	/* known only from crm-store */
};

/* alerts.c: one entry per stage, one per worker whose provider is down. */
#define ALERTS_STAGES 4

struct alerts_stage {
	const char *name;
	bool down;
	bool ever_live;
	int64_t live_ms; /* last time it had a live worker (or start) */
	int64_t down_ms;
};

struct alerts_provider {
	char stage[32];
	char instance[64];
	long pid;
	bool down;
	bool seen; /* still in the follower (scratch) */
	int64_t down_ms;
};

struct alerts {
	struct alerts_stage stages[ALERTS_STAGES];
	struct alerts_provider *prov;
	size_t nprov;
	long timeout_ms;
};

struct watchdog_redirect;
TAILQ_HEAD(watchdog_redirect_list, watchdog_redirect);

struct watchdog {
	struct daemon *d;
	struct nnsock *call_events;
	struct nnsock *store_changes;
	struct store_client *store;
	struct health_follow *health;
	struct httpc *http;
	struct twilio_rest *twilio;
	struct rules_table *rules;
	struct alerts alerts;
	struct event *tick;
	struct event *adopt_timer;
	struct watchdog_redirect_list redirects;
	size_t nredirects;
	char *twiml; /* the Record fallback, the same for every call */
	long budget_ms;
	int adopt_tries;
	bool adopted;
	bool stopping;
	int64_t full_logged_ms;
	unsigned long full_since_log;
};

/* rules.c */
struct rules_table *rules_new(const struct rules_limits *lim);
void rules_free(struct rules_table *t);
enum rules_verdict rules_on_event(struct rules_table *t, enum rules_event ev,
    const char *call_sid, const char *stream_sid, const char *business_id,
    int64_t now);
size_t rules_due(
    struct rules_table *t, int64_t now, struct rules_due *out, size_t max);
void rules_redirect_done(
    struct rules_table *t, const char *call_sid, bool gone);
size_t rules_expire(struct rules_table *t, int64_t now,
    void (*fn)(const struct rules_call *c, void *arg), void *arg);
struct rules_call *rules_find(const struct rules_table *t, const char *sid);
size_t rules_count(const struct rules_table *t);
int rules_event_parse(const char *name, enum rules_event *out);
const char *rules_event_name(enum rules_event ev);
const char *rules_state_name(enum rules_state st);
const char *rules_reason_name(enum rules_reason r);
const char *rules_verdict_name(enum rules_verdict v);

/* alerts.c */
void alerts_init(struct alerts *a, long timeout_ms, int64_t now);
void alerts_free(struct alerts *a);
void alerts_check(struct alerts *a, const struct health_worker *const *w,
    size_t n, int64_t now);

/* follow.c */
int watchdog_init(struct daemon *d);
void watchdog_stop(struct daemon *d);
bool watchdog_drained(struct daemon *d);
void watchdog_shutdown(struct daemon *d);

#endif
