/*
 * Encoding and decoding of the message header of msg.h, the type names,
 * and the per-reason counters of dropped messages.
 *
 * Pure functions over buffers (no sockets): unit-tested and fuzzed
 * (tests/fuzz/fuzz_msg_decode.c). The counters are process-global and read
 * by heartbeats and /metrics.
 */
#include <assert.h>
#include <string.h>

#include "msg.h"
#include "xmalloc.h"

static_assert(MSG_HDR_SIZE == 40, "header layout is fixed on the wire");
static_assert(MSG_REPLY_MAX <= 255 && MSG_SID_MAX <= 255,
    "lengths are one byte on the wire");

static const struct {
	unsigned int code;
	const char *name;
	const char *doc;
} msg_types[] = {
#define MSG_ROW(name, code, doc) {code, #name, doc},
    MSG_TYPES(MSG_ROW)
#undef MSG_ROW
};

#define MSG_NTYPES (sizeof(msg_types) / sizeof(msg_types[0]))

static const char *const msg_error_texts[] = {"ok",
#define MSG_ERR_ROW(name, text) text,
    MSG_ERRORS(MSG_ERR_ROW)
#undef MSG_ERR_ROW
};

static unsigned long msg_errors[MSG_ERR_COUNT];

const char *
msg_type_name(unsigned int type)
{
	for (size_t i = 0; i < MSG_NTYPES; i++)
		if (msg_types[i].code == type)
			return msg_types[i].name;
	return "UNKNOWN";
}

/* Return the code of the type called name (e.g. "STT_JOB"), or -1. */
int
msg_type_from_name(const char *name)
{
	for (size_t i = 0; i < MSG_NTYPES; i++)
		if (strcmp(msg_types[i].name, name) == 0)
			return (int)msg_types[i].code;
	return -1;
}

bool
msg_type_is_valid(unsigned int type)
{
	for (size_t i = 0; i < MSG_NTYPES; i++)
		if (msg_types[i].code == type)
			return true;
	return false;
}

size_t
msg_type_count(void)
{
	return MSG_NTYPES;
}

unsigned int
msg_type_at(size_t i)
{
	return i < MSG_NTYPES ? msg_types[i].code : MSG_NONE;
}

const char *
msg_type_doc(unsigned int type)
{
	for (size_t i = 0; i < MSG_NTYPES; i++)
		if (msg_types[i].code == type)
			return msg_types[i].doc;
	return "";
}

const char *
msg_error_text(enum msg_error e)
{
	return (unsigned int)e < MSG_ERR_COUNT ? msg_error_texts[e]
					       : "unknown error";
}

/* Initialise m as a new message of the given type, attempt 1. */
void
msg_init(struct msg *m, enum msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->version = MSG_VERSION;
	m->type = (uint16_t)type;
	m->attempt = 1;
}

/* A reply address or call SID: printable ASCII, no spaces. */
static bool
msg_field_is_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static int
msg_set_field(char *dst, size_t max, const char *src)
{
	size_t len = src ? strlen(src) : 0;

	if (len > max || !msg_field_is_valid(src, len))
		return -1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* Set the reply address; -1 when it is too long or has bad characters. */
int
msg_set_reply(struct msg *m, const char *reply)
{
	return msg_set_field(m->reply, MSG_REPLY_MAX, reply);
}

/* Set the call SID; -1 when it is too long or has bad characters. */
int
msg_set_call_sid(struct msg *m, const char *sid)
{
	return msg_set_field(m->call_sid, MSG_SID_MAX, sid);
}

static void
msg_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
msg_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
msg_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t
msg_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
msg_get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
msg_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Write the fixed header, the reply address and the call SID of m into
 * out (at least MSG_HDR_SIZE + MSG_REPLY_MAX + MSG_SID_MAX bytes) and
 * return the number of bytes written, or 0 when m breaks a limit. The
 * payload and blob lengths are taken from m.
 */
size_t
msg_encode_header(const struct msg *m, uint8_t *out, size_t outlen)
{
	size_t rl = strlen(m->reply), sl = strlen(m->call_sid);
	size_t total = MSG_HDR_SIZE + rl + sl;

	if (rl > MSG_REPLY_MAX || sl > MSG_SID_MAX ||
	    m->json_len > MSG_JSON_MAX || m->blob_len > MSG_BLOB_MAX ||
	    total > outlen)
		return 0;
	msg_put32(out, MSG_MAGIC);
	msg_put16(out + 4, m->version ? m->version : MSG_VERSION);
	msg_put16(out + 6, m->type);
	msg_put16(out + 8, m->flags);
	out[10] = (uint8_t)rl;
	out[11] = (uint8_t)sl;
	msg_put32(out + 12, (uint32_t)m->json_len);
	msg_put32(out + 16, (uint32_t)m->blob_len);
	msg_put64(out + 20, m->job_id);
	msg_put32(out + 28, m->generation);
	msg_put32(out + 32, m->budget_ms);
	msg_put16(out + 36, m->attempt);
	msg_put16(out + 38, 0);
	memcpy(out + MSG_HDR_SIZE, m->reply, rl);
	memcpy(out + MSG_HDR_SIZE + rl, m->call_sid, sl);
	return total;
}

/*
 * Encode m (header, json, blob) into one new buffer; store its length in
 * *lenp. Return NULL when m breaks a limit. The caller frees the buffer.
 */
uint8_t *
msg_encode(const struct msg *m, size_t *lenp)
{
	uint8_t hdr[MSG_HDR_SIZE + MSG_REPLY_MAX + MSG_SID_MAX];
	size_t hl = msg_encode_header(m, hdr, sizeof(hdr));
	uint8_t *buf;

	if (hl == 0)
		return NULL;
	buf = xmalloc(hl + m->json_len + m->blob_len);
	memcpy(buf, hdr, hl);
	if (m->json_len)
		memcpy(buf + hl, m->json, m->json_len);
	if (m->blob_len)
		memcpy(buf + hl + m->json_len, m->blob, m->blob_len);
	*lenp = hl + m->json_len + m->blob_len;
	return buf;
}

/*
 * Decode the message in buf[0..len) into out. Check the magic, the
 * version range, the type, every length against its limit and the total
 * length, and the reply address and call SID, before any field is
 * trusted. Return MSG_OK, or why the message must be dropped. out->json
 * and out->blob point into buf.
 */
enum msg_error
msg_decode(const void *buf, size_t len, struct msg *out)
{
	const uint8_t *p = buf;
	size_t rl, sl, jl, bl;
	uint16_t version, type;

	memset(out, 0, sizeof(*out));
	if (len < MSG_HDR_SIZE)
		return MSG_ERR_SHORT;
	if (msg_get32(p) != MSG_MAGIC)
		return MSG_ERR_MAGIC;
	version = msg_get16(p + 4);
	if (version < MSG_VERSION_MIN || version > MSG_VERSION)
		return MSG_ERR_VERSION;
	type = msg_get16(p + 6);
	if (!msg_type_is_valid(type))
		return MSG_ERR_TYPE;
	rl = p[10];
	sl = p[11];
	jl = msg_get32(p + 12);
	bl = msg_get32(p + 16);
	if (rl > MSG_REPLY_MAX || sl > MSG_SID_MAX || jl > MSG_JSON_MAX ||
	    bl > MSG_BLOB_MAX)
		return MSG_ERR_LIMIT;
	if (MSG_HDR_SIZE + rl + sl + jl + bl != len)
		return MSG_ERR_LENGTH;
	if (!msg_field_is_valid((const char *)p + MSG_HDR_SIZE, rl) ||
	    !msg_field_is_valid((const char *)p + MSG_HDR_SIZE + rl, sl))
		return MSG_ERR_FIELD;
	out->version = version;
	out->type = type;
	out->flags = msg_get16(p + 8);
	out->job_id = msg_get64(p + 20);
	out->generation = msg_get32(p + 28);
	out->budget_ms = msg_get32(p + 32);
	out->attempt = msg_get16(p + 36);
	memcpy(out->reply, p + MSG_HDR_SIZE, rl);
	out->reply[rl] = '\0';
	memcpy(out->call_sid, p + MSG_HDR_SIZE + rl, sl);
	out->call_sid[sl] = '\0';
	out->json = (const char *)p + MSG_HDR_SIZE + rl + sl;
	out->json_len = jl;
	out->blob = p + MSG_HDR_SIZE + rl + sl + jl;
	out->blob_len = bl;
	if (bl == 0)
		out->blob = NULL;
	return MSG_OK;
}

/*
 * Parse the JSON payload of m. Return a new reference to a JSON object
 * (an empty one when the payload is empty), or NULL when the payload is
 * not a JSON object.
 */
json_t *
msg_payload(const struct msg *m)
{
	json_t *j;

	if (m->json_len == 0)
		return json_object();
	j = json_loadb(m->json, m->json_len, JSON_REJECT_DUPLICATES, NULL);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

void
msg_count_error(enum msg_error e)
{
	if ((unsigned int)e < MSG_ERR_COUNT)
		msg_errors[e]++;
}

unsigned long
msg_error_count(enum msg_error e)
{
	return (unsigned int)e < MSG_ERR_COUNT ? msg_errors[e] : 0;
}

unsigned long
msg_error_total(void)
{
	unsigned long n = 0;

	for (size_t i = 1; i < MSG_ERR_COUNT; i++)
		n += msg_errors[i];
	return n;
}
