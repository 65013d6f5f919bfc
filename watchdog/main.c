/*
 * watchdog: catches calls whose media stream died and saves them.
 *
 * Manual. The watchdog follows every gateway's live-call events
 * (CALL_EVENTS) and crm-store's committed changes (STORE_CHANGES); a call
 * whose stream never starts, or stops flowing while the call is live and
 * was not handed off, is redirected through Twilio's REST API to a Record
 * fallback. It does nothing else to calls. It also follows heartbeats
 * (its own HEALTH_WATCHDOG endpoint) and logs every worker lost.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop, exit 0.
 */
#include "settings.h"
#include "watchdog.h"

static const struct config_key watchdog_config[] = {
    {"MERKAZIA_WATCHDOG_START_TIMEOUT_MS", CONFIG_INT, "5000", 500, 120000, 0,
	"a call whose stream has not started this long after the voice "
	"webhook is redirected to Record"},
    {"MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS", CONFIG_INT, "4000", 500, 120000, 0,
	"a live call with no inbound media for this long is redirected "
	"to Record"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "watchdog",
	    .summary = "redirects calls with a dead media stream to a "
		       "Record fallback",
	    .config = {settings_twilio, settings_public, settings_follow,
		watchdog_config},
	    .init = watchdog_init,
	    .shutdown = watchdog_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
