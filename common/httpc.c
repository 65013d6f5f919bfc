/*
 * Outbound HTTP on the libevent loop (see httpc.h for the contract).
 *
 * Why this file: it is the only place that includes curl.h (R14), so the
 * rules libcurl imposes are kept here once: one curl_global_init per
 * httpc_new (curl counts them), remove an easy handle from the multi
 * before cleaning it up, never call curl_multi_add_handle or
 * curl_multi_remove_handle from inside a curl callback, free a mime tree
 * only after its easy handle.
 *
 * How: curl asks for sockets to be watched (CURLMOPT_SOCKETFUNCTION, one
 * struct httpc_sock each) and for one wake-up timer
 * (CURLMOPT_TIMERFUNCTION); both feed curl_multi_socket_action(), after
 * which finished transfers are collected with curl_multi_info_read() and
 * their done callbacks run.
 *
 * Ownership: struct httpc owns every request it created until the request
 * finishes, is cancelled or httpc_free() runs; a request owns its easy
 * handle, header list, body copy, mime tree and response buffers. Starting
 * a request and freeing a cancelled one both go through the request's own
 * zero-delay event, so neither ever happens inside a curl callback or a
 * user callback (R8).
 *
 * Failure: setup problems (bad header, bad method, curl refusing an
 * option) are remembered and reported through done from the loop, so a
 * caller has one error path. Out of memory inside curl's list helpers is
 * fatal like xmalloc.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "httpc.h"
#include "log.h"
#include "xmalloc.h"

#ifndef MERKAZIA_VERSION
#define MERKAZIA_VERSION "0"
#endif

#define HTTPC_USER_AGENT  "merkazia/" MERKAZIA_VERSION
#define HTTPC_METHOD_MAX  16
#define HTTPC_RETRY_MAX_S 86400L

enum httpc_req_state {
	REQ_BUILDING,  /* setters allowed, not counted in flight */
	REQ_QUEUED,    /* started, waiting for the zero-delay add */
	REQ_RUNNING,   /* in the multi handle */
	REQ_DONE,      /* done callback running; freed when it returns */
	REQ_CANCELLED, /* waiting for the zero-delay free */
};

struct httpc_hdr {
	char *name;
	char *value;
};

struct httpc_sock {
	struct httpc_sock *prev, *next;
	struct httpc *h;
	curl_socket_t fd;
	short kind;
	struct event *ev;
};

struct httpc_req {
	struct httpc_req *prev, *next;
	struct httpc *h;
	CURL *easy;
	enum httpc_req_state state;
	bool in_multi;
	struct event *ev; /* zero-delay: add to multi, or free */

	char *method;
	char *url;
	char *url_log;
	long budget_ms;
	long connect_ms;
	long max_redirects;
	struct curl_slist *headers;
	bool has_expect;
	char *body;
	size_t body_len;
	bool has_body;
	curl_mime *mime;
	size_t max_body;

	void (*on_chunk)(struct httpc_req *, const void *, size_t, void *);
	void (*done)(struct httpc_req *, const struct httpc_result *, void *);
	void *arg;

	enum httpc_status fail_status; /* remembered setup failure */
	long started_ms;

	long code; /* from the latest status line */
	struct httpc_hdr *hdrs;
	size_t nhdrs;
	char *rbody;
	size_t rlen, rcap;
	bool too_large;
	char errbuf[CURL_ERROR_SIZE];
};

struct httpc {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct httpc_req *reqs;
	struct httpc_sock *socks;
	size_t in_flight;
	int depth; /* > 0 while a user callback runs */
};

static long
httpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Return a copy of url without user info, query and fragment. */
static char *
httpc_url_for_log(const char *url)
{
	const char *p = strstr(url, "://");
	const char *auth, *at, *end;
	size_t alen;

	auth = p != NULL ? p + 3 : url;
	alen = strcspn(auth, "/?#");
	at = NULL;
	for (const char *q = auth; q < auth + alen; q++)
		if (*q == '@')
			at = q;
	end = auth + alen + strcspn(auth + alen, "?#");
	if (at == NULL)
		return xstrndup(url, (size_t)(end - url));
	return xasprintf(
	    "%.*s%.*s", (int)(auth - url), url, (int)(end - (at + 1)), at + 1);
}

static void
httpc_list_oom(void)
{
	fatalx("httpc: out of memory in libcurl");
}

/* Remember the first setup failure; done reports it from the loop. */
static void
httpc_req_fail(struct httpc_req *r, enum httpc_status status, const char *text)
{
	if (r->fail_status != HTTPC_OK)
		return;
	r->fail_status = status;
	snprintf(r->errbuf, sizeof(r->errbuf), "%s", text);
}

static bool
httpc_req_is_building(const struct httpc_req *r, const char *fn)
{
	if (r->state == REQ_BUILDING)
		return true;
	log_error("httpc: BUG: %s on a started request", fn);
	return false;
}

static bool
httpc_is_token(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
			return false;
	}
	return n > 0 && n <= max;
}

static void
httpc_req_link(struct httpc *h, struct httpc_req *r)
{
	r->next = h->reqs;
	if (h->reqs != NULL)
		h->reqs->prev = r;
	h->reqs = r;
}

static void
httpc_req_unlink(struct httpc *h, struct httpc_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void
httpc_req_clear_response(struct httpc_req *r)
{
	for (size_t i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	r->nhdrs = 0;
	r->rlen = 0;
	if (r->rbody != NULL)
		r->rbody[0] = '\0';
}

/* Release everything the request owns; never from a curl callback. */
static void
httpc_req_destroy(struct httpc_req *r)
{
	struct httpc *h = r->h;

	httpc_req_unlink(h, r);
	if (r->in_multi)
		curl_multi_remove_handle(h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_mime_free(r->mime);
	curl_slist_free_all(r->headers);
	event_free(r->ev);
	httpc_req_clear_response(r);
	free(r->hdrs);
	free(r->rbody);
	free(r->body);
	free(r->method);
	free(r->url);
	free(r->url_log);
	free(r);
}

static void
httpc_req_defer(struct httpc_req *r)
{
	static const struct timeval zero = {0, 0};

	if (event_add(r->ev, &zero) == -1)
		fatalx("httpc: event_add failed");
}

static enum httpc_status
httpc_status_of(const struct httpc_req *r, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTPC_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTPC_ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return HTTPC_ERR_CONNECT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return HTTPC_ERR_INVALID;
	case CURLE_WRITE_ERROR:
		return r->too_large ? HTTPC_ERR_TOO_LARGE : HTTPC_ERR_TRANSFER;
	default:
		return HTTPC_ERR_TRANSFER;
	}
}

/* Parse Retry-After (delta-seconds or HTTP-date) into ms, -1 if bad. */
static long
httpc_retry_after_ms(const char *v)
{
	char *end;
	long s;
	time_t t;

	if (v == NULL)
		return -1;
	if (isdigit((unsigned char)v[0])) {
		s = strtol(v, &end, 10);
		if (*end != '\0' || s < 0)
			return -1;
		return (s > HTTPC_RETRY_MAX_S ? HTTPC_RETRY_MAX_S : s) * 1000L;
	}
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	s = (long)(t - time(NULL));
	if (s < 0)
		s = 0;
	return (s > HTTPC_RETRY_MAX_S ? HTTPC_RETRY_MAX_S : s) * 1000L;
}

static void
httpc_log_failure(const struct httpc_req *r, const struct httpc_result *res)
{
	json_t *f = json_pack("{s:s, s:s, s:s, s:I, s:I}", "method", r->method,
	    "url", r->url_log, "status", httpc_status_name(res->status), "code",
	    (json_int_t)res->code, "elapsed_ms", (json_int_t)res->elapsed_ms);

	log_fields(LOG_LEVEL_WARN, NULL, f, "httpc: %s %s failed: %s (%s)",
	    r->method, r->url_log, httpc_status_name(res->status), res->error);
	json_decref(f);
}

/*
 * Finish a request: build the result, call done once, free the request.
 * The request is already out of the multi handle.
 */
static void
httpc_req_finish(struct httpc_req *r, enum httpc_status status)
{
	struct httpc *h = r->h;
	struct httpc_result res;
	long code = 0;

	r->state = REQ_DONE;
	h->in_flight--;
	if (r->rbody == NULL) {
		r->rbody = xmalloc(1);
		r->rbody[0] = '\0';
	}
	if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code) ==
		CURLE_OK &&
	    code > 0)
		r->code = code;

	memset(&res, 0, sizeof(res));
	res.status = status;
	res.code = r->code;
	res.content_type = httpc_header(r, "Content-Type");
	res.retry_after_ms =
	    httpc_retry_after_ms(httpc_header(r, "Retry-After"));
	res.body = r->rbody;
	res.body_len = r->rlen;
	res.error = status == HTTPC_OK ? "" : r->errbuf;
	res.elapsed_ms = httpc_now_ms() - r->started_ms;
	res.url = r->url_log;

	if (status != HTTPC_OK)
		httpc_log_failure(r, &res);
	else
		log_debug("httpc: %s %s -> %ld in %ld ms", r->method,
		    r->url_log, res.code, res.elapsed_ms);

	h->depth++;
	r->done(r, &res, r->arg);
	h->depth--;
	httpc_req_destroy(r);
}

static void
httpc_finish_curl(struct httpc_req *r, CURLcode rc)
{
	if (r->too_large)
		snprintf(r->errbuf, sizeof(r->errbuf),
		    "response body over %zu bytes", r->max_body);
	else if (rc != CURLE_OK && r->errbuf[0] == '\0')
		snprintf(
		    r->errbuf, sizeof(r->errbuf), "%s", curl_easy_strerror(rc));
	httpc_req_finish(r, httpc_status_of(r, rc));
}

/* Collect finished transfers after curl_multi_socket_action. */
static void
httpc_drain(struct httpc *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		void *p = NULL;
		struct httpc_req *r;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
		r = p;
		if (r == NULL || r->state != REQ_RUNNING)
			continue; /* cancelled: the zero-delay pass frees it */
		curl_multi_remove_handle(h->multi, easy);
		r->in_multi = false;
		httpc_finish_curl(r, rc);
	}
}

static void
httpc_req_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpc_req *r = arg;
	CURLMcode mc;

	(void)fd;
	(void)what;
	switch (r->state) {
	case REQ_QUEUED:
		if (r->fail_status != HTTPC_OK) {
			httpc_req_finish(r, r->fail_status);
			return;
		}
		mc = curl_multi_add_handle(r->h->multi, r->easy);
		if (mc != CURLM_OK) {
			snprintf(r->errbuf, sizeof(r->errbuf), "%s",
			    curl_multi_strerror(mc));
			httpc_req_finish(r, HTTPC_ERR_TRANSFER);
			return;
		}
		r->in_multi = true;
		r->state = REQ_RUNNING;
		break;
	case REQ_CANCELLED:
		httpc_req_destroy(r);
		break;
	default:
		break;
	}
}

static void
httpc_sock_free(struct httpc *h, struct httpc_sock *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->ev != NULL)
		event_free(s->ev);
	free(s);
}

static void
httpc_sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpc_sock *s = arg;
	struct httpc *h = s->h; /* s may be freed by socket_action */
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, action, &running);
	httpc_drain(h);
}

static void
httpc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpc *h = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	httpc_drain(h);
}

static int
httpc_multi_sock_cb(
    CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct httpc *h = arg;
	struct httpc_sock *s = sockp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			httpc_sock_free(h, s);
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->h = h;
		s->fd = fd;
		s->next = h->socks;
		if (h->socks != NULL)
			h->socks->prev = s;
		h->socks = s;
		curl_multi_assign(h->multi, fd, s);
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s->ev != NULL && s->kind == kind)
		return 0;
	if (s->ev != NULL)
		event_free(s->ev);
	s->kind = kind;
	s->ev = event_new(h->base, fd, kind, httpc_sock_event_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		fatalx("httpc: cannot watch socket %d", (int)fd);
	return 0;
}

static int
httpc_multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct httpc *h = arg;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv);
}

/* Parse the code of a status line ("HTTP/1.1 200 OK"), -1 if not one. */
static long
httpc_status_line(const char *line, size_t len)
{
	const char *sp;
	long code = 0;

	if (len < 12 || strncmp(line, "HTTP/", 5) != 0)
		return -1;
	sp = memchr(line, ' ', len);
	if (sp == NULL || line + len - sp < 4)
		return -1;
	for (int i = 1; i <= 3; i++) {
		if (!isdigit((unsigned char)sp[i]))
			return -1;
		code = code * 10 + (sp[i] - '0');
	}
	return code;
}

static size_t
httpc_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct httpc_req *r = arg;
	size_t len = size * n, nlen, vlen;
	const char *colon, *v;
	long code;

	if (r->state != REQ_RUNNING)
		return 0;
	code = httpc_status_line(data, len);
	if (code >= 0) {
		httpc_req_clear_response(r);
		r->code = code;
		return len;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	colon = memchr(data, ':', len);
	if (colon == NULL || colon == data || r->nhdrs >= HTTPC_MAX_HEADERS)
		return size * n;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(data + len - v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (r->hdrs == NULL)
		r->hdrs =
		    xreallocarray(NULL, HTTPC_MAX_HEADERS, sizeof(*r->hdrs));
	r->hdrs[r->nhdrs].name = xstrndup(data, nlen);
	r->hdrs[r->nhdrs].value = xstrndup(v, vlen);
	r->nhdrs++;
	return size * n;
}

static int
httpc_body_append(struct httpc_req *r, const char *data, size_t len)
{
	size_t cap;

	if (len > r->max_body - r->rlen)
		return -1;
	if (r->rlen + len + 1 > r->rcap) {
		cap = r->rcap ? r->rcap : 4096;
		while (cap < r->rlen + len + 1)
			cap *= 2;
		r->rbody = xreallocarray(r->rbody, cap, 1);
		r->rcap = cap;
	}
	memcpy(r->rbody + r->rlen, data, len);
	r->rlen += len;
	r->rbody[r->rlen] = '\0';
	return 0;
}

static size_t
httpc_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct httpc_req *r = arg;
	struct httpc *h = r->h;
	size_t len = size * n;

	if (r->state != REQ_RUNNING)
		return 0;
	if (r->on_chunk != NULL && r->code >= 200 && r->code < 300) {
		if (len > 0) {
			h->depth++;
			r->on_chunk(r, data, len, r->arg);
			h->depth--;
		}
		/* Cancelled from the chunk callback: abort the transfer. */
		return r->state == REQ_RUNNING ? len : 0;
	}
	if (httpc_body_append(r, data, len) == -1) {
		r->too_large = true;
		return 0;
	}
	return len;
}

/* Apply every option to the easy handle; false when curl refuses one. */
static bool
httpc_req_setup(struct httpc_req *r)
{
	CURL *e = r->easy;
	long connect_ms =
	    r->connect_ms < r->budget_ms ? r->connect_ms : r->budget_ms;
	bool ok = true;

	if (!r->has_expect) {
		struct curl_slist *l = curl_slist_append(r->headers, "Expect:");

		if (l == NULL)
			httpc_list_oom();
		r->headers = l;
	}
	ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, r) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_URL, r->url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ==
	      CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ==
	      CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->budget_ms) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) ==
	      CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTPC_USER_AGENT) ==
	      CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, httpc_header_cb) ==
	      CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_write_cb) ==
	      CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
	if (r->max_redirects > 0) {
		ok &=
		    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK;
		ok &= curl_easy_setopt(
			  e, CURLOPT_MAXREDIRS, r->max_redirects) == CURLE_OK;
	}

	if (strcmp(r->method, "GET") == 0 && !r->has_body && r->mime == NULL)
		ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	else if (strcmp(r->method, "HEAD") == 0)
		ok &= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
	else if (strcmp(r->method, "POST") != 0)
		ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method) ==
		      CURLE_OK;

	if (r->mime != NULL) {
		ok &=
		    curl_easy_setopt(e, CURLOPT_MIMEPOST, r->mime) == CURLE_OK;
	} else if (r->has_body || strcmp(r->method, "POST") == 0) {
		if (r->body == NULL)
			r->body = xstrdup("");
		ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			  (curl_off_t)r->body_len) == CURLE_OK;
		ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) ==
		      CURLE_OK;
	}
	return ok;
}

/*
 * Create the HTTP client of one event loop. Never fails (aborts when curl
 * or libevent cannot allocate). Free it with httpc_free() before the base.
 */
struct httpc *
httpc_new(struct event_base *base)
{
	struct httpc *h = xcalloc(1, sizeof(*h));

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("httpc: curl_global_init failed");
	h->base = base;
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, httpc_timer_cb, h);
	if (h->multi == NULL || h->timer == NULL)
		fatalx("httpc: cannot create the multi handle");
	curl_multi_setopt(
	    h->multi, CURLMOPT_SOCKETFUNCTION, httpc_multi_sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(
	    h->multi, CURLMOPT_TIMERFUNCTION, httpc_multi_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

/*
 * Free the client and every request it still holds, started or not,
 * WITHOUT calling their callbacks: owners release their own per-request
 * state. Takes NULL. Must not be called from an httpc callback.
 */
void
httpc_free(struct httpc *h)
{
	struct httpc_sock *s;

	if (h == NULL)
		return;
	if (h->depth > 0)
		fatalx("httpc: BUG: httpc_free from inside an httpc callback");
	/*
	 * httpc_req_destroy unlinks a request from r->h, which is h, and
	 * httpc_sock_free unlinks the head; the analyzer cannot know r->h == h
	 * and reports the next head as freed.
	 */
	/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
	while (h->reqs != NULL)
		httpc_req_destroy(h->reqs);
	curl_multi_cleanup(h->multi);
	while ((s = h->socks) != NULL)
		httpc_sock_free(h, s);
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
	event_free(h->timer);
	free(h);
	curl_global_cleanup();
}

/* Return the number of started requests that have not finished. */
size_t
httpc_in_flight(const struct httpc *h)
{
	return h->in_flight;
}

/*
 * Create a request for method and url with a time budget in ms for the
 * whole transfer. Never fails: a bad method is reported through done.
 * Finish building it and call httpc_start(), or drop it with
 * httpc_cancel().
 */
struct httpc_req *
httpc_req_new(
    struct httpc *h, const char *method, const char *url, long budget_ms)
{
	struct httpc_req *r = xcalloc(1, sizeof(*r));

	r->h = h;
	r->method = xstrdup(method);
	r->url = xstrdup(url);
	r->url_log = httpc_url_for_log(url);
	r->budget_ms = budget_ms;
	r->connect_ms = HTTPC_CONNECT_MS;
	r->max_body = HTTPC_MAX_BODY;
	r->easy = curl_easy_init();
	r->ev = evtimer_new(h->base, httpc_req_deferred_cb, r);
	if (r->easy == NULL || r->ev == NULL)
		fatalx("httpc: cannot create a request");
	httpc_req_link(h, r);
	if (!httpc_is_token(method, HTTPC_METHOD_MAX))
		httpc_req_fail(r, HTTPC_ERR_INVALID, "invalid method");
	if (budget_ms <= 0)
		httpc_req_fail(
		    r, HTTPC_ERR_TIMEOUT, "time budget exhausted before start");
	return r;
}

/* Bound the connect phase to ms (default HTTPC_CONNECT_MS, never above
 * the budget). */
void
httpc_req_connect_timeout(struct httpc_req *r, long ms)
{
	if (httpc_req_is_building(r, __func__) && ms > 0)
		r->connect_ms = ms;
}

/*
 * Add a request header. A name that is not a token or a value holding CR
 * or LF makes the request fail with HTTPC_ERR_INVALID (the value is never
 * logged). An empty value removes a header curl would add.
 */
void
httpc_req_header(struct httpc_req *r, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;

	if (!httpc_req_is_building(r, __func__))
		return;
	if (!httpc_is_token(name, 256) || strpbrk(value, "\r\n") != NULL) {
		log_warnx("httpc: invalid request header %s",
		    httpc_is_token(name, 256) ? name : "(bad name)");
		httpc_req_fail(r, HTTPC_ERR_INVALID, "invalid request header");
		return;
	}
	if (strcasecmp(name, "Expect") == 0)
		r->has_expect = true;
	if (value[0] == '\0')
		line = xasprintf("%s:", name);
	else
		line = xasprintf("%s: %s", name, value);
	l = curl_slist_append(r->headers, line);
	free(line);
	if (l == NULL)
		httpc_list_oom();
	r->headers = l;
}

/* Send a copy of len bytes of data as the request body. */
void
httpc_req_body(struct httpc_req *r, const void *data, size_t len)
{
	httpc_req_body_take(r, len > 0 ? xmemdup(data, len) : NULL, len);
}

/* Send data (malloc'd, len bytes) as the request body; takes ownership. */
void
httpc_req_body_take(struct httpc_req *r, void *data, size_t len)
{
	if (!httpc_req_is_building(r, __func__)) {
		free(data);
		return;
	}
	free(r->body);
	r->body = data;
	r->body_len = data != NULL ? len : 0;
	r->has_body = true;
	if (r->mime != NULL)
		httpc_req_fail(r, HTTPC_ERR_INVALID, "both body and multipart");
}

static curl_mimepart *
httpc_req_part(struct httpc_req *r, const char *name)
{
	curl_mimepart *part;

	if (r->has_body)
		httpc_req_fail(r, HTTPC_ERR_INVALID, "both body and multipart");
	if (r->mime == NULL && (r->mime = curl_mime_init(r->easy)) == NULL)
		httpc_list_oom();
	part = curl_mime_addpart(r->mime);
	if (part == NULL)
		httpc_list_oom();
	if (curl_mime_name(part, name) != CURLE_OK)
		httpc_req_fail(r, HTTPC_ERR_INVALID, "bad multipart name");
	return part;
}

/* Add a multipart/form-data text field (the request becomes a POST). */
void
httpc_req_mime_text(struct httpc_req *r, const char *name, const char *value)
{
	curl_mimepart *part;

	if (!httpc_req_is_building(r, __func__))
		return;
	part = httpc_req_part(r, name);
	if (curl_mime_data(part, value, CURL_ZERO_TERMINATED) != CURLE_OK)
		httpc_req_fail(r, HTTPC_ERR_INVALID, "bad multipart text");
}

/*
 * Add a multipart/form-data file field from memory: a copy of len bytes
 * sent with filename and content_type (NULL: application/octet-stream).
 */
void
httpc_req_mime_file(struct httpc_req *r, const char *name, const char *filename,
    const char *content_type, const void *data, size_t len)
{
	curl_mimepart *part;

	if (!httpc_req_is_building(r, __func__))
		return;
	part = httpc_req_part(r, name);
	if (curl_mime_data(part, data, len) != CURLE_OK ||
	    curl_mime_filename(part, filename) != CURLE_OK ||
	    curl_mime_type(part, content_type != NULL
				     ? content_type
				     : "application/octet-stream") != CURLE_OK)
		httpc_req_fail(r, HTTPC_ERR_INVALID, "bad multipart file");
}

/* Cap a buffered response body at max bytes (default HTTPC_MAX_BODY). */
void
httpc_req_max_body(struct httpc_req *r, size_t max)
{
	if (httpc_req_is_building(r, __func__))
		r->max_body = max;
}

/* Follow up to max_redirects redirects (default 0: none). Credentials
 * set with httpc_req_header() are not sent to another host. */
void
httpc_req_follow(struct httpc_req *r, long max_redirects)
{
	if (httpc_req_is_building(r, __func__))
		r->max_redirects = max_redirects;
}

/* Stream the body of a 2xx response to on_chunk (see httpc.h). */
void
httpc_req_on_chunk(
    struct httpc_req *r, void (*on_chunk)(struct httpc_req *r, const void *data,
			     size_t len, void *arg))
{
	if (httpc_req_is_building(r, __func__))
		r->on_chunk = on_chunk;
}

/*
 * Start the request; done(r, res, arg) runs exactly once from the loop
 * unless the request is cancelled or the client freed first. arg is also
 * passed to the chunk callback.
 */
void
httpc_start(struct httpc_req *r,
    void (*done)(
	struct httpc_req *r, const struct httpc_result *res, void *arg),
    void *arg)
{
	if (!httpc_req_is_building(r, __func__))
		return;
	r->done = done;
	r->arg = arg;
	r->started_ms = httpc_now_ms();
	r->state = REQ_QUEUED;
	r->h->in_flight++;
	if (r->fail_status == HTTPC_OK && !httpc_req_setup(r))
		httpc_req_fail(r, HTTPC_ERR_INVALID, "curl refused an option");
	httpc_req_defer(r);
}

/*
 * Cancel r: its callbacks are not called again and it is freed from a
 * zero-delay event. Safe from any httpc callback, its own included; a
 * no-op on NULL, on a cancelled request and from inside r's done.
 */
void
httpc_cancel(struct httpc_req *r)
{
	if (r == NULL || r->state == REQ_DONE || r->state == REQ_CANCELLED)
		return;
	if (r->state != REQ_BUILDING)
		r->h->in_flight--;
	r->state = REQ_CANCELLED;
	httpc_req_defer(r);
}

/* Return the HTTP status of the response so far, 0 before one arrived. */
long
httpc_code(const struct httpc_req *r)
{
	return r->code;
}

/*
 * Return the first response header called name (any case), or NULL.
 * Valid in the chunk and done callbacks, until they return.
 */
const char *
httpc_header(const struct httpc_req *r, const char *name)
{
	for (size_t i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

/*
 * Take the buffered response body (NUL-terminated, *len bytes before the
 * NUL); the caller frees it. Only inside done; res->body then belongs to
 * the caller too. Returns NULL outside done.
 */
char *
httpc_take_body(struct httpc_req *r, size_t *len)
{
	char *b;

	if (r->state != REQ_DONE || r->rbody == NULL)
		return NULL;
	b = r->rbody;
	if (len != NULL)
		*len = r->rlen;
	r->rbody = NULL;
	r->rlen = r->rcap = 0;
	return b;
}

/* Return a short stable name for status, for logs and metrics. */
const char *
httpc_status_name(enum httpc_status status)
{
	switch (status) {
	case HTTPC_OK:
		return "ok";
	case HTTPC_ERR_TIMEOUT:
		return "timeout";
	case HTTPC_ERR_CONNECT:
		return "connect";
	case HTTPC_ERR_TOO_LARGE:
		return "too_large";
	case HTTPC_ERR_INVALID:
		return "invalid";
	case HTTPC_ERR_TRANSFER:
		return "transfer";
	}
	return "unknown";
}
