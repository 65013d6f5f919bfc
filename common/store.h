/*
 * The crm-store client every daemon links: queries with callbacks, and
 * writes that are kept until acknowledged.
 *
 * Why: crm-store answers on a raw REP endpoint so a client can have many
 * requests in flight (a cooked REQ socket allows one and cancels the older
 * on a new send). This client opens the matching raw REQ socket and builds
 * the SP header nanomsg's raw REQ needs itself: a 4-byte big-endian
 * request id with the top bit set, derived from the message's job id,
 * passed as SP_HDR control data (which nanomsg prefixes with a native
 * size_t length: see store_sphdr).
 * Replies are matched by job id (docs/protocol.md).
 *
 * Queries (STORE_QUERY, STORE_SYSQUERY, AUTH_*): store_request() with a
 * time budget; the callback runs exactly once, from the loop, with the
 * reply (STORE_REPLY, STORE_ACK or STORE_ERROR) or with STORE_TIMEOUT.
 * Queries are never spooled.
 *
 * Writes (STORE_WRITE {kind, key, data}): store_write() keeps the write
 * until crm-store acknowledges it. A write that cannot be sent (crm-store
 * unreachable) or is not acknowledged within the ack bound is appended to
 * this process's spool file ($MERKAZIA_STATE_DIR/spool/<daemon>-<instance>,
 * flock, fdatasync: see spool.h) and re-sent every retry interval, in the
 * order written, until acknowledged; spooled writes left by an earlier run
 * are loaded by store_new() and replayed the same way. Each write is
 * reported through its callback: STORE_WRITE_SPOOLED when it reached the
 * spool (at most once), then STORE_WRITE_ACKED, or STORE_WRITE_REJECTED
 * when crm-store refused it for good (invalid, forbidden, not_found).
 * Writes are idempotent by key on crm-store's side, so a re-sent write
 * changes nothing.
 *
 * Re-entrancy (R8): callbacks run from the loop and may call
 * store_write() and store_request(); store_free() must not be called
 * from a callback.
 */
#ifndef MERKAZIA_STORE_H
#define MERKAZIA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "msg.h"

#define STORE_ACK_MS_DEFAULT   1500
#define STORE_RETRY_MS_DEFAULT 500
#define STORE_IN_FLIGHT_MAX    512
#define STORE_SPHDR_SIZE       (sizeof(size_t) + 4)

enum store_write_state {
	STORE_WRITE_ACKED,
	STORE_WRITE_SPOOLED,
	STORE_WRITE_REJECTED,
};

/* How a query ended: the reply's type, or STORE_TIMEOUT. */
#define STORE_TIMEOUT 0u

struct store_opts {
	const char *address;	/* NULL: the STORE endpoint's address */
	const char *spool_path; /* NULL: no spool (writes kept in memory) */
	unsigned int ack_ms;	/* 0: STORE_ACK_MS_DEFAULT */
	unsigned int retry_ms;	/* 0: STORE_RETRY_MS_DEFAULT */
	/* Reports every write, those loaded from the spool included (they
	 * have no callback of their own). May be NULL. */
	void (*on_write)(enum store_write_state st, const char *kind,
	    const char *key, void *arg);
	void *arg;
};

struct store_counters {
	unsigned long acked;	/* writes acknowledged */
	unsigned long spooled;	/* writes that went to the spool */
	unsigned long rejected; /* writes refused by crm-store */
	unsigned long resent;	/* sends after the first */
	unsigned long loaded;	/* writes loaded from the spool at start */
	unsigned long pending;	/* writes not yet acknowledged */
	unsigned long queries;	/* queries answered */
	unsigned long timeouts; /* queries that ran out of budget */
};

struct store_client;

/* store.c */
struct store_client *store_new(
    struct event_base *base, const struct store_opts *opts);
int store_write(struct store_client *c, const char *kind, const char *key,
    json_t *data,
    void (*cb)(enum store_write_state st, json_t *reply, void *arg), void *arg);
int store_request(struct store_client *c, enum msg_type type, json_t *payload,
    unsigned int budget_ms,
    void (*cb)(unsigned int type, json_t *reply, void *arg), void *arg);
void store_get_counters(
    const struct store_client *c, struct store_counters *out);
size_t store_pending(const struct store_client *c);
void store_free(struct store_client *c);
size_t store_sphdr(uint64_t job_id, uint8_t out[STORE_SPHDR_SIZE]);

#endif
