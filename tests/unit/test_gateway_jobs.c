/*
 * Unit tests for gateway/jobs.c (the job layer) and gateway/reply.c (a
 * reply's sentences in order), with a fake send and a fake clock passed
 * to jobs_tick. Covered: what a job carries (id, generation, budget,
 * attempt, reply address, call SID, payload, blob); a final result
 * delivered once and the job forgotten; a late result re-sent (attempt
 * + 1, RESENT, less budget) at most attempts_max times; late duplicates
 * of another attempt or of a finished job ignored; an LLM job never
 * re-sent once a sentence arrived; results of another generation and of
 * cancelled jobs dropped, JOB_CANCEL published; expiry reported once; a
 * failed send retried; an owner's jobs forgotten; and TTS audio returned
 * out of order played in sentence order, a failed sentence skipped, the
 * heard text and marks taken from the marks echoed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/gateway.h"
#include "clock.h"

#define SENT_MAX 32

struct sent {
	int stage;
	uint16_t type;
	uint64_t job_id;
	uint32_t generation;
	uint32_t budget_ms;
	uint16_t attempt;
	uint16_t flags;
	char reply[MSG_REPLY_MAX + 1];
	char call_sid[MSG_SID_MAX + 1];
	char json[256];
	size_t blob_len;
};

struct fake {
	struct sent s[SENT_MAX];
	size_t n;
	struct sent cancel;
	size_t ncancel;
	bool fail;
	/* what the owner saw */
	size_t results;
	size_t expired;
	long last_tag;
	uint16_t last_type;
};

static void
fake_copy(struct sent *d, int stage, const struct msg *m)
{
	memset(d, 0, sizeof(*d));
	d->stage = stage;
	d->type = m->type;
	d->job_id = m->job_id;
	d->generation = m->generation;
	d->budget_ms = m->budget_ms;
	d->attempt = m->attempt;
	d->flags = m->flags;
	snprintf(d->reply, sizeof(d->reply), "%s", m->reply);
	snprintf(d->call_sid, sizeof(d->call_sid), "%s", m->call_sid);
	snprintf(d->json, sizeof(d->json), "%.*s", (int)m->json_len, m->json);
	d->blob_len = m->blob_len;
}

static int
fake_send(void *arg, int stage, const struct msg *m)
{
	struct fake *f = arg;

	if (f->fail)
		return -1;
	assert_true(f->n < SENT_MAX);
	fake_copy(&f->s[f->n++], stage, m);
	return 0;
}

static int
fake_cancel(void *arg, const struct msg *m)
{
	struct fake *f = arg;

	fake_copy(&f->cancel, -1, m);
	f->ncancel++;
	return 0;
}

static void
owner_result(void *owner, long tag, const struct msg *m, json_t *payload)
{
	struct fake *f = owner;

	(void)payload;
	f->results++;
	f->last_tag = tag;
	f->last_type = m->type;
}

static void
owner_expired(void *owner, long tag, int stage)
{
	struct fake *f = owner;

	(void)stage;
	f->expired++;
	f->last_tag = tag;
}

static const struct jobs_owner_ops ops = {owner_result, owner_expired};

static struct jobs *
table(struct fake *f)
{
	struct jobs_io io = {fake_send, fake_cancel, f};
	struct jobs_config cfg = {
	    {15000, 20000, 10000}, {1000, 1000, 1000}, 60000, 3};

	memset(f, 0, sizeof(*f));
	return jobs_new(NULL, &io, &cfg, "ipc:///tmp/results.sock");
}

/* A result message for job id (attempt, flags, generation). */
static void
result(struct jobs *t, uint16_t type, uint64_t id, uint32_t gen,
    uint16_t attempt, uint16_t flags)
{
	struct msg m;
	json_t *p = json_object();

	msg_init(&m, (enum msg_type)type);
	m.job_id = id;
	m.generation = gen;
	m.attempt = attempt;
	m.flags = flags;
	(void)msg_set_call_sid(&m, "CA1");
	jobs_deliver(t, &m, p);
	json_decref(p);
}

static void
test_submit_and_result(void **state)
{
	struct fake f = {0};
	struct jobs *t = table(&f);
	json_t *p = json_pack("{s:i}", "turn", 1);
	const uint8_t audio[320] = {0};
	uint64_t id, id2;

	(void)state;
	id = jobs_submit(t, JOBS_STT, MSG_STT_JOB, "CA1", 7, p, audio,
	    sizeof(audio), &ops, &f, 42);
	json_decref(p);
	assert_true(id != 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.s[0].stage, JOBS_STT);
	assert_int_equal(f.s[0].type, MSG_STT_JOB);
	assert_true(f.s[0].job_id == id);
	assert_int_equal(f.s[0].generation, 7);
	assert_int_equal(f.s[0].attempt, 1);
	assert_int_equal(f.s[0].flags & MSG_F_RESENT, 0);
	assert_true(f.s[0].budget_ms > 14000 && f.s[0].budget_ms <= 15000);
	assert_string_equal(f.s[0].reply, "ipc:///tmp/results.sock");
	assert_string_equal(f.s[0].call_sid, "CA1");
	assert_string_equal(f.s[0].json, "{\"turn\":1}");
	assert_int_equal(f.s[0].blob_len, sizeof(audio));
	id2 = jobs_submit(
	    t, JOBS_TTS, MSG_TTS_JOB, "CA1", 7, NULL, NULL, 0, &ops, &f, 1);
	assert_true(id2 != id);
	assert_int_equal(jobs_in_flight(t), 2);

	result(t, MSG_STT_RESULT, id, 7, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 1);
	assert_int_equal(f.last_tag, 42);
	assert_int_equal(jobs_in_flight(t), 1);
	/* the same result again: the job is over, ignored */
	result(t, MSG_STT_RESULT, id, 7, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 1);
	assert_int_equal(jobs_stats(t)->unknown, 1);
	jobs_free(t);
}

static void
test_resend_and_duplicates(void **state)
{
	struct fake f = {0};
	struct jobs *t = table(&f);
	int64_t t0;
	uint64_t id;

	(void)state;
	id = jobs_submit(
	    t, JOBS_STT, MSG_STT_JOB, "CA1", 1, NULL, NULL, 0, &ops, &f, 1);
	t0 = clock_mono_ms();
	jobs_tick(t, t0 + 500);
	assert_int_equal(f.n, 1); /* not late yet */
	jobs_tick(t, t0 + 1100);
	assert_int_equal(f.n, 2);
	assert_true(f.s[1].job_id == id);
	assert_int_equal(f.s[1].attempt, 2);
	assert_true(f.s[1].flags & MSG_F_RESENT);
	assert_true(f.s[1].budget_ms < f.s[0].budget_ms);
	jobs_tick(t, t0 + 2200);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.s[2].attempt, 3);
	jobs_tick(t, t0 + 3300); /* attempts_max is 3 */
	assert_int_equal(f.n, 3);
	assert_int_equal(jobs_stats(t)->resent[JOBS_STT], 2);

	/* attempt 2 answers first; attempt 1's late answer is ignored */
	result(t, MSG_STT_RESULT, id, 1, 2, MSG_F_FINAL);
	assert_int_equal(f.results, 1);
	result(t, MSG_STT_RESULT, id, 1, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 1);
	jobs_free(t);

	/* LLM: once a sentence came, never re-sent; other attempts are
	 * duplicates, the answering attempt's results all go through */
	t = table(&f);
	id = jobs_submit(
	    t, JOBS_LLM, MSG_LLM_JOB, "CA1", 1, NULL, NULL, 0, &ops, &f, 5);
	t0 = clock_mono_ms();
	jobs_tick(t, t0 + 1100);
	assert_int_equal(f.n, 2); /* no sentence yet: re-sent */
	result(t, MSG_LLM_SENTENCE, id, 1, 1, 0);
	assert_int_equal(f.results, 1);
	result(t, MSG_LLM_SENTENCE, id, 1, 2, 0); /* the resent one */
	assert_int_equal(f.results, 1);
	assert_int_equal(jobs_stats(t)->duplicates, 1);
	jobs_tick(t, t0 + 5000);
	assert_int_equal(f.n, 2); /* answered: not re-sent again */
	result(t, MSG_LLM_SENTENCE, id, 1, 1, 0);
	result(t, MSG_LLM_DONE, id, 1, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 3);
	assert_int_equal(f.last_type, MSG_LLM_DONE);
	assert_int_equal(jobs_in_flight(t), 0);
	result(t, MSG_LLM_DONE, id, 1, 2, MSG_F_FINAL);
	assert_int_equal(f.results, 3);
	jobs_free(t);
}

static void
test_stale_generation_and_cancel(void **state)
{
	struct fake f = {0};
	struct jobs *t = table(&f);
	uint64_t a, b, c;

	(void)state;
	a = jobs_submit(
	    t, JOBS_TTS, MSG_TTS_JOB, "CA1", 3, NULL, NULL, 0, &ops, &f, 1);
	b = jobs_submit(
	    t, JOBS_TTS, MSG_TTS_JOB, "CA1", 4, NULL, NULL, 0, &ops, &f, 2);
	c = jobs_submit(
	    t, JOBS_TTS, MSG_TTS_JOB, "CA2", 3, NULL, NULL, 0, &ops, &f, 3);
	/* a result naming another generation than its job's: stale */
	result(t, MSG_TTS_RESULT, a, 2, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 0);
	assert_int_equal(jobs_stats(t)->stale, 1);
	/* barge-in at generation 3 of CA1: a is forgotten, b and c stay */
	assert_int_equal(jobs_cancel(t, "CA1", 3, "barge-in"), 0);
	assert_int_equal(f.ncancel, 1);
	assert_int_equal(f.cancel.type, MSG_JOB_CANCEL);
	assert_int_equal(f.cancel.generation, 3);
	assert_string_equal(f.cancel.call_sid, "CA1");
	assert_string_equal(f.cancel.json, "{\"reason\":\"barge-in\"}");
	assert_int_equal(jobs_in_flight(t), 2);
	result(t, MSG_TTS_RESULT, a, 3, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 0);
	result(t, MSG_TTS_RESULT, b, 4, 1, MSG_F_FINAL);
	result(t, MSG_TTS_RESULT, c, 3, 1, MSG_F_FINAL);
	assert_int_equal(f.results, 2);
	jobs_free(t);
}

static void
test_expiry_failure_forget(void **state)
{
	struct fake f = {0};
	struct jobs *t = table(&f);
	int64_t t0;

	(void)state;
	/* a send that fails is retried at the next tick */
	f.fail = true;
	(void)jobs_submit(
	    t, JOBS_TTS, MSG_TTS_JOB, "CA1", 1, NULL, NULL, 0, &ops, &f, 9);
	t0 = clock_mono_ms();
	assert_int_equal(f.n, 0);
	f.fail = false;
	jobs_tick(t, t0 + 10);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.s[0].attempt, 1);
	/* out of budget (10 s + grace): expired once */
	jobs_tick(t, t0 + 12000);
	assert_int_equal(f.expired, 1);
	assert_int_equal(f.last_tag, 9);
	assert_int_equal(jobs_in_flight(t), 0);
	jobs_tick(t, t0 + 13000);
	assert_int_equal(f.expired, 1);

	/* an owner that goes away takes its jobs along */
	(void)jobs_submit(
	    t, JOBS_STT, MSG_STT_JOB, "CA1", 1, NULL, NULL, 0, &ops, &f, 1);
	(void)jobs_submit(
	    t, JOBS_STT, MSG_STT_JOB, "CA1", 1, NULL, NULL, 0, NULL, NULL, 0);
	jobs_forget_owner(t, &f);
	assert_int_equal(jobs_in_flight(t), 1);
	jobs_tick(t, clock_mono_ms() + 100000);
	assert_int_equal(f.expired, 1);
	jobs_free(t);
}

/* ---- reply.c: sentence order -------------------------------------- */

struct po_rec {
	char marks[16][32];
	size_t nmarks;
	size_t frames;
	uint8_t first[16]; /* first byte of each item's first frame */
};

static int
po_media(void *arg, const uint8_t *frame, size_t len)
{
	struct po_rec *r = arg;

	(void)len;
	if (r->nmarks < 16 && r->first[r->nmarks] == 0)
		r->first[r->nmarks] = frame[0];
	r->frames++;
	return 0;
}

static int
po_mark(void *arg, const char *name)
{
	struct po_rec *r = arg;

	snprintf(r->marks[r->nmarks++], sizeof(r->marks[0]), "%s", name);
	return 0;
}

static int
po_clear(void *arg)
{
	(void)arg;
	return 0;
}

static void
test_reply_in_order(void **state)
{
	static const struct playout_ops pops = {po_media, po_mark, po_clear};
	struct playout_stats st = {0};
	struct po_rec r = {0};
	struct playout *po = playout_new(&pops, &r, 100, 40, &st);
	struct reply *rp = reply_new();
	uint8_t a0[160], a1[160], a2[160], a3[160];
	json_t *marks = json_array();
	char *heard, *gen;

	(void)state;
	memset(a0, 10, sizeof(a0));
	memset(a1, 11, sizeof(a1));
	memset(a2, 12, sizeof(a2));
	memset(a3, 13, sizeof(a3));
	assert_int_equal(reply_sentence(rp, 0, "אחת."), 0);
	assert_int_equal(reply_sentence(rp, 1, "שתיים."), 0);
	assert_int_equal(reply_sentence(rp, 2, "שלוש."), 0);
	assert_int_equal(reply_sentence(rp, 3, "ארבע."), 0);
	assert_int_equal(reply_sentence(rp, 1, "again"), -1); /* duplicate */
	/* audio returns 2, 3, 1 (TTS of 1 failed, say), then 0 */
	assert_int_equal(reply_audio(rp, 2, a2, sizeof(a2), po, 0), 1);
	assert_int_equal(reply_audio(rp, 3, a3, sizeof(a3), po, 0), 1);
	assert_int_equal(reply_skip(rp, 1, po, 0), 0);
	assert_int_equal(playout_nitems(po), 0); /* all wait for 0 */
	assert_int_equal(reply_audio(rp, 2, a2, sizeof(a2), po, 0), -1);
	assert_int_equal(reply_audio(rp, 0, a0, sizeof(a0), po, 0), 0);
	assert_int_equal(playout_nitems(po), 3);
	assert_string_equal(playout_item_label(po, 0), "אחת.");
	assert_string_equal(playout_item_label(po, 1), "שלוש.");
	assert_string_equal(playout_item_label(po, 2), "ארבע.");
	assert_false(reply_is_queued(rp)); /* the total is not known yet */
	reply_set_total(rp, 4, po, 0);
	assert_true(reply_is_queued(rp));
	assert_int_equal(reply_queued(rp), 3);
	for (int64_t now = 0; now <= 200; now += 10)
		playout_tick(po, now);
	assert_int_equal(r.frames, 3);
	assert_int_equal(r.first[0], 10);
	assert_int_equal(r.first[1], 12);
	assert_int_equal(r.first[2], 13);
	assert_int_equal(r.nmarks, 3);
	assert_false(reply_is_played(rp, po));
	/* the first two marks come back; then the stream is cleared */
	assert_int_equal(playout_mark_echo(po, r.marks[0]), 0);
	assert_int_equal(playout_mark_echo(po, r.marks[1]), 0);
	assert_false(reply_is_played(rp, po));
	(void)playout_clear(po, 200);
	assert_int_equal(playout_mark_echo(po, r.marks[2]), 0);
	assert_true(reply_is_played(rp, po));
	assert_true(reply_is_interrupted(rp, po));
	heard = reply_heard(rp, po, marks);
	assert_string_equal(heard, "אחת. שלוש.");
	assert_int_equal(json_array_size(marks), 2);
	assert_string_equal(
	    json_string_value(json_array_get(marks, 0)), r.marks[0]);
	gen = reply_generated(rp);
	assert_string_equal(gen, "אחת. שתיים. שלוש. ארבע.");
	free(heard);
	free(gen);
	json_decref(marks);
	reply_free(rp);
	playout_free(po);

	/* a total smaller than what arrived, and an empty reply */
	rp = reply_new();
	memset(&r, 0, sizeof(r));
	po = playout_new(&pops, &r, 100, 40, &st);
	reply_set_total(rp, 0, po, 0);
	assert_true(reply_is_queued(rp));
	assert_true(reply_is_played(rp, po));
	reply_free(rp);
	playout_free(po);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submit_and_result),
	    cmocka_unit_test(test_resend_and_duplicates),
	    cmocka_unit_test(test_stale_generation_and_cancel),
	    cmocka_unit_test(test_expiry_failure_forget),
	    cmocka_unit_test(test_reply_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
