/*
 * The on-disk audio cache: what Google said for a voice, rate and text,
 * so the business's fixed phrases and the agent's common sentences are
 * synthesized (and paid for) once.
 *
 * Layout: <dir>/<first two hex digits>/<SHA-256 hex>.ulaw, where the hash
 * covers a format tag, the voice, the speaking rate (two decimals) and the
 * exact text sent to Google. A file is an 8-byte magic "MZTTS1\n\0", the
 * audio length (4 bytes, little-endian) and the 8 kHz mu-law bytes; a file
 * whose size disagrees is removed and read as a miss. Writes go to a
 * dot-file of the writer's pid in the same directory, then rename(2), so a
 * reader (any instance: they may share the directory) sees a whole file
 * or none, and no fsync is needed (a torn file fails the length check).
 *
 * Cleanup (tts_cache_cleanup, from the daemon's timer table): files not
 * used for max_age seconds go first (a hit touches the file's mtime, so
 * age means "unused for"), then the least recently used until the total
 * is under the size cap; temporary files older than an hour are leftovers
 * of a crash and go too. It walks the directory on the loop; the number of
 * files scanned is bounded by TTS_CACHE_SCAN_MAX.
 *
 * Not here: what to cache (job.c caches Google's audio, never the fallback
 * voice's). OpenSSL (SHA-256) is used only here and in gauth.c (R14).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "msg.h"
#include "tts.h"
#include "xmalloc.h"

#define TTS_CACHE_MAGIC	   "MZTTS1\n"
#define TTS_CACHE_HDR	   12
#define TTS_CACHE_SUFFIX   ".ulaw"
#define TTS_CACHE_SCAN_MAX 1000000
#define TTS_CACHE_TMP_AGE  3600

struct tts_cache {
	char *dir;
	unsigned long tmp_seq;
};

struct tts_cache_entry {
	char name[TTS_CACHE_KEY_LEN + 16]; /* "ab/<key>.ulaw" */
	time_t mtime;
	unsigned long long size;
};

/* Create (if needed) dir and every missing parent, mode 0700. */
static int
tts_cache_mkdirs(const char *dir)
{
	char *p = xstrdup(dir);
	int rc = 0;

	for (char *s = p + 1; *s != '\0' && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

/*
 * Open the cache in dir, creating it. Return NULL (logged) when it cannot
 * be created or written: the worker then runs without a cache.
 */
struct tts_cache *
tts_cache_new(const char *dir)
{
	struct tts_cache *c;

	if (dir == NULL || dir[0] == '\0' || tts_cache_mkdirs(dir) < 0 ||
	    access(dir, W_OK | X_OK) < 0) {
		log_warn("tts cache: cannot use %s; running without a cache",
		    dir ? dir : "(none)");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->dir = xstrdup(dir);
	return c;
}

void
tts_cache_free(struct tts_cache *c)
{
	if (c == NULL)
		return;
	free(c->dir);
	free(c);
}

const char *
tts_cache_dir(const struct tts_cache *c)
{
	return c->dir;
}

/*
 * Write the cache key of voice, rate and the len bytes of text at text
 * (64 lowercase hex digits and a NUL) into key.
 */
void
tts_cache_key(const char *voice, double rate, const char *text, size_t len,
    char key[TTS_CACHE_KEY_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char head[160];
	int hl;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	/* The format tag changes whenever what we ask Google for changes. */
	hl = snprintf(head, sizeof(head),
	    "merkazia-tts/1 MULAW 8000 "
	    "telephony-class-application%c%s%c"
	    "%.2f%c",
	    '\0', voice, '\0', rate, '\0');
	if (ctx == NULL || hl < 0 || (size_t)hl >= sizeof(head) ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, head, (size_t)hl) != 1 ||
	    EVP_DigestUpdate(ctx, text, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		fatalx("tts cache: SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	for (size_t i = 0; i < 32; i++) {
		key[2 * i] = hex[md[i] >> 4];
		key[2 * i + 1] = hex[md[i] & 0xf];
	}
	key[TTS_CACHE_KEY_LEN] = '\0';
}

static bool
tts_cache_key_is_valid(const char *key)
{
	if (strlen(key) != TTS_CACHE_KEY_LEN)
		return false;
	for (size_t i = 0; i < TTS_CACHE_KEY_LEN; i++)
		if (!((key[i] >= '0' && key[i] <= '9') ||
			(key[i] >= 'a' && key[i] <= 'f')))
			return false;
	return true;
}

/*
 * Look key up: on a hit store a new buffer of the audio in *buf (never
 * NULL, even when empty) and its length in *len, mark the entry used, and
 * return 0. Return -1 on a miss (a broken file counts as one and is
 * removed).
 */
int
tts_cache_get(struct tts_cache *c, const char *key, uint8_t **buf, size_t *len)
{
	char *path;
	uint8_t hdr[TTS_CACHE_HDR];
	struct stat st;
	size_t n;
	int fd;

	*buf = NULL;
	*len = 0;
	if (c == NULL || !tts_cache_key_is_valid(key))
		return -1;
	path = xasprintf("%s/%.2s/%s%s", c->dir, key, key, TTS_CACHE_SUFFIX);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_size < TTS_CACHE_HDR ||
	    (unsigned long long)st.st_size > TTS_CACHE_HDR + MSG_BLOB_MAX ||
	    read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, TTS_CACHE_MAGIC, 8) != 0)
		goto broken;
	n = (size_t)hdr[8] | (size_t)hdr[9] << 8 | (size_t)hdr[10] << 16 |
	    (size_t)hdr[11] << 24;
	if (n != (size_t)st.st_size - TTS_CACHE_HDR)
		goto broken;
	*buf = xmalloc(n > 0 ? n : 1);
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, *buf + got, n - got);

		if (r <= 0) {
			X_FREE(*buf);
			goto broken;
		}
		got += (size_t)r;
	}
	*len = n;
	(void)futimens(fd, NULL); /* used now: cleanup goes by last use */
	(void)close(fd);
	free(path);
	return 0;
broken:
	log_warnx("tts cache: removing broken entry %s", path);
	(void)close(fd);
	(void)unlink(path);
	free(path);
	return -1;
}

static int
tts_cache_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Store len bytes of audio at buf under key, atomically (temporary file,
 * then rename). Return 0, or -1 (logged) when it cannot be written.
 */
int
tts_cache_put(
    struct tts_cache *c, const char *key, const uint8_t *buf, size_t len)
{
	uint8_t hdr[TTS_CACHE_HDR];
	char *sub, *tmp, *path;
	int fd, rc = -1;

	if (c == NULL || !tts_cache_key_is_valid(key) || len > MSG_BLOB_MAX)
		return -1;
	sub = xasprintf("%s/%.2s", c->dir, key);
	tmp = xasprintf(
	    "%s/.%s.%ld.%lu.tmp", sub, key, (long)getpid(), c->tmp_seq++);
	path = xasprintf("%s/%s%s", sub, key, TTS_CACHE_SUFFIX);
	memcpy(hdr, TTS_CACHE_MAGIC, 8);
	hdr[8] = (uint8_t)(len & 0xff);
	hdr[9] = (uint8_t)(len >> 8 & 0xff);
	hdr[10] = (uint8_t)(len >> 16 & 0xff);
	hdr[11] = (uint8_t)(len >> 24 & 0xff);
	if (mkdir(sub, 0700) < 0 && errno != EEXIST)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (tts_cache_write_all(fd, hdr, sizeof(hdr)) < 0 ||
	    tts_cache_write_all(fd, buf, len) < 0) {
		(void)close(fd);
		(void)unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		(void)unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		log_warn("tts cache: cannot write %s", path);
	free(sub);
	free(tmp);
	free(path);
	return rc;
}

static int
tts_cache_by_mtime(const void *a, const void *b)
{
	const struct tts_cache_entry *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool
tts_cache_is_shard(const char *name)
{
	static const char hex[] = "0123456789abcdef";

	return strlen(name) == 2 && strchr(hex, name[0]) != NULL &&
	       strchr(hex, name[1]) != NULL;
}

/* Collect one shard's entries; remove old temporary files on the way. */
static void
tts_cache_scan_shard(int dfd, const char *shard, time_t now,
    struct tts_cache_entry **ents, size_t *n, size_t *cap)
{
	int sfd = openat(dfd, shard, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
	const struct dirent *e;

	if (d == NULL) {
		if (sfd >= 0)
			(void)close(sfd);
		return;
	}
	while ((e = readdir(d)) != NULL && *n < TTS_CACHE_SCAN_MAX) {
		size_t nl = strlen(e->d_name);
		struct stat st;

		if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (e->d_name[0] == '.') {
			if (nl > 4 && strcmp(e->d_name + nl - 4, ".tmp") == 0 &&
			    now - st.st_mtime > TTS_CACHE_TMP_AGE)
				(void)unlinkat(sfd, e->d_name, 0);
			continue;
		}
		if (nl != TTS_CACHE_KEY_LEN + strlen(TTS_CACHE_SUFFIX) ||
		    strcmp(e->d_name + TTS_CACHE_KEY_LEN, TTS_CACHE_SUFFIX) !=
			0)
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*ents = xreallocarray(*ents, *cap, sizeof(**ents));
		}
		/* Lengths checked above: "ab/" + key + suffix fits. */
		memcpy((*ents)[*n].name, shard, 2);
		(*ents)[*n].name[2] = '/';
		memcpy((*ents)[*n].name + 3, e->d_name, nl + 1);
		(*ents)[*n].mtime = st.st_mtime;
		(*ents)[*n].size = (unsigned long long)st.st_size;
		(*n)++;
	}
	(void)closedir(d);
}

/*
 * Remove entries unused for more than max_age_s seconds before now, then
 * the least recently used until at most max_bytes remain. Fill *st when
 * not NULL. Return 0, or -1 when the directory cannot be read.
 */
int
tts_cache_cleanup(struct tts_cache *c, long max_age_s,
    unsigned long long max_bytes, time_t now, struct tts_cache_stats *st)
{
	struct tts_cache_stats s = {0, 0, 0, 0, 0};
	struct tts_cache_entry *ents = NULL;
	size_t n = 0, cap = 0;
	int dfd;
	DIR *d;
	const struct dirent *e;

	if (st != NULL)
		*st = s;
	if (c == NULL)
		return -1;
	dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		log_warn("tts cache: cannot read %s", c->dir);
		if (dfd >= 0)
			(void)close(dfd);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (tts_cache_is_shard(e->d_name))
			tts_cache_scan_shard(
			    dfd, e->d_name, now, &ents, &n, &cap);
	s.files = n;
	if (n > 0)
		qsort(ents, n, sizeof(*ents), tts_cache_by_mtime);
	for (size_t i = 0; i < n; i++)
		s.bytes += ents[i].size;
	for (size_t i = 0; i < n; i++) {
		bool old = now - ents[i].mtime > max_age_s;

		if (!old && s.bytes <= max_bytes)
			break; /* sorted by age: the rest stay */
		if (unlinkat(dfd, ents[i].name, 0) < 0 && errno != ENOENT)
			continue;
		s.bytes -= ents[i].size;
		s.removed++;
		if (old)
			s.removed_by_age++;
		else
			s.removed_by_size++;
	}
	(void)closedir(d);
	free(ents);
	if (s.removed > 0)
		log_info("tts cache: removed %zu of %zu files (%zu unused for "
			 "%ld s, %zu over the size cap); %llu bytes left",
		    s.removed, s.files, s.removed_by_age, max_age_s,
		    s.removed_by_size, s.bytes);
	if (st != NULL)
		*st = s;
	return 0;
}
