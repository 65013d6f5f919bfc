/*
 * crm-store: the only process with a PostgreSQL connection.
 *
 * Manual. crm-store owns the CRM schema and its migrations, answers
 * queries and applies writes on one raw REP endpoint (STORE; many
 * requests in flight per client, matched by request id), publishes every
 * committed change on STORE_CHANGES, and publishes a heartbeat every
 * second (provider_reachable: the database) to every follower.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking requests, finish the ones in flight within
 * MERKAZIA_DRAIN_MS, exit 0.
 */
#include "crm_store.h"

static const struct config_key store_config[] = {
    {"DATABASE_URL", CONFIG_STRING, NULL, 0, 0, CONFIG_SECRET | CONFIG_REQUIRED,
	"libpq connection string or URI of the CRM database"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "crm-store",
	    .summary = "the CRM database: queries, acknowledged writes, "
		       "change events",
	    .config = {store_config},
	    .init = store_init,
	    .stop = store_stop,
	    .drained = store_drained,
	    .shutdown = store_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
