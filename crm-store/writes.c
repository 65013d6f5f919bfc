/*
 * STORE_WRITE: idempotent upserts, acknowledged only after COMMIT.
 *
 * A write is {kind, key, data}. Each kind is one row of writes_kinds[]:
 * the prepared statement that applies it, the data fields that become its
 * parameters (in order; values are never put into SQL text), which of them
 * are required, and the STORE_CHANGE kind it publishes. Every statement is
 * a single INSERT ... ON CONFLICT (its idempotency key) so a re-sent write
 * changes nothing, and a single statement commits on its own: the
 * STORE_ACK goes out after the commit. Statements return the row's id and
 * business_id for the change event; a write that matched nothing new
 * (call_event seen before) is acknowledged with duplicate:true and
 * publishes nothing.
 *
 * Idempotency keys (docs/crm-store.md): call, call_status, analysis by
 * call_sid; turn by (call_sid, seq); call_event by event id (data.event_id,
 * else the write's key); appointment, note, task by the write's key;
 * customer by (business_id, phone); message by message_sid (else the key).
 *
 * Assigning a customer (the customer write's assigned_user_id; 0 clears
 * it, absent keeps it): the database refuses a user of another business
 * (a trigger of migration 0002), so the write is answered invalid. Who may
 * assign is the gateway's to check: a write carries no user.
 *
 * Outcomes: committed -> STORE_ACK {key, id}; PostgreSQL down -> the
 * write goes to crm-store's spool and STORE_ACK {key, spooled:true}; data
 * refused (unknown kind, missing field, constraint) -> STORE_ERROR
 * invalid, logged and counted; other failures -> STORE_ERROR unavailable
 * (the client tries again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

#define WRITES_PARAMS_MAX 24

#define W_REQ 0x1u /* required */
#define W_KEY 0x2u /* defaults to the write's key */

struct writes_field {
	const char *name;
	unsigned int flags;
};

struct writes_kind {
	const char *kind;
	const char *stmt;
	const char *change;
	bool missing_is_not_found; /* no row back: not_found, not duplicate */
	int nparams; /* the statement's, when more than fields (NULLs) */
	struct writes_field fields[WRITES_PARAMS_MAX];
};

/* The customer a call or message belongs to: created on first contact. */
#define WRITES_CALL_PHONE                                                   \
	"(CASE WHEN $3::text LIKE 'outbound%' THEN $5::text ELSE $4::text " \
	"END)"

const struct db_stmt writes_stmts[] = {
    {"w_call",
	"WITH cust AS (INSERT INTO customers (business_id, phone, source) "
	"SELECT $2::bigint, " WRITES_CALL_PHONE
	", 'call' WHERE " WRITES_CALL_PHONE " ~ '^\\+[1-9][0-9]{6,14}$' "
	"ON CONFLICT (business_id, phone) DO NOTHING RETURNING id) "
	"INSERT INTO calls AS c (call_sid, business_id, customer_id, "
	"direction, from_number, to_number, status, started_at, answered_at, "
	"ended_at, duration_s, recording_url, fallback_used, summary, "
	"sentiment, lead_score, extracted, latency) VALUES ($1, $2::bigint, "
	"coalesce((SELECT id FROM cust), (SELECT id FROM customers WHERE "
	"business_id = $2::bigint AND phone = " WRITES_CALL_PHONE ")), "
	"CASE WHEN $3::text LIKE 'outbound%' THEN 'outbound' ELSE 'inbound' "
	"END, $4, $5, coalesce($6::text, 'ringing'), coalesce($7::timestamptz, "
	"now()), $8::timestamptz, $9::timestamptz, $10::integer, $11, "
	"coalesce($12::boolean, false), $13, $14, $15::smallint, $16::jsonb, "
	"$17::jsonb) "
	"ON CONFLICT (call_sid) DO UPDATE SET "
	"customer_id = coalesce(c.customer_id, EXCLUDED.customer_id), "
	"from_number = coalesce($4, c.from_number), "
	"to_number = coalesce($5, c.to_number), "
	"status = CASE WHEN c.status IN ('completed', 'failed', 'busy', "
	"'no-answer', 'canceled') THEN c.status ELSE coalesce($6::text, "
	"c.status) END, "
	"started_at = coalesce($7::timestamptz, c.started_at), "
	"answered_at = coalesce($8::timestamptz, c.answered_at), "
	"ended_at = coalesce($9::timestamptz, c.ended_at), "
	"duration_s = coalesce($10::integer, c.duration_s), "
	"recording_url = coalesce($11, c.recording_url), "
	"fallback_used = c.fallback_used OR coalesce($12::boolean, false), "
	"summary = coalesce($13, c.summary), "
	"sentiment = coalesce($14, c.sentiment), "
	"lead_score = coalesce($15::smallint, c.lead_score), "
	"extracted = coalesce($16::jsonb, c.extracted), "
	"latency = coalesce($17::jsonb, c.latency), updated_at = now() "
	"RETURNING id, business_id",
	17},
    {"w_turn",
	"INSERT INTO turns AS t (call_sid, seq, speaker, heard_text, "
	"generated_text, start_ms, end_ms, interrupted, stt_confidence, "
	"latency, source) VALUES ($1, $2::integer, $3, $4, $5, $6::integer, "
	"$7::integer, coalesce($8::boolean, false), $9::real, $10::jsonb, "
	"coalesce($11, 'live')) "
	"ON CONFLICT (call_sid, seq) DO UPDATE SET "
	"heard_text = coalesce($4, t.heard_text), "
	"generated_text = coalesce($5, t.generated_text), "
	"start_ms = coalesce($6::integer, t.start_ms), "
	"end_ms = coalesce($7::integer, t.end_ms), "
	"interrupted = t.interrupted OR coalesce($8::boolean, false), "
	"stt_confidence = coalesce($9::real, t.stt_confidence), "
	"latency = coalesce($10::jsonb, t.latency), "
	"source = coalesce($11, t.source) "
	"RETURNING id, (SELECT business_id FROM calls WHERE call_sid = $1)",
	11},
    {"w_call_event",
	"INSERT INTO call_events (event_id, call_sid, type, at, data) VALUES "
	"($1, $2, $3, coalesce($4::timestamptz, now()), coalesce($5::jsonb, "
	"'{}')) ON CONFLICT (event_id) DO NOTHING "
	"RETURNING id, (SELECT business_id FROM calls WHERE call_sid = $2)",
	5},
    {"w_analysis",
	"WITH c AS (UPDATE calls SET summary = coalesce($2, summary), "
	"sentiment = coalesce($3, sentiment), lead_score = "
	"coalesce($4::smallint, lead_score), extracted = coalesce($5::jsonb, "
	"extracted), updated_at = now() WHERE call_sid = $1 "
	"RETURNING id, business_id, customer_id), "
	"k AS (UPDATE customers SET lead_score = coalesce($4::smallint, "
	"lead_score), sentiment = coalesce($3, sentiment), updated_at = now() "
	"WHERE id = (SELECT customer_id FROM c) RETURNING id) "
	"SELECT id, business_id FROM c",
	5},
    {"w_appointment",
	"INSERT INTO appointments AS a (idempotency_key, business_id, "
	"customer_id, call_sid, starts_at, requested_text, address, notes, "
	"status) VALUES ($1, $2::bigint, (SELECT id FROM customers WHERE "
	"business_id = $2::bigint AND phone = $3), $4, $5::timestamptz, $6, "
	"$7, $8, coalesce($9::text, 'requested')) "
	"ON CONFLICT (idempotency_key) DO UPDATE SET "
	"status = coalesce($9::text, a.status), "
	"starts_at = coalesce($5::timestamptz, a.starts_at), "
	"updated_at = now() WHERE a.business_id = $2::bigint "
	"RETURNING id, business_id",
	9},
    {"w_customer",
	"INSERT INTO customers AS k (business_id, phone, name, source, "
	"pipeline, stage, lead_score, sentiment, deal_type, cities, "
	"neighbourhoods, rooms_min, rooms_max, budget_min, budget_max, "
	"property_type, timeline, need_parking, need_elevator, need_mamad, "
	"need_balcony, assigned_user_id) VALUES ($1::bigint, $2, $3, "
	"coalesce($4::text, 'call'), coalesce($5::text, 'buyer_renter'), "
	"coalesce($6::text, 'new'), $7::smallint, $8, $9, "
	"ARRAY(SELECT jsonb_array_elements_text(coalesce($10::jsonb, "
	"'[]'))), ARRAY(SELECT jsonb_array_elements_text(coalesce($11::jsonb, "
	"'[]'))), $12::numeric, $13::numeric, $14::bigint, $15::bigint, $16, "
	"$17, $18::boolean, $19::boolean, $20::boolean, $21::boolean, "
	"nullif($22::bigint, 0)) "
	"ON CONFLICT (business_id, phone) DO UPDATE SET "
	"name = coalesce($3, k.name), pipeline = coalesce($5::text, "
	"k.pipeline), stage = coalesce($6::text, k.stage), "
	"lead_score = coalesce($7::smallint, k.lead_score), "
	"sentiment = coalesce($8, k.sentiment), "
	"deal_type = coalesce($9, k.deal_type), "
	"cities = CASE WHEN $10::jsonb IS NULL THEN k.cities ELSE "
	"ARRAY(SELECT jsonb_array_elements_text($10::jsonb)) END, "
	"neighbourhoods = CASE WHEN $11::jsonb IS NULL THEN k.neighbourhoods "
	"ELSE ARRAY(SELECT jsonb_array_elements_text($11::jsonb)) END, "
	"rooms_min = coalesce($12::numeric, k.rooms_min), "
	"rooms_max = coalesce($13::numeric, k.rooms_max), "
	"budget_min = coalesce($14::bigint, k.budget_min), "
	"budget_max = coalesce($15::bigint, k.budget_max), "
	"property_type = coalesce($16, k.property_type), "
	"timeline = coalesce($17, k.timeline), "
	"need_parking = coalesce($18::boolean, k.need_parking), "
	"need_elevator = coalesce($19::boolean, k.need_elevator), "
	"need_mamad = coalesce($20::boolean, k.need_mamad), "
	"need_balcony = coalesce($21::boolean, k.need_balcony), "
	"assigned_user_id = CASE WHEN $22::bigint IS NULL THEN "
	"k.assigned_user_id ELSE nullif($22::bigint, 0) END, "
	"updated_at = now() RETURNING id, business_id",
	22},
    {"w_message",
	"WITH cust AS (INSERT INTO customers (business_id, phone, source) "
	"SELECT $2::bigint, p, $3 FROM (SELECT CASE WHEN $4 = 'outbound' THEN "
	"$6 ELSE $5 END AS p) x WHERE p ~ '^\\+[1-9][0-9]{6,14}$' "
	"ON CONFLICT (business_id, phone) DO NOTHING RETURNING id) "
	"INSERT INTO messages AS g (message_sid, business_id, customer_id, "
	"channel, direction, from_number, to_number, body, status) VALUES "
	"($1, $2::bigint, coalesce((SELECT id FROM cust), (SELECT id FROM "
	"customers WHERE business_id = $2::bigint AND phone = CASE WHEN $4 = "
	"'outbound' THEN $6 ELSE $5 END)), $3, $4, $5, $6, coalesce($7, ''), "
	"coalesce($8, 'received')) ON CONFLICT (message_sid) DO UPDATE SET "
	"status = coalesce($8, g.status), updated_at = now() "
	"RETURNING id, business_id",
	8},
    {"w_note",
	"INSERT INTO notes (idempotency_key, business_id, customer_id, "
	"call_sid, author_id, body) VALUES ($1, $2::bigint, (SELECT id FROM "
	"customers WHERE business_id = $2::bigint AND phone = $3), $4, "
	"$5::bigint, $6) ON CONFLICT (idempotency_key) DO NOTHING "
	"RETURNING id, business_id",
	6},
    {"w_task",
	"INSERT INTO tasks AS t (idempotency_key, business_id, customer_id, "
	"call_sid, title, due_at, done, suggested, assignee_id) VALUES ($1, "
	"$2::bigint, (SELECT id FROM customers WHERE business_id = $2::bigint "
	"AND phone = $3), $4, $5, $6::timestamptz, coalesce($7::boolean, "
	"false), coalesce($8::boolean, false), $9::bigint) "
	"ON CONFLICT (idempotency_key) DO UPDATE SET "
	"done = coalesce($7::boolean, t.done), "
	"due_at = coalesce($6::timestamptz, t.due_at), updated_at = now() "
	"WHERE t.business_id = $2::bigint RETURNING id, business_id",
	9},
    {NULL, NULL, 0},
};

static const struct writes_kind writes_kinds[] = {
    {"call", "w_call", "call", false, 0,
	{{"call_sid", W_REQ | W_KEY}, {"business_id", W_REQ}, {"direction", 0},
	    {"from", 0}, {"to", 0}, {"status", 0}, {"started_at", 0},
	    {"answered_at", 0}, {"ended_at", 0}, {"duration_s", 0},
	    {"recording_url", 0}, {"fallback_used", 0}, {"summary", 0},
	    {"sentiment", 0}, {"lead_score", 0}, {"extracted", 0},
	    {"latency", 0}, {NULL, 0}}},
    {"call_status", "w_call", "call", false, 17,
	{{"call_sid", W_REQ}, {"business_id", W_REQ}, {"direction", 0},
	    {"from", 0}, {"to", 0}, {"status", W_REQ}, {"started_at", 0},
	    {"answered_at", 0}, {"ended_at", 0}, {"duration_s", 0},
	    {"recording_url", 0}, {"fallback_used", 0}, {NULL, 0}}},
    {"turn", "w_turn", "turn", false, 0,
	{{"call_sid", W_REQ}, {"seq", W_REQ}, {"speaker", W_REQ}, {"heard", 0},
	    {"generated", 0}, {"start_ms", 0}, {"end_ms", 0},
	    {"interrupted", 0}, {"stt_confidence", 0}, {"latency", 0},
	    {"source", 0}, {NULL, 0}}},
    {"call_event", "w_call_event", "call_event", false, 0,
	{{"event_id", W_REQ | W_KEY}, {"call_sid", W_REQ}, {"type", W_REQ},
	    {"at", 0}, {"data", 0}, {NULL, 0}}},
    {"analysis", "w_analysis", "analysis", true, 0,
	{{"call_sid", W_REQ | W_KEY}, {"summary", 0}, {"sentiment", 0},
	    {"lead_score", 0}, {"extracted", 0}, {NULL, 0}}},
    {"appointment", "w_appointment", "appointment", false, 0,
	{{"key", W_REQ | W_KEY}, {"business_id", W_REQ}, {"customer_phone", 0},
	    {"call_sid", 0}, {"starts_at", 0}, {"requested_text", 0},
	    {"address", 0}, {"notes", 0}, {"status", 0}, {NULL, 0}}},
    {"customer", "w_customer", "lead", false, 0,
	{{"business_id", W_REQ}, {"phone", W_REQ}, {"name", 0}, {"source", 0},
	    {"pipeline", 0}, {"stage", 0}, {"lead_score", 0}, {"sentiment", 0},
	    {"deal_type", 0}, {"cities", 0}, {"neighbourhoods", 0},
	    {"rooms_min", 0}, {"rooms_max", 0}, {"budget_min", 0},
	    {"budget_max", 0}, {"property_type", 0}, {"timeline", 0},
	    {"need_parking", 0}, {"need_elevator", 0}, {"need_mamad", 0},
	    {"need_balcony", 0}, {"assigned_user_id", 0}, {NULL, 0}}},
    {"message", "w_message", "message", false, 0,
	{{"message_sid", W_REQ | W_KEY}, {"business_id", W_REQ},
	    {"channel", W_REQ}, {"direction", W_REQ}, {"from", 0}, {"to", 0},
	    {"body", 0}, {"status", 0}, {NULL, 0}}},
    {"note", "w_note", "note", false, 0,
	{{"key", W_REQ | W_KEY}, {"business_id", W_REQ}, {"customer_phone", 0},
	    {"call_sid", 0}, {"author_id", 0}, {"body", W_REQ}, {NULL, 0}}},
    {"task", "w_task", "task", false, 0,
	{{"key", W_REQ | W_KEY}, {"business_id", W_REQ}, {"customer_phone", 0},
	    {"call_sid", 0}, {"title", W_REQ}, {"due_at", 0}, {"done", 0},
	    {"suggested", 0}, {"assignee_id", 0}, {NULL, 0}}},
    {NULL, NULL, NULL, false, 0, {{NULL, 0}}},
};

struct writes_params {
	const char *v[WRITES_PARAMS_MAX];
	char *owned[WRITES_PARAMS_MAX];
	int n;
};

static const struct writes_kind *
writes_find(const char *kind)
{
	for (const struct writes_kind *k = writes_kinds; k->kind != NULL; k++)
		if (kind != NULL && strcmp(k->kind, kind) == 0)
			return k;
	return NULL;
}

static void
writes_params_free(struct writes_params *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->owned[i]);
}

/*
 * Turn payload {kind, key, data} into the kind's parameters. Return the
 * kind, or NULL with why filled when the write is not valid.
 */
static const struct writes_kind *
writes_params(
    json_t *payload, struct writes_params *p, char *why, size_t whylen)
{
	const char *kind = json_string_value(json_object_get(payload, "kind"));
	json_t *jkey = json_object_get(payload, "key");
	json_t *data = json_object_get(payload, "data");
	const struct writes_kind *k = writes_find(kind);

	memset(p, 0, sizeof(*p));
	if (k == NULL) {
		snprintf(why, whylen, "unknown kind %s",
		    kind != NULL ? kind : "(none)");
		return NULL;
	}
	if (!json_is_string(jkey) || json_string_length(jkey) == 0) {
		snprintf(why, whylen, "%s write without a key", kind);
		return NULL;
	}
	if (!json_is_object(data)) {
		snprintf(why, whylen, "%s write without a data object", kind);
		return NULL;
	}
	for (const struct writes_field *f = k->fields; f->name != NULL; f++) {
		json_t *v = json_object_get(data, f->name);
		int i = p->n++;

		if ((v == NULL || json_is_null(v)) && (f->flags & W_KEY))
			v = jkey;
		if (json_is_string(v)) {
			p->v[i] = json_string_value(v);
		} else if (json_is_integer(v)) {
			p->owned[i] =
			    xasprintf("%lld", (long long)json_integer_value(v));
		} else if (json_is_real(v)) {
			p->owned[i] = xasprintf("%.17g", json_real_value(v));
		} else if (json_is_boolean(v)) {
			p->v[i] = json_is_true(v) ? "true" : "false";
		} else if (json_is_object(v) || json_is_array(v)) {
			p->owned[i] = json_dumps(v, JSON_COMPACT);
		}
		if (p->owned[i] != NULL)
			p->v[i] = p->owned[i];
		if (p->v[i] == NULL && (f->flags & W_REQ)) {
			snprintf(
			    why, whylen, "%s write without %s", kind, f->name);
			writes_params_free(p);
			return NULL;
		}
	}
	while (p->n < k->nparams && p->n < WRITES_PARAMS_MAX)
		p->v[p->n++] = NULL;
	return k;
}

/*
 * Apply one write payload. DB_OK: *reply is the STORE_ACK payload (the
 * caller frees it) and the change is published. Otherwise *error names
 * the STORE_ERROR code and why says what was wrong.
 */
enum db_status
writes_apply(struct crm *crm, json_t *payload, json_t **reply,
    const char **error, char *why, size_t whylen)
{
	struct writes_params p;
	const struct writes_kind *k = writes_params(payload, &p, why, whylen);
	const char *key = json_string_value(json_object_get(payload, "key"));
	struct db_res *r = NULL;
	enum db_status st;

	*reply = NULL;
	*error = "invalid";
	if (k == NULL)
		return DB_INVALID;
	st = db_exec(crm->db, k->stmt, p.n, p.v, &r);
	writes_params_free(&p);
	if (st != DB_OK) {
		snprintf(why, whylen, "%s", db_error(crm->db));
		if (st == DB_ERROR)
			*error = "unavailable";
		return st;
	}
	if (db_res_rows(r) == 0) {
		if (k->missing_is_not_found) {
			db_res_free(r);
			*error = "not_found";
			snprintf(
			    why, whylen, "%s write: no such call", k->kind);
			return DB_INVALID;
		}
		crm->cnt.duplicates++;
		*reply = json_pack("{s:s, s:b}", "key", key, "duplicate", 1);
	} else {
		const char *id = db_res_get(r, 0, 0);

		crm->cnt.writes++;
		*reply =
		    json_pack("{s:s, s:o}", "key", key, "id", serve_id(id));
		serve_publish(crm, k->change, id, db_res_get(r, 0, 1),
		    json_object_get(payload, "data"));
	}
	db_res_free(r);
	return DB_OK;
}

/* Handle STORE_WRITE (see the top of the file). */
void
writes_handle(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *key = json_string_value(json_object_get(payload, "key"));
	const char *error = "invalid";
	struct writes_params p;
	json_t *reply = NULL;
	char why[256];
	enum db_status st = DB_DOWN;

	(void)s;
	if (writes_params(payload, &p, why, sizeof(why)) == NULL) {
		crm->cnt.rejected++;
		log_warnx("refused a write (job %llu): %s",
		    (unsigned long long)m->job_id, why);
		serve_error(&q, "invalid", why);
		return;
	}
	writes_params_free(&p);
	if (serve_db_ready(crm))
		st = writes_apply(
		    crm, payload, &reply, &error, why, sizeof(why));
	switch (st) {
	case DB_OK:
		serve_reply(&q, MSG_STORE_ACK, reply);
		break;
	case DB_DOWN:
		if (serve_spool(crm, payload) < 0) {
			serve_error(&q, "unavailable",
			    "database down and spool unavailable");
			break;
		}
		reply = json_pack("{s:s, s:b}", "key", key, "spooled", 1);
		serve_reply(&q, MSG_STORE_ACK, reply);
		break;
	case DB_INVALID:
		crm->cnt.rejected++;
		log_warnx("refused a %s write (job %llu): %s",
		    json_string_value(json_object_get(payload, "kind")),
		    (unsigned long long)m->job_id, why);
		serve_error(&q, error, why);
		break;
	case DB_ERROR:
		serve_error(&q, "unavailable", why);
		break;
	}
	json_decref(reply);
}
