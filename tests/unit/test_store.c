/*
 * Tests of common/store.c (the crm-store client) and common/spool.c
 * against a fake crm-store: a raw REP socket in the same process and
 * loop, answering the way crm-store does (same job id, the routing header
 * given back). Covered: the SP header layout nanomsg's raw REQ needs; many
 * queries in flight answered out of order and matched by job id; a query
 * that runs out of budget; writes acknowledged; writes refused for good;
 * writes sent while no crm-store is there spooled (each reported once),
 * kept across a restart of the client, and replayed until acknowledged,
 * after which the spool file is empty; a torn record cut at open; a
 * second process refused by the spool's lock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "log.h"
#include "nnsock.h"
#include "spool.h"
#include "store.h"

static char dir[64];
static char addr[128];
static char spath[128];

/* The fake crm-store. */
struct fake {
	struct nnsock *rep;
	bool hold;     /* keep queries to answer later, reversed */
	bool refuse;   /* answer writes with STORE_ERROR invalid */
	bool silent;   /* answer nothing */
	size_t writes; /* STORE_WRITE received */
	uint64_t held_id[16];
	uint8_t held_hdr[16][NNSOCK_HDR_MAX];
	size_t held_len[16];
	size_t nheld;
};

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mzst.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(addr, sizeof(addr), "ipc://%s/store.sock", dir);
	snprintf(spath, sizeof(spath), "%s/spool/test-0", dir);
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[96];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
fake_send(struct nnsock *s, unsigned int type, uint64_t id, const char *json,
    const void *hdr, size_t hlen)
{
	struct msg r;

	msg_init(&r, (enum msg_type)type);
	r.job_id = id;
	r.json = json;
	r.json_len = strlen(json);
	assert_int_equal(nnsock_send_raw(s, &r, hdr, hlen), 0);
}

static void
fake_on(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct fake *f = arg;
	char buf[256];

	/* nanomsg gives back [size_t len][pipe id][request id]. */
	assert_true(rx->sphdr_len >= sizeof(size_t) + 8);
	if (m->type == MSG_STORE_WRITE)
		f->writes++;
	if (f->silent)
		return;
	if (m->type == MSG_STORE_WRITE) {
		if (f->refuse)
			fake_send(s, MSG_STORE_ERROR, m->job_id,
			    "{\"error\":\"invalid\",\"message\":\"no\"}",
			    rx->sphdr, rx->sphdr_len);
		else
			fake_send(s, MSG_STORE_ACK, m->job_id,
			    "{\"key\":\"k\"}", rx->sphdr, rx->sphdr_len);
		return;
	}
	if (f->hold && f->nheld < 16) {
		f->held_id[f->nheld] = m->job_id;
		memcpy(f->held_hdr[f->nheld], rx->sphdr, rx->sphdr_len);
		f->held_len[f->nheld++] = rx->sphdr_len;
		return;
	}
	snprintf(buf, sizeof(buf), "{\"n\":%lld}",
	    (long long)json_integer_value(json_object_get(payload, "n")));
	fake_send(s, MSG_STORE_REPLY, m->job_id, buf, rx->sphdr, rx->sphdr_len);
}

static const struct msg_handler fake_handlers[] = {
    {MSG_STORE_QUERY, fake_on},
    {MSG_STORE_WRITE, fake_on},
    {0, NULL},
};

static void
fake_start(struct fake *f, struct event_base *base)
{
	f->rep = nnsock_open(NN_REP, true, "fake-store");
	assert_non_null(f->rep);
	assert_int_equal(nnsock_bind_list(f->rep, addr), 0);
	assert_int_equal(nnsock_watch(f->rep, base, fake_handlers, f), 0);
}

/* Run the loop until *done or about ms milliseconds passed. */
static void
spin(struct event_base *base, const bool *done, int ms)
{
	for (int i = 0; i < ms / 10 && (done == NULL || !*done); i++) {
		struct timeval tv = {0, 10000};

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static struct store_client *
client(struct event_base *base, bool spool)
{
	struct store_opts o;

	memset(&o, 0, sizeof(o));
	o.address = addr;
	o.spool_path = spool ? spath : NULL;
	o.ack_ms = 200;
	o.retry_ms = 50;
	return store_new(base, &o);
}

static void
test_sphdr_layout(void **state)
{
	uint8_t h[STORE_SPHDR_SIZE];
	size_t len;

	(void)state;
	assert_int_equal(store_sphdr(0x100000005ULL, h), STORE_SPHDR_SIZE);
	memcpy(&len, h, sizeof(len));
	assert_int_equal(len, 4);
	assert_int_equal(h[sizeof(size_t)], 0x80);
	assert_int_equal(h[sizeof(size_t) + 3], 0x05);
	(void)store_sphdr(0xffffffffULL, h);
	assert_int_equal(h[sizeof(size_t)], 0xff); /* top bit always set */
}

struct answers {
	long got[16];
	unsigned int type[16];
	size_t n;
	bool done;
	size_t want;
};

static void
on_answer(unsigned int type, json_t *reply, void *arg)
{
	struct answers *a = arg;

	if (a->n < 16) {
		a->type[a->n] = type;
		a->got[a->n] = reply != NULL ? (long)json_integer_value(
						   json_object_get(reply, "n"))
					     : -1;
	}
	a->n++;
	a->done = a->n >= a->want;
}

static void
test_queries_in_flight_out_of_order(void **state)
{
	struct event_base *base = event_base_new();
	struct fake f = {0};
	struct answers a = {0};
	struct store_client *c;

	(void)state;
	fake_start(&f, base);
	f.hold = true;
	c = client(base, false);
	assert_non_null(c);
	a.want = 8;
	for (int i = 0; i < 8; i++) {
		json_t *q = json_pack("{s:s, s:i}", "q", "x", "n", i);

		assert_int_equal(
		    store_request(c, MSG_STORE_QUERY, q, 3000, on_answer, &a),
		    0);
		json_decref(q);
	}
	spin(base, NULL, 200);
	assert_int_equal(f.nheld, 8);
	assert_int_equal(a.n, 0);
	/* Answer newest first: each must reach its own callback. */
	for (size_t i = f.nheld; i-- > 0;) {
		char buf[32];

		snprintf(buf, sizeof(buf), "{\"n\":%zu}", i);
		fake_send(f.rep, MSG_STORE_REPLY, f.held_id[i], buf,
		    f.held_hdr[i], f.held_len[i]);
	}
	spin(base, &a.done, 2000);
	assert_int_equal(a.n, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(a.type[i], MSG_STORE_REPLY);
		assert_int_equal(a.got[i], 7 - (long)i);
	}
	store_free(c);
	nnsock_close(f.rep);
	event_base_free(base);
}

static void
test_query_timeout(void **state)
{
	struct event_base *base = event_base_new();
	struct fake f = {0};
	struct answers a = {0};
	struct store_client *c;
	struct store_counters k;
	json_t *q = json_pack("{s:s}", "q", "x");

	(void)state;
	fake_start(&f, base);
	f.silent = true;
	c = client(base, false);
	a.want = 1;
	assert_int_equal(
	    store_request(c, MSG_STORE_QUERY, q, 100, on_answer, &a), 0);
	json_decref(q);
	spin(base, &a.done, 2000);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.type[0], STORE_TIMEOUT);
	store_get_counters(c, &k);
	assert_int_equal(k.timeouts, 1);
	store_free(c);
	nnsock_close(f.rep);
	event_base_free(base);
}

struct wstates {
	size_t acked, spooled, rejected;
};

static void
on_write(enum store_write_state st, json_t *reply, void *arg)
{
	struct wstates *w = arg;

	(void)reply;
	if (st == STORE_WRITE_ACKED)
		w->acked++;
	else if (st == STORE_WRITE_SPOOLED)
		w->spooled++;
	else
		w->rejected++;
}

static void
write_n(struct store_client *c, int n, struct wstates *w)
{
	for (int i = 0; i < n; i++) {
		char key[32];
		json_t *d = json_pack("{s:i}", "seq", i);

		snprintf(key, sizeof(key), "CA1:%d", i);
		assert_int_equal(
		    store_write(c, "turn", key, d, on_write, w), 0);
		json_decref(d);
	}
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
test_writes_acked_and_rejected(void **state)
{
	struct event_base *base = event_base_new();
	struct fake f = {0};
	struct wstates w = {0};
	struct store_client *c;
	struct store_counters k;

	(void)state;
	fake_start(&f, base);
	c = client(base, true);
	write_n(c, 50, &w);
	for (int i = 0; i < 200 && w.acked < 50; i++)
		spin(base, NULL, 10);
	assert_int_equal(w.acked, 50);
	assert_int_equal(w.spooled, 0);
	f.refuse = true;
	write_n(c, 3, &w);
	for (int i = 0; i < 200 && w.rejected < 3; i++)
		spin(base, NULL, 10);
	assert_int_equal(w.rejected, 3);
	store_get_counters(c, &k);
	assert_int_equal(k.acked, 50);
	assert_int_equal(k.rejected, 3);
	assert_int_equal(k.pending, 0);
	assert_int_equal(file_size(spath), 0);
	store_free(c);
	nnsock_close(f.rep);
	event_base_free(base);
}

static void
test_spooled_kept_over_restart_then_replayed(void **state)
{
	struct event_base *base = event_base_new();
	struct fake f = {0};
	struct wstates w = {0};
	struct store_client *c;
	struct store_counters k;

	(void)state;
	/* No crm-store: every write is spooled, once. */
	c = client(base, true);
	write_n(c, 20, &w);
	spin(base, NULL, 300);
	assert_int_equal(w.spooled, 20);
	assert_int_equal(w.acked, 0);
	assert_true(file_size(spath) > 0);
	/* A second process may not share the spool. */
	assert_null(spool_open(spath));
	store_free(c); /* the process "dies" */

	/* The restarted client loads the spool and replays it. */
	fake_start(&f, base);
	c = client(base, true);
	assert_non_null(c);
	store_get_counters(c, &k);
	assert_int_equal(k.loaded, 20);
	for (int i = 0; i < 300; i++) {
		store_get_counters(c, &k);
		if (k.acked == 20)
			break;
		spin(base, NULL, 10);
	}
	assert_int_equal(k.acked, 20);
	assert_int_equal(k.pending, 0);
	assert_int_equal(f.writes, 20);
	assert_int_equal(file_size(spath), 0);
	store_free(c);
	nnsock_close(f.rep);
	event_base_free(base);
}

static void
test_unacked_write_spooled_and_resent(void **state)
{
	struct event_base *base = event_base_new();
	struct fake f = {0};
	struct wstates w = {0};
	struct store_client *c;

	(void)state;
	fake_start(&f, base);
	f.silent = true; /* crm-store takes it and never answers */
	c = client(base, true);
	write_n(c, 1, &w);
	spin(base, NULL, 400);
	assert_int_equal(w.spooled, 1);
	assert_true(f.writes >= 2); /* sent again after the ack bound */
	f.silent = false;
	for (int i = 0; i < 300 && w.acked < 1; i++)
		spin(base, NULL, 10);
	assert_int_equal(w.acked, 1);
	assert_int_equal(w.spooled, 1);
	assert_int_equal(file_size(spath), 0);
	store_free(c);
	nnsock_close(f.rep);
	event_base_free(base);
}

static void
count_rec(const char *rec, size_t len, void *arg)
{
	(void)rec;
	(void)len;
	(*(int *)arg)++;
}

static void
test_spool_cuts_torn_record(void **state)
{
	struct spool *sp;
	FILE *fp;
	int n = 0;

	(void)state;
	sp = spool_open(spath);
	assert_non_null(sp);
	assert_int_equal(spool_append(sp, "{\"a\":1}", 7), 0);
	assert_int_equal(spool_append(sp, "{\"a\":2}", 7), 0);
	assert_int_equal(spool_append(sp, "bad\nrecord", 10), -1);
	spool_close(sp);
	fp = fopen(spath, "a");
	assert_non_null(fp);
	fputs("{\"a\":3", fp); /* a crash in the middle of a record */
	fclose(fp);
	sp = spool_open(spath);
	assert_non_null(sp);
	assert_int_equal(spool_load(sp, count_rec, &n), 2);
	assert_int_equal(n, 2);
	assert_int_equal(file_size(spath), 16);
	assert_int_equal(spool_clear(sp), 0);
	assert_int_equal(file_size(spath), 0);
	spool_close(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sphdr_layout),
	    cmocka_unit_test_setup_teardown(
		test_queries_in_flight_out_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_query_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_writes_acked_and_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_spooled_kept_over_restart_then_replayed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_unacked_write_spooled_and_resent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_spool_cuts_torn_record, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
