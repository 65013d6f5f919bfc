/*
 * Tests of common/worker.c over real nanomsg sockets: a job arrives on the
 * stage's PULL socket, its result reaches the job's reply address stamped
 * with the job's id, generation and call SID; a job whose budget is spent
 * or whose call was cancelled is dropped; a cancel reaches a job in flight
 * (on_cancel runs, nothing more is sent) but not a newer generation.
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
#include <nanomsg/pubsub.h>

#include "clock.h"
#include "log.h"
#include "worker.h"

static char dir[64];
static char results_addr[128];

struct fixture {
	struct daemon d;
	struct worker *w;
	int jobs;    /* PUSH, bound: the gateway's job endpoint */
	int cancel;  /* PUB, bound */
	int results; /* PULL, bound */
	struct worker_job *held[8];
	size_t nheld;
	int cancels_seen;
};

static void
on_job(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct fixture *f = arg;
	struct worker_job *j = worker_job_begin(f->w, m);
	const char *mode = json_string_value(json_object_get(payload, "mode"));

	(void)s;
	(void)rx;
	if (j == NULL)
		return;
	if (mode != NULL && strcmp(mode, "hold") == 0) {
		f->held[f->nheld++] = j;
		return;
	}
	assert_int_equal(worker_job_reply(j, MSG_TTS_RESULT, MSG_F_FINAL,
			     "{\"index\":1}", "\xff\xfe", 2),
	    0);
	worker_job_end(j);
}

static void
on_cancel(struct worker_job *j, void *arg)
{
	struct fixture *f = arg;

	assert_true(j->cancelled);
	f->cancels_seen++;
}

static const struct msg_handler handlers[] = {
    {MSG_TTS_JOB, on_job},
    {0, NULL},
};

static int
nn_bound(int proto, const char *name)
{
	char addr[128];
	int fd = nn_socket(AF_SP, proto);

	snprintf(addr, sizeof(addr), "ipc://%s/%s.sock", dir, name);
	assert_true(fd >= 0);
	assert_true(nn_bind(fd, addr) >= 0);
	return fd;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int t = 3000;

	snprintf(dir, sizeof(dir), "/tmp/mzwk.XXXXXX");
	assert_non_null(mkdtemp(dir));
	setenv("MERKAZIA_ENDPOINT_HEALTH_GATEWAY", "ipc:///nonexistent/h1", 1);
	setenv("MERKAZIA_ENDPOINT_HEALTH_WATCHDOG", "ipc:///nonexistent/h2", 1);
	endpoints_set_runtime_dir(dir);
	snprintf(
	    results_addr, sizeof(results_addr), "ipc://%s/results.sock", dir);
	log_set_level(LOG_LEVEL_ERROR);
	f->jobs = nn_bound(NN_PUSH, "jobs-tts");
	f->cancel = nn_bound(NN_PUB, "cancel");
	f->results = nn_bound(NN_PULL, "results");
	nn_setsockopt(f->results, NN_SOL_SOCKET, NN_RCVTIMEO, &t, sizeof(t));
	f->d.base = event_base_new();
	f->d.instance = "t";
	f->w =
	    worker_new(&f->d, "tts", ENDPOINT_JOBS_TTS, handlers, on_cancel, f);
	assert_non_null(f->w);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[96];

	for (size_t i = 0; i < f->nheld; i++)
		worker_job_end(f->held[i]);
	worker_free(f->w);
	event_base_free(f->d.base);
	nn_close(f->jobs);
	nn_close(f->cancel);
	nn_close(f->results);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
send_job(struct fixture *f, enum msg_type type, uint64_t id, const char *sid,
    uint32_t gen, uint32_t budget, const char *json)
{
	struct msg m;
	uint8_t *buf;
	size_t len;
	int t = 3000;

	msg_init(&m, type);
	m.job_id = id;
	m.generation = gen;
	m.budget_ms = budget;
	assert_int_equal(msg_set_reply(&m, results_addr), 0);
	assert_int_equal(msg_set_call_sid(&m, sid), 0);
	m.json = json;
	m.json_len = strlen(json);
	buf = msg_encode(&m, &len);
	nn_setsockopt(f->jobs, NN_SOL_SOCKET, NN_SNDTIMEO, &t, sizeof(t));
	assert_int_equal(nn_send(f->jobs, buf, len, 0), (int)len);
	free(buf);
}

static void
send_cancel(struct fixture *f, const char *sid, uint32_t gen)
{
	struct msg m;
	uint8_t *buf;
	size_t len;

	msg_init(&m, MSG_JOB_CANCEL);
	m.generation = gen;
	assert_int_equal(msg_set_call_sid(&m, sid), 0);
	buf = msg_encode(&m, &len);
	assert_int_equal(nn_send(f->cancel, buf, len, 0), (int)len);
	free(buf);
}

/* Run the loop for about ms milliseconds. */
static void
spin(struct fixture *f, long ms)
{
	struct timeval tv = {0, ms * 1000};

	event_base_loopexit(f->d.base, &tv);
	event_base_dispatch(f->d.base);
}

/* Receive one result (or fail after 3 s). */
static int
recv_result(struct fixture *f, struct msg *out, void **buf)
{
	int n;

	for (int i = 0; i < 60; i++) {
		int dontwait = NN_DONTWAIT;

		spin(f, 50);
		n = nn_recv(f->results, buf, NN_MSG, dontwait);
		if (n >= 0) {
			assert_int_equal(
			    msg_decode(*buf, (size_t)n, out), MSG_OK);
			return 0;
		}
	}
	return -1;
}

static void
test_result_stamped_and_delivered(void **state)
{
	struct fixture *f = *state;
	struct msg r;
	void *buf = NULL;

	send_job(f, MSG_TTS_JOB, 42, "CAone", 3, 5000, "{}");
	assert_int_equal(recv_result(f, &r, &buf), 0);
	assert_int_equal(r.type, MSG_TTS_RESULT);
	assert_int_equal(r.job_id, 42);
	assert_int_equal(r.generation, 3);
	assert_string_equal(r.call_sid, "CAone");
	assert_int_equal(r.flags, MSG_F_FINAL);
	assert_true(r.budget_ms > 0 && r.budget_ms <= 5000);
	assert_int_equal(r.blob_len, 2);
	nn_freemsg(buf);
	assert_int_equal(f->w->in_flight, 0);
	assert_int_equal(f->w->jobs_done, 1);
}

static void
test_cancel_hits_job_in_flight_only_up_to_its_generation(void **state)
{
	struct fixture *f = *state;
	struct msg r;
	void *buf = NULL;

	send_job(f, MSG_TTS_JOB, 1, "CAtwo", 1, 0, "{\"mode\":\"hold\"}");
	send_job(f, MSG_TTS_JOB, 2, "CAtwo", 2, 0, "{\"mode\":\"hold\"}");
	for (int i = 0; i < 60 && f->nheld < 2; i++)
		spin(f, 50);
	assert_int_equal(f->nheld, 2);
	assert_int_equal(f->w->in_flight, 2);
	usleep(100 * 1000); /* let the SUB subscription settle */
	send_cancel(f, "CAtwo", 1);
	for (int i = 0; i < 60 && f->cancels_seen == 0; i++)
		spin(f, 50);
	assert_int_equal(f->cancels_seen, 1);
	assert_true(worker_job_is_cancelled(f->held[0]));
	assert_false(worker_job_is_cancelled(f->held[1]));
	/* The cancelled job sends nothing; the newer one still can. */
	assert_int_equal(
	    worker_job_reply(f->held[0], MSG_TTS_RESULT, 0, NULL, NULL, 0), -1);
	assert_int_equal(
	    worker_job_reply(f->held[1], MSG_TTS_RESULT, 0, NULL, NULL, 0), 0);
	assert_int_equal(recv_result(f, &r, &buf), 0);
	assert_int_equal(r.job_id, 2);
	nn_freemsg(buf);
	/* A job that arrives after its cancel is dropped at once. */
	send_job(f, MSG_TTS_JOB, 3, "CAtwo", 1, 0, "{}");
	spin(f, 300);
	assert_int_equal(f->w->jobs_dropped, 1);
	assert_int_equal(f->w->in_flight, 2);
}

static void
test_budget_counts_down(void **state)
{
	struct fixture *f = *state;

	send_job(f, MSG_TTS_JOB, 7, "CAthree", 0, 150, "{\"mode\":\"hold\"}");
	for (int i = 0; i < 60 && f->nheld < 1; i++)
		spin(f, 50);
	assert_int_equal(f->nheld, 1);
	assert_true(worker_job_remaining_ms(f->held[0]) <= 150);
	usleep(200 * 1000);
	assert_int_equal(worker_job_remaining_ms(f->held[0]), 0);
	send_job(f, MSG_TTS_JOB, 8, "CAthree", 0, 0, "{\"mode\":\"hold\"}");
	for (int i = 0; i < 60 && f->nheld < 2; i++)
		spin(f, 50);
	assert_true(worker_job_remaining_ms(f->held[1]) > 1000000);
}

static void
test_unexpected_type_dropped(void **state)
{
	struct fixture *f = *state;

	send_job(f, MSG_STT_JOB, 9, "CAfour", 0, 0, "{}");
	spin(f, 300);
	assert_int_equal(nnsock_dropped(f->w->jobs), 1);
	assert_int_equal(f->w->in_flight, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_result_stamped_and_delivered, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cancel_hits_job_in_flight_only_up_to_its_generation, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_budget_counts_down, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_unexpected_type_dropped, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nn_term();
	return rc;
}
