/*
 * Reads: STORE_QUERY (on behalf of a browser user) and STORE_SYSQUERY
 * (what the daemons need), answered with STORE_REPLY or STORE_ERROR.
 *
 * Tenant isolation: every STORE_QUERY must carry the user's business_id
 * (refused with STORE_ERROR forbidden without one), and every statement
 * behind it has "business_id = $1" in its WHERE clause, for the rows it
 * lists and for the rows it joins (turns and events are reached through a
 * call of that business). STORE_SYSQUERY is for daemons only (the gateway
 * never forwards a browser's request as one).
 *
 * Roles: the business_id a query names is not taken on trust. Every
 * STORE_QUERY also carries the user_id it is made for, and crm-store looks
 * that user up first (r_caller): a user that does not exist or is
 * inactive, a missing user_id, or an owner or agent naming a business not
 * their own is refused with forbidden. An admin may name any business. An
 * agent of a business whose agents_see is 'assigned' (the default) sees
 * only the customers assigned to them, and calls, turns and events only
 * of those customers: the same statements take the agent's id as their
 * last parameter ("$N IS NULL OR assigned_user_id = $N"), NULL for
 * everyone who sees the whole business. A call without a customer is
 * nobody's, so a restricted agent does not see it. Settings are read by
 * every role of the business.
 *
 * Reads for the browser: customers, calls, customer (with its calls,
 * appointments, notes, tasks, messages and activity: its audit entries),
 * call, settings, calls_live, appointments (a week, Sunday first, or a
 * range), tasks (mine, overdue, done), users and audit (owners and admins
 * only). A q that is none of these is offered to edits.c (the browser's
 * edits, checked by the same reads_caller) before it is refused.
 *
 * PostgreSQL builds each answer as one JSON document (json_build_object,
 * json_agg), so a read is one statement and one parse. Sorting and
 * filtering come from fixed whitelists; values travel as parameters only.
 *
 * Hebrew search: the query text is folded the same way as the stored
 * customers.search column (merkazia_fold: niqqud removed, final letters
 * folded, lower case); a query of digits, spaces, +, - and brackets is
 * matched as phone digits, so 050-123, +97250 and 97250 all find
 * +972501234567.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

#define READS_PAGE_DEFAULT 50
#define READS_PAGE_MAX	   200
/* Any id of 18 digits fits a bigint: a longer one is none of ours. */
#define READS_ID_DIGITS_MAX 18

/* The text to look for in customers.search. */
#define READS_FOLD(p)                                                    \
	"(CASE WHEN " p " ~ '^[0-9+ ()-]+$' THEN regexp_replace(" p ", " \
	"'\\D', '', 'g') ELSE merkazia_fold(" p ") END)"

#define READS_CUSTOMER_WHERE                                                \
	"business_id = $1::bigint AND ($2::text IS NULL OR "                \
	"strpos(search, " READS_FOLD(                                       \
	    "$2::text") ") > 0) AND ($3::text IS NULL OR stage = "          \
			"$3) AND ($4::text IS NULL OR source = $4) AND "    \
			"($5::text IS NULL OR "                             \
			"pipeline = $5) AND ($10::bigint IS NULL OR "       \
			"assigned_user_id = $10::bigint) AND ($11::bigint " \
			"IS NULL OR assigned_user_id = $11::bigint)"

#define READS_CALL_COLS                                                     \
	"c.id, c.call_sid, c.customer_id, k.name AS customer_name, "        \
	"c.direction, c.from_number, c.to_number, c.status, c.started_at, " \
	"c.answered_at, c.ended_at, c.duration_s, c.recording_url, "        \
	"c.fallback_used, c.summary, c.sentiment, c.lead_score"

#define READS_AUDIT_COLS                                                   \
	"a.id, a.at, a.user_id, u.name AS user_name, a.action, a.entity, " \
	"a.entity_id, a.detail"

#define READS_APPT_COLS                                                     \
	"a.id, a.customer_id, a.call_sid, a.starts_at, a.requested_text, "  \
	"a.address, a.notes, a.status, a.created_at, a.updated_at, k.name " \
	"AS customer_name, k.phone AS customer_phone"

/* An appointment's visibility: its business, and for a restricted agent
 * ($N) only their customers'. */
#define READS_APPT_FROM                                                      \
	"FROM appointments a LEFT JOIN customers k ON k.id = a.customer_id " \
	"WHERE a.business_id = $1::bigint AND ($2::bigint IS NULL OR "       \
	"k.assigned_user_id = $2::bigint) AND ($5::text IS NULL OR "         \
	"a.status = $5) AND ($6::bigint IS NULL OR a.customer_id = "         \
	"$6::bigint)"

#define READS_TASK_COLS                                                   \
	"t.id, t.customer_id, t.call_sid, t.title, t.due_at, t.done, "    \
	"t.suggested, t.assignee_id, t.created_at, t.updated_at, k.name " \
	"AS customer_name, u.name AS assignee_name"

/* $1 business, $2 restricted agent, $3 mine (the user), $4 overdue,
 * $5 done, $6 customer, $7 assignee. */
#define READS_TASK_WHERE                                                      \
	"t.business_id = $1::bigint AND ($2::bigint IS NULL OR "              \
	"t.assignee_id = $2::bigint OR k.assigned_user_id = $2::bigint) AND " \
	"($3::bigint IS NULL OR t.assignee_id = $3::bigint) AND "             \
	"($4::boolean IS NULL OR NOT $4::boolean OR (NOT t.done AND "         \
	"t.due_at < now())) AND ($5::boolean IS NULL OR t.done = "            \
	"$5::boolean) AND ($6::bigint IS NULL OR t.customer_id = "            \
	"$6::bigint) AND ($7::bigint IS NULL OR t.assignee_id = $7::bigint)"

#define READS_CALL_WHERE                                                      \
	"c.business_id = $1::bigint AND ($2::text IS NULL OR strpos("         \
	"merkazia_fold(coalesce(k.name, '')) || ' ' || coalesce("             \
	"merkazia_phone_forms(c.from_number), '') || ' ' || coalesce("        \
	"merkazia_phone_forms(c.to_number), ''), " READS_FOLD(                \
	    "$2::text") ") > 0) AND ($3::text IS NULL OR c.status = $3) AND " \
			"($4::text IS "                                       \
			"NULL OR c.direction = $4) AND ($9::bigint IS "       \
			"NULL OR k.assigned_user_id = $9::bigint)"

const struct db_stmt reads_stmts[] = {
    {"r_customers",
	"SELECT json_build_object('total', (SELECT count(*) FROM customers "
	"WHERE " READS_CUSTOMER_WHERE "), 'rows', coalesce((SELECT "
	"json_agg(x) FROM (SELECT " READS_CUSTOMER_COLS ", greatest("
	"updated_at, (SELECT max(started_at) FROM calls l WHERE "
	"l.customer_id = customers.id), (SELECT max(created_at) FROM notes n "
	"WHERE n.customer_id = customers.id)) AS last_activity_at FROM "
	"customers WHERE " READS_CUSTOMER_WHERE " ORDER BY "
	"CASE WHEN $8 = 'name' AND $9 = 'asc' THEN name END ASC, "
	"CASE WHEN $8 = 'name' AND $9 = 'desc' THEN name END DESC, "
	"CASE WHEN $8 = 'lead_score' AND $9 = 'asc' THEN lead_score END ASC "
	"NULLS LAST, CASE WHEN $8 = 'lead_score' AND $9 = 'desc' THEN "
	"lead_score END DESC NULLS LAST, "
	"CASE WHEN $8 = 'created_at' AND $9 = 'asc' THEN created_at END ASC, "
	"CASE WHEN $8 = 'created_at' AND $9 = 'desc' THEN created_at END "
	"DESC, CASE WHEN $9 = 'asc' THEN updated_at END ASC, updated_at "
	"DESC, id DESC LIMIT $6::integer OFFSET $7::integer) x), '[]'))",
	11},
    {"r_calls",
	"SELECT json_build_object('total', (SELECT count(*) FROM calls c "
	"LEFT JOIN customers k ON k.id = c.customer_id WHERE " READS_CALL_WHERE
	"), 'rows', coalesce((SELECT json_agg(x) FROM (SELECT " READS_CALL_COLS
	" FROM calls c LEFT JOIN customers k ON k.id = c.customer_id "
	"WHERE " READS_CALL_WHERE " ORDER BY "
	"CASE WHEN $7 = 'duration_s' AND $8 = 'asc' THEN c.duration_s END "
	"ASC NULLS LAST, CASE WHEN $7 = 'duration_s' AND $8 = 'desc' THEN "
	"c.duration_s END DESC NULLS LAST, "
	"CASE WHEN $7 = 'lead_score' AND $8 = 'asc' THEN c.lead_score END "
	"ASC NULLS LAST, CASE WHEN $7 = 'lead_score' AND $8 = 'desc' THEN "
	"c.lead_score END DESC NULLS LAST, "
	"CASE WHEN $8 = 'asc' THEN c.started_at END ASC, c.started_at DESC, "
	"c.id DESC LIMIT $5::integer OFFSET $6::integer) x), '[]'))",
	9},
    {"r_customer",
	"SELECT json_build_object('customer', row_to_json(k), "
	"'calls', coalesce((SELECT json_agg(c ORDER BY c.started_at DESC) "
	"FROM (SELECT id, call_sid, direction, status, started_at, "
	"duration_s, summary, sentiment, lead_score FROM calls WHERE "
	"business_id = $1::bigint AND customer_id = k.id ORDER BY started_at "
	"DESC LIMIT 50) c), '[]'), "
	"'appointments', coalesce((SELECT json_agg(a ORDER BY a.starts_at) "
	"FROM appointments a WHERE a.business_id = $1::bigint AND "
	"a.customer_id = k.id), '[]'), "
	"'notes', coalesce((SELECT json_agg(n ORDER BY n.created_at DESC) "
	"FROM notes n WHERE n.business_id = $1::bigint AND n.customer_id = "
	"k.id), '[]'), "
	"'tasks', coalesce((SELECT json_agg(t ORDER BY t.due_at) FROM tasks "
	"t WHERE t.business_id = $1::bigint AND t.customer_id = k.id), '[]'), "
	"'messages', coalesce((SELECT json_agg(g ORDER BY g.created_at) FROM "
	"messages g WHERE g.business_id = $1::bigint AND g.customer_id = "
	"k.id), '[]'), "
	"'activity', coalesce((SELECT json_agg(e ORDER BY e.at DESC, e.id "
	"DESC) FROM (SELECT " READS_AUDIT_COLS " FROM audit_log a LEFT JOIN "
	"users u ON u.id = a.user_id WHERE a.business_id = $1::bigint AND "
	"((a.entity = 'customer' AND a.entity_id = k.id) OR "
	"a.detail->>'customer_id' = k.id::text) ORDER BY a.at DESC LIMIT 200) "
	"e), '[]')) FROM (SELECT " READS_CUSTOMER_COLS " FROM customers "
	"WHERE business_id = $1::bigint AND (id::text = $2 OR phone = $2) "
	"AND ($3::bigint IS NULL OR assigned_user_id = $3::bigint)) k",
	3},
    {"r_call",
	"SELECT json_build_object('call', row_to_json(c), "
	"'turns', coalesce((SELECT json_agg(t ORDER BY t.seq) FROM (SELECT "
	"seq, speaker, heard_text, generated_text, start_ms, end_ms, "
	"interrupted, stt_confidence, latency, source FROM turns WHERE "
	"call_sid = "
	"c.call_sid) t), '[]'), "
	"'events', coalesce((SELECT json_agg(e ORDER BY e.at, e.id) FROM "
	"(SELECT id, event_id, type, at, data FROM call_events WHERE "
	"call_sid = c.call_sid) e), '[]')) "
	"FROM (SELECT c.*, k.name AS customer_name, k.phone AS "
	"customer_phone FROM calls c LEFT JOIN customers k ON k.id = "
	"c.customer_id WHERE c.business_id = $1::bigint AND (c.call_sid = $2 "
	"OR c.id::text = $2) AND ($3::bigint IS NULL OR k.assigned_user_id = "
	"$3::bigint)) c",
	3},
    {"r_calls_live",
	"SELECT json_build_object('rows', coalesce(json_agg(x ORDER BY "
	"x.started_at), '[]')) FROM (SELECT c.call_sid, c.id, c.from_number, "
	"c.to_number, c.customer_id, k.name AS customer_name, c.status, "
	"c.started_at, NULL AS state, NULL AS last_heard FROM calls c LEFT "
	"JOIN customers k ON k.id = c.customer_id WHERE c.business_id = "
	"$1::bigint AND c.ended_at IS NULL AND c.status NOT IN ('completed', "
	"'failed', 'busy', 'no-answer', 'canceled') AND c.started_at > now() - "
	"interval '4 hours' AND ($2::bigint IS NULL OR k.assigned_user_id = "
	"$2::bigint) LIMIT 500) x",
	2},
    {"r_appointments",
	"WITH r AS (SELECT f, least(coalesce(merkazia_local_time($4), f + "
	"interval '7 days'), f + interval '62 days') AS t FROM (SELECT "
	"coalesce(merkazia_local_time($3), merkazia_week_start(now())) AS f) "
	"x) SELECT json_build_object('from', (SELECT f FROM r), 'to', (SELECT "
	"t FROM r), 'rows', coalesce((SELECT json_agg(y ORDER BY y.starts_at, "
	"y.id) FROM (SELECT " READS_APPT_COLS " " READS_APPT_FROM " AND "
	"a.starts_at >= (SELECT f FROM r) AND a.starts_at < (SELECT t FROM r) "
	"LIMIT 1000) y), '[]'), 'unscheduled', coalesce((SELECT json_agg(z "
	"ORDER BY z.created_at DESC) FROM (SELECT " READS_APPT_COLS
	" " READS_APPT_FROM " AND a.starts_at IS NULL AND a.status IN "
	"('requested', 'confirmed') ORDER BY a.created_at DESC LIMIT 100) z), "
	"'[]'))",
	6},
    {"r_tasks",
	"SELECT json_build_object('total', (SELECT count(*) FROM tasks t LEFT "
	"JOIN customers k ON k.id = t.customer_id WHERE " READS_TASK_WHERE
	"), 'rows', coalesce((SELECT json_agg(x) FROM (SELECT " READS_TASK_COLS
	" FROM tasks t LEFT JOIN customers k ON k.id = t.customer_id LEFT "
	"JOIN users u ON u.id = t.assignee_id WHERE " READS_TASK_WHERE
	" ORDER BY CASE WHEN $10 = 'created_at' AND $11 = 'asc' THEN "
	"t.created_at END ASC, CASE WHEN $10 = 'created_at' AND $11 = 'desc' "
	"THEN t.created_at END DESC, CASE WHEN $11 = 'desc' THEN t.due_at END "
	"DESC NULLS LAST, t.due_at ASC NULLS LAST, t.id DESC LIMIT "
	"$8::integer OFFSET $9::integer) x), '[]'))",
	11},
    {"r_users",
	"SELECT json_build_object('rows', coalesce(json_agg(x ORDER BY "
	"x.name, x.id), '[]')) FROM (SELECT id, business_id, email, name, "
	"role, active, created_at, last_login_at FROM users WHERE "
	"business_id = $1::bigint) x",
	1},
    {"r_audit",
	"SELECT json_build_object('total', (SELECT count(*) FROM audit_log a "
	"WHERE a.business_id = $1::bigint AND ($2::text IS NULL OR (a.entity "
	"= $2 AND a.entity_id = $3::bigint))), 'rows', coalesce((SELECT "
	"json_agg(x) FROM (SELECT " READS_AUDIT_COLS " FROM audit_log a LEFT "
	"JOIN users u ON u.id = a.user_id WHERE a.business_id = $1::bigint "
	"AND ($2::text IS NULL OR (a.entity = $2 AND a.entity_id = "
	"$3::bigint)) ORDER BY a.at DESC, a.id DESC LIMIT $4::integer OFFSET "
	"$5::integer) x), '[]'))",
	5},
    {"r_caller",
	"SELECT u.role, u.business_id, b.agents_see FROM users u LEFT JOIN "
	"businesses b ON b.id = u.business_id WHERE u.id = $1::bigint AND "
	"u.active",
	1},
    {"r_settings",
	"SELECT json_build_object('business', row_to_json(b), 'numbers', "
	"coalesce((SELECT json_agg(n.number ORDER BY n.number) FROM "
	"business_numbers n WHERE n.business_id = b.id), '[]')) FROM "
	"businesses b WHERE b.id = $1::bigint",
	1},
    {"s_phone_numbers",
	"SELECT json_build_object('rows', coalesce(json_agg(json_build_object("
	"'number', number, 'business_id', business_id, 'channels', channels) "
	"ORDER BY number), '[]')) FROM business_numbers",
	0},
    {"s_calls_in_progress",
	"SELECT json_build_object('rows', coalesce(json_agg(json_build_object("
	"'call_sid', call_sid, 'business_id', business_id, 'status', status, "
	"'started_at', started_at, 'from', from_number, 'to', to_number) "
	"ORDER BY started_at), '[]')) FROM calls WHERE ended_at IS NULL AND "
	"status NOT IN ('completed', 'failed', 'busy', 'no-answer', "
	"'canceled') AND started_at > now() - interval '4 hours'",
	0},
    {"s_business_by_number",
	"SELECT json_build_object('business', row_to_json(b), 'numbers', "
	"coalesce((SELECT json_agg(m.number ORDER BY m.number) FROM "
	"business_numbers m WHERE m.business_id = b.id), '[]')) FROM "
	"business_numbers n JOIN businesses b ON b.id = n.business_id WHERE "
	"n.number = $1",
	1},
    {"s_customer_by_phone",
	"SELECT json_build_object('customer', (SELECT row_to_json(k) FROM "
	"(SELECT " READS_CUSTOMER_COLS " FROM customers WHERE business_id = "
	"$1::bigint AND phone = $2) k), 'history', coalesce((SELECT "
	"json_agg(h ORDER BY h.started_at DESC) FROM (SELECT c.call_sid, "
	"c.started_at, c.duration_s, c.summary, c.sentiment FROM calls c "
	"JOIN customers k ON k.id = c.customer_id WHERE k.business_id = "
	"$1::bigint AND k.phone = $2 AND c.summary IS NOT NULL ORDER BY "
	"c.started_at DESC LIMIT 5) h), '[]'), 'appointments', coalesce(("
	"SELECT json_agg(json_build_object('starts_at', a.starts_at, "
	"'requested_text', a.requested_text, 'status', a.status) ORDER BY "
	"a.starts_at) FROM appointments a JOIN customers k ON k.id = "
	"a.customer_id WHERE k.business_id = $1::bigint AND k.phone = $2 AND "
	"a.status IN ('requested', 'confirmed')), '[]'))",
	2},
    /* A call as the recording path needs it (gateway/recording.c): its
     * business, numbers, status and turns; {"call": null} when unknown. */
    {"s_call_by_sid",
	"SELECT json_build_object('call', (SELECT json_build_object("
	"'business_id', c.business_id, 'from', c.from_number, 'to', "
	"c.to_number, 'status', c.status, 'turns', coalesce((SELECT "
	"json_agg(t ORDER BY t.seq) FROM (SELECT seq, speaker, heard_text, "
	"source FROM turns WHERE call_sid = c.call_sid ORDER BY seq LIMIT "
	"500) t), '[]')) FROM calls c WHERE c.call_sid = $1))",
	1},
    {NULL, NULL, 0},
};

/* Run a one-row, one-JSON-column statement and answer with it. */
void
reads_answer(struct crm *crm, const struct crm_req *q, const char *stmt, int n,
    const char *const *params, const char *what)
{
	struct db_res *r = NULL;
	enum db_status st;
	json_t *j;

	if (!db_is_up(crm->db)) {
		serve_error(q, "unavailable", "database unavailable");
		return;
	}
	if ((st = db_exec(crm->db, stmt, n, params, &r)) != DB_OK) {
		if (st == DB_INVALID)
			crm->cnt.refused++;
		serve_db_failed(crm, q, st);
		return;
	}
	if ((j = serve_json_cell(crm, q, r, what)) == NULL)
		return;
	crm->cnt.queries++;
	serve_reply(q, MSG_STORE_REPLY, j);
	json_decref(j);
}

/* A value of args as parameter text; an integer is formatted into buf
 * when one is given, else only strings are taken. */
static const char *
reads_arg(json_t *args, const char *name, char *buf, size_t len)
{
	json_t *v = json_object_get(args, name);

	if (json_is_string(v) && json_string_length(v) > 0)
		return json_string_value(v);
	if (json_is_integer(v) && buf != NULL && len > 0) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* A value that must be one of the list (NULL-terminated); else def. */
static const char *
reads_pick(
    json_t *args, const char *name, const char *const *allowed, const char *def)
{
	const char *v = json_string_value(json_object_get(args, name));

	for (const char *const *a = allowed; v != NULL && *a != NULL; a++)
		if (strcmp(v, *a) == 0)
			return *a;
	return def;
}

static void
reads_page(json_t *args, char *limit, char *offset, size_t len)
{
	json_int_t per = json_integer_value(json_object_get(args, "per_page"));
	json_int_t page = json_integer_value(json_object_get(args, "page"));

	if (per <= 0)
		per = READS_PAGE_DEFAULT;
	if (per > READS_PAGE_MAX)
		per = READS_PAGE_MAX;
	if (page < 1 || page > 1000000)
		page = 1;
	snprintf(limit, len, "%lld", (long long)per);
	snprintf(offset, len, "%lld", (long long)((page - 1) * per));
}

/*
 * Put the id v holds (a positive integer, or a text of digits) into buf
 * in canonical form ("007" becomes "7"), so two ids compare as text.
 * Return 0, or -1 when v holds none.
 */
static int
reads_id(json_t *v, char *buf, size_t len)
{
	long long id = 0;

	if (json_is_integer(v)) {
		id = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *t = json_string_value(v);
		size_t n = json_string_length(v);

		if (n == 0 || n > READS_ID_DIGITS_MAX ||
		    strspn(t, "0123456789") != n)
			return -1;
		id = strtoll(t, NULL, 10);
	}
	if (id <= 0)
		return -1;
	snprintf(buf, len, "%lld", id);
	return 0;
}

/* Refuse a STORE_QUERY as forbidden, saying why in the log and reply. */
static void
reads_forbid(
    struct crm *crm, const struct crm_req *q, const char *what, const char *why)
{
	crm->cnt.refused++;
	log_warnx("refused STORE_QUERY %s (job %llu): %s",
	    what != NULL ? what : "?", (unsigned long long)q->m->job_id, why);
	serve_error(q, "forbidden", why);
}

/*
 * Find who payload's query is made for (user_id) and what they may see of
 * the business it names (business_id), into c. Return 0, or -1 when the
 * query has been answered already (forbidden, unavailable).
 */
static int
reads_caller(struct crm *crm, const struct crm_req *q, json_t *payload,
    const char *what, struct reads_caller *c)
{
	const char *p[1];
	const char *role, *ubiz, *sees;
	struct db_res *r = NULL;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	p[0] = c->user;
	if (reads_id(json_object_get(payload, "business_id"), c->biz,
		sizeof(c->biz)) < 0) {
		reads_forbid(crm, q, what, "a business_id is required");
		return -1;
	}
	if (reads_id(json_object_get(payload, "user_id"), c->user,
		sizeof(c->user)) < 0) {
		reads_forbid(crm, q, what, "a user_id is required");
		return -1;
	}
	if (!db_is_up(crm->db)) {
		serve_error(q, "unavailable", "database unavailable");
		return -1;
	}
	if (db_exec(crm->db, "r_caller", 1, p, &r) != DB_OK) {
		serve_error(q, "unavailable", db_error(crm->db));
		return -1;
	}
	role = db_res_get(r, 0, 0);
	ubiz = db_res_get(r, 0, 1);
	sees = db_res_get(r, 0, 2);
	snprintf(c->role, sizeof(c->role), "%s", role != NULL ? role : "");
	if (role == NULL) {
		reads_forbid(crm, q, what, "no such user");
	} else if (strcmp(role, "admin") == 0) {
		rc = 0;
	} else if (ubiz == NULL || strcmp(ubiz, c->biz) != 0) {
		reads_forbid(crm, q, what, "not a user of this business");
	} else {
		/* Fail closed: only an owner, or a business that chose
		 * 'all', shows a non-admin the whole business. */
		if (strcmp(role, "owner") != 0 &&
		    (sees == NULL || strcmp(sees, "all") != 0))
			c->assigned = c->user;
		rc = 0;
	}
	db_res_free(r);
	return rc;
}

/* Return true when c may manage the business (an owner or an admin). */
bool
reads_is_manager(const struct reads_caller *c)
{
	return strcmp(c->role, "owner") == 0 || strcmp(c->role, "admin") == 0;
}

/* A boolean argument as parameter text ("true", "false"), else NULL. */
static const char *
reads_bool(json_t *args, const char *name)
{
	json_t *v = json_object_get(args, name);
	const char *s = json_string_value(v);

	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0))
		return "true";
	if (s != NULL && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0))
		return "false";
	return NULL;
}

/* An id argument in canonical form into buf, else NULL. */
static const char *
reads_id_arg(json_t *args, const char *name, char *buf, size_t len)
{
	return reads_id(json_object_get(args, name), buf, len) == 0 ? buf
								    : NULL;
}

/* The reads added for the records pages (issue #13). Return false when
 * what is none of them. */
static bool
reads_records(struct crm *crm, const struct crm_req *q, const char *what,
    json_t *args, const struct reads_caller *c)
{
	static const char *const orders[] = {"asc", "desc", NULL};
	static const char *const tsorts[] = {"due_at", "created_at", NULL};
	char limit[32], offset[32], b1[32], b2[32], b3[32];

	reads_page(args, limit, offset, sizeof(limit));
	if (strcmp(what, "calls_live") == 0) {
		const char *p[2] = {c->biz, c->assigned};

		reads_answer(crm, q, "r_calls_live", 2, p, "calls");
	} else if (strcmp(what, "appointments") == 0) {
		const char *p[6] = {c->biz, c->assigned,
		    reads_arg(args, "from", NULL, 0),
		    reads_arg(args, "to", NULL, 0),
		    reads_arg(args, "status", NULL, 0),
		    reads_id_arg(args, "customer_id", b1, sizeof(b1))};

		reads_answer(crm, q, "r_appointments", 6, p, "appointments");
	} else if (strcmp(what, "tasks") == 0) {
		const char *mine = reads_bool(args, "mine");
		const char *p[11] = {c->biz, c->assigned,
		    mine != NULL && strcmp(mine, "true") == 0 ? c->user : NULL,
		    reads_bool(args, "overdue"), reads_bool(args, "done"),
		    reads_id_arg(args, "customer_id", b1, sizeof(b1)),
		    reads_id_arg(args, "assignee_id", b2, sizeof(b2)), limit,
		    offset, reads_pick(args, "sort", tsorts, "due_at"),
		    reads_pick(args, "order", orders, "asc")};

		reads_answer(crm, q, "r_tasks", 11, p, "tasks");
	} else if (strcmp(what, "users") == 0 || strcmp(what, "audit") == 0) {
		const char *p[5] = {c->biz, reads_arg(args, "entity", NULL, 0),
		    reads_id_arg(args, "id", b3, sizeof(b3)), limit, offset};

		if (!reads_is_manager(c)) {
			reads_forbid(crm, q, what, "owners and admins only");
		} else if (strcmp(what, "users") == 0) {
			reads_answer(crm, q, "r_users", 1, p, "users");
		} else if ((p[1] == NULL) != (p[2] == NULL)) {
			crm->cnt.refused++;
			serve_error(q, "invalid", "entity and id go together");
		} else {
			reads_answer(crm, q, "r_audit", 5, p, "audit");
		}
	} else {
		return false;
	}
	return true;
}

/* Handle STORE_QUERY: a read for a browser user, scoped to a business. */
void
reads_query(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	static const char *const orders[] = {"asc", "desc", NULL};
	static const char *const csorts[] = {
	    "updated_at", "created_at", "name", "lead_score", NULL};
	static const char *const lsorts[] = {
	    "started_at", "duration_s", "lead_score", NULL};
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *what = json_string_value(json_object_get(payload, "q"));
	json_t *args = json_object_get(payload, "args");
	struct reads_caller c;
	char limit[32], offset[32], nb[32], nb2[32];

	(void)s;
	if (reads_caller(crm, &q, payload, what, &c) < 0)
		return;
	if (args != NULL && !json_is_object(args)) {
		serve_error(&q, "invalid", "args must be an object");
		return;
	}
	reads_page(args, limit, offset, sizeof(limit));
	if (what != NULL && strcmp(what, "customers") == 0) {
		const char *p[11] = {c.biz, reads_arg(args, "search", NULL, 0),
		    reads_arg(args, "stage", NULL, 0),
		    reads_arg(args, "source", NULL, 0),
		    reads_arg(args, "pipeline", NULL, 0), limit, offset,
		    reads_pick(args, "sort", csorts, "updated_at"),
		    reads_pick(args, "order", orders, "desc"), c.assigned,
		    reads_id_arg(args, "assigned_user_id", nb2, sizeof(nb2))};

		reads_answer(crm, &q, "r_customers", 11, p, "customers");
	} else if (what != NULL && strcmp(what, "calls") == 0) {
		const char *p[9] = {c.biz, reads_arg(args, "search", NULL, 0),
		    reads_arg(args, "status", NULL, 0),
		    reads_arg(args, "direction", NULL, 0), limit, offset,
		    reads_pick(args, "sort", lsorts, "started_at"),
		    reads_pick(args, "order", orders, "desc"), c.assigned};

		reads_answer(crm, &q, "r_calls", 9, p, "calls");
	} else if (what != NULL && strcmp(what, "customer") == 0) {
		const char *p[3] = {
		    c.biz, reads_arg(args, "id", nb, sizeof(nb)), c.assigned};

		if (p[1] == NULL)
			p[1] = reads_arg(args, "phone", NULL, 0);
		reads_answer(crm, &q, "r_customer", 3, p, "customer");
	} else if (what != NULL && strcmp(what, "call") == 0) {
		const char *p[3] = {
		    c.biz, reads_arg(args, "id", nb, sizeof(nb)), c.assigned};

		if (p[1] == NULL)
			p[1] = reads_arg(args, "call_sid", NULL, 0);
		reads_answer(crm, &q, "r_call", 3, p, "call");
	} else if (what != NULL && strcmp(what, "settings") == 0) {
		const char *p[1] = {c.biz};

		reads_answer(crm, &q, "r_settings", 1, p, "business");
	} else if (what != NULL && (reads_records(crm, &q, what, args, &c) ||
				       edits_query(crm, &q, what, args, &c))) {
		return;
	} else {
		crm->cnt.refused++;
		log_warnx("unknown STORE_QUERY %s (job %llu)",
		    what != NULL ? what : "(none)",
		    (unsigned long long)m->job_id);
		serve_error(&q, "invalid", "unknown query");
	}
}

/* Handle STORE_SYSQUERY: reads the daemons need across businesses. */
void
reads_sysquery(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *what = json_string_value(json_object_get(payload, "q"));
	json_t *args = json_object_get(payload, "args");
	char nb[32];

	(void)s;
	if (what != NULL && strcmp(what, "phone_numbers") == 0) {
		reads_answer(crm, &q, "s_phone_numbers", 0, NULL, "numbers");
	} else if (what != NULL && strcmp(what, "calls_in_progress") == 0) {
		reads_answer(crm, &q, "s_calls_in_progress", 0, NULL, "calls");
	} else if (what != NULL && strcmp(what, "business_by_number") == 0) {
		const char *p[1] = {reads_arg(args, "number", NULL, 0)};

		if (p[0] == NULL)
			serve_error(&q, "invalid", "number is required");
		else
			reads_answer(
			    crm, &q, "s_business_by_number", 1, p, "number");
	} else if (what != NULL && strcmp(what, "customer_by_phone") == 0) {
		const char *p[2] = {
		    reads_arg(args, "business_id", nb, sizeof(nb)),
		    reads_arg(args, "phone", NULL, 0)};

		if (p[0] == NULL || p[1] == NULL)
			serve_error(&q, "invalid",
			    "business_id and phone are required");
		else
			reads_answer(
			    crm, &q, "s_customer_by_phone", 2, p, "customer");
	} else if (what != NULL && strcmp(what, "call_by_sid") == 0) {
		const char *p[1] = {reads_arg(args, "call_sid", NULL, 0)};

		if (p[0] == NULL)
			serve_error(&q, "invalid", "call_sid is required");
		else
			reads_answer(crm, &q, "s_call_by_sid", 1, p, "call");
	} else {
		crm->cnt.refused++;
		log_warnx("unknown STORE_SYSQUERY %s (job %llu)",
		    what != NULL ? what : "(none)",
		    (unsigned long long)m->job_id);
		serve_error(&q, "invalid", "unknown query");
	}
}
