/*
 * Unit tests for tts-worker/cache.c in a temporary directory: keys (64 hex
 * digits; voice, rate, text each change them; stable across calls), a put
 * then get round trip (empty audio included), a miss, a broken or
 * truncated file read as a miss and removed, no temporary file left after
 * a put, and cleanup by age (mtime set back), by the size cap (least
 * recently used first; a get counts as a use) and of stale temporary
 * files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

#include <cmocka.h>

#include "../../tts-worker/tts.h"
#include "xmalloc.h"

struct fixture {
	char dir[64];
	struct tts_cache *c;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *sub;

	snprintf(f->dir, sizeof(f->dir), "/tmp/ttscache.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	/* The cache makes missing parents itself. */
	sub = xasprintf("%s/a/b", f->dir);
	f->c = tts_cache_new(sub);
	free(sub);
	*state = f;
	return f->c != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf %s", f->dir);

	(void)system(cmd);
	free(cmd);
	tts_cache_free(f->c);
	free(f);
	return 0;
}

static void
key_of(const char *voice, double rate, const char *text, char *key)
{
	tts_cache_key(voice, rate, text, strlen(text), key);
}

static void
test_keys(void **state)
{
	char a[TTS_CACHE_KEY_LEN + 1], b[TTS_CACHE_KEY_LEN + 1];

	(void)state;
	key_of("he-IL-Wavenet-A", 1.0, "שלום", a);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	key_of("he-IL-Wavenet-A", 1.0, "שלום", b);
	assert_string_equal(a, b);
	key_of("he-IL-Wavenet-B", 1.0, "שלום", b);
	assert_string_not_equal(a, b);
	key_of("he-IL-Wavenet-A", 1.1, "שלום", b);
	assert_string_not_equal(a, b);
	key_of("he-IL-Wavenet-A", 1.0, "שלום!", b);
	assert_string_not_equal(a, b);
	/* The fields cannot run into each other. */
	key_of("ab", 1.0, "c", a);
	key_of("a", 1.0, "bc", b);
	assert_string_not_equal(a, b);
	/* Rates equal to two decimals share audio. */
	key_of("v", 1.0, "t", a);
	key_of("v", 1.001, "t", b);
	assert_string_equal(a, b);
}

static char *
entry_path(const struct fixture *f, const char *key)
{
	return xasprintf("%s/%.2s/%s.ulaw", tts_cache_dir(f->c), key, key);
}

static size_t
count_files(const char *dir)
{
	char *cmd = xasprintf("find %s -type f | wc -l", dir);
	FILE *p = popen(cmd, "r");
	unsigned long n = 0;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%lu", &n), 1);
	pclose(p);
	free(cmd);
	return n;
}

static void
test_put_get(void **state)
{
	struct fixture *f = *state;
	char key[TTS_CACHE_KEY_LEN + 1], other[TTS_CACHE_KEY_LEN + 1];
	uint8_t audio[1000], *got;
	size_t n;

	for (size_t i = 0; i < sizeof(audio); i++)
		audio[i] = (uint8_t)(i * 7);
	key_of("v", 1.0, "hello", key);
	key_of("v", 1.0, "other", other);
	assert_int_equal(tts_cache_get(f->c, key, &got, &n), -1);
	assert_null(got);
	assert_int_equal(tts_cache_put(f->c, key, audio, sizeof(audio)), 0);
	assert_int_equal(tts_cache_get(f->c, key, &got, &n), 0);
	assert_int_equal(n, sizeof(audio));
	assert_memory_equal(got, audio, n);
	free(got);
	assert_int_equal(tts_cache_get(f->c, other, &got, &n), -1);
	/* Empty audio is a hit with no bytes. */
	assert_int_equal(tts_cache_put(f->c, other, audio, 0), 0);
	assert_int_equal(tts_cache_get(f->c, other, &got, &n), 0);
	assert_non_null(got);
	assert_int_equal(n, 0);
	free(got);
	/* Overwrite. */
	assert_int_equal(tts_cache_put(f->c, key, audio + 1, 10), 0);
	assert_int_equal(tts_cache_get(f->c, key, &got, &n), 0);
	assert_int_equal(n, 10);
	free(got);
	/* No temporary file left behind. */
	assert_int_equal(count_files(tts_cache_dir(f->c)), 2);
	/* Bad keys are never paths. */
	assert_int_equal(tts_cache_get(f->c, "../../etc/passwd", &got, &n), -1);
	assert_int_equal(tts_cache_put(f->c, "x", audio, 1), -1);
	/* No cache: always a miss. */
	assert_int_equal(tts_cache_get(NULL, key, &got, &n), -1);
}

static void
test_broken_files(void **state)
{
	struct fixture *f = *state;
	char key[TTS_CACHE_KEY_LEN + 1];
	uint8_t audio[100] = {1, 2, 3}, *got;
	size_t n;
	char *path;

	key_of("v", 1.0, "broken", key);
	assert_int_equal(tts_cache_put(f->c, key, audio, sizeof(audio)), 0);
	path = entry_path(f, key);
	/* Truncated (a torn write): a miss, and the file is gone. */
	assert_int_equal(truncate(path, 50), 0);
	assert_int_equal(tts_cache_get(f->c, key, &got, &n), -1);
	assert_int_equal(access(path, F_OK), -1);
	/* Not ours at all. */
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs("garbage that is long enough", fp);
		fclose(fp);
	}
	assert_int_equal(tts_cache_get(f->c, key, &got, &n), -1);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

static void
set_age(const struct fixture *f, const char *key, time_t when)
{
	char *path = entry_path(f, key);
	struct timespec ts[2] = {{when, 0}, {when, 0}};

	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	free(path);
}

static bool
exists(const struct fixture *f, const char *key)
{
	char *path = entry_path(f, key);
	bool ok = access(path, F_OK) == 0;

	free(path);
	return ok;
}

static void
test_cleanup_age(void **state)
{
	struct fixture *f = *state;
	char k1[TTS_CACHE_KEY_LEN + 1], k2[TTS_CACHE_KEY_LEN + 1];
	uint8_t audio[100] = {0};
	struct tts_cache_stats st;
	time_t now = time(NULL);
	char *tmp;

	key_of("v", 1.0, "old", k1);
	key_of("v", 1.0, "new", k2);
	assert_int_equal(tts_cache_put(f->c, k1, audio, sizeof(audio)), 0);
	assert_int_equal(tts_cache_put(f->c, k2, audio, sizeof(audio)), 0);
	set_age(f, k1, now - 1000);
	/* A stale temporary file (a crash mid-write) and a fresh one. */
	tmp = xasprintf("%s/%.2s/.%s.1.0.tmp", tts_cache_dir(f->c), k2, k2);
	assert_int_equal(tts_cache_put(f->c, k2, audio, 1), 0);
	{
		FILE *fp = fopen(tmp, "w");
		struct timespec ts[2] = {{now - 7200, 0}, {now - 7200, 0}};

		assert_non_null(fp);
		fclose(fp);
		assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
	}
	assert_int_equal(tts_cache_cleanup(f->c, 500, 1ULL << 40, now, &st), 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.removed_by_age, 1);
	assert_false(exists(f, k1));
	assert_true(exists(f, k2));
	assert_int_equal(access(tmp, F_OK), -1);
	free(tmp);
	/* A get makes an old entry young again. */
	set_age(f, k2, now - 1000);
	{
		uint8_t *got;
		size_t n;

		assert_int_equal(tts_cache_get(f->c, k2, &got, &n), 0);
		free(got);
	}
	assert_int_equal(
	    tts_cache_cleanup(f->c, 500, 1ULL << 40, time(NULL), &st), 0);
	assert_true(exists(f, k2));
}

static void
test_cleanup_size_cap(void **state)
{
	struct fixture *f = *state;
	char keys[6][TTS_CACHE_KEY_LEN + 1];
	uint8_t audio[1000] = {0};
	struct tts_cache_stats st;
	time_t now = time(NULL);

	for (int i = 0; i < 6; i++) {
		char text[16];

		snprintf(text, sizeof(text), "s%d", i);
		key_of("v", 1.0, text, keys[i]);
		assert_int_equal(
		    tts_cache_put(f->c, keys[i], audio, sizeof(audio)), 0);
		set_age(f, keys[i], now - 600 + i * 10); /* 0 is the oldest */
	}
	/* Each file is 1012 bytes: a 3100-byte cap keeps the three newest. */
	assert_int_equal(tts_cache_cleanup(f->c, 3600, 3100, now, &st), 0);
	assert_int_equal(st.files, 6);
	assert_int_equal(st.removed_by_size, 3);
	assert_int_equal(st.removed_by_age, 0);
	assert_true(st.bytes <= 3100);
	for (int i = 0; i < 6; i++)
		assert_int_equal(exists(f, keys[i]), i >= 3);
	/* Under the cap nothing more goes. */
	assert_int_equal(tts_cache_cleanup(f->c, 3600, 3100, now, &st), 0);
	assert_int_equal(st.removed, 0);
	assert_int_equal(st.files, 3);
}

static void
test_unusable_dir(void **state)
{
	(void)state;
	assert_null(tts_cache_new("/proc/no/such/dir"));
	assert_null(tts_cache_new(""));
	assert_int_equal(tts_cache_cleanup(NULL, 1, 1, 0, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cleanup_age, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cleanup_size_cap, setup, teardown),
	    cmocka_unit_test(test_unusable_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
