/*
 * Schema migrations: crm-store owns the schema and brings the database up
 * to the version this build knows, every time it connects.
 *
 * The SQL lives in crm-store/migrations (NNNN_name.sql) and is embedded in
 * the binary by the Makefile (migrate_files[], sorted by name), so a
 * binary always carries exactly the migrations it was built with. Each
 * file is applied in its own transaction, under an advisory lock (two
 * instances starting together apply it once), and recorded in
 * schema_migrations (version, name, applied_at). A database whose version
 * is newer than the newest file this build knows is refused: an old
 * binary must never write into a schema it does not understand.
 *
 * migrations/demo.sql is not a migration: it is the demo business and a
 * few leads, applied on request (MERKAZIA_STORE_DEMO=1), idempotently.
 *
 * Migration SQL is static text from the binary, so it runs through
 * db_script(); everything else with a value in it uses parameters.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_store.h"
#include "log.h"

#define MIGRATE_LOCK_KEY "727201" /* pg_advisory_xact_lock key */

static const struct db_stmt migrate_stmts[] = {
    {"migrate_version",
	"SELECT coalesce(max(version), 0) FROM schema_migrations", 0},
    {"migrate_lock", "SELECT pg_advisory_xact_lock($1::bigint)", 1},
    {"migrate_record",
	"INSERT INTO schema_migrations (version, name) VALUES ($1::integer, "
	"$2)",
	2},
    {NULL, NULL, 0},
};

/* Return the version of a migration file name ("0007_x.sql": 7), or 0. */
static int
migrate_file_version(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	if (name[4] != '_')
		return 0;
	return (int)strtol(name, NULL, 10);
}

/* Return the newest schema version this build knows. */
int
migrate_latest(void)
{
	int v = 0;

	for (size_t i = 0; i < migrate_nfiles; i++) {
		int fv = migrate_file_version(migrate_files[i].name);

		if (fv > v)
			v = fv;
	}
	return v;
}

static int
migrate_version(struct crm *crm)
{
	struct db_res *r;
	const char *v;
	int version;

	if (db_exec(crm->db, "migrate_version", 0, NULL, &r) != DB_OK)
		return -1;
	v = db_res_get(r, 0, 0);
	version = v != NULL ? (int)strtol(v, NULL, 10) : 0;
	db_res_free(r);
	return version;
}

static int
migrate_apply(struct crm *crm, const struct migrate_file *f, int version)
{
	char vbuf[16];
	const char *lock[1] = {MIGRATE_LOCK_KEY};
	const char *rec[2] = {vbuf, f->name};
	int cur;

	snprintf(vbuf, sizeof(vbuf), "%d", version);
	if (db_script(crm->db, "BEGIN") != DB_OK)
		return -1;
	if (db_exec(crm->db, "migrate_lock", 1, lock, NULL) != DB_OK ||
	    (cur = migrate_version(crm)) < 0)
		goto fail;
	if (cur >= version) /* another instance was first */
		return db_script(crm->db, "COMMIT") == DB_OK ? 0 : -1;
	if (db_script(crm->db, f->sql) != DB_OK ||
	    db_exec(crm->db, "migrate_record", 2, rec, NULL) != DB_OK ||
	    db_script(crm->db, "COMMIT") != DB_OK)
		goto fail;
	log_info("applied migration %s", f->name);
	return 0;
fail:
	log_error("migration %s failed: %s", f->name, db_error(crm->db));
	if (db_is_up(crm->db))
		(void)db_script(crm->db, "ROLLBACK");
	return -1;
}

/*
 * Bring the connected database up to migrate_latest(). Return 0, or -1
 * (logged) when a migration fails or the database is newer than this
 * build (crm->schema_newer set).
 */
int
migrate_run(struct crm *crm)
{
	int cur, latest = migrate_latest();

	if (db_script(crm->db,
		"CREATE TABLE IF NOT EXISTS schema_migrations ("
		"version integer PRIMARY KEY, name text NOT NULL, "
		"applied_at timestamptz NOT NULL DEFAULT now())") != DB_OK ||
	    db_prepare(crm->db, migrate_stmts) < 0 ||
	    (cur = migrate_version(crm)) < 0) {
		log_error(
		    "cannot read the schema version: %s", db_error(crm->db));
		return -1;
	}
	if (cur > latest) {
		crm->schema_newer = true;
		log_error("the database schema is version %d, newer than "
			  "version %d this build knows; refusing it",
		    cur, latest);
		return -1;
	}
	for (size_t i = 0; i < migrate_nfiles; i++) {
		int v = migrate_file_version(migrate_files[i].name);

		if (v > cur && migrate_apply(crm, &migrate_files[i], v) < 0)
			return -1;
	}
	if (cur < latest)
		log_info("schema at version %d", latest);
	return 0;
}

/* Apply migrations/demo.sql (idempotent). Return 0 or -1 (logged). */
int
migrate_seed_demo(struct crm *crm)
{
	for (size_t i = 0; i < migrate_nfiles; i++) {
		if (strcmp(migrate_files[i].name, "demo.sql") != 0)
			continue;
		if (db_script(crm->db, "BEGIN") != DB_OK)
			return -1;
		if (db_script(crm->db, migrate_files[i].sql) != DB_OK) {
			log_error("demo seed failed: %s", db_error(crm->db));
			if (db_is_up(crm->db))
				(void)db_script(crm->db, "ROLLBACK");
			return -1;
		}
		return db_script(crm->db, "COMMIT") == DB_OK ? 0 : -1;
	}
	log_error("demo seed: demo.sql is not in this build");
	return -1;
}
