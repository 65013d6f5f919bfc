/*
 * crm-store's private header: its state and the functions its files
 * share, grouped by file (R2).
 */
#ifndef MERKAZIA_CRM_STORE_H
#define MERKAZIA_CRM_STORE_H

#include <stdbool.h>

#include "daemon.h"
#include "health.h"
#include "nnsock.h"

struct store {
	struct daemon *d;
	struct nnsock *rep;
	struct nnsock *changes;
	struct health_pub *health;
	long in_flight;
};

/* serve.c */
int store_init(struct daemon *d);
void store_stop(struct daemon *d);
bool store_drained(struct daemon *d);
void store_shutdown(struct daemon *d);

#endif
