/*
 * msgtool: send any message of common/msg.h to any endpoint, and print
 * what comes back or what an endpoint receives, as JSON lines.
 *
 * Why: tests and operators drive one daemon without the others (feed a
 * job to a worker, query crm-store, watch heartbeats or call events).
 *
 * Usage:
 *   msgtool send [WHERE] [-p PATTERN] [-r] [-t MS] [MESSAGE...]
 *   msgtool recv [WHERE] [-p PATTERN] [-n COUNT] [-t MS]
 * WHERE is -e NAME (an endpoint of common/endpoints.h, resolved like the
 * daemons do: MERKAZIA_ENDPOINT_<NAME> or ipc://$MERKAZIA_RUNTIME_DIR/...),
 * -c ADDR (connect) or -b ADDR (bind). With -e, msgtool takes the side of
 * the endpoint that sends (send) or receives (recv). PATTERN is push, pull,
 * pub, sub, req or rep. MESSAGE is a JSON object; without MESSAGE
 * arguments, one is read per line from standard input:
 *   {"type":"STT_JOB","job_id":1,"generation":0,"budget_ms":3000,
 *    "attempt":1,"flags":0,"reply":"ipc://...","call_sid":"CA...",
 *    "payload":{...},"blob_base64":"..."}
 * With -r (or pattern req), msgtool waits for one reply per message and
 * prints it. recv prints COUNT messages (default: until the timeout) and
 * exits 0 when at least one arrived, 3 on a timeout with none. A message
 * that does not decode is printed as {"error": "..."} and counted.
 * Exit codes: 0 ok, 1 usage or send failure, 3 nothing received in time.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>

#include "base64.h"
#include "endpoints.h"
#include "msg.h"
#include "xmalloc.h"

struct msgtool_opts {
	const char *endpoint;
	const char *addr;
	bool bind;
	int pattern;
	bool want_reply;
	int timeout_ms;
	long count;
};

static const struct {
	const char *name;
	int proto;
} msgtool_patterns[] = {
    {"push", NN_PUSH},
    {"pull", NN_PULL},
    {"pub", NN_PUB},
    {"sub", NN_SUB},
    {"req", NN_REQ},
    {"rep", NN_REP},
};

static void
msgtool_usage(void)
{
	fprintf(stderr,
	    "usage: msgtool send [-e NAME | -c ADDR | -b ADDR] [-p PATTERN] "
	    "[-r] [-t MS] [MESSAGE...]\n"
	    "       msgtool recv [-e NAME | -c ADDR | -b ADDR] [-p PATTERN] "
	    "[-n COUNT] [-t MS]\n"
	    "       msgtool types | endpoints\n");
}

static bool
msgtool_is_sender(int proto)
{
	return proto == NN_PUSH || proto == NN_PUB || proto == NN_REQ;
}

/* Convert a decoded message to the JSON form msgtool prints. */
static json_t *
msgtool_to_json(const struct msg *m)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s}",
	    "type", msg_type_name(m->type), "job_id", (json_int_t)m->job_id,
	    "generation", (json_int_t)m->generation, "budget_ms",
	    (json_int_t)m->budget_ms, "attempt", (json_int_t)m->attempt,
	    "flags", (json_int_t)m->flags, "reply", m->reply, "call_sid",
	    m->call_sid);
	json_t *p = msg_payload(m);

	json_object_set_new(j, "payload", p ? p : json_null());
	if (m->blob_len) {
		char *b = base64_encode_alloc(m->blob, m->blob_len);

		json_object_set_new(j, "blob_base64", json_string(b));
		free(b);
	}
	return j;
}

/*
 * Build a message from its JSON form. On success return 0 and set *bufp
 * to the encoded message (caller frees); else print why and return -1.
 */
static int
msgtool_from_json(const char *text, uint8_t **bufp, size_t *lenp)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr), *payload = NULL;
	const char *type = NULL, *reply = "", *sid = "", *b64 = NULL;
	json_int_t job = 0, gen = 0, budget = 0, attempt = 1, flags = 0;
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	char *ptext = NULL;
	struct msg m;
	int code, rc = -1;

	if (j == NULL) {
		fprintf(stderr, "msgtool: not JSON: %s (line %d)\n", jerr.text,
		    jerr.line);
		return -1;
	}
	if (json_unpack_ex(j, &jerr, 0,
		"{s:s, s?I, s?I, s?I, s?I, s?I, s?s, s?s, s?o, s?s}", "type",
		&type, "job_id", &job, "generation", &gen, "budget_ms", &budget,
		"attempt", &attempt, "flags", &flags, "reply", &reply,
		"call_sid", &sid, "payload", &payload, "blob_base64",
		&b64) < 0) {
		fprintf(stderr, "msgtool: bad message: %s\n", jerr.text);
		goto out;
	}
	if ((code = msg_type_from_name(type)) < 0) {
		fprintf(stderr, "msgtool: unknown type %s\n", type);
		goto out;
	}
	msg_init(&m, (enum msg_type)code);
	m.job_id = (uint64_t)job;
	m.generation = (uint32_t)gen;
	m.budget_ms = (uint32_t)budget;
	m.attempt = (uint16_t)attempt;
	m.flags = (uint16_t)flags;
	if (msg_set_reply(&m, reply) < 0 || msg_set_call_sid(&m, sid) < 0) {
		fprintf(stderr, "msgtool: bad reply address or call SID\n");
		goto out;
	}
	if (payload != NULL && !json_is_null(payload)) {
		if (!json_is_object(payload)) {
			fprintf(stderr, "msgtool: payload must be an object\n");
			goto out;
		}
		ptext = json_dumps(payload, JSON_COMPACT);
		m.json = ptext;
		m.json_len = strlen(ptext);
	}
	if (b64 != NULL &&
	    base64_decode_alloc(b64, strlen(b64), &blob, &blob_len) < 0) {
		fprintf(stderr, "msgtool: blob_base64 is not base64\n");
		goto out;
	}
	m.blob = blob;
	m.blob_len = blob_len;
	*bufp = msg_encode(&m, lenp);
	if (*bufp == NULL)
		fprintf(stderr, "msgtool: message over a size limit\n");
	else
		rc = 0;
out:
	free(ptext);
	free(blob);
	json_decref(j);
	return rc;
}

static void
msgtool_print(const void *buf, size_t len)
{
	struct msg m;
	enum msg_error e = msg_decode(buf, len, &m);
	json_t *j;
	char *s;

	if (e != MSG_OK)
		j = json_pack("{s:s, s:I}", "error", msg_error_text(e), "bytes",
		    (json_int_t)len);
	else
		j = msgtool_to_json(&m);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	printf("%s\n", s);
	(void)fflush(stdout);
	free(s);
	json_decref(j);
}

static int
msgtool_open(const struct msgtool_opts *o, bool sending)
{
	int proto = o->pattern, fd, rc;
	bool bind = o->bind;
	char *addr;

	if (o->endpoint != NULL) {
		int id = endpoints_find(o->endpoint);
		const struct endpoint *e;

		if (id < 0) {
			fprintf(
			    stderr, "msgtool: no endpoint %s\n", o->endpoint);
			return -1;
		}
		e = endpoints_get((enum endpoint_id)id);
		if (proto == 0) {
			bool cs = msgtool_is_sender(e->connect_protocol);

			bind = sending ? !cs : cs;
			proto = bind ? e->bind_protocol : e->connect_protocol;
		} else
			bind = proto == e->bind_protocol;
		addr = endpoints_address((enum endpoint_id)id);
		if (bind) {
			/* A connecting side's list: bind the first. */
			char *comma = strchr(addr, ',');

			if (comma != NULL)
				*comma = '\0';
		}
	} else if (o->addr != NULL) {
		addr = xstrdup(o->addr);
	} else {
		fprintf(stderr, "msgtool: say where: -e, -c or -b\n");
		return -1;
	}
	if (proto == 0)
		proto = sending ? NN_PUSH : NN_PULL;
	fd = nn_socket(AF_SP, proto);
	if (fd < 0) {
		free(addr);
		return -1;
	}
	{
		int max = (int)MSG_MAX, t = o->timeout_ms;

		nn_setsockopt(
		    fd, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max));
		nn_setsockopt(fd, NN_SOL_SOCKET, NN_RCVTIMEO, &t, sizeof(t));
		nn_setsockopt(fd, NN_SOL_SOCKET, NN_SNDTIMEO, &t, sizeof(t));
	}
	if (proto == NN_SUB)
		nn_setsockopt(fd, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
	rc = bind ? nn_bind(fd, addr) : nn_connect(fd, addr);
	if (rc < 0) {
		fprintf(stderr, "msgtool: %s %s: %s\n",
		    bind ? "bind" : "connect", addr, nn_strerror(nn_errno()));
		free(addr);
		nn_close(fd);
		return -1;
	}
	free(addr);
	if (proto == NN_PUB || proto == NN_SUB)
		usleep(200 * 1000); /* let subscriptions propagate */
	return fd;
}

static int
msgtool_send_one(
    int fd, const struct msgtool_opts *o, int proto, const char *text)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (msgtool_from_json(text, &buf, &len) < 0)
		return -1;
	if (nn_send(fd, buf, len, 0) < 0) {
		fprintf(stderr, "msgtool: send: %s\n", nn_strerror(nn_errno()));
		free(buf);
		return -1;
	}
	free(buf);
	if (o->want_reply || proto == NN_REQ) {
		void *r = NULL;
		int n = nn_recv(fd, &r, NN_MSG, 0);

		if (n < 0) {
			fprintf(stderr, "msgtool: no reply: %s\n",
			    nn_strerror(nn_errno()));
			return -1;
		}
		msgtool_print(r, (size_t)n);
		nn_freemsg(r);
	}
	return 0;
}

static int
msgtool_send(const struct msgtool_opts *o, int argc, char **argv)
{
	int fd = msgtool_open(o, true), rc = 0, proto = 0;
	size_t sz = sizeof(proto);

	if (fd < 0)
		return 1;
	nn_getsockopt(fd, NN_SOL_SOCKET, NN_PROTOCOL, &proto, &sz);
	if (argc > 0) {
		for (int i = 0; i < argc && rc == 0; i++)
			rc = msgtool_send_one(fd, o, proto, argv[i]);
	} else {
		char *line = NULL;
		size_t cap = 0;

		while (rc == 0 && getline(&line, &cap, stdin) > 0) {
			if (line[0] == '\n')
				continue;
			rc = msgtool_send_one(fd, o, proto, line);
		}
		free(line);
	}
	/* Give the peer time to take what was queued before closing. */
	usleep(100 * 1000);
	nn_close(fd);
	return rc == 0 ? 0 : 1;
}

static int
msgtool_recv(const struct msgtool_opts *o)
{
	int fd = msgtool_open(o, false);
	long got = 0;

	if (fd < 0)
		return 1;
	while (o->count <= 0 || got < o->count) {
		void *buf = NULL;
		int n = nn_recv(fd, &buf, NN_MSG, 0);

		if (n < 0) {
			if (nn_errno() == EINTR)
				continue;
			break;
		}
		msgtool_print(buf, (size_t)n);
		nn_freemsg(buf);
		got++;
	}
	nn_close(fd);
	return got > 0 ? 0 : 3;
}

int
main(int argc, char **argv)
{
	struct msgtool_opts o = {NULL, NULL, false, 0, false, 5000, 0};
	const char *cmd, *rd = getenv("MERKAZIA_RUNTIME_DIR");
	int c;

	if (rd == NULL)
		rd = getenv("RUNTIME_DIRECTORY");
	endpoints_set_runtime_dir(rd);
	if (argc < 2) {
		msgtool_usage();
		return 1;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--version") == 0) {
		printf("msgtool %s (build %s)\n", MERKAZIA_VERSION,
		    MERKAZIA_BUILD_ID);
		return 0;
	}
	if (strcmp(cmd, "types") == 0) {
		for (size_t i = 0; i < msg_type_count(); i++)
			printf("%s\n", msg_type_name(msg_type_at(i)));
		return 0;
	}
	if (strcmp(cmd, "endpoints") == 0) {
		for (int i = 0; i < ENDPOINT_COUNT; i++) {
			char *a = endpoints_address((enum endpoint_id)i);

			printf("%s %s\n",
			    endpoints_get((enum endpoint_id)i)->name, a);
			free(a);
		}
		return 0;
	}
	optind = 2;
	while ((c = getopt(argc, argv, "e:c:b:p:rt:n:")) != -1) {
		switch (c) {
		case 'e':
			o.endpoint = optarg;
			break;
		case 'c':
			o.addr = optarg;
			o.bind = false;
			break;
		case 'b':
			o.addr = optarg;
			o.bind = true;
			break;
		case 'p':
			for (size_t i = 0; i < sizeof(msgtool_patterns) /
						   sizeof(msgtool_patterns[0]);
			     i++)
				if (strcmp(optarg, msgtool_patterns[i].name) ==
				    0)
					o.pattern = msgtool_patterns[i].proto;
			if (o.pattern == 0) {
				fprintf(
				    stderr, "msgtool: no pattern %s\n", optarg);
				return 1;
			}
			break;
		case 'r':
			o.want_reply = true;
			break;
		case 't':
			o.timeout_ms = (int)strtol(optarg, NULL, 10);
			break;
		case 'n':
			o.count = strtol(optarg, NULL, 10);
			break;
		default:
			msgtool_usage();
			return 1;
		}
	}
	if (strcmp(cmd, "send") == 0)
		return msgtool_send(&o, argc - optind, argv + optind);
	if (strcmp(cmd, "recv") == 0)
		return msgtool_recv(&o);
	msgtool_usage();
	return 1;
}
