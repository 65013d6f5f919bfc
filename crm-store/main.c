/*
 * crm-store: the only process with a PostgreSQL connection.
 *
 * Manual. crm-store owns the CRM schema and its migrations (applied at
 * every connect; a database newer than this build is refused), answers
 * queries and applies writes on one raw REP endpoint (STORE; many
 * requests in flight per client, matched by request id), publishes every
 * committed change on STORE_CHANGES, and publishes a heartbeat every
 * second (provider_reachable: the database is connected) to every
 * follower. docs/crm-store.md lists the schema, every message it handles
 * and the idempotency key of every write.
 *
 * When PostgreSQL is unreachable crm-store keeps serving: writes go to its
 * spool ($MERKAZIA_STATE_DIR/spool/crm-store-<instance>) and are
 * acknowledged with spooled:true, reads answer STORE_ERROR unavailable,
 * and the connection is retried with backoff; the spool is applied in
 * order once the database is back. crm-store also starts without
 * PostgreSQL, but not against a database it cannot migrate.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking requests, finish the ones in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include "crm_store.h"

static const struct config_key crm_config[] = {
    {"DATABASE_URL", CONFIG_STRING, NULL, 0, 0, CONFIG_SECRET | CONFIG_REQUIRED,
	"libpq connection string or URI of the CRM database"},
    {"MERKAZIA_STORE_STATEMENT_TIMEOUT_MS", CONFIG_INT, "5000", 100, 600000, 0,
	"longest a single SQL statement may run"},
    {"MERKAZIA_STORE_RECONNECT_MAX_MS", CONFIG_INT, "5000", 100, 600000, 0,
	"longest wait between reconnects to PostgreSQL (backoff from 100 ms)"},
    {"MERKAZIA_STORE_DEMO", CONFIG_BOOL, "0", 0, 0, 0,
	"load the demo business and leads (idempotent); never in production"},
    {"MERKAZIA_ADMIN_EMAIL", CONFIG_STRING, NULL, 0, 0, 0,
	"e-mail of the admin account created or updated at start"},
    {"MERKAZIA_ADMIN_PASSWORD", CONFIG_STRING, NULL, 0, 0, CONFIG_SECRET,
	"password of that admin account"},
    {"MERKAZIA_SESSION_TTL_HOURS", CONFIG_INT, "168", 1, 8760, 0,
	"lifetime of a browser session"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const struct daemon_timer crm_timers[] = {
    {"health and spool", 1000, serve_tick},
    {NULL, 0, NULL},
};

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "crm-store",
	    .summary = "the CRM database: queries, acknowledged writes, "
		       "change events",
	    .config = {crm_config},
	    .timers = crm_timers,
	    .init = serve_init,
	    .stop = serve_stop,
	    .drained = serve_drained,
	    .shutdown = serve_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
