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
    {"MERKAZIA_BARGEIN_MIN_MS", CONFIG_INT, "250", 0, 5000, 0,
	"caller speech over the agent that stops it (clear); a shorter "
	"burst, a backchannel, lets the agent go on"},
    {"MERKAZIA_FILLER_AFTER_MS", CONFIG_INT, "1200", 0, 60000, 0,
	"no reply audio this long after the caller's turn ended: the "
	"filler phrase plays (0: never)"},
    {"MERKAZIA_WEB_DIR", CONFIG_STRING, "web/dist", 0, 0, 0,
	"the built web UI served at / (relative to the working directory)"},
    {"MERKAZIA_CSRF_KEY", CONFIG_STRING, NULL, 0, 0, CONFIG_SECRET,
	"key of the browser's CSRF tokens, the same on every gateway; "
	"unset: a random key per process"},
    {"MERKAZIA_TRUSTED_PROXIES", CONFIG_STRING, NULL, 0, 0, 0,
	"comma-separated addresses of reverse proxies whose "
	"X-Forwarded-For names the client (login rate limit)"},
    {"MERKAZIA_SESSION_CACHE_MS", CONFIG_INT, "30000", 0, 600000, 0,
	"a browser session crm-store confirmed is trusted this long "
	"without asking again (0: ask every time)"},
    {"MERKAZIA_SESSION_TTL_HOURS", CONFIG_INT, "168", 1, 8760, 0,
	"lifetime of a browser session (crm-store's; the cookie's "
	"Max-Age)"},
    {"MERKAZIA_API_STORE_BUDGET_MS", CONFIG_INT, "5000", 100, 60000, 0,
	"an API request crm-store does not answer within this gets 503"},
    {"MERKAZIA_LOGIN_EMAIL_FAILURES", CONFIG_INT, "5", 1, 1000, 0,
	"failed logins of one email within the window before 429"},
    {"MERKAZIA_LOGIN_IP_FAILURES", CONFIG_INT, "20", 1, 100000, 0,
	"failed logins from one client address within the window before "
	"429"},
    {"MERKAZIA_LOGIN_WINDOW_S", CONFIG_INT, "900", 1, 86400, 0,
	"the sliding window of failed logins"},
    {"MERKAZIA_SSE_PING_MS", CONFIG_INT, "15000", 100, 600000, 0,
	"a ': ping' comment on every event stream this often"},
    {"MERKAZIA_SSE_RECHECK_MS", CONFIG_INT, "60000", 1000, 3600000, 0,
	"the session of an event stream is asked of crm-store again this "
	"often; an ended one closes the stream"},
    {"MERKAZIA_SSE_OUTPUT_MAX", CONFIG_INT, "262144", 4096, 67108864, 0,
	"bytes an event stream may have unsent; a slower reader is "
	"dropped"},
    {"MERKAZIA_SSE_STREAMS_MAX", CONFIG_INT, "1024", 1, 100000, 0,
	"event streams open at once; more get 503"},
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
