/*
 * Durable spool files (see spool.h).
 *
 * Failure notes: every error is logged once here with the path and errno;
 * a failed append returns -1 and the caller must not report the record as
 * spooled. The lock dies with the process, so a SIGKILLed owner's spool
 * is free for its restarted self at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "xmalloc.h"

struct spool {
	int fd;
	char *path;
	size_t records; /* complete records in the file */
};

/*
 * Return the spool path of a daemon instance:
 * <state_dir>/spool/<daemon>-<instance>. The caller frees it.
 */
char *
spool_path(const char *state_dir, const char *daemon, const char *instance)
{
	return xasprintf("%s/spool/%s-%s", state_dir, daemon,
	    instance != NULL && *instance != '\0' ? instance : "0");
}

static int
spool_mkdirs(const char *path)
{
	char *dir = xstrdup(path);
	int rc = 0;

	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			log_warn("spool: mkdir %s", dir);
			rc = -1;
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

/* Cut a record torn by a crash: keep the file up to its last newline. */
static int
spool_trim(struct spool *sp)
{
	struct stat st;
	off_t end;
	char c;

	if (fstat(sp->fd, &st) < 0)
		return -1;
	end = st.st_size;
	while (end > 0) {
		if (pread(sp->fd, &c, 1, end - 1) != 1)
			return -1;
		if (c == '\n')
			break;
		end--;
	}
	if (end != st.st_size) {
		log_warnx("spool %s: cut a torn record of %lld bytes", sp->path,
		    (long long)(st.st_size - end));
		if (ftruncate(sp->fd, end) < 0 || fdatasync(sp->fd) < 0)
			return -1;
	}
	return 0;
}

/*
 * Open (creating it and its directories, mode 0600) and lock the spool
 * file at path. Return NULL (logged) when it cannot be opened or another
 * process holds it.
 */
struct spool *
spool_open(const char *path)
{
	struct spool *sp;
	int fd;

	if (spool_mkdirs(path) < 0)
		return NULL;
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("spool: open %s", path);
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_warn("spool %s: held by another process", path);
		close(fd);
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->fd = fd;
	sp->path = xstrdup(path);
	if (spool_trim(sp) < 0) {
		log_warn("spool %s: cannot check the last record", path);
		spool_close(sp);
		return NULL;
	}
	return sp;
}

/*
 * Append one record (len bytes, no newline inside) and fsync it. Return 0
 * once it is on disk, -1 (logged) otherwise.
 */
int
spool_append(struct spool *sp, const char *rec, size_t len)
{
	char *line;
	ssize_t n;

	if (len == 0 || len > SPOOL_RECORD_MAX || memchr(rec, '\n', len)) {
		log_warnx(
		    "spool %s: refused a record of %zu bytes", sp->path, len);
		return -1;
	}
	line = xmalloc(len + 1);
	memcpy(line, rec, len);
	line[len] = '\n';
	n = write(sp->fd, line, len + 1);
	free(line);
	if (n != (ssize_t)(len + 1)) {
		log_warn("spool %s: append", sp->path);
		/* A short write leaves a torn record; cut it now. */
		(void)spool_trim(sp);
		return -1;
	}
	if (fdatasync(sp->fd) < 0) {
		log_warn("spool %s: fdatasync", sp->path);
		return -1;
	}
	sp->records++;
	return 0;
}

/*
 * Call cb (NULL: only count) for every record in the file, in order.
 * Return the number of records, or -1 (logged) when the file cannot be
 * read.
 */
int
spool_load(struct spool *sp, void (*cb)(const char *rec, size_t len, void *arg),
    void *arg)
{
	struct stat st;
	char *buf;
	size_t size, start = 0;
	int n = 0;
	off_t off = 0;

	if (fstat(sp->fd, &st) < 0) {
		log_warn("spool %s: stat", sp->path);
		return -1;
	}
	size = (size_t)st.st_size;
	buf = xmalloc(size + 1);
	while ((size_t)off < size) {
		ssize_t r = pread(sp->fd, buf + off, size - (size_t)off, off);

		if (r <= 0) {
			log_warn("spool %s: read", sp->path);
			free(buf);
			return -1;
		}
		off += r;
	}
	for (size_t i = 0; i < size; i++) {
		if (buf[i] != '\n')
			continue;
		if (i > start) {
			if (cb != NULL)
				cb(buf + start, i - start, arg);
			n++;
		}
		start = i + 1;
	}
	free(buf);
	sp->records = (size_t)n;
	return n;
}

/* Empty the file once every record in it is acknowledged. */
int
spool_clear(struct spool *sp)
{
	if (ftruncate(sp->fd, 0) < 0 || fdatasync(sp->fd) < 0) {
		log_warn("spool %s: truncate", sp->path);
		return -1;
	}
	sp->records = 0;
	return 0;
}

size_t
spool_records(const struct spool *sp)
{
	return sp->records;
}

const char *
spool_file(const struct spool *sp)
{
	return sp->path;
}

/* Close and unlock the spool (NULL allowed); the file stays. */
void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	close(sp->fd);
	free(sp->path);
	free(sp);
}
