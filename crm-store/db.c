/*
 * PostgreSQL for crm-store: the one file that includes libpq-fe.h (R14).
 *
 * Synchronous libpq with short statements, on purpose
 * (docs/decisions/0003-crm-store-synchronous-libpq.md): crm-store does
 * nothing but database work, every statement is a single-row upsert or an
 * indexed read bounded by statement_timeout, and answering requests one
 * after another in arrival order keeps a client's writes in order with no
 * queue of our own. The loop is held only while a statement runs.
 *
 * Connection: PQconnectdbParams with the DATABASE_URL expanded
 * (connect_timeout 3 s unless the URL says otherwise). After a connect the
 * on_up hook runs (migrations, statements, replay of the spool); if it
 * fails the connection is dropped and retried. When a statement finds the
 * connection gone (PQstatus not OK, SQLSTATE class 08 or 57P) the
 * connection is closed and retried with backoff: 100 ms doubling up to
 * retry_max_ms. The DATABASE_URL (with its password) is never logged;
 * libpq's own messages name the host or socket, never the password.
 *
 * Ownership (R11): every PGresult is PQclear'ed here; callers get a struct
 * db_res they free with db_res_free().
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "crm_store.h"
#include "log.h"
#include "xmalloc.h"

#define DB_BACKOFF_MIN_MS 100

struct db {
	struct event_base *base;
	char *url;
	PGconn *conn;
	bool up;
	bool warned; /* the current outage was logged */
	struct event *retry;
	long backoff_ms;
	long retry_max_ms;
	long statement_timeout_ms;
	int (*on_up)(struct db *, void *);
	void *arg;
	char err[256];
};

struct db_res {
	PGresult *res;
};

static void db_retry(evutil_socket_t fd, short what, void *arg);

/* Server notices ("relation already exists, skipping") go to the JSON
 * log at debug level instead of libpq's default of raw stderr. */
static void
db_notice(void *arg, const char *message)
{
	size_t n = strlen(message);

	(void)arg;
	while (n > 0 && message[n - 1] == '\n')
		n--;
	log_debug("PostgreSQL: %.*s", (int)n, message);
}

/*
 * Make the connection handle for url (not connected yet: db_connect).
 * on_up runs after every successful connect; it returns 0, or -1 to drop
 * the connection and retry later.
 */
struct db *
db_new(struct event_base *base, const char *url, long statement_timeout_ms,
    long retry_max_ms, int (*on_up)(struct db *db, void *arg), void *arg)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->base = base;
	db->url = xstrdup(url);
	db->statement_timeout_ms = statement_timeout_ms;
	db->retry_max_ms = retry_max_ms;
	db->backoff_ms = DB_BACKOFF_MIN_MS;
	db->on_up = on_up;
	db->arg = arg;
	db->retry = evtimer_new(base, db_retry, db);
	return db;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	if (db->retry != NULL)
		event_free(db->retry);
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->url);
	free(db);
}

static void
db_schedule(struct db *db)
{
	struct timeval tv = {
	    db->backoff_ms / 1000, (suseconds_t)(db->backoff_ms % 1000) * 1000};

	evtimer_add(db->retry, &tv);
	db->backoff_ms *= 2;
	if (db->backoff_ms > db->retry_max_ms)
		db->backoff_ms = db->retry_max_ms;
}

/* Copy libpq's message without its trailing newline. */
static void
db_set_error(struct db *db, const char *text)
{
	size_t n;

	snprintf(db->err, sizeof(db->err), "%s", text ? text : "unknown");
	n = strlen(db->err);
	while (n > 0 && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
		db->err[--n] = '\0';
}

/*
 * Close the connection, if any, and try again later with backoff; why
 * is logged (at warn level once per outage).
 */
void
db_down(struct db *db, const char *why)
{
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	if (db->up || !db->warned)
		log_warnx("PostgreSQL unavailable: %s; retrying", why);
	else
		log_debug("PostgreSQL still unavailable: %s", why);
	db->warned = true;
	db->up = false;
	if (!evtimer_pending(db->retry, NULL))
		db_schedule(db);
}

/*
 * Connect now (blocking for at most connect_timeout), set the statement
 * timeout and run the on_up hook. Return 0 when connected and ready; on
 * failure a retry is scheduled and -1 returned.
 */
int
db_connect(struct db *db)
{
	const char *const keys[] = {
	    "connect_timeout", "application_name", "dbname", NULL};
	const char *const vals[] = {"3", "crm-store", db->url, NULL};
	char tmo[32];
	const char *param[1] = {tmo};
	PGresult *res;

	if (db->up)
		return 0;
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, db->conn != NULL ? PQerrorMessage(db->conn)
						  : "out of memory");
		db_down(db, db->err);
		return -1;
	}
	PQsetNoticeProcessor(db->conn, db_notice, db);
	snprintf(tmo, sizeof(tmo), "%ld", db->statement_timeout_ms);
	res = PQexecParams(db->conn,
	    "SELECT set_config('statement_timeout', $1, false)", 1, NULL, param,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_set_error(db, PQerrorMessage(db->conn));
		PQclear(res);
		db_down(db, db->err);
		return -1;
	}
	PQclear(res);
	db->up = true;
	if (db->on_up != NULL && db->on_up(db, db->arg) < 0) {
		db->up = false;
		db_down(db, "setting up the connection failed");
		return -1;
	}
	if (!db->up) /* lost again while the hook ran; retry scheduled */
		return -1;
	log_info("PostgreSQL connected (server %d)", PQserverVersion(db->conn));
	db->warned = false;
	db->backoff_ms = DB_BACKOFF_MIN_MS;
	return 0;
}

static void
db_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)db_connect(arg);
}

bool
db_is_up(const struct db *db)
{
	return db->up;
}

const char *
db_error(const struct db *db)
{
	return db->err;
}

/*
 * Prepare every statement of table (ends with a NULL name) on the current
 * connection. Return 0, or -1 (logged) on the first failure.
 */
int
db_prepare(struct db *db, const struct db_stmt *table)
{
	for (const struct db_stmt *st = table; st->name != NULL; st++) {
		PGresult *res =
		    PQprepare(db->conn, st->name, st->sql, st->nparams, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_set_error(db, PQerrorMessage(db->conn));
			log_warnx("preparing %s: %s", st->name, db->err);
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

/* Classify a failed result (and close a connection that is gone). */
static enum db_status
db_failed(struct db *db, PGresult *res)
{
	const char *state =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	db_set_error(db,
	    res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
		db_down(db, db->err);
		return DB_DOWN;
	}
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return DB_INVALID;
	log_warnx("statement failed (SQLSTATE %s): %s", state, db->err);
	return DB_ERROR;
}

/*
 * Run the prepared statement name with nparams text parameters (NULL
 * entries are SQL NULL). On DB_OK and out != NULL, *out holds the rows
 * (free with db_res_free). Never blocks longer than statement_timeout.
 */
enum db_status
db_exec(struct db *db, const char *name, int nparams, const char *const *params,
    struct db_res **out)
{
	PGresult *res;
	ExecStatusType st;

	if (out != NULL)
		*out = NULL;
	if (!db->up || db->conn == NULL)
		return DB_DOWN;
	res = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (res == NULL || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)) {
		enum db_status rc = db_failed(db, res);

		PQclear(res);
		return rc;
	}
	if (out != NULL) {
		*out = xcalloc(1, sizeof(**out));
		(*out)->res = res;
	} else {
		PQclear(res);
	}
	return DB_OK;
}

/*
 * Run sql, which may hold several statements, without parameters: only
 * for the SQL built into the binary (migrations, BEGIN, COMMIT), never for
 * anything a request carried.
 */
enum db_status
db_script(struct db *db, const char *sql)
{
	PGresult *res;
	ExecStatusType st;
	enum db_status rc = DB_OK;

	if (!db->up || db->conn == NULL)
		return DB_DOWN;
	res = PQexec(db->conn, sql);
	st = PQresultStatus(res);
	if (res == NULL || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK))
		rc = db_failed(db, res);
	PQclear(res);
	return rc;
}

int
db_res_rows(const struct db_res *r)
{
	return r != NULL ? PQntuples(r->res) : 0;
}

/* Return the text of a cell, or NULL for SQL NULL or out of range. */
const char *
db_res_get(const struct db_res *r, int row, int col)
{
	if (r == NULL || row >= PQntuples(r->res) || col >= PQnfields(r->res) ||
	    PQgetisnull(r->res, row, col))
		return NULL;
	return PQgetvalue(r->res, row, col);
}

void
db_res_free(struct db_res *r)
{
	if (r == NULL)
		return;
	PQclear(r->res);
	free(r);
}
