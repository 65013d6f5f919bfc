/*
 * watchdog: catches calls whose media stream died and saves them.
 *
 * Manual. The watchdog follows every gateway's live-call events
 * (CALL_EVENTS) and crm-store's committed changes (STORE_CHANGES), and at
 * start asks crm-store for the calls in progress. A call whose stream has
 * not started MERKAZIA_WATCHDOG_START_TIMEOUT_MS after the voice webhook,
 * or whose inbound media stopped for MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS
 * while it is live, and that was not handed off, stopped or ended, is
 * updated once through Twilio's REST API with a Hebrew apology and
 * <Record> (action and recordingStatusCallback under MERKAZIA_PUBLIC_URL),
 * so the caller can leave a message the gateway transcribes later (the
 * prototype's "greeting, then silence"). It does nothing else to calls.
 * It also follows heartbeats (its own HEALTH_WATCHDOG endpoint) and logs
 * an alert when a stage has no live worker or a worker's provider is
 * unreachable, and when it recovers. docs/watchdog.md has the rules.
 *
 * MERKAZIA_PUBLIC_URL unset: the watchdog starts, says loudly that it
 * cannot redirect, and logs each call it would have saved as an error.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop (redirects in flight finish within
 * MERKAZIA_DRAIN_MS), exit 0.
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
    {"MERKAZIA_WATCHDOG_RECORD_MAX_S", CONFIG_INT, "300", 2, 14400, 0,
	"maxLength of the fallback <Record>: the longest message a caller "
	"can leave, in seconds"},
    {"MERKAZIA_WATCHDOG_REDIRECT_BUDGET_MS", CONFIG_INT, "10000", 1000, 120000,
	0,
	"time for one redirect through Twilio's REST API, retries on "
	"5xx/429/network errors included"},
    {"MERKAZIA_WATCHDOG_MAX_CALLS", CONFIG_INT, "10000", 16, 1000000, 0,
	"calls watched at once; beyond it new calls are not watched (the "
	"oldest redirected or handed-off entries make room first)"},
    {"MERKAZIA_WATCHDOG_CALL_MAX_AGE_S", CONFIG_INT, "14400", 60, 86400, 0,
	"a call is forgotten this long after it was first heard of "
	"(Twilio's default longest call is 4 hours)"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "watchdog",
	    .summary = "redirects calls with a dead media stream to a "
		       "Record fallback; alerts on dead stages",
	    .config = {settings_twilio, settings_public, settings_follow,
		watchdog_config},
	    .init = watchdog_init,
	    .stop = watchdog_stop,
	    .drained = watchdog_drained,
	    .shutdown = watchdog_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
