/*
 * Fuzz target: Twilio Media Streams messages (gateway/media.c), every text
 * frame on /twilio/media. A refused message must leave nothing to free and
 * say why; an accepted one must hold C strings of sane length and valid
 * SIDs; a media payload rebuilt with media_build_media must parse back to
 * the same bytes; marks and clears built for a parsed streamSid must be
 * JSON that parses as Twilio's shapes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_rebuilt(const struct media_msg *m)
{
	struct media_msg back;
	char *s;
	size_t n;
	const char *sid = m->stream_sid[0] ? m->stream_sid : "MZfuzz";

	s = media_build_media(sid, m->payload, m->payload_len, &n);
	if (media_parse(s, n, &back) != MEDIA_OK ||
	    back.payload_len != m->payload_len ||
	    (m->payload_len > 0 &&
		memcmp(back.payload, m->payload, m->payload_len) != 0) ||
	    strcmp(back.stream_sid, sid) != 0)
		abort();
	media_msg_clean(&back);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct media_msg m;
	enum media_error e = media_parse((const char *)data, size, &m);
	char *s;
	size_t n;

	if (e != MEDIA_OK) {
		if (m.error == NULL || media_error_name(e)[0] == '?')
			abort();
		media_msg_clean(&m);
		return 0;
	}
	if (m.stream_sid[0] != '\0' && !media_is_valid_sid(m.stream_sid))
		abort();
	if (m.call_sid[0] != '\0' && !media_is_valid_sid(m.call_sid))
		abort();
	for (size_t i = 0; i < m.nparams; i++)
		if (m.params[i].name == NULL || m.params[i].value == NULL ||
		    media_param(&m, m.params[i].name) == NULL)
			abort();
	if (m.type == MEDIA_MEDIA)
		check_rebuilt(&m);
	if (m.type == MEDIA_START) {
		struct media_msg back;

		s = media_build_mark(m.stream_sid, "item-1", &n);
		if (media_parse(s, n, &back) != MEDIA_OK ||
		    back.type != MEDIA_MARK || strcmp(back.name, "item-1") != 0)
			abort();
		media_msg_clean(&back);
		free(s);
		s = media_build_clear(m.stream_sid, &n);
		if (media_parse(s, n, &back) != MEDIA_ERR_UNKNOWN)
			abort();
		media_msg_clean(&back);
		free(s);
	}
	(void)media_type_name(m.type);
	media_msg_clean(&m);
	return 0;
}
