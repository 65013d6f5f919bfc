/*
 * Voice activity and end of turn for one call's inbound audio.
 *
 * Why here: audio flows as a stream only inside the gateway (design.md);
 * what leaves for the stt-worker is one whole utterance. This file decides
 * where a caller's turn begins and ends. No public turn model covers
 * Hebrew, so end of turn is silence based, and adaptive: a caller who
 * dictates a phone number in groups ("אפס חמש שתיים... שלוש ארבע...")
 * pauses between short bursts, so after a run of short bursts the silence
 * that ends a turn grows from hangover_ms to hangover_long_ms and the whole
 * number stays one turn.
 *
 * Per 20 ms frame (160 mu-law bytes decoded to PCM16 at 8 kHz) a frame is
 * speech when WebRTC's detector says so AND its energy clears a gate
 * GATE_MARGIN_DB above a tracked noise floor (and GATE_MIN_DB in absolute
 * terms): WebRTC alone calls steady line noise speech now and then, energy
 * alone calls every loud noise speech; docs/decisions/0005-vad.md has the
 * figures. The floor is the minimum frame energy of the last NOISE_BLOCKS
 * blocks of NOISE_BLOCK_FRAMES frames (2.56 s, "minimum statistics"), so
 * it follows steady noise up and down and never learns speech as noise:
 * speech always has quieter gaps within 2.5 s.
 *
 * States: silent; onset (ONSET_K of the last ONSET_N frames were speech);
 * turn, once the onset holds min_speech_ms of speech (VAD_SPEECH_START). An
 * onset that falls silent for BURST_GAP_FRAMES before then was a click or a
 * cough and is dropped without an event. A turn ends (VAD_UTTERANCE_END)
 * after the hangover of silence, or when it is max_utterance_ms long. Inside
 * a turn a frame counts as speech only with one of its two predecessors
 * (a lone blip in the hangover does not prolong a turn). The utterance is
 * the pre-roll (preroll_ms before the onset, so the first syllable is kept),
 * the speech and the hangover's silence; no audio is ever in two utterances
 * (the pre-roll of a turn that follows a cut one starts where that ended).
 *
 * Events: every VAD_SPEECH_START is followed by exactly one
 * VAD_UTTERANCE_END. vad_feed stops at the first event and keeps the rest
 * of its input for the next call (vad_feed(v, NULL, 0) works through it):
 * so no event is ever lost, whatever the chunking. Twilio sends 160-byte
 * frames; other sizes are buffered into frames.
 *
 * Pure: no clock (time is counted in frames), no sockets, no logging, so it
 * is unit-tested and fuzzed (tests/fuzz/fuzz_vad.c). The one user of
 * libwebrtc_audio_processing; Debian installs no header for it, so its C
 * prototypes are declared here (shared/pitfalls.md). When WebRTC cannot be
 * created the energy gate decides alone.
 *
 * Memory: 8 bytes per ms of preroll_ms + max_utterance_ms per call (15.2 s
 * of 8 kHz mu-law, 122 kB, with the defaults), allocated once, plus
 * WebRTC's state and any input kept for the next feed.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "mulaw.h"
#include "xmalloc.h"

/* libwebrtc_audio_processing (Debian 12), no installed header. */
struct WebRtcVadInst;
struct WebRtcVadInst *WebRtcVad_Create(void);
int WebRtcVad_Init(struct WebRtcVadInst *inst);
int WebRtcVad_set_mode(struct WebRtcVadInst *inst, int mode);
void WebRtcVad_Free(struct WebRtcVadInst *inst);
int WebRtcVad_Process(
    struct WebRtcVadInst *inst, int rate, const int16_t *frame, size_t len);

#define VAD_RATE 8000
/* Onset: ONSET_K of the last ONSET_N frames were speech. */
#define ONSET_N 4
#define ONSET_K 3
/* A pause at least this long (200 ms) separates two bursts of speech. */
#define BURST_GAP_FRAMES 10
/* A burst at most this long (2 s) is short: a group of digits. */
#define SHORT_BURST_FRAMES 100
/* Short bursts in a row (the one just ended included) that make a run. */
#define DICTATION_RUN 2
/* Noise floor: minimum over NOISE_BLOCKS blocks of NOISE_BLOCK_FRAMES. */
#define NOISE_BLOCKS	   8
#define NOISE_BLOCK_FRAMES 16
#define GATE_MARGIN_DB	   6.0	/* to begin a turn */
#define GATE_HOLD_DB	   3.0	/* to go on inside one */
#define GATE_MIN_DB	   30.0 /* RMS 30 of 32767: quieter than any voice */

enum vad_state {
	VAD_SILENT,
	VAD_ONSET, /* speech began; not yet min_speech_ms of it */
	VAD_TURN,  /* VAD_SPEECH_START sent */
};

struct vad {
	struct vad_params p;
	/* the parameters in frames */
	long hang, hang_long, min_speech, max_frames, preroll;
	struct WebRtcVadInst *webrtc; /* NULL: the energy gate alone */
	enum vad_detector det;
	/* input not yet worked through */
	uint8_t *in;
	size_t in_len, in_cap;
	/* the last ring_frames frames, for the pre-roll */
	uint8_t *ring;
	long ring_frames;
	long frame;	/* frames worked through so far */
	long min_start; /* first frame an utterance may include */
	/* noise floor */
	double nf_block[NOISE_BLOCKS];
	int nf_nblocks, nf_next, nf_count;
	double nf_cur;
	double floor_db;
	unsigned int hist; /* speech decisions, bit 0 the latest frame */
	enum vad_state state;
	long onset;	  /* first speech frame of the onset or turn */
	long last_speech; /* last frame counted as speech */
	long burst_start; /* first frame of the current burst */
	int short_run;	  /* short bursts in a row before the current */
	long speech_frames;
	/* energy of the speech frames of the onset or turn (dB), for
	 * vad_speech_spread_db; reset by a silent non-speech frame */
	long en_n;
	double en_sum, en_sum2;
	/* the utterance being collected, or the one just ended */
	uint8_t *utt;
	size_t utt_len, utt_cap;
	bool done; /* the last feed returned VAD_UTTERANCE_END */
};

static const char *const vad_event_names[] = {
    "none",
    "speech_start",
    "utterance_end",
};

const char *
vad_event_name(enum vad_event e)
{
	if ((unsigned)e >= sizeof(vad_event_names) / sizeof(vad_event_names[0]))
		return "?";
	return vad_event_names[e];
}

void
vad_params_default(struct vad_params *p)
{
	p->hangover_ms = 600;
	p->hangover_long_ms = 1200;
	p->min_speech_ms = 120;
	p->max_utterance_ms = 15000;
	p->preroll_ms = 200;
	p->mode = 2;
}

static int
vad_clamp(int x, int lo, int hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Milliseconds to frames, rounded up. */
static long
vad_frames(int ms)
{
	return ((long)ms + VAD_FRAME_MS - 1) / VAD_FRAME_MS;
}

struct vad *
vad_new(const struct vad_params *p)
{
	struct vad *v = xcalloc(1, sizeof(*v));

	if (p != NULL)
		v->p = *p;
	else
		vad_params_default(&v->p);
	v->p.hangover_ms = vad_clamp(v->p.hangover_ms, VAD_FRAME_MS, 10000);
	v->p.hangover_long_ms =
	    vad_clamp(v->p.hangover_long_ms, v->p.hangover_ms, 20000);
	v->p.min_speech_ms = vad_clamp(v->p.min_speech_ms, 0, 5000);
	v->p.max_utterance_ms = vad_clamp(v->p.max_utterance_ms,
	    v->p.min_speech_ms + 2 * VAD_FRAME_MS, 120000);
	v->p.preroll_ms = vad_clamp(v->p.preroll_ms, 0, 2000);
	v->p.mode = vad_clamp(v->p.mode, 0, 3);
	v->hang = vad_frames(v->p.hangover_ms);
	v->hang_long = vad_frames(v->p.hangover_long_ms);
	v->min_speech = vad_frames(v->p.min_speech_ms);
	v->max_frames = vad_frames(v->p.max_utterance_ms);
	v->preroll = vad_frames(v->p.preroll_ms);

	v->webrtc = WebRtcVad_Create();
	if (v->webrtc != NULL &&
	    (WebRtcVad_Init(v->webrtc) != 0 ||
		WebRtcVad_set_mode(v->webrtc, v->p.mode) != 0)) {
		WebRtcVad_Free(v->webrtc);
		v->webrtc = NULL;
	}
	v->det = VAD_DETECT_BOTH;
	v->in_cap = (size_t)4 * VAD_FRAME_BYTES;
	v->in = xmalloc(v->in_cap);
	v->ring_frames = v->preroll + ONSET_N;
	v->ring = xmalloc((size_t)v->ring_frames * VAD_FRAME_BYTES);
	v->utt_cap = (size_t)(v->preroll + v->max_frames) * VAD_FRAME_BYTES;
	v->utt = xmalloc(v->utt_cap);
	v->state = VAD_SILENT;
	return v;
}

void
vad_free(struct vad *v)
{
	if (v == NULL)
		return;
	if (v->webrtc != NULL)
		WebRtcVad_Free(v->webrtc);
	free(v->in);
	free(v->ring);
	free(v->utt);
	free(v);
}

int
vad_set_detector(struct vad *v, enum vad_detector d)
{
	if (d != VAD_DETECT_BOTH && d != VAD_DETECT_WEBRTC &&
	    d != VAD_DETECT_ENERGY)
		return -1;
	if (d == VAD_DETECT_WEBRTC && v->webrtc == NULL)
		return -1;
	v->det = d;
	return 0;
}

/* Return the energy of a frame in dB over one LSB squared. */
static double
vad_energy_db(const int16_t *pcm, size_t n)
{
	int64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (int64_t)pcm[i] * pcm[i];
	return 10.0 * log10((double)sum / (double)n + 1.0);
}

/* Note a frame's energy and update the noise floor. */
static void
vad_noise_note(struct vad *v, double db)
{
	double fl;

	if (v->nf_count == 0 || db < v->nf_cur)
		v->nf_cur = db;
	if (++v->nf_count == NOISE_BLOCK_FRAMES) {
		v->nf_block[v->nf_next] = v->nf_cur;
		v->nf_next = (v->nf_next + 1) % NOISE_BLOCKS;
		if (v->nf_nblocks < NOISE_BLOCKS)
			v->nf_nblocks++;
		v->nf_count = 0;
	}
	fl = v->nf_cur; /* the current block always holds a frame here */
	for (int i = 0; i < v->nf_nblocks; i++)
		if (v->nf_block[i] < fl)
			fl = v->nf_block[i];
	v->floor_db = fl;
}

/* Decide whether one frame is speech, for the chosen detector. */
static bool
vad_decide(struct vad *v, const int16_t *pcm, double *db_out)
{
	double db = vad_energy_db(pcm, VAD_FRAME_BYTES), margin;
	bool loud, voiced = true;

	*db_out = db;
	vad_noise_note(v, db);
	margin = v->state == VAD_SILENT ? GATE_MARGIN_DB : GATE_HOLD_DB;
	loud = db >= GATE_MIN_DB && db >= v->floor_db + margin;
	if (v->det != VAD_DETECT_ENERGY && v->webrtc != NULL)
		voiced = WebRtcVad_Process(
			     v->webrtc, VAD_RATE, pcm, VAD_FRAME_BYTES) == 1;
	switch (v->det) {
	case VAD_DETECT_WEBRTC:
		return voiced;
	case VAD_DETECT_ENERGY:
		return loud;
	case VAD_DETECT_BOTH:
		break;
	}
	return voiced && loud;
}

static int
vad_popcount(unsigned int x)
{
	int n = 0;

	for (; x != 0; x &= x - 1)
		n++;
	return n;
}

static void
vad_utt_append(struct vad *v, const uint8_t *frame)
{
	if (v->utt_len + VAD_FRAME_BYTES > v->utt_cap)
		return; /* cannot happen: turns are cut at max_frames */
	memcpy(v->utt + v->utt_len, frame, VAD_FRAME_BYTES);
	v->utt_len += VAD_FRAME_BYTES;
}

/* Begin an onset whose first speech frame is `onset`, the pre-roll from the
 * ring; the current frame is in the ring already. */
static void
vad_begin(struct vad *v, long onset)
{
	long first = onset - v->preroll;

	if (first < v->min_start)
		first = v->min_start;
	if (first < v->frame - v->ring_frames + 1)
		first = v->frame - v->ring_frames + 1;
	v->utt_len = 0;
	for (long f = first; f <= v->frame; f++)
		vad_utt_append(v,
		    v->ring + (size_t)(f % v->ring_frames) * VAD_FRAME_BYTES);
	v->state = VAD_ONSET;
	v->onset = onset;
	v->burst_start = onset;
	v->short_run = 0;
}

static void
vad_reset_turn(struct vad *v)
{
	v->state = VAD_SILENT;
	v->speech_frames = 0;
	v->hist = 0;
	v->en_n = 0;
	v->en_sum = v->en_sum2 = 0;
}

/* The silence that ends the turn now: long after a run of short bursts. */
static long
vad_hangover(const struct vad *v)
{
	long burst = v->last_speech - v->burst_start + 1;
	int run = burst <= SHORT_BURST_FRAMES ? v->short_run + 1 : 0;

	return run >= DICTATION_RUN ? v->hang_long : v->hang;
}

/* Work through one frame of 160 mu-law bytes. */
static enum vad_event
vad_frame(struct vad *v, const uint8_t *frame)
{
	int16_t pcm[VAD_FRAME_BYTES];
	unsigned int win = (1u << ONSET_N) - 1;
	enum vad_event ev = VAD_NONE;
	bool speech;
	long elapsed, silence;
	double db;

	mulaw_decode_buf(frame, VAD_FRAME_BYTES, pcm);
	speech = vad_decide(v, pcm, &db);
	if (speech) {
		v->en_n++;
		v->en_sum += db;
		v->en_sum2 += db * db;
	} else if (v->state == VAD_SILENT) {
		v->en_n = 0;
		v->en_sum = v->en_sum2 = 0;
	}
	v->hist = ((v->hist << 1) | (speech ? 1u : 0u)) & 0xffu;
	memcpy(v->ring + (size_t)(v->frame % v->ring_frames) * VAD_FRAME_BYTES,
	    frame, VAD_FRAME_BYTES);

	if (v->state == VAD_SILENT) {
		int b;

		if (vad_popcount(v->hist & win) < ONSET_K)
			goto out;
		/* the onset is the oldest speech frame of the window */
		for (b = ONSET_N - 1; b > 0 && !(v->hist & (1u << b)); b--)
			;
		vad_begin(v, v->frame - b);
		v->speech_frames = vad_popcount(v->hist & win);
		for (b = 0; b < ONSET_N - 1 && !(v->hist & (1u << b)); b++)
			;
		v->last_speech = v->frame - b;
	} else {
		vad_utt_append(v, frame);
		if (speech && vad_popcount(v->hist & 7u) >= 2) {
			if (v->frame - v->last_speech - 1 >= BURST_GAP_FRAMES) {
				long len = v->last_speech - v->burst_start + 1;

				v->short_run = len <= SHORT_BURST_FRAMES
						   ? v->short_run + 1
						   : 0;
				v->burst_start = v->frame;
			}
			v->last_speech = v->frame;
			v->speech_frames++;
		}
	}

	elapsed = v->frame - v->onset + 1;
	silence = v->frame - v->last_speech;
	if (v->state == VAD_ONSET) {
		if (v->speech_frames >= v->min_speech) {
			v->state = VAD_TURN;
			ev = VAD_SPEECH_START;
		} else if (silence >= BURST_GAP_FRAMES ||
			   elapsed >= v->max_frames) {
			vad_reset_turn(v); /* a click, a cough */
			v->utt_len = 0;
		}
	} else if (v->state == VAD_TURN) {
		if (elapsed >= v->max_frames || silence >= vad_hangover(v)) {
			vad_reset_turn(v);
			v->min_start = v->frame + 1;
			ev = VAD_UTTERANCE_END;
		}
	}
out:
	v->frame++;
	return ev;
}

enum vad_event
vad_feed(struct vad *v, const uint8_t *mulaw, size_t n)
{
	enum vad_event ev = VAD_NONE;
	size_t off = 0;

	if (v->done) {
		v->done = false;
		v->utt_len = 0;
	}
	if (mulaw != NULL && n > 0) {
		if (n > v->in_cap - v->in_len) {
			size_t cap = v->in_len + n;

			if (cap < 2 * v->in_cap)
				cap = 2 * v->in_cap;

			v->in = xreallocarray(v->in, 1, cap);
			v->in_cap = cap;
		}
		memcpy(v->in + v->in_len, mulaw, n);
		v->in_len += n;
	}
	while (ev == VAD_NONE && v->in_len - off >= VAD_FRAME_BYTES) {
		ev = vad_frame(v, v->in + off);
		off += VAD_FRAME_BYTES;
	}
	if (off > 0) {
		memmove(v->in, v->in + off, v->in_len - off);
		v->in_len -= off;
	}
	if (ev == VAD_UTTERANCE_END)
		v->done = true;
	return ev;
}

const uint8_t *
vad_utterance(const struct vad *v, size_t *len)
{
	if (!v->done) {
		*len = 0;
		return NULL;
	}
	*len = v->utt_len;
	return v->utt;
}

int
vad_speech_ms(const struct vad *v)
{
	if (v->state == VAD_SILENT)
		return 0;
	return (int)(v->speech_frames * VAD_FRAME_MS);
}

/*
 * Return how long the caller has been silent inside the current onset or
 * turn (since its last speech frame), 0 outside one: barge-in (bargein.c)
 * tells a burst's end by it.
 */
int
vad_silence_ms(const struct vad *v)
{
	long f;

	if (v->state == VAD_SILENT)
		return 0;
	f = v->frame - 1 - v->last_speech;
	return f > 0 ? (int)(f * VAD_FRAME_MS) : 0;
}

/*
 * Return the spread (standard deviation, dB) of the energy of the speech
 * frames of the current onset or turn: syllables make speech's energy
 * move by several dB from frame to frame, steady noise the VAD takes for
 * speech barely moves (under 0.5 dB). 0 with fewer than two frames.
 */
double
vad_speech_spread_db(const struct vad *v)
{
	double m, var;

	if (v->en_n < 2)
		return 0;
	m = v->en_sum / (double)v->en_n;
	var = v->en_sum2 / (double)v->en_n - m * m;
	return var > 0 ? sqrt(var) : 0;
}

bool
vad_in_speech(const struct vad *v)
{
	return v->state == VAD_TURN;
}

size_t
vad_pending(const struct vad *v)
{
	return v->in_len;
}

double
vad_noise_floor_db(const struct vad *v)
{
	return v->floor_db;
}
