/*
 * Fuzz target: the HTTP request reader of gateway/http.c (struct
 * http_reader), the bytes every client on the Internet can send us.
 *
 * The input is fed twice: whole, and in pieces whose sizes come from the
 * input's own bytes, so splits land inside every token. Both runs must
 * agree on the number of requests and the outcome, every request must be
 * well formed (strings present, limits kept, path a prefix of the target)
 * and an error must carry one of the statuses the reader promises.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	size_t requests;
	int status;
	size_t body_total;
};

static void
check_request(const struct http_request *req)
{
	if (req->target == NULL || req->path == NULL || req->query == NULL ||
	    req->body == NULL || req->target[0] != '/' ||
	    strncmp(req->target, req->path, strlen(req->path)) != 0 ||
	    req->nheaders > HTTP_HEADERS_MAX || req->body_len > HTTP_BODY_MAX ||
	    req->body[req->body_len] != '\0' ||
	    strlen(req->target) > HTTP_URL_MAX)
		abort();
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name == NULL ||
		    req->headers[i].value == NULL ||
		    req->headers[i].name[0] == '\0')
			abort();
	(void)http_request_header(req, "Host");
}

static struct outcome
run(const uint8_t *data, size_t size, bool split)
{
	struct http_reader *r = http_reader_new(0);
	struct outcome o = {0, 0, 0};
	size_t off = 0, k = 0;

	while (off < size) {
		size_t piece =
		    split ? (size_t)(1 + data[k++ % size] % 17) : size - off;
		size_t used = 0;
		enum http_read st;

		if (piece > size - off)
			piece = size - off;
		st =
		    http_reader_feed(r, (const char *)data + off, piece, &used);
		if (used > piece)
			abort();
		off += used;
		if (st == HTTP_READ_REQUEST) {
			struct http_request *req = http_reader_take(r);

			if (req == NULL)
				abort();
			check_request(req);
			o.requests++;
			o.body_total += req->body_len;
			http_request_free(req);
			if (o.requests > size)
				abort();
			continue;
		}
		if (st == HTTP_READ_ERROR) {
			o.status = http_reader_status(r);
			if (o.status != 400 && o.status != 413 &&
			    o.status != 414 && o.status != 431)
				abort();
			break;
		}
		if (used != piece)
			abort();
	}
	http_reader_free(r);
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a = run(data, size, false);
	struct outcome b = run(data, size, true);

	/*
	 * Splits must not change what was parsed. Which limit an invalid
	 * input breaks first may differ (a header value is checked as its
	 * pieces arrive), so only failure itself is compared.
	 */
	if (a.requests != b.requests || (a.status != 0) != (b.status != 0) ||
	    a.body_total != b.body_total)
		abort();
	return 0;
}
