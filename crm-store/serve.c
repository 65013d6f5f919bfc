/*
 * crm-store's sockets and the glue between them and the database: the raw
 * REP endpoint requests arrive on (dispatched through a table, R6), the
 * PUB endpoint of committed changes, the heartbeat, crm-store's own spool
 * and the hook that readies every new database connection.
 *
 * Requests are answered one at a time in arrival order (db.c is
 * synchronous), so a client's writes are applied in the order it sent
 * them. Every reply carries the request's job id and goes back with the
 * SP routing header it came with, so many requests can be in flight.
 *
 * crm-store's spool ($MERKAZIA_STATE_DIR/spool/crm-store-<instance>):
 * while PostgreSQL is unreachable a valid write is appended there (flock,
 * fdatasync) and acknowledged with spooled:true. When the database is
 * back, the spool is applied in order before any new write (writes are
 * idempotent, so a record applied twice changes nothing) and emptied.
 *
 * A message that does not decode, has a type this socket does not take,
 * or a payload that is not a JSON object is logged, counted and dropped by
 * nnsock.c; serving goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

static void serve_stats(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);

static const struct msg_handler serve_handlers[] = {
    {MSG_STORE_WRITE, writes_handle},
    {MSG_STORE_QUERY, reads_query},
    {MSG_STORE_SYSQUERY, serve_stats},
    {MSG_AUTH_LOGIN, auth_login},
    {MSG_AUTH_SESSION, auth_session},
    {MSG_AUTH_LOGOUT, auth_logout},
    {MSG_AUTH_PASSWORD, auth_password},
    {0, NULL},
};

/* Send a reply of type with payload (borrowed) to the requester. */
void
serve_reply(const struct crm_req *q, unsigned int type, json_t *payload)
{
	struct msg r;
	char *s = json_dumps(payload, JSON_COMPACT);

	if (s == NULL || q->crm->rep == NULL) {
		free(s);
		return;
	}
	msg_init(&r, (enum msg_type)type);
	r.job_id = q->m->job_id;
	(void)msg_set_call_sid(&r, q->m->call_sid);
	r.json = s;
	r.json_len = strlen(s);
	if (r.json_len > MSG_JSON_MAX) {
		log_warnx("reply to job %llu is over the size limit",
		    (unsigned long long)q->m->job_id);
		free(s);
		r.json = "{\"error\":\"invalid\",\"message\":\"reply too "
			 "large; use a smaller page\"}";
		r.json_len = strlen(r.json);
		msg_init(&r, MSG_STORE_ERROR);
		r.job_id = q->m->job_id;
		s = NULL;
	}
	if (nnsock_send_raw(q->crm->rep, &r, q->rx->sphdr, q->rx->sphdr_len) <
	    0)
		log_debug("reply to job %llu not sent (requester gone?)",
		    (unsigned long long)q->m->job_id);
	free(s);
}

/* Answer STORE_ERROR {error, message}; error is forbidden, not_found,
 * invalid or unavailable. */
void
serve_error(const struct crm_req *q, const char *error, const char *message)
{
	json_t *j = json_pack("{s:s, s:s}", "error", error, "message", message);

	serve_reply(q, MSG_STORE_ERROR, j);
	json_decref(j);
}

/*
 * Answer q for a statement that failed with st: "invalid" (the request's
 * fault) or "unavailable", with the database's reason.
 */
void
serve_db_failed(struct crm *crm, const struct crm_req *q, enum db_status st)
{
	serve_error(
	    q, st == DB_INVALID ? "invalid" : "unavailable", db_error(crm->db));
}

/*
 * The JSON of r's first cell (r is freed), or NULL after answering q:
 * "not_found" ("no such <what>", counted refused) when there is no row,
 * "unavailable" when the cell is not JSON.
 */
json_t *
serve_json_cell(struct crm *crm, const struct crm_req *q, struct db_res *r,
    const char *what)
{
	const char *text = db_res_get(r, 0, 0);
	json_t *j = text != NULL ? json_loads(text, 0, NULL) : NULL;
	char why[64];

	db_res_free(r);
	if (text == NULL) {
		crm->cnt.refused++;
		snprintf(why, sizeof(why), "no such %s", what);
		serve_error(q, "not_found", why);
		return NULL;
	}
	if (j == NULL)
		serve_error(q, "unavailable", "unreadable answer");
	return j;
}

/* An id from PostgreSQL's text as a JSON integer (null for NULL). */
json_t *
serve_id(const char *s)
{
	char *end;
	long long v;

	if (s == NULL)
		return json_null();
	v = strtoll(s, &end, 10);
	return *end == '\0' ? json_integer(v) : json_string(s);
}

/* Publish a committed change {kind, id, business_id, data} (borrowed). */
void
serve_publish(struct crm *crm, const char *kind, const char *id,
    const char *business_id, json_t *data)
{
	json_t *j = json_pack("{s:s, s:o, s:o, s:O}", "kind", kind, "id",
	    serve_id(id), "business_id", serve_id(business_id), "data",
	    data != NULL ? data : json_null());
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	struct msg m;

	json_decref(j);
	if (s == NULL || crm->changes == NULL) {
		free(s);
		return;
	}
	msg_init(&m, MSG_STORE_CHANGE);
	m.json = s;
	m.json_len = strlen(s);
	if (m.json_len <= MSG_JSON_MAX)
		(void)nnsock_send(crm->changes, &m);
	free(s);
}

struct serve_replay {
	struct crm *crm;
	bool down;
	size_t applied;
};

static void
serve_replay_one(const char *rec, size_t len, void *arg)
{
	struct serve_replay *rp = arg;
	json_t *p, *reply = NULL;
	const char *err = NULL;
	char why[160];

	if (rp->down)
		return;
	if ((p = json_loadb(rec, len, 0, NULL)) == NULL) {
		log_warnx("spool: skipped a record that is not JSON");
		return;
	}
	switch (writes_apply(rp->crm, p, &reply, &err, why, sizeof(why))) {
	case DB_OK:
		rp->applied++;
		break;
	case DB_DOWN:
		rp->down = true;
		break;
	case DB_INVALID:
	case DB_ERROR:
		rp->crm->cnt.rejected++;
		log_warnx("spool: dropped a %s write: %s",
		    json_string_value(json_object_get(p, "kind")), why);
		break;
	}
	json_decref(reply);
	json_decref(p);
}

/*
 * Apply crm-store's spool in order and empty it. Return 0 when the spool
 * is empty afterwards, -1 when the database went away midway (the spool
 * is kept whole; re-applying is harmless).
 */
static int
serve_replay(struct crm *crm)
{
	struct serve_replay rp = {crm, false, 0};

	if (crm->spool == NULL || crm->spool_pending == 0)
		return 0;
	if (!db_is_up(crm->db) ||
	    spool_load(crm->spool, serve_replay_one, &rp) < 0 || rp.down)
		return -1;
	crm->cnt.replayed += rp.applied;
	log_info("spool: applied %zu of %zu spooled writes", rp.applied,
	    crm->spool_pending);
	if (spool_clear(crm->spool) < 0)
		return -1;
	crm->spool_pending = 0;
	return 0;
}

/*
 * Take a write while PostgreSQL is down: make sure the spool is applied
 * first, so order is kept. Return true when the caller may apply the
 * write now, false when it must go to the spool.
 */
bool
serve_db_ready(struct crm *crm)
{
	if (!db_is_up(crm->db))
		return false;
	return crm->spool_pending == 0 || serve_replay(crm) == 0;
}

/* Append a write payload to crm-store's spool. Return 0 once on disk. */
int
serve_spool(struct crm *crm, json_t *payload)
{
	char *s = json_dumps(payload, JSON_COMPACT);
	int rc = -1;

	if (s != NULL && crm->spool != NULL &&
	    spool_append(crm->spool, s, strlen(s)) == 0) {
		crm->spool_pending++;
		crm->cnt.spooled++;
		rc = 0;
	}
	free(s);
	return rc;
}

static void
serve_health(struct crm *crm)
{
	health_pub_set(crm->health, crm->in_flight, db_is_up(crm->db),
	    db_is_up(crm->db) ? NULL : db_error(crm->db));
}

/* Ready a new connection: schema, statements, admin, demo, spool. */
static int
serve_db_up(struct db *db, void *arg)
{
	struct crm *crm = arg;
	const struct config *cfg = crm->d->cfg;

	(void)db;
	if (migrate_run(crm) < 0 || db_prepare(crm->db, writes_stmts) < 0 ||
	    db_prepare(crm->db, reads_stmts) < 0 ||
	    db_prepare(crm->db, edits_stmts) < 0 ||
	    db_prepare(crm->db, auth_stmts) < 0) {
		/* Not an outage: this build and this database disagree. */
		if (db_is_up(crm->db))
			crm->setup_failed = true;
		return -1;
	}
	if (config_bool(cfg, "MERKAZIA_STORE_DEMO") &&
	    migrate_seed_demo(crm) < 0)
		return -1;
	if (auth_admin(crm) < 0)
		return -1;
	if (serve_replay(crm) < 0)
		log_warnx("spool: not applied yet; will retry");
	return 0;
}

static void
serve_stats(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *what = json_string_value(json_object_get(payload, "q"));
	json_t *j;

	if (what == NULL || strcmp(what, "stats") != 0) {
		reads_sysquery(s, m, payload, rx, arg);
		return;
	}
	j = json_pack("{s:b, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I, s:I}}",
	    "database", db_is_up(crm->db), "spool_pending",
	    (json_int_t)crm->spool_pending, "counters", "writes",
	    (json_int_t)crm->cnt.writes, "duplicates",
	    (json_int_t)crm->cnt.duplicates, "spooled",
	    (json_int_t)crm->cnt.spooled, "replayed",
	    (json_int_t)crm->cnt.replayed, "rejected",
	    (json_int_t)crm->cnt.rejected, "queries",
	    (json_int_t)crm->cnt.queries, "refused",
	    (json_int_t)crm->cnt.refused, "dropped",
	    (json_int_t)nnsock_dropped(s), "malformed",
	    (json_int_t)msg_error_total(), "login_ok",
	    (json_int_t)crm->cnt.login_ok, "login_failed",
	    (json_int_t)crm->cnt.login_failed);
	serve_reply(&q, MSG_STORE_REPLY, j);
	json_decref(j);
}

/* Periodic (1 s): heartbeat contents, and the spool once the database is
 * back. */
void
serve_tick(struct daemon *d)
{
	struct crm *crm = d->ctx;

	if (crm == NULL)
		return;
	if (crm->spool_pending > 0 && db_is_up(crm->db))
		(void)serve_replay(crm);
	serve_health(crm);
}

int
serve_init(struct daemon *d)
{
	struct crm *crm = xcalloc(1, sizeof(*crm));
	char *path;

	d->ctx = crm;
	crm->d = d;
	if (auth_init() < 0)
		return -1;
	path = spool_path(daemon_state_dir(d), "crm-store", d->instance);
	crm->spool = spool_open(path);
	free(path);
	if (crm->spool == NULL) {
		log_error("cannot open crm-store's spool");
		return -1;
	}
	{
		int n = spool_load(crm->spool, NULL, NULL);

		if (n < 0)
			return -1;
		crm->spool_pending = (size_t)n;
		if (n > 0)
			log_info("spool: %d writes waiting for PostgreSQL", n);
	}
	crm->db = db_new(d->base, config_str(d->cfg, "DATABASE_URL"),
	    config_int(d->cfg, "MERKAZIA_STORE_STATEMENT_TIMEOUT_MS"),
	    config_int(d->cfg, "MERKAZIA_STORE_RECONNECT_MAX_MS"), serve_db_up,
	    crm);
	if (db_connect(crm->db) < 0) {
		if (crm->schema_newer || crm->setup_failed)
			return -1;
		log_warnx("starting without PostgreSQL; writes go to the "
			  "spool until it is back");
	}
	if ((crm->rep = nnsock_endpoint(ENDPOINT_STORE, true)) == NULL ||
	    (crm->changes = nnsock_endpoint(ENDPOINT_STORE_CHANGES, true)) ==
		NULL ||
	    nnsock_watch(crm->rep, d->base, serve_handlers, crm) < 0)
		return -1;
	crm->health = health_pub_new(d->base, "crm-store", d->instance);
	if (crm->health == NULL)
		return -1;
	serve_health(crm);
	return 0;
}

void
serve_stop(struct daemon *d)
{
	struct crm *crm = d->ctx;

	if (crm == NULL)
		return;
	nnsock_close(crm->rep);
	crm->rep = NULL;
}

bool
serve_drained(struct daemon *d)
{
	const struct crm *crm = d->ctx;

	return crm == NULL || crm->in_flight == 0;
}

void
serve_shutdown(struct daemon *d)
{
	struct crm *crm = d->ctx;

	if (crm == NULL)
		return;
	nnsock_close(crm->rep);
	nnsock_close(crm->changes);
	health_pub_free(crm->health);
	db_free(crm->db);
	spool_close(crm->spool);
	free(crm);
	d->ctx = NULL;
}
