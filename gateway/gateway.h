/*
 * The gateway's private header: its state and every function its files
 * share, grouped by file (R2).
 */
#ifndef MERKAZIA_GATEWAY_H
#define MERKAZIA_GATEWAY_H

#include <stdbool.h>

#include "daemon.h"
#include "health.h"
#include "nnsock.h"

struct gateway {
	struct daemon *d;
	struct nnsock *jobs[3]; /* stt, llm, tts */
	struct nnsock *results;
	struct nnsock *cancel;
	struct nnsock *call_events;
	struct nnsock *store;
	struct nnsock *store_changes;
	struct health_follow *health;
	long calls_live;
};

/* wiring.c */
int gateway_init(struct daemon *d);
void gateway_stop(struct daemon *d);
bool gateway_drained(struct daemon *d);
void gateway_shutdown(struct daemon *d);

#endif
