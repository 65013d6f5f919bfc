/*
 * JSON-lines logging on stderr.
 *
 * Why: journald keeps stderr, and one JSON object per line can be searched
 * by field (call_sid, job_id) across every daemon. Each line carries ts,
 * level, daemon, instance, pid and msg, plus call_sid / stream_sid /
 * job_id / turn when a struct log_ctx is given, plus optional extra fields.
 *
 * Secrets: every secret value the config engine loads is registered with
 * log_add_secret(); any occurrence of one in a line is replaced by
 * "(redacted)" before the line is written, so a secret can never reach the
 * journal even through a careless format argument.
 *
 * Invalid UTF-8 in a message is replaced by U+FFFD so every line is valid
 * JSON. A line is written with one write(2).
 */
#ifndef MERKAZIA_LOG_H
#define MERKAZIA_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include <jansson.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL,
};

/* Call context added to a line; NULL / 0 / -1 fields are left out. */
struct log_ctx {
	const char *call_sid;
	const char *stream_sid;
	uint64_t job_id;
	long turn;
};

#define LOG_CTX_NONE              \
	{                         \
		NULL, NULL, 0, -1 \
	}

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* log.c */
void log_init(const char *daemon, const char *instance);
void log_set_level(enum log_level level);
int log_level_parse(const char *s, enum log_level *out);
void log_set_fd(int fd);
void log_add_secret(const char *value);
void log_clear_secrets(void);
char *log_redact(const char *s);
void log_emit(enum log_level level, const struct log_ctx *ctx, json_t *fields,
    const char *fmt, va_list ap) LOG_PRINTF(4, 0);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_call(enum log_level level, const struct log_ctx *ctx, const char *fmt,
    ...) LOG_PRINTF(3, 4);
void log_fields(enum log_level level, const struct log_ctx *ctx, json_t *fields,
    const char *fmt, ...) LOG_PRINTF(4, 5);
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
