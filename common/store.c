/*
 * The crm-store client (see store.h for the contract).
 *
 * Two queues, both in the order requests were made: waiting (not on the
 * wire) and inflight (sent, reply awaited). pump() moves requests from
 * the head of waiting to the wire while fewer than STORE_IN_FLIGHT_MAX are
 * in flight; a send that fails (no crm-store connected, a full buffer)
 * blocks sending for one retry interval and spools every write still
 * waiting. A tick every STORE_TICK_MS moves requests whose reply is late
 * back to waiting (writes, spooled first, in their original order) or
 * ends them (queries, STORE_TIMEOUT). Replies are matched by job id; a
 * reply for an id no longer known (a late duplicate) is ignored.
 *
 * Ownership: a request owns its payload text and key; its callback gets
 * the reply payload borrowed for the duration of the call. Requests are
 * unlinked before their callback runs, so a callback may add new ones.
 */
#include <errno.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "clock.h"
#include "endpoints.h"
#include "log.h"
#include "nnsock.h"
#include "spool.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_TICK_MS 50

struct store_req {
	TAILQ_ENTRY(store_req) entry;
	uint64_t id;
	uint64_t seq; /* creation order */
	uint16_t type;
	uint16_t attempt;
	char *json;
	size_t json_len;
	char *kind; /* writes */
	char *key;
	bool is_write;
	bool spooled;
	bool in_flight;
	int64_t created_ms;
	int64_t deadline_ms; /* writes: ack due; queries: budget end */
	void (*wcb)(enum store_write_state, json_t *, void *);
	void (*qcb)(unsigned int, json_t *, void *);
	void *arg;
};

TAILQ_HEAD(store_reqq, store_req);

struct store_client {
	struct event_base *base;
	struct nnsock *sock;
	struct spool *spool;
	struct event *tick;
	struct store_reqq waiting;
	struct store_reqq inflight;
	size_t n_inflight;
	size_t n_waiting;
	size_t spooled_pending; /* spooled writes not yet acknowledged */
	uint64_t next_id;
	uint64_t next_seq;
	int64_t blocked_until;
	int64_t opened_ms;
	unsigned int ack_ms;
	unsigned int retry_ms;
	struct store_counters cnt;
	void (*on_write)(
	    enum store_write_state, const char *, const char *, void *);
	void *arg;
};

static void store_on_reply(struct nnsock *s, const struct msg *m,
    json_t *payload, const struct nnsock_rx *rx, void *arg);

static const struct msg_handler store_handlers[] = {
    {MSG_STORE_REPLY, store_on_reply},
    {MSG_STORE_ACK, store_on_reply},
    {MSG_STORE_ERROR, store_on_reply},
    {0, NULL},
};

/*
 * Fill out with the SP_HDR control data nanomsg's raw REQ socket expects
 * and return its length: nanomsg reads a native size_t length first
 * (nn_sendmsg in nanomsg's src/core/global.c), then the header itself, the
 * request id: 4 bytes big-endian with the top bit set (the bit marks the
 * bottom of the routing stack; raw REP adds the pipe id above it), here
 * the low 31 bits of job_id.
 */
size_t
store_sphdr(uint64_t job_id, uint8_t out[STORE_SPHDR_SIZE])
{
	uint32_t v = (uint32_t)(job_id & 0x7fffffffu) | 0x80000000u;
	size_t len = 4;
	uint8_t *id = out + sizeof(len);

	memcpy(out, &len, sizeof(len));
	id[0] = (uint8_t)(v >> 24);
	id[1] = (uint8_t)(v >> 16);
	id[2] = (uint8_t)(v >> 8);
	id[3] = (uint8_t)v;
	return STORE_SPHDR_SIZE;
}

static void
store_req_free(struct store_req *r)
{
	if (r == NULL)
		return;
	free(r->json);
	free(r->kind);
	free(r->key);
	free(r);
}

static void
store_report(struct store_client *c, struct store_req *r,
    enum store_write_state st, json_t *reply)
{
	if (r->wcb != NULL)
		r->wcb(st, reply, r->arg);
	if (c->on_write != NULL)
		c->on_write(st, r->kind, r->key, c->arg);
}

/* Put r into the spool file; report it once. */
static void
store_spool(struct store_client *c, struct store_req *r)
{
	if (!r->is_write || r->spooled || c->spool == NULL)
		return;
	if (spool_append(c->spool, r->json, r->json_len) < 0)
		return; /* logged; the write stays in memory */
	r->spooled = true;
	c->spooled_pending++;
	c->cnt.spooled++;
	store_report(c, r, STORE_WRITE_SPOOLED, NULL);
}

/* Insert r into waiting by creation order. */
static void
store_wait(struct store_client *c, struct store_req *r)
{
	struct store_req *it;

	r->in_flight = false;
	c->n_waiting++;
	TAILQ_FOREACH(it, &c->waiting, entry) {
		/* cppcheck-suppress uninitvar ; it cannot follow queue(3) */
		if (it->seq > r->seq) {
			TAILQ_INSERT_BEFORE(it, r, entry);
			return;
		}
	}
	TAILQ_INSERT_TAIL(&c->waiting, r, entry);
}

static int
store_send(struct store_client *c, struct store_req *r, int64_t now)
{
	struct msg m;
	uint8_t hdr[STORE_SPHDR_SIZE];
	size_t hl;

	msg_init(&m, (enum msg_type)r->type);
	m.job_id = r->id;
	m.attempt = r->attempt;
	if (r->attempt > 1)
		m.flags = MSG_F_RESENT;
	if (!r->is_write && r->deadline_ms > now)
		m.budget_ms = (uint32_t)(r->deadline_ms - now);
	m.json = r->json;
	m.json_len = r->json_len;
	hl = store_sphdr(r->id, hdr);
	return nnsock_send_raw(c->sock, &m, hdr, hl);
}

static void
store_pump(struct store_client *c)
{
	int64_t now = clock_mono_ms();
	struct store_req *r;

	if (now < c->blocked_until)
		return;
	while ((r = TAILQ_FIRST(&c->waiting)) != NULL &&
	       c->n_inflight < STORE_IN_FLIGHT_MAX) {
		if (store_send(c, r, now) < 0) {
			bool opening = now - c->opened_ms < (int64_t)c->ack_ms;

			/* While nanomsg is still connecting, look again soon.
			 */
			c->blocked_until =
			    now + (opening ? STORE_TICK_MS : c->retry_ms);
			/* Right after store_new the connection may simply not
			 * be up yet: then the ack bound decides (store_tick).
			 */
			if (now - c->opened_ms >= (int64_t)c->ack_ms) {
				TAILQ_FOREACH(r, &c->waiting, entry) {
					store_spool(c, r);
				}
			}
			return;
		}
		if (r->attempt > 1)
			c->cnt.resent++;
		r->attempt++;
		TAILQ_REMOVE(&c->waiting, r, entry);
		c->n_waiting--;
		r->in_flight = true;
		if (r->is_write)
			r->deadline_ms = now + c->ack_ms;
		TAILQ_INSERT_TAIL(&c->inflight, r, entry);
		c->n_inflight++;
	}
}

static void
store_query_done(struct store_client *c, struct store_req *r, unsigned int type,
    json_t *reply)
{
	if (type == STORE_TIMEOUT)
		c->cnt.timeouts++;
	else
		c->cnt.queries++;
	if (r->qcb != NULL)
		r->qcb(type, reply, r->arg);
	store_req_free(r);
}

static void
store_tick(evutil_socket_t fd, short what, void *arg)
{
	struct store_client *c = arg;
	int64_t now = clock_mono_ms();
	struct store_req *r, *tmp;

	(void)fd;
	(void)what;
	TAILQ_FOREACH_SAFE(r, &c->inflight, entry, tmp) {
		/* cppcheck-suppress uninitvar ; it cannot follow queue(3) */
		if (r->deadline_ms > now)
			continue;
		TAILQ_REMOVE(&c->inflight, r, entry);
		c->n_inflight--;
		if (!r->is_write) {
			store_query_done(c, r, STORE_TIMEOUT, NULL);
			continue;
		}
		store_spool(c, r);
		store_wait(c, r);
	}
	TAILQ_FOREACH_SAFE(r, &c->waiting, entry, tmp) {
		if (!r->is_write && r->deadline_ms <= now) {
			TAILQ_REMOVE(&c->waiting, r, entry);
			c->n_waiting--;
			store_query_done(c, r, STORE_TIMEOUT, NULL);
		} else if (r->is_write && !r->spooled &&
			   now - r->created_ms >= (int64_t)c->ack_ms) {
			store_spool(c, r);
		}
	}
	store_pump(c);
}

static struct store_req *
store_find(struct store_reqq *q, uint64_t id)
{
	struct store_req *r;

	TAILQ_FOREACH(r, q, entry) {
		/* cppcheck-suppress uninitvar ; it cannot follow queue(3) */
		if (r->id == id)
			return r;
	}
	return NULL;
}

static void
store_on_reply(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct store_client *c = arg;
	struct store_req *r;
	const char *err;

	(void)s;
	(void)rx;
	if ((r = store_find(&c->inflight, m->job_id)) != NULL) {
		TAILQ_REMOVE(&c->inflight, r, entry);
		c->n_inflight--;
	} else if ((r = store_find(&c->waiting, m->job_id)) != NULL) {
		TAILQ_REMOVE(&c->waiting, r, entry);
		c->n_waiting--;
	} else {
		log_debug("store: late reply %s for job %llu ignored",
		    msg_type_name(m->type), (unsigned long long)m->job_id);
		return;
	}
	if (!r->is_write) {
		store_query_done(c, r, m->type, payload);
		store_pump(c);
		return;
	}
	err = json_string_value(json_object_get(payload, "error"));
	if (m->type == MSG_STORE_ERROR && err != NULL &&
	    strcmp(err, "unavailable") == 0) {
		/* crm-store could not take it now: try again later. */
		r->deadline_ms = clock_mono_ms() + c->retry_ms;
		TAILQ_INSERT_TAIL(&c->inflight, r, entry);
		c->n_inflight++;
		return;
	}
	if (r->spooled && c->spooled_pending > 0)
		c->spooled_pending--;
	c->cnt.pending--;
	if (m->type == MSG_STORE_ACK) {
		c->cnt.acked++;
		store_report(c, r, STORE_WRITE_ACKED, payload);
	} else {
		const char *why =
		    json_string_value(json_object_get(payload, "message"));

		c->cnt.rejected++;
		log_warnx("store: crm-store refused %s write %s: %s: %s",
		    r->kind, r->key, err != NULL ? err : "?",
		    why != NULL ? why : "");
		store_report(c, r, STORE_WRITE_REJECTED, payload);
	}
	store_req_free(r);
	if (c->spooled_pending == 0 && c->spool != NULL &&
	    spool_records(c->spool) > 0)
		(void)spool_clear(c->spool);
	store_pump(c);
}

static struct store_req *
store_req_new(struct store_client *c, uint16_t type, char *json)
{
	struct store_req *r = xcalloc(1, sizeof(*r));

	r->id = c->next_id++;
	r->seq = c->next_seq++;
	r->type = type;
	r->attempt = 1;
	r->json = json;
	r->json_len = strlen(json);
	r->created_ms = clock_mono_ms();
	return r;
}

static void
store_load_one(const char *rec, size_t len, void *arg)
{
	struct store_client *c = arg;
	json_t *j = json_loadb(rec, len, 0, NULL);
	const char *kind = json_string_value(json_object_get(j, "kind"));
	const char *key = json_string_value(json_object_get(j, "key"));
	struct store_req *r;

	if (kind == NULL || key == NULL) {
		log_warnx(
		    "store: skipped a spooled record that is not a write");
		json_decref(j);
		return;
	}
	r = store_req_new(c, MSG_STORE_WRITE, xstrndup(rec, len));
	r->is_write = true;
	r->spooled = true;
	r->kind = xstrdup(kind);
	r->key = xstrdup(key);
	json_decref(j);
	c->spooled_pending++;
	c->cnt.loaded++;
	c->cnt.pending++;
	store_wait(c, r);
}

/*
 * Open the client on base: a raw REQ socket connected to crm-store and,
 * when opts->spool_path is set, the spool (writes left in it are queued
 * for replay). Return NULL (logged) when the socket or the spool cannot be
 * opened.
 */
struct store_client *
store_new(struct event_base *base, const struct store_opts *opts)
{
	struct store_client *c = xcalloc(1, sizeof(*c));
	struct timeval tv = {0, (suseconds_t)STORE_TICK_MS * 1000};
	char *addr = opts->address != NULL ? xstrdup(opts->address)
					   : endpoints_address(ENDPOINT_STORE);
	int rc;

	c->base = base;
	c->opened_ms = clock_mono_ms();
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->inflight);
	c->ack_ms = opts->ack_ms ? opts->ack_ms : STORE_ACK_MS_DEFAULT;
	c->retry_ms = opts->retry_ms ? opts->retry_ms : STORE_RETRY_MS_DEFAULT;
	c->on_write = opts->on_write;
	c->arg = opts->arg;
	/* Ids unique across restarts of this process: a reply to an earlier
	 * run can never match a request of this one. */
	c->next_id = ((uint64_t)clock_wall_ms() << 12) ^ (uint64_t)getpid();
	c->sock = nnsock_open(NN_REQ, true, "STORE");
	rc = c->sock != NULL ? nnsock_connect_list(c->sock, addr) : -1;
	free(addr);
	if (rc == 0)
		rc = nnsock_watch(c->sock, base, store_handlers, c);
	if (rc == 0 && opts->spool_path != NULL) {
		c->spool = spool_open(opts->spool_path);
		if (c->spool == NULL ||
		    spool_load(c->spool, store_load_one, c) < 0)
			rc = -1;
		else if (c->cnt.loaded > 0)
			log_info("store: replaying %lu spooled writes from %s",
			    c->cnt.loaded, opts->spool_path);
	}
	if (rc == 0) {
		c->tick = event_new(base, -1, EV_PERSIST, store_tick, c);
		if (c->tick == NULL || event_add(c->tick, &tv) < 0)
			rc = -1;
	}
	if (rc < 0) {
		store_free(c);
		return NULL;
	}
	store_pump(c);
	return c;
}

/*
 * Send a write {kind, key, data} (data borrowed) and keep it until
 * crm-store acknowledges it; cb (may be NULL) reports it as spooled,
 * acknowledged or rejected. STORE_WRITE_SPOOLED may be reported before
 * this returns. Return 0, or -1 when the write is too large to send.
 */
int
store_write(struct store_client *c, const char *kind, const char *key,
    json_t *data,
    void (*cb)(enum store_write_state st, json_t *reply, void *arg), void *arg)
{
	json_t *p = json_pack("{s:s, s:s, s:O}", "kind", kind, "key", key,
	    "data", data != NULL ? data : json_null());
	char *s = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
	struct store_req *r;

	json_decref(p);
	if (s == NULL || strlen(s) > MSG_JSON_MAX) {
		log_warnx("store: %s write %s cannot be encoded", kind, key);
		free(s);
		return -1;
	}
	r = store_req_new(c, MSG_STORE_WRITE, s);
	r->is_write = true;
	r->kind = xstrdup(kind);
	r->key = xstrdup(key);
	r->wcb = cb;
	r->arg = arg;
	c->cnt.pending++;
	store_wait(c, r);
	if (clock_mono_ms() < c->blocked_until &&
	    clock_mono_ms() - c->opened_ms >= (int64_t)c->ack_ms)
		store_spool(c, r);
	else
		store_pump(c);
	return 0;
}

/*
 * Send a query of type (STORE_QUERY, STORE_SYSQUERY, AUTH_*) with payload
 * (borrowed); cb runs once from the loop with the reply's type and
 * payload, or with STORE_TIMEOUT and NULL when budget_ms passes first.
 * Return 0, or -1 when the payload cannot be encoded.
 */
int
store_request(struct store_client *c, enum msg_type type, json_t *payload,
    unsigned int budget_ms,
    void (*cb)(unsigned int type, json_t *reply, void *arg), void *arg)
{
	char *s = json_dumps(payload, JSON_COMPACT);
	struct store_req *r;

	if (s == NULL || strlen(s) > MSG_JSON_MAX) {
		free(s);
		return -1;
	}
	r = store_req_new(c, (uint16_t)type, s);
	r->qcb = cb;
	r->arg = arg;
	r->deadline_ms = r->created_ms + (budget_ms ? budget_ms : 1);
	store_wait(c, r);
	store_pump(c);
	return 0;
}

void
store_get_counters(const struct store_client *c, struct store_counters *out)
{
	*out = c->cnt;
}

/* Return the number of writes not yet acknowledged. */
size_t
store_pending(const struct store_client *c)
{
	return c->cnt.pending;
}

static void
store_free_queue(struct store_client *c, struct store_reqq *q)
{
	struct store_req *r;

	while ((r = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, r, entry);
		/* Unacknowledged writes survive in the spool, silently. */
		r->wcb = NULL;
		store_spool(c, r);
		store_req_free(r);
	}
}

/*
 * Close the client (NULL allowed). Writes not yet acknowledged are put in
 * the spool first, so the next start replays them; pending queries are
 * dropped without their callbacks.
 */
void
store_free(struct store_client *c)
{
	if (c == NULL)
		return;
	c->on_write = NULL;
	store_free_queue(c, &c->inflight);
	store_free_queue(c, &c->waiting);
	if (c->tick != NULL)
		event_free(c->tick);
	nnsock_close(c->sock);
	spool_close(c->spool);
	free(c);
}
