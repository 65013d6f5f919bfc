/*
 * Audio plumbing: WAV in memory and on disk, resampling, and the offline
 * Hebrew voice (espeak-ng).
 *
 * Why: the stt-worker uploads each utterance to OpenAI as a WAV file, tests
 * and tools read and write WAV files, the tts-worker needs a fallback voice
 * when Google TTS is down, and espeak-ng speaks at 22,050 Hz while the phone
 * line runs at 8 kHz. This file is the only user of libsndfile, libsoxr and
 * libespeak-ng (R14), so they can be replaced in one place.
 *
 * Ownership: every buffer returned through an out-pointer is new, belongs to
 * the caller and is freed with free(); on failure out-pointers are set to
 * NULL / 0 and nothing needs freeing. A returned sample buffer is never NULL
 * on success, even when it holds no samples. Every failure is logged once
 * here with log_warnx and reported as -1.
 *
 * Limits: samples are 16-bit signed mono, host byte order. Reading accepts
 * whatever libsndfile reads (PCM 8-32 bit, float, mu-law, A-law, ...), mixes
 * several channels down to mono by averaging and clips float input to full
 * scale; a file longer than AUDIO_MAX_SECONDS or with a rate outside
 * [AUDIO_MIN_RATE, AUDIO_MAX_RATE] is refused. espeak-ng is not re-entrant:
 * the audio_espeak_* functions and audio_shutdown must be called from one
 * thread at a time (every daemon is a single-threaded event loop).
 * Rendering is repeatable across processes (resampling without dither), but
 * espeak-ng keeps state between texts, so the same text rendered again in
 * one process may differ by a few samples; matchers must tolerate that.
 */
#ifndef MERKAZIA_AUDIO_H
#define MERKAZIA_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#define AUDIO_MIN_RATE	  1000
#define AUDIO_MAX_RATE	  384000
#define AUDIO_MAX_SECONDS 3600
/* Phone-line rate of Twilio Media Streams and of the espeak output here. */
#define AUDIO_PHONE_RATE 8000
/* espeak-ng speaking rates in words per minute; 0 asks for the default. */
#define AUDIO_WPM_DEFAULT 175
#define AUDIO_WPM_MIN	  80
#define AUDIO_WPM_MAX	  450
/* The longest speech audio_espeak_* will render for one text. */
#define AUDIO_ESPEAK_MAX_SECONDS 120

/* audio.c */
/*
 * Encode n mono PCM16 samples at rate Hz as a 16-bit PCM WAV file in
 * memory; store the new buffer in *wav and its size in *wavlen. Return 0 or
 * -1.
 */
int audio_wav_encode(const int16_t *pcm, size_t n, int rate, uint8_t **wav,
    size_t *wavlen) __attribute__((warn_unused_result));
/*
 * Decode the sound file (WAV or anything libsndfile reads) in the len bytes
 * at wav to mono PCM16: store new samples in *pcm, their count in *n and the
 * sample rate in *rate. Return 0, or -1 for unreadable or refused input.
 */
int audio_wav_decode(const uint8_t *wav, size_t len, int16_t **pcm, size_t *n,
    int *rate) __attribute__((warn_unused_result));
/* Write n mono PCM16 samples at rate Hz to path as a 16-bit PCM WAV file
 * (created or truncated). Return 0 or -1. */
int audio_wav_write_file(const char *path, const int16_t *pcm, size_t n,
    int rate) __attribute__((warn_unused_result));
/* Read the sound file at path like audio_wav_decode. Return 0 or -1. */
int audio_wav_read_file(const char *path, int16_t **pcm, size_t *n, int *rate)
    __attribute__((warn_unused_result));
/* Return the number of samples n samples at from Hz become at to Hz:
 * round(n * to / from). */
size_t audio_resampled_len(size_t n, int from, int to);
/*
 * Resample n mono PCM16 samples from from Hz to to Hz (libsoxr, high
 * quality); store new samples in *out and exactly audio_resampled_len(n,
 * from, to) as their count in *outn. Return 0 or -1.
 */
int audio_resample(const int16_t *in, size_t n, int from, int to, int16_t **out,
    size_t *outn) __attribute__((warn_unused_result));
/*
 * Speak the UTF-8 text in Hebrew with espeak-ng at wpm words per minute (0
 * for AUDIO_WPM_DEFAULT, else AUDIO_WPM_MIN..AUDIO_WPM_MAX) and store the
 * new 8 kHz PCM16 samples in *pcm and their count in *n. espeak-ng is
 * initialised on first use. Return 0, or -1 (also for text that yields no
 * audio).
 */
int audio_espeak_pcm8k(const char *text, int wpm, int16_t **pcm, size_t *n)
    __attribute__((warn_unused_result));
/* Speak text like audio_espeak_pcm8k and store 8 kHz mu-law bytes in *mulaw
 * and their count in *n. Return 0 or -1. */
int audio_espeak_mulaw(const char *text, int wpm, uint8_t **mulaw, size_t *n)
    __attribute__((warn_unused_result));
/* Release espeak-ng if it was initialised; call once at process shutdown. */
void audio_shutdown(void);

#endif
