/*
 * Typed configuration tables and the one engine that loads them.
 *
 * Why: a renamed or missing setting killed the prototype's TTS silently.
 * Here every daemon declares one table of keys (name, type, default,
 * bounds, flags, help); the engine loads them from, in rising precedence,
 * the defaults, an optional KEY=VALUE file, and the environment. A secret
 * may also come from NAME_FILE (a path) or $CREDENTIALS_DIRECTORY/NAME
 * (systemd's LoadCredential=). Every problem is collected, not just the
 * first, so `--check-config` and a failed start list them all.
 *
 * Secrets: their values are registered with the logger for redaction and
 * are printed only as "(set)" / "(unset)".
 *
 * The file parser (config_parse_buf) is a pure function over a buffer so
 * it is unit-tested and fuzzed.
 */
#ifndef MERKAZIA_CONFIG_H
#define MERKAZIA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum config_type {
	CONFIG_STRING,
	CONFIG_INT,
	CONFIG_BOOL,
	CONFIG_URL,
};

#define CONFIG_SECRET	0x1u /* value never printed or logged */
#define CONFIG_REQUIRED 0x2u /* start refused while unset */

struct config_key {
	const char *name;
	enum config_type type;
	const char *def; /* NULL: unset by default */
	long min;	 /* CONFIG_INT bounds, inclusive */
	long max;
	unsigned int flags;
	const char *help;
};

/* Where a value came from, for --check-config. */
enum config_source {
	CONFIG_SRC_UNSET,
	CONFIG_SRC_DEFAULT,
	CONFIG_SRC_FILE,
	CONFIG_SRC_ENV,
	CONFIG_SRC_SECRET_FILE,
	CONFIG_SRC_CREDENTIAL,
};

#define CONFIG_LINE_MAX 8192
#define CONFIG_FILE_MAX (1024L * 1024L)

struct config;

/* config.c */
struct config *config_new(const struct config_key *const *tables);
void config_free(struct config *cfg);
int config_load(struct config *cfg, const char *path);
size_t config_nproblems(const struct config *cfg);
const char *config_problem(const struct config *cfg, size_t i);
const char *config_str(const struct config *cfg, const char *name);
long config_int(const struct config *cfg, const char *name);
bool config_bool(const struct config *cfg, const char *name);
bool config_is_set(const struct config *cfg, const char *name);
void config_print(const struct config *cfg, FILE *f);
void config_print_keys(const struct config *cfg, FILE *f);
int config_parse_buf(const char *buf, size_t len,
    void (*line_cb)(
	const char *key, const char *value, size_t lineno, void *arg),
    void (*err_cb)(size_t lineno, const char *what, void *arg), void *arg);
int config_parse_bool(const char *s, bool *out);

#endif
