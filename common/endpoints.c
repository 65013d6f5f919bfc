/*
 * The endpoint table of endpoints.h and the resolution of an endpoint's
 * address from the environment and the runtime directory.
 */
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>

#include "endpoints.h"
#include "xmalloc.h"

static const struct endpoint endpoints_table[ENDPOINT_COUNT] = {
#define ENDPOINT_ROW(name, file, bp, cp, raw, binder, conn) \
	{#name, file, bp, cp, raw, binder, conn},
    ENDPOINTS(ENDPOINT_ROW)
#undef ENDPOINT_ROW
};

static char endpoints_dir[256] = "/run/merkazia";

const struct endpoint *
endpoints_get(enum endpoint_id id)
{
	return (unsigned int)id < ENDPOINT_COUNT ? &endpoints_table[id] : NULL;
}

/* Return the id of the endpoint called name ("JOBS_STT"), or -1. */
int
endpoints_find(const char *name)
{
	for (int i = 0; i < ENDPOINT_COUNT; i++)
		if (strcasecmp(endpoints_table[i].name, name) == 0)
			return i;
	return -1;
}

void
endpoints_set_runtime_dir(const char *dir)
{
	if (dir != NULL && *dir != '\0')
		snprintf(endpoints_dir, sizeof(endpoints_dir), "%s", dir);
}

const char *
endpoints_runtime_dir(void)
{
	return endpoints_dir;
}

/*
 * Return the address (or comma-separated list) of endpoint id: the value
 * of MERKAZIA_ENDPOINT_<NAME> when set, else the default ipc:// path in
 * the runtime directory. The caller frees it.
 */
char *
endpoints_address(enum endpoint_id id)
{
	const struct endpoint *e = endpoints_get(id);
	char *var;
	const char *v;

	if (e == NULL)
		return NULL;
	var = xasprintf("MERKAZIA_ENDPOINT_%s", e->name);
	v = getenv(var);
	free(var);
	if (v != NULL && *v != '\0')
		return xstrdup(v);
	return xasprintf("ipc://%s/%s.sock", endpoints_dir, e->file);
}
