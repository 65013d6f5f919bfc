/*
 * Fuzz target: the KEY=VALUE settings file parser (common/config.c).
 * Every key it reports must be a valid name and every value a string
 * inside the line it came from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_line(const char *key, const char *value, size_t lineno, void *arg)
{
	size_t *n = arg;

	if (key[0] == '\0' || strlen(value) > CONFIG_LINE_MAX || lineno == 0)
		abort();
	(*n)++;
}

static void
fuzz_err(size_t lineno, const char *what, void *arg)
{
	(void)arg;
	if (lineno == 0 || what == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;

	(void)config_parse_buf(
	    (const char *)data, size, fuzz_line, fuzz_err, &n);
	return 0;
}
