/*
 * Tests of common/nnsock.c and common/endpoints.c over real nanomsg
 * sockets (ipc:// in a temporary directory): messages of every type with
 * audio arrive whole and in order through the dispatch table; garbage,
 * unknown types and bad payloads are counted and dropped while good
 * messages keep flowing; a raw REP socket answers many requests in flight
 * using the routing header; endpoint addresses resolve from the runtime
 * directory and from MERKAZIA_ENDPOINT_<NAME>.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>

#include "endpoints.h"
#include "log.h"
#include "nnsock.h"

static char dir[64];

struct got {
	unsigned int types[64];
	size_t n;
	size_t blob_bytes;
	int bad_blob;
	struct event_base *base;
	size_t want;
};

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mznn.XXXXXX");
	assert_non_null(mkdtemp(dir));
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
on_any(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct got *g = arg;
	json_int_t seq = json_integer_value(json_object_get(payload, "seq"));

	(void)s;
	(void)rx;
	if (g->n < 64)
		g->types[g->n] = m->type;
	g->n++;
	g->blob_bytes += m->blob_len;
	for (size_t i = 0; i < m->blob_len; i++)
		if (m->blob[i] != (uint8_t)(i + (size_t)seq))
			g->bad_blob++;
	if (g->n >= g->want)
		event_base_loopbreak(g->base);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until g->want messages arrived or 5 s passed. */
static void
run(struct got *g)
{
	struct timeval tv = {5, 0};
	struct event *t = evtimer_new(g->base, on_timeout, g->base);

	evtimer_add(t, &tv);
	event_base_dispatch(g->base);
	event_free(t);
}

static struct msg_handler all_types[64];

static void
fill_handlers(void)
{
	size_t i;

	for (i = 0; i < msg_type_count(); i++) {
		all_types[i].type = msg_type_at(i);
		all_types[i].fn = on_any;
	}
	all_types[i].type = 0;
	all_types[i].fn = NULL;
}

static void
test_push_pull_every_type(void **state)
{
	struct got g;
	char addr[128];
	struct nnsock *push, *pull;
	uint8_t blob[4000];

	(void)state;
	memset(&g, 0, sizeof(g));
	g.base = event_base_new();
	fill_handlers();
	snprintf(addr, sizeof(addr), "ipc://%s/t.sock", dir);
	pull = nnsock_open(NN_PULL, false, "test-pull");
	push = nnsock_open(NN_PUSH, false, "test-push");
	assert_int_equal(nnsock_bind_list(pull, addr), 0);
	assert_int_equal(nnsock_connect_list(push, addr), 0);
	assert_int_equal(nnsock_watch(pull, g.base, all_types, &g), 0);
	for (size_t i = 0; i < msg_type_count(); i++) {
		struct msg m;
		char json[32];

		msg_init(&m, (enum msg_type)msg_type_at(i));
		snprintf(json, sizeof(json), "{\"seq\":%zu}", i);
		for (size_t b = 0; b < sizeof(blob); b++)
			blob[b] = (uint8_t)(b + i);
		m.json = json;
		m.json_len = strlen(json);
		m.blob = blob;
		m.blob_len = sizeof(blob);
		for (int tries = 0; nnsock_send(push, &m) < 0; tries++) {
			assert_true(tries < 500);
			usleep(10000);
		}
	}
	g.want = msg_type_count();
	run(&g);
	assert_int_equal(g.n, msg_type_count());
	for (size_t i = 0; i < g.n; i++)
		assert_int_equal(g.types[i], msg_type_at(i));
	assert_int_equal(g.blob_bytes, sizeof(blob) * msg_type_count());
	assert_int_equal(g.bad_blob, 0);
	assert_int_equal(nnsock_dropped(pull), 0);
	nnsock_close(push);
	nnsock_close(pull);
	event_base_free(g.base);
}

static void
test_bad_messages_dropped_service_continues(void **state)
{
	static const struct msg_handler only_stt[] = {
	    {MSG_STT_JOB, on_any},
	    {0, NULL},
	};
	struct got g;
	char addr[128];
	struct nnsock *pull;
	int push;
	struct msg m;
	uint8_t *good;
	size_t len;
	unsigned long before = msg_error_total();

	(void)state;
	memset(&g, 0, sizeof(g));
	g.base = event_base_new();
	snprintf(addr, sizeof(addr), "ipc://%s/bad.sock", dir);
	pull = nnsock_open(NN_PULL, false, "test-pull");
	assert_int_equal(nnsock_bind_list(pull, addr), 0);
	assert_int_equal(nnsock_watch(pull, g.base, only_stt, &g), 0);
	push = nn_socket(AF_SP, NN_PUSH);
	assert_true(nn_connect(push, addr) >= 0);
	msg_init(&m, MSG_STT_JOB);
	m.json = "{\"seq\":0}";
	m.json_len = strlen(m.json);
	good = msg_encode(&m, &len);
	/* garbage, truncated, unknown to this table, bad JSON, then good */
	assert_true(nn_send(push, "garbage!", 8, 0) == 8);
	assert_true(nn_send(push, good, len - 1, 0) == (int)len - 1);
	msg_init(&m, MSG_TTS_JOB);
	{
		size_t l2;
		uint8_t *other = msg_encode(&m, &l2);

		assert_true(nn_send(push, other, l2, 0) == (int)l2);
		free(other);
	}
	msg_init(&m, MSG_STT_JOB);
	m.json = "[not an object]";
	m.json_len = strlen(m.json);
	{
		size_t l3;
		uint8_t *badjson = msg_encode(&m, &l3);

		assert_true(nn_send(push, badjson, l3, 0) == (int)l3);
		free(badjson);
	}
	assert_true(nn_send(push, good, len, 0) == (int)len);
	g.want = 1;
	run(&g);
	assert_int_equal(g.n, 1);
	assert_int_equal(nnsock_received(pull), 5);
	assert_int_equal(nnsock_dropped(pull), 4);
	assert_int_equal(msg_error_total(), before + 3);
	free(good);
	nn_close(push);
	nnsock_close(pull);
	event_base_free(g.base);
}

struct rep_ctx {
	int answered;
};

static void
on_query(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct rep_ctx *c = arg;
	struct msg r;

	(void)payload;
	assert_non_null(rx->sphdr);
	assert_true(rx->sphdr_len >= 4);
	msg_init(&r, MSG_STORE_REPLY);
	r.job_id = m->job_id;
	r.json = "{\"ok\":true}";
	r.json_len = strlen(r.json);
	assert_int_equal(nnsock_send_raw(s, &r, rx->sphdr, rx->sphdr_len), 0);
	c->answered++;
}

static void
test_raw_rep_answers_with_header(void **state)
{
	static const struct msg_handler h[] = {
	    {MSG_STORE_QUERY, on_query},
	    {0, NULL},
	};
	struct event_base *base = event_base_new();
	struct rep_ctx c = {0};
	char addr[128];
	struct nnsock *rep;
	int req[3];

	(void)state;
	snprintf(addr, sizeof(addr), "ipc://%s/rep.sock", dir);
	rep = nnsock_open(NN_REP, true, "test-rep");
	assert_int_equal(nnsock_bind_list(rep, addr), 0);
	assert_int_equal(nnsock_watch(rep, base, h, &c), 0);
	for (int i = 0; i < 3; i++) {
		struct msg m;
		uint8_t *buf;
		size_t len;

		req[i] = nn_socket(AF_SP, NN_REQ);
		assert_true(nn_connect(req[i], addr) >= 0);
		msg_init(&m, MSG_STORE_QUERY);
		m.job_id = (uint64_t)(100 + i);
		buf = msg_encode(&m, &len);
		assert_true(nn_send(req[i], buf, len, 0) == (int)len);
		free(buf);
	}
	for (int round = 0; round < 100 && c.answered < 3; round++) {
		struct timeval tv = {0, 20000};

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(c.answered, 3);
	for (int i = 0; i < 3; i++) {
		void *buf = NULL;
		int timeout = 2000;
		int n;
		struct msg d;

		nn_setsockopt(req[i], NN_SOL_SOCKET, NN_RCVTIMEO, &timeout,
		    sizeof(timeout));
		n = nn_recv(req[i], &buf, NN_MSG, 0);
		assert_true(n > 0);
		assert_int_equal(msg_decode(buf, (size_t)n, &d), MSG_OK);
		assert_int_equal(d.type, MSG_STORE_REPLY);
		assert_int_equal(d.job_id, 100 + i);
		nn_freemsg(buf);
		nn_close(req[i]);
	}
	nnsock_close(rep);
	event_base_free(base);
}

static void
test_endpoint_addresses(void **state)
{
	char *a;

	(void)state;
	endpoints_set_runtime_dir("/run/mz-test");
	unsetenv("MERKAZIA_ENDPOINT_JOBS_STT");
	a = endpoints_address(ENDPOINT_JOBS_STT);
	assert_string_equal(a, "ipc:///run/mz-test/jobs-stt.sock");
	free(a);
	setenv("MERKAZIA_ENDPOINT_JOBS_STT",
	    "tcp://127.0.0.1:5555,tcp://127.0.0.1:5556", 1);
	a = endpoints_address(ENDPOINT_JOBS_STT);
	assert_string_equal(a, "tcp://127.0.0.1:5555,tcp://127.0.0.1:5556");
	free(a);
	unsetenv("MERKAZIA_ENDPOINT_JOBS_STT");
	assert_int_equal(endpoints_find("store"), ENDPOINT_STORE);
	assert_int_equal(endpoints_find("nope"), -1);
	assert_true(endpoints_get(ENDPOINT_STORE)->raw);
	assert_int_equal(
	    endpoints_get(ENDPOINT_JOBS_TTS)->bind_protocol, NN_PUSH);
	assert_null(endpoints_get(ENDPOINT_COUNT));
}

static void
test_bad_addresses(void **state)
{
	struct nnsock *s = nnsock_open(NN_PULL, false, "bad");

	(void)state;
	assert_int_equal(nnsock_bind_list(s, "nonsense://x"), -1);
	assert_int_equal(nnsock_connect_list(s, " , "), -1);
	nnsock_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_push_pull_every_type, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_messages_dropped_service_continues, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_raw_rep_answers_with_header, setup, teardown),
	    cmocka_unit_test(test_endpoint_addresses),
	    cmocka_unit_test(test_bad_addresses),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nn_term();
	return rc;
}
