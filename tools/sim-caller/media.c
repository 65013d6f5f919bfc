/*
 * media.c: Media Streams messages as Twilio writes and reads them.
 *
 * Why: the simulated caller is only a useful test if its messages are
 * byte-compatible with Twilio's and it is as strict as Twilio about what
 * comes back (shared reference twilio.md sections 2.2 and 2.3). Out:
 * connected (no sequenceNumber), start, media (track "inbound", chunk from
 * 1, timestamp in ms since the stream started, payload base64 mu-law),
 * mark echoes and stop, with every numeric-looking field a string and one
 * sequenceNumber counter for all of them. In: only media {payload}, mark
 * {name} and clear, each with the streamSid of our start and nothing
 * else; Twilio drops anything else with error 31950/31951, so we count it
 * as a protocol error by kind (not_json, not_object, unknown_event,
 * missing_field, extra_field, wrong_stream_sid, bad_payload).
 *
 * Pure (jansson and base64 only): unit-tested by #including this file.
 * A media message is formatted with snprintf into the caller's buffer
 * (MEDIA_FRAME_MSG_MAX): 50 of them a second per call.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "sim_caller.h"
#include "xmalloc.h"

/* Release what m points to. */
void
media_msg_clear(struct media_msg *m)
{
	free(m->audio);
	free(m->mark);
	memset(m, 0, sizeof(*m));
}

/* Return true when obj has exactly the keys listed (NULL-terminated). */
static bool
media_has_only(json_t *obj, const char *const *keys)
{
	size_t n = 0;

	for (; keys[n] != NULL; n++)
		if (json_object_get(obj, keys[n]) == NULL)
			return false;
	return json_object_size(obj) == n;
}

/* Set *why to the kind and fail. */
static int
media_bad(const char **why, const char *kind)
{
	*why = kind;
	return -1;
}

/*
 * Decode the text message (len bytes) the server sent on the stream whose
 * SID is stream_sid into *out (zeroed first; release with
 * media_msg_clear). Return 0, or -1 with *why naming the protocol error.
 */
int
media_parse(const char *text, size_t len, const char *stream_sid,
    struct media_msg *out, const char **why)
{
	static const char *const k_media[] = {
	    "event", "streamSid", "media", NULL};
	static const char *const k_payload[] = {"payload", NULL};
	static const char *const k_mark[] = {
	    "event", "streamSid", "mark", NULL};
	static const char *const k_name[] = {"name", NULL};
	static const char *const k_clear[] = {"event", "streamSid", NULL};
	json_error_t err;
	json_t *doc, *sub;
	const char *event, *sid;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (doc == NULL)
		return media_bad(why, "not_json");
	if (!json_is_object(doc)) {
		media_bad(why, "not_object");
		goto done;
	}
	event = json_string_value(json_object_get(doc, "event"));
	sid = json_string_value(json_object_get(doc, "streamSid"));
	if (event == NULL || sid == NULL) {
		media_bad(why, "missing_field");
		goto done;
	}
	if (strcmp(sid, stream_sid) != 0) {
		media_bad(why, "wrong_stream_sid");
		goto done;
	}
	if (strcmp(event, "media") == 0) {
		const char *payload;

		sub = json_object_get(doc, "media");
		if (!json_is_object(sub) ||
		    (payload = json_string_value(
			 json_object_get(sub, "payload"))) == NULL) {
			media_bad(why, "missing_field");
			goto done;
		}
		if (!media_has_only(doc, k_media) ||
		    !media_has_only(sub, k_payload)) {
			media_bad(why, "extra_field");
			goto done;
		}
		if (base64_decode_alloc(payload,
			json_string_length(json_object_get(sub, "payload")),
			&out->audio, &out->audio_len) < 0 ||
		    out->audio_len == 0) {
			media_bad(why, "bad_payload");
			goto done;
		}
		out->event = MEDIA_EV_MEDIA;
	} else if (strcmp(event, "mark") == 0) {
		const char *name;

		sub = json_object_get(doc, "mark");
		if (!json_is_object(sub) ||
		    (name = json_string_value(json_object_get(sub, "name"))) ==
			NULL) {
			media_bad(why, "missing_field");
			goto done;
		}
		if (!media_has_only(doc, k_mark) ||
		    !media_has_only(sub, k_name)) {
			media_bad(why, "extra_field");
			goto done;
		}
		out->event = MEDIA_EV_MARK;
		out->mark = xstrdup(name);
	} else if (strcmp(event, "clear") == 0) {
		if (!media_has_only(doc, k_clear)) {
			media_bad(why, "extra_field");
			goto done;
		}
		out->event = MEDIA_EV_CLEAR;
	} else {
		media_bad(why, "unknown_event");
		goto done;
	}
	rc = 0;
done:
	json_decref(doc);
	if (rc < 0)
		media_msg_clear(out);
	return rc;
}

/* Return doc as compact JSON (new string, NULL when doc is NULL: a
 * string that is not UTF-8) and release doc. */
static char *
media_dump(json_t *doc)
{
	char *s;

	if (doc == NULL)
		return NULL;
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

/* Return Twilio's first message (new string). */
char *
media_connected(void)
{
	return xstrdup(
	    "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":"
	    "\"1.0.0\"}");
}

static json_t *
media_seq(unsigned long seq)
{
	char buf[24];

	(void)snprintf(buf, sizeof(buf), "%lu", seq);
	return json_string(buf);
}

/* Return the start message (sequence number seq) for s (new string). */
char *
media_start(unsigned long seq, const struct media_start *s)
{
	json_t *params = json_object();

	for (size_t i = 0; i < s->nparams; i++)
		json_object_set_new(
		    params, s->params[i].name, json_string(s->params[i].value));
	return media_dump(json_pack(
	    "{s:s, s:o, s:{s:s, s:s, s:s, s:[s], s:{s:s, s:i, s:i}, s:o}, "
	    "s:s}",
	    "event", "start", "sequenceNumber", media_seq(seq), "start",
	    "accountSid", s->account_sid, "streamSid", s->stream_sid, "callSid",
	    s->call_sid, "tracks", "inbound", "mediaFormat", "encoding",
	    "audio/x-mulaw", "sampleRate", 8000, "channels", 1,
	    "customParameters", params, "streamSid", s->stream_sid));
}

/*
 * Format the media message for one frame into buf (size bytes, at least
 * MEDIA_FRAME_MSG_MAX). Return its length, or -1 when it does not fit.
 */
int
media_frame(char *buf, size_t size, unsigned long seq, unsigned long chunk,
    unsigned long timestamp, const uint8_t frame[SIM_FRAME_BYTES],
    const char *stream_sid)
{
	char payload[((SIM_FRAME_BYTES + 2) / 3) * 4 + 1];
	int n;

	if (base64_encode(frame, SIM_FRAME_BYTES, payload, sizeof(payload)) < 0)
		return -1;
	n = snprintf(buf, size,
	    "{\"event\":\"media\",\"sequenceNumber\":\"%lu\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"%lu\",\"timestamp\":\"%lu\","
	    "\"payload\":\"%s\"},\"streamSid\":\"%s\"}",
	    seq, chunk, timestamp, payload, stream_sid);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* Return the echo of mark name (new string). */
char *
media_mark(unsigned long seq, const char *stream_sid, const char *name)
{
	return media_dump(json_pack("{s:s, s:o, s:s, s:{s:s}}", "event", "mark",
	    "sequenceNumber", media_seq(seq), "streamSid", stream_sid, "mark",
	    "name", name));
}

/* Return the stop message (new string). */
char *
media_stop(unsigned long seq, const char *stream_sid, const char *account_sid,
    const char *call_sid)
{
	return media_dump(json_pack("{s:s, s:o, s:{s:s, s:s}, s:s}", "event",
	    "stop", "sequenceNumber", media_seq(seq), "stop", "accountSid",
	    account_sid, "callSid", call_sid, "streamSid", stream_sid));
}
