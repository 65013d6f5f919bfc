/*
 * The shared settings tables of settings.h. Every key here is documented
 * in docs/configuration.md (a test keeps the list complete).
 */
#include "settings.h"

#define SETTINGS_END                                     \
	{                                                \
		NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL \
	}

const struct config_key settings_openai[] = {
    {"OPENAI_API_KEY", CONFIG_STRING, NULL, 0, 0,
	CONFIG_SECRET | CONFIG_REQUIRED, "OpenAI API key"},
    {"OPENAI_BASE_URL", CONFIG_URL, "https://api.openai.com/v1", 0, 0, 0,
	"base URL of the OpenAI API (or an OpenAI-compatible server)"},
    SETTINGS_END,
};

const struct config_key settings_twilio[] = {
    {"TWILIO_ACCOUNT_SID", CONFIG_STRING, NULL, 0, 0, CONFIG_REQUIRED,
	"Twilio account SID (AC...)"},
    {"TWILIO_AUTH_TOKEN", CONFIG_STRING, NULL, 0, 0,
	CONFIG_SECRET | CONFIG_REQUIRED,
	"Twilio auth token: signs webhooks, authenticates REST calls"},
    {"TWILIO_API_BASE_URL", CONFIG_URL, "https://api.twilio.com", 0, 0, 0,
	"base URL of Twilio's REST API; recordings are fetched only from "
	"under it"},
    SETTINGS_END,
};

const struct config_key settings_public[] = {
    {"MERKAZIA_PUBLIC_URL", CONFIG_URL, NULL, 0, 0, 0,
	"URL Twilio reaches the gateway at (signatures, stream URL); "
	"unset: http://<bound address>"},
    SETTINGS_END,
};

const struct config_key settings_follow[] = {
    {"MERKAZIA_HEARTBEAT_TIMEOUT_MS", CONFIG_INT, "3000", 500, 60000, 0,
	"a worker not heard from for this long is logged as lost"},
    SETTINGS_END,
};
