/*
 * script.c: what the simulated caller says, from a call scenario
 * (tests/scenarios/NAME.json, format merkazia-scenario/1, docs/scenarios.md).
 *
 * Why: the caller, the OpenAI stand-in and a test must agree on one
 * script. This reads the scenario's caller (from), business (number) and
 * steps: a caller line ("say", "id", "wpm") is rendered with
 * audio_espeak_mulaw() at the line's rate, else caller.wpm, else the
 * default -- the very call tools/speak makes, so the stand-in recognises
 * the audio byte for byte; {"silence_ms": N} is mu-law 0xFF; line noise
 * {"noise_ms", "level_dbfs" (default -30), "seed" (default 1)} is
 * Gaussian white noise drawn as Python's random.Random(seed).gauss(0, 1)
 * does (MT19937, init_by_array, the polar pair with its cached second
 * value), scaled to level dBFS RMS of 32768, rounded half to even,
 * clipped and mu-law encoded. Keys this tool does not use (agent, text,
 * fail, note, analysis, ...) are the stand-ins' and are ignored.
 *
 * Besides the file: --say lines (script_say) and barge-in marks on lines
 * (script_barge_in, "ID[:MS]": the line starts MS ms after the agent's
 * reply became audible, while it plays, instead of after it).
 *
 * Limits: at most SCRIPT_MAX_STEPS steps, each pause or noise at most
 * SCRIPT_MAX_MS. Failures are logged once here and return -1.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "audio.h"
#include "log.h"
#include "mulaw.h"
#include "sim_caller.h"
#include "xmalloc.h"

#define SCRIPT_FORMAT	  "merkazia-scenario/1"
#define SCRIPT_MAX_STEPS  1000
#define SCRIPT_MAX_MS	  600000
#define SCRIPT_BARGE_MS	  300
#define SCRIPT_NOISE_DBFS (-30.0)

/* ---- Python's random.Random, as much of it as gauss() needs ---------- */

#define SCRIPT_MT_N 624
#define SCRIPT_MT_M 397

struct script_mt {
	uint32_t mt[SCRIPT_MT_N];
	int mti;
	bool have_next; /* gauss() keeps the second value of each pair */
	double next;
};

static void
script_mt_init(struct script_mt *r, uint32_t s)
{
	r->mt[0] = s;
	for (int i = 1; i < SCRIPT_MT_N; i++)
		r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) +
			   (uint32_t)i;
	r->mti = SCRIPT_MT_N;
}

/* Seed like random.Random(seed) for a non-negative integer seed. */
static void
script_mt_seed(struct script_mt *r, unsigned long seed)
{
	uint32_t key[2];
	int keylen = 1, i = 1, j = 0;

	key[0] = (uint32_t)(seed & 0xFFFFFFFFu);
	key[1] = (uint32_t)((uint64_t)seed >> 32);
	if (key[1] != 0)
		keylen = 2;
	script_mt_init(r, 19650218u);
	for (int k = SCRIPT_MT_N > keylen ? SCRIPT_MT_N : keylen; k > 0; k--) {
		r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) *
					   1664525u)) +
			   key[j] + (uint32_t)j;
		i++;
		j++;
		if (i >= SCRIPT_MT_N) {
			r->mt[0] = r->mt[SCRIPT_MT_N - 1];
			i = 1;
		}
		if (j >= keylen)
			j = 0;
	}
	for (int k = SCRIPT_MT_N - 1; k > 0; k--) {
		r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) *
					   1566083941u)) -
			   (uint32_t)i;
		i++;
		if (i >= SCRIPT_MT_N) {
			r->mt[0] = r->mt[SCRIPT_MT_N - 1];
			i = 1;
		}
	}
	r->mt[0] = 0x80000000u;
	r->have_next = false;
}

static uint32_t
script_mt_next(struct script_mt *r)
{
	static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
	uint32_t y;

	if (r->mti >= SCRIPT_MT_N) {
		int kk;

		for (kk = 0; kk < SCRIPT_MT_N - SCRIPT_MT_M; kk++) {
			y = (r->mt[kk] & 0x80000000u) |
			    (r->mt[kk + 1] & 0x7fffffffu);
			r->mt[kk] =
			    r->mt[kk + SCRIPT_MT_M] ^ (y >> 1) ^ mag01[y & 1u];
		}
		for (; kk < SCRIPT_MT_N - 1; kk++) {
			y = (r->mt[kk] & 0x80000000u) |
			    (r->mt[kk + 1] & 0x7fffffffu);
			r->mt[kk] = r->mt[kk + (SCRIPT_MT_M - SCRIPT_MT_N)] ^
				    (y >> 1) ^ mag01[y & 1u];
		}
		y = (r->mt[SCRIPT_MT_N - 1] & 0x80000000u) |
		    (r->mt[0] & 0x7fffffffu);
		r->mt[SCRIPT_MT_N - 1] =
		    r->mt[SCRIPT_MT_M - 1] ^ (y >> 1) ^ mag01[y & 1u];
		r->mti = 0;
	}
	y = r->mt[r->mti++];
	y ^= (y >> 11);
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= (y >> 18);
	return y;
}

/* random.random(): 53 random bits in [0, 1). */
static double
script_mt_random(struct script_mt *r)
{
	uint32_t a = script_mt_next(r) >> 5, b = script_mt_next(r) >> 6;

	return ((double)a * 67108864.0 + (double)b) *
	       (1.0 / 9007199254740992.0);
}

/* random.gauss(0, 1). */
static double
script_mt_gauss(struct script_mt *r)
{
	double x2pi, g2rad, z;

	if (r->have_next) {
		r->have_next = false;
		return r->next;
	}
	x2pi = script_mt_random(r) * 2.0 * M_PI;
	g2rad = sqrt(-2.0 * log(1.0 - script_mt_random(r)));
	z = cos(x2pi) * g2rad;
	r->next = sin(x2pi) * g2rad;
	r->have_next = true;
	return z;
}

/* Write n mu-law bytes of white noise at level_dbfs RMS from seed. */
void
script_noise(uint8_t *out, size_t n, double level_dbfs, unsigned long seed)
{
	struct script_mt *r = xmalloc(sizeof(*r));
	double amp = 32768.0 * pow(10.0, level_dbfs / 20.0);

	script_mt_seed(r, seed);
	for (size_t i = 0; i < n; i++) {
		double v = nearbyint(script_mt_gauss(r) * amp);

		if (v > 32767.0)
			v = 32767.0;
		if (v < -32768.0)
			v = -32768.0;
		out[i] = mulaw_encode((int16_t)v);
	}
	free(r);
}

/* ---- scenarios ------------------------------------------------------- */

void
script_free(struct script *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->steps[i].id);
		free(s->steps[i].say);
		free(s->steps[i].audio);
	}
	free(s->steps);
	free(s->name);
	free(s->from);
	free(s->to);
	memset(s, 0, sizeof(*s));
}

static struct script_step *
script_add(struct script *s, enum script_kind kind)
{
	struct script_step *st;

	s->steps = xreallocarray(s->steps, s->n + 1, sizeof(*s->steps));
	st = &s->steps[s->n++];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->barge_ms = -1;
	st->level_dbfs = SCRIPT_NOISE_DBFS;
	st->seed = 1;
	return st;
}

/* Read an integer member in [lo, hi] into *out (def when absent); return
 * 0 or -1. */
static int
script_int(json_t *obj, const char *key, long lo, long hi, long def, long *out)
{
	json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

/* Read one step object into s; return 0, or -1 with *why set. */
static int
script_step(struct script *s, json_t *o, long caller_wpm, const char **why)
{
	json_t *say = json_object_get(o, "say");
	json_t *sil = json_object_get(o, "silence_ms");
	json_t *noi = json_object_get(o, "noise_ms");
	struct script_step *st;
	long v;

	if (!json_is_object(o) ||
	    (say != NULL) + (sil != NULL) + (noi != NULL) != 1) {
		*why = "a step needs exactly one of say, silence_ms, noise_ms";
		return -1;
	}
	if (say != NULL) {
		const char *id = json_string_value(json_object_get(o, "id"));

		if (json_string_value(say) == NULL ||
		    json_string_length(say) == 0) {
			*why = "say must be a non-empty string";
			return -1;
		}
		if (script_int(o, "wpm", AUDIO_WPM_MIN, AUDIO_WPM_MAX,
			caller_wpm, &v) < 0) {
			*why = "wpm out of range";
			return -1;
		}
		st = script_add(s, SCRIPT_SAY);
		st->say = xstrdup(json_string_value(say));
		st->id = id != NULL ? xstrdup(id) : NULL;
		st->wpm = (int)v;
		return 0;
	}
	if (script_int(o, sil ? "silence_ms" : "noise_ms", 0, SCRIPT_MAX_MS, 0,
		&v) < 0) {
		*why = "silence_ms/noise_ms must be 0..600000";
		return -1;
	}
	st = script_add(s, sil ? SCRIPT_SILENCE : SCRIPT_NOISE);
	st->ms = (int)v;
	if (noi != NULL) {
		json_t *lvl = json_object_get(o, "level_dbfs");
		long seed;

		if (lvl != NULL &&
		    (!json_is_number(lvl) || json_number_value(lvl) > 0.0 ||
			json_number_value(lvl) < -120.0)) {
			*why = "level_dbfs must be a number -120..0";
			return -1;
		}
		if (lvl != NULL)
			st->level_dbfs = json_number_value(lvl);
		if (script_int(o, "seed", 0, 0x7FFFFFFFL, 1, &seed) < 0) {
			*why = "seed must be 0..2147483647";
			return -1;
		}
		st->seed = (unsigned long)seed;
	}
	return 0;
}

/*
 * Load the scenario file at path into *s (zeroed first; release with
 * script_free, also after a failure). Return 0 or -1 (logged).
 */
int
script_load(const char *path, struct script *s)
{
	json_error_t err;
	json_t *doc, *steps, *caller, *business;
	const char *fmt, *why = NULL;
	long wpm;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &err)) ==
	    NULL) {
		log_warnx("sim-caller: %s:%d: %s", path, err.line, err.text);
		return -1;
	}
	fmt = json_string_value(json_object_get(doc, "format"));
	caller = json_object_get(doc, "caller");
	business = json_object_get(doc, "business");
	steps = json_object_get(doc, "steps");
	if (fmt == NULL || strcmp(fmt, SCRIPT_FORMAT) != 0) {
		why = "format is not " SCRIPT_FORMAT;
		goto done;
	}
	if (!json_is_array(steps) ||
	    json_array_size(steps) > SCRIPT_MAX_STEPS) {
		why = "steps must be an array of at most 1000";
		goto done;
	}
	if (script_int(caller, "wpm", AUDIO_WPM_MIN, AUDIO_WPM_MAX,
		AUDIO_WPM_DEFAULT, &wpm) < 0) {
		why = "caller.wpm out of range";
		goto done;
	}
	if (json_string_value(json_object_get(doc, "name")) != NULL)
		s->name =
		    xstrdup(json_string_value(json_object_get(doc, "name")));
	if (json_string_value(json_object_get(caller, "from")) != NULL)
		s->from =
		    xstrdup(json_string_value(json_object_get(caller, "from")));
	if (json_string_value(json_object_get(business, "number")) != NULL)
		s->to = xstrdup(
		    json_string_value(json_object_get(business, "number")));
	for (size_t i = 0; i < json_array_size(steps); i++)
		if (script_step(s, json_array_get(steps, i), wpm, &why) < 0) {
			log_warnx("sim-caller: %s: step %zu: %s", path, i, why);
			why = NULL;
			goto done;
		}
	rc = 0;
done:
	if (why != NULL)
		log_warnx("sim-caller: %s: %s", path, why);
	json_decref(doc);
	return rc;
}

/* Append a caller line (id "sayN") spoken at wpm (0: default). */
void
script_say(struct script *s, const char *text, int wpm)
{
	struct script_step *st = script_add(s, SCRIPT_SAY);
	size_t nsay = 0;

	for (size_t i = 0; i < s->n; i++)
		nsay += s->steps[i].kind == SCRIPT_SAY;
	st->say = xstrdup(text);
	st->id = xasprintf("say%zu", nsay);
	st->wpm = wpm;
}

/* Mark the line named in spec ("ID" or "ID:MS") as a barge-in. Return 0,
 * or -1 (logged) when no line has that id or MS is bad. */
int
script_barge_in(struct script *s, const char *spec)
{
	const char *colon = strchr(spec, ':');
	size_t idlen = colon ? (size_t)(colon - spec) : strlen(spec);
	long ms = SCRIPT_BARGE_MS;

	if (colon != NULL) {
		char *end;

		ms = strtol(colon + 1, &end, 10);
		if (*end != '\0' || end == colon + 1 || ms < 0 ||
		    ms > SCRIPT_MAX_MS) {
			log_warnx("sim-caller: --barge-in %s: bad delay", spec);
			return -1;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		struct script_step *st = &s->steps[i];

		if (st->kind == SCRIPT_SAY && st->id != NULL &&
		    strlen(st->id) == idlen &&
		    memcmp(st->id, spec, idlen) == 0) {
			st->barge_ms = (int)ms;
			return 0;
		}
	}
	log_warnx(
	    "sim-caller: --barge-in %s: no caller line has that id", spec);
	return -1;
}

/* Write or read exactly len bytes on fd; 0 or -1. */
static int
script_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
script_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Render one line in a child process and read its audio back. espeak-ng
 * keeps state from one text to the next, so a line rendered after others
 * in one process differs a little from the same line rendered alone; the
 * transcription stand-in renders each line alone (tools/speak), and a
 * caller must send exactly that. A fresh child per line gives it. Return 0
 * or -1 (logged); *audio is the caller's to free.
 */
static int
script_render_fresh(const char *text, int wpm, uint8_t **audio, size_t *len)
{
	int fds[2];
	pid_t pid;
	size_t n = 0, got = 0;
	int status = 0;

	*audio = NULL;
	*len = 0;
	if (pipe(fds) < 0) {
		log_warn("sim-caller: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("sim-caller: fork");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		uint8_t *a = NULL;
		size_t l = 0;
		int rc = 1;

		close(fds[0]);
		if (audio_espeak_mulaw(text, wpm, &a, &l) == 0 &&
		    script_write_all(fds[1], &l, sizeof(l)) == 0 &&
		    script_write_all(fds[1], a, l) == 0)
			rc = 0;
		_exit(rc);
	}
	close(fds[1]);
	if (script_read_all(fds[0], &n, sizeof(n)) == 0 &&
	    n <= (size_t)AUDIO_ESPEAK_MAX_SECONDS * AUDIO_PHONE_RATE) {
		*audio = xmalloc(n ? n : 1);
		if (script_read_all(fds[0], *audio, n) == 0)
			got = n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		X_FREE(*audio);
		return -1;
	}
	*len = got;
	return 0;
}

/* Render every line with espeak-ng and every noise step. Return 0 or -1
 * (logged). */
int
script_render(struct script *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct script_step *st = &s->steps[i];

		if (st->kind == SCRIPT_NOISE) {
			st->len = (size_t)st->ms * 8;
			st->audio = xmalloc(st->len ? st->len : 1);
			script_noise(
			    st->audio, st->len, st->level_dbfs, st->seed);
			st->speech_end = st->len;
		}
		if (st->kind != SCRIPT_SAY)
			continue;
		if (script_render_fresh(
			st->say, st->wpm, &st->audio, &st->len) < 0) {
			log_warnx("sim-caller: cannot render line %zu (%s)", i,
			    st->id ? st->id : "no id");
			return -1;
		}
		/* Where speech ends: the end of the last audible frame
		 * (espeak-ng pads its output with silence). */
		st->speech_end = st->len;
		st->speech_start = st->len;
		for (size_t off = 0; off < st->len; off += SIM_FRAME_BYTES) {
			size_t n = st->len - off < SIM_FRAME_BYTES
				       ? st->len - off
				       : SIM_FRAME_BYTES;

			if (!player_frame_is_audible(st->audio + off, n))
				continue;
			st->speech_end = off + n;
			if (st->speech_start > off)
				st->speech_start = off;
		}
	}
	return 0;
}
