/*
 * vad_eval: how gateway/vad.c's detectors find Hebrew turns in line noise
 * (tests/bench/bench_vad.py builds and runs it; docs/decisions/0005-vad.md
 * records the figures).
 *
 * Why: the choice of WebRTC with an energy gate over WebRTC alone or
 * energy alone should rest on measured turns, not on taste. One program
 * of Hebrew speech rendered by espeak-ng (audio_espeak_pcm8k) with known
 * turns: silence, two sentences 1.5 s apart, a phone number dictated in
 * three groups (pauses 400 and 800 ms: ONE turn), a backchannel "כן", a
 * question, and a final 6 s of line noise alone. Each condition adds
 * seeded Gaussian line noise at an SNR (speech power over active frames
 * against noise power), or loud noise bursts of 40-300 ms in the pauses
 * (knocks, breath); each runs with several seeds. Per detector and
 * condition it prints: turns expected and found, turns found exactly
 * (one detected turn covers one expected turn), split and merged turns,
 * false turns (covering no speech), the delay of VAD_SPEECH_START after
 * the true onset, the error of the utterance's onset (its start plus the
 * pre-roll) and the delay of VAD_UTTERANCE_END after the true end.
 *
 * Usage: vad_eval [--smoke] [--json] [--mode 0..3]; a table on stdout
 * (--json adds one JSON line per row on stderr). --mode sets WebRTC's
 * aggressiveness (default 2); --smoke runs two conditions with one seed. Exit
 * 0, or 1 if the speech could not be rendered.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "gateway.h"
#include "mulaw.h"
#include "xmalloc.h"

#define RATE	 8000
#define MS(x)	 ((size_t)(x)*RATE / 1000)
#define TURNS	 8
#define DETECTED 64

struct span {
	size_t b, e; /* samples */
};

struct program {
	int16_t *pcm;
	size_t n, cap;
	struct span turn[TURNS];
	int nturns;
	double speech_power; /* mean square over active frames */
};

static void
put(struct program *p, const int16_t *x, size_t n)
{
	if (p->n + n > p->cap) {
		p->cap = (p->n + n) * 2;
		p->pcm = xreallocarray(p->pcm, p->cap, sizeof(*p->pcm));
	}
	if (x != NULL)
		memcpy(p->pcm + p->n, x, n * sizeof(*x));
	else
		memset(p->pcm + p->n, 0, n * sizeof(*x));
	p->n += n;
}

static double
frame_db(const int16_t *x)
{
	double e = 0;

	for (int i = 0; i < 160; i++)
		e += (double)x[i] * x[i];
	return 10.0 * log10(e / 160.0 + 1.0);
}

/* Say text; extend the current turn (or open one) to its speech. */
static int
say(struct program *p, const char *text, bool new_turn)
{
	int16_t *x;
	size_t n, b = SIZE_MAX, e = 0;

	if (audio_espeak_pcm8k(text, 0, &x, &n) != 0)
		return -1;
	for (size_t f = 0; f + 160 <= n; f += 160) {
		if (frame_db(x + f) < 40.0)
			continue;
		if (b == SIZE_MAX)
			b = f;
		e = f + 160;
	}
	if (new_turn)
		p->turn[p->nturns++].b = p->n + b;
	p->turn[p->nturns - 1].e = p->n + e;
	put(p, x, n);
	free(x);
	return 0;
}

static int
build(struct program *p)
{
	put(p, NULL, MS(2000));
	if (say(p, "שלום, אני רוצה לקבוע תור לראות את הדירה ביום שלישי",
		true) != 0)
		return -1;
	put(p, NULL, MS(1500));
	if (say(p, "והאם יש חניה בבניין או ברחוב", true) != 0)
		return -1;
	put(p, NULL, MS(1500));
	if (say(p, "אפס חמש שתיים", true) != 0)
		return -1;
	put(p, NULL, MS(400));
	if (say(p, "שלוש ארבע חמש", false) != 0)
		return -1;
	put(p, NULL, MS(800));
	if (say(p, "שש שבע שמונה תשע", false) != 0)
		return -1;
	put(p, NULL, MS(1500));
	if (say(p, "כן", true) != 0)
		return -1;
	put(p, NULL, MS(1500));
	if (say(p, "כמה עולה הדירה בחודש, ומתי אפשר להיכנס", true) != 0)
		return -1;
	put(p, NULL, MS(6000));
	{
		double sum = 0;
		size_t nf = 0;

		for (size_t f = 0; f + 160 <= p->n; f += 160) {
			if (frame_db(p->pcm + f) < 40.0)
				continue;
			for (size_t i = f; i < f + 160; i++)
				sum += (double)p->pcm[i] * p->pcm[i];
			nf++;
		}
		p->speech_power = sum / (double)(nf * 160);
	}
	return 0;
}

static uint64_t rng_state;

static double
uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double
gauss(void)
{
	return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static int16_t
clip(double x)
{
	return (int16_t)(x > 32767.0 ? 32767.0 : x < -32768.0 ? -32768.0 : x);
}

static bool
in_speech(const struct program *p, size_t at, size_t margin)
{
	for (int t = 0; t < p->nturns; t++)
		if (at + margin >= p->turn[t].b && at <= p->turn[t].e + margin)
			return true;
	return false;
}

/* The program with the condition's noise, as mu-law. */
static uint8_t *
degrade(const struct program *p, double snr_db, bool bursts, bool tones,
    uint64_t seed)
{
	int16_t *x = xmemdup(p->pcm, p->n * sizeof(*x));
	uint8_t *mu = xmalloc(p->n);

	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	if (snr_db < 100.0) {
		double rms = sqrt(p->speech_power / pow(10.0, snr_db / 10.0));

		for (size_t i = 0; i < p->n; i++)
			x[i] = clip(x[i] + rms * gauss());
	}
	if (bursts) {
		/* a burst every ~0.7 s, only in the pauses */
		for (size_t at = MS(300); at < p->n;
		     at += MS(500) + (size_t)(uniform() * (double)MS(400))) {
			size_t len =
			    MS(40) + (size_t)(uniform() * (double)MS(260));
			double rms = 1000.0 + uniform() * 5000.0;

			if (at + len > p->n || in_speech(p, at, MS(300)) ||
			    in_speech(p, at + len, MS(300)))
				continue;
			for (size_t i = at; i < at + len; i++)
				x[i] = clip(x[i] + rms * gauss() *
						       sin(3.14159265 *
							   (double)(i - at) /
							   (double)len));
		}
	}
	if (tones) {
		/* beeps and DTMF-like pairs of 150-500 ms in the pauses */
		static const double hz[][2] = {{400.0, 0.0}, {1000.0, 0.0},
		    {697.0, 1209.0}, {941.0, 1477.0}};
		int k = 0;

		for (size_t at = MS(300); at < p->n; at += MS(700)) {
			size_t len =
			    MS(150) + (size_t)(uniform() * (double)MS(350));
			const double *f = hz[k++ % 4];

			if (at + len > p->n || in_speech(p, at, MS(300)) ||
			    in_speech(p, at + len, MS(300)))
				continue;
			for (size_t i = at; i < at + len; i++) {
				double t = (double)(i - at) / RATE;

				x[i] = clip(
				    x[i] +
				    2000.0 *
					(sin(6.283185307179586 * f[0] * t) +
					    sin(6.283185307179586 * f[1] * t)));
			}
		}
	}
	mulaw_encode_buf(x, p->n, mu);
	free(x);
	return mu;
}

static int eval_mode = 2; /* WebRTC aggressiveness, --mode */

struct score {
	int runs, expected, found, exact, split, merged, falses;
	double start_sum, onset_err_sum, end_sum;
	int nstart, nend;
	long start_max, end_max;
};

static long
to_ms(long samples)
{
	return samples * 1000 / RATE;
}

static void
evaluate(const struct program *p, const uint8_t *mu, enum vad_detector det,
    struct score *s)
{
	struct vad_params prm;
	struct vad *v;
	struct span d[DETECTED];
	size_t start_at[DETECTED];
	int nd = 0;
	size_t pending_start = 0;

	vad_params_default(&prm);
	prm.mode = eval_mode;
	v = vad_new(&prm);
	if (vad_set_detector(v, det) != 0) {
		fprintf(stderr, "vad_eval: detector %d unavailable\n", det);
		exit(1);
	}
	for (size_t off = 0; off + 160 <= p->n; off += 160) {
		enum vad_event e = vad_feed(v, mu + off, 160);
		size_t at = off + 160, len;

		if (e == VAD_SPEECH_START)
			pending_start = at;
		if (e == VAD_UTTERANCE_END && nd < DETECTED) {
			(void)vad_utterance(v, &len);
			d[nd].e = at;
			d[nd].b = at - len + MS(prm.preroll_ms);
			start_at[nd] = pending_start;
			nd++;
		}
	}
	vad_free(v);

	s->runs++;
	s->expected += p->nturns;
	s->found += nd;
	for (int i = 0; i < nd; i++) {
		int cover = 0;

		for (int t = 0; t < p->nturns; t++)
			if (d[i].b < p->turn[t].e && d[i].e > p->turn[t].b)
				cover++;
		if (cover == 0)
			s->falses++;
		if (cover > 1)
			s->merged++;
	}
	for (int t = 0; t < p->nturns; t++) {
		int hits = 0, hit = -1;

		for (int i = 0; i < nd; i++)
			if (d[i].b < p->turn[t].e && d[i].e > p->turn[t].b) {
				hits++;
				hit = i;
			}
		if (hits > 1)
			s->split++;
		if (hits != 1)
			continue;
		/* exact: that detected turn covers this turn only */
		{
			int cover = 0;

			for (int u = 0; u < p->nturns; u++)
				if (d[hit].b < p->turn[u].e &&
				    d[hit].e > p->turn[u].b)
					cover++;
			if (cover != 1)
				continue;
		}
		{
			long st =
			    to_ms((long)start_at[hit] - (long)p->turn[t].b);
			long en = to_ms((long)d[hit].e - (long)p->turn[t].e);
			long on = to_ms((long)d[hit].b - (long)p->turn[t].b);

			s->exact++;
			s->start_sum += (double)st;
			s->onset_err_sum += (double)labs(on);
			s->end_sum += (double)en;
			s->nstart++;
			s->nend++;
			if (st > s->start_max)
				s->start_max = st;
			if (en > s->end_max)
				s->end_max = en;
		}
	}
}

static const char *const det_names[] = {"webrtc+gate", "webrtc", "energy"};

int
main(int argc, char **argv)
{
	struct program p = {0};
	bool smoke = false, json = false;
	struct {
		const char *name;
		double snr;
		bool bursts, tones;
	} conds[] = {
	    {"clean", 1000.0, false, false},
	    {"snr30", 30.0, false, false},
	    {"snr20", 20.0, false, false},
	    {"snr15", 15.0, false, false},
	    {"snr10", 10.0, false, false},
	    {"snr5", 5.0, false, false},
	    {"snr0", 0.0, false, false},
	    {"bursts", 1000.0, true, false},
	    {"bursts+snr20", 20.0, true, false},
	    {"tones", 1000.0, false, true},
	    {"tones+snr20", 20.0, false, true},
	};
	int nconds = (int)(sizeof(conds) / sizeof(conds[0]));
	int seeds = 5;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0)
			smoke = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			eval_mode = atoi(argv[++i]);
	}
	if (smoke) {
		nconds = 2;
		seeds = 1;
	}
	if (build(&p) != 0) {
		fprintf(stderr, "vad_eval: cannot render speech\n");
		return 1;
	}
	printf("program: %.1f s, %d turns, speech RMS %.0f; WebRTC mode %d; "
	       "%d seeds\n",
	    (double)p.n / RATE, p.nturns, sqrt(p.speech_power), eval_mode,
	    seeds);
	printf("%-13s %-12s %4s %5s %5s %5s %6s %5s %8s %8s %8s %8s %8s\n",
	    "condition", "detector", "exp", "found", "exact", "split", "merged",
	    "false", "start_ms", "start_mx", "onset_er", "end_ms", "end_max");
	for (int c = 0; c < nconds; c++) {
		for (int dt = 0; dt < 3; dt++) {
			struct score s = {0};

			for (int seed = 1; seed <= seeds; seed++) {
				uint8_t *mu =
				    degrade(&p, conds[c].snr, conds[c].bursts,
					conds[c].tones, (uint64_t)seed);

				evaluate(&p, mu, (enum vad_detector)dt, &s);
				free(mu);
			}
			printf("%-13s %-12s %4d %5d %5d %5d %6d %5d %8.0f "
			       "%8ld %8.0f %8.0f %8ld\n",
			    conds[c].name, det_names[dt], s.expected, s.found,
			    s.exact, s.split, s.merged, s.falses,
			    s.nstart ? s.start_sum / s.nstart : -1.0,
			    s.start_max,
			    s.nstart ? s.onset_err_sum / s.nstart : -1.0,
			    s.nend ? s.end_sum / s.nend : -1.0, s.end_max);
			if (json)
				fprintf(stderr,
				    "{\"condition\":\"%s\",\"detector\":\"%s\","
				    "\"expected\":%d,\"found\":%d,\"exact\":%d,"
				    "\"split\":%d,\"merged\":%d,\"false\":%d}"
				    "\n",
				    conds[c].name, det_names[dt], s.expected,
				    s.found, s.exact, s.split, s.merged,
				    s.falses);
		}
	}
	free(p.pcm);
	audio_shutdown();
	return 0;
}
