/*
 * speak: render Hebrew text to 8 kHz telephone audio with espeak-ng.
 *
 * Why: the tests need one renderer whose output every party agrees on.
 * The simulated Twilio caller streams a scenario's caller lines as mu-law,
 * the OpenAI stand-in (tools/fake-openai) recognises the audio it receives
 * by rendering the same lines itself, and the Google stand-in
 * (tools/fake-google) answers synthesis requests with real speech. All of
 * them call this program, which is a thin shell over audio_espeak_mulaw()
 * in common/audio.c, the offline voice of the tts-worker: so what the
 * stand-in expects is, byte for byte, what a caller sends.
 *
 * Usage:
 *   speak [--wpm N] [--format mulaw|wav] [--normalize] [-o FILE] [TEXT]
 * TEXT (UTF-8 Hebrew) is spoken; without TEXT, or with "-", the text is
 * read from standard input (up to SPEAK_MAX_TEXT bytes, trailing newlines
 * dropped). --wpm sets the espeak-ng rate (AUDIO_WPM_MIN..AUDIO_WPM_MAX,
 * default AUDIO_WPM_DEFAULT). --format mulaw (the default) writes raw
 * 8 kHz G.711 mu-law bytes, exactly what a Twilio media stream carries;
 * --format wav writes those same samples decoded to a 16-bit PCM mono
 * 8 kHz WAV file, exactly what the stt-worker uploads for such an
 * utterance. --normalize runs the text through hebnum_normalize() first
 * (numbers become Hebrew words, as the tts-worker does before its own
 * espeak-ng fallback). Output goes to standard output, or to FILE with -o
 * (written whole or not at all: a temporary file renamed into place).
 *
 * Exit status: 0 on success, 1 on a rendering or output failure, 2 on a
 * usage error. Diagnostics are JSON log lines on standard error.
 * Rendering is deterministic for a given espeak-ng build, text and rate.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "hebnum.h"
#include "log.h"
#include "mulaw.h"
#include "xmalloc.h"

/* The longest text read from standard input (Google's input limit x 4). */
#define SPEAK_MAX_TEXT ((size_t)20 * 1024)

enum speak_format {
	SPEAK_FORMAT_MULAW,
	SPEAK_FORMAT_WAV,
};

static void
speak_usage(void)
{
	(void)fprintf(stderr,
	    "usage: speak [--wpm N] [--format mulaw|wav] [--normalize] "
	    "[-o FILE] [TEXT | -]\n");
}

/* Read standard input into a new NUL-terminated string; NULL on error. */
static char *
speak_read_stdin(void)
{
	char *buf = xmalloc(SPEAK_MAX_TEXT + 1);
	size_t len = 0;

	for (;;) {
		size_t k = fread(buf + len, 1, SPEAK_MAX_TEXT - len, stdin);
		len += k;
		if (k == 0 || len == SPEAK_MAX_TEXT)
			break;
	}
	if (ferror(stdin)) {
		log_warn("speak: reading standard input");
		free(buf);
		return NULL;
	}
	if (len == SPEAK_MAX_TEXT && fgetc(stdin) != EOF) {
		log_warnx("speak: text on standard input is longer than %zu "
			  "bytes",
		    SPEAK_MAX_TEXT);
		free(buf);
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	return buf;
}

/* Write all len bytes to fd; return 0 or -1. */
static int
speak_write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Write the bytes to path through a temporary file, or to standard output
 * when path is NULL; return 0 or -1. */
static int
speak_output(const char *path, const uint8_t *p, size_t len)
{
	char *tmp;
	FILE *f;
	int rc = 0;

	if (path == NULL) {
		if (speak_write_all(STDOUT_FILENO, p, len) == -1) {
			log_warn("speak: writing standard output");
			return -1;
		}
		return 0;
	}
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	if (f == NULL) {
		log_warn("speak: cannot create %s", tmp);
		free(tmp);
		return -1;
	}
	if (fwrite(p, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc == -1) {
		log_warn("speak: cannot write %s", path);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* Render text in the format; store a new buffer in *out; return 0 or -1. */
static int
speak_render(const char *text, int wpm, enum speak_format format, uint8_t **out,
    size_t *outlen)
{
	uint8_t *mu;
	int16_t *pcm;
	size_t n;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (audio_espeak_mulaw(text, wpm, &mu, &n) == -1)
		return -1;
	if (format == SPEAK_FORMAT_MULAW) {
		*out = mu;
		*outlen = n;
		return 0;
	}
	/* The WAV holds what the mu-law decodes to, as the stt-worker sends
	 * it: the lossy step happened when the caller encoded. */
	pcm = xreallocarray(NULL, n ? n : 1, sizeof(*pcm));
	mulaw_decode_buf(mu, n, pcm);
	free(mu);
	rc = audio_wav_encode(pcm, n, AUDIO_PHONE_RATE, out, outlen);
	free(pcm);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"wpm", required_argument, NULL, 'w'},
	    {"format", required_argument, NULL, 'f'},
	    {"normalize", no_argument, NULL, 'n'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum speak_format format = SPEAK_FORMAT_MULAW;
	const char *outpath = NULL;
	bool normalize = false;
	char *text = NULL, *spoken;
	uint8_t *audio = NULL;
	size_t len = 0;
	int wpm = 0, ch, rc;
	char *end;
	long v;

	log_init("speak", "0");
	while (
	    (ch = getopt_long(argc, argv, "w:f:no:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v < AUDIO_WPM_MIN ||
			    v > AUDIO_WPM_MAX) {
				(void)fprintf(stderr,
				    "speak: --wpm must be %d..%d\n",
				    AUDIO_WPM_MIN, AUDIO_WPM_MAX);
				return 2;
			}
			wpm = (int)v;
			break;
		case 'f':
			if (strcmp(optarg, "mulaw") == 0)
				format = SPEAK_FORMAT_MULAW;
			else if (strcmp(optarg, "wav") == 0)
				format = SPEAK_FORMAT_WAV;
			else {
				(void)fprintf(stderr,
				    "speak: --format is mulaw or "
				    "wav\n");
				return 2;
			}
			break;
		case 'n':
			normalize = true;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			speak_usage();
			return 0;
		default:
			speak_usage();
			return 2;
		}
	}
	if (argc - optind > 1) {
		speak_usage();
		return 2;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") != 0)
		text = xstrdup(argv[optind]);
	else if ((text = speak_read_stdin()) == NULL)
		return 1;
	if (text[0] == '\0') {
		(void)fprintf(stderr, "speak: no text\n");
		free(text);
		return 2;
	}
	spoken = normalize ? hebnum_normalize(text) : xstrdup(text);
	free(text);
	rc = speak_render(spoken, wpm, format, &audio, &len);
	free(spoken);
	if (rc == 0)
		rc = speak_output(outpath, audio, len);
	free(audio);
	audio_shutdown();
	return rc == 0 ? 0 : 1;
}
