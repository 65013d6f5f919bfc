/*
 * The gateway's side of crm-store: its store client, the businesses it
 * answers for, and the rows a call leaves behind.
 *
 * Why: the voice webhook must answer at once (Twilio error 11205 killed
 * the prototype), so it never asks crm-store anything. At start this file
 * loads every business's phone numbers (STORE_SYSQUERY phone_numbers)
 * into the routes' number -> business map, then each business's settings
 * (business_by_number: name, greeting, voice, agent instructions, the
 * transfer number handoff.c dials), and
 * renders that business's phrases once, with its greeting, with
 * espeak-ng (phrases.c). A STORE_CHANGE of kind "business" (or
 * "settings") loads everything again. A load that fails (crm-store not
 * up yet) is retried every CRM_RETRY_MS; until it succeeds calls are
 * answered with MERKAZIA_DEFAULT_BUSINESS, as before.
 *
 * Writes go through the store client of common/store.c, which keeps each
 * one until crm-store acknowledges it and spools it to disk
 * ($MERKAZIA_STATE_DIR/spool/gateway-<instance>) when crm-store is away:
 * nothing said is lost. Rows: the call when the webhook answers (kind
 * call, key the call SID), its status from /twilio/voice/status and
 * /twilio/stream-status and at the end of the stream (call_status);
 * conversation.c writes turns and appointments through crm_write. Only a
 * numeric business id can be written (crm-store keys businesses by
 * number); a call of another (a test's MERKAZIA_DEFAULT_BUSINESS) is not
 * written, said once in the log.
 *
 * Draining: the gateway's drained hook waits (within MERKAZIA_DRAIN_MS)
 * until every write is acknowledged or safe in the spool (crm_is_settled).
 * /readyz reports "database": crm-store's heartbeat is live and says its
 * database is reachable.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
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
#include "spool.h"
#include "xmalloc.h"

#define CRM_QUERY_MS 3000
#define CRM_RETRY_MS 2000

/* A write neither acknowledged nor spooled yet. */
struct crm_unsettled {
	TAILQ_ENTRY(crm_unsettled) entry;
	char *kind;
	char *key;
};

TAILQ_HEAD(crm_unsettled_list, crm_unsettled);

struct crm {
	struct gateway *g;
	struct crm_business *biz;
	size_t nbiz;
	struct event *retry;
	bool loading;
	bool said_not_numeric;
	struct crm_unsettled_list unsettled;
	size_t nunsettled;
	unsigned long loads;
	unsigned long load_failures;
	unsigned long writes;
	unsigned long writes_spooled;
	unsigned long writes_rejected;
};

static void crm_load(struct gateway *g);

static void
crm_business_clean(struct crm_business *b)
{
	free(b->id);
	free(b->name);
	free(b->greeting);
	free(b->voice);
	free(b->instructions);
	free(b->transfer_number);
	memset(b, 0, sizeof(*b));
}

/* Every write is reported here: note the ones now safe. */
static void
crm_on_write(
    enum store_write_state st, const char *kind, const char *key, void *arg)
{
	struct crm *crm = arg;
	struct crm_unsettled *u;

	if (st == STORE_WRITE_SPOOLED) {
		crm->writes_spooled++;
		log_info("crm-store: %s write %s spooled until crm-store "
			 "acknowledges it",
		    kind, key);
	} else if (st == STORE_WRITE_REJECTED) {
		crm->writes_rejected++;
		log_warnx("crm-store refused the %s write %s", kind, key);
	}
	for (u = TAILQ_FIRST(&crm->unsettled); u != NULL;
	     u = TAILQ_NEXT(u, entry)) {
		if (strcmp(u->kind, kind) == 0 && strcmp(u->key, key) == 0) {
			TAILQ_REMOVE(&crm->unsettled, u, entry);
			crm->nunsettled--;
			free(u->kind);
			free(u->key);
			free(u);
			return;
		}
	}
}

static void
crm_retry_fire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	crm_load(arg);
}

static void
crm_retry_later(struct gateway *g)
{
	struct timeval tv = {
	    CRM_RETRY_MS / 1000, (suseconds_t)(CRM_RETRY_MS % 1000) * 1000};

	g->crm->load_failures++;
	evtimer_add(g->crm->retry, &tv);
}

/* Return a JSON string or integer as a new string, or NULL. */
static char *
crm_id_string(const json_t *v)
{
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_string(v) && json_string_length(v) > 0)
		return xstrdup(json_string_value(v));
	return NULL;
}

static char *
crm_text(const json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

static bool
crm_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* business_by_number answered: keep the business's settings. */
static void
crm_on_business(unsigned int type, json_t *reply, void *arg)
{
	struct gateway *g = arg;
	struct crm *crm = g->crm;
	json_t *b = json_object_get(reply, "business");
	struct crm_business nb = {0};
	struct crm_business *slot = NULL;
	bool render;
	int64_t t0;

	if (type != MSG_STORE_REPLY || !json_is_object(b) ||
	    (nb.id = crm_id_string(json_object_get(b, "id"))) == NULL) {
		log_warnx("crm-store: a business's settings did not load "
			  "(%s); retrying",
		    type == STORE_TIMEOUT ? "no answer" : msg_type_name(type));
		crm_retry_later(g);
		return;
	}
	nb.name = crm_text(b, "name");
	nb.greeting = crm_text(b, "greeting");
	nb.voice = crm_text(b, "voice");
	nb.instructions = crm_text(b, "agent_instructions");
	nb.transfer_number = crm_text(b, "transfer_number");
	for (size_t i = 0; i < crm->nbiz; i++)
		if (strcmp(crm->biz[i].id, nb.id) == 0)
			slot = &crm->biz[i];
	render = slot == NULL || !crm_same(slot->greeting, nb.greeting);
	if (slot == NULL) {
		crm->biz =
		    xreallocarray(crm->biz, crm->nbiz + 1, sizeof(*crm->biz));
		slot = &crm->biz[crm->nbiz++];
	} else {
		crm_business_clean(slot);
	}
	*slot = nb;
	if (render) {
		/* espeak-ng blocks: once per business, at load only. */
		t0 = clock_mono_ms();
		if (phrases_render(g, slot->id, slot->greeting) < 0)
			log_warnx("business %s: some phrases have no audio of "
				  "its own; the default set plays instead",
			    slot->id);
		log_info("business %s (%s) loaded; its phrases rendered with "
			 "espeak-ng in %lld ms",
		    slot->id, slot->name != NULL ? slot->name : "",
		    (long long)(clock_mono_ms() - t0));
	}
}

/* phone_numbers answered: map every number, then load each business. */
static void
crm_on_numbers(unsigned int type, json_t *reply, void *arg)
{
	struct gateway *g = arg;
	struct crm *crm = g->crm;
	json_t *rows = json_object_get(reply, "rows");
	json_t *seen = json_object();
	json_t *row, *num;
	const char *id;
	size_t i;

	crm->loading = false;
	if (type != MSG_STORE_REPLY || !json_is_array(rows)) {
		/* Said once: crm-store may simply not be up yet. */
		log_fields(
		    crm->load_failures == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
		    NULL, NULL,
		    "crm-store: phone numbers not loaded (%s); retrying every "
		    "%d ms",
		    type == STORE_TIMEOUT ? "no answer yet"
					  : msg_type_name(type),
		    CRM_RETRY_MS);
		json_decref(seen);
		crm_retry_later(g);
		return;
	}
	json_array_foreach(rows, i, row) {
		const char *number =
		    json_string_value(json_object_get(row, "number"));
		char *biz = crm_id_string(json_object_get(row, "business_id"));

		if (number != NULL && biz != NULL) {
			(void)routes_business_set(g, number, biz);
			if (json_object_get(seen, biz) == NULL)
				json_object_set_new(
				    seen, biz, json_string(number));
		}
		free(biz);
	}
	crm->loads++;
	log_info("crm-store: %zu phone number(s) of %zu business(es) loaded",
	    json_array_size(rows), json_object_size(seen));
	json_object_foreach(seen, id, num) {
		json_t *q = json_pack("{s:s, s:{s:O}}", "q",
		    "business_by_number", "args", "number", num);

		if (q != NULL && store_request(g->store, MSG_STORE_SYSQUERY, q,
				     CRM_QUERY_MS, crm_on_business, g) < 0)
			log_warnx("crm-store: cannot ask for business %s", id);
		json_decref(q);
	}
	json_decref(seen);
}

static void
crm_load(struct gateway *g)
{
	struct crm *crm = g->crm;
	json_t *q;

	if (g->store == NULL || crm->loading)
		return;
	q = json_pack("{s:s, s:{}}", "q", "phone_numbers", "args");
	crm->loading = store_request(g->store, MSG_STORE_SYSQUERY, q,
			   CRM_QUERY_MS, crm_on_numbers, g) == 0;
	json_decref(q);
	if (!crm->loading)
		crm_retry_later(g);
}

/*
 * Open the store client (with this instance's spool) and start loading
 * the businesses. Return 0; without a client the gateway still answers
 * (logged), writing nothing.
 */
int
crm_setup(struct gateway *g)
{
	struct crm *crm = xcalloc(1, sizeof(*crm));
	struct store_opts so = {0};
	char *path =
	    spool_path(daemon_state_dir(g->d), "gateway", g->d->instance);

	crm->g = g;
	TAILQ_INIT(&crm->unsettled);
	g->crm = crm;
	crm->retry = evtimer_new(g->d->base, crm_retry_fire, g);
	if (crm->retry == NULL)
		fatalx("out of memory for the crm-store timer");
	so.spool_path = path;
	so.on_write = crm_on_write;
	so.arg = crm;
	g->store = store_new(g->d->base, &so);
	if (g->store == NULL)
		log_warnx("no crm-store client (spool %s): calls are answered "
			  "but nothing is written",
		    path);
	free(path);
	crm_load(g);
	return 0;
}

/* Close the client (unacknowledged writes go to the spool) and free. */
void
crm_cleanup(struct gateway *g)
{
	struct crm *crm = g->crm;
	struct crm_unsettled *u;

	store_free(g->store);
	g->store = NULL;
	if (crm == NULL)
		return;
	while ((u = TAILQ_FIRST(&crm->unsettled)) != NULL) {
		TAILQ_REMOVE(&crm->unsettled, u, entry);
		free(u->kind);
		free(u->key);
		free(u);
	}
	for (size_t i = 0; i < crm->nbiz; i++)
		crm_business_clean(&crm->biz[i]);
	free(crm->biz);
	if (crm->retry != NULL)
		event_free(crm->retry);
	free(crm);
	g->crm = NULL;
}

/* Return true when every write is acknowledged or in the spool. */
bool
crm_is_settled(const struct gateway *g)
{
	return g->crm == NULL || g->crm->nunsettled == 0;
}

/* Return true while crm-store is live and reaches its database. */
bool
crm_database_is_up(const struct gateway *g)
{
	size_t n = g->health != NULL ? health_follow_count(g->health) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct health_worker *w = health_follow_at(g->health, i);

		if (w != NULL && w->live && w->provider_reachable &&
		    strcmp(w->stage, "crm-store") == 0)
			return true;
	}
	return false;
}

/* Return the settings of business id, or NULL when not loaded. */
const struct crm_business *
crm_business(const struct gateway *g, const char *id)
{
	if (g->crm == NULL || id == NULL)
		return NULL;
	for (size_t i = 0; i < g->crm->nbiz; i++)
		if (strcmp(g->crm->biz[i].id, id) == 0)
			return &g->crm->biz[i];
	return NULL;
}

/* Return how many businesses are loaded (for crm_business_at). */
size_t
crm_business_count(const struct gateway *g)
{
	return g->crm != NULL ? g->crm->nbiz : 0;
}

/* Return the i-th loaded business, or NULL past the end. */
const struct crm_business *
crm_business_at(const struct gateway *g, size_t i)
{
	return g->crm != NULL && i < g->crm->nbiz ? &g->crm->biz[i] : NULL;
}

/* STORE_CHANGE: a business's numbers or settings changed: load again. */
void
crm_on_change(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct gateway *g = arg;
	const char *kind = json_string_value(json_object_get(payload, "kind"));

	(void)s;
	(void)m;
	(void)rx;
	if (kind != NULL &&
	    (strcmp(kind, "business") == 0 || strcmp(kind, "settings") == 0)) {
		log_info("crm-store: business settings changed; loading them "
			 "again");
		crm_load(g);
	}
}

/*
 * Write data (borrowed) as kind with key through the store client; it is
 * kept until acknowledged. Return 0, or -1 when there is no client.
 */
int
crm_write(struct gateway *g, const char *kind, const char *key, json_t *data)
{
	struct crm *crm = g->crm;
	struct crm_unsettled *u;

	if (g->store == NULL || crm == NULL || data == NULL)
		return -1;
	if (store_write(g->store, kind, key, data, NULL, NULL) < 0) {
		log_warnx(
		    "crm-store: the %s write %s was not taken", kind, key);
		return -1;
	}
	crm->writes++;
	u = xcalloc(1, sizeof(*u));
	u->kind = xstrdup(kind);
	u->key = xstrdup(key);
	TAILQ_INSERT_TAIL(&crm->unsettled, u, entry);
	crm->nunsettled++;
	return 0;
}

static bool
crm_is_numeric(struct gateway *g, const char *business)
{
	const char *p = business;

	if (p == NULL || *p == '\0')
		return false;
	for (; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			break;
	if (*p == '\0')
		return true;
	if (!g->crm->said_not_numeric)
		log_info("business %s is not a crm-store id: its calls are "
			 "not written",
		    business);
	g->crm->said_not_numeric = true;
	return false;
}

/* The webhook answered call sid: write the call row (never waits). */
void
crm_call_answered(struct gateway *g, const char *sid, const char *business,
    const char *from, const char *to, const char *status)
{
	json_t *d;

	if (g->crm == NULL || !crm_is_numeric(g, business))
		return;
	d = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s}", "call_sid", sid,
	    "business_id", business, "direction", "inbound", "from", from, "to",
	    to, "status",
	    status != NULL && status[0] != '\0' ? status : "ringing");
	(void)crm_write(g, "call", sid, d);
	json_decref(d);
}

/*
 * Call sid's status changed (a status callback, the end of its stream):
 * write it, with ended_at and duration_s when the call is over
 * (duration_s >= 0).
 */
void
crm_call_status(struct gateway *g, const char *sid, const char *business,
    const char *status, long duration_s)
{
	char key[MSG_SID_MAX + 40];
	char at[CLOCK_ISO8601_SIZE];
	json_t *d;

	if (g->crm == NULL || !crm_is_numeric(g, business))
		return;
	d = json_pack("{s:s, s:s, s:s}", "call_sid", sid, "business_id",
	    business, "status", status);
	if (d == NULL)
		return;
	if (duration_s >= 0) {
		json_object_set_new(
		    d, "duration_s", json_integer((json_int_t)duration_s));
		if (clock_iso8601(clock_wall_ms(), at, sizeof(at)) == 0)
			json_object_set_new(d, "ended_at", json_string(at));
	}
	snprintf(key, sizeof(key), "%s:%s", sid, status);
	(void)crm_write(g, "call_status", key, d);
	json_decref(d);
}

/* Append the crm-store client's metrics (Prometheus text) to b. */
void
crm_metrics_write(const struct gateway *g, struct evbuffer *b)
{
	struct store_counters c = {0};
	const struct crm *crm = g->crm;

	if (g->store != NULL)
		store_get_counters(g->store, &c);
	evbuffer_add_printf(b,
	    "# HELP merkazia_store_writes_total crm-store writes made, by "
	    "outcome.\n"
	    "# TYPE merkazia_store_writes_total counter\n"
	    "merkazia_store_writes_total{result=\"acked\"} %lu\n"
	    "merkazia_store_writes_total{result=\"spooled\"} %lu\n"
	    "merkazia_store_writes_total{result=\"rejected\"} %lu\n"
	    "# HELP merkazia_store_writes_pending crm-store writes not yet "
	    "acknowledged.\n"
	    "# TYPE merkazia_store_writes_pending gauge\n"
	    "merkazia_store_writes_pending %lu\n"
	    "# HELP merkazia_business_loads_total Loads of the businesses' "
	    "numbers from crm-store, by result.\n"
	    "# TYPE merkazia_business_loads_total counter\n"
	    "merkazia_business_loads_total{result=\"ok\"} %lu\n"
	    "merkazia_business_loads_total{result=\"failed\"} %lu\n",
	    c.acked, c.spooled, c.rejected, c.pending,
	    crm != NULL ? crm->loads : 0, crm != NULL ? crm->load_failures : 0);
}
