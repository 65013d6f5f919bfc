/*
 * nanomsg sockets on the libevent loop.
 *
 * Why: every daemon receives messages of msg.h on nanomsg sockets inside
 * one single-threaded libevent loop. A socket's NN_RCVFD is a descriptor
 * to poll (never to read); when it is readable the socket is drained with
 * NN_DONTWAIT, each message decoded and checked (msg_decode, then its JSON
 * payload), and dispatched through the caller's table. A bad message is
 * logged with what was wrong, counted and dropped; a type the table does
 * not list is logged as unexpected. Sends never block the loop: a full or
 * peerless socket makes nnsock_send return -1 (EAGAIN) and the caller
 * decides (resend, spool, drop).
 *
 * Sizes: NN_RCVMAXSIZE is set to MSG_MAX and the buffers to
 * NNSOCK_BUFSIZE on every socket, because audio rides in messages.
 *
 * Raw sockets (crm-store's REQ/REP): the SP header nanomsg uses to route
 * a reply is handed to the handler (struct nnsock_rx) and given back to
 * nnsock_send_raw, so many requests can be in flight.
 *
 * The file is nnsock.c, not nn.c, because nanomsg owns the nn_ prefix.
 */
#ifndef MERKAZIA_NNSOCK_H
#define MERKAZIA_NNSOCK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

#include "endpoints.h"
#include "msg.h"

#define NNSOCK_BUFSIZE (4 * 1024 * 1024)
#define NNSOCK_HDR_MAX 64

struct nnsock;

/* What came with a received message besides the message itself. */
struct nnsock_rx {
	const void *sphdr; /* raw sockets: the routing header, else NULL */
	size_t sphdr_len;
	size_t size; /* bytes on the wire */
};

struct msg_handler {
	unsigned int type;
	void (*fn)(struct nnsock *s, const struct msg *m, json_t *payload,
	    const struct nnsock_rx *rx, void *arg);
};

/* nnsock.c */
struct nnsock *nnsock_open(int protocol, bool raw, const char *name);
struct nnsock *nnsock_endpoint(enum endpoint_id id, bool binder);
int nnsock_bind_list(struct nnsock *s, const char *list);
int nnsock_connect_list(struct nnsock *s, const char *list);
int nnsock_subscribe(struct nnsock *s);
int nnsock_watch(struct nnsock *s, struct event_base *base,
    const struct msg_handler *handlers, void *arg);
int nnsock_send(struct nnsock *s, const struct msg *m);
int nnsock_send_bytes(struct nnsock *s, const void *buf, size_t len);
int nnsock_send_raw(
    struct nnsock *s, const struct msg *m, const void *sphdr, size_t sphdr_len);
void nnsock_close(struct nnsock *s);
int nnsock_fd(const struct nnsock *s);
const char *nnsock_name(const struct nnsock *s);
unsigned long nnsock_received(const struct nnsock *s);
unsigned long nnsock_dropped(const struct nnsock *s);

#endif
