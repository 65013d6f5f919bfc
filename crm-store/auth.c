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
