/*
 * Barge-in: when the caller's speech over the agent stops the agent.
 *
 * Why here: acoustic barge-in (design.md) is a small state machine over
 * what the VAD says of each inbound frame and whether the agent's audio
 * is still playing; kept pure (no clock of its own, no sockets, never
 * logs) so tests/unit/test_gateway_bargein.c can drive it frame by frame.
 * conversation.c calls bargein_step after every inbound frame and acts on
 * what it returns.
 *
 * A burst is the caller's speech from an onset (or from speech that
 * resumes after BARGEIN_GAP_MS of silence inside one VAD turn) until
 * BARGEIN_GAP_MS of silence. A burst that begins while the agent plays
 * (an item queued, or a mark not yet back) first PAUSES the playout (the
 * gateway stops feeding audio; Twilio plays out its short lead). When the
 * burst holds min_ms of speech it is a barge-in: CUT (the caller clears,
 * cancels and starts a new generation). A burst that ends before that, a
 * backchannel such as "כן" or "אהה", RESUMES the playout: the agent goes
 * on. So does a hold that lasts BARGEIN_HOLD_MAX_MS without reaching
 * min_ms (sparse noise the VAD keeps half-believing), one whose agent
 * audio ended meanwhile, and one that is noise: steady line noise the VAD
 * takes for speech has a frame energy that barely moves (under 0.5 dB of
 * spread, against 2.5 dB and more for speech from its first 100 ms), so a
 * burst whose spread (vad_speech_spread_db) stays under
 * BARGEIN_SPEECH_SPREAD_DB after BARGEIN_NOISE_CHECK_MS never cuts. A burst
 * that begins while the agent is silent is the caller's turn, never a barge-in.
 *
 * Speech is counted in the VAD's speech ms (vad_speech_ms: the speech of
 * the current VAD turn, 0 outside one); the speech of earlier bursts of
 * the same VAD turn is subtracted, so two backchannels in a row do not
 * add up to a barge-in, unless the silence between them was under
 * BARGEIN_JOIN_MS: "רגע, יש לי שאלה" pauses at its comma longer than a
 * burst's gap, yet it is one interruption, and joined it cuts the agent
 * as soon as its words add up to min_ms.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gateway.h"

static const char *const bargein_action_names[] = {
    "none", "pause", "resume", "cut"};

/* Return a short name of a ("pause"). */
const char *
bargein_action_name(enum bargein_action a)
{
	if ((size_t)a <
	    sizeof(bargein_action_names) / sizeof(*bargein_action_names))
		return bargein_action_names[a];
	return "?";
}

/* Start b idle; min_ms of speech over the agent make a barge-in. */
void
bargein_init(struct bargein *b, int min_ms)
{
	memset(b, 0, sizeof(*b));
	b->min_ms = min_ms > 0 ? min_ms : 0;
	b->state = BARGEIN_IDLE;
}

/* The burst ended (or the VAD turn did): back to idle. */
static void
bargein_burst_over(
    struct bargein *b, int speech_ms, int silence_ms, int64_t now_ms)
{
	b->end_speech_ms = speech_ms;
	b->end_at = now_ms - silence_ms;
	b->state = BARGEIN_IDLE;
}

/*
 * One inbound frame was worked through: agent_playing says whether the
 * agent's audio is queued or still playing, speech_ms and silence_ms are
 * the VAD's (vad_speech_ms, vad_silence_ms), now_ms a monotonic time.
 * Return what the caller must do.
 */
enum bargein_action
bargein_step(struct bargein *b, bool agent_playing, int speech_ms,
    int silence_ms, double spread_db, int64_t now_ms)
{
	bool active = speech_ms > 0 && silence_ms < BARGEIN_GAP_MS;
	bool voice = spread_db >= BARGEIN_SPEECH_SPREAD_DB;
	int burst;

	if (speech_ms <= 0) {
		/* Outside a VAD turn: a new one starts from nothing. */
		b->base_ms = 0;
		b->end_speech_ms = 0;
		if (b->state != BARGEIN_HOLD) {
			b->resumed = false;
			b->other = false;
		}
	}
	switch (b->state) {
	case BARGEIN_IDLE:
		if (!active)
			return BARGEIN_NONE;
		/* A new burst: joined to the last one after a short pause. */
		if (now_ms - b->end_at - silence_ms >= BARGEIN_JOIN_MS)
			b->base_ms = b->end_speech_ms;
		burst = speech_ms - b->base_ms;
		if (!agent_playing) {
			b->state = BARGEIN_CALLER;
			b->other = true;
			return BARGEIN_NONE;
		}
		b->hold_since = now_ms;
		b->holds++;
		if (b->min_ms == 0 || (burst >= b->min_ms && voice)) {
			b->state = BARGEIN_CUT_DONE;
			b->other = true;
			b->cuts++;
			return BARGEIN_CUT;
		}
		b->state = BARGEIN_HOLD;
		return BARGEIN_PAUSE;
	case BARGEIN_HOLD:
		burst = speech_ms - b->base_ms;
		if (active && burst >= b->min_ms && voice) {
			b->state = BARGEIN_CUT_DONE;
			b->other = true;
			b->cuts++;
			return BARGEIN_CUT;
		}
		if (!active) {
			bargein_burst_over(b, speech_ms > 0 ? speech_ms : 0,
			    silence_ms, now_ms);
			b->resumed = speech_ms > 0;
			b->backchannels++;
			return BARGEIN_RESUME;
		}
		if (burst >= BARGEIN_NOISE_CHECK_MS && !voice) {
			b->state = BARGEIN_CALLER; /* noise: ignore it */
			b->other = true;
			b->noises++;
			return BARGEIN_RESUME;
		}
		if (!agent_playing ||
		    now_ms - b->hold_since > BARGEIN_HOLD_MAX_MS) {
			b->state = BARGEIN_CALLER;
			b->other = true;
			return BARGEIN_RESUME;
		}
		return BARGEIN_NONE;
	case BARGEIN_CALLER:
	case BARGEIN_CUT_DONE:
		if (!active)
			bargein_burst_over(b, speech_ms > 0 ? speech_ms : 0,
			    silence_ms, now_ms);
		return BARGEIN_NONE;
	}
	return BARGEIN_NONE;
}

/* Return true while the playout is paused for a burst. */
bool
bargein_is_holding(const struct bargein *b)
{
	return b->state == BARGEIN_HOLD;
}

/*
 * The VAD ended an utterance (call before the next bargein_step): return
 * true when it was only backchannels the agent talked on through, i.e.
 * every burst of it paused the agent and resumed, and the agent still
 * plays (an answer said as the agent finished is a turn).
 */
bool
bargein_is_backchannel(const struct bargein *b, bool agent_playing)
{
	return agent_playing && b->resumed && !b->other;
}
