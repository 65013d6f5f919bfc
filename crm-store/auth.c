/*
 * Browser authentication: AUTH_LOGIN, AUTH_SESSION, AUTH_LOGOUT,
 * AUTH_PASSWORD, and the admin account from the settings. The only file
 * that includes sodium.h (R14).
 *
 * Passwords are hashed with libsodium's crypto_pwhash_str (Argon2id,
 * interactive limits: about 64 MiB and a tenth of a second), here in
 * crm-store and never on the gateway's audio loop. A login for an unknown
 * email still runs one verification, so the answer takes as long as for a
 * wrong password; both answer STORE_ERROR forbidden with the same
 * message, are counted (login_failed in STORE_SYSQUERY stats) and go to
 * audit_log.
 *
 * Sessions: a session token is 32 random bytes in hex, given to the
 * browser once; the database keeps only its BLAKE2b hash, so a copy of the
 * sessions table opens nothing. Sessions expire after
 * MERKAZIA_SESSION_TTL_HOURS. A password change ends the user's other
 * sessions.
 *
 * Users: owners and admins create users of their business (a one-time
 * password drawn here, hashed, and returned once), change their role and
 * deactivate them (their sessions end); asked as STORE_QUERY user_create
 * and user_update through edits.c, checked like any read (reads_caller).
 *
 * Secrets: passwords, tokens and hashes are never logged.
 * MERKAZIA_ADMIN_PASSWORD is a secret setting (redacted by the logger);
 * the admin's hash is rewritten only when the password changed.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

#define AUTH_TOKEN_BYTES  32
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 256
#define AUTH_FAILED_TEXT  "wrong email or password"
#define AUTH_ONE_TIME_LEN 16 /* a new user's first password */

const struct db_stmt auth_stmts[] = {
    {"a_user_by_email",
	"SELECT id, business_id, email, name, role, password_hash FROM users "
	"WHERE lower(email) = lower($1) AND active",
	1},
    {"a_session_new",
	"INSERT INTO sessions (token_hash, user_id, ip, expires_at) VALUES "
	"($1, $2::bigint, $3, now() + make_interval(hours => $4::integer))",
	4},
    {"a_logged_in",
	"UPDATE users SET last_login_at = now() WHERE id = "
	"$1::bigint",
	1},
    {"a_audit",
	"INSERT INTO audit_log (business_id, user_id, action, detail) VALUES "
	"($1::bigint, $2::bigint, $3, coalesce($4::jsonb, '{}'))",
	4},
    {"a_session_get",
	"UPDATE sessions s SET last_seen_at = now() FROM users u WHERE "
	"s.token_hash = $1 AND s.expires_at > now() AND u.id = s.user_id AND "
	"u.active RETURNING u.id, u.business_id, u.email, u.name, u.role, "
	"u.password_hash",
	1},
    {"a_session_del",
	"DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id", 1},
    {"a_password_set",
	"UPDATE users SET password_hash = $2 WHERE id = $1::bigint", 2},
    {"a_sessions_others",
	"DELETE FROM sessions WHERE user_id = $1::bigint AND token_hash <> $2",
	2},
    {"a_admin_upsert",
	"INSERT INTO users (email, name, password_hash, role) VALUES ($1, "
	"'admin', $2, 'admin') ON CONFLICT ((lower(email))) DO UPDATE SET "
	"password_hash = EXCLUDED.password_hash, role = 'admin', "
	"business_id = NULL, active = true",
	2},
    {"a_user_create",
	"WITH ins AS (INSERT INTO users (business_id, email, name, "
	"password_hash, role) VALUES ($1::bigint, $3, coalesce($4, ''), $6, "
	"$5) ON CONFLICT ((lower(email))) DO NOTHING RETURNING id, "
	"business_id, email, name, role, active, created_at, last_login_at), "
	"aud AS (INSERT INTO audit_log (business_id, user_id, action, entity, "
	"entity_id, detail) SELECT $1::bigint, $2::bigint, 'user.create', "
	"'user', id, jsonb_build_object('role', role) FROM ins) "
	"SELECT row_to_json(ins) FROM ins",
	6},
    {"a_user_update",
	"WITH upd AS (UPDATE users u SET name = coalesce(d->>'name', u.name), "
	"role = coalesce(d->>'role', u.role), active = coalesce(("
	"d->>'active')::boolean, u.active) FROM (SELECT $4::jsonb AS d) x "
	"WHERE u.business_id = $1::bigint AND u.id = $3::bigint AND u.role <> "
	"'admin' RETURNING u.id, u.business_id, u.email, u.name, u.role, "
	"u.active, u.created_at, u.last_login_at), "
	"gone AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM upd "
	"WHERE NOT active)), "
	"aud AS (INSERT INTO audit_log (business_id, user_id, action, entity, "
	"entity_id, detail) SELECT $1::bigint, $2::bigint, 'user.update', "
	"'user', id, $4::jsonb FROM upd) "
	"SELECT row_to_json(upd) FROM upd",
	4},
    {NULL, NULL, 0},
};

/* Prepare libsodium. Return 0 or -1 (logged). */
int
auth_init(void)
{
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		return -1;
	}
	return 0;
}

/* Hash a password into out (crypto_pwhash_STRBYTES). Return 0 or -1. */
static int
auth_hash(const char *pw, char out[crypto_pwhash_STRBYTES])
{
	if (crypto_pwhash_str(out, pw, strlen(pw),
		crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		log_warnx("password hashing failed (out of memory?)");
		return -1;
	}
	return 0;
}

static bool
auth_is_match(const char *hash, const char *pw)
{
	return hash != NULL &&
	       crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

/* The stored form of a session token: its BLAKE2b-256 hash in hex. */
static void
auth_token_hash(const char *token, char out[2 * 32 + 1])
{
	unsigned char h[32];

	crypto_generichash(
	    h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(out, 2 * 32 + 1, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

static void
auth_audit(struct crm *crm, const char *business_id, const char *user_id,
    const char *action, json_t *detail)
{
	char *d = detail != NULL ? json_dumps(detail, JSON_COMPACT) : NULL;
	const char *p[4] = {business_id, user_id, action, d};

	(void)db_exec(crm->db, "a_audit", 4, p, NULL);
	free(d);
}

static json_t *
auth_user_json(const struct db_res *r)
{
	return json_pack("{s:o, s:o, s:s, s:s, s:s}", "id",
	    serve_id(db_res_get(r, 0, 0)), "business_id",
	    serve_id(db_res_get(r, 0, 1)), "email", db_res_get(r, 0, 2), "name",
	    db_res_get(r, 0, 3), "role", db_res_get(r, 0, 4));
}

/* Run one verification against a throw-away hash (timing of a miss). */
static void
auth_dummy_verify(const char *pw)
{
	static char dummy[crypto_pwhash_STRBYTES];

	if (dummy[0] == '\0' && auth_hash("merkazia-no-such-user", dummy) < 0)
		return;
	(void)auth_is_match(dummy, pw);
}

static bool
auth_db_ready(const struct crm_req *q)
{
	if (db_is_up(q->crm->db))
		return true;
	serve_error(q, "unavailable", "database unavailable");
	return false;
}

/* Handle AUTH_LOGIN {email, password, ip}. */
void
auth_login(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *email =
	    json_string_value(json_object_get(payload, "email"));
	const char *pw =
	    json_string_value(json_object_get(payload, "password"));
	const char *ip = json_string_value(json_object_get(payload, "ip"));
	char token[2 * AUTH_TOKEN_BYTES + 1], th[2 * 32 + 1], ttl[32];
	unsigned char raw[AUTH_TOKEN_BYTES];
	struct db_res *r = NULL;
	json_t *reply, *detail;

	(void)s;
	if (email == NULL || pw == NULL || strlen(pw) > AUTH_PASSWORD_MAX) {
		serve_error(&q, "invalid", "email and password are required");
		return;
	}
	if (!auth_db_ready(&q))
		return;
	{
		const char *p[1] = {email};

		if (db_exec(crm->db, "a_user_by_email", 1, p, &r) != DB_OK) {
			serve_error(&q, "unavailable", "database unavailable");
			return;
		}
	}
	if (db_res_rows(r) == 0)
		auth_dummy_verify(pw);
	if (db_res_rows(r) == 0 || !auth_is_match(db_res_get(r, 0, 5), pw)) {
		crm->cnt.login_failed++;
		detail = json_pack("{s:s, s:s?}", "email", email, "ip", ip);
		auth_audit(crm, db_res_get(r, 0, 1), db_res_get(r, 0, 0),
		    "login_failed", detail);
		json_decref(detail);
		log_warnx("login failed (%lu so far)", crm->cnt.login_failed);
		db_res_free(r);
		serve_error(&q, "forbidden", AUTH_FAILED_TEXT);
		return;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(token, sizeof(token), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	auth_token_hash(token, th);
	snprintf(ttl, sizeof(ttl), "%ld",
	    config_int(crm->d->cfg, "MERKAZIA_SESSION_TTL_HOURS"));
	{
		const char *p[4] = {th, db_res_get(r, 0, 0), ip, ttl};
		const char *u[1] = {db_res_get(r, 0, 0)};

		if (db_exec(crm->db, "a_session_new", 4, p, NULL) != DB_OK ||
		    db_exec(crm->db, "a_logged_in", 1, u, NULL) != DB_OK) {
			db_res_free(r);
			serve_error(&q, "unavailable", "database unavailable");
			return;
		}
	}
	crm->cnt.login_ok++;
	detail = json_pack("{s:s?}", "ip", ip);
	auth_audit(
	    crm, db_res_get(r, 0, 1), db_res_get(r, 0, 0), "login", detail);
	json_decref(detail);
	reply = json_pack(
	    "{s:s, s:o}", "session", token, "user", auth_user_json(r));
	db_res_free(r);
	serve_reply(&q, MSG_STORE_REPLY, reply);
	json_decref(reply);
	sodium_memzero(token, sizeof(token));
}

/* Look up the live session of payload's token; NULL after answering
 * STORE_ERROR. th receives the token's hash. */
static struct db_res *
auth_session_of(const struct crm_req *q, json_t *payload, char *th)
{
	const char *tok =
	    json_string_value(json_object_get(payload, "session"));
	const char *p[1] = {th};
	struct db_res *r = NULL;

	if (tok == NULL || strlen(tok) != (size_t)2 * AUTH_TOKEN_BYTES) {
		serve_error(q, "forbidden", "no valid session");
		return NULL;
	}
	if (!auth_db_ready(q))
		return NULL;
	auth_token_hash(tok, th);
	if (db_exec(q->crm->db, "a_session_get", 1, p, &r) != DB_OK) {
		serve_error(q, "unavailable", "database unavailable");
		return NULL;
	}
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		serve_error(q, "forbidden", "no valid session");
		return NULL;
	}
	return r;
}

/* Handle AUTH_SESSION {session}: answer the session's user. */
void
auth_session(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	const struct crm_req q = {arg, m, rx};
	char th[2 * 32 + 1];
	struct db_res *r = auth_session_of(&q, payload, th);
	json_t *reply;

	(void)s;
	if (r == NULL)
		return;
	reply = json_pack("{s:o}", "user", auth_user_json(r));
	db_res_free(r);
	serve_reply(&q, MSG_STORE_REPLY, reply);
	json_decref(reply);
}

/* Handle AUTH_LOGOUT {session}: end it (acknowledged even if unknown). */
void
auth_logout(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *tok =
	    json_string_value(json_object_get(payload, "session"));
	char th[2 * 32 + 1];
	const char *p[1] = {th};
	json_t *reply;

	(void)s;
	if (tok == NULL) {
		serve_error(&q, "invalid", "session is required");
		return;
	}
	if (!auth_db_ready(&q))
		return;
	auth_token_hash(tok, th);
	if (db_exec(crm->db, "a_session_del", 1, p, NULL) != DB_OK) {
		serve_error(&q, "unavailable", "database unavailable");
		return;
	}
	reply = json_pack("{s:s}", "key", "logout");
	serve_reply(&q, MSG_STORE_ACK, reply);
	json_decref(reply);
}

/* Handle AUTH_PASSWORD {session, old, new}. */
void
auth_password(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct crm *crm = arg;
	const struct crm_req q = {crm, m, rx};
	const char *old = json_string_value(json_object_get(payload, "old"));
	const char *neu = json_string_value(json_object_get(payload, "new"));
	char th[2 * 32 + 1], hash[crypto_pwhash_STRBYTES];
	struct db_res *r;
	json_t *reply;

	(void)s;
	if (old == NULL || neu == NULL || strlen(neu) < AUTH_PASSWORD_MIN ||
	    strlen(neu) > AUTH_PASSWORD_MAX) {
		serve_error(&q, "invalid",
		    "old and new passwords are required; the new one of 8 "
		    "to 256 characters");
		return;
	}
	if ((r = auth_session_of(&q, payload, th)) == NULL)
		return;
	if (!auth_is_match(db_res_get(r, 0, 5), old)) {
		crm->cnt.login_failed++;
		auth_audit(crm, db_res_get(r, 0, 1), db_res_get(r, 0, 0),
		    "password_change_failed", NULL);
		db_res_free(r);
		serve_error(&q, "forbidden", AUTH_FAILED_TEXT);
		return;
	}
	if (auth_hash(neu, hash) < 0) {
		db_res_free(r);
		serve_error(&q, "unavailable", "cannot hash the password");
		return;
	}
	{
		const char *p[2] = {db_res_get(r, 0, 0), hash};
		const char *o[2] = {db_res_get(r, 0, 0), th};

		if (db_exec(crm->db, "a_password_set", 2, p, NULL) != DB_OK ||
		    db_exec(crm->db, "a_sessions_others", 2, o, NULL) !=
			DB_OK) {
			db_res_free(r);
			serve_error(&q, "unavailable", "database unavailable");
			return;
		}
	}
	auth_audit(crm, db_res_get(r, 0, 1), db_res_get(r, 0, 0),
	    "password_changed", NULL);
	db_res_free(r);
	sodium_memzero(hash, sizeof(hash));
	reply = json_pack("{s:s}", "key", "password");
	serve_reply(&q, MSG_STORE_ACK, reply);
	json_decref(reply);
}

/*
 * Make sure the admin of MERKAZIA_ADMIN_EMAIL / MERKAZIA_ADMIN_PASSWORD
 * (when both are set) exists with that password. Return 0, or -1 when the
 * database refused.
 */
int
auth_admin(struct crm *crm)
{
	const char *email = config_str(crm->d->cfg, "MERKAZIA_ADMIN_EMAIL");
	const char *pw = config_str(crm->d->cfg, "MERKAZIA_ADMIN_PASSWORD");
	char hash[crypto_pwhash_STRBYTES];
	const char *p[1] = {email};
	const char *u[2] = {email, hash};
	struct db_res *r = NULL;
	bool same;

	if (email == NULL || pw == NULL || *email == '\0' || *pw == '\0')
		return 0;
	if (db_exec(crm->db, "a_user_by_email", 1, p, &r) != DB_OK)
		return -1;
	same = db_res_rows(r) > 0 &&
	       strcmp(db_res_get(r, 0, 4), "admin") == 0 &&
	       auth_is_match(db_res_get(r, 0, 5), pw);
	db_res_free(r);
	if (same)
		return 0;
	if (auth_hash(pw, hash) < 0 ||
	    db_exec(crm->db, "a_admin_upsert", 2, u, NULL) != DB_OK)
		return -1;
	sodium_memzero(hash, sizeof(hash));
	log_info("admin account %s set from the settings", email);
	return 0;
}

/* Refuse a user edit, logged and counted. */
static void
auth_user_refuse(struct crm *crm, const struct crm_req *q, const char *error,
    const char *why)
{
	crm->cnt.refused++;
	log_warnx("refused a user edit (job %llu): %s",
	    (unsigned long long)q->m->job_id, why);
	serve_error(q, error, why);
}

/* Answer a user edit whose statement failed with st. */
static void
auth_user_failed(struct crm *crm, const struct crm_req *q, enum db_status st)
{
	if (st == DB_INVALID)
		auth_user_refuse(crm, q, "invalid", db_error(crm->db));
	else
		serve_db_failed(crm, q, st);
}

/* Answer a user edit's result row (r's first column, JSON) as {user}. */
static void
auth_user_answer(const struct crm_req *q, struct db_res *r, const char *pw)
{
	json_t *u = json_loads(db_res_get(r, 0, 0), 0, NULL);
	json_t *reply;

	if (u == NULL) {
		serve_error(q, "unavailable", "unreadable answer");
		return;
	}
	reply = json_pack("{s:o}", "user", u);
	if (pw != NULL)
		json_object_set_new(reply, "password", json_string(pw));
	serve_reply(q, MSG_STORE_REPLY, reply);
	json_decref(reply);
}

/*
 * Create a user of c's business (STORE_QUERY user_create, args {data:
 * {email, name, role}}): owners and admins only, role owner or agent. A
 * one-time password is drawn here, hashed, and returned once in the
 * answer ({user, password}); it is never logged or stored in clear. An
 * email in use (by anyone) is answered conflict.
 */
void
auth_user_create(struct crm *crm, const struct crm_req *q, json_t *args,
    const struct reads_caller *c)
{
	static const char alphabet[] =
	    "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	json_t *data = json_object_get(args, "data");
	const char *email = json_string_value(json_object_get(data, "email"));
	const char *name = json_string_value(json_object_get(data, "name"));
	const char *role = json_string_value(json_object_get(data, "role"));
	char pw[AUTH_ONE_TIME_LEN + 1], hash[crypto_pwhash_STRBYTES];
	const char *p[6] = {c->biz, c->user, email, name, role, hash};
	struct db_res *r = NULL;
	enum db_status st;

	if (!reads_is_manager(c)) {
		auth_user_refuse(crm, q, "forbidden", "owners and admins only");
		return;
	}
	if (email == NULL || strchr(email, '@') == NULL || role == NULL ||
	    (strcmp(role, "owner") != 0 && strcmp(role, "agent") != 0)) {
		auth_user_refuse(crm, q, "invalid",
		    "a user needs an email and a role (owner or agent)");
		return;
	}
	if (!auth_db_ready(q))
		return;
	for (size_t i = 0; i < AUTH_ONE_TIME_LEN; i++)
		pw[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	pw[AUTH_ONE_TIME_LEN] = '\0';
	if (auth_hash(pw, hash) < 0) {
		sodium_memzero(pw, sizeof(pw));
		serve_error(q, "unavailable", "cannot hash the password");
		return;
	}
	st = db_exec(crm->db, "a_user_create", 6, p, &r);
	sodium_memzero(hash, sizeof(hash));
	if (st != DB_OK) {
		sodium_memzero(pw, sizeof(pw));
		auth_user_failed(crm, q, st);
		return;
	}
	if (db_res_rows(r) == 0) {
		json_t *e = json_pack("{s:s, s:s}", "error", "conflict",
		    "message", "the email is in use");

		sodium_memzero(pw, sizeof(pw));
		db_res_free(r);
		crm->cnt.refused++;
		serve_reply(q, MSG_STORE_ERROR, e);
		json_decref(e);
		return;
	}
	crm->cnt.writes++;
	log_info("user created in business %s by user %s (role %s)", c->biz,
	    c->user, role);
	auth_user_answer(q, r, pw);
	sodium_memzero(pw, sizeof(pw));
	db_res_free(r);
}

/*
 * Change a user of c's business (STORE_QUERY user_update, args {id,
 * data: {name, role, active}}): owners and admins only; never an admin,
 * never one's own role or active flag. Deactivating ends the user's
 * sessions in the same statement.
 */
void
auth_user_update(struct crm *crm, const struct crm_req *q, json_t *args,
    const struct reads_caller *c)
{
	json_t *data = json_object_get(args, "data");
	json_t *jid = json_object_get(args, "id");
	const char *role = json_string_value(json_object_get(data, "role"));
	char id[32], *d;
	const char *p[4] = {c->biz, c->user, id, NULL};
	struct db_res *r = NULL;
	enum db_status st;

	if (!reads_is_manager(c)) {
		auth_user_refuse(crm, q, "forbidden", "owners and admins only");
		return;
	}
	if (!json_is_object(data) || !json_is_integer(jid) ||
	    (role != NULL && strcmp(role, "owner") != 0 &&
		strcmp(role, "agent") != 0)) {
		auth_user_refuse(crm, q, "invalid",
		    "a user edit needs an id and data (role owner or agent)");
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(jid));
	if (strcmp(id, c->user) == 0 &&
	    (json_object_get(data, "role") != NULL ||
		json_object_get(data, "active") != NULL)) {
		auth_user_refuse(crm, q, "invalid",
		    "a user cannot change their own role or deactivate "
		    "themselves");
		return;
	}
	if (!auth_db_ready(q))
		return;
	d = json_dumps(data, JSON_COMPACT);
	p[3] = d;
	st = db_exec(crm->db, "a_user_update", 4, p, &r);
	free(d);
	if (st != DB_OK) {
		auth_user_failed(crm, q, st);
		return;
	}
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		crm->cnt.refused++;
		serve_error(q, "not_found", "no such user");
		return;
	}
	crm->cnt.writes++;
	auth_user_answer(q, r, NULL);
	db_res_free(r);
}
