/*
 * store-load: drive crm-store through common/store.c, the client every
 * daemon uses, and report what happened as JSON lines.
 *
 * Why: the end-to-end tests and `make bench-store` need a sender whose
 * writes take exactly the daemons' path (raw REQ, acknowledgements,
 * spool, replay after a restart) and whose counts they can wait on
 * instead of sleeping. Two modes:
 *
 *   store-load [-n N] [-k turn|customer|call_event] [-c CALL_SID]
 *              [-b BUSINESS] [-s FIRST] [-r PER_SECOND] [-w WINDOW]
 *              [-p SPOOL] [-a ADDR] [-t MS]
 *     sends N writes (0: only replay what the spool holds), paced at
 *     PER_SECOND (0: as fast as the window of WINDOW unacknowledged
 *     writes allows), and prints {"sent", "acked", "spooled", "rejected",
 *     "pending", "loaded", "resent"} whenever a count changes (at most
 *     every 50 ms), then a final line with "done", "seconds" and
 *     "acked_per_s". Exit 0 when every write was acknowledged, 3 when -t
 *     passed first.
 *
 *   store-load -L COUNT -P PHONES [-b BUSINESS] [-a ADDR] [-t MS]
 *     runs COUNT caller-ID lookups (STORE_SYSQUERY customer_by_phone),
 *     one at a time, for random phones +97250NNNNNNN below PHONES, and
 *     prints {"lookups", "found", "p50_ms", "p99_ms", "max_ms"}.
 *
 * The spool defaults to $MERKAZIA_STATE_DIR/spool/store-load-<instance>
 * (MERKAZIA_INSTANCE, default 0); the address to the STORE endpoint of
 * MERKAZIA_RUNTIME_DIR / MERKAZIA_ENDPOINT_STORE.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "endpoints.h"
#include "log.h"
#include "spool.h"
#include "store.h"
#include "xmalloc.h"

struct load {
	struct event_base *base;
	struct store_client *c;
	struct event *timer;
	const char *kind;
	const char *call_sid;
	long business;
	long first;
	long n;
	long sent;
	long rate;
	long window;
	int64_t t0;
	int64_t deadline;
	char last[512];
	int rc;
	/* lookups */
	long lookups;
	long phones;
	long done_lookups;
	long found;
	int64_t *lat_us;
	int64_t started_us;
};

static void
load_usage(void)
{
	fprintf(stderr,
	    "usage: store-load [-n N] [-k turn|customer|call_event] "
	    "[-c CALL_SID] [-b BUSINESS] [-s FIRST] [-r PER_SECOND] "
	    "[-w WINDOW] [-p SPOOL] [-a ADDR] [-t MS]\n"
	    "       store-load -L COUNT -P PHONES [-b BUSINESS] [-a ADDR] "
	    "[-t MS]\n");
}

static void
load_report(struct load *l, bool final)
{
	struct store_counters k;
	json_t *j;
	char *s;

	store_get_counters(l->c, &k);
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent",
	    (json_int_t)l->sent, "acked", (json_int_t)k.acked, "spooled",
	    (json_int_t)k.spooled, "rejected", (json_int_t)k.rejected,
	    "pending", (json_int_t)k.pending, "loaded", (json_int_t)k.loaded,
	    "resent", (json_int_t)k.resent);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (final) {
		double secs = (double)(clock_mono_ms() - l->t0) / 1000.0;

		json_object_set_new(j, "done", json_true());
		json_object_set_new(j, "seconds", json_real(secs));
		json_object_set_new(j, "acked_per_s",
		    json_real(secs > 0 ? (double)k.acked / secs : 0));
		free(s);
		s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	}
	if (s != NULL && (final || strcmp(s, l->last) != 0)) {
		printf("%s\n", s);
		(void)fflush(stdout);
		snprintf(l->last, sizeof(l->last), "%s", s);
	}
	free(s);
	json_decref(j);
}

static json_t *
load_data(struct load *l, long i, char *key, size_t keylen)
{
	if (strcmp(l->kind, "customer") == 0) {
		char phone[32];

		snprintf(phone, sizeof(phone), "+97254%07ld", i);
		snprintf(key, keylen, "%ld:%s", l->business, phone);
		return json_pack("{s:I, s:s, s:s, s:s}", "business_id",
		    (json_int_t)l->business, "phone", phone, "name",
		    "לקוח בדיקה", "source", "web");
	}
	if (strcmp(l->kind, "call_event") == 0) {
		snprintf(key, keylen, "%s-ev-%ld", l->call_sid, i);
		return json_pack("{s:s, s:s, s:{s:I}}", "call_sid", l->call_sid,
		    "type", "media", "data", "n", (json_int_t)i);
	}
	snprintf(key, keylen, "%s:%ld", l->call_sid, i);
	return json_pack("{s:s, s:I, s:s, s:s}", "call_sid", l->call_sid, "seq",
	    (json_int_t)i, "speaker", i % 2 ? "agent" : "caller", "heard",
	    "שלום, אני מחפש דירת ארבעה חדרים בתל אביב");
}

static void
load_tick(evutil_socket_t fd, short what, void *arg)
{
	struct load *l = arg;
	int64_t now = clock_mono_ms();
	long want = l->n;

	(void)fd;
	(void)what;
	if (l->rate > 0) {
		want = (long)((now - l->t0) * l->rate / 1000) + 1;
		if (want > l->n)
			want = l->n;
	}
	while (l->sent < want && (long)store_pending(l->c) < l->window) {
		char key[96];
		json_t *d = load_data(l, l->first + l->sent, key, sizeof(key));

		(void)store_write(l->c, l->kind, key, d, NULL, NULL);
		json_decref(d);
		l->sent++;
	}
	load_report(l, false);
	if (l->sent >= l->n && store_pending(l->c) == 0) {
		l->rc = 0;
		event_base_loopbreak(l->base);
	} else if (now >= l->deadline) {
		l->rc = 3;
		event_base_loopbreak(l->base);
	}
}

static int
load_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void load_lookup_next(struct load *l);

static void
load_lookup_done(unsigned int type, json_t *reply, void *arg)
{
	struct load *l = arg;

	l->lat_us[l->done_lookups++] = clock_mono_us() - l->started_us;
	if (type == MSG_STORE_REPLY &&
	    json_is_object(json_object_get(reply, "customer")))
		l->found++;
	if (type == STORE_TIMEOUT || l->done_lookups >= l->lookups ||
	    clock_mono_ms() >= l->deadline) {
		l->rc = l->done_lookups >= l->lookups ? 0 : 3;
		event_base_loopbreak(l->base);
		return;
	}
	load_lookup_next(l);
}

static void
load_lookup_next(struct load *l)
{
	char phone[32];
	json_t *q;

	snprintf(phone, sizeof(phone), "+97250%07ld",
	    l->phones > 0 ? random() % l->phones : 0);
	q = json_pack("{s:s, s:{s:I, s:s}}", "q", "customer_by_phone", "args",
	    "business_id", (json_int_t)l->business, "phone", phone);
	l->started_us = clock_mono_us();
	(void)store_request(
	    l->c, MSG_STORE_SYSQUERY, q, 5000, load_lookup_done, l);
	json_decref(q);
}

static void
load_lookup_report(struct load *l)
{
	size_t n = (size_t)l->done_lookups;
	size_t i50 = n / 2, i99 = n * 99 / 100;
	double p50 = 0, p99 = 0, max = 0;

	qsort(l->lat_us, n, sizeof(l->lat_us[0]), load_cmp);
	if (n > 0) {
		p50 = (double)l->lat_us[i50] / 1000.0;
		p99 = (double)l->lat_us[i99] / 1000.0;
		max = (double)l->lat_us[n - 1] / 1000.0;
	}
	printf("{\"lookups\":%zu,\"found\":%ld,\"p50_ms\":%.3f,"
	       "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
	    n, l->found, p50, p99, max);
}

int
main(int argc, char **argv)
{
	struct load l;
	struct store_opts o;
	struct timeval tv = {0, 10000};
	const char *rd = getenv("MERKAZIA_RUNTIME_DIR");
	const char *sd = getenv("MERKAZIA_STATE_DIR");
	const char *inst = getenv("MERKAZIA_INSTANCE");
	char *spool = NULL;
	long timeout_ms = 60000;
	int c;

	memset(&l, 0, sizeof(l));
	memset(&o, 0, sizeof(o));
	l.kind = "turn";
	l.call_sid = "CAload";
	l.business = 1;
	l.window = 5000;
	l.rc = 3;
	log_init("store-load", inst);
	while ((c = getopt(argc, argv, "n:k:c:b:s:r:w:p:a:t:L:P:h")) != -1) {
		switch (c) {
		case 'n':
			l.n = strtol(optarg, NULL, 10);
			break;
		case 'k':
			l.kind = optarg;
			break;
		case 'c':
			l.call_sid = optarg;
			break;
		case 'b':
			l.business = strtol(optarg, NULL, 10);
			break;
		case 's':
			l.first = strtol(optarg, NULL, 10);
			break;
		case 'r':
			l.rate = strtol(optarg, NULL, 10);
			break;
		case 'w':
			l.window = strtol(optarg, NULL, 10);
			break;
		case 'p':
			free(spool);
			spool = xstrdup(optarg);
			break;
		case 'a':
			o.address = optarg;
			break;
		case 't':
			timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 'L':
			l.lookups = strtol(optarg, NULL, 10);
			break;
		case 'P':
			l.phones = strtol(optarg, NULL, 10);
			break;
		default:
			load_usage();
			free(spool);
			return 1;
		}
	}
	if (l.n < 0 || l.window < 1 || l.lookups < 0 ||
	    (strcmp(l.kind, "turn") != 0 && strcmp(l.kind, "customer") != 0 &&
		strcmp(l.kind, "call_event") != 0)) {
		load_usage();
		free(spool);
		return 1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if (rd != NULL)
		endpoints_set_runtime_dir(rd);
	if (spool == NULL && l.lookups == 0)
		spool = spool_path(sd != NULL ? sd : ".", "store-load",
		    inst != NULL ? inst : "0");
	o.spool_path = spool;
	l.base = event_base_new();
	l.c = store_new(l.base, &o);
	if (l.c == NULL) {
		event_base_free(l.base);
		free(spool);
		return 1;
	}
	l.t0 = clock_mono_ms();
	l.deadline = l.t0 + timeout_ms;
	if (l.lookups > 0) {
		l.lat_us = xcalloc((size_t)l.lookups, sizeof(int64_t));
		load_lookup_next(&l);
		event_base_dispatch(l.base);
		load_lookup_report(&l);
		free(l.lat_us);
	} else {
		l.timer = event_new(l.base, -1, EV_PERSIST, load_tick, &l);
		event_add(l.timer, &tv);
		event_base_dispatch(l.base);
		load_report(&l, true);
		event_free(l.timer);
	}
	store_free(l.c);
	event_base_free(l.base);
	libevent_global_shutdown();
	free(spool);
	return l.rc;
}
