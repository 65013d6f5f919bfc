/*
 * The process graph, written once: every nanomsg endpoint, its pattern,
 * who binds it and who connects to it (docs/architecture.md draws the
 * same graph).
 *
 * Address: MERKAZIA_ENDPOINT_<NAME> when set (a comma-separated list on
 * the connecting side, so a worker can serve several gateways; tcp://
 * allowed), else ipc://$MERKAZIA_RUNTIME_DIR/<file>.sock. A Unix socket
 * path is at most 107 bytes: keep runtime directories short.
 *
 * Heartbeats: each follower (gateway, watchdog) binds its own SUB
 * endpoint and publishers connect to all of them, so adding a worker
 * instance reconfigures nothing.
 */
#ifndef MERKAZIA_ENDPOINTS_H
#define MERKAZIA_ENDPOINTS_H

#include <stdbool.h>

/* X(NAME, file, bind pattern, connect pattern, raw, binder, connectors) */
#define ENDPOINTS(X)                                                          \
	X(JOBS_STT, "jobs-stt", NN_PUSH, NN_PULL, false, "gateway",           \
	    "stt-worker")                                                     \
	X(JOBS_LLM, "jobs-llm", NN_PUSH, NN_PULL, false, "gateway",           \
	    "llm-worker")                                                     \
	X(JOBS_TTS, "jobs-tts", NN_PUSH, NN_PULL, false, "gateway",           \
	    "tts-worker")                                                     \
	X(RESULTS, "results", NN_PULL, NN_PUSH, false, "gateway",             \
	    "stt-worker, llm-worker, tts-worker (the job's reply address)")   \
	X(CANCEL, "cancel", NN_PUB, NN_SUB, false, "gateway",                 \
	    "stt-worker, llm-worker, tts-worker")                             \
	X(CALL_EVENTS, "call-events", NN_PUB, NN_SUB, false, "gateway",       \
	    "watchdog, gateway")                                              \
	X(STORE, "store", NN_REP, NN_REQ, true, "crm-store",                  \
	    "gateway, llm-worker, watchdog, tools")                           \
	X(STORE_CHANGES, "store-changes", NN_PUB, NN_SUB, false, "crm-store", \
	    "gateway, watchdog")                                              \
	X(HEALTH_GATEWAY, "health-gateway", NN_SUB, NN_PUB, false, "gateway", \
	    "stt-worker, llm-worker, tts-worker, crm-store")                  \
	X(HEALTH_WATCHDOG, "health-watchdog", NN_SUB, NN_PUB, false,          \
	    "watchdog", "stt-worker, llm-worker, tts-worker, crm-store")

enum endpoint_id {
#define ENDPOINT_ENUM(name, file, bp, cp, raw, binder, conn) ENDPOINT_##name,
	ENDPOINTS(ENDPOINT_ENUM)
#undef ENDPOINT_ENUM
	    ENDPOINT_COUNT
};

struct endpoint {
	const char *name;  /* e.g. "JOBS_STT" */
	const char *file;  /* default socket file name, no suffix */
	int bind_protocol; /* NN_PUSH, ... */
	int connect_protocol;
	bool raw; /* AF_SP_RAW on both sides */
	const char *binder;
	const char *connectors;
};

/* endpoints.c */
const struct endpoint *endpoints_get(enum endpoint_id id);
int endpoints_find(const char *name);
void endpoints_set_runtime_dir(const char *dir);
const char *endpoints_runtime_dir(void);
char *endpoints_address(enum endpoint_id id);

#endif
