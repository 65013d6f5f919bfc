/*
 * Unit tests for gateway/routes.c through a real in-process server: the
 * HTTP server of http.c on 127.0.0.1 port 0 with routes_handle, on the
 * test's own event_base, and a plain client socket.
 *
 * Covered: /healthz (and HEAD), /version, /readyz without workers (503)
 * and with a heartbeat from every stage (200, a real health follower and
 * publishers on ipc:// in a temporary directory), /metrics, 404, 405 with
 * Allow; a /twilio/voice signed with a vector computed outside this code
 * (Python hmac, token 12345, MERKAZIA_PUBLIC_URL https://gw.example.co.il)
 * answered with the exact TwiML (wss stream URL, parameters) and a
 * CALL_EVENT "webhook" received by a SUB socket; unsigned, wrongly signed
 * and signed-for-another-URL webhooks refused with 403; XML escaping of
 * parameters; the business map, the default business and the Hebrew "not
 * in service" answer; the other Twilio endpoints; 400 for a bad form and
 * 415 for a non-form body; stream URL derivation.
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
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "../../gateway/gateway.h"
#include "xml.h"
#include "endpoints.h"
#include "health.h"
#include "log.h"
#include "nnsock.h"
#include "xmalloc.h"

#define WAIT_MS	 5000
#define PUBLIC	 "https://gw.example.co.il"
#define TOKEN	 "12345"
#define CALL_SID "CA0123456789abcdef0123456789abcdef"
#define VOICE_BODY                                                          \
	"AccountSid=AC00000000000000000000000000000001&ApiVersion=2010-04-" \
	"01&CallSid=" CALL_SID "&CallStatus=ringing&Called=%2B97231234567"  \
	"&Caller=%2B972501234567&Direction=inbound&From=%2B972501234567"    \
	"&To=%2B97231234567"
/* HMAC-SHA1 of PUBLIC "/twilio/voice" + VOICE_BODY's sorted pairs, by
 * Python's hmac module (not by the code under test). */
#define VOICE_SIG "X5IDTK12nTFIuMe4sjAr1I5V9qI="

struct fx {
	struct event_base *base;
	struct gateway g;
	int port;
	char dir[64];
	struct nnsock *pub;
	struct nnsock *sub;
	int events;
	char event_name[32];
	char event_sid[80];
	char event_biz[64];
};

struct resp {
	int status;
	char head[2048];
	char *body;
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
on_call_event(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg)
{
	struct fx *fx = arg;
	const char *biz =
	    json_string_value(json_object_get(payload, "business_id"));

	(void)s;
	(void)rx;
	fx->events++;
	snprintf(fx->event_name, sizeof(fx->event_name), "%s",
	    json_string_value(json_object_get(payload, "event")));
	snprintf(fx->event_sid, sizeof(fx->event_sid), "%s", m->call_sid);
	snprintf(fx->event_biz, sizeof(fx->event_biz), "%s", biz ? biz : "");
}

static const struct msg_handler event_handlers[] = {
    {MSG_CALL_EVENT, on_call_event},
    {0, NULL},
};

static void
fx_start(struct fx *fx, const char *public_url, bool sig_check,
    const char *default_biz)
{
	const char *addr;
	char ep[128];

	memset(fx, 0, sizeof(*fx));
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->g.http = http_server_new(fx->base, NULL, routes_handle, &fx->g);
	assert_int_equal(http_server_listen(fx->g.http, "127.0.0.1:0"), 0);
	addr = http_server_address(fx->g.http);
	fx->port = atoi(addr + 10);
	assert_int_equal(routes_setup(&fx->g, public_url, addr, TOKEN,
			     sig_check, default_biz),
	    0);
	/* the CALL_EVENTS publisher and a subscriber, on ipc:// */
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mzrt.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	endpoints_set_runtime_dir(fx->dir);
	snprintf(ep, sizeof(ep), "ipc://%s/ev.sock", fx->dir);
	fx->pub = nnsock_open(NN_PUB, false, "CALL_EVENTS");
	fx->sub = nnsock_open(NN_SUB, false, "test-sub");
	assert_non_null(fx->pub);
	assert_non_null(fx->sub);
	assert_int_equal(nnsock_bind_list(fx->pub, ep), 0);
	assert_int_equal(nnsock_connect_list(fx->sub, ep), 0);
	assert_int_equal(nnsock_subscribe(fx->sub), 0);
	assert_int_equal(
	    nnsock_watch(fx->sub, fx->base, event_handlers, fx), 0);
	fx->g.call_events = fx->pub;
}

static void
fx_stop(struct fx *fx)
{
	char path[128];

	http_server_free(fx->g.http);
	routes_cleanup(&fx->g);
	nnsock_close(fx->pub);
	nnsock_close(fx->sub);
	health_follow_free(fx->g.health);
	event_base_free(fx->base);
	snprintf(path, sizeof(path), "%s/ev.sock", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/health-gateway.sock", fx->dir);
	unlink(path);
	rmdir(fx->dir);
}

/* Run the loop for about ms. */
static void
spin(struct fx *fx, long ms)
{
	long deadline = now_ms() + ms;

	while (now_ms() < deadline) {
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* Send raw on a new connection; parse one response (false: none). */
static bool
roundtrip(struct fx *fx, const char *raw, struct resp *out)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *buf = xmalloc(1 << 16);
	size_t len = 0, want = 0;
	long deadline = now_ms() + WAIT_MS;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
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

			want = hl + (cl != NULL && cl < end
					    ? strtoul(cl + 18, NULL, 10)
					    : 0);
		}
		if (want > 0 && len >= want && strncmp(raw, "HEAD", 4) != 0) {
			ok = true;
			break;
		}
		if (want > 0 && strncmp(raw, "HEAD", 4) == 0) {
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

static struct resp
get(struct fx *fx, const char *method, const char *path)
{
	char raw[512];
	struct resp r;

	snprintf(raw, sizeof(raw),
	    "%s %s HTTP/1.1\r\nHost: gw.example.co.il\r\nConnection: close"
	    "\r\n\r\n",
	    method, path);
	assert_true(roundtrip(fx, raw, &r));
	return r;
}

static struct resp
post(struct fx *fx, const char *path, const char *ctype, const char *body,
    const char *sig)
{
	char *raw;
	char sighdr[128] = "";
	struct resp r;

	if (sig != NULL)
		snprintf(
		    sighdr, sizeof(sighdr), "X-Twilio-Signature: %s\r\n", sig);
	raw = xasprintf("POST %s HTTP/1.1\r\nHost: gw.example.co.il\r\n"
			"User-Agent: TwilioProxy/1.1\r\nContent-Type: %s\r\n"
			"%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    path, ctype, sighdr, strlen(body), body);
	assert_true(roundtrip(fx, raw, &r));
	free(raw);
	return r;
}

#define FORM "application/x-www-form-urlencoded"

/* Sign body (a form) for PUBLIC + path with the code under test. */
static char *
sign(const char *path, const char *body)
{
	struct form f;
	char *url = xasprintf("%s%s", PUBLIC, path);
	char *sig = xmalloc(TWILIO_SIG_LEN + 1);

	assert_int_equal(form_parse(body, strlen(body), &f), 0);
	assert_int_equal(twilio_sig_compute(TOKEN, url, &f, sig), 0);
	form_free(&f);
	free(url);
	return sig;
}

static void
wait_events(struct fx *fx, int n)
{
	long deadline = now_ms() + WAIT_MS;

	while (fx->events < n && now_ms() < deadline) {
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* ---- tests ------------------------------------------------------------ */

static void
test_ops_endpoints(void **state)
{
	struct fx fx;
	struct resp r;
	json_t *j;
	char want[256];

	(void)state;
	fx_start(&fx, PUBLIC, true, NULL);
	r = get(&fx, "GET", "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	free(r.body);
	r = get(&fx, "HEAD", "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	free(r.body);
	r = get(&fx, "GET", "/version");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Type: application/json"));
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(j, "name")), "gateway");
	assert_string_equal(
	    json_string_value(json_object_get(j, "version")), daemon_version());
	assert_string_equal(
	    json_string_value(json_object_get(j, "build")), daemon_build_id());
	json_decref(j);
	free(r.body);
	r = get(&fx, "GET", "/readyz");
	assert_int_equal(r.status, 503);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(j, "workers"), "crm-store")),
	    0);
	json_decref(j);
	free(r.body);
	r = get(&fx, "GET", "/nope");
	assert_int_equal(r.status, 404);
	free(r.body);
	r = get(&fx, "GET", "/twilio/voice");
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "\r\nAllow: POST\r\n"));
	free(r.body);
	r = get(&fx, "DELETE", "/healthz");
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "\r\nAllow: GET, HEAD\r\n"));
	free(r.body);
	r = get(&fx, "GET", "/metrics");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r.body, "merkazia_http_requests_total{route="
				       "\"/healthz\",status=\"200\"} 2\n"));
	assert_non_null(strstr(r.body, "merkazia_http_requests_total{route="
				       "\"/readyz\",status=\"503\"} 1\n"));
	assert_non_null(strstr(r.body, "merkazia_http_requests_total{route="
				       "\"other\",status=\"405\"} 2\n"));
	assert_non_null(strstr(r.body, "merkazia_http_requests_total{route="
				       "\"other\",status=\"404\"} 1\n"));
	assert_non_null(strstr(r.body, "merkazia_calls_answered_total 0\n"));
	assert_non_null(strstr(r.body,
	    "merkazia_webhooks_rejected_total{reason=\"signature\"} 0\n"));
	snprintf(want, sizeof(want),
	    "merkazia_messages_dropped_total{reason=\"magic\"} %lu\n",
	    msg_error_count(MSG_ERR_MAGIC));
	assert_non_null(strstr(r.body, want));
	assert_non_null(
	    strstr(r.body, "merkazia_workers_live{stage=\"crm-store\"} 0\n"));
	assert_non_null(strstr(r.body, "merkazia_http_connections_total "));
	free(r.body);
	fx_stop(&fx);
}

static bool
readyz_ok(struct fx *fx)
{
	struct resp r = get(fx, "GET", "/readyz");
	bool ok = r.status == 200;

	free(r.body);
	return ok;
}

static void
test_readyz_with_workers(void **state)
{
	static const char *const stages[] = {"stt", "llm", "tts", "crm-store"};
	struct health_pub *pubs[4];
	struct fx fx;
	long deadline;
	bool ok = false;
	struct resp r;

	(void)state;
	fx_start(&fx, PUBLIC, true, NULL);
	fx.g.health = health_follow_new(
	    fx.base, ENDPOINT_HEALTH_GATEWAY, 3000, NULL, NULL);
	assert_non_null(fx.g.health);
	for (size_t i = 0; i < 4; i++) {
		pubs[i] = health_pub_new(fx.base, stages[i], "t");
		assert_non_null(pubs[i]);
	}
	deadline = now_ms() + WAIT_MS;
	while (!ok && now_ms() < deadline) {
		spin(&fx, 50);
		ok = readyz_ok(&fx);
	}
	assert_true(ok);
	r = get(&fx, "GET", "/metrics");
	assert_non_null(
	    strstr(r.body, "merkazia_workers_live{stage=\"stt\"} 1"));
	free(r.body);
	for (size_t i = 0; i < 4; i++)
		health_pub_free(pubs[i]);
	fx_stop(&fx);
}

static void
test_voice_signed(void **state)
{
	struct fx fx;
	struct resp r;

	(void)state;
	fx_start(&fx, PUBLIC "/", true, "shai-dirot");
	spin(&fx, 100); /* let the subscriber connect */
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY, VOICE_SIG);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Type: text/xml"));
	assert_string_equal(r.body,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Response><Connect><Stream "
	    "url=\"wss://gw.example.co.il/twilio/media\" "
	    "statusCallback=\"https://gw.example.co.il/twilio/stream-status\">"
	    "<Parameter name=\"callSid\" value=\"" CALL_SID "\"/>"
	    "<Parameter name=\"from\" value=\"+972501234567\"/>"
	    "<Parameter name=\"to\" value=\"+97231234567\"/>"
	    "<Parameter name=\"business\" value=\"shai-dirot\"/>"
	    "</Stream></Connect></Response>\n");
	free(r.body);
	assert_int_equal(fx.g.metrics.calls_answered, 1);
	wait_events(&fx, 1);
	assert_int_equal(fx.events, 1);
	assert_string_equal(fx.event_name, "webhook");
	assert_string_equal(fx.event_sid, CALL_SID);
	assert_string_equal(fx.event_biz, "shai-dirot");
	/* the number's own business wins over the default */
	assert_int_equal(
	    routes_business_set(&fx.g, "+97231234567", "other-biz"), 0);
	assert_int_equal(
	    routes_business_set(&fx.g, "+97231234567", "own-biz"), 0);
	assert_string_equal(
	    routes_business_lookup(&fx.g, "+97231234567"), "own-biz");
	assert_null(routes_business_lookup(&fx.g, "+1"));
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY, VOICE_SIG);
	assert_int_equal(r.status, 200);
	assert_non_null(
	    strstr(r.body, "<Parameter name=\"business\" value=\"own-biz\"/>"));
	free(r.body);
	fx_stop(&fx);
}

static void
test_voice_refused(void **state)
{
	struct fx fx;
	struct resp r;
	char *other;

	(void)state;
	fx_start(&fx, PUBLIC, true, "shai-dirot");
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY, NULL);
	assert_int_equal(r.status, 403);
	free(r.body);
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	assert_int_equal(r.status, 403);
	free(r.body);
	/* one changed parameter */
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY "&Extra=1", VOICE_SIG);
	assert_int_equal(r.status, 403);
	free(r.body);
	/* signed for another path */
	other = sign("/twilio/sms", VOICE_BODY);
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY, other);
	assert_int_equal(r.status, 403);
	free(r.body);
	free(other);
	assert_int_equal(fx.g.metrics.sig_rejected, 4);
	assert_int_equal(fx.g.metrics.calls_answered, 0);
	r = get(&fx, "GET", "/metrics");
	assert_non_null(strstr(r.body,
	    "merkazia_webhooks_rejected_total{reason=\"signature\"} 4\n"));
	assert_non_null(strstr(r.body, "merkazia_http_requests_total{route="
				       "\"/twilio/voice\",status=\"403\"} 4"));
	free(r.body);
	/* the gateway's own bound URL is not the public URL */
	fx_stop(&fx);
	fx_start(&fx, NULL, true, "shai-dirot");
	assert_non_null(strstr(fx.g.public_url, "http://127.0.0.1:"));
	assert_non_null(strstr(fx.g.stream_url, "ws://127.0.0.1:"));
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY, VOICE_SIG);
	assert_int_equal(r.status, 403);
	free(r.body);
	fx_stop(&fx);
}

static void
test_voice_xml_escaping(void **state)
{
	const char *body = "CallSid=CA1&From=client%3Aa%22b%3Cc%3E%26%27d"
			   "&To=%2B97231234567";
	struct fx fx;
	struct resp r;
	char *sig;

	(void)state;
	fx_start(&fx, PUBLIC, true, "biz\"<&>");
	sig = sign("/twilio/voice", body);
	r = post(&fx, "/twilio/voice", FORM, body, sig);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<Parameter name=\"from\" "
				       "value=\"client:a&quot;b&lt;c&gt;&amp;"
				       "&apos;d\"/>"));
	assert_non_null(strstr(r.body, "<Parameter name=\"business\" "
				       "value=\"biz&quot;&lt;&amp;&gt;\"/>"));
	free(r.body);
	free(sig);
	fx_stop(&fx);
}

static void
test_not_in_service(void **state)
{
	struct fx fx;
	struct resp r;

	(void)state;
	fx_start(&fx, PUBLIC, true, NULL);
	r = post(&fx, "/twilio/voice", FORM, VOICE_BODY, VOICE_SIG);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Response><Say language=\"he-IL\">"
	    "המספר שחייגתם אינו מחובר לשירות. להתראות."
	    "</Say><Hangup/></Response>\n");
	free(r.body);
	assert_int_equal(fx.g.metrics.calls_not_in_service, 1);
	assert_int_equal(fx.g.metrics.calls_answered, 0);
	assert_int_equal(fx.g.metrics.call_events_sent, 0);
	fx_stop(&fx);
}

static void
test_other_twilio_endpoints(void **state)
{
	struct fx fx;
	struct resp r;
	char *sig;
	const char *status = "CallSid=CA1&CallStatus=completed&To=%2B1";
	const char *sms = "MessageSid=SM1&Body=%D7%A9%D7%9C%D7%95%D7%9D"
			  "&From=%2B972501234567&To=%2B1";

	(void)state;
	/* signature checks off: every endpoint answers unsigned requests */
	fx_start(&fx, PUBLIC, false, NULL);
	r = post(&fx, "/twilio/recording", FORM, "CallSid=CA1", NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<Say language=\"he-IL\">"));
	assert_non_null(strstr(r.body, "להתראות"));
	assert_non_null(strstr(r.body, "</Say><Hangup/></Response>"));
	free(r.body);
	r = post(&fx, "/twilio/stream-status", FORM, "StreamEvent=x", NULL);
	assert_int_equal(r.status, 204);
	assert_null(strstr(r.head, "Content-Length"));
	free(r.body);
	r = post(&fx, "/twilio/recording-status", FORM, "", NULL);
	assert_int_equal(r.status, 204);
	free(r.body);
	r = post(&fx, "/twilio/voice/status", FORM, status, NULL);
	assert_int_equal(r.status, 204);
	free(r.body);
	r = post(&fx, "/twilio/sms", FORM, sms, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
	free(r.body);
	r = post(&fx, "/twilio/whatsapp", FORM, sms, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<Response/>"));
	free(r.body);
	/* malformed form, and a body that is not a form */
	r = post(&fx, "/twilio/sms", FORM, "Body=%zz", NULL);
	assert_int_equal(r.status, 400);
	free(r.body);
	r = post(&fx, "/twilio/sms", "application/json", "{}", NULL);
	assert_int_equal(r.status, 415);
	free(r.body);
	r = post(&fx, "/twilio/voice", FORM, "From=%2B1", NULL);
	assert_int_equal(r.status, 400); /* no CallSid */
	free(r.body);
	fx_stop(&fx);
	/* with checks on, a signed status callback is accepted */
	fx_start(&fx, PUBLIC, true, NULL);
	sig = sign("/twilio/voice/status", status);
	r = post(&fx, "/twilio/voice/status", FORM, status, sig);
	assert_int_equal(r.status, 204);
	free(r.body);
	free(sig);
	r = post(&fx, "/twilio/recording", FORM, "CallSid=CA1", NULL);
	assert_int_equal(r.status, 403);
	free(r.body);
	fx_stop(&fx);
}

static void
test_stream_url_and_escape(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;
	size_t n;

	(void)state;
	s = routes_stream_url("https://gw.example.co.il/");
	assert_string_equal(s, "wss://gw.example.co.il/twilio/media");
	free(s);
	s = routes_stream_url("HTTPS://gw.example.co.il:8443/base");
	assert_string_equal(s, "wss://gw.example.co.il:8443/base/twilio/media");
	free(s);
	s = routes_stream_url("http://127.0.0.1:8080");
	assert_string_equal(s, "ws://127.0.0.1:8080/twilio/media");
	free(s);
	assert_null(routes_stream_url("ftp://x"));
	xml_escape(b, "a&b<c>d\"e'f\x01g\th שלום");
	n = evbuffer_get_length(b);
	assert_int_equal(n, strlen("a&amp;b&lt;c&gt;d&quot;e&apos;fg\th שלום"));
	assert_memory_equal(evbuffer_pullup(b, -1),
	    "a&amp;b&lt;c&gt;d&quot;e&apos;fg\th שלום", n);
	evbuffer_free(b);
	{
		struct gateway g;

		memset(&g, 0, sizeof(g));
		assert_int_equal(
		    routes_setup(&g, "ftp://x", "", TOKEN, true, NULL), -1);
		routes_cleanup(&g);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_endpoints),
	    cmocka_unit_test(test_readyz_with_workers),
	    cmocka_unit_test(test_voice_signed),
	    cmocka_unit_test(test_voice_refused),
	    cmocka_unit_test(test_voice_xml_escaping),
	    cmocka_unit_test(test_not_in_service),
	    cmocka_unit_test(test_other_twilio_endpoints),
	    cmocka_unit_test(test_stream_url_and_escape),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
