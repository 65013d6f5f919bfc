/*
 * crm-store's private header: its state and the functions its files
 * share, grouped by file (R2).
 *
 * Files: main.c (settings, the manual), serve.c (sockets, dispatch,
 * replies, crm-store's own spool, counters), db.c (libpq, the only file
 * that includes libpq-fe.h), migrate.c (schema migrations and the demo
 * seed, SQL embedded from the migrations folder), writes.c (STORE_WRITE),
 * reads.c (STORE_QUERY, STORE_SYSQUERY), edits.c (the browser's creates
 * and updates, asked as STORE_QUERY), auth.c (AUTH_*, users; libsodium,
 * the only file that includes sodium.h).
 */
#ifndef MERKAZIA_CRM_STORE_H
#define MERKAZIA_CRM_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"
#include "health.h"
#include "nnsock.h"
#include "spool.h"

/* A file of crm-store/migrations/, embedded by the Makefile. */
struct migrate_file {
	const char *name; /* "0001_init.sql" */
	const char *sql;
	size_t len;
};

extern const struct migrate_file migrate_files[];
extern const size_t migrate_nfiles;

/* How a statement went. */
enum db_status {
	DB_OK,
	DB_DOWN,    /* no connection: spool writes, refuse reads */
	DB_INVALID, /* the data was refused (SQLSTATE classes 22, 23) */
	DB_ERROR,   /* anything else (timeout, bug) */
};

/* A named statement, prepared on every connection. */
struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

struct db;
struct db_res;

/* What a request handler needs to answer. */
struct crm_req {
	struct crm *crm;
	const struct msg *m;
	const struct nnsock_rx *rx;
};

/* Counters reported by STORE_SYSQUERY stats and the logs. */
struct crm_counters {
	unsigned long writes;	    /* committed */
	unsigned long duplicates;   /* writes that changed nothing */
	unsigned long spooled;	    /* writes put in crm-store's spool */
	unsigned long replayed;	    /* spooled writes applied later */
	unsigned long rejected;	    /* invalid writes, unknown kinds */
	unsigned long queries;	    /* reads answered */
	unsigned long refused;	    /* reads refused (forbidden, invalid) */
	unsigned long malformed;    /* messages dropped before a handler */
	unsigned long login_ok;	    /* AUTH_LOGIN accepted */
	unsigned long login_failed; /* AUTH_LOGIN refused */
};

struct crm {
	struct daemon *d;
	struct nnsock *rep;
	struct nnsock *changes;
	struct health_pub *health;
	struct db *db;
	struct spool *spool;
	size_t spool_pending; /* records in the spool not yet applied */
	bool schema_newer;    /* the database is ahead of this build */
	bool setup_failed;    /* a migration or a statement failed */
	long in_flight;
	struct crm_counters cnt;
};

/* serve.c */
int serve_init(struct daemon *d);
void serve_stop(struct daemon *d);
bool serve_drained(struct daemon *d);
void serve_shutdown(struct daemon *d);
void serve_reply(const struct crm_req *q, unsigned int type, json_t *payload);
void serve_error(
    const struct crm_req *q, const char *error, const char *message);
void serve_publish(struct crm *crm, const char *kind, const char *id,
    const char *business_id, json_t *data);
bool serve_db_ready(struct crm *crm);
void serve_db_failed(
    struct crm *crm, const struct crm_req *q, enum db_status st);
json_t *serve_json_cell(struct crm *crm, const struct crm_req *q,
    struct db_res *r, const char *what);
json_t *serve_id(const char *s);
int serve_spool(struct crm *crm, json_t *payload);
void serve_tick(struct daemon *d);

/* db.c */
struct db *db_new(struct event_base *base, const char *url,
    long statement_timeout_ms, long retry_max_ms,
    int (*on_up)(struct db *db, void *arg), void *arg);
void db_free(struct db *db);
int db_connect(struct db *db);
bool db_is_up(const struct db *db);
void db_down(struct db *db, const char *why);
int db_prepare(struct db *db, const struct db_stmt *table);
enum db_status db_exec(struct db *db, const char *name, int nparams,
    const char *const *params, struct db_res **out);
enum db_status db_script(struct db *db, const char *sql);
const char *db_error(const struct db *db);
int db_res_rows(const struct db_res *r);
const char *db_res_get(const struct db_res *r, int row, int col);
void db_res_free(struct db_res *r);

/* migrate.c */
int migrate_run(struct crm *crm);
int migrate_seed_demo(struct crm *crm);
int migrate_latest(void);

/* writes.c */
extern const struct db_stmt writes_stmts[];
void writes_handle(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
enum db_status writes_apply(struct crm *crm, json_t *payload, json_t **reply,
    const char **error, char *why, size_t whylen);

/* reads.c */

/* The columns of a customer as the browser gets them. */
#define READS_CUSTOMER_COLS                                                 \
	"id, phone, name, source, pipeline, stage, lead_score, sentiment, " \
	"deal_type, cities, neighbourhoods, rooms_min, rooms_max, "         \
	"budget_min, budget_max, property_type, timeline, need_parking, "   \
	"need_elevator, need_mamad, need_balcony, created_at, updated_at, " \
	"assigned_user_id"

/* Who a STORE_QUERY is made for, and how much of the business they see. */
struct reads_caller {
	char biz[32];	      /* the business every statement is scoped to */
	char user[32];	      /* the user the query is made for */
	char role[8];	      /* "admin", "owner" or "agent" */
	const char *assigned; /* user, when only their customers are seen */
};

extern const struct db_stmt reads_stmts[];
void reads_answer(struct crm *crm, const struct crm_req *q, const char *stmt,
    int n, const char *const *params, const char *what);
bool reads_is_manager(const struct reads_caller *c);
void reads_query(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void reads_sysquery(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);

/* edits.c */
extern const struct db_stmt edits_stmts[];
bool edits_query(struct crm *crm, const struct crm_req *q, const char *what,
    json_t *args, const struct reads_caller *c);

/* auth.c */
extern const struct db_stmt auth_stmts[];
void auth_user_create(struct crm *crm, const struct crm_req *q, json_t *args,
    const struct reads_caller *c);
void auth_user_update(struct crm *crm, const struct crm_req *q, json_t *args,
    const struct reads_caller *c);
int auth_init(void);
int auth_admin(struct crm *crm);
void auth_login(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void auth_session(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void auth_logout(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void auth_password(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);

#endif
