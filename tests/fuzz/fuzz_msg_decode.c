/*
 * Fuzz target: decoding an inter-process message (common/msg.c), then
 * parsing its payload and re-encoding it, which must give back the same
 * bytes. Every daemon decodes what arrives on its sockets, so a crash
 * here would be remote.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg m;
	json_t *j;
	uint8_t *again;
	size_t len = 0;

	if (msg_decode(data, size, &m) != MSG_OK)
		return 0;
	j = msg_payload(&m);
	json_decref(j);
	again = msg_encode(&m, &len);
	if (again == NULL || len != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	return 0;
}
