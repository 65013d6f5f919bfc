/*
 * JSON-lines logger (see log.h for the line format and the secret rule).
 *
 * log_warn and fatal append strerror(errno) to the message; the *x
 * variants do not. fields passed to log_fields are borrowed (the caller
 * keeps its reference). The logger is not thread-safe: every daemon is a
 * single-threaded event loop.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

#define LOG_MAX_SECRETS 32
#define LOG_MIN_SECRET	4

static struct {
	char daemon[64];
	char instance[64];
	enum log_level level;
	int fd;
	char *secrets[LOG_MAX_SECRETS];
	size_t nsecrets;
} log_state = {"merkazia", "", LOG_LEVEL_INFO, 2, {NULL}, 0};

static const char *const log_level_names[] = {
    "debug", "info", "warn", "error", "fatal"};

void
log_init(const char *daemon, const char *instance)
{
	snprintf(log_state.daemon, sizeof(log_state.daemon), "%s",
	    daemon ? daemon : "merkazia");
	snprintf(log_state.instance, sizeof(log_state.instance), "%s",
	    instance ? instance : "");
}

void
log_set_level(enum log_level level)
{
	log_state.level = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0;
	     i < sizeof(log_level_names) / sizeof(*log_level_names); i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_set_fd(int fd)
{
	log_state.fd = fd;
}

void
log_add_secret(const char *value)
{
	if (value == NULL || strlen(value) < LOG_MIN_SECRET)
		return;
	for (size_t i = 0; i < log_state.nsecrets; i++)
		if (strcmp(log_state.secrets[i], value) == 0)
			return;
	if (log_state.nsecrets == LOG_MAX_SECRETS)
		return;
	log_state.secrets[log_state.nsecrets++] = xstrdup(value);
}

void
log_clear_secrets(void)
{
	for (size_t i = 0; i < log_state.nsecrets; i++)
		X_FREE(log_state.secrets[i]);
	log_state.nsecrets = 0;
}

/* Return a copy of s with every registered secret replaced. */
char *
log_redact(const char *s)
{
	static const char mask[] = "(redacted)";
	char *out = xstrdup(s);

	for (size_t i = 0; i < log_state.nsecrets; i++) {
		const char *sec = log_state.secrets[i];
		size_t sl = strlen(sec);
		char *hit;

		while ((hit = strstr(out, sec)) != NULL) {
			size_t pre = (size_t)(hit - out);
			char *n = xasprintf(
			    "%.*s%s%s", (int)pre, out, mask, hit + sl);

			free(out);
			out = n;
		}
	}
	return out;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
log_utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1fu;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0fu;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07u;
	} else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Append s as a JSON string literal (with quotes) to the stream. */
static void
log_put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	(void)fputc('"', f);
	while (n > 0) {
		size_t l;

		if (*p == '"' || *p == '\\') {
			(void)fputc('\\', f);
			(void)fputc(*p, f);
			l = 1;
		} else if (*p == '\n') {
			(void)fputs("\\n", f);
			l = 1;
		} else if (*p == '\t') {
			(void)fputs("\\t", f);
			l = 1;
		} else if (*p == '\r') {
			(void)fputs("\\r", f);
			l = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			(void)fprintf(f, "\\u%04x", *p);
			l = 1;
		} else if ((l = log_utf8_len(p, n)) != 0) {
			(void)fwrite(p, 1, l, f);
		} else {
			(void)fputs("\xef\xbf\xbd", f);
			l = 1;
		}
		p += l;
		n -= l;
	}
	(void)fputc('"', f);
}

void
log_emit(enum log_level level, const struct log_ctx *ctx, json_t *fields,
    const char *fmt, va_list ap)
{
	char *msg = NULL, *line = NULL, *clean;
	size_t linelen = 0;
	struct timespec ts;
	struct tm tm;
	char tbuf[32];
	FILE *f;

	if (level < log_state.level)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	(void)strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);

	f = open_memstream(&line, &linelen);
	if (f == NULL) {
		free(msg);
		return;
	}
	(void)fprintf(f,
	    "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"daemon\":", tbuf,
	    ts.tv_nsec / 1000000, log_level_names[level]);
	log_put_string(f, log_state.daemon);
	if (log_state.instance[0]) {
		(void)fputs(",\"instance\":", f);
		log_put_string(f, log_state.instance);
	}
	(void)fprintf(f, ",\"pid\":%ld", (long)getpid());
	if (ctx != NULL) {
		if (ctx->call_sid && ctx->call_sid[0]) {
			(void)fputs(",\"call_sid\":", f);
			log_put_string(f, ctx->call_sid);
		}
		if (ctx->stream_sid && ctx->stream_sid[0]) {
			(void)fputs(",\"stream_sid\":", f);
			log_put_string(f, ctx->stream_sid);
		}
		if (ctx->job_id)
			(void)fprintf(f, ",\"job_id\":%llu",
			    (unsigned long long)ctx->job_id);
		if (ctx->turn >= 0)
			(void)fprintf(f, ",\"turn\":%ld", ctx->turn);
	}
	(void)fputs(",\"msg\":", f);
	log_put_string(f, msg);
	if (fields != NULL && json_is_object(fields)) {
		const char *key;
		json_t *val;

		json_object_foreach(fields, key, val) {
			char *enc =
			    json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);

			if (enc == NULL)
				continue;
			(void)fputc(',', f);
			log_put_string(f, key);
			(void)fputc(':', f);
			(void)fputs(enc, f);
			free(enc);
		}
	}
	(void)fputs("}\n", f);
	(void)fclose(f);
	free(msg);

	clean = log_state.nsecrets ? log_redact(line) : line;
	{
		size_t off = 0, len = strlen(clean);

		while (off < len) {
			ssize_t w = write(log_state.fd, clean + off, len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	if (clean != line)
		free(clean);
	free(line);
}

/* Format with an errno suffix: "msg: strerror". */
static void log_errno(enum log_level level, const char *fmt, va_list ap)
    LOG_PRINTF(2, 0);

static void
log_errno(enum log_level level, const char *fmt, va_list ap)
{
	int saved = errno;
	char *m = NULL;

	if (vasprintf(&m, fmt, ap) < 0)
		return;
	log_fields(level, NULL, NULL, "%s: %s", m, strerror(saved));
	free(m);
}

#define LOG_VA(level, ctx, fields)                     \
	do {                                           \
		va_list ap;                            \
		va_start(ap, fmt);                     \
		log_emit(level, ctx, fields, fmt, ap); \
		va_end(ap);                            \
	} while (0)

void
log_debug(const char *fmt, ...)
{
	LOG_VA(LOG_LEVEL_DEBUG, NULL, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_VA(LOG_LEVEL_INFO, NULL, NULL);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_VA(LOG_LEVEL_WARN, NULL, NULL);
}

void
log_error(const char *fmt, ...)
{
	LOG_VA(LOG_LEVEL_ERROR, NULL, NULL);
}

void
log_call(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
{
	LOG_VA(level, ctx, NULL);
}

void
log_fields(enum log_level level, const struct log_ctx *ctx, json_t *fields,
    const char *fmt, ...)
{
	LOG_VA(level, ctx, fields);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_LEVEL_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_VA(LOG_LEVEL_FATAL, NULL, NULL);
	exit(1);
}
