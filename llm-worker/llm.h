/*
 * llm-worker's private header: the daemon's state, and the prototypes of
 * its files, grouped by file (R2).
 *
 *   job.c          LLM_JOB: streaming chat -> LLM_SENTENCE / LLM_ACTION /
 *                  LLM_DONE; TEXT_JOB -> TEXT_REPLY; retries, cancels
 *   prompt.c       the chat requests (pure): system prompt, tools, turns
 *   openai_chat.c  the OpenAI chat wire format: requests over httpc, the
 *                  stream chunk, reply and error parsers (pure), retries
 *   sse_parse.c    the incremental SSE parser (pure)
 *   sentence.c     the incremental Hebrew sentence splitter (pure)
 *   analysis.c     ANALYSIS_JOB -> structured analysis -> crm-store and
 *                  ANALYSIS_RESULT
 */
#ifndef MERKAZIA_LLM_H
#define MERKAZIA_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "httpc.h"
#include "openai.h"
#include "nnsock.h"
#include "worker.h"

/* The daemon's state (d->ctx). Strings are borrowed from the config. */
struct llm {
	struct daemon *d;
	struct worker *w;
	struct httpc *http;
	struct store_client *store; /* NULL: crm-store writes go to gateway */
	const char *base_url;
	const char *api_key;
	const char *model;
	const char *analysis_model;
	long timeout_ms;  /* cap on one provider request */
	long default_ms;  /* budget of a job that carries none */
	long retries;	  /* provider retries per job */
	long max_tokens;  /* max_completion_tokens of a call turn */
	long long_chars;  /* sentence splitter: flush at a comma past it */
	bool quota_alert; /* insufficient_quota seen, not yet cleared */
};

/* sse_parse.c */
#define SSE_PARSE_EVENT_MAX ((size_t)1024 * 1024)

enum sse_parse_kind {
	SSE_PARSE_DATA, /* an event's data */
	SSE_PARSE_DONE, /* the data was [DONE]: the stream is over */
};

struct sse_parser {
	char *line; /* a line not yet ended */
	size_t line_len, line_cap;
	char *data; /* the data lines of the event being read */
	size_t data_len, data_cap;
	size_t max;
	unsigned long events;
	bool has_data; /* the event has a data field */
	bool skip_lf;  /* the last byte was CR: a LF next is its end */
	bool done;     /* [DONE] seen: the rest is ignored */
	bool failed;   /* over the limit: input refused */
};

void sse_parse_init(struct sse_parser *p, size_t max);
void sse_parse_free(struct sse_parser *p);
int sse_parse_feed(struct sse_parser *p, const void *buf, size_t len,
    int (*on_event)(
	enum sse_parse_kind kind, const char *data, size_t len, void *arg),
    void *arg);
int sse_parse_finish(struct sse_parser *p,
    int (*on_event)(
	enum sse_parse_kind kind, const char *data, size_t len, void *arg),
    void *arg);
bool sse_parse_is_done(const struct sse_parser *p);

/* sentence.c */
#define SENTENCE_LONG_CHARS 90
#define SENTENCE_HARD_CHARS 240

struct sentence_splitter {
	char *buf; /* text not yet emitted */
	size_t len, cap;
	size_t long_chars;
	size_t hard_chars;
	unsigned long count; /* sentences emitted */
	void (*emit)(const char *text, size_t len, void *arg);
	void *arg;
};

void sentence_init(struct sentence_splitter *s, size_t long_chars,
    void (*emit)(const char *text, size_t len, void *arg), void *arg);
void sentence_feed(struct sentence_splitter *s, const char *text, size_t len);
void sentence_finish(struct sentence_splitter *s);
void sentence_free(struct sentence_splitter *s);
size_t sentence_find(const char *b, size_t len, bool final, size_t long_chars,
    size_t hard_chars, size_t *next);

/* prompt.c */
#define LLM_PROMPT_TURNS_MAX  40    /* heard turns kept, newest */
#define LLM_PROMPT_TEXT_MAX   2000  /* bytes kept of one turn */
#define LLM_PROMPT_INSTR_MAX  12000 /* bytes kept of the instructions */
#define LLM_PROMPT_SYSTEM_MAX 65536 /* bytes of the whole system prompt */

struct llm_prompt_opts {
	const char *model;
	long max_tokens;   /* 0: not sent */
	const char *today; /* "YYYY-MM-DD (weekday)" or NULL */
	bool stream;
};

json_t *llm_prompt_call(const json_t *job, const struct llm_prompt_opts *o);
json_t *llm_prompt_text(const json_t *job, const struct llm_prompt_opts *o);
json_t *llm_prompt_tools(void);
char *llm_prompt_system(const json_t *job);
char *llm_prompt_transcript(const json_t *turns);
size_t llm_prompt_utf8_cut(const char *s, size_t len, size_t max);

/* openai_chat.c */
#define OPENAI_CHAT_TOOLS_MAX 8

/* One chunk of a streamed reply; pointers borrow from root. */
struct openai_chat_chunk {
	json_t *root;	     /* owned; openai_chat_chunk_free */
	const char *content; /* delta.content or NULL */
	size_t content_len;
	const char *finish_reason; /* or NULL */
	json_t *tool_calls;	   /* delta.tool_calls array or NULL */
	json_t *usage;		   /* usage object or NULL */
	bool is_error;		   /* a mid-stream {"error": {...}} */
	struct openai_error error;
};

/* The non-streamed reply. */
struct openai_chat_reply {
	json_t *root; /* owned; openai_chat_reply_free */
	const char *content;
	const char *finish_reason;
	json_t *tool_calls;
	json_t *usage;
};

int openai_chat_parse_chunk(
    const char *data, size_t len, struct openai_chat_chunk *out);
void openai_chat_chunk_free(struct openai_chat_chunk *c);
int openai_chat_parse_reply(
    const char *body, size_t len, struct openai_chat_reply *out);
void openai_chat_reply_free(struct openai_chat_reply *r);
struct httpc_req *openai_chat_request(
    struct llm *l, const json_t *body, long budget_ms);

/* job.c */
#define LLM_JOB_REPLY_MARGIN_MS 50  /* kept to send the last result */
#define LLM_JOB_MIN_TRY_MS	200 /* a try with less is not made */

/*
 * A non-streamed chat request on behalf of a job (TEXT_JOB, ANALYSIS_JOB),
 * with the same retries as a call turn. on_reply hears the 200 answer's
 * body and must end the job (llm_job_oneshot_reply / _fail).
 */
struct llm_oneshot {
	struct llm *l;
	struct worker_job *job;
	json_t *payload; /* the job's (a reference) */
	json_t *body;	 /* the request */
	struct httpc_req *req;
	struct event *ev;
	enum msg_type result_type;
	int retries;
	int64_t started_ms;
	bool ending;
	void (*on_reply)(struct llm_oneshot *o, const char *body, size_t len);
};

void llm_job_on_call(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void llm_job_on_text(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);
void llm_job_on_cancel(struct worker_job *job, void *arg);
void llm_job_free_all(struct llm *l);
void llm_job_today(char *buf, size_t size);
struct llm_oneshot *llm_job_oneshot_new(struct llm *l, const struct msg *m,
    json_t *payload, enum msg_type result_type);
void llm_job_oneshot_start(struct llm_oneshot *o, json_t *body,
    void (*on_reply)(struct llm_oneshot *o, const char *body, size_t len));
void llm_job_oneshot_reply(struct llm_oneshot *o, json_t *result);
void llm_job_oneshot_fail(
    struct llm_oneshot *o, const char *error, const char *message);
long llm_job_oneshot_ms(const struct llm_oneshot *o);

/* analysis.c */
json_t *llm_analysis_schema(void);
json_t *llm_analysis_request(const json_t *job, const char *model);
json_t *llm_analysis_validate(const json_t *in, char *why, size_t whylen);
void llm_analysis_on_job(struct nnsock *s, const struct msg *m, json_t *payload,
    const struct nnsock_rx *rx, void *arg);

#endif
