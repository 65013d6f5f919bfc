/*
 * The watchdog's private header: its state and the functions its files
 * share, grouped by file (R2).
 */
#ifndef MERKAZIA_WATCHDOG_H
#define MERKAZIA_WATCHDOG_H

#include "daemon.h"
#include "health.h"
#include "nnsock.h"

struct watchdog {
	struct daemon *d;
	struct nnsock *call_events;
	struct nnsock *store_changes;
	struct nnsock *store;
	struct health_follow *health;
};

/* follow.c */
int watchdog_init(struct daemon *d);
void watchdog_shutdown(struct daemon *d);

#endif
