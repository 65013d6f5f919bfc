/*
 * THE protocol: every message between Merkazia's processes.
 *
 * Why one header: workers, gateways and crm-store are deployed and upgraded
 * separately and may run on other hosts, so the wire format must be written
 * down once, versioned, and encoded explicitly (fixed offsets,
 * little-endian), never by copying a struct. docs/protocol.md has a section
 * per type (a test keeps it complete).
 *
 * A message is one nanomsg message: a 40-byte fixed header, then the reply
 * address and the call SID (lengths in the header), then a JSON payload,
 * then an optional binary blob (audio). Senders use nn_sendmsg with iovecs
 * so the audio is not copied into a JSON string.
 *
 *   off size field
 *     0    4 magic "MRKZ"
 *     4    2 version (MSG_VERSION; receivers accept MSG_VERSION_MIN..)
 *     6    2 type (enum msg_type)
 *     8    2 flags (MSG_F_*)
 *    10    1 reply address length (<= MSG_REPLY_MAX)
 *    11    1 call SID length (<= MSG_SID_MAX)
 *    12    4 JSON payload length (<= MSG_JSON_MAX)
 *    16    4 blob length (<= MSG_BLOB_MAX)
 *    20    8 job id (also the request id of crm-store requests)
 *    28    4 call turn generation
 *    32    4 remaining time budget in ms (0: none); a budget, not a
 *            deadline, because hosts' clocks differ
 *    36    2 attempt (1 for the first send)
 *    38    2 reserved, 0
 *
 * Decoding (msg_decode) checks magic, version range, every length against
 * its limit and the total, the type, and the reply address and SID
 * characters, before any field is used. A bad message is described in the
 * caller's error buffer; the caller logs it, counts it and drops it.
 *
 * Bump MSG_VERSION on a rename, a removal or a changed meaning; adding a
 * type or an optional JSON field does not need a bump.
 */
#ifndef MERKAZIA_MSG_H
#define MERKAZIA_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MSG_MAGIC	0x5a4b524du /* "MRKZ" little-endian */
#define MSG_VERSION	1
#define MSG_VERSION_MIN 1
#define MSG_HDR_SIZE	40
#define MSG_REPLY_MAX	200
#define MSG_SID_MAX	64
#define MSG_JSON_MAX	((size_t)512 * 1024)
#define MSG_BLOB_MAX	((size_t)8 * 1024 * 1024)
#define MSG_MAX                                                      \
	(MSG_HDR_SIZE + MSG_REPLY_MAX + MSG_SID_MAX + MSG_JSON_MAX + \
	    MSG_BLOB_MAX)

/* Flags. */
#define MSG_F_FINAL  0x1u /* last result of a job */
#define MSG_F_ERROR  0x2u /* the job failed; payload says why */
#define MSG_F_RESENT 0x4u /* sent again after a lost or late reply */

/*
 * Every message type: X(name, code, sender -> receiver (pattern)).
 * Codes are stable on the wire; never reuse one.
 */
#define MSG_TYPES(X)                                                         \
	X(HEARTBEAT, 1, "workers, crm-store -> gateway, watchdog (PUB/SUB)") \
	X(JOB_CANCEL, 2, "gateway -> workers (PUB/SUB)")                     \
	X(CALL_EVENT, 3, "gateway -> watchdog, gateways (PUB/SUB)")          \
	X(STT_JOB, 10, "gateway -> stt-worker (PUSH/PULL)")                  \
	X(STT_RESULT, 11, "stt-worker -> gateway (PUSH/PULL)")               \
	X(LLM_JOB, 20, "gateway -> llm-worker (PUSH/PULL)")                  \
	X(LLM_SENTENCE, 21, "llm-worker -> gateway (PUSH/PULL)")             \
	X(LLM_ACTION, 22, "llm-worker -> gateway (PUSH/PULL)")               \
	X(LLM_DONE, 23, "llm-worker -> gateway (PUSH/PULL)")                 \
	X(ANALYSIS_JOB, 24, "gateway -> llm-worker (PUSH/PULL)")             \
	X(ANALYSIS_RESULT, 25, "llm-worker -> gateway (PUSH/PULL)")          \
	X(TEXT_JOB, 26, "gateway -> llm-worker (PUSH/PULL)")                 \
	X(TEXT_REPLY, 27, "llm-worker -> gateway (PUSH/PULL)")               \
	X(TTS_JOB, 30, "gateway -> tts-worker (PUSH/PULL)")                  \
	X(TTS_RESULT, 31, "tts-worker -> gateway (PUSH/PULL)")               \
	X(STORE_QUERY, 40, "any daemon -> crm-store (raw REQ/REP)")          \
	X(STORE_SYSQUERY, 41, "daemons -> crm-store (raw REQ/REP)")          \
	X(STORE_WRITE, 42, "any daemon -> crm-store (raw REQ/REP)")          \
	X(STORE_REPLY, 43, "crm-store -> requester (raw REQ/REP)")           \
	X(STORE_ACK, 44, "crm-store -> writer (raw REQ/REP)")                \
	X(STORE_ERROR, 45, "crm-store -> requester (raw REQ/REP)")           \
	X(STORE_CHANGE, 46, "crm-store -> gateways, watchdog (PUB/SUB)")     \
	X(AUTH_LOGIN, 50, "gateway -> crm-store (raw REQ/REP)")              \
	X(AUTH_SESSION, 51, "gateway -> crm-store (raw REQ/REP)")            \
	X(AUTH_LOGOUT, 52, "gateway -> crm-store (raw REQ/REP)")             \
	X(AUTH_PASSWORD, 53, "gateway -> crm-store (raw REQ/REP)")

enum msg_type {
	MSG_NONE = 0,
#define MSG_ENUM(name, code, doc) MSG_##name = (code),
	MSG_TYPES(MSG_ENUM)
#undef MSG_ENUM
};

/*
 * A decoded message. json and blob point into the buffer that was decoded
 * (borrowed: valid while that buffer lives); reply and call_sid are copied
 * and NUL-terminated. json is not NUL-terminated.
 */
struct msg {
	uint16_t version;
	uint16_t type;
	uint16_t flags;
	uint64_t job_id;
	uint32_t generation;
	uint32_t budget_ms;
	uint16_t attempt;
	char reply[MSG_REPLY_MAX + 1];
	char call_sid[MSG_SID_MAX + 1];
	const char *json;
	size_t json_len;
	const uint8_t *blob;
	size_t blob_len;
};

/* Why a message was dropped; counted per reason. */
#define MSG_ERRORS(X)                             \
	X(SHORT, "shorter than the header")       \
	X(MAGIC, "bad magic")                     \
	X(VERSION, "unsupported version")         \
	X(TYPE, "unknown type")                   \
	X(LENGTH, "lengths do not add up")        \
	X(LIMIT, "a length is over its limit")    \
	X(FIELD, "bad reply address or call SID") \
	X(JSON, "payload is not a JSON object")

enum msg_error {
	MSG_OK = 0,
#define MSG_ERR_ENUM(name, text) MSG_ERR_##name,
	MSG_ERRORS(MSG_ERR_ENUM)
#undef MSG_ERR_ENUM
	    MSG_ERR_COUNT
};

/* msg.c */
const char *msg_type_name(unsigned int type);
int msg_type_from_name(const char *name);
bool msg_type_is_valid(unsigned int type);
size_t msg_type_count(void);
unsigned int msg_type_at(size_t i);
const char *msg_type_doc(unsigned int type);
const char *msg_error_text(enum msg_error e);
void msg_init(struct msg *m, enum msg_type type);
int msg_set_reply(struct msg *m, const char *reply);
int msg_set_call_sid(struct msg *m, const char *sid);
size_t msg_encode_header(const struct msg *m, uint8_t *out, size_t outlen);
uint8_t *msg_encode(const struct msg *m, size_t *lenp);
enum msg_error msg_decode(const void *buf, size_t len, struct msg *out)
    __attribute__((warn_unused_result));
json_t *msg_payload(const struct msg *m) __attribute__((warn_unused_result));
void msg_count_error(enum msg_error e);
unsigned long msg_error_count(enum msg_error e);
unsigned long msg_error_total(void);

#endif
