/*
 * The hallucination filter: decide whether a transcript is what the caller
 * said or what Whisper invents on silence, breath and line noise.
 *
 * Why: on non-speech audio Whisper emits the most likely subtitle text,
 * and in Hebrew that is "תודה רבה", "תודה שצפיתם", subtitle credits, or a
 * repetition loop (reference/ai-apis.md §2). Passing one of those to the
 * LLM makes the agent answer a caller who said nothing. But "תודה רבה"
 * and "להתראות" are also what real callers say at the end of a call, so a
 * text hit alone never silences a turn: it counts as "no speech" only when
 * another, independent signal agrees.
 *
 * Hits (on the text, after stt_filter_normalize: niqqud and cantillation
 * U+0591-U+05C7, geresh and gershayim, punctuation and bidi marks removed,
 * spaces collapsed, Latin lower-cased):
 *  - the whole transcript is on the Hebrew/English blocklist of §2.2 (at
 *    most STT_BLOCKLIST_CHARS characters), or starts with a subtitle
 *    credit ("הכתוביות נעשו על ידי ...");
 *  - a repetition loop: one word or a run of two or three words repeated at
 *    least three times in a row ("תודה, תודה, תודה");
 *  - a prompt echo: the transcript is (part of) the prompt we sent.
 * Signals (on the audio and Whisper's own statistics):
 *  - no_speech_prob > 0.6 (mean over segments, whisper-1 only);
 *  - avg_logprob < -1.0 (mean over segments, or over tokens);
 *  - compression_ratio > 2.4 (any segment);
 *  - low energy: the utterance's RMS at or below the configured dBFS.
 * Whisper's own silence rule (every segment no_speech_prob > 0.6 with
 * avg_logprob < -1.0) and an empty transcript are "no speech" on their own.
 *
 * Pure (R15): strings and numbers in, a verdict out; unit-tested with hits
 * with and without agreeing signals (tests/unit/test_stt_worker_filter.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stt.h"
#include "xmalloc.h"

/* Whole-transcript hallucinations (normalized form). */
static const char *const stt_filter_list[] = {
    "תודה",
    "תודה רבה",
    "תודה רבה לכם",
    "תודה רבה לך",
    "תודה לכם",
    "תודה שצפיתם",
    "תודה שצפיתם בסרטון",
    "תודה על הצפייה",
    "תודה רבה על הצפייה",
    "תודה רבה שצפיתם",
    "צפייה מהנה",
    "כתוביות",
    "עריכה וכתוביות",
    "בבקשה",
    "להתראות",
    "שלום לכולם",
    "עברית",
    "מוזיקה",
    "music",
    "thank you",
    "thanks",
    "thanks for watching",
    "thank you for watching",
    "you",
    "subtitles by the amara org community",
    NULL,
};

/* Subtitle credits: a transcript starting with one of these. */
static const char *const stt_filter_prefixes[] = {
    "הכתוביות נעשו על ידי",
    "כתוביות ",
    "תרגום ",
    "תורגם על ידי",
    "תרגום וכתוביות",
    "subtitles by",
    NULL,
};

/* Decode one UTF-8 character at s; store its size in *n (0 at NUL). */
static uint32_t
stt_filter_decode(const unsigned char *s, size_t *n)
{
	uint32_t v;
	size_t need;

	if (s[0] == 0) {
		*n = 0;
		return 0;
	}
	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if ((s[0] & 0xE0) == 0xC0) {
		need = 2;
		v = s[0] & 0x1Fu;
	} else if ((s[0] & 0xF0) == 0xE0) {
		need = 3;
		v = s[0] & 0x0Fu;
	} else if ((s[0] & 0xF8) == 0xF0) {
		need = 4;
		v = s[0] & 0x07u;
	} else {
		*n = 1;
		return 0xFFFD;
	}
	for (size_t k = 1; k < need; k++) {
		if ((s[k] & 0xC0) != 0x80) {
			*n = 1;
			return 0xFFFD;
		}
		v = (v << 6) | (s[k] & 0x3Fu);
	}
	*n = need;
	return v;
}

/* What a character becomes: 0 dropped, ' ' a separator, else itself. */
static uint32_t
stt_filter_map(uint32_t cp)
{
	if (cp == 0x05BE || cp == 0x05C0 || cp == 0x05C3 || cp == 0x05C6)
		return ' '; /* maqaf, paseq, sof pasuq, nun hafukha */
	if (cp >= 0x0591 && cp <= 0x05C7)
		return 0; /* niqqud and cantillation */
	if (cp == 0x05F3 || cp == 0x05F4)
		return 0; /* geresh, gershayim */
	if (cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0x200E ||
	    cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || cp == 0xFFFD)
		return 0;
	if (cp < 0x80) {
		if (cp >= 'A' && cp <= 'Z')
			return cp + ('a' - 'A');
		if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
			return cp;
		return ' '; /* punctuation, controls, white space */
	}
	if (cp == 0xA0 || cp == 0xAB || cp == 0xBB || cp == 0xB7 ||
	    (cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x2030 && cp <= 0x205E) ||
	    cp == 0x3000)
		return ' ';
	return cp;
}

static size_t
stt_filter_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Return a new string: text without niqqud, cantillation, geresh and
 * gershayim, bidi marks and punctuation, Latin lower-cased, white space
 * collapsed to single spaces and trimmed. NULL text gives "".
 */
char *
stt_filter_normalize(const char *text)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	char *out = xmalloc(strlen((const char *)s) * 4 / 3 + 8);
	size_t o = 0, n;
	bool space = true; /* swallow leading separators */

	while (*s != 0) {
		uint32_t cp = stt_filter_map(stt_filter_decode(s, &n));

		s += n;
		if (cp == 0)
			continue;
		if (cp == ' ') {
			if (!space)
				out[o++] = ' ';
			space = true;
			continue;
		}
		o += stt_filter_put(out + o, cp);
		space = false;
	}
	if (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

static size_t
stt_filter_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Whether the normalized transcript is a known hallucination. */
bool
stt_filter_is_blocklisted(const char *norm)
{
	if (norm == NULL || *norm == '\0')
		return false;
	for (const char *const *p = stt_filter_prefixes; *p != NULL; p++)
		if (strncmp(norm, *p, strlen(*p)) == 0)
			return true;
	if (stt_filter_chars(norm) > STT_BLOCKLIST_CHARS)
		return false;
	for (const char *const *p = stt_filter_list; *p != NULL; p++)
		if (strcmp(norm, *p) == 0)
			return true;
	return false;
}

#define STT_FILTER_WORDS_MAX 256

/*
 * Whether the normalized transcript holds a loop: the same word, or run of
 * two or three words, three times or more in a row.
 */
bool
stt_filter_is_repetition(const char *norm)
{
	const char *w[STT_FILTER_WORDS_MAX];
	size_t wl[STT_FILTER_WORDS_MAX];
	size_t nw = 0;
	const char *p = norm;

	if (norm == NULL)
		return false;
	while (*p != '\0' && nw < STT_FILTER_WORDS_MAX) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		w[nw] = p;
		wl[nw++] = l;
		p += l;
		while (*p == ' ')
			p++;
	}
	for (size_t n = 1; n <= 3; n++) {
		for (size_t i = 0; i + 3 * n <= nw; i++) {
			size_t reps = 1;

			for (size_t j = i + n; j + n <= nw; j += n) {
				bool same = true;

				for (size_t k = 0; k < n && same; k++)
					same = wl[i + k] == wl[j + k] &&
					       memcmp(w[i + k], w[j + k],
						   wl[i + k]) == 0;
				if (!same)
					break;
				reps++;
			}
			if (reps >= 3)
				return true;
		}
	}
	return false;
}

/*
 * Whether the normalized transcript echoes the normalized prompt: equal to
 * it, a part of it at least 4 characters long, or the prompt with at most a
 * few characters around it.
 */
bool
stt_filter_is_prompt_echo(const char *norm, const char *prompt_norm)
{
	size_t tn, pn;

	if (norm == NULL || prompt_norm == NULL || *norm == '\0' ||
	    *prompt_norm == '\0')
		return false;
	if (strcmp(norm, prompt_norm) == 0)
		return true;
	tn = stt_filter_chars(norm);
	pn = stt_filter_chars(prompt_norm);
	if (tn >= 4 && strstr(prompt_norm, norm) != NULL)
		return true;
	return strstr(norm, prompt_norm) != NULL && tn <= pn + 10;
}

/* Return the RMS level of n samples in dBFS (-120 for silence or none). */
double
stt_filter_rms_dbfs(const int16_t *pcm, size_t n)
{
	double sum = 0.0, rms;

	if (pcm == NULL || n == 0)
		return -120.0;
	for (size_t i = 0; i < n; i++)
		sum += (double)pcm[i] * (double)pcm[i];
	rms = sqrt(sum / (double)n) / 32768.0;
	if (rms <= 1e-6)
		return -120.0;
	return 20.0 * log10(rms);
}

/*
 * Judge a transcript: fill out (no_speech, the hit and the signal seen,
 * and why). See the top of this file for the rules.
 */
void
stt_filter_judge(const struct stt_filter_in *in, struct stt_filter_out *out)
{
	char *norm = stt_filter_normalize(in->text);
	char *pnorm = in->prompt ? stt_filter_normalize(in->prompt) : NULL;

	memset(out, 0, sizeof(*out));
	if (stt_filter_is_blocklisted(norm))
		out->hit = "blocklist";
	else if (stt_filter_is_repetition(norm))
		out->hit = "repetition";
	else if (stt_filter_is_prompt_echo(norm, pnorm))
		out->hit = "prompt_echo";
	if (in->has_segments && in->no_speech_prob > STT_NO_SPEECH_PROB)
		out->signal = "no_speech_prob";
	else if (in->has_logprob && in->avg_logprob < STT_LOGPROB_MIN)
		out->signal = "avg_logprob";
	else if (in->compression_ratio > STT_COMPRESSION_MAX)
		out->signal = "compression_ratio";
	else if (in->rms_dbfs <= in->silence_dbfs)
		out->signal = "low_energy";
	if (*norm == '\0') {
		out->no_speech = true;
		out->reason = "empty";
	} else if (in->has_segments && in->all_silent) {
		out->no_speech = true;
		out->reason = "whisper_silence";
	} else if (out->hit != NULL && out->signal != NULL) {
		out->no_speech = true;
		out->reason = out->hit;
	}
	free(norm);
	free(pnorm);
}
