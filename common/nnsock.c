/*
 * nanomsg sockets on the libevent loop (see nnsock.h).
 *
 * Ownership: a struct nnsock owns its nanomsg socket and its event; a
 * received nanomsg buffer is freed with nn_freemsg exactly once, after its
 * handler returns (handlers must copy what they keep). nnsock_close may be
 * called from inside a handler of the same socket: the socket is then
 * closed when the drain loop returns (R8).
 */
#include <errno.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>

#include "log.h"
#include "nnsock.h"
#include "xmalloc.h"

/* Messages handled per readable event before yielding to the loop. */
#define NNSOCK_BATCH 256

struct nnsock {
	int fd;
	char name[64];
	struct event *ev;
	const struct msg_handler *handlers;
	void *arg;
	bool raw;
	bool in_dispatch;
	bool closing;
	unsigned long received;
	unsigned long dropped;
};

/*
 * Open a nanomsg socket of the given protocol (NN_PUSH, ...), raw or not,
 * named for logs; set its size limits. Return NULL (logged) on failure.
 */
struct nnsock *
nnsock_open(int protocol, bool raw, const char *name)
{
	struct nnsock *s;
	int fd = nn_socket(raw ? AF_SP_RAW : AF_SP, protocol);
	int maxsize = (int)MSG_MAX, buf = NNSOCK_BUFSIZE, linger = 1000;

	if (fd < 0) {
		log_warnx("nn_socket %s: %s", name, nn_strerror(nn_errno()));
		return NULL;
	}
	if (nn_setsockopt(fd, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize,
		sizeof(maxsize)) < 0 ||
	    nn_setsockopt(fd, NN_SOL_SOCKET, NN_SNDBUF, &buf, sizeof(buf)) <
		0 ||
	    nn_setsockopt(fd, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf)) <
		0 ||
	    nn_setsockopt(
		fd, NN_SOL_SOCKET, NN_LINGER, &linger, sizeof(linger)) < 0) {
		log_warnx(
		    "nn_setsockopt %s: %s", name, nn_strerror(nn_errno()));
		nn_close(fd);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->raw = raw;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

static int
nnsock_each(struct nnsock *s, const char *list, bool bind)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	int n = 0, rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		if ((bind ? nn_bind(s->fd, tok) : nn_connect(s->fd, tok)) < 0) {
			log_warnx("%s %s on %s: %s", bind ? "bind" : "connect",
			    s->name, tok, nn_strerror(nn_errno()));
			rc = -1;
			continue;
		}
		n++;
	}
	free(copy);
	if (n == 0 && rc == 0) {
		log_warnx("%s: empty address list", s->name);
		rc = -1;
	}
	return rc;
}

/* Bind to every address of a comma-separated list; -1 if any failed. */
int
nnsock_bind_list(struct nnsock *s, const char *list)
{
	return nnsock_each(s, list, true);
}

/* Connect to every address of a comma-separated list; -1 if any failed. */
int
nnsock_connect_list(struct nnsock *s, const char *list)
{
	return nnsock_each(s, list, false);
}

/* Subscribe a SUB socket to every message. */
int
nnsock_subscribe(struct nnsock *s)
{
	if (nn_setsockopt(s->fd, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0) {
		log_warnx("subscribe %s: %s", s->name, nn_strerror(nn_errno()));
		return -1;
	}
	return 0;
}

/*
 * Open the socket of endpoint id on the binding side (binder true) or the
 * connecting side, and bind or connect it to the endpoint's address(es).
 * A SUB socket is subscribed to everything. Return NULL (logged) on error.
 */
struct nnsock *
nnsock_endpoint(enum endpoint_id id, bool binder)
{
	const struct endpoint *e = endpoints_get(id);
	char *addr;
	struct nnsock *s;
	int proto;
	int rc;

	if (e == NULL)
		return NULL;
	proto = binder ? e->bind_protocol : e->connect_protocol;
	s = nnsock_open(proto, e->raw, e->name);
	if (s == NULL)
		return NULL;
	addr = endpoints_address(id);
	rc = binder ? nnsock_bind_list(s, addr) : nnsock_connect_list(s, addr);
	if (rc == 0 && proto == NN_SUB)
		rc = nnsock_subscribe(s);
	if (rc == 0)
		log_debug(
		    "%s %s %s", binder ? "bound" : "connected", e->name, addr);
	free(addr);
	if (rc < 0) {
		nnsock_close(s);
		return NULL;
	}
	return s;
}

static void
nnsock_dispatch(
    struct nnsock *s, const void *buf, size_t len, const struct nnsock_rx *rx)
{
	struct msg m;
	enum msg_error err = msg_decode(buf, len, &m);
	const struct msg_handler *h;
	json_t *payload;

	s->received++;
	if (err != MSG_OK) {
		msg_count_error(err);
		s->dropped++;
		log_warnx("dropped a message of %zu bytes on %s: %s", len,
		    s->name, msg_error_text(err));
		return;
	}
	for (h = s->handlers; h != NULL && h->fn != NULL; h++)
		if (h->type == m.type)
			break;
	if (h == NULL || h->fn == NULL) {
		s->dropped++;
		log_warnx("unexpected %s on %s (job %llu)",
		    msg_type_name(m.type), s->name,
		    (unsigned long long)m.job_id);
		return;
	}
	payload = msg_payload(&m);
	if (payload == NULL) {
		msg_count_error(MSG_ERR_JSON);
		s->dropped++;
		log_warnx("dropped %s on %s (job %llu): %s",
		    msg_type_name(m.type), s->name,
		    (unsigned long long)m.job_id, msg_error_text(MSG_ERR_JSON));
		return;
	}
	h->fn(s, &m, payload, rx, s->arg);
	json_decref(payload);
}

static void
nnsock_readable(evutil_socket_t fd, short what, void *arg)
{
	struct nnsock *s = arg;

	(void)fd;
	(void)what;
	s->in_dispatch = true;
	for (int i = 0; i < NNSOCK_BATCH && !s->closing; i++) {
		void *buf = NULL, *control = NULL;
		struct nn_iovec iov = {&buf, NN_MSG};
		struct nn_msghdr hdr;
		struct nnsock_rx rx = {NULL, 0, 0};
		int n;

		memset(&hdr, 0, sizeof(hdr));
		hdr.msg_iov = &iov;
		hdr.msg_iovlen = 1;
		if (s->raw) {
			hdr.msg_control = &control;
			hdr.msg_controllen = NN_MSG;
		}
		n = nn_recvmsg(s->fd, &hdr, NN_DONTWAIT);
		if (n < 0) {
			if (nn_errno() != EAGAIN && nn_errno() != EINTR)
				log_warnx("receive on %s: %s", s->name,
				    nn_strerror(nn_errno()));
			break;
		}
		if (control != NULL) {
			struct nn_cmsghdr *c = NN_CMSG_FIRSTHDR(&hdr);

			while (c != NULL) {
				if (c->cmsg_level == PROTO_SP &&
				    c->cmsg_type == SP_HDR) {
					rx.sphdr = NN_CMSG_DATA(c);
					rx.sphdr_len =
					    c->cmsg_len - NN_CMSG_SPACE(0);
					break;
				}
				c = NN_CMSG_NXTHDR(&hdr, c);
			}
		}
		rx.size = (size_t)n;
		nnsock_dispatch(s, buf, (size_t)n, &rx);
		nn_freemsg(buf);
		if (control != NULL)
			nn_freemsg(control);
	}
	s->in_dispatch = false;
	if (s->closing)
		nnsock_close(s);
}

/*
 * Watch the socket on base: each received message is decoded and handed
 * to the handler of its type in handlers (terminated by {0, NULL}), with
 * arg. Return -1 (logged) if the socket cannot be polled.
 */
int
nnsock_watch(struct nnsock *s, struct event_base *base,
    const struct msg_handler *handlers, void *arg)
{
	int rcvfd;
	size_t sz = sizeof(rcvfd);

	if (nn_getsockopt(s->fd, NN_SOL_SOCKET, NN_RCVFD, &rcvfd, &sz) < 0) {
		log_warnx("NN_RCVFD %s: %s", s->name, nn_strerror(nn_errno()));
		return -1;
	}
	s->handlers = handlers;
	s->arg = arg;
	s->ev =
	    event_new(base, rcvfd, EV_READ | EV_PERSIST, nnsock_readable, s);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0) {
		log_warnx("cannot watch %s", s->name);
		return -1;
	}
	/* Messages may already be queued; the fd is edge-like. */
	event_active(s->ev, EV_READ, 0);
	return 0;
}

/* nn_iovec has no const member; nanomsg only reads what is sent. */
static void *
nnsock_unconst(const void *p)
{
	union {
		const void *c;
		void *v;
	} u;

	u.c = p;
	return u.v;
}

static int
nnsock_sendv(
    struct nnsock *s, const struct msg *m, const void *sphdr, size_t sphdr_len)
{
	uint8_t head[MSG_HDR_SIZE + MSG_REPLY_MAX + MSG_SID_MAX];
	size_t hl = msg_encode_header(m, head, sizeof(head));
	struct nn_iovec iov[3];
	struct nn_msghdr hdr;
	uint8_t control[NN_CMSG_SPACE(NNSOCK_HDR_MAX)];
	int n = 0;

	if (hl == 0) {
		log_warnx("not sending %s on %s: over a size limit",
		    msg_type_name(m->type), s->name);
		errno = EMSGSIZE;
		return -1;
	}
	iov[n].iov_base = head;
	iov[n++].iov_len = hl;
	if (m->json_len) {
		iov[n].iov_base = nnsock_unconst(m->json);
		iov[n++].iov_len = m->json_len;
	}
	if (m->blob_len) {
		iov[n].iov_base = nnsock_unconst(m->blob);
		iov[n++].iov_len = m->blob_len;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.msg_iov = iov;
	hdr.msg_iovlen = n;
	if (sphdr != NULL) {
		struct nn_cmsghdr *c = (struct nn_cmsghdr *)(void *)control;

		if (sphdr_len > NNSOCK_HDR_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		memset(control, 0, sizeof(control));
		c->cmsg_len = NN_CMSG_LEN(sphdr_len);
		c->cmsg_level = PROTO_SP;
		c->cmsg_type = SP_HDR;
		memcpy(NN_CMSG_DATA(c), sphdr, sphdr_len);
		hdr.msg_control = control;
		hdr.msg_controllen = NN_CMSG_SPACE(sphdr_len);
	}
	if (nn_sendmsg(s->fd, &hdr, NN_DONTWAIT) < 0) {
		errno = nn_errno();
		return -1;
	}
	return 0;
}

/*
 * Send m without blocking. Return 0, or -1 with errno set (EAGAIN: no
 * peer or a full buffer; the caller decides what to do).
 */
int
nnsock_send(struct nnsock *s, const struct msg *m)
{
	return nnsock_sendv(s, m, NULL, 0);
}

/* Send an already encoded message without blocking (see nnsock_send). */
int
nnsock_send_bytes(struct nnsock *s, const void *buf, size_t len)
{
	if (nn_send(s->fd, buf, len, NN_DONTWAIT) < 0) {
		errno = nn_errno();
		return -1;
	}
	return 0;
}

/* Send m on a raw socket with the SP routing header sphdr. */
int
nnsock_send_raw(
    struct nnsock *s, const struct msg *m, const void *sphdr, size_t sphdr_len)
{
	return nnsock_sendv(s, m, sphdr, sphdr_len);
}

/* Close s (NULL allowed); deferred while one of its handlers runs. */
void
nnsock_close(struct nnsock *s)
{
	if (s == NULL)
		return;
	if (s->in_dispatch) {
		s->closing = true;
		return;
	}
	if (s->ev != NULL)
		event_free(s->ev);
	nn_close(s->fd);
	free(s);
}

int
nnsock_fd(const struct nnsock *s)
{
	return s->fd;
}

const char *
nnsock_name(const struct nnsock *s)
{
	return s->name;
}

unsigned long
nnsock_received(const struct nnsock *s)
{
	return s->received;
}

unsigned long
nnsock_dropped(const struct nnsock *s)
{
	return s->dropped;
}
