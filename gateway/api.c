/*
 * The browser's API (/api/...) and the static UI (web/dist): the gateway
 * side of docs/api.md, which is the contract the web UI is written
 * against.
 *
 * Why here and like this: the gateway is the only process that accepts
 * HTTP, but it never touches PostgreSQL and never hashes a password.
 * Every /api route is answered by asking crm-store (AUTH_LOGIN,
 * AUTH_SESSION, AUTH_LOGOUT, AUTH_PASSWORD, STORE_QUERY) through the store
 * client, asynchronously: the handler defers its answer (http.c,
 * http_conn_defer) and the reply's callback completes it, so the loop
 * that paces call audio never waits. Every request has a time budget
 * (MERKAZIA_API_STORE_BUDGET_MS); no answer in time is 503 "unavailable".
 * A request whose client left is still finished (the answer goes
 * nowhere, R8).
 *
 * Order of checks (docs/api.md): the session cookie (401 on any /api
 * path but POST /api/login, known or not), the CSRF header on POST, PUT,
 * PATCH and DELETE (403 csrf), the route (404, 405 with Allow), role and
 * tenant (403 forbidden; an admin names the business with ?business_id=,
 * 400 without), the body (415 when not JSON, 400), then crm-store.
 * Every STORE_QUERY carries the user's business_id and user_id, taken
 * from the session, never from the request (an owner's or agent's
 * ?business_id= may only name their own business).
 *
 * Sessions: the cookie merkazia_session holds crm-store's 64-hex token
 * (HttpOnly, SameSite=Strict, Path=/, Max-Age = MERKAZIA_SESSION_TTL_HOURS,
 * Secure when MERKAZIA_PUBLIC_URL is https). A session crm-store confirmed
 * is cached in memory for MERKAZIA_SESSION_CACHE_MS (at most
 * API_CACHE_MAX sessions), so a page that fires ten requests asks
 * crm-store once; logout and a password change drop it from this
 * gateway's cache at once, other gateways notice within that time. The
 * CSRF token is HMAC-SHA256(MERKAZIA_CSRF_KEY, session token) in hex; with
 * no key set a random one is drawn at start (tokens then differ between
 * gateways and restarts, and the UI gets 403 csrf and fetches /api/me
 * again).
 *
 * Login rate limit: failed logins are counted per lower-cased email and
 * per client address (the peer; X-Forwarded-For only when the peer is one
 * of MERKAZIA_TRUSTED_PROXIES) in a sliding window; over the limit a login
 * answers 429 with Retry-After without asking crm-store. A success clears
 * the email's count. Per gateway process; at most API_FAILS_MAX keys are
 * remembered (the oldest is forgotten first).
 *
 * Static UI: any GET or HEAD outside /api, /twilio and the ops paths is a
 * file of MERKAZIA_WEB_DIR (percent-decoded; "..", "." and hidden
 * segments, NUL and backslashes refused; the real path must stay inside
 * the directory), else index.html for the app's own routes. /assets/ files
 * carry a content hash in their names and are cached for a year
 * (immutable); everything else is no-cache. A file is read whole from
 * disk on the loop (the UI's files are small and in the page cache).
 *
 * Edits (POST and PATCH of customers, notes, tasks, appointments,
 * settings, users): the body is checked against a field table (types,
 * enumerations, lengths; 400 names every bad field), phones are made
 * E.164 (phone.c), and the edit goes to crm-store as a STORE_QUERY that
 * names it (customer_update, ...; docs/decisions/0007), which checks the
 * user and tenant again and answers 404 for another business's id and
 * conflict (409) for a phone or email in use. The CSV import is parsed
 * and checked here (csv.c, import.c) and decided by crm-store.
 *
 * Recordings: the call's recording_url (from crm-store, never shown to
 * the browser) is fetched with the Twilio REST client, which sends the
 * account's credentials only under TWILIO_API_BASE_URL; the audio is
 * answered whole or by one Range (206), 404 when there is none.
 *
 * Secrets: passwords, session tokens and the CSRF key never reach a log
 * line; a request body that held a password is wiped before it is freed;
 * a new user's one-time password is only in the answer.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "msg.h"
#include "twilio_rest.h"
#include "xmalloc.h"

#define API_COOKIE	     "merkazia_session"
#define API_TOKEN_LEN	     64 /* crm-store's session token, hex */
#define API_KEY_RANDOM	     32
#define API_CACHE_MAX	     4096
#define API_FAILS_MAX	     10000
#define API_PENDING_MAX	     2048
#define API_EMAIL_MAX	     320
#define API_PASSWORD_MIN     8
#define API_PASSWORD_MAX     256
#define API_SID_MAX	     64
#define API_PER_PAGE_DEFAULT 50
#define API_PER_PAGE_MAX     200
#define API_PAGE_MAX	     1000000
#define API_FILE_MAX	     ((off_t)32 * 1024 * 1024)

#define API_JSON "application/json"
#define API_TEXT "text/plain; charset=utf-8"

/* Route flags. */
#define API_TENANT 0x1u	 /* works on one business: an admin must name it */
#define API_ADMIN  0x2u	 /* admins only */
#define API_OWNER  0x4u	 /* owners and admins (not agents) */
#define API_BODY   0x8u	 /* takes a JSON object body */
#define API_EVENTS 0x10u /* a business is optional for an admin */

enum api_role { API_ROLE_AGENT, API_ROLE_OWNER, API_ROLE_ADMIN };

/* The user of a session, as crm-store answered it. */
struct api_user {
	json_t *json; /* {id, business_id, email, name, role}; NULL: none */
	long long id;
	long long business_id; /* 0: none (an admin) */
	enum api_role role;
};

/* A session crm-store confirmed, cached for a short while. */
struct api_session {
	TAILQ_ENTRY(api_session) entry;
	char token[API_TOKEN_LEN + 1];
	struct api_user user;
	int64_t until_ms;
};

TAILQ_HEAD(api_session_list, api_session);

/* Failed logins of one email ("e:...") or address ("i:..."). */
struct api_fails {
	TAILQ_ENTRY(api_fails) entry;
	char *key;
	int64_t *at; /* failure times (monotonic ms), oldest first */
	size_t n;
	size_t cap;
};

TAILQ_HEAD(api_fails_list, api_fails);

struct api_req;

struct api_route {
	const char *method;
	const char *pattern; /* "*" matches one path segment */
	unsigned int flags;
	void (*fn)(struct api_req *r);
};

/* One /api request, from its arrival to its answer. */
struct api_req {
	TAILQ_ENTRY(api_req) entry;
	struct gateway *g;
	struct api *api;
	struct http_conn *conn;	    /* only while the handler runs */
	struct http_response *resp; /* the handler's, or own once deferred */
	struct http_response own;
	struct http_defer *defer;
	const struct api_route *rt;
	void (*next)(struct api_req *r, unsigned int type, json_t *reply);
	char method[HTTP_METHOD_MAX];
	char *path;
	struct form query;
	char *body;
	size_t body_len;
	char *ctype;
	char *csrf;
	char ip[64];
	char token[API_TOKEN_LEN + 1];
	struct api_user user;
	char *param; /* the path's "*" segment, decoded */
	long long business_id;
	char *email; /* login: lower case */
	long page;
	long per_page;
	int64_t t0;
	bool in_handler;
	bool queued; /* on the API's pending list */
	bool done;
	bool secret_body;	     /* wipe the body before freeing it */
	bool created;		     /* an edit that creates: 201 */
	bool dry_run;		     /* import: a preview */
	json_t *report;		     /* import: the rows the gateway judged */
	char *range;		     /* recording: the Range header */
	struct twilio_rest_req *rec; /* recording: the fetch in flight */
};

TAILQ_HEAD(api_req_list, api_req);

/* Statuses counted one by one in /metrics; others count as "other". */
static const int api_statuses[] = {200, 201, 204, 206, 400, 401, 403, 404, 405,
    409, 415, 416, 429, 500, 501, 503};

#define API_NSTATUS (sizeof(api_statuses) / sizeof(api_statuses[0]))

struct api {
	struct gateway *g;
	char *web_dir;
	char *web_real; /* realpath of web_dir; NULL when it does not exist */
	unsigned char *key;
	size_t key_len;
	char **proxies;
	size_t nproxies;
	long cache_ms;
	long budget_ms;
	long ttl_s;
	long email_max;
	long ip_max;
	long window_ms;
	bool secure;
	struct api_session_list sessions;
	size_t nsessions;
	struct api_fails_list fails;
	size_t nfails;
	struct api_req_list pending;
	size_t npending;
	unsigned long hits[API_NSTATUS + 1];
	unsigned long cache_hits;
	unsigned long cache_misses;
	unsigned long logins_ok;
	unsigned long logins_failed;
	unsigned long logins_limited;
	unsigned long store_timeouts;
	unsigned long static_files;
	unsigned long static_index;
	unsigned long static_refused;
};

static void api_login(struct api_req *r);
static void api_logout(struct api_req *r);
static void api_me(struct api_req *r);
static void api_password(struct api_req *r);
static void api_businesses(struct api_req *r);
static void api_calls(struct api_req *r);
static void api_call(struct api_req *r);
static void api_customers(struct api_req *r);
static void api_customer(struct api_req *r);
static void api_settings(struct api_req *r);
static void api_events(struct api_req *r);
static void api_calls_live(struct api_req *r);
static void api_recording(struct api_req *r);
static void api_customer_create(struct api_req *r);
static void api_customer_update(struct api_req *r);
static void api_note_create(struct api_req *r);
static void api_customer_task(struct api_req *r);
static void api_settings_update(struct api_req *r);
static void api_appointments(struct api_req *r);
static void api_appointment_create(struct api_req *r);
static void api_appointment_update(struct api_req *r);
static void api_tasks(struct api_req *r);
static void api_task_create(struct api_req *r);
static void api_task_update(struct api_req *r);
static void api_import(struct api_req *r);
static void api_users(struct api_req *r);
static void api_user_create(struct api_req *r);
static void api_user_update(struct api_req *r);
static void api_audit(struct api_req *r);

/* In match order: a literal segment before "*". */
static const struct api_route api_routes[] = {
    {"POST", "/api/login", 0, api_login},
    {"POST", "/api/logout", 0, api_logout},
    {"GET", "/api/me", 0, api_me},
    {"POST", "/api/password", API_BODY, api_password},
    {"GET", "/api/businesses", API_ADMIN, api_businesses},
    {"GET", "/api/calls", API_TENANT, api_calls},
    {"GET", "/api/calls/live", API_TENANT, api_calls_live},
    {"GET", "/api/calls/*", API_TENANT, api_call},
    {"GET", "/api/calls/*/recording", API_TENANT, api_recording},
    {"GET", "/api/customers", API_TENANT, api_customers},
    {"POST", "/api/customers", API_TENANT | API_BODY, api_customer_create},
    {"GET", "/api/customers/*", API_TENANT, api_customer},
    {"PATCH", "/api/customers/*", API_TENANT | API_BODY, api_customer_update},
    {"POST", "/api/customers/*/notes", API_TENANT | API_BODY, api_note_create},
    {"POST", "/api/customers/*/tasks", API_TENANT | API_BODY,
	api_customer_task},
    {"GET", "/api/settings", API_TENANT, api_settings},
    {"PATCH", "/api/settings", API_TENANT | API_OWNER | API_BODY,
	api_settings_update},
    {"GET", "/api/appointments", API_TENANT, api_appointments},
    {"POST", "/api/appointments", API_TENANT | API_BODY,
	api_appointment_create},
    {"PATCH", "/api/appointments/*", API_TENANT | API_BODY,
	api_appointment_update},
    {"GET", "/api/tasks", API_TENANT, api_tasks},
    {"POST", "/api/tasks", API_TENANT | API_BODY, api_task_create},
    {"PATCH", "/api/tasks/*", API_TENANT | API_BODY, api_task_update},
    {"POST", "/api/import", API_TENANT | API_OWNER | API_BODY, api_import},
    {"GET", "/api/users", API_TENANT | API_OWNER, api_users},
    {"POST", "/api/users", API_TENANT | API_OWNER | API_BODY, api_user_create},
    {"PATCH", "/api/users/*", API_TENANT | API_OWNER | API_BODY,
	api_user_update},
    {"GET", "/api/audit", API_TENANT | API_OWNER, api_audit},
    {"GET", "/api/events", API_EVENTS, api_events},
};

#define API_NROUTES (sizeof(api_routes) / sizeof(api_routes[0]))

/* ---- small helpers ---------------------------------------------------- */

/* Return true when s is "/api" or under "/api/". */
bool
api_is_api_path(const char *path)
{
	return strncmp(path, "/api", 4) == 0 &&
	       (path[4] == '\0' || path[4] == '/');
}

static bool
api_is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[len] == '\0';
}

/* Parse a positive decimal integer (no sign, no spaces) up to max. */
static bool
api_parse_id(const char *s, long long max, long long *out)
{
	long long v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = v;
	return true;
}

static bool
api_is_state_changing(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

static bool
api_is_json_type(const char *ctype)
{
	size_t n = strlen(API_JSON);

	return ctype != NULL && strncasecmp(ctype, API_JSON, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* Count the characters (code points) of UTF-8 text. */
static size_t
api_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* The session token from a Cookie header, into out; false when none. */
static bool
api_cookie_token(const char *cookie, char out[API_TOKEN_LEN + 1])
{
	const char *p = cookie;
	size_t nlen = strlen(API_COOKIE);

	while (p != NULL && *p != '\0') {
		size_t vlen;

		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, API_COOKIE, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			vlen = strcspn(p, "; ");
			if (vlen != API_TOKEN_LEN)
				return false;
			memcpy(out, p, API_TOKEN_LEN);
			out[API_TOKEN_LEN] = '\0';
			return api_is_hex(out, API_TOKEN_LEN);
		}
		p = strchr(p, ';');
	}
	return false;
}

/* HMAC-SHA256 of the session token under the deployment's key, hex. */
static void
api_csrf_token(const struct api *a, const char *token, char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	static const char hex[] = "0123456789abcdef";

	if (HMAC(EVP_sha256(), a->key, (int)a->key_len,
		(const unsigned char *)token, strlen(token), mac,
		&len) == NULL ||
	    len != 32)
		fatalx("HMAC-SHA256 failed");
	for (unsigned int i = 0; i < len; i++) {
		out[(size_t)2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0xf];
	}
	out[64] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
}

/* The client's address: the peer, or X-Forwarded-For behind a proxy. */
static void
api_client_ip(
    const struct api *a, const struct http_request *req, char *out, size_t size)
{
	const char *peer = req->peer;
	const char *xff = http_request_header(req, "X-Forwarded-For");
	char ip[64];
	size_t len;
	bool trusted = false;

	if (peer[0] == '[') {
		len = strcspn(peer + 1, "]");
		snprintf(ip, sizeof(ip), "%.*s", (int)len, peer + 1);
	} else {
		const char *colon = strrchr(peer, ':');

		len = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
		snprintf(ip, sizeof(ip), "%.*s", (int)len, peer);
	}
	snprintf(out, size, "%s", ip);
	for (size_t i = 0; i < a->nproxies; i++)
		if (strcmp(a->proxies[i], ip) == 0)
			trusted = true;
	if (!trusted || xff == NULL)
		return;
	/* From the right: the first address that is not a proxy of ours. */
	for (const char *end = xff + strlen(xff); end > xff;) {
		const char *start = end;
		char hop[64];
		bool proxy = false;

		while (start > xff && start[-1] != ',')
			start--;
		while (start < end && *start == ' ')
			start++;
		len = (size_t)(end - start);
		while (len > 0 && start[len - 1] == ' ')
			len--;
		if (len > 0 && len < sizeof(hop)) {
			snprintf(hop, sizeof(hop), "%.*s", (int)len, start);
			for (size_t i = 0; i < a->nproxies; i++)
				if (strcmp(a->proxies[i], hop) == 0)
					proxy = true;
			snprintf(out, size, "%s", hop);
			if (!proxy)
				return;
		}
		end = start > xff ? start - 1 : xff;
		while (end > xff && *end != ',')
			end--;
		if (end == xff)
			break;
	}
}

/* ---- users and the session cache -------------------------------------- */

static void
api_user_clean(struct api_user *u)
{
	json_decref(u->json);
	memset(u, 0, sizeof(*u));
}

static void
api_user_copy(struct api_user *dst, const struct api_user *src)
{
	*dst = *src;
	json_incref(dst->json);
}

/* Read crm-store's user object (borrowed) into u. Return 0 or -1. */
static int
api_user_parse(json_t *j, struct api_user *u)
{
	json_t *biz = json_object_get(j, "business_id");
	const char *role = json_string_value(json_object_get(j, "role"));

	memset(u, 0, sizeof(*u));
	if (!json_is_object(j) || !json_is_integer(json_object_get(j, "id")) ||
	    role == NULL)
		return -1;
	u->id = json_integer_value(json_object_get(j, "id"));
	u->business_id = json_is_integer(biz) ? json_integer_value(biz) : 0;
	if (strcmp(role, "admin") == 0)
		u->role = API_ROLE_ADMIN;
	else if (strcmp(role, "owner") == 0)
		u->role = API_ROLE_OWNER;
	else if (strcmp(role, "agent") == 0)
		u->role = API_ROLE_AGENT;
	else
		return -1;
	if (u->role != API_ROLE_ADMIN && u->business_id <= 0)
		return -1;
	u->json = json_incref(j);
	return 0;
}

static void
api_session_free(struct api *a, struct api_session *s)
{
	TAILQ_REMOVE(&a->sessions, s, entry);
	a->nsessions--;
	api_user_clean(&s->user);
	OPENSSL_cleanse(s->token, sizeof(s->token));
	free(s);
}

static const struct api_session *
api_cache_get(struct api *a, const char *token)
{
	struct api_session *s, *tmp;
	int64_t now = clock_mono_ms();

	for (s = TAILQ_FIRST(&a->sessions); s != NULL; s = tmp) {
		tmp = TAILQ_NEXT(s, entry);
		if (s->until_ms <= now) {
			api_session_free(a, s);
			continue;
		}
		if (CRYPTO_memcmp(s->token, token, API_TOKEN_LEN) == 0)
			return s;
	}
	return NULL;
}

static void
api_cache_put(struct api *a, const char *token, const struct api_user *u)
{
	struct api_session *s;

	if (a->cache_ms <= 0)
		return;
	while (a->nsessions >= API_CACHE_MAX)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		api_session_free(a, TAILQ_FIRST(&a->sessions));
	s = xcalloc(1, sizeof(*s));
	snprintf(s->token, sizeof(s->token), "%s", token);
	api_user_copy(&s->user, u);
	s->until_ms = clock_mono_ms() + a->cache_ms;
	TAILQ_INSERT_TAIL(&a->sessions, s, entry);
	a->nsessions++;
}

/* Forget token (NULL: none) and, when user_id > 0, every other session
 * of that user. */
static void
api_cache_drop(struct api *a, const char *token, long long user_id)
{
	struct api_session *s, *tmp;

	for (s = TAILQ_FIRST(&a->sessions); s != NULL; s = tmp) {
		tmp = TAILQ_NEXT(s, entry);
		if ((token != NULL &&
			CRYPTO_memcmp(s->token, token, API_TOKEN_LEN) == 0) ||
		    (user_id > 0 && s->user.id == user_id))
			api_session_free(a, s);
	}
}

/* ---- failed logins ---------------------------------------------------- */

static void
api_fails_free(struct api *a, struct api_fails *f)
{
	TAILQ_REMOVE(&a->fails, f, entry);
	a->nfails--;
	free(f->key);
	free(f->at);
	free(f);
}

/* Drop the failures of f older than the window. */
static void
api_fails_prune(const struct api *a, struct api_fails *f, int64_t now)
{
	size_t old = 0;

	while (old < f->n && f->at[old] <= now - a->window_ms)
		old++;
	if (old > 0) {
		memmove(f->at, f->at + old, (f->n - old) * sizeof(*f->at));
		f->n -= old;
	}
}

static struct api_fails *
api_fails_find(struct api *a, const char *key)
{
	struct api_fails *f;

	TAILQ_FOREACH(f, &a->fails, entry)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

/* Seconds until key may try again (0: now), limit failures per window. */
static long
api_fails_wait(struct api *a, const char *key, long limit, int64_t now)
{
	struct api_fails *f = api_fails_find(a, key);
	int64_t ms;

	if (f == NULL)
		return 0;
	api_fails_prune(a, f, now);
	if (f->n < (size_t)limit)
		return 0;
	ms = f->at[f->n - (size_t)limit] + a->window_ms - now;
	return ms <= 0 ? 1 : (long)((ms + 999) / 1000);
}

static void
api_fails_note(struct api *a, const char *key, long limit, int64_t now)
{
	struct api_fails *f = api_fails_find(a, key), *g, *tmp;

	/* Forget keys whose failures all left the window. */
	for (g = TAILQ_FIRST(&a->fails); g != NULL; g = tmp) {
		tmp = TAILQ_NEXT(g, entry);
		if (g == f)
			continue;
		api_fails_prune(a, g, now);
		if (g->n == 0)
			api_fails_free(a, g);
	}
	if (f == NULL) {
		while (a->nfails >= API_FAILS_MAX)
			// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
			api_fails_free(a, TAILQ_FIRST(&a->fails));
		f = xcalloc(1, sizeof(*f));
		f->key = xstrdup(key);
		f->cap = (size_t)limit;
		f->at = xcalloc(f->cap, sizeof(*f->at));
		TAILQ_INSERT_TAIL(&a->fails, f, entry);
		a->nfails++;
	}
	api_fails_prune(a, f, now);
	if (f->n == f->cap) { /* keep the newest `limit` only */
		memmove(f->at, f->at + 1, (f->n - 1) * sizeof(*f->at));
		f->n--;
	}
	f->at[f->n++] = now;
}

static void
api_fails_clear(struct api *a, const char *key)
{
	struct api_fails *f = api_fails_find(a, key);

	if (f != NULL)
		api_fails_free(a, f);
}

/* ---- requests and answers --------------------------------------------- */

static void
api_req_free(struct api_req *r)
{
	if (r->queued) {
		TAILQ_REMOVE(&r->api->pending, r, entry);
		r->api->npending--;
	}
	if (r->defer != NULL)
		http_defer_abandon(r->defer);
	/* The Twilio client is freed first at shutdown (and its requests
	 * with it): cancel only while it lives. */
	if (r->rec != NULL && r->g->rest != NULL)
		twilio_rest_cancel(r->rec);
	json_decref(r->report);
	free(r->range);
	if (r->resp == &r->own)
		http_response_clean(&r->own);
	free(r->path);
	form_free(&r->query);
	if (r->body != NULL && r->secret_body)
		OPENSSL_cleanse(r->body, r->body_len);
	free(r->body);
	free(r->ctype);
	free(r->csrf);
	free(r->param);
	free(r->email);
	api_user_clean(&r->user);
	OPENSSL_cleanse(r->token, sizeof(r->token));
	free(r);
}

static size_t
api_status_col(int status)
{
	for (size_t i = 0; i < API_NSTATUS; i++)
		if (api_statuses[i] == status)
			return i;
	return API_NSTATUS;
}

/* The answer is in r->resp: send it (when deferred) and finish r. */
static void
api_done(struct api_req *r)
{
	json_t *f;

	r->done = true;
	r->api->hits[api_status_col(r->resp->status)]++;
	f = json_pack("{s:s, s:s, s:i, s:s, s:I}", "method", r->method, "path",
	    r->path, "status", r->resp->status, "peer", r->ip, "ms",
	    (json_int_t)(clock_mono_ms() - r->t0));
	log_fields(LOG_LEVEL_DEBUG, NULL, f, "api request");
	json_decref(f);
	if (r->defer != NULL) {
		http_defer_respond(r->defer, r->resp);
		r->defer = NULL;
	}
	if (!r->in_handler)
		api_req_free(r);
}

/* Answer j (stolen; NULL: no body) with status. */
static void
api_json(struct api_req *r, int status, json_t *j)
{
	struct http_response *resp = r->resp;

	http_response_set(resp, status, j != NULL ? API_JSON : NULL, NULL);
	if (j != NULL) {
		char *s = json_dumps(j, JSON_COMPACT);

		if (s != NULL)
			evbuffer_add_printf(resp->body, "%s\n", s);
		free(s);
		json_decref(j);
	}
	(void)http_response_add_header(resp, "Cache-Control", "no-store");
	api_done(r);
}

static void
api_error(struct api_req *r, int status, const char *code, const char *msg)
{
	api_json(
	    r, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

/* 400 invalid naming one field. */
static void
api_invalid(struct api_req *r, const char *field, const char *why)
{
	api_json(r, 400,
	    json_pack("{s:s, s:s, s:{s:s}}", "error", "invalid", "message",
		"invalid request", "fields", field, why));
}

static void
api_unavailable(struct api_req *r, const char *why)
{
	(void)http_response_add_header(r->resp, "Retry-After", "1");
	api_error(r, 503, "unavailable", why);
}

/* Answer a crm-store reply that is not what the route wanted. */
static void
api_store_failed(struct api_req *r, unsigned int type, json_t *reply)
{
	const char *err = json_string_value(json_object_get(reply, "error"));

	if (type == STORE_TIMEOUT) {
		r->api->store_timeouts++;
		log_warnx("api: crm-store did not answer %s %s within %ld ms",
		    r->method, r->path, r->api->budget_ms);
		api_unavailable(r, "crm-store did not answer in time");
	} else if (type == MSG_STORE_ERROR && err != NULL &&
		   strcmp(err, "not_found") == 0) {
		api_error(r, 404, "not_found", "no such row");
	} else if (type == MSG_STORE_ERROR && err != NULL &&
		   strcmp(err, "forbidden") == 0) {
		api_error(r, 403, "forbidden", "not allowed");
	} else if (type == MSG_STORE_ERROR && err != NULL &&
		   strcmp(err, "conflict") == 0) {
		json_t *id = json_object_get(reply, "id");

		api_json(r, 409,
		    json_is_integer(id)
			? json_pack("{s:s, s:s, s:O}", "error", "conflict",
			      "message", "it exists already", "id", id)
			: json_pack("{s:s, s:s}", "error", "conflict",
			      "message", "it exists already"));
	} else if (type == MSG_STORE_ERROR && err != NULL &&
		   strcmp(err, "invalid") == 0) {
		api_json(r, 400,
		    json_pack("{s:s, s:s?}", "error", "invalid", "message",
			json_string_value(json_object_get(reply, "message"))));
	} else {
		api_unavailable(r, "crm-store cannot answer now");
	}
}

static void
api_on_store(unsigned int type, json_t *reply, void *arg)
{
	struct api_req *r = arg;

	r->next(r, type, reply);
}

/*
 * Ask crm-store (payload stolen); next runs with the reply. Deferred
 * from the handler once the request is on its way; when it cannot be
 * sent, answered 503 at once.
 */
static void
api_ask(struct api_req *r, enum msg_type type, json_t *payload,
    void (*next)(struct api_req *r, unsigned int type, json_t *reply))
{
	struct gateway *g = r->g;
	int rc = -1;

	if (payload != NULL && g->store != NULL &&
	    r->api->npending < API_PENDING_MAX) {
		r->next = next;
		rc = store_request(g->store, type, payload,
		    (unsigned int)r->api->budget_ms, api_on_store, r);
	}
	json_decref(payload);
	if (rc < 0) {
		api_unavailable(r, "crm-store cannot be asked now");
		return;
	}
	if (r->in_handler && !r->done && r->defer == NULL) {
		r->defer = http_conn_defer(r->conn);
		if (r->defer == NULL) /* cannot happen: a handler defers once */
			log_warnx(
			    "api: cannot defer %s %s", r->method, r->path);
		http_response_init(&r->own);
		r->resp = &r->own;
	}
}

/* A STORE_QUERY of the route's business on behalf of the user. */
static void
api_query(struct api_req *r, const char *q, json_t *args,
    void (*next)(struct api_req *r, unsigned int type, json_t *reply))
{
	api_ask(r, MSG_STORE_QUERY,
	    json_pack("{s:s, s:I, s:I, s:o}", "q", q, "business_id",
		(json_int_t)r->business_id, "user_id", (json_int_t)r->user.id,
		"args", args != NULL ? args : json_object()),
	    next);
}

static void
api_set_cookie(struct api_req *r, const char *token, long max_age)
{
	char *c = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; "
			    "Max-Age=%ld%s",
	    API_COOKIE, token, max_age, r->api->secure ? "; Secure" : "");

	(void)http_response_add_header(r->resp, "Set-Cookie", c);
	OPENSSL_cleanse(c, strlen(c));
	free(c);
}

static json_t *
api_permissions(enum api_role role)
{
	json_t *p = json_pack("[s, s, s, s]", "calls.read", "customers.read",
	    "customers.write", "settings.read");

	if (role != API_ROLE_AGENT) {
		json_array_append_new(p, json_string("customers.assign"));
		json_array_append_new(p, json_string("customers.export"));
		json_array_append_new(p, json_string("customers.import"));
		json_array_append_new(p, json_string("users.manage"));
		json_array_append_new(p, json_string("audit.read"));
		json_array_append_new(p, json_string("settings.write"));
	}
	if (role == API_ROLE_ADMIN)
		json_array_append_new(p, json_string("businesses.all"));
	return p;
}

/* ---- routing ---------------------------------------------------------- */

/* Return true when path matches pattern; *param gets the "*" segment. */
static bool
api_match(
    const char *pattern, const char *path, const char **param, size_t *plen)
{
	const char *p = pattern, *s = path;

	*param = NULL;
	*plen = 0;
	while (*p != '\0') {
		if (*p == '*') {
			size_t n = strcspn(s, "/");

			if (n == 0)
				return false;
			*param = s;
			*plen = n;
			s += n;
			p++;
		} else if (*p == *s) {
			p++;
			s++;
		} else {
			return false;
		}
	}
	return *s == '\0';
}

/* Percent-decode len bytes of src (no '+' rule); NULL when malformed. */
static char *
api_pct_decode(const char *src, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (src[i] == '%') {
			char hex[3];
			long v;

			if (i + 2 >= len ||
			    !isxdigit((unsigned char)src[i + 1]) ||
			    !isxdigit((unsigned char)src[i + 2])) {
				free(out);
				return NULL;
			}
			hex[0] = src[i + 1];
			hex[1] = src[i + 2];
			hex[2] = '\0';
			v = strtol(hex, NULL, 16);
			if (v == 0) {
				free(out);
				return NULL;
			}
			out[o++] = (char)v;
			i += 2;
		} else {
			out[o++] = src[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* The route's business: r->business_id, or an answer. Return 0 or -1. */
static int
api_tenant(struct api_req *r)
{
	const char *q = form_get(&r->query, "business_id");
	long long id = 0;
	bool named = q != NULL && q[0] != '\0';

	if (named && !api_parse_id(q, LLONG_MAX / 10, &id)) {
		api_invalid(r, "business_id", "not a business id");
		return -1;
	}
	if (r->user.role == API_ROLE_ADMIN) {
		if (!named && !(r->rt->flags & API_EVENTS)) {
			api_invalid(r, "business_id",
			    "required for an admin: choose a business");
			return -1;
		}
		r->business_id = id;
		return 0;
	}
	if (named && id != r->user.business_id) {
		api_error(r, 403, "forbidden", "another business");
		return -1;
	}
	r->business_id = r->user.business_id;
	return 0;
}

/* The session is known: CSRF, route, role, tenant, body, then run. */
static void
api_route(struct api_req *r)
{
	const struct api_route *rt = NULL;
	bool known = false;
	bool head = strcmp(r->method, "HEAD") == 0;
	const char *param = NULL;
	size_t plen = 0;
	char allow[96] = "";

	if (api_is_state_changing(r->method)) {
		char want[65];
		bool ok;

		api_csrf_token(r->api, r->token, want);
		ok = r->csrf != NULL && strlen(r->csrf) == 64 &&
		     CRYPTO_memcmp(r->csrf, want, 64) == 0;
		OPENSSL_cleanse(want, sizeof(want));
		if (!ok) {
			api_error(r, 403, "csrf",
			    "missing or wrong X-CSRF-Token header");
			return;
		}
	}
	for (size_t i = 0; i < API_NROUTES; i++) {
		const char *pp;
		size_t pl;

		if (!api_match(api_routes[i].pattern, r->path, &pp, &pl))
			continue;
		if (!known || strstr(allow, api_routes[i].method) == NULL) {
			if (allow[0] != '\0')
				strlcat(allow, ", ", sizeof(allow));
			strlcat(allow, api_routes[i].method, sizeof(allow));
			if (strcmp(api_routes[i].method, "GET") == 0)
				strlcat(allow, ", HEAD", sizeof(allow));
		}
		known = true;
		if (rt == NULL &&
		    (strcmp(api_routes[i].method, r->method) == 0 ||
			(head && strcmp(api_routes[i].method, "GET") == 0))) {
			rt = &api_routes[i];
			param = pp;
			plen = pl;
		}
	}
	if (rt == NULL && known) {
		(void)http_response_add_header(r->resp, "Allow", allow);
		api_error(r, 405, "method_not_allowed", "method not allowed");
		return;
	}
	if (rt == NULL) {
		api_error(r, 404, "not_found", "no such path");
		return;
	}
	r->rt = rt;
	if (param != NULL && (r->param = api_pct_decode(param, plen)) == NULL) {
		api_error(r, 404, "not_found", "no such row");
		return;
	}
	if (((rt->flags & API_ADMIN) && r->user.role != API_ROLE_ADMIN) ||
	    ((rt->flags & API_OWNER) && r->user.role == API_ROLE_AGENT)) {
		api_error(r, 403, "forbidden", "your role may not do this");
		return;
	}
	if ((rt->flags & (API_TENANT | API_EVENTS)) && api_tenant(r) < 0)
		return;
	if ((r->body_len > 0 || (rt->flags & API_BODY)) &&
	    !api_is_json_type(r->ctype)) {
		api_error(r, 415, "unsupported_media_type",
		    "the body must be application/json");
		return;
	}
	rt->fn(r);
}

static void
api_on_session(struct api_req *r, unsigned int type, json_t *reply)
{
	const char *err = json_string_value(json_object_get(reply, "error"));

	if (type == MSG_STORE_ERROR && err != NULL &&
	    strcmp(err, "forbidden") == 0) {
		api_error(r, 401, "unauthorized", "no valid session");
		return;
	}
	if (type != MSG_STORE_REPLY) {
		api_store_failed(r, type, reply);
		return;
	}
	if (api_user_parse(json_object_get(reply, "user"), &r->user) < 0) {
		log_warnx("api: crm-store's session answer has no valid user");
		api_unavailable(r, "unreadable session");
		return;
	}
	api_cache_put(r->api, r->token, &r->user);
	api_route(r);
}

/* Every /api request: log in, or find the session, then route. */
static void
api_start(struct api_req *r, const char *cookie)
{
	const struct api_session *s;

	if (strcmp(r->path, "/api/login") == 0 &&
	    strcmp(r->method, "POST") == 0) {
		api_login(r);
		return;
	}
	if (cookie == NULL || !api_cookie_token(cookie, r->token)) {
		api_error(r, 401, "unauthorized", "no session");
		return;
	}
	if ((s = api_cache_get(r->api, r->token)) != NULL) {
		r->api->cache_hits++;
		api_user_copy(&r->user, &s->user);
		api_route(r);
		return;
	}
	r->api->cache_misses++;
	api_ask(r, MSG_AUTH_SESSION, json_pack("{s:s}", "session", r->token),
	    api_on_session);
}

/*
 * Answer an /api request (routes.c hands every path api_is_api_path
 * accepts to it): at once into resp, or later after deferring c.
 */
void
api_handle(struct gateway *g, struct http_conn *c,
    const struct http_request *req, struct http_response *resp)
{
	struct api *a = g->api;
	struct api_req *r;
	const char *v;

	if (a == NULL) {
		http_response_set(resp, 503, API_JSON,
		    "{\"error\":\"unavailable\",\"message\":\"no API\"}\n");
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->g = g;
	r->api = a;
	r->conn = c;
	r->resp = resp;
	r->t0 = clock_mono_ms();
	r->in_handler = true;
	snprintf(r->method, sizeof(r->method), "%s", req->method);
	r->path = xstrdup(req->path);
	if (form_parse(req->query, strlen(req->query), &r->query) < 0)
		memset(&r->query, 0, sizeof(r->query));
	if (req->body_len > 0) {
		r->body = xmalloc(req->body_len + 1);
		memcpy(r->body, req->body, req->body_len);
		r->body[req->body_len] = '\0';
		r->body_len = req->body_len;
	}
	if ((v = http_request_header(req, "Content-Type")) != NULL)
		r->ctype = xstrdup(v);
	if ((v = http_request_header(req, "X-CSRF-Token")) != NULL)
		r->csrf = xstrdup(v);
	if ((v = http_request_header(req, "Range")) != NULL)
		r->range = xstrdup(v);
	api_client_ip(a, req, r->ip, sizeof(r->ip));
	api_start(r, http_request_header(req, "Cookie"));
	r->in_handler = false;
	r->conn = NULL;
	if (r->done) {
		api_req_free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&a->pending, r, entry);
	a->npending++;
	r->queued = true;
}

/* ---- auth routes ------------------------------------------------------ */

static void
api_on_login(struct api_req *r, unsigned int type, json_t *reply)
{
	struct api *a = r->api;
	const char *err = json_string_value(json_object_get(reply, "error"));
	const char *tok = json_string_value(json_object_get(reply, "session"));
	char key[API_EMAIL_MAX + 8], csrf[65];
	int64_t now = clock_mono_ms();

	if (type == MSG_STORE_ERROR && err != NULL &&
	    strcmp(err, "forbidden") == 0) {
		a->logins_failed++;
		snprintf(key, sizeof(key), "e:%s", r->email);
		api_fails_note(a, key, a->email_max, now);
		snprintf(key, sizeof(key), "i:%s", r->ip);
		api_fails_note(a, key, a->ip_max, now);
		api_error(r, 401, "login_failed", "wrong email or password");
		return;
	}
	if (type != MSG_STORE_REPLY) {
		api_store_failed(r, type, reply);
		return;
	}
	if (tok == NULL || strlen(tok) != API_TOKEN_LEN ||
	    !api_is_hex(tok, API_TOKEN_LEN) ||
	    api_user_parse(json_object_get(reply, "user"), &r->user) < 0) {
		log_warnx("api: crm-store's login answer is not readable");
		api_unavailable(r, "unreadable login answer");
		return;
	}
	a->logins_ok++;
	snprintf(r->token, sizeof(r->token), "%s", tok);
	snprintf(key, sizeof(key), "e:%s", r->email);
	api_fails_clear(a, key);
	api_cache_put(a, r->token, &r->user);
	api_csrf_token(a, r->token, csrf);
	api_set_cookie(r, r->token, a->ttl_s);
	log_info("api: user %lld logged in from %s", r->user.id, r->ip);
	api_json(r, 200,
	    json_pack("{s:O, s:s}", "user", r->user.json, "csrf_token", csrf));
}

static void
api_login(struct api_req *r)
{
	struct api *a = r->api;
	json_t *j, *p;
	const char *email, *pw;
	char key[API_EMAIL_MAX + 8], wait[32];
	long we, wi;
	int64_t now = clock_mono_ms();

	r->secret_body = true;
	if (!api_is_json_type(r->ctype)) {
		api_error(r, 415, "unsupported_media_type",
		    "the body must be application/json");
		return;
	}
	j = json_loadb(r->body != NULL ? r->body : "", r->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	email = json_string_value(json_object_get(j, "email"));
	pw = json_string_value(json_object_get(j, "password"));
	if (!json_is_object(j) || email == NULL || email[0] == '\0' ||
	    strlen(email) > API_EMAIL_MAX) {
		json_decref(j);
		api_invalid(r, "email", "required");
		return;
	}
	if (pw == NULL || pw[0] == '\0' || strlen(pw) > API_PASSWORD_MAX) {
		json_decref(j);
		api_invalid(r, "password", "required");
		return;
	}
	r->email = xstrdup(email);
	for (char *c = r->email; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	snprintf(key, sizeof(key), "e:%s", r->email);
	we = api_fails_wait(a, key, a->email_max, now);
	snprintf(key, sizeof(key), "i:%s", r->ip);
	wi = api_fails_wait(a, key, a->ip_max, now);
	if (we > 0 || wi > 0) {
		long w = we > wi ? we : wi;

		json_decref(j);
		a->logins_limited++;
		log_warnx("api: login for a rate-limited email or address "
			  "(%s) refused for %ld s",
		    r->ip, w);
		snprintf(wait, sizeof(wait), "%ld", w);
		(void)http_response_add_header(r->resp, "Retry-After", wait);
		api_json(r, 429,
		    json_pack("{s:s, s:s, s:i}", "error", "rate_limited",
			"message", "too many failed logins", "retry_after",
			(int)w));
		return;
	}
	p = json_pack(
	    "{s:s, s:s, s:s}", "email", email, "password", pw, "ip", r->ip);
	json_decref(j);
	api_ask(r, MSG_AUTH_LOGIN, p, api_on_login);
}

static void
api_on_logout(struct api_req *r, unsigned int type, json_t *reply)
{
	api_set_cookie(r, "", 0);
	if (type != MSG_STORE_ACK) {
		api_store_failed(r, type, reply);
		return;
	}
	log_info("api: user %lld logged out", r->user.id);
	api_json(r, 204, NULL);
}

static void
api_logout(struct api_req *r)
{
	api_cache_drop(r->api, r->token, 0);
	sse_session_ended(r->g, r->token);
	api_ask(r, MSG_AUTH_LOGOUT, json_pack("{s:s}", "session", r->token),
	    api_on_logout);
}

static void
api_me_answer(struct api_req *r, json_t *business)
{
	char csrf[65];

	api_csrf_token(r->api, r->token, csrf);
	api_json(r, 200,
	    json_pack("{s:O, s:o, s:s, s:o}", "user", r->user.json, "business",
		business != NULL ? business : json_null(), "csrf_token", csrf,
		"permissions", api_permissions(r->user.role)));
}

static void
api_on_me_business(struct api_req *r, unsigned int type, json_t *reply)
{
	json_t *b = json_object_get(reply, "business");

	if (type != MSG_STORE_REPLY || !json_is_object(b)) {
		api_store_failed(r, type, reply);
		return;
	}
	api_me_answer(
	    r, json_pack("{s:I, s:O}", "id", (json_int_t)r->user.business_id,
		   "name", json_object_get(b, "name")));
}

static void
api_me(struct api_req *r)
{
	const struct crm_business *b;
	char id[32];

	if (r->user.business_id <= 0) {
		api_me_answer(r, NULL);
		return;
	}
	snprintf(id, sizeof(id), "%lld", r->user.business_id);
	b = crm_business(r->g, id);
	if (b != NULL && b->name != NULL) {
		api_me_answer(
		    r, json_pack("{s:I, s:s}", "id",
			   (json_int_t)r->user.business_id, "name", b->name));
		return;
	}
	r->business_id = r->user.business_id;
	api_query(r, "settings", NULL, api_on_me_business);
}

static void
api_on_password(struct api_req *r, unsigned int type, json_t *reply)
{
	if (type != MSG_STORE_ACK) {
		api_store_failed(r, type, reply);
		return;
	}
	/* crm-store ended the user's other sessions: forget them here. */
	api_cache_drop(r->api, NULL, r->user.id);
	api_cache_put(r->api, r->token, &r->user);
	log_info("api: user %lld changed their password", r->user.id);
	api_json(r, 204, NULL);
}

static void
api_password(struct api_req *r)
{
	json_t *j = json_loadb(r->body != NULL ? r->body : "", r->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	const char *old = json_string_value(json_object_get(j, "old"));
	const char *neu = json_string_value(json_object_get(j, "new"));
	size_t n;

	r->secret_body = true;
	if (old == NULL || old[0] == '\0') {
		json_decref(j);
		api_invalid(r, "old", "required");
		return;
	}
	n = neu != NULL ? api_utf8_len(neu) : 0;
	if (n < API_PASSWORD_MIN || n > API_PASSWORD_MAX) {
		json_decref(j);
		api_invalid(r, "new", "8 to 256 characters");
		return;
	}
	api_ask(r, MSG_AUTH_PASSWORD,
	    json_pack(
		"{s:s, s:s, s:s}", "session", r->token, "old", old, "new", neu),
	    api_on_password);
	json_decref(j);
}

/* ---- data routes ------------------------------------------------------ */

static void
api_businesses(struct api_req *r)
{
	json_t *rows = json_array();
	size_t n = crm_business_count(r->g);

	for (size_t i = 0; i < n; i++) {
		const struct crm_business *b = crm_business_at(r->g, i);
		long long id;

		if (b != NULL && api_parse_id(b->id, LLONG_MAX / 10, &id))
			json_array_append_new(
			    rows, json_pack("{s:I, s:s?}", "id", (json_int_t)id,
				      "name", b->name));
	}
	api_json(r, 200, json_pack("{s:o}", "rows", rows));
}

/* A call's recording is served by the gateway, never Twilio's URL. */
static void
api_fix_recording(json_t *call)
{
	const char *url =
	    json_string_value(json_object_get(call, "recording_url"));
	json_t *id = json_object_get(call, "id");

	if (!json_is_object(call))
		return;
	if (url != NULL && url[0] != '\0' && json_is_integer(id))
		json_object_set_new(call, "recording_url",
		    json_sprintf("/api/calls/%lld/recording",
			(long long)json_integer_value(id)));
	else
		json_object_set_new(call, "recording_url", json_null());
}

/* Copy the query's filters (NULL-terminated names) into args. */
static void
api_filters(struct api_req *r, json_t *args, const char *const *names)
{
	for (; *names != NULL; names++) {
		const char *s = form_get(&r->query, *names);

		if (s != NULL && s[0] != '\0')
			json_object_set_new(args, *names, json_string(s));
	}
}

/*
 * The paging and filter parameters of a list route into args. Return 0,
 * or -1 after answering 400. The order is "asc" or "desc", dflt when the
 * query does not say.
 */
static int
api_list_args(struct api_req *r, json_t *args, const char *const *filters,
    const char *dflt)
{
	const char *page = form_get(&r->query, "page");
	const char *per = form_get(&r->query, "per_page");
	const char *order = form_get(&r->query, "order");
	static const char *const strs[] = {"sort", "search"};
	long long v;

	if (order == NULL || order[0] == '\0')
		order = dflt;

	r->page = 1;
	r->per_page = API_PER_PAGE_DEFAULT;
	if (page != NULL && page[0] != '\0') {
		if (!api_parse_id(page, API_PAGE_MAX, &v)) {
			api_invalid(r, "page", "a page number from 1");
			return -1;
		}
		r->page = (long)v;
	}
	if (per != NULL && per[0] != '\0') {
		if (!api_parse_id(per, LLONG_MAX / 10, &v)) {
			api_invalid(r, "per_page", "a number from 1 to 200");
			return -1;
		}
		r->per_page = v > API_PER_PAGE_MAX ? API_PER_PAGE_MAX : (long)v;
	}
	json_object_set_new(args, "page", json_integer(r->page));
	json_object_set_new(args, "per_page", json_integer(r->per_page));
	json_object_set_new(args, "order",
	    json_string(
		order != NULL && strcmp(order, "asc") == 0 ? "asc" : "desc"));
	for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
		const char *s = form_get(&r->query, strs[i]);

		if (s != NULL && s[0] != '\0')
			json_object_set_new(args, strs[i], json_string(s));
	}
	api_filters(r, args, filters);
	return 0;
}

/* A paged answer: crm-store's total and rows, with the page asked. */
static void
api_on_list(struct api_req *r, unsigned int type, json_t *reply)
{
	json_t *rows = json_object_get(reply, "rows");
	json_t *total = json_object_get(reply, "total");
	json_t *row;
	size_t i;

	if (type != MSG_STORE_REPLY || !json_is_array(rows)) {
		api_store_failed(r, type, reply);
		return;
	}
	if (strcmp(r->rt->pattern, "/api/calls") == 0) {
		json_array_foreach(rows, i, row) {
			api_fix_recording(row);
		}
	}
	api_json(r, 200,
	    json_pack("{s:I, s:i, s:i, s:O}", "total",
		json_is_integer(total) ? json_integer_value(total) : 0, "page",
		(int)r->page, "per_page", (int)r->per_page, "rows", rows));
}

/* Ask crm-store for the paged list q with the query's filters. */
static void
api_list(struct api_req *r, const char *q, const char *const *filters,
    const char *dflt)
{
	json_t *args = json_object();

	if (api_list_args(r, args, filters, dflt) < 0) {
		json_decref(args);
		return;
	}
	api_query(r, q, args, api_on_list);
}

static void
api_calls(struct api_req *r)
{
	static const char *const filters[] = {"status", "direction", NULL};

	api_list(r, "calls", filters, "desc");
}

static void
api_customers(struct api_req *r)
{
	static const char *const filters[] = {
	    "stage", "source", "pipeline", "assigned_user_id", NULL};

	api_list(r, "customers", filters, "desc");
}

/*
 * crm-store's object passed through as it is: 201 after an edit that
 * creates, else 200.
 */
static void
api_on_answer(struct api_req *r, unsigned int type, json_t *reply)
{
	if (type != MSG_STORE_REPLY || !json_is_object(reply)) {
		api_store_failed(r, type, reply);
		return;
	}
	api_json(r, r->created ? 201 : 200, json_incref(reply));
}

/* A row passed through, a call's recording URL made the gateway's. */
static void
api_on_row(struct api_req *r, unsigned int type, json_t *reply)
{
	if (type == MSG_STORE_REPLY)
		api_fix_recording(json_object_get(reply, "call"));
	api_on_answer(r, type, reply);
}

static void
api_customer(struct api_req *r)
{
	long long id;

	if (!api_parse_id(r->param, LLONG_MAX / 10, &id)) {
		api_error(r, 404, "not_found", "no such customer");
		return;
	}
	api_query(r, "customer", json_pack("{s:I}", "id", (json_int_t)id),
	    api_on_row);
}

/*
 * Ask crm-store for the call the path names, by id or by call SID; next
 * runs with the reply. A path that is neither is answered 404.
 */
static void
api_call_ask(struct api_req *r,
    void (*next)(struct api_req *r, unsigned int type, json_t *reply))
{
	long long id;
	size_t len = strlen(r->param);

	if (api_parse_id(r->param, LLONG_MAX / 10, &id)) {
		api_query(
		    r, "call", json_pack("{s:I}", "id", (json_int_t)id), next);
		return;
	}
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)r->param[i]))
			len = 0;
	if (len == 0 || len > API_SID_MAX) {
		api_error(r, 404, "not_found", "no such call");
		return;
	}
	api_query(r, "call", json_pack("{s:s}", "call_sid", r->param), next);
}

static void
api_call(struct api_req *r)
{
	api_call_ask(r, api_on_row);
}

static void
api_settings(struct api_req *r)
{
	api_query(r, "settings", NULL, api_on_row);
}

/* GET /api/events: the connection becomes a Server-Sent Events stream. */
static void
api_events(struct api_req *r)
{
	struct http_defer *d = r->defer;
	struct bufferevent *bev;

	if (d == NULL && r->in_handler)
		d = http_conn_defer(r->conn);
	r->defer = NULL;
	bev = d != NULL ? http_defer_detach(d) : NULL;
	r->api->hits[api_status_col(200)]++;
	r->done = true;
	if (bev != NULL)
		sse_open(r->g, bev, r->token, r->user.id, r->business_id);
	if (!r->in_handler)
		api_req_free(r);
}

/* ---- edits (issues #12 and #13) --------------------------------------- */

/* How a field of an edit's body is checked. */
enum api_ftype {
	API_F_TEXT,  /* a string of at most max characters, or null */
	API_F_ENUM,  /* one of values, or null when nullable */
	API_F_INT,   /* an integer from min to max, or null */
	API_F_ID,    /* a positive integer, or null */
	API_F_ROOMS, /* a number of rooms in halves, or null */
	API_F_BOOL,  /* true, false or null */
	API_F_LIST,  /* an array of strings, or null */
	API_F_TIME,  /* ISO 8601 with an offset, or a date; or null */
};

struct api_field {
	const char *name;
	enum api_ftype type;
	long long min;
	long long max; /* API_F_TEXT: characters; API_F_INT: the value */
	const char *const *values;
	bool required;
	bool not_null; /* null is refused (it cannot be cleared) */
};

static const char *const api_sources[] = {
    "call", "whatsapp", "sms", "web", "referral", NULL};
static const char *const api_pipelines[] = {
    "buyer_renter", "seller_landlord", NULL};
static const char *const api_deals[] = {"buy", "rent", "sell", "let", NULL};
static const char *const api_appt_statuses[] = {
    "requested", "confirmed", "done", "cancelled", NULL};
static const char *const api_sees[] = {"assigned", "all", NULL};
static const char *const api_roles[] = {"owner", "agent", NULL};

/* A Customer's writable fields but phone (docs/api.md). */
static const struct api_field api_customer_fields[] = {
    {"name", API_F_TEXT, 0, 200, NULL, false, false},
    {"source", API_F_ENUM, 0, 0, api_sources, false, true},
    {"pipeline", API_F_ENUM, 0, 0, api_pipelines, false, true},
    {"stage", API_F_ENUM, 0, 0, import_stages, false, true},
    {"lead_score", API_F_INT, 0, 100, NULL, false, false},
    {"sentiment", API_F_TEXT, 0, 32, NULL, false, false},
    {"deal_type", API_F_ENUM, 0, 0, api_deals, false, false},
    {"cities", API_F_LIST, 0, 0, NULL, false, false},
    {"neighbourhoods", API_F_LIST, 0, 0, NULL, false, false},
    {"rooms_min", API_F_ROOMS, 0, 0, NULL, false, false},
    {"rooms_max", API_F_ROOMS, 0, 0, NULL, false, false},
    {"budget_min", API_F_INT, 0, 1000000000000LL, NULL, false, false},
    {"budget_max", API_F_INT, 0, 1000000000000LL, NULL, false, false},
    {"property_type", API_F_TEXT, 0, 100, NULL, false, false},
    {"timeline", API_F_TEXT, 0, 200, NULL, false, false},
    {"need_parking", API_F_BOOL, 0, 0, NULL, false, false},
    {"need_elevator", API_F_BOOL, 0, 0, NULL, false, false},
    {"need_mamad", API_F_BOOL, 0, 0, NULL, false, false},
    {"need_balcony", API_F_BOOL, 0, 0, NULL, false, false},
    {"assigned_user_id", API_F_ID, 0, 0, NULL, false, false},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_note_fields[] = {
    {"body", API_F_TEXT, 1, 10000, NULL, true, true},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_task_fields[] = {
    {"title", API_F_TEXT, 1, 500, NULL, true, true},
    {"due_at", API_F_TIME, 0, 0, NULL, false, false},
    {"assignee_id", API_F_ID, 0, 0, NULL, false, false},
    {"customer_id", API_F_ID, 0, 0, NULL, false, true},
    {"call_id", API_F_ID, 0, 0, NULL, false, true},
    {"call_sid", API_F_TEXT, 1, API_SID_MAX, NULL, false, true},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_task_patch[] = {
    {"title", API_F_TEXT, 1, 500, NULL, false, true},
    {"due_at", API_F_TIME, 0, 0, NULL, false, false},
    {"done", API_F_BOOL, 0, 0, NULL, false, true},
    {"assignee_id", API_F_ID, 0, 0, NULL, false, false},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_appt_fields[] = {
    {"customer_id", API_F_ID, 0, 0, NULL, true, true},
    {"starts_at", API_F_TIME, 0, 0, NULL, false, false},
    {"requested_text", API_F_TEXT, 0, 500, NULL, false, false},
    {"address", API_F_TEXT, 0, 500, NULL, false, false},
    {"notes", API_F_TEXT, 0, 5000, NULL, false, false},
    {"status", API_F_ENUM, 0, 0, api_appt_statuses, false, true},
    {"call_id", API_F_ID, 0, 0, NULL, false, true},
    {"call_sid", API_F_TEXT, 1, API_SID_MAX, NULL, false, true},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_appt_patch[] = {
    {"status", API_F_ENUM, 0, 0, api_appt_statuses, false, true},
    {"starts_at", API_F_TIME, 0, 0, NULL, false, false},
    {"requested_text", API_F_TEXT, 0, 500, NULL, false, false},
    {"address", API_F_TEXT, 0, 500, NULL, false, false},
    {"notes", API_F_TEXT, 0, 5000, NULL, false, false},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_settings_fields[] = {
    {"greeting", API_F_TEXT, 0, 500, NULL, false, true},
    {"agent_instructions", API_F_TEXT, 0, 20000, NULL, false, true},
    {"voice", API_F_TEXT, 1, 64, NULL, false, true},
    {"agents_see", API_F_ENUM, 0, 0, api_sees, false, true},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_user_fields[] = {
    {"email", API_F_TEXT, 3, API_EMAIL_MAX, NULL, true, true},
    {"name", API_F_TEXT, 0, 200, NULL, false, true},
    {"role", API_F_ENUM, 0, 0, api_roles, true, true},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

static const struct api_field api_user_patch[] = {
    {"name", API_F_TEXT, 0, 200, NULL, false, true},
    {"role", API_F_ENUM, 0, 0, api_roles, false, true},
    {"active", API_F_BOOL, 0, 0, NULL, false, true},
    {NULL, API_F_TEXT, 0, 0, NULL, false, false},
};

/* Return true when s is "YYYY-MM-DD", or a date, "T" or " ", a time and
 * an offset ("Z", "+02:00", "-0500"); PostgreSQL checks the values. */
static bool
api_is_time(const char *s)
{
	size_t n = strlen(s);

	if (n < 10 || n > 40)
		return false;
	for (size_t i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-'
				     : !isdigit((unsigned char)s[i]))
			return false;
	if (n == 10)
		return true;
	if ((s[10] != 'T' && s[10] != ' ') || n < 17)
		return false;
	if (s[n - 1] == 'Z')
		return true;
	for (size_t i = n; i > 11; i--)
		if (s[i - 1] == '+' || s[i - 1] == '-')
			return i - 1 > 15;
	return false;
}

/* Check one value against f; return NULL, or why it is wrong. */
static const char *
api_field_check(const struct api_field *f, json_t *v)
{
	double d;

	if (v == NULL) /* absent */
		return NULL;
	if (json_is_null(v))
		return f->not_null ? "cannot be null" : NULL;
	switch (f->type) {
	case API_F_TEXT:
		if (!json_is_string(v))
			return "must be a string";
		if ((long long)api_utf8_len(json_string_value(v)) < f->min ||
		    (long long)api_utf8_len(json_string_value(v)) > f->max)
			return "too short or too long";
		return NULL;
	case API_F_ENUM:
		return json_is_string(v) &&
			       import_is_one_of(json_string_value(v), f->values)
			   ? NULL
			   : "not a known value";
	case API_F_INT:
		return json_is_integer(v) && json_integer_value(v) >= f->min &&
			       json_integer_value(v) <= f->max
			   ? NULL
			   : "not an integer in range";
	case API_F_ID:
		return json_is_integer(v) && json_integer_value(v) > 0
			   ? NULL
			   : "not an id";
	case API_F_ROOMS:
		if (!json_is_number(v))
			return "not a number";
		d = json_number_value(v) * 2;
		return d >= 0 && d <= 198 && d == (double)(long)d
			   ? NULL
			   : "rooms in halves (3.5)";
	case API_F_BOOL:
		return json_is_boolean(v) ? NULL : "must be true or false";
	case API_F_LIST: {
		size_t i;
		json_t *e;

		if (!json_is_array(v) || json_array_size(v) > 50)
			return "must be an array of strings";
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) ||
			    api_utf8_len(json_string_value(e)) > 100)
				return "must be an array of strings";
		}
		return NULL;
	}
	case API_F_TIME:
		return json_is_string(v) && api_is_time(json_string_value(v))
			   ? NULL
			   : "not a time with an offset or a date";
	}
	return "not valid";
}

/*
 * Parse the request's body as a JSON object and check it against table;
 * fields in extra (NULL-terminated names, may be NULL) are let through
 * for the route to check. Return the object (the caller's), or NULL after
 * answering 400.
 */
static json_t *
api_body_checked(
    struct api_req *r, const struct api_field *table, const char *const *extra)
{
	json_t *j = json_loadb(r->body != NULL ? r->body : "", r->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	json_t *bad = json_object(), *v;
	const char *key;

	if (!json_is_object(j)) {
		json_decref(j);
		json_decref(bad);
		api_error(r, 400, "invalid", "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(j, key, v) {
		const struct api_field *f = table;
		const char *why;

		while (f->name != NULL && strcmp(f->name, key) != 0)
			f++;
		if (f->name == NULL) {
			if (extra == NULL || !import_is_one_of(key, extra))
				json_object_set_new(
				    bad, key, json_string("unknown field"));
			continue;
		}
		if ((why = api_field_check(f, v)) != NULL)
			json_object_set_new(bad, key, json_string(why));
	}
	for (const struct api_field *f = table; f->name != NULL; f++)
		if (f->required && json_object_get(j, f->name) == NULL)
			json_object_set_new(
			    bad, f->name, json_string("required"));
	if (json_object_size(bad) > 0) {
		json_decref(j);
		api_json(r, 400,
		    json_pack("{s:s, s:s, s:o}", "error", "invalid", "message",
			"invalid request", "fields", bad));
		return NULL;
	}
	json_decref(bad);
	return j;
}

/* Ask crm-store for edit q with data (stolen) and, when id > 0, the id. */
static void
api_edit(struct api_req *r, const char *q, long long id, json_t *data)
{
	json_t *args = json_pack("{s:o}", "data", data);

	if (id > 0)
		json_object_set_new(args, "id", json_integer(id));
	api_query(r, q, args, api_on_answer);
}

/* The path's id (a positive integer), or 0 after answering 404. */
static long long
api_path_id(struct api_req *r)
{
	long long id;

	if (!api_parse_id(r->param, LLONG_MAX / 10, &id)) {
		api_error(r, 404, "not_found", "no such row");
		return 0;
	}
	return id;
}

/*
 * The plain edit: the path's id when by_id (404 when it is none), the body
 * checked against fields, then crm-store's q; 201 when it creates.
 */
static void
api_edit_checked(struct api_req *r, const struct api_field *fields,
    const char *q, bool by_id, bool creates)
{
	long long id = by_id ? api_path_id(r) : 0;
	json_t *j;

	if ((by_id && id == 0) ||
	    (j = api_body_checked(r, fields, NULL)) == NULL)
		return;
	r->created = creates;
	api_edit(r, q, id, j);
}

/* Return true after answering 403 when an agent would assign (j kept). */
static bool
api_agent_assigns(struct api_req *r, json_t *j)
{
	if (r->user.role != API_ROLE_AGENT ||
	    json_object_get(j, "assigned_user_id") == NULL)
		return false;
	api_error(r, 403, "forbidden", "agents do not assign customers");
	return true;
}

/* Customers: an agent may not assign; a phone is made E.164. */
static void
api_customer_create(struct api_req *r)
{
	static const char *const extra[] = {"phone", NULL};
	json_t *j;
	const char *phone;
	char e164[PHONE_E164_MAX + 1];

	if ((j = api_body_checked(r, api_customer_fields, extra)) == NULL)
		return;
	phone = json_string_value(json_object_get(j, "phone"));
	if (phone == NULL ||
	    phone_normalize(phone, strlen(phone), e164, sizeof(e164)) < 0) {
		json_decref(j);
		api_invalid(
		    r, "phone", phone == NULL ? "required" : "not E.164");
		return;
	}
	if (api_agent_assigns(r, j)) {
		json_decref(j);
		return;
	}
	json_object_set_new(j, "phone", json_string(e164));
	r->created = true;
	api_edit(r, "customer_create", 0, j);
}

static void
api_customer_update(struct api_req *r)
{
	long long id = api_path_id(r);
	json_t *j;

	if (id == 0 ||
	    (j = api_body_checked(r, api_customer_fields, NULL)) == NULL)
		return;
	if (api_agent_assigns(r, j)) {
		json_decref(j);
		return;
	}
	api_edit(r, "customer_update", id, j);
}

static void
api_note_create(struct api_req *r)
{
	api_edit_checked(r, api_note_fields, "note_create", true, true);
}

static void
api_customer_task(struct api_req *r)
{
	long long id = api_path_id(r);
	json_t *j;

	if (id == 0 || (j = api_body_checked(r, api_task_fields, NULL)) == NULL)
		return;
	json_object_set_new(j, "customer_id", json_integer(id));
	r->created = true;
	api_edit(r, "task_create", 0, j);
}

static void
api_task_create(struct api_req *r)
{
	api_edit_checked(r, api_task_fields, "task_create", false, true);
}

static void
api_task_update(struct api_req *r)
{
	api_edit_checked(r, api_task_patch, "task_update", true, false);
}

static void
api_appointment_create(struct api_req *r)
{
	api_edit_checked(r, api_appt_fields, "appointment_create", false, true);
}

static void
api_appointment_update(struct api_req *r)
{
	api_edit_checked(r, api_appt_patch, "appointment_update", true, false);
}

/* Return true when s is "HH:MM" (00:00 to 24:00). */
static bool
api_is_hhmm(const char *s)
{
	return s != NULL && strlen(s) == 5 && isdigit((unsigned char)s[0]) &&
	       isdigit((unsigned char)s[1]) && s[2] == ':' &&
	       isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
	       strcmp(s, "24:00") <= 0 && s[3] <= '5';
}

/* Return true when v is business hours: {"sun": [["09:00","19:00"]], …}. */
static bool
api_is_hours(json_t *v)
{
	static const char *const days[] = {
	    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};
	const char *key;
	json_t *day, *range;
	size_t i;

	if (!json_is_object(v))
		return false;
	json_object_foreach(v, key, day) {
		if (!import_is_one_of(key, days) || !json_is_array(day) ||
		    json_array_size(day) > 8)
			return false;
		json_array_foreach(day, i, range) {
			const char *a =
			    json_string_value(json_array_get(range, 0));
			const char *b =
			    json_string_value(json_array_get(range, 1));

			if (json_array_size(range) != 2 || !api_is_hhmm(a) ||
			    !api_is_hhmm(b) || strcmp(a, b) >= 0)
				return false;
		}
	}
	return true;
}

static void
api_settings_update(struct api_req *r)
{
	static const char *const extra[] = {
	    "business_hours", "transfer_number", NULL};
	json_t *j = api_body_checked(r, api_settings_fields, extra);
	json_t *h, *t;
	char e164[PHONE_E164_MAX + 1];

	if (j == NULL)
		return;
	h = json_object_get(j, "business_hours");
	t = json_object_get(j, "transfer_number");
	if (h != NULL && !api_is_hours(h)) {
		json_decref(j);
		api_invalid(r, "business_hours",
		    "{\"sun\": [[\"09:00\", \"19:00\"]], ...}");
		return;
	}
	if (t != NULL && !json_is_null(t)) {
		const char *s = json_string_value(t);

		if (s == NULL ||
		    phone_normalize(s, strlen(s), e164, sizeof(e164)) < 0) {
			json_decref(j);
			api_invalid(r, "transfer_number", "not E.164");
			return;
		}
		json_object_set_new(j, "transfer_number", json_string(e164));
	}
	api_edit(r, "settings_update", 0, j);
}

static void
api_user_create(struct api_req *r)
{
	json_t *j = api_body_checked(r, api_user_fields, NULL);
	const char *email;

	if (j == NULL)
		return;
	email = json_string_value(json_object_get(j, "email"));
	if (strchr(email, '@') == NULL || strchr(email, ' ') != NULL) {
		json_decref(j);
		api_invalid(r, "email", "not an email address");
		return;
	}
	r->created = true;
	api_edit(r, "user_create", 0, j);
}

static void
api_user_update(struct api_req *r)
{
	long long id = api_path_id(r);
	json_t *j;

	if (id == 0 || (j = api_body_checked(r, api_user_patch, NULL)) == NULL)
		return;
	if (id == r->user.id && (json_object_get(j, "role") != NULL ||
				    json_object_get(j, "active") != NULL)) {
		json_decref(j);
		api_invalid(r,
		    json_object_get(j, "role") != NULL ? "role" : "active",
		    "you cannot change your own role or deactivate yourself");
		return;
	}
	if (json_is_false(json_object_get(j, "active")))
		api_cache_drop(r->api, NULL, id);
	api_edit(r, "user_update", id, j);
}

/* ---- records' lists (issue #13) --------------------------------------- */

static void
api_calls_live(struct api_req *r)
{
	api_query(r, "calls_live", NULL, api_on_answer);
}

static void
api_appointments(struct api_req *r)
{
	static const char *const names[] = {"from", "to", NULL};
	static const char *const filters[] = {"status", "customer_id", NULL};
	json_t *args = json_object();

	for (const char *const *n = names; *n != NULL; n++) {
		const char *s = form_get(&r->query, *n);

		if (s != NULL && s[0] != '\0' && !api_is_time(s)) {
			json_decref(args);
			api_invalid(r, *n, "a date (YYYY-MM-DD) or a time");
			return;
		}
	}
	api_filters(r, args, names);
	api_filters(r, args, filters);
	api_query(r, "appointments", args, api_on_answer);
}

static void
api_tasks(struct api_req *r)
{
	static const char *const filters[] = {
	    "mine", "overdue", "done", "customer_id", "assignee_id", NULL};

	api_list(r, "tasks", filters, "asc");
}

static void
api_users(struct api_req *r)
{
	api_query(r, "users", NULL, api_on_answer);
}

static void
api_audit(struct api_req *r)
{
	static const char *const filters[] = {"entity", "id", NULL};
	const char *e = form_get(&r->query, "entity");
	const char *id = form_get(&r->query, "id");
	bool has_e = e != NULL && e[0] != '\0', has_id = id != NULL && id[0];
	long long v;

	if (has_e != has_id ||
	    (has_id && !api_parse_id(id, LLONG_MAX / 10, &v))) {
		api_invalid(r, "id", "entity and id go together");
		return;
	}
	api_list(r, "audit", filters, "desc");
}

/* ---- import ----------------------------------------------------------- */

static void
api_on_import(struct api_req *r, unsigned int type, json_t *reply)
{
	if (type != MSG_STORE_REPLY ||
	    !json_is_array(json_object_get(reply, "rows"))) {
		api_store_failed(r, type, reply);
		return;
	}
	api_json(r, 200,
	    import_report(
		r->report, json_object_get(reply, "rows"), r->dry_run));
}

static void
api_import(struct api_req *r)
{
	static const char *const extra[] = {
	    "csv", "mapping", "on_existing", "dry_run", "defaults", NULL};
	static const char *const modes[] = {"skip", "update", NULL};
	static const struct api_field none[] = {
	    {NULL, API_F_TEXT, 0, 0, NULL, false, false}};
	json_t *j = api_body_checked(r, none, extra);
	json_t *def, *rows = NULL, *dry, *data;
	const char *csv, *mode, *field = "csv";
	struct csv c;
	char why[160];
	int rc;

	if (j == NULL)
		return;
	csv = json_string_value(json_object_get(j, "csv"));
	mode = json_string_value(json_object_get(j, "on_existing"));
	def = json_object_get(j, "defaults");
	dry = json_object_get(j, "dry_run");
	if (csv == NULL) {
		json_decref(j);
		api_invalid(r, "csv", "required: the file's text");
		return;
	}
	if ((mode != NULL && !import_is_one_of(mode, modes)) ||
	    (json_object_get(j, "on_existing") != NULL && mode == NULL)) {
		json_decref(j);
		api_invalid(r, "on_existing", "skip or update");
		return;
	}
	if (dry != NULL && !json_is_boolean(dry)) {
		json_decref(j);
		api_invalid(r, "dry_run", "true or false");
		return;
	}
	if (json_is_object(def)) { /* "" is "no default" (a blank select) */
		const char *const keys[] = {"source", "pipeline", "stage"};

		for (size_t i = 0; i < 3; i++) {
			const char *v =
			    json_string_value(json_object_get(def, keys[i]));

			if (v != NULL && v[0] == '\0')
				(void)json_object_del(def, keys[i]);
		}
	}
	if (def != NULL && (!json_is_object(def) ||
			       api_field_check(&api_customer_fields[1],
				   json_object_get(def, "source")) != NULL ||
			       api_field_check(&api_customer_fields[2],
				   json_object_get(def, "pipeline")) != NULL ||
			       api_field_check(&api_customer_fields[3],
				   json_object_get(def, "stage")) != NULL)) {
		json_decref(j);
		api_invalid(r, "defaults", "source, pipeline and stage values");
		return;
	}
	rc = csv_parse(csv, json_string_length(json_object_get(j, "csv")),
	    csv_sniff(csv, strlen(csv)), IMPORT_ROWS_MAX + 1, &c, why,
	    sizeof(why));
	if (rc == 0)
		rc = import_prepare(&c, json_object_get(j, "mapping"), &rows,
		    &r->report, &field, why, sizeof(why));
	csv_free(&c);
	if (rc < 0) {
		json_decref(rows);
		json_decref(j);
		api_invalid(r, field, why);
		return;
	}
	r->dry_run = !json_is_false(dry);
	data = json_pack("{s:o, s:s, s:b, s:o}", "rows", rows, "on_existing",
	    mode != NULL ? mode : "skip", "dry_run", r->dry_run, "defaults",
	    def != NULL ? json_incref(def) : json_object());
	json_decref(j);
	{
		char *text = json_dumps(data, JSON_COMPACT);
		size_t n = text != NULL ? strlen(text) : 0;

		free(text);
		if (n == 0 || n > IMPORT_JSON_MAX) {
			json_decref(data);
			api_invalid(r, "csv", "too large: split the file");
			return;
		}
	}
	if (!r->dry_run)
		log_info(
		    "api: user %lld imports %zu lead(s) into business %lld",
		    r->user.id, json_array_size(json_object_get(data, "rows")),
		    r->business_id);
	api_query(r, "import", json_pack("{s:o}", "data", data), api_on_import);
}

/* ---- recordings ------------------------------------------------------- */

/*
 * Parse a Range header "bytes=a-b", "bytes=a-" or "bytes=-n" against a
 * body of len bytes into [*start, *end). Return 1 (a range), 0 (none or
 * not one we serve: send it whole), -1 (cannot be satisfied: 416).
 */
static int
api_range(const char *h, size_t len, size_t *start, size_t *end)
{
	unsigned long long a = 0, b = 0;
	char *p;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &p, 10);
		if (p == h + 1 || *p != '\0' || b == 0)
			return len == 0 ? -1 : 0;
		*start = b >= len ? 0 : len - (size_t)b;
		*end = len;
		return len == 0 ? -1 : 1;
	}
	a = strtoull(h, &p, 10);
	if (p == h || *p != '-')
		return 0;
	if (p[1] == '\0') {
		b = len > 0 ? len - 1 : 0;
	} else {
		char *q;

		b = strtoull(p + 1, &q, 10);
		if (*q != '\0' || b < a)
			return 0;
	}
	if (a >= len)
		return -1;
	*start = (size_t)a;
	*end = b >= len ? len : (size_t)b + 1;
	return 1;
}

static void
api_on_recording(struct twilio_rest_req *req,
    const struct twilio_rest_result *res, void *arg)
{
	struct api_req *r = arg;
	struct http_response *resp = r->resp;
	size_t len = 0, start = 0, end = 0;
	char *body;
	int rc;

	r->rec = NULL;
	if (res->outcome == TWILIO_REST_GONE ||
	    res->outcome == TWILIO_REST_INVALID) {
		api_error(r, 404, "not_found", "no recording");
		return;
	}
	if (res->outcome != TWILIO_REST_OK) {
		log_warnx("api: recording of %s not fetched: %s (%ld)",
		    r->param, twilio_rest_outcome_name(res->outcome),
		    res->http_status);
		api_unavailable(r, "Twilio cannot give the recording now");
		return;
	}
	body = twilio_rest_take_body(req, &len);
	rc = api_range(r->range, len, &start, &end);
	if (rc < 0) {
		char cr[64];

		free(body);
		snprintf(cr, sizeof(cr), "bytes */%zu", len);
		(void)http_response_add_header(resp, "Content-Range", cr);
		api_error(r, 416, "range", "the range cannot be satisfied");
		return;
	}
	if (rc == 0) {
		start = 0;
		end = len;
	}
	http_response_set(resp, rc > 0 ? 206 : 200,
	    res->content_type != NULL &&
		    strncmp(res->content_type, "audio/", 6) == 0
		? res->content_type
		: "audio/wav",
	    NULL);
	if (body != NULL && end > start)
		evbuffer_add(resp->body, body + start, end - start);
	free(body);
	if (rc > 0) {
		char cr[96];

		snprintf(
		    cr, sizeof(cr), "bytes %zu-%zu/%zu", start, end - 1, len);
		(void)http_response_add_header(resp, "Content-Range", cr);
	}
	(void)http_response_add_header(resp, "Accept-Ranges", "bytes");
	(void)http_response_add_header(resp, "Cache-Control", "no-store");
	(void)http_response_add_header(
	    resp, "X-Content-Type-Options", "nosniff");
	api_done(r);
}

/* The call's row answered: fetch its recording from Twilio. */
static void
api_on_recording_call(struct api_req *r, unsigned int type, json_t *reply)
{
	json_t *call = json_object_get(reply, "call");
	const char *url =
	    json_string_value(json_object_get(call, "recording_url"));
	const char *sid = json_string_value(json_object_get(call, "call_sid"));
	const char *re;
	char rsid[40] = "";

	if (type != MSG_STORE_REPLY || !json_is_object(call)) {
		api_store_failed(r, type, reply);
		return;
	}
	if (url == NULL || url[0] == '\0') {
		api_error(r, 404, "not_found", "the call has no recording");
		return;
	}
	if (r->g->rest == NULL) {
		api_unavailable(r, "no Twilio client");
		return;
	}
	/* The RecordingSid, should the URL not be under the base URL. */
	if ((re = strstr(url, "/Recordings/RE")) != NULL)
		snprintf(rsid, sizeof(rsid), "%.34s", re + 12);
	r->rec = twilio_rest_recording_fetch(r->g->rest, url,
	    rsid[0] != '\0' ? rsid : NULL, sid, r->api->budget_ms * 4,
	    api_on_recording, r);
}

static void
api_recording(struct api_req *r)
{
	api_call_ask(r, api_on_recording_call);
}

/* ---- static UI -------------------------------------------------------- */

static const struct {
	const char *ext;
	const char *type;
} api_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".txt", "text/plain; charset=utf-8"},
    {".wasm", "application/wasm"},
};

static const char *
api_content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	for (size_t i = 0;
	     dot != NULL && i < sizeof(api_types) / sizeof(*api_types); i++)
		if (strcasecmp(dot, api_types[i].ext) == 0)
			return api_types[i].type;
	return "application/octet-stream";
}

/* Return true when the decoded path has no "..", "." or hidden segment. */
static bool
api_is_safe_path(const char *p)
{
	if (p[0] != '/' || strchr(p, '\\') != NULL)
		return false;
	for (const char *s = p; s != NULL; s = strchr(s + 1, '/'))
		if (s[1] == '.')
			return false;
	return true;
}

/*
 * Put the file rel (under the web directory) into resp. Return 0, 1 when
 * it is not a regular file inside the directory, -1 on a read error.
 */
static int
api_file(const struct api *a, const char *rel, struct http_response *resp)
{
	char *full = xasprintf("%s/%s", a->web_dir, rel);
	char *real = realpath(full, NULL);
	size_t rlen = strlen(a->web_real);
	struct stat st;
	off_t got = 0;
	int fd;

	free(full);
	if (real == NULL || strncmp(real, a->web_real, rlen) != 0 ||
	    real[rlen] != '/') {
		free(real);
		return 1;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(real);
	if (fd < 0)
		return 1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > API_FILE_MAX) {
		close(fd);
		return 1;
	}
	http_response_set(resp, 200, api_content_type(rel), NULL);
	while (got < st.st_size) {
		int n = evbuffer_read(resp->body, fd, (int)(st.st_size - got));

		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (got != st.st_size) {
		log_warn("static: cannot read %s", rel);
		return -1;
	}
	(void)http_response_add_header(
	    resp, "X-Content-Type-Options", "nosniff");
	return 0;
}

/*
 * Answer a GET or HEAD of a path outside /api, /twilio and the ops paths
 * from the web directory: the file, else index.html (the app's routes).
 */
void
api_static(struct gateway *g, const struct http_request *req,
    struct http_response *resp)
{
	struct api *a = g->api;
	char *path = api_pct_decode(req->path, strlen(req->path));
	const char *rel;
	char *idx = NULL;
	int rc;

	if (path == NULL || !api_is_safe_path(path)) {
		if (a != NULL)
			a->static_refused++;
		free(path);
		http_response_set(resp, 400, API_TEXT, "400 Bad Request\n");
		return;
	}
	if (a == NULL || a->web_real == NULL) {
		free(path);
		http_response_set(resp, 404, API_TEXT,
		    "404 Not Found (the web UI is not built)\n");
		return;
	}
	rel = path + 1;
	if (rel[0] == '\0' || rel[strlen(rel) - 1] == '/')
		rel = idx = xasprintf("%sindex.html", rel);
	rc = api_file(a, rel, resp);
	if (rc == 0 && strncmp(rel, "assets/", 7) == 0) {
		(void)http_response_add_header(resp, "Cache-Control",
		    "public, max-age=31536000, immutable");
		a->static_files++;
	} else if (rc == 0) {
		(void)http_response_add_header(
		    resp, "Cache-Control", "no-cache");
		a->static_files++;
	} else if (rc > 0 && strncmp(rel, "assets/", 7) != 0 &&
		   api_file(a, "index.html", resp) == 0) {
		(void)http_response_add_header(
		    resp, "Cache-Control", "no-cache");
		a->static_index++;
	} else {
		http_response_set(resp, rc < 0 ? 500 : 404, API_TEXT,
		    rc < 0 ? "500 Internal Server Error\n" : "404 Not Found\n");
	}
	free(idx);
	free(path);
}

/* ---- setup ------------------------------------------------------------ */

/*
 * Set up the API's state in g from cfg (strings copied). Call after
 * routes_setup (the cookie's Secure flag follows g->public_url). Return 0.
 */
int
api_setup(struct gateway *g, const struct api_config *cfg)
{
	struct api *a = xcalloc(1, sizeof(*a));
	const char *px = cfg->trusted_proxies;
	char *idx;
	struct stat st;

	a->g = g;
	TAILQ_INIT(&a->sessions);
	TAILQ_INIT(&a->fails);
	TAILQ_INIT(&a->pending);
	a->web_dir = xstrdup(cfg->web_dir != NULL && cfg->web_dir[0] != '\0'
				 ? cfg->web_dir
				 : "web/dist");
	a->web_real = realpath(a->web_dir, NULL);
	idx = xasprintf("%s/index.html", a->web_dir);
	if (a->web_real == NULL || stat(idx, &st) < 0)
		log_warnx("the web UI is not in %s (MERKAZIA_WEB_DIR; make web "
			  "builds it): / answers 404",
		    a->web_dir);
	free(idx);
	if (cfg->csrf_key != NULL && cfg->csrf_key[0] != '\0') {
		a->key_len = strlen(cfg->csrf_key);
		a->key = xmalloc(a->key_len);
		memcpy(a->key, cfg->csrf_key, a->key_len);
	} else {
		a->key_len = API_KEY_RANDOM;
		a->key = xmalloc(a->key_len);
		if (getrandom(a->key, a->key_len, 0) != (ssize_t)a->key_len)
			fatal("getrandom");
		log_info("MERKAZIA_CSRF_KEY is not set: CSRF tokens hold for "
			 "this gateway process only");
	}
	while (px != NULL && *px != '\0') {
		size_t n = strcspn(px, ", ");

		if (n > 0) {
			a->proxies = xreallocarray(
			    a->proxies, a->nproxies + 1, sizeof(*a->proxies));
			a->proxies[a->nproxies++] = xstrndup(px, n);
		}
		px += n;
		px += strspn(px, ", ");
	}
	a->cache_ms = cfg->session_cache_ms;
	a->budget_ms = cfg->store_budget_ms > 0 ? cfg->store_budget_ms : 5000;
	a->ttl_s = cfg->session_ttl_s > 0 ? cfg->session_ttl_s : 168L * 3600;
	a->email_max = cfg->login_email_max > 0 ? cfg->login_email_max : 5;
	a->ip_max = cfg->login_ip_max > 0 ? cfg->login_ip_max : 20;
	a->window_ms =
	    (cfg->login_window_s > 0 ? cfg->login_window_s : 900) * 1000L;
	a->secure = g->public_url != NULL &&
		    strncasecmp(g->public_url, "https://", 8) == 0;
	g->api = a;
	return 0;
}

/*
 * Free the API's state. Requests still waiting for crm-store are given
 * up (their connections closed); call it after the store client is
 * freed, so no reply can arrive for them.
 */
void
api_cleanup(struct gateway *g)
{
	struct api *a = g->api;
	struct api_req *r;
	struct api_fails *f;

	if (a == NULL)
		return;
	while ((r = TAILQ_FIRST(&a->pending)) != NULL)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		api_req_free(r);
	while (!TAILQ_EMPTY(&a->sessions))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		api_session_free(a, TAILQ_FIRST(&a->sessions));
	while ((f = TAILQ_FIRST(&a->fails)) != NULL)
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		api_fails_free(a, f);
	for (size_t i = 0; i < a->nproxies; i++)
		free(a->proxies[i]);
	free(a->proxies);
	OPENSSL_cleanse(a->key, a->key_len);
	free(a->key);
	free(a->web_dir);
	free(a->web_real);
	free(a);
	g->api = NULL;
}

/* Append the API's metrics (Prometheus text) to b. */
void
api_metrics_write(const struct gateway *g, struct evbuffer *b)
{
	const struct api *a = g->api;

	if (a == NULL)
		return;
	evbuffer_add_printf(b,
	    "# HELP merkazia_api_requests_total Browser API requests "
	    "answered, by status.\n"
	    "# TYPE merkazia_api_requests_total counter\n");
	for (size_t i = 0; i <= API_NSTATUS; i++) {
		char st[16];

		if (a->hits[i] == 0)
			continue;
		if (i < API_NSTATUS)
			snprintf(st, sizeof(st), "%d", api_statuses[i]);
		else
			snprintf(st, sizeof(st), "other");
		evbuffer_add_printf(b,
		    "merkazia_api_requests_total{status=\"%s\"} %lu\n", st,
		    a->hits[i]);
	}
	evbuffer_add_printf(b,
	    "# HELP merkazia_api_logins_total Logins, by result.\n"
	    "# TYPE merkazia_api_logins_total counter\n"
	    "merkazia_api_logins_total{result=\"ok\"} %lu\n"
	    "merkazia_api_logins_total{result=\"failed\"} %lu\n"
	    "merkazia_api_logins_total{result=\"rate_limited\"} %lu\n"
	    "# HELP merkazia_api_session_lookups_total Sessions found in "
	    "the gateway's cache or asked of crm-store.\n"
	    "# TYPE merkazia_api_session_lookups_total counter\n"
	    "merkazia_api_session_lookups_total{result=\"cached\"} %lu\n"
	    "merkazia_api_session_lookups_total{result=\"asked\"} %lu\n"
	    "# HELP merkazia_api_store_timeouts_total API requests crm-store "
	    "did not answer within MERKAZIA_API_STORE_BUDGET_MS.\n"
	    "# TYPE merkazia_api_store_timeouts_total counter\n"
	    "merkazia_api_store_timeouts_total %lu\n"
	    "# HELP merkazia_api_pending API requests waiting for "
	    "crm-store.\n"
	    "# TYPE merkazia_api_pending gauge\n"
	    "merkazia_api_pending %zu\n"
	    "# HELP merkazia_static_requests_total Static UI requests, by "
	    "result.\n"
	    "# TYPE merkazia_static_requests_total counter\n"
	    "merkazia_static_requests_total{result=\"file\"} %lu\n"
	    "merkazia_static_requests_total{result=\"index\"} %lu\n"
	    "merkazia_static_requests_total{result=\"refused\"} %lu\n",
	    a->logins_ok, a->logins_failed, a->logins_limited, a->cache_hits,
	    a->cache_misses, a->store_timeouts, a->npending, a->static_files,
	    a->static_index, a->static_refused);
}
