/*
 * gateway: the only process that accepts connections from outside.
 *
 * Manual. The gateway answers Twilio's webhooks and Media Streams, the
 * browser's API and the ops endpoints, holds the state of every live call,
 * and conducts the stateless workers: it binds one PUSH endpoint per stage
 * (JOBS_STT, JOBS_LLM, JOBS_TTS), the RESULTS endpoint that every job names
 * as its reply address, the CANCEL and CALL_EVENTS publishers, and its own
 * heartbeat follower (HEALTH_GATEWAY); it connects to crm-store (STORE,
 * STORE_CHANGES). It logs each worker's live/lost transition.
 *
 * Settings: see --check-config and docs/configuration.md. Signals:
 * SIGTERM/SIGINT stop taking calls, drain within MERKAZIA_DRAIN_MS, exit 0.
 */
#include "gateway.h"
#include "log.h"
#include "settings.h"

static const struct config_key gateway_config[] = {
    {"MERKAZIA_HTTP_LISTEN", CONFIG_STRING, "127.0.0.1:8080", 0, 0, 0,
	"address:port the HTTP server binds (port 0: any free port)"},
    {"MERKAZIA_HTTP_READ_TIMEOUT_MS", CONFIG_INT, "15000", 100, 600000, 0,
	"a request must arrive whole within this long of its first byte "
	"(else 408)"},
    {"MERKAZIA_HTTP_IDLE_TIMEOUT_MS", CONFIG_INT, "60000", 100, 3600000, 0,
	"a keep-alive connection without a request for this long is "
	"closed"},
    {"MERKAZIA_TWILIO_SIGNATURE_CHECK", CONFIG_BOOL, "1", 0, 0, 0,
	"verify X-Twilio-Signature (0 only for local development)"},
    {"MERKAZIA_DEFAULT_BUSINESS", CONFIG_STRING, NULL, 0, 0, 0,
	"business that answers numbers no business owns; unset: such "
	"calls hear 'not in service'"},
    {"MERKAZIA_STREAM_START_TIMEOUT_MS", CONFIG_INT, "5000", 100, 600000, 0,
	"a media stream that sends no start within this long is closed"},
    {"MERKAZIA_PLAYOUT_LEAD_MS", CONFIG_INT, "60", 20, 100, 0,
	"outbound audio is sent at most this far ahead of real time"},
    {"MERKAZIA_PLAYOUT_LATE_MS", CONFIG_INT, "40", 1, 10000, 0,
	"an outbound 20 ms frame sent this much after it was due counts as "
	"late (merkazia_playout_frames_late_total)"},
    {"MERKAZIA_WS_OUTPUT_MAX", CONFIG_INT, "262144", 4096, 67108864, 0,
	"bytes a media stream may have waiting to be sent; a peer that "
	"lets more pile up is dropped"},
    {"MERKAZIA_GREETING_TEXT", CONFIG_STRING,
	"שלום, הגעתם לשי דירות ומשרדים, איך אפשר לעזור?", 0, 0, 0,
	"the generic greeting callers hear when the stream starts "
	"(rendered with espeak-ng at start)"},
    {"MERKAZIA_JOB_STT_BUDGET_MS", CONFIG_INT, "15000", 1000, 600000, 0,
	"time budget of a transcription job (STT_JOB)"},
    {"MERKAZIA_JOB_LLM_BUDGET_MS", CONFIG_INT, "20000", 1000, 600000, 0,
	"time budget of an agent reply (LLM_JOB), all its sentences"},
    {"MERKAZIA_JOB_TTS_BUDGET_MS", CONFIG_INT, "10000", 1000, 600000, 0,
	"time budget of one sentence's speech (TTS_JOB)"},
    {"MERKAZIA_JOB_ANALYSIS_BUDGET_MS", CONFIG_INT, "60000", 1000, 600000, 0,
	"time budget of the post-call analysis (ANALYSIS_JOB)"},
    {"MERKAZIA_JOB_STT_RESEND_MS", CONFIG_INT, "5000", 50, 600000, 0,
	"a transcription job with no result this long is sent again (a "
	"worker may have died)"},
    {"MERKAZIA_JOB_LLM_RESEND_MS", CONFIG_INT, "5000", 50, 600000, 0,
	"an LLM job with no sentence this long is sent again; never once a "
	"sentence arrived"},
    {"MERKAZIA_JOB_TTS_RESEND_MS", CONFIG_INT, "4000", 50, 600000, 0,
	"a TTS job with no result this long is sent again"},
    {"MERKAZIA_JOB_ATTEMPTS", CONFIG_INT, "3", 1, 10, 0,
	"sends of one job at most, the first included"},
    {"MERKAZIA_CALL_MAX_TURNS", CONFIG_INT, "60", 1, 1000, 0,
	"caller turns in one call; the next one hears the goodbye"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

int
main(int argc, char **argv)
{
	static const struct daemon_spec spec = {
	    .name = "gateway",
	    .summary = "Twilio webhooks, Media Streams, browser API; "
		       "conducts the workers",
	    .config = {settings_twilio, settings_public, settings_follow,
		gateway_config},
	    .init = gateway_init,
	    .stop = gateway_stop,
	    .drained = gateway_drained,
	    .shutdown = gateway_shutdown,
	};

	return daemon_run(&spec, argc, argv);
}
