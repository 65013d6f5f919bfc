/*
 * The browser's edits: creates and updates a user makes in the web CRM
 * (customers, stage moves, notes, tasks, appointments, the business's
 * settings, CSV imports), asked as STORE_QUERY {q, business_id, user_id,
 * args} and answered with STORE_REPLY or STORE_ERROR.
 *
 * Why STORE_QUERY and not STORE_WRITE: a STORE_WRITE carries no user (the
 * daemons' writes are the AI's), is spooled while PostgreSQL is down and
 * is answered before anyone can say "not found". A user's edit must be
 * checked like a read (reads.c, reads_caller: the user exists and is
 * active, belongs to the business, and an agent limited to their assigned
 * customers touches only those), must answer not_found for another
 * tenant's id, and is refused with unavailable when the database is down
 * (the browser retries; nothing is spooled).
 *
 * Each edit is one statement (so it commits whole): the row's change and
 * its audit_log entry (user, action, entity, id; migration 0003) are
 * written together, and the answer is built as JSON by PostgreSQL. The
 * edit's fields travel as one jsonb parameter, so "absent keeps, null
 * clears" is "d ? 'field'" in SQL. The gateway validates types and values
 * first; the schema's constraints are the backstop (invalid).
 *
 * Parameters of every statement: $1 the business, $2 the user, $3 the
 * restricted agent (NULL for everyone who sees the whole business), $4 the
 * fields (jsonb), $5 the row's id when the edit names one.
 *
 * Changes: a committed edit publishes STORE_CHANGE (lead, note, task,
 * appointment, business) with the row, like a STORE_WRITE, so browsers see
 * it on /api/events and gateways reload a changed business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

#define EDITS_TASK_COLS                                                \
	"t.id, t.customer_id, t.call_sid, t.title, t.due_at, t.done, " \
	"t.suggested, t.assignee_id, t.created_at, t.updated_at"

#define EDITS_APPT_COLS                                                    \
	"a.id, a.customer_id, a.call_sid, a.starts_at, a.requested_text, " \
	"a.address, a.notes, a.status, a.created_at, a.updated_at"

/* A text array from a jsonb field: [] unless it holds an array. */
#define EDITS_ARRAY(f)                                                     \
	"ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(" f \
	") = 'array' THEN " f " ELSE '[]' END))"

/* Set a customer column from d when d names it (null clears). */
#define EDITS_SET(col, expr) \
	col " = CASE WHEN d ? '" col "' THEN " expr " ELSE k." col " END, "

/* A customer the caller may see: $1 business, $3 restricted agent. */
#define EDITS_VISIBLE_CUSTOMER(id)                                     \
	"SELECT id FROM customers WHERE business_id = $1::bigint AND " \
	"id::text "                                                    \
	"= " id " AND ($3::bigint IS NULL OR assigned_user_id = $3::bigint)"

/* A call the caller may see, named by d's call_id or call_sid. */
#define EDITS_VISIBLE_CALL                                                     \
	"SELECT c.call_sid, c.customer_id FROM calls c LEFT JOIN customers k " \
	"ON k.id = c.customer_id WHERE c.business_id = $1::bigint AND "        \
	"(c.id::text = $4::jsonb->>'call_id' OR c.call_sid = "                 \
	"$4::jsonb->>'call_sid') AND ($3::bigint IS NULL OR "                  \
	"k.assigned_user_id = $3::bigint)"

/* True when d names a call and it is not visible. */
#define EDITS_CALL_MISSING                                                   \
	"(($4::jsonb ? 'call_id' OR $4::jsonb ? 'call_sid') AND NOT EXISTS " \
	"(SELECT 1 FROM c))"

/* The keys of d, for the audit entry. */
#define EDITS_KEYS "(SELECT jsonb_agg(f) FROM jsonb_object_keys($4::jsonb) f)"

#define EDITS_AUDIT                                                     \
	"INSERT INTO audit_log (business_id, user_id, action, entity, " \
	"entity_id, detail) "

const struct db_stmt edits_stmts[] = {
    {"e_customer_create",
	"WITH ins AS (INSERT INTO customers (business_id, phone, name, source, "
	"pipeline, stage, lead_score, sentiment, deal_type, cities, "
	"neighbourhoods, rooms_min, rooms_max, budget_min, budget_max, "
	"property_type, timeline, need_parking, need_elevator, need_mamad, "
	"need_balcony, assigned_user_id) SELECT $1::bigint, d->>'phone', "
	"d->>'name', coalesce(d->>'source', 'web'), coalesce(d->>'pipeline', "
	"'buyer_renter'), coalesce(d->>'stage', 'new'), "
	"(d->>'lead_score')::smallint, d->>'sentiment', d->>'deal_type', "
	"" EDITS_ARRAY("d->'cities'") ", " EDITS_ARRAY(
	    "d->'neighbourhoods'") ", "
				   "(d->>'rooms_min')::numeric, "
				   "(d->>'rooms_max')::numeric, "
				   "(d->>'budget_min')::bigint, "
				   "(d->>'budget_max')::bigint, "
				   "d->>'property_type', d->>'timeline', "
				   "(d->>'need_parking')::boolean, "
				   "(d->>'need_elevator')::boolean, "
				   "(d->>'need_mamad')::boolean, "
				   "(d->>'need_balcony')::boolean, "
				   "coalesce($3::bigint, "
				   "(d->>'assigned_user_id')::bigint) FROM "
				   "(SELECT $4::jsonb AS d) x ON CONFLICT "
				   "(business_id, phone) DO NOTHING RETURNING "
				   "*), "
				   "aud AS (" EDITS_AUDIT
				   "SELECT $1::bigint, $2::bigint, "
				   "'customer.create', 'customer', id, "
				   "jsonb_build_object('fields', " EDITS_KEYS
				   ") FROM ins) "
				   "SELECT CASE WHEN EXISTS (SELECT 1 FROM "
				   "ins) "
				   "THEN (SELECT json_build_object('customer', "
				   "row_to_json(r)) FROM "
				   "(SELECT " READS_CUSTOMER_COLS
				   " FROM ins) r) ELSE json_build_object("
				   "'conflict', (SELECT id FROM customers "
				   "WHERE "
				   "business_id = $1::bigint AND phone = "
				   "$4::jsonb->>'phone')) END",
	4},
    {"e_customer_update",
	"WITH old AS (SELECT id, stage FROM customers WHERE business_id = "
	"$1::bigint AND id = $5::bigint AND ($3::bigint IS NULL OR "
	"assigned_user_id = $3::bigint) FOR UPDATE), "
	"upd AS (UPDATE customers k SET " EDITS_SET("name",
	    "d->>'name'") "source = coalesce(d->>'source', k.source), "
			  "pipeline = coalesce(d->>'pipeline', k.pipeline), "
			  "stage = coalesce(d->>'stage', k.stage), " EDITS_SET(
			      "lead_score",
			      "(d->>'lead_score')::smallint") EDITS_SET("sentim"
									"ent",
			      "d->>'sentiment'") EDITS_SET("deal_type",
			      "d->>'deal_type'") EDITS_SET("cities",
			      EDITS_ARRAY(
				  "d->'cities'")) EDITS_SET("neighbourhoods",
			      EDITS_ARRAY(
				  "d->'neighbourhoods'")) EDITS_SET("rooms_min",
			      "(d->>'rooms_min')::numeric") EDITS_SET("rooms_"
								      "max",
			      "(d->>'rooms_max')::numeric") EDITS_SET("budget_"
								      "min",
			      "(d->>'budget_min')::bigint") EDITS_SET("budget_"
								      "max",
			      "(d->>'budget_max')::bigint") EDITS_SET("property"
								      "_type",
			      "d->>'property_type'") EDITS_SET("timeline",
			      "d->>'timeline'") EDITS_SET("need_parking",
			      "(d->>'need_parking')::boolean")
			      EDITS_SET("need_elevator",
				  "(d->>'need_elevator')::boolean")
				  EDITS_SET("need_mamad",
				      "(d->>'need_mamad')::boolean")
				      EDITS_SET("need_balcony",
					  "(d->>'need_balcony')::boolean")
					  EDITS_SET("assigned_user_id",
					      "(d->>'assigned_user_id')::"
					      "bigint") "updated_at = now() "
							"FROM old, (SELECT "
							"$4::jsonb AS d) x "
							"WHERE "
							"k.id = old.id "
							"RETURNING "
							"k.*, old.stage AS "
							"old_stage), "
							"a1 AS (" EDITS_AUDIT
							"SELECT $1::bigint, "
							"$2::bigint, "
							"'customer.update', "
							"'customer', id, "
							"jsonb_build_object('"
							"fields', "
							"" EDITS_KEYS
							") FROM upd WHERE "
							"EXISTS (SELECT 1 FROM "
							"jsonb_object_keys($4::"
							"jsonb) f WHERE f <> "
							"'stage')), "
							"a2 AS (" EDITS_AUDIT
							"SELECT $1::bigint, "
							"$2::bigint, "
							"'customer.stage', "
							"'customer', id, "
							"jsonb_build_object('"
							"from', "
							"old_stage, 'to', "
							"stage) FROM upd WHERE "
							"old_stage IS DISTINCT "
							"FROM "
							"stage) "
							"SELECT "
							"json_build_object('"
							"customer', "
							"row_to_json(r)) FROM "
							"(SELECT "
							"" READS_CUSTOMER_COLS
							" FROM upd) r",
	5},
    {"e_note_create",
	"WITH k AS (" EDITS_VISIBLE_CUSTOMER(
	    "$5::text") "), "
			"ins AS (INSERT INTO notes (idempotency_key, "
			"business_id, "
			"customer_id, author_id, body) SELECT 'ui:' || "
			"gen_random_uuid(), "
			"$1::bigint, k.id, $2::bigint, $4::jsonb->>'body' FROM "
			"k RETURNING "
			"id, customer_id, call_sid, author_id, body, "
			"created_at), "
			"aud AS (" EDITS_AUDIT "SELECT $1::bigint, $2::bigint, "
			"'note.create', 'customer', customer_id, "
			"jsonb_build_object("
			"'note_id', id) FROM ins), "
			"touch AS (UPDATE customers SET updated_at = now() "
			"WHERE id = "
			"(SELECT customer_id FROM ins)) "
			"SELECT json_build_object('note', row_to_json(ins)) "
			"FROM ins",
	5},
    {"e_task_create",
	"WITH c AS (" EDITS_VISIBLE_CALL "), "
	"k AS (" EDITS_VISIBLE_CUSTOMER(
	    "coalesce($4::jsonb->>'customer_id', "
	    "(SELECT customer_id::text FROM c))") "), "
						  "ins AS (INSERT INTO tasks "
						  "AS t (idempotency_key, "
						  "business_id, "
						  "customer_id, call_sid, "
						  "title, due_at, assignee_id) "
						  "SELECT 'ui:' || "
						  "gen_random_uuid(), "
						  "$1::bigint, (SELECT id FROM "
						  "k), (SELECT call_sid "
						  "FROM c), "
						  "$4::jsonb->>'title', "
						  "merkazia_local_time($4::"
						  "jsonb->>"
						  "'due_at'), "
						  "($4::jsonb->>'assignee_id'):"
						  ":bigint WHERE NOT "
						  "" EDITS_CALL_MISSING " AND "
						  "($4::jsonb->>'customer_id' "
						  "IS NULL OR "
						  "EXISTS (SELECT 1 FROM k)) "
						  "RETURNING " EDITS_TASK_COLS
						  "), "
						  "aud AS (" EDITS_AUDIT
						  "SELECT $1::bigint, "
						  "$2::bigint, "
						  "'task.create', 'task', id, "
						  "jsonb_build_object('"
						  "customer_id', "
						  "customer_id, 'title', "
						  "title) FROM ins) "
						  "SELECT "
						  "json_build_object('task', "
						  "row_to_json(ins)) FROM ins",
	4},
    {"e_task_update",
	"WITH old AS (SELECT t.id FROM tasks t LEFT JOIN customers k ON k.id "
	"= t.customer_id WHERE t.business_id = $1::bigint AND t.id = "
	"$5::bigint AND ($3::bigint IS NULL OR t.assignee_id = $3::bigint OR "
	"k.assigned_user_id = $3::bigint) FOR UPDATE OF t), "
	"upd AS (UPDATE tasks t SET title = coalesce(d->>'title', t.title), "
	"due_at = CASE WHEN d ? 'due_at' THEN merkazia_local_time(d->>"
	"'due_at') ELSE t.due_at END, done = coalesce((d->>'done')::boolean, "
	"t.done), assignee_id = CASE WHEN d ? 'assignee_id' THEN "
	"(d->>'assignee_id')::bigint ELSE t.assignee_id END, updated_at = "
	"now() FROM old, (SELECT $4::jsonb AS d) x WHERE t.id = old.id "
	"RETURNING " EDITS_TASK_COLS "), "
	"aud AS (" EDITS_AUDIT "SELECT $1::bigint, $2::bigint, "
	"'task.update', 'task', id, jsonb_build_object('customer_id', "
	"customer_id, 'fields', " EDITS_KEYS ") FROM upd) "
	"SELECT json_build_object('task', row_to_json(upd)) FROM upd",
	5},
    {"e_appointment_create",
	"WITH c AS (" EDITS_VISIBLE_CALL "), "
	"k AS (" EDITS_VISIBLE_CUSTOMER(
	    "($4::jsonb->>'customer_id')") "), "
					   "ins AS (INSERT INTO appointments "
					   "AS a (idempotency_key, "
					   "business_id, customer_id, "
					   "call_sid, starts_at, "
					   "requested_text, "
					   "address, notes, status) SELECT "
					   "'ui:' || gen_random_uuid(), "
					   "$1::bigint, k.id, (SELECT call_sid "
					   "FROM c), merkazia_local_time("
					   "$4::jsonb->>'starts_at'), "
					   "$4::jsonb->>'requested_text', "
					   "$4::jsonb->>'address', "
					   "$4::jsonb->>'notes', "
					   "coalesce($4::jsonb->>"
					   "'status', 'confirmed') FROM k "
					   "WHERE NOT " EDITS_CALL_MISSING
					   " RETURNING " EDITS_APPT_COLS "), "
					   "aud AS (" EDITS_AUDIT
					   "SELECT $1::bigint, $2::bigint, "
					   "'appointment.create', "
					   "'appointment', id, "
					   "jsonb_build_object("
					   "'customer_id', customer_id, "
					   "'status', status) FROM ins) "
					   "SELECT "
					   "json_build_object('appointment', "
					   "row_to_json(ins)) FROM ins",
	4},
    {"e_appointment_update",
	"WITH old AS (SELECT a.id, a.status FROM appointments a LEFT JOIN "
	"customers k ON k.id = a.customer_id WHERE a.business_id = $1::bigint "
	"AND a.id = $5::bigint AND ($3::bigint IS NULL OR k.assigned_user_id "
	"= $3::bigint) FOR UPDATE OF a), "
	"upd AS (UPDATE appointments a SET status = coalesce(d->>'status', "
	"a.status), starts_at = CASE WHEN d ? 'starts_at' THEN "
	"merkazia_local_time(d->>'starts_at') ELSE a.starts_at END, address = "
	"CASE WHEN d ? 'address' THEN d->>'address' ELSE a.address END, "
	"notes = CASE WHEN d ? 'notes' THEN d->>'notes' ELSE a.notes END, "
	"requested_text = CASE WHEN d ? 'requested_text' THEN "
	"d->>'requested_text' ELSE a.requested_text END, updated_at = now() "
	"FROM old, (SELECT $4::jsonb AS d) x WHERE a.id = old.id RETURNING "
	"" EDITS_APPT_COLS ", old.status AS old_status), "
	"aud AS (" EDITS_AUDIT "SELECT $1::bigint, $2::bigint, "
	"'appointment.update', 'appointment', id, jsonb_build_object("
	"'customer_id', customer_id, 'fields', " EDITS_KEYS ") || CASE WHEN "
	"old_status IS DISTINCT FROM status THEN jsonb_build_object('from', "
	"old_status, 'to', status) ELSE '{}' END FROM upd) "
	"SELECT json_build_object('appointment', row_to_json(r)) FROM (SELECT "
	"id, customer_id, call_sid, starts_at, requested_text, address, "
	"notes, status, created_at, updated_at FROM upd) r",
	5},
    {"e_settings_update",
	"WITH upd AS (UPDATE businesses b SET greeting = coalesce("
	"d->>'greeting', b.greeting), agent_instructions = coalesce("
	"d->>'agent_instructions', b.agent_instructions), voice = coalesce("
	"d->>'voice', b.voice), business_hours = CASE WHEN jsonb_typeof("
	"d->'business_hours') = 'object' THEN d->'business_hours' ELSE "
	"b.business_hours END, transfer_number = CASE WHEN d ? "
	"'transfer_number' THEN d->>'transfer_number' ELSE b.transfer_number "
	"END, agents_see = coalesce(d->>'agents_see', b.agents_see), "
	"updated_at = now() FROM (SELECT $4::jsonb AS d) x WHERE b.id = "
	"$1::bigint AND $3::bigint IS NULL RETURNING b.*), "
	"aud AS (" EDITS_AUDIT "SELECT $1::bigint, $2::bigint, "
	"'settings.update', 'business', id, jsonb_build_object('fields', "
	"" EDITS_KEYS ") FROM upd) "
	"SELECT json_build_object('business', row_to_json(upd), 'numbers', "
	"coalesce((SELECT json_agg(n.number ORDER BY n.number) FROM "
	"business_numbers n WHERE n.business_id = upd.id), '[]')) FROM upd",
	4},
    {"e_import",
	"WITH d AS (SELECT * FROM jsonb_to_recordset($4::jsonb->'rows') AS "
	"r(line integer, phone text, name text, source text, pipeline text, "
	"stage text, deal_type text, cities jsonb, neighbourhoods jsonb, "
	"rooms_min numeric, rooms_max numeric, budget_min bigint, budget_max "
	"bigint, property_type text, timeline text)), "
	"o AS (SELECT $4::jsonb->>'on_existing' AS mode, coalesce(("
	"$4::jsonb->>'dry_run')::boolean, true) AS dry, $4::jsonb->"
	"'defaults' AS def WHERE $3::bigint IS NULL), "
	"ex AS (SELECT d.line, k.id FROM d JOIN customers k ON k.business_id "
	"= $1::bigint AND k.phone = d.phone), "
	"ins AS (INSERT INTO customers (business_id, phone, name, source, "
	"pipeline, stage, deal_type, cities, neighbourhoods, rooms_min, "
	"rooms_max, budget_min, budget_max, property_type, timeline) SELECT "
	"$1::bigint, d.phone, d.name, coalesce(d.source, o.def->>'source', "
	"'web'), coalesce(d.pipeline, o.def->>'pipeline', 'buyer_renter'), "
	"coalesce(d.stage, o.def->>'stage', 'new'), d.deal_type, "
	"" EDITS_ARRAY("d.cities") ", " EDITS_ARRAY(
	    "d.neighbourhoods") ", d.rooms_min, "
				"d.rooms_max, d.budget_min, d.budget_max, "
				"d.property_type, d.timeline FROM d, o WHERE "
				"NOT o.dry AND NOT EXISTS (SELECT 1 FROM ex "
				"WHERE ex.line = d.line) ON CONFLICT "
				"(business_id, phone) DO NOTHING RETURNING "
				"id, phone), "
				"upd AS (UPDATE customers k SET name = "
				"coalesce(d.name, k.name), "
				"source = coalesce(d.source, k.source), "
				"pipeline = coalesce("
				"d.pipeline, k.pipeline), stage = "
				"coalesce(d.stage, k.stage), "
				"deal_type = coalesce(d.deal_type, "
				"k.deal_type), cities = CASE WHEN "
				"jsonb_typeof(d.cities) = 'array' "
				"THEN " EDITS_ARRAY(
				    "d.cities") " ELSE k.cities END, "
						"neighbourhoods = CASE WHEN "
						"jsonb_typeof("
						"d.neighbourhoods) = 'array' "
						"THEN " EDITS_ARRAY(
						    "d.neighbourhoods") " ELSE "
									"k."
									"neighb"
									"ourhoo"
									"ds "
									"END, "
									"rooms_"
									"min = "
									"coales"
									"ce(d."
									"rooms_"
									"min, "
									"k."
									"rooms_"
									"min), "
									"rooms_"
									"max = "
									"coales"
									"ce(d."
									"rooms_"
									"max, "
									"k."
									"rooms_"
									"max), "
									"budget"
									"_min "
									"= "
									"coales"
									"ce(d."
									"budget"
									"_min, "
									"k."
									"budget"
									"_min),"
									" budge"
									"t_max "
									"= "
									"coales"
									"ce(d."
									"budget"
									"_max, "
									"k."
									"budget"
									"_max),"
									" prope"
									"rty_"
									"type "
									"= "
									"coales"
									"ce("
									"d."
									"proper"
									"ty_"
									"type, "
									"k."
									"proper"
									"ty_"
									"type),"
									" timel"
									"ine = "
									"coales"
									"ce(d."
									"timeli"
									"ne, "
									"k."
									"timeli"
									"ne), "
									"update"
									"d_at "
									"= "
									"now() "
									"FROM "
									"d, o "
									"WHERE "
									"NOT "
									"o.dry "
									"AND "
									"o."
									"mode "
									"= "
									"'updat"
									"e' "
									"AND "
									"k."
									"busine"
									"ss_id "
									"= "
									"$1::"
									"bigint"
									" AND "
									"k."
									"phone "
									"= "
									"d."
									"phone "
									"RETURN"
									"ING "
									"k.id),"
									" "
									"res "
									"AS "
									"(SELEC"
									"T "
									"d."
									"line, "
									"d."
									"phone,"
									" d."
									"name, "
									"CASE "
									"WHEN "
									"ex.id "
									"IS "
									"NULL "
									"THEN "
									"'creat"
									"e' "
									"WHEN "
									"o."
									"mode "
									"= "
									"'updat"
									"e' "
									"THEN "
									"'updat"
									"e' "
									"ELSE "
									"'skip'"
									" END "
									"AS "
									"action"
									", "
									"coales"
									"ce(ex."
									"id, "
									"(SELEC"
									"T "
									"i.id "
									"FROM "
									"ins i "
									"WHERE "
									"i."
									"phone "
									"= "
									"d."
									"phone)"
									") AS "
									"id, "
									"CASE "
									"WHEN "
									"ex.id "
									"IS "
									"NOT "
									"NULL "
									"AND "
									"o."
									"mode "
									"IS "
									"DISTIN"
									"CT "
									"FROM "
									"'updat"
									"e' "
									"THEN "
									"'exist"
									"s' "
									"END "
									"AS "
									"error "
									"FROM "
									"d "
									"CROSS "
									"JOIN "
									"o "
									"LEFT "
									"JOIN "
									"ex ON "
									"ex."
									"line "
									"= "
									"d."
									"line),"
									" "
									"aud "
									"AS "
									"(" EDITS_AUDIT
									"SELECT"
									" $1::"
									"bigint"
									", "
									"$2::"
									"bigint"
									", "
									"'impor"
									"t."
									"commit"
									"', "
									"'impor"
									"t', "
									"NULL, "
									"jsonb_"
									"build_"
									"object"
									"('"
									"counts"
									"', "
									"coales"
									"ce(("
									"SELECT"
									" jsonb"
									"_objec"
									"t_agg("
									"action"
									", n) "
									"FROM "
									"(SELEC"
									"T "
									"action"
									", "
									"count("
									"*) AS "
									"n "
									"FROM "
									"res "
									"GROUP "
									"BY "
									"action"
									") z), "
									"'{}'),"
									" '"
									"create"
									"d', "
									"(SELEC"
									"T "
									"count("
									"*) "
									"FROM "
									"ins), "
									"'updat"
									"ed', "
									"(SELEC"
									"T "
									"count("
									"*) "
									"FROM "
									"upd)) "
									"FROM "
									"o "
									"WHERE "
									"NOT "
									"o.dry)"
									" "
									"SELECT"
									" json_"
									"build_"
									"object"
									"('"
									"rows',"
									" coale"
									"sce(("
									"SELECT"
									" json_"
									"agg("
									"res "
									"ORDER "
									"BY "
									"res."
									"line) "
									"FROM "
									"res), "
									"'[]')"
									")",
	4},
    {NULL, NULL, 0},
};

/* An edit: its STORE_QUERY name, statement, whether it names a row ($5),
 * whether only owners and admins may make it, and the change it
 * publishes (the answer's member holding the row). */
struct edits_kind {
	const char *q;
	const char *stmt;
	bool has_id;
	bool manager;
	const char *member;
	const char *change;
};

static const struct edits_kind edits_kinds[] = {
    {"customer_create", "e_customer_create", false, false, "customer", "lead"},
    {"customer_update", "e_customer_update", true, false, "customer", "lead"},
    {"note_create", "e_note_create", true, false, "note", "note"},
    {"task_create", "e_task_create", false, false, "task", "task"},
    {"task_update", "e_task_update", true, false, "task", "task"},
    {"appointment_create", "e_appointment_create", false, false, "appointment",
	"appointment"},
    {"appointment_update", "e_appointment_update", true, false, "appointment",
	"appointment"},
    {"settings_update", "e_settings_update", false, true, "business",
	"business"},
    {"import", "e_import", false, true, NULL, NULL},
    {NULL, NULL, false, false, NULL, NULL},
};

/* Publish the change an edit made: the answer's row under member. */
static void
edits_publish(struct crm *crm, const struct edits_kind *k,
    const struct reads_caller *c, json_t *answer)
{
	json_t *row = json_object_get(answer, k->member);
	json_t *id = json_object_get(row, "id");
	char ib[32];

	if (k->change == NULL || !json_is_object(row) || !json_is_integer(id))
		return;
	snprintf(ib, sizeof(ib), "%lld", (long long)json_integer_value(id));
	serve_publish(crm, k->change, ib, c->biz, row);
}

/* Run edit k and answer; conflict and no row are told apart. */
static void
edits_run(struct crm *crm, const struct crm_req *q, const struct edits_kind *k,
    const struct reads_caller *c, const char *data, const char *id)
{
	const char *p[5] = {c->biz, c->user, c->assigned, data, id};
	struct db_res *r = NULL;
	enum db_status st;
	json_t *j;

	if (!serve_db_ready(crm)) {
		serve_error(q, "unavailable", "database unavailable");
		return;
	}
	if ((st = db_exec(crm->db, k->stmt, k->has_id ? 5 : 4, p, &r)) !=
	    DB_OK) {
		if (st == DB_INVALID) {
			crm->cnt.rejected++;
			log_warnx("refused edit %s (job %llu): %s", k->q,
			    (unsigned long long)q->m->job_id,
			    db_error(crm->db));
		}
		serve_db_failed(crm, q, st);
		return;
	}
	if ((j = serve_json_cell(crm, q, r, "row")) == NULL)
		return;
	if (json_object_get(j, "conflict") != NULL) {
		json_t *e =
		    json_pack("{s:s, s:s, s:O}", "error", "conflict", "message",
			"the row exists", "id", json_object_get(j, "conflict"));

		crm->cnt.refused++;
		serve_reply(q, MSG_STORE_ERROR, e);
		json_decref(e);
		json_decref(j);
		return;
	}
	crm->cnt.writes++;
	edits_publish(crm, k, c, j);
	serve_reply(q, MSG_STORE_REPLY, j);
	json_decref(j);
}

/*
 * Answer the edit what names, for caller c, with args {id?, data}. Return
 * false when what is not an edit (the caller answers "unknown query").
 */
bool
edits_query(struct crm *crm, const struct crm_req *q, const char *what,
    json_t *args, const struct reads_caller *c)
{
	const struct edits_kind *k = NULL;
	json_t *data = json_object_get(args, "data");
	json_t *jid = json_object_get(args, "id");
	char idb[32];
	char *text;

	if (strcmp(what, "user_create") == 0) {
		auth_user_create(crm, q, args, c);
		return true;
	}
	if (strcmp(what, "user_update") == 0) {
		auth_user_update(crm, q, args, c);
		return true;
	}
	for (const struct edits_kind *e = edits_kinds; e->q != NULL; e++)
		if (strcmp(e->q, what) == 0)
			k = e;
	if (k == NULL)
		return false;
	if (k->manager && !reads_is_manager(c)) {
		crm->cnt.refused++;
		log_warnx("refused edit %s (job %llu): owners and admins only",
		    what, (unsigned long long)q->m->job_id);
		serve_error(q, "forbidden", "owners and admins only");
		return true;
	}
	if (!json_is_object(data) ||
	    (k->has_id &&
		(!json_is_integer(jid) || json_integer_value(jid) <= 0))) {
		crm->cnt.refused++;
		serve_error(q, "invalid", "an edit needs data (and an id)");
		return true;
	}
	/* Only owners and admins assign customers (the gateway checks it
	 * first; this keeps it true for any client). */
	if (strcmp(c->role, "agent") == 0 &&
	    json_object_get(data, "assigned_user_id") != NULL &&
	    (strcmp(what, "customer_create") == 0 ||
		strcmp(what, "customer_update") == 0)) {
		crm->cnt.refused++;
		serve_error(q, "forbidden", "agents do not assign customers");
		return true;
	}
	snprintf(idb, sizeof(idb), "%lld",
	    json_is_integer(jid) ? (long long)json_integer_value(jid) : 0LL);
	text = json_dumps(data, JSON_COMPACT);
	if (text == NULL) {
		serve_error(q, "invalid", "unreadable data");
		return true;
	}
	edits_run(crm, q, k, c, text, idb);
	free(text);
	return true;
}
