/*
 * Unit tests for gateway/api.c and gateway/sse.c (and http.c's deferred
 * answers) through a real in-process server: http.c on 127.0.0.1 port 0
 * with routes_handle, the real store client (common/store.c), and a fake
 * crm-store (a raw REP socket on ipc:// in a temporary directory, on the
 * same loop) that answers AUTH_LOGIN, AUTH_SESSION, AUTH_LOGOUT and
 * STORE_QUERY the way crm-store does (reads.c, auth.c).
 *
 * Covered: 401 on known and unknown /api paths (any method, /api/events
 * included) without a session or with an unknown one; login: 415, 400,
 * 401 login_failed, the cookie's flags (HttpOnly, SameSite=Strict, Path,
 * Max-Age, Secure only for an https public URL) and the CSRF token; CSRF
 * missing or wrong: 403; logout clears the cookie and ends the session;
 * a query carries the session's business_id and user_id (never the
 * request's), paging is clamped, another business is 403, an admin must
 * name one; the session cache (one AUTH_SESSION for many requests); 404
 * and 405; crm-store's not_found; recording URLs rewritten; 503 when
 * crm-store does not answer; a client that leaves before the answer; two
 * pipelined requests, the first deferred, answered in order; the login
 * rate limit per email and per address (429, Retry-After, no request to
 * crm-store), and the address behind a trusted proxy; static files, the
 * SPA fallback, caching headers and refused traversal; SSE: head, retry,
 * hello, a change of the user's business delivered and another
 * business's not, the ping, the stream closed at logout, a slow reader
 * dropped at the cap.
 *
 * Every wait is bounded (WAIT_MS); only loopback and ipc://.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "../../gateway/gateway.h"
#include "log.h"
#include "msg.h"
#include "nnsock.h"
#include "store.h"
#include "xmalloc.h"

#define WAIT_MS 5000
#define TOKEN_OWNER \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TOKEN_ADMIN \
	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define TOKEN_OTHER \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OWNER_EMAIL "owner@b1.test"
#define ADMIN_EMAIL "admin@merkazia.test"
#define PASSWORD    "right-password"
#define JSON_CT	    "application/json"

struct fx {
	struct event_base *base;
	struct gateway g;
	int port;
	char dir[64];
	struct nnsock *rep;
	bool silent;	    /* the fake crm-store answers nothing */
	bool owner_gone;    /* TOKEN_OWNER was logged out */
	int logins;	    /* AUTH_LOGIN received */
	int sessions;	    /* AUTH_SESSION received */
	json_t *last_query; /* the last STORE_QUERY's payload */
};

/* MERKAZIA_TRUSTED_PROXIES of the next fx_start. */
static const char *fx_proxies;

struct resp {
	int status;
	char head[4096];
	char *body;
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- the fake crm-store ----------------------------------------------- */

static void
fake_reply(struct fx *fx, const struct msg *m, const struct nnsock_rx *rx,
    unsigned int type, json_t *j)
{
	struct msg r;
	char *s = json_dumps(j, JSON_COMPACT);

	msg_init(&r, (enum msg_type)type);
	r.job_id = m->job_id;
	r.json = s;
	r.json_len = strlen(s);
	assert_int_equal(
	    nnsock_send_raw(fx->rep, &r, rx->sphdr, rx->sphdr_len), 0);
	free(s);
	json_decref(j);
}

static json_t *
fake_user(const char *token)
{
	if (strcmp(token, TOKEN_OWNER) == 0)
		return json_pack("{s:i, s:i, s:s, s:s, s:s}", "id", 7,
		    "business_id", 1, "email", OWNER_EMAIL, "name", "בעלים",
		    "role", "owner");
	if (strcmp(token, TOKEN_ADMIN) == 0)
		return json_pack("{s:i, s:n, s:s, s:s, s:s}", "id", 1,
		    "business_id", "email", ADMIN_EMAIL, "name", "admin",
		    "role", "admin");
	return NULL;
}

static json_t *
fake_forbidden(void)
{
	return json_pack(
	    "{s:s, s:s}", "error", "forbidden", "message", "no valid session");
}

static void
fake_on(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct fx *fx = arg;
	const char *tok =
	    json_string_value(json_object_get(payload, "session"));
	const char *q = json_string_value(json_object_get(payload, "q"));

	(void)s;
	if (fx->silent)
		return;
	if (m->type == MSG_AUTH_LOGIN) {
		const char *email =
		    json_string_value(json_object_get(payload, "email"));
		const char *pw =
		    json_string_value(json_object_get(payload, "password"));
		const char *tk =
		    email != NULL && strcmp(email, ADMIN_EMAIL) == 0
			? TOKEN_ADMIN
			: TOKEN_OWNER;

		fx->logins++;
		assert_non_null(json_object_get(payload, "ip"));
		if (email == NULL || pw == NULL || strcmp(pw, PASSWORD) != 0 ||
		    (strcasecmp(email, OWNER_EMAIL) != 0 &&
			strcasecmp(email, ADMIN_EMAIL) != 0)) {
			fake_reply(fx, m, rx, MSG_STORE_ERROR,
			    json_pack("{s:s, s:s}", "error", "forbidden",
				"message", "wrong email or password"));
			return;
		}
		if (strcmp(tk, TOKEN_OWNER) == 0)
			fx->owner_gone = false;
		fake_reply(fx, m, rx, MSG_STORE_REPLY,
		    json_pack(
			"{s:s, s:o}", "session", tk, "user", fake_user(tk)));
		return;
	}
	if (m->type == MSG_AUTH_SESSION) {
		json_t *u = tok != NULL ? fake_user(tok) : NULL;

		fx->sessions++;
		if (u == NULL ||
		    (fx->owner_gone && strcmp(tok, TOKEN_OWNER) == 0)) {
			json_decref(u);
			fake_reply(
			    fx, m, rx, MSG_STORE_ERROR, fake_forbidden());
			return;
		}
		fake_reply(
		    fx, m, rx, MSG_STORE_REPLY, json_pack("{s:o}", "user", u));
		return;
	}
	if (m->type == MSG_AUTH_LOGOUT) {
		if (tok != NULL && strcmp(tok, TOKEN_OWNER) == 0)
			fx->owner_gone = true;
		fake_reply(fx, m, rx, MSG_STORE_ACK,
		    json_pack("{s:s}", "key", "logout"));
		return;
	}
	/* STORE_QUERY */
	json_decref(fx->last_query);
	fx->last_query = json_deep_copy(payload);
	if (q != NULL && strcmp(q, "customer") == 0) {
		fake_reply(fx, m, rx, MSG_STORE_ERROR,
		    json_pack("{s:s, s:s}", "error", "not_found", "message",
			"no such customer"));
	} else if (q != NULL && strcmp(q, "call") == 0) {
		fake_reply(fx, m, rx, MSG_STORE_REPLY,
		    json_pack("{s:{s:i, s:s, s:s}, s:[], s:[]}", "call", "id",
			5, "call_sid", "CA1", "recording_url",
			"https://api.twilio.com/2010-04-01/Accounts/AC1/"
			"Recordings/RE1",
			"turns", "events"));
	} else if (q != NULL && strcmp(q, "settings") == 0) {
		fake_reply(fx, m, rx, MSG_STORE_REPLY,
		    json_pack("{s:{s:i, s:s}, s:[s]}", "business", "id", 1,
			"name", "שי דירות", "numbers", "+97235550100"));
	} else {
		fake_reply(fx, m, rx, MSG_STORE_REPLY,
		    json_pack("{s:i, s:[{s:i, s:s, s:s}]}", "total", 61, "rows",
			"id", 3, "name", "דנה כהן", "recording_url",
			"https://api.twilio.com/x"));
	}
}

static const struct msg_handler fake_handlers[] = {
    {MSG_AUTH_LOGIN, fake_on},
    {MSG_AUTH_SESSION, fake_on},
    {MSG_AUTH_LOGOUT, fake_on},
    {MSG_STORE_QUERY, fake_on},
    {0, NULL},
};

/* ---- fixture ---------------------------------------------------------- */

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
fx_start(struct fx *fx, const char *public_url, long budget_ms)
{
	char addr[160], web[96];
	struct store_opts so;
	struct api_config ac;
	struct sse_config sc;
	const char *bound;

	memset(fx, 0, sizeof(*fx));
	log_set_level(LOG_LEVEL_ERROR);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mzapi.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	/* the UI: index.html, a hashed asset, and a secret outside */
	snprintf(web, sizeof(web), "%s/web", fx->dir);
	assert_int_equal(mkdir(web, 0700), 0);
	snprintf(addr, sizeof(addr), "%s/assets", web);
	assert_int_equal(mkdir(addr, 0700), 0);
	write_file(web, "index.html", "<!doctype html><title>UI</title>\n");
	write_file(web, "assets/app-3f2a9c.js", "console.log(1)\n");
	write_file(web, ".hidden", "hidden\n");
	write_file(fx->dir, "secret.txt", "TOPSECRET\n");
	/* the fake crm-store and the client */
	snprintf(addr, sizeof(addr), "ipc://%s/store.sock", fx->dir);
	fx->rep = nnsock_open(NN_REP, true, "fake-store");
	assert_non_null(fx->rep);
	assert_int_equal(nnsock_bind_list(fx->rep, addr), 0);
	assert_int_equal(nnsock_watch(fx->rep, fx->base, fake_handlers, fx), 0);
	memset(&so, 0, sizeof(so));
	so.address = addr;
	fx->g.store = store_new(fx->base, &so);
	assert_non_null(fx->g.store);
	/* the server */
	fx->g.http = http_server_new(fx->base, NULL, routes_handle, &fx->g);
	assert_int_equal(http_server_listen(fx->g.http, "127.0.0.1:0"), 0);
	bound = http_server_address(fx->g.http);
	fx->port = atoi(strrchr(bound, ':') + 1);
	assert_int_equal(
	    routes_setup(&fx->g, public_url, bound, "tok", false, NULL), 0);
	memset(&ac, 0, sizeof(ac));
	ac.web_dir = web;
	ac.csrf_key = "test-csrf-key";
	ac.trusted_proxies = fx_proxies;
	ac.session_cache_ms = 30000;
	ac.store_budget_ms = budget_ms;
	ac.session_ttl_s = 3600;
	ac.login_email_max = 3;
	ac.login_ip_max = 5;
	ac.login_window_s = 60;
	assert_int_equal(api_setup(&fx->g, &ac), 0);
	memset(&sc, 0, sizeof(sc));
	sc.ping_ms = 150;
	sc.recheck_ms = 60000;
	sc.output_max = 8192;
	sc.streams_max = 8;
	assert_int_equal(sse_setup(&fx->g, fx->base, &sc), 0);
}

static void
fx_stop(struct fx *fx)
{
	char cmd[128];

	store_free(fx->g.store);
	fx->g.store = NULL;
	api_cleanup(&fx->g);
	sse_cleanup(&fx->g);
	http_server_free(fx->g.http);
	routes_cleanup(&fx->g);
	nnsock_close(fx->rep);
	json_decref(fx->last_query);
	event_base_free(fx->base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
}

static void
spin(struct fx *fx, long ms)
{
	long deadline = now_ms() + ms;

	while (now_ms() < deadline) {
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static int
dial(struct fx *fx)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Send raw on a new connection; parse one response (false: none). */
static bool
roundtrip(struct fx *fx, const char *raw, struct resp *out)
{
	int fd = dial(fx);
	char *buf = xmalloc(1 << 16);
	size_t len = 0, want = 0;
	long deadline = now_ms() + WAIT_MS;
	bool ok = false, head = strncmp(raw, "HEAD", 4) == 0;

	memset(out, 0, sizeof(*out));
	assert_int_equal(
	    send(fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
	while (now_ms() < deadline) {
		ssize_t n;
		const char *end;

		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		n = recv(fd, buf + len, (1 << 16) - 1 - len, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL && want == 0) {
			const char *cl =
			    strcasestr(buf, "\r\nContent-Length: ");
			size_t hl = (size_t)(end - buf) + 4;

			want = hl + (cl != NULL && cl < end && !head
					    ? strtoul(cl + 18, NULL, 10)
					    : 0);
		}
		if (want > 0 && len >= want) {
			ok = true;
			break;
		}
		if (n <= 0)
			usleep(1000);
	}
	close(fd);
	if (ok) {
		const char *end = strstr(buf, "\r\n\r\n");
		size_t hl = (size_t)(end - buf) + 4;

		out->status = atoi(buf + 9);
		memcpy(out->head, buf, hl < sizeof(out->head) ? hl : 0);
		out->body = xstrdup(buf + hl);
	}
	free(buf);
	return ok;
}

/* A request; extra is more header lines ("Name: v\r\n"), body may be
 * NULL. */
static struct resp
req(struct fx *fx, const char *method, const char *path, const char *extra,
    const char *body)
{
	char *raw;
	struct resp r;

	raw = xasprintf("%s %s HTTP/1.1\r\nHost: gw.test\r\n%s"
			"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    method, path, extra != NULL ? extra : "",
	    body != NULL ? strlen(body) : 0, body != NULL ? body : "");
	assert_true(roundtrip(fx, raw, &r));
	free(raw);
	return r;
}

static struct resp
get_as(struct fx *fx, const char *token, const char *path)
{
	char hdr[160];

	snprintf(hdr, sizeof(hdr),
	    "Cookie: theme=dark; merkazia_session=%s\r\n", token);
	return req(fx, "GET", path, hdr, NULL);
}

static json_t *
body_json(const struct resp *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	assert_non_null(j);
	return j;
}

static void
assert_error(const struct resp *r, int status, const char *code)
{
	json_t *j;

	assert_int_equal(r->status, status);
	j = body_json(r);
	assert_string_equal(
	    json_string_value(json_object_get(j, "error")), code);
	assert_non_null(strstr(r->head, "Cache-Control: no-store"));
	json_decref(j);
}

static void
resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* Log in; return the CSRF token (caller frees). */
static char *
login(struct fx *fx, const char *email)
{
	char *body = xasprintf(
	    "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
	struct resp r = req(
	    fx, "POST", "/api/login", "Content-Type: " JSON_CT "\r\n", body);
	json_t *j;
	char *csrf;

	free(body);
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	csrf = xstrdup(json_string_value(json_object_get(j, "csrf_token")));
	assert_int_equal(strlen(csrf), 64);
	json_decref(j);
	resp_free(&r);
	return csrf;
}

static bool read_until(struct fx *fx, int fd, char *buf, size_t size,
    size_t *len, const char *needle, long ms);
static bool closed_by_peer(struct fx *fx, int fd, long ms);

/* ---- tests ------------------------------------------------------------ */

static void
test_unauthorized(void **state)
{
	struct fx fx;
	struct resp r;
	static const char *const paths[][2] = {
	    {"GET", "/api/customers"},
	    {"GET", "/api/no-such-route"},
	    {"DELETE", "/api/no-such-route/7"},
	    {"POST", "/api/customers"},
	    {"GET", "/api/events"},
	    {"GET", "/api"},
	    {"GET", "/api/login"},
	};

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		r = req(&fx, paths[i][0], paths[i][1], NULL, NULL);
		assert_error(&r, 401, "unauthorized");
		resp_free(&r);
	}
	/* a malformed cookie and an unknown session */
	r = get_as(&fx, "1234", "/api/me");
	assert_error(&r, 401, "unauthorized");
	resp_free(&r);
	r = get_as(&fx, TOKEN_OTHER, "/api/no-such-route");
	assert_error(&r, 401, "unauthorized");
	resp_free(&r);
	assert_int_equal(fx.sessions, 1);
	fx_stop(&fx);
}

static void
test_login(void **state)
{
	struct fx fx;
	struct resp r;
	json_t *j;
	const char *cookie;

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	r = req(&fx, "POST", "/api/login",
	    "Content-Type: application/x-www-form-urlencoded\r\n",
	    "email=a&password=b");
	assert_error(&r, 415, "unsupported_media_type");
	resp_free(&r);
	r = req(&fx, "POST", "/api/login", "Content-Type: " JSON_CT "\r\n",
	    "{\"email\":\"" OWNER_EMAIL "\"}");
	assert_error(&r, 400, "invalid");
	j = body_json(&r);
	assert_non_null(
	    json_object_get(json_object_get(j, "fields"), "password"));
	json_decref(j);
	resp_free(&r);
	r = req(&fx, "POST", "/api/login", "Content-Type: " JSON_CT "\r\n",
	    "{\"email\":\"" OWNER_EMAIL "\",\"password\":\"wrong-one\"}");
	assert_error(&r, 401, "login_failed");
	assert_null(strstr(r.head, "Set-Cookie"));
	resp_free(&r);
	r = req(&fx, "POST", "/api/login",
	    "Content-Type: application/json; charset=utf-8\r\n",
	    "{\"email\":\"OWNER@b1.test\",\"password\":\"" PASSWORD "\"}");
	assert_int_equal(r.status, 200);
	cookie = strstr(r.head, "Set-Cookie: ");
	assert_non_null(cookie);
	assert_non_null(strstr(cookie, "merkazia_session=" TOKEN_OWNER ";"));
	assert_non_null(strstr(cookie, "HttpOnly"));
	assert_non_null(strstr(cookie, "SameSite=Strict"));
	assert_non_null(strstr(cookie, "Path=/"));
	assert_non_null(strstr(cookie, "Max-Age=3600"));
	assert_non_null(strstr(cookie, "; Secure"));
	j = body_json(&r);
	assert_int_equal(json_integer_value(
			     json_object_get(json_object_get(j, "user"), "id")),
	    7);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(j, "csrf_token"))), 64);
	json_decref(j);
	resp_free(&r);
	/* the login put the session in the cache: /api/me asks nothing */
	r = get_as(&fx, TOKEN_OWNER, "/api/me");
	assert_int_equal(r.status, 200);
	resp_free(&r);
	assert_int_equal(fx.sessions, 0);
	fx_stop(&fx);

	/* an http:// public URL: no Secure */
	fx_start(&fx, "http://127.0.0.1:8080", 2000);
	r = req(&fx, "POST", "/api/login", "Content-Type: " JSON_CT "\r\n",
	    "{\"email\":\"" OWNER_EMAIL "\",\"password\":\"" PASSWORD "\"}");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "HttpOnly"));
	assert_null(strstr(r.head, "Secure"));
	resp_free(&r);
	fx_stop(&fx);
}

static void
test_csrf_and_logout(void **state)
{
	struct fx fx;
	struct resp r;
	char *csrf, hdr[256];

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	csrf = login(&fx, OWNER_EMAIL);
	r = req(&fx, "POST", "/api/logout",
	    "Cookie: merkazia_session=" TOKEN_OWNER "\r\n", NULL);
	assert_error(&r, 403, "csrf");
	resp_free(&r);
	r = req(&fx, "POST", "/api/logout",
	    "Cookie: merkazia_session=" TOKEN_OWNER "\r\nX-CSRF-Token: "
	    "00000000000000000000000000000000000000000000000000000000000000"
	    "00\r\n",
	    NULL);
	assert_error(&r, 403, "csrf");
	resp_free(&r);
	/* CSRF comes before routing: an unknown POST is 403 too */
	r = req(&fx, "POST", "/api/no-such-route",
	    "Cookie: merkazia_session=" TOKEN_OWNER "\r\n", NULL);
	assert_error(&r, 403, "csrf");
	resp_free(&r);
	snprintf(hdr, sizeof(hdr),
	    "Cookie: merkazia_session=" TOKEN_OWNER "\r\nX-CSRF-Token: %s\r\n",
	    csrf);
	r = req(&fx, "PATCH", "/api/me", hdr, NULL);
	assert_error(&r, 405, "method_not_allowed");
	assert_non_null(strstr(r.head, "Allow: GET, HEAD"));
	resp_free(&r);
	r = req(&fx, "POST", "/api/logout", hdr, NULL);
	assert_int_equal(r.status, 204);
	assert_non_null(strstr(r.head, "merkazia_session=; "));
	assert_non_null(strstr(r.head, "Max-Age=0"));
	resp_free(&r);
	/* the session is gone, from the cache and from crm-store */
	r = get_as(&fx, TOKEN_OWNER, "/api/me");
	assert_error(&r, 401, "unauthorized");
	resp_free(&r);
	free(csrf);
	fx_stop(&fx);
}

static void
test_queries_are_scoped(void **state)
{
	struct fx fx;
	struct resp r;
	json_t *j, *args;

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	/* %D7%9B%D7%94%D7%9F = כהן; user_id and business_id in the query
	 * string are never what is sent */
	r = get_as(&fx, TOKEN_OWNER,
	    "/api/customers?search=%D7%9B%D7%94%D7%9F&page=2&per_page=500"
	    "&business_id=1&user_id=99&stage=new&source=");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Cache-Control: no-store"));
	j = body_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 61);
	assert_int_equal(json_integer_value(json_object_get(j, "page")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "per_page")), 200);
	assert_int_equal(json_array_size(json_object_get(j, "rows")), 1);
	json_decref(j);
	resp_free(&r);
	assert_non_null(fx.last_query);
	assert_string_equal(
	    json_string_value(json_object_get(fx.last_query, "q")),
	    "customers");
	assert_int_equal(
	    json_integer_value(json_object_get(fx.last_query, "business_id")),
	    1);
	assert_int_equal(
	    json_integer_value(json_object_get(fx.last_query, "user_id")), 7);
	args = json_object_get(fx.last_query, "args");
	assert_string_equal(
	    json_string_value(json_object_get(args, "search")), "כהן");
	assert_string_equal(
	    json_string_value(json_object_get(args, "stage")), "new");
	assert_null(json_object_get(args, "source"));
	assert_int_equal(json_integer_value(json_object_get(args, "page")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(args, "per_page")), 200);
	/* one AUTH_SESSION for every request of the session */
	assert_int_equal(fx.sessions, 1);
	r = get_as(&fx, TOKEN_OWNER, "/api/customers?business_id=2");
	assert_error(&r, 403, "forbidden");
	resp_free(&r);
	r = get_as(&fx, TOKEN_OWNER, "/api/customers?page=x");
	assert_error(&r, 400, "invalid");
	resp_free(&r);
	r = get_as(&fx, TOKEN_OWNER, "/api/customers/999");
	assert_error(&r, 404, "not_found");
	resp_free(&r);
	r = get_as(&fx, TOKEN_OWNER, "/api/customers/abc");
	assert_error(&r, 404, "not_found");
	resp_free(&r);
	r = get_as(&fx, TOKEN_OWNER, "/api/no-such-route");
	assert_error(&r, 404, "not_found");
	resp_free(&r);
	r = get_as(&fx, TOKEN_OWNER, "/api/businesses");
	assert_error(&r, 403, "forbidden");
	resp_free(&r);
	/* the call page: Twilio's URL is never shown */
	r = get_as(&fx, TOKEN_OWNER, "/api/calls/CA1");
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "call"), "recording_url")),
	    "/api/calls/5/recording");
	json_decref(j);
	resp_free(&r);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(fx.last_query, "args"), "call_sid")),
	    "CA1");
	r = get_as(&fx, TOKEN_OWNER, "/api/me");
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "business"), "name")),
	    "שי דירות");
	assert_int_equal(
	    json_array_size(json_object_get(j, "permissions")), 10);
	json_decref(j);
	resp_free(&r);
	/* an admin names the business, or gets 400 */
	r = get_as(&fx, TOKEN_ADMIN, "/api/calls");
	assert_error(&r, 400, "invalid");
	resp_free(&r);
	r = get_as(
	    &fx, TOKEN_ADMIN, "/api/calls?business_id=2&status=completed");
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "rows"), 0),
				"recording_url")),
	    "/api/calls/3/recording");
	json_decref(j);
	resp_free(&r);
	assert_int_equal(
	    json_integer_value(json_object_get(fx.last_query, "business_id")),
	    2);
	assert_int_equal(
	    json_integer_value(json_object_get(fx.last_query, "user_id")), 1);
	fx_stop(&fx);
}

static void
test_unavailable(void **state)
{
	struct fx fx;
	struct resp r;
	int fd;
	static const char raw[] =
	    "GET /api/me HTTP/1.1\r\nHost: gw.test\r\nCookie: "
	    "merkazia_session=" TOKEN_ADMIN "\r\n\r\n";

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 200);
	fx.silent = true;
	r = get_as(&fx, TOKEN_OWNER, "/api/me");
	assert_error(&r, 503, "unavailable");
	assert_non_null(strstr(r.head, "Retry-After: 1"));
	resp_free(&r);
	/* a client that leaves before crm-store's answer (R8) */
	fd = dial(&fx);
	assert_int_equal(send(fd, raw, sizeof(raw) - 1, MSG_NOSIGNAL),
	    (ssize_t)sizeof(raw) - 1);
	spin(&fx, 50);
	close(fd);
	spin(&fx, 400);
	fx.silent = false;
	r = get_as(&fx, TOKEN_OWNER, "/api/me");
	assert_int_equal(r.status, 200);
	resp_free(&r);
	fx_stop(&fx);
}

/* Two requests pipelined on one connection, the first deferred (the
 * session is not cached yet): both answered, in order. */
static void
test_pipelined(void **state)
{
	struct fx fx;
	char buf[1 << 14];
	size_t len = 0;
	int fd;
	const char *second;
	static const char raw[] =
	    "GET /api/me HTTP/1.1\r\nHost: gw.test\r\nCookie: "
	    "merkazia_session=" TOKEN_ADMIN "\r\n\r\n"
	    "GET /api/nothing-here HTTP/1.1\r\nHost: gw.test\r\nCookie: "
	    "merkazia_session=" TOKEN_ADMIN "\r\nConnection: close\r\n\r\n";

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	fd = dial(&fx);
	assert_int_equal(send(fd, raw, sizeof(raw) - 1, MSG_NOSIGNAL),
	    (ssize_t)sizeof(raw) - 1);
	assert_true(read_until(
	    &fx, fd, buf, sizeof(buf), &len, "\"not_found\"", WAIT_MS));
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	second = strstr(buf + 1, "HTTP/1.1 ");
	assert_non_null(second);
	assert_int_equal(strncmp(second, "HTTP/1.1 404", 12), 0);
	assert_non_null(strstr(buf, "\"csrf_token\""));
	assert_true(strstr(buf, "\"csrf_token\"") < second);
	assert_true(closed_by_peer(&fx, fd, WAIT_MS));
	close(fd);
	assert_int_equal(fx.sessions, 1);
	fx_stop(&fx);
}

static void
test_rate_limit(void **state)
{
	struct fx fx;
	struct resp r;
	json_t *j;
	char body[160];
	int before;

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	/* per email: 3 failures, then even the right password waits */
	for (int i = 0; i < 3; i++) {
		r = req(&fx, "POST", "/api/login",
		    "Content-Type: " JSON_CT "\r\n",
		    "{\"email\":\"" OWNER_EMAIL "\",\"password\":\"nope\"}");
		assert_error(&r, 401, "login_failed");
		resp_free(&r);
	}
	before = fx.logins;
	r = req(&fx, "POST", "/api/login", "Content-Type: " JSON_CT "\r\n",
	    "{\"email\":\"Owner@B1.test\",\"password\":\"" PASSWORD "\"}");
	assert_error(&r, 429, "rate_limited");
	assert_non_null(strstr(r.head, "Retry-After: "));
	j = body_json(&r);
	assert_true(json_integer_value(json_object_get(j, "retry_after")) > 0);
	assert_true(
	    json_integer_value(json_object_get(j, "retry_after")) <= 60);
	json_decref(j);
	resp_free(&r);
	assert_int_equal(fx.logins, before); /* crm-store was not asked */
	/* per address: 5 failures in all, then any email waits */
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body),
		    "{\"email\":\"x%d@b1.test\",\"password\":\"nope\"}", i);
		r = req(&fx, "POST", "/api/login",
		    "Content-Type: " JSON_CT "\r\n", body);
		assert_error(&r, 401, "login_failed");
		resp_free(&r);
	}
	r = req(&fx, "POST", "/api/login", "Content-Type: " JSON_CT "\r\n",
	    "{\"email\":\"" ADMIN_EMAIL "\",\"password\":\"" PASSWORD "\"}");
	assert_error(&r, 429, "rate_limited");
	resp_free(&r);
	fx_stop(&fx);
}

/* Behind a trusted proxy the client is the last untrusted hop of
 * X-Forwarded-For; from anyone else the header is ignored. */
static void
test_rate_limit_behind_proxy(void **state)
{
	struct fx fx;
	struct resp r;
	char body[160], hdr[160];

	(void)state;
	fx_proxies = "10.0.0.9, 127.0.0.1";
	fx_start(&fx, "https://gw.example.co.il", 2000);
	fx_proxies = NULL;
	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body),
		    "{\"email\":\"p%d@b1.test\",\"password\":\"nope\"}", i);
		snprintf(hdr, sizeof(hdr),
		    "Content-Type: " JSON_CT "\r\nX-Forwarded-For: "
		    "198.51.100.%d, 203.0.113.9, 10.0.0.9\r\n",
		    i);
		r = req(&fx, "POST", "/api/login", hdr, body);
		assert_error(&r, 401, "login_failed");
		resp_free(&r);
	}
	r = req(&fx, "POST", "/api/login",
	    "Content-Type: " JSON_CT "\r\nX-Forwarded-For: 203.0.113.9\r\n",
	    "{\"email\":\"" OWNER_EMAIL "\",\"password\":\"" PASSWORD "\"}");
	assert_error(&r, 429, "rate_limited");
	resp_free(&r);
	r = req(&fx, "POST", "/api/login",
	    "Content-Type: " JSON_CT "\r\nX-Forwarded-For: 198.51.100.1\r\n",
	    "{\"email\":\"" OWNER_EMAIL "\",\"password\":\"" PASSWORD "\"}");
	assert_int_equal(r.status, 200);
	resp_free(&r);
	fx_stop(&fx);

	/* no trusted proxy: X-Forwarded-For is the client's own claim */
	fx_start(&fx, "https://gw.example.co.il", 2000);
	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body),
		    "{\"email\":\"q%d@b1.test\",\"password\":\"nope\"}", i);
		snprintf(hdr, sizeof(hdr),
		    "Content-Type: " JSON_CT "\r\nX-Forwarded-For: "
		    "198.51.100.%d\r\n",
		    i);
		r = req(&fx, "POST", "/api/login", hdr, body);
		assert_error(&r, 401, "login_failed");
		resp_free(&r);
	}
	r = req(&fx, "POST", "/api/login",
	    "Content-Type: " JSON_CT "\r\nX-Forwarded-For: 192.0.2.1\r\n",
	    "{\"email\":\"" OWNER_EMAIL "\",\"password\":\"" PASSWORD "\"}");
	assert_error(&r, 429, "rate_limited");
	resp_free(&r);
	fx_stop(&fx);
}

static void
test_static(void **state)
{
	struct fx fx;
	struct resp r;
	static const char *const refused[] = {"/../secret.txt",
	    "/..%2fsecret.txt", "/%2e%2e/secret.txt",
	    "/assets/%2e%2e/%2e%2e/secret.txt", "/.hidden", "/a%00b",
	    "/a\\..\\secret.txt"};

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	r = req(&fx, "GET", "/", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(
	    strstr(r.head, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(r.head, "Cache-Control: no-cache"));
	assert_non_null(strstr(r.body, "<title>UI</title>"));
	resp_free(&r);
	r = req(&fx, "GET", "/assets/app-3f2a9c.js", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Type: text/javascript"));
	assert_non_null(strstr(
	    r.head, "Cache-Control: public, max-age=31536000, immutable"));
	assert_string_equal(r.body, "console.log(1)\n");
	resp_free(&r);
	/* the app's own routes load index.html */
	r = req(&fx, "GET", "/calls/12?tab=turns", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<title>UI</title>"));
	resp_free(&r);
	r = req(&fx, "HEAD", "/customers", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	resp_free(&r);
	/* a missing asset is not the app */
	r = req(&fx, "GET", "/assets/gone-000000.js", NULL, NULL);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		r = req(&fx, "GET", refused[i], NULL, NULL);
		assert_int_equal(r.status, 400);
		assert_null(strstr(r.body, "TOPSECRET"));
		assert_null(strstr(r.body, "hidden"));
		resp_free(&r);
	}
	/* not the UI's: Twilio paths, other methods, the ops paths */
	r = req(&fx, "GET", "/twilio/nothing", NULL, NULL);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	r = req(&fx, "POST", "/calls/12", NULL, NULL);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	r = req(&fx, "GET", "/healthz", NULL, NULL);
	assert_string_equal(r.body, "ok\n");
	resp_free(&r);
	fx_stop(&fx);
}

/* Read from fd into buf (NUL-terminated) until needle shows up. */
static bool
read_until(struct fx *fx, int fd, char *buf, size_t size, size_t *len,
    const char *needle, long ms)
{
	long deadline = now_ms() + ms;

	while (now_ms() < deadline) {
		ssize_t n;

		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		n = recv(fd, buf + *len, size - 1 - *len, MSG_DONTWAIT);
		if (n > 0)
			*len += (size_t)n;
		buf[*len] = '\0';
		if (strstr(buf, needle) != NULL)
			return true;
		if (n == 0)
			return false;
		usleep(1000);
	}
	return false;
}

static bool
closed_by_peer(struct fx *fx, int fd, long ms)
{
	long deadline = now_ms() + ms;
	char b[4096];

	while (now_ms() < deadline) {
		ssize_t n;

		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		usleep(1000);
	}
	return false;
}

static int
open_stream(
    struct fx *fx, const char *token, char *buf, size_t size, size_t *len)
{
	int fd = dial(fx);
	char *raw = xasprintf("GET /api/events HTTP/1.1\r\nHost: gw.test\r\n"
			      "Accept: text/event-stream\r\n"
			      "Cookie: merkazia_session=%s\r\n\r\n",
	    token);

	assert_int_equal(
	    send(fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
	free(raw);
	*len = 0;
	assert_true(
	    read_until(fx, fd, buf, size, len, "event: hello", WAIT_MS));
	return fd;
}

static void
change(struct fx *fx, const char *kind, int biz, const char *name)
{
	json_t *p = json_pack("{s:s, s:i, s:i, s:{s:s, s:s, s:s, s:s}}", "kind",
	    kind, "id", 40 + biz, "business_id", biz, "data", "phone",
	    "+972501234567", "name", name, "from", "+972501234567", "heard",
	    "שלום");

	sse_on_change(&fx->g, p);
	json_decref(p);
}

static void
test_sse(void **state)
{
	struct fx fx;
	struct resp r;
	char buf[1 << 15];
	size_t len = 0;
	char *csrf, hdr[256];
	int fd;

	(void)state;
	fx_start(&fx, "https://gw.example.co.il", 2000);
	csrf = login(&fx, OWNER_EMAIL);
	fd = open_stream(&fx, TOKEN_OWNER, buf, sizeof(buf), &len);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Type: text/event-stream"));
	assert_non_null(strstr(buf, "retry: 3000\n"));
	assert_non_null(strstr(buf, "\"user_id\":7"));
	assert_int_equal(sse_open_count(&fx.g), 1);
	/* another business's change first, then ours: only ours arrives */
	change(&fx, "lead", 2, "זר");
	change(&fx, "lead", 1, "דנה");
	assert_true(read_until(
	    &fx, fd, buf, sizeof(buf), &len, "event: lead", WAIT_MS));
	assert_true(
	    read_until(&fx, fd, buf, sizeof(buf), &len, "\n\n", WAIT_MS));
	assert_null(strstr(buf, "זר"));
	assert_non_null(strstr(buf, "דנה"));
	assert_non_null(strstr(buf, "\"id\":41"));
	assert_non_null(strstr(buf, "\"from_number\":\"+972501234567\""));
	assert_non_null(strstr(buf, "\"heard_text\""));
	assert_null(strstr(buf, "\"from\":"));
	assert_true(
	    read_until(&fx, fd, buf, sizeof(buf), &len, ": ping\n\n", WAIT_MS));
	/* the gateway's own call events */
	{
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:I}", "event",
		    "webhook", "business_id", "1", "from", "+972501234567",
		    "to", "+97235550100", "ts_ms", (json_int_t)1767225600000);

		sse_call_event(&fx.g, "CA77", ev);
		json_decref(ev);
	}
	assert_true(read_until(
	    &fx, fd, buf, sizeof(buf), &len, "event: call_live", WAIT_MS));
	assert_true(read_until(
	    &fx, fd, buf, sizeof(buf), &len, "\"state\":\"ringing\"", WAIT_MS));
	/* logout closes the stream */
	snprintf(hdr, sizeof(hdr),
	    "Cookie: merkazia_session=" TOKEN_OWNER "\r\nX-CSRF-Token: %s\r\n",
	    csrf);
	r = req(&fx, "POST", "/api/logout", hdr, NULL);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	assert_true(closed_by_peer(&fx, fd, WAIT_MS));
	close(fd);
	spin(&fx, 20);
	assert_int_equal(sse_open_count(&fx.g), 0);
	free(csrf);

	/* an admin without a business follows every business */
	free(login(&fx, ADMIN_EMAIL));
	fd = open_stream(&fx, TOKEN_ADMIN, buf, sizeof(buf), &len);
	assert_non_null(strstr(buf, "\"business_id\":null"));
	change(&fx, "note", 2, "פתק");
	assert_true(read_until(
	    &fx, fd, buf, sizeof(buf), &len, "event: note", WAIT_MS));
	/* a reader that stops reading is dropped at the cap */
	for (int i = 0; i < 400 && sse_open_count(&fx.g) > 0; i++) {
		char big[8000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		change(&fx, "task", 2, big);
		spin(&fx, 2);
	}
	assert_int_equal(sse_open_count(&fx.g), 0);
	close(fd);
	fx_stop(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unauthorized),
	    cmocka_unit_test(test_login),
	    cmocka_unit_test(test_csrf_and_logout),
	    cmocka_unit_test(test_queries_are_scoped),
	    cmocka_unit_test(test_unavailable),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_rate_limit_behind_proxy),
	    cmocka_unit_test(test_static),
	    cmocka_unit_test(test_sse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
