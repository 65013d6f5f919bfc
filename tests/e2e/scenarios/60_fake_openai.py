#!/usr/bin/env python3
"""Scenario: the OpenAI stand-in (tools/fake-openai) is as strict as
OpenAI and answers from the call scenario.

Why: every call test leans on this double. If it accepted a truncated WAV,
a wrong key or a broken tool-call conversation, or streamed tidy deltas,
the workers would pass here and fail in production. Checked, talking HTTP
to it as the workers do:
  transcription: a rendered scenario line (the stt-worker's 16-bit WAV,
  also resampled to 16 kHz) returns its scripted text in json,
  verbose_json (low no_speech_prob) and text; a caller's real "תודה רבה"
  is transcribed, while silence and line noise get the hallucination
  "תודה רבה." with no_speech_prob > 0.6; a WAV cut short in its header and
  garbage are refused (400 invalid_value), audio cut short inside a valid
  WAV and unknown speech are refused (standin_* codes); a wrong key gets
  OpenAI's 401 without the real key in it; a missing language=he is
  refused; 429 with Retry-After, then success; insufficient_quota.
  chat: the streamed content reassembles to the scripted reply, deltas are
  cut inside "3.5", "₪1,200,000", "מ״ר" and "וכו׳", events are split inside
  a UTF-8 character across HTTP chunks, the usage chunk and [DONE] come
  last; a tool call streams its arguments in pieces that parse as the
  scripted JSON, and the tool round after it gets the next scripted reply;
  a tool result without its call is refused; an error arrives in the
  middle of a stream; a json_schema answer validates and a non-strict
  schema is refused; unscripted text is refused in strict mode and
  answered in demo mode.
  the record: every request is there, Authorization redacted, the key in
  no log; SIGTERM stops it with exit 0.
"""
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import standins  # noqa: E402
from e2e import check  # noqa: E402

SCENARIO = os.path.join(e2e.REPO, "tests/scenarios/buyer_tel_aviv.json")
STT = "/v1/audio/transcriptions"
CHAT = "/v1/chat/completions"


def lines():
    with open(SCENARIO, encoding="utf-8") as f:
        doc = json.load(f)
    wpm = doc["caller"]["wpm"]
    return {s["id"]: dict(s, wpm=s.get("wpm", wpm), text=s.get("text",
                                                               s["say"]))
            for s in doc["steps"] if "say" in s}


def upsample(samples):
    out = []
    for a, b in zip(samples, samples[1:] + samples[-1:]):
        out += [a, (a + b) // 2]
    return out


class Client:
    def __init__(self, st, key):
        self.st = st
        self.key = key

    def stt(self, wav, fmt="verbose_json", key=None, fields=None,
            fname="turn.wav"):
        f = {"model": "whisper-1", "language": "he",
             "response_format": fmt, "temperature": "0"}
        f.update(fields or {})
        f = {k: v for k, v in f.items() if v is not None}
        ctype, body = standins.multipart(f, [("file", fname, "audio/wav",
                                              wav)])
        code, hd, out = standins.http(
            "POST", self.st.base + STT, body,
            {"Content-Type": ctype,
             "Authorization": "Bearer " + (key or self.key)})
        if fmt != "text" or code != 200:
            try:
                out = json.loads(out)
            except ValueError:
                pass
        else:
            out = out.decode("utf-8")
        return code, hd, out

    def chat(self, messages, stream=True, **kw):
        doc = {"model": "gpt-4o", "messages": messages, "temperature": 0.3}
        if stream:
            doc["stream"] = True
            doc["stream_options"] = {"include_usage": True}
        doc.update(kw)
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        hdrs = {"Content-Type": "application/json",
                "Authorization": "Bearer " + self.key}
        if not stream:
            code, hd, out = standins.http("POST", self.st.base + CHAT, body,
                                          hdrs)
            return code, hd, json.loads(out)
        return standins.raw_post(self.st.base, CHAT, hdrs, body)


TOOLS = [{"type": "function", "function": {
    "name": n, "description": d, "parameters": {"type": "object",
                                                "properties": {}}}}
    for n, d in (("book_viewing", "קביעת צפייה"),
                 ("transfer_to_human", "העברה לנציג"),
                 ("end_call", "סיום שיחה"))]
SYSTEM = {"role": "system", "content": "את נציגת שירות של שי דירות "
          "ומשרדים. עני בעברית, בקצרה."}


def stream_parts(chunks):
    """(content deltas, tool call deltas, finish, usage, done, errors,
    chunk ids) of a streamed answer."""
    payload = b"".join(chunks)
    deltas, tools, finish, usage, done, errors, ids = [], [], None, None, \
        False, [], set()
    events = standins.sse_events(payload)
    for i, ev in enumerate(events):
        if ev == "[DONE]":
            check(i == len(events) - 1, "[DONE] is not the last event")
            done = True
            continue
        d = json.loads(ev)
        if "error" in d:
            errors.append(d["error"])
            continue
        check(d["object"] == "chat.completion.chunk", "object %r" %
              d.get("object"))
        ids.add(d["id"])
        if not d["choices"]:
            usage = d["usage"]
            continue
        ch = d["choices"][0]
        if i == 0:
            check(ch["delta"].get("role") == "assistant",
                  "the first chunk carries no role: %s" % ev)
        if ch["delta"].get("content"):
            deltas.append(ch["delta"]["content"])
        if ch["delta"].get("tool_calls"):
            tools += ch["delta"]["tool_calls"]
        if ch["finish_reason"]:
            finish = ch["finish_reason"]
    return deltas, tools, finish, usage, done, errors, ids


def cut_inside(deltas, token):
    """True when some delta boundary falls strictly inside an occurrence
    of token in the reassembled text."""
    text = "".join(deltas)
    bounds = set()
    pos = 0
    for d in deltas:
        pos += len(d)
        bounds.add(pos)
    start = text.find(token)
    check(start >= 0, "%r not in the reply" % token)
    return any(start < b < start + len(token) for b in bounds)


def validate(v, s):
    """A small JSON Schema check for the analysis schema below."""
    t = s.get("type")
    types = t if isinstance(t, list) else [t]
    if v is None:
        return "null" in types
    if "enum" in s and v not in s["enum"]:
        return False
    if isinstance(v, bool):
        return "boolean" in types
    if isinstance(v, int) and ("integer" in types or "number" in types):
        return s.get("minimum", v) <= v <= s.get("maximum", v)
    if isinstance(v, str):
        return "string" in types
    if isinstance(v, list):
        return "array" in types and all(validate(x, s["items"]) for x in v)
    if isinstance(v, dict):
        return "object" in types and set(v) == set(s["required"]) and \
            all(validate(v[k], s["properties"][k]) for k in v)
    return False


ANALYSIS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["summary", "sentiment", "lead_score", "reasons",
                 "requirements"],
    "properties": {
        "summary": {"type": "string"},
        "sentiment": {"type": "string",
                      "enum": ["positive", "neutral", "negative"]},
        "lead_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "requirements": {
            "type": "object", "additionalProperties": False,
            "required": ["intent", "city", "rooms_min", "budget_max",
                         "parking"],
            "properties": {
                "intent": {"type": ["string", "null"],
                           "enum": ["buy", "rent", "sell", None]},
                "city": {"type": ["string", "null"]},
                "rooms_min": {"type": ["number", "null"]},
                "budget_max": {"type": ["integer", "null"]},
                "parking": {"type": ["boolean", "null"]}}}}}


def transcription_checks(st, c, ln):
    t = time.monotonic()
    wav = standins.speak(ln["rooms-budget"]["say"], ln["rooms-budget"]["wpm"])
    code, hd, out = c.stt(wav)
    e2e.delay("transcription of a 2.5 s line", time.monotonic() - t)
    check(code == 200, "transcription: %d %s" % (code, out))
    check(out["text"] == ln["rooms-budget"]["text"],
          "transcribed %r, want %r" % (out["text"], ln["rooms-budget"]["text"]))
    check(out["language"] == "hebrew" and out["segments"] and
          all(s["no_speech_prob"] < 0.1 and s["avg_logprob"] > -1
              for s in out["segments"]), "verbose_json segments: %s" % out)
    check(out["usage"]["type"] == "duration", "whisper-1 usage: %s" %
          out["usage"])
    check("x-request-id" in hd, "no x-request-id header")
    # The same line at 16 kHz, as json; another line as text.
    samples = standins.wav_samples(wav)
    code, _, out = c.stt(standins.wav_pcm16(upsample(samples), 16000),
                         fmt="json")
    check(code == 200 and out["text"] == ln["rooms-budget"]["text"],
          "16 kHz json transcription: %d %s" % (code, out))
    bye = ln["thanks-bye"]
    code, _, out = c.stt(standins.speak(bye["say"], bye["wpm"]),
                         fmt="verbose_json")
    check(code == 200 and out["text"] == bye["say"] and
          out["segments"][0]["no_speech_prob"] < 0.1,
          "a real 'תודה רבה' line: %d %s" % (code, out))
    code, _, out = c.stt(standins.speak(ln["name"]["say"], ln["name"]["wpm"]),
                         fmt="text")
    check(code == 200 and out.strip() == ln["name"]["say"],
          "text format: %d %r" % (code, out))
    e2e.say("transcription: scripted lines recognised (8 and 16 kHz, json, "
            "verbose_json, text)")

    # Silence and line noise: Whisper's hallucination, flagged.
    import random
    rnd = random.Random(7)
    noise = [int(rnd.gauss(0, 32768 * 10 ** (-30 / 20))) for _ in range(4800)]
    for label, wav2 in (("silence", standins.wav_pcm16([0] * 12000)),
                        ("noise", standins.wav_pcm16(noise))):
        code, _, out = c.stt(wav2)
        check(code == 200 and out["text"] == "תודה רבה." and
              all(s["no_speech_prob"] > 0.6 for s in out["segments"]),
              "%s: %d %s" % (label, code, out))
    e2e.say("transcription: silence and line noise hallucinate 'תודה רבה.' "
            "with no_speech_prob > 0.6")

    # Broken files.
    for label, bad in (("header says more than sent", wav[:len(wav) // 2]),
                       ("garbage", secrets.token_bytes(3000)),
                       ("no data chunk", wav[:36])):
        code, _, out = c.stt(bad)
        check(code == 400 and out["error"]["code"] == "invalid_value" and
              out["error"]["param"] == "file" and
              out["error"]["type"] == "invalid_request_error",
              "%s: %d %s" % (label, code, out))
    half = standins.wav_pcm16(samples[:len(samples) // 2])
    code, _, out = c.stt(half)
    check(code == 400 and out["error"]["code"] == "standin_truncated_audio",
          "audio cut short: %d %s" % (code, out))
    other = standins.speak("אני רוצה לשכור משרד ברמת גן, בערך מאה מטר.")
    code, _, out = c.stt(other)
    check(code == 400 and out["error"]["code"] ==
          "standin_unrecognized_audio", "unknown speech: %d %s" % (code, out))
    code, _, out = c.stt(wav, fields={"language": None})
    check(code == 400 and out["error"]["param"] == "language",
          "missing language: %d %s" % (code, out))
    code, _, out = c.stt(wav, fname="turn")
    check(code == 400 and "Invalid file format" in out["error"]["message"],
          "file name without extension: %d %s" % (code, out))
    e2e.say("transcription: corrupt, cut-short and unknown audio refused")

    # Auth and faults.
    wrong = "sk-test-" + secrets.token_hex(20)
    code, _, out = c.stt(wav, key=wrong)
    check(code == 401 and out["error"]["code"] == "invalid_api_key" and
          out["error"]["type"] == "invalid_request_error" and
          c.key not in json.dumps(out) and wrong not in json.dumps(out),
          "wrong key: %d %s" % (code, out))
    st.fail(STT, "429", 1, retry_after=2)
    code, hd, out = c.stt(wav)
    check(code == 429 and hd.get("retry-after") == "2" and
          out["error"]["code"] == "rate_limit_exceeded",
          "429: %d %s %s" % (code, hd.get("retry-after"), out))
    code, _, out = c.stt(wav)
    check(code == 200 and out["text"] == ln["rooms-budget"]["text"],
          "after the 429: %d %s" % (code, out))
    st.fail(STT, "quota", 1)
    code, hd, out = c.stt(wav)
    check(code == 429 and out["error"]["code"] == "insufficient_quota" and
          out["error"]["type"] == "insufficient_quota" and
          "retry-after" not in hd, "quota: %d %s" % (code, out))
    e2e.say("transcription: 401, 429 with Retry-After then 200, quota")


def chat_checks(st, c, ln):
    # A plain reply, streamed.
    rb = ln["rooms-budget"]
    t = time.monotonic()
    code, hd, chunks = c.chat([SYSTEM, {"role": "user", "content": rb["text"]}],
                              tools=TOOLS)
    e2e.delay("streamed reply", time.monotonic() - t)
    check(code == 200 and hd["content-type"].startswith("text/event-stream"),
          "stream: %d %s" % (code, hd))
    deltas, tools, finish, usage, done, errors, ids = stream_parts(chunks)
    check("".join(deltas) == rb["agent"], "reassembled %r, want %r" %
          ("".join(deltas), rb["agent"]))
    check(finish == "stop" and done and not errors and not tools and
          len(ids) == 1, "finish %s done %s errors %s" % (finish, done,
                                                         errors))
    check(usage and usage["total_tokens"] == usage["prompt_tokens"] +
          usage["completion_tokens"], "usage chunk: %s" % usage)
    for token in ("3.5", "מ״ר", "וכו׳", "₪2,950,000"):
        check(cut_inside(deltas, token), "no delta boundary inside %r: %s" %
              (token, deltas))
    # A chunk ending in a UTF-8 lead byte: the character goes on in the
    # next chunk.
    split = [ch for ch in chunks if ch and ch[-1] >= 0xC0]
    check(split, "no HTTP chunk ends inside a UTF-8 character")
    ev = ln["equity-viewing"]
    code, _, chunks = c.chat([SYSTEM, {"role": "user", "content": ev["text"]}],
                             tools=TOOLS)
    deltas = stream_parts(chunks)[0]
    check("".join(deltas) == ev["agent"] and cut_inside(deltas, "₪1,200,000"),
          "₪1,200,000 reply: %s" % deltas)
    e2e.say("chat: %d deltas reassemble to the script, cut inside 3.5, "
            "₪1,200,000, מ״ר, וכו׳ and inside UTF-8 across HTTP chunks" %
            len(deltas))

    # A tool call, then the round after its result.
    nm = ln["name"]
    msgs = [SYSTEM, {"role": "user", "content": nm["text"]}]
    code, _, chunks = c.chat(msgs, tools=TOOLS)
    deltas, tools, finish, usage, done, errors, _ = stream_parts(chunks)
    check(finish == "tool_calls" and done and "".join(deltas) ==
          nm["agent"][0]["content"], "tool turn: %s %s" % (finish, deltas))
    first = [t for t in tools if "id" in t]
    check(len(first) == 1 and first[0]["function"]["name"] == "book_viewing"
          and first[0]["function"]["arguments"] == "" and
          first[0]["type"] == "function", "tool call start: %s" % tools)
    pieces = [t["function"]["arguments"] for t in tools if "id" not in t]
    args = json.loads("".join(pieces))
    check(len(pieces) > 3 and
          args == nm["agent"][0]["tool_calls"][0]["arguments"],
          "arguments in %d pieces: %s" % (len(pieces), args))
    call = {"id": first[0]["id"], "type": "function", "function": {
        "name": "book_viewing", "arguments": "".join(pieces)}}
    msgs2 = msgs + [{"role": "assistant", "content": nm["agent"][0]["content"],
                     "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": call["id"],
                     "content": '{"ok": true, "appointment_id": 17}'}]
    code, _, chunks = c.chat(msgs2, tools=TOOLS)
    deltas, tools, finish = stream_parts(chunks)[:3]
    check("".join(deltas) == nm["agent"][1]["content"] and not tools and
          finish == "stop", "after the tool result: %s" % deltas)
    code, _, out = c.chat(msgs2[:-1], stream=False, tools=TOOLS)
    check(code == 400 and "tool_call_id" in out["error"]["message"],
          "a tool call without its result: %d %s" % (code, out))
    code, _, out = c.chat(msgs2, stream=False)
    check(code == 200 and out["choices"][0]["message"]["content"] ==
          nm["agent"][1]["content"], "non-streaming: %d %s" % (code, out))
    code, _, out = c.chat(msgs, stream=False)
    check(code == 400 and out["error"]["code"] == "standin_tool_not_offered",
          "a scripted tool the request does not offer: %d %s" % (code, out))
    e2e.say("chat: book_viewing arguments in %d pieces parse as the script; "
            "the tool round gets the next reply" % len(pieces))

    # An error in the middle of the stream, then a clean retry.
    st.fail(CHAT, "midstream", 1, after_chars=10)
    code, _, chunks = c.chat([SYSTEM, {"role": "user", "content": rb["text"]}],
                             tools=TOOLS)
    deltas, _, finish, _, done, errors, _ = stream_parts(chunks)
    check(code == 200 and errors and not done and finish is None and
          errors[0]["type"] == "server_error" and
          10 <= len("".join(deltas)) < len(rb["agent"]),
          "midstream: done %s errors %s deltas %s" % (done, errors, deltas))
    code, _, chunks = c.chat([SYSTEM, {"role": "user", "content": rb["text"]}],
                             tools=TOOLS)
    check("".join(stream_parts(chunks)[0]) == rb["agent"],
          "the retry after the midstream error")
    st.fail(CHAT, "500", 1)
    code, _, out = c.chat([SYSTEM, {"role": "user", "content": rb["text"]}],
                          stream=False)
    check(code == 500 and out["error"]["type"] == "server_error",
          "500: %d %s" % (code, out))
    e2e.say("chat: an error event mid-stream (no [DONE]), then a clean retry")

    # Post-call analysis.
    rf = {"type": "json_schema", "json_schema": {
        "name": "call_analysis", "strict": True, "schema": ANALYSIS_SCHEMA}}
    transcript = "\n".join("%s: %s" % (r, t) for r, t in (
        ("לקוח", rb["text"]), ("נציג", rb["agent"])))
    msgs = [{"role": "system", "content": "נתח את השיחה."},
            {"role": "user", "content": transcript}]
    code, _, out = c.chat(msgs, stream=False, response_format=rf)
    check(code == 200, "json_schema: %d %s" % (code, out))
    ans = json.loads(out["choices"][0]["message"]["content"])
    check(validate(ans, ANALYSIS_SCHEMA), "the analysis does not validate: "
          "%s" % ans)
    check(ans["lead_score"] == 85 and ans["requirements"]["city"] ==
          "תל אביב" and ans["requirements"]["parking"] is None,
          "the analysis ignores the scenario: %s" % ans)
    bad = json.loads(json.dumps(rf))
    del bad["json_schema"]["schema"]["properties"]["requirements"][
        "additionalProperties"]
    code, _, out = c.chat(msgs, stream=False, response_format=bad)
    check(code == 400 and "additionalProperties" in out["error"]["message"],
          "a schema strict mode cannot take: %d %s" % (code, out))
    code, _, out = c.chat([SYSTEM, {"role": "user",
                                    "content": "מה מזג האוויר מחר?"}],
                          stream=False)
    check(code == 400 and out["error"]["code"] ==
          "standin_unscripted_message", "unscripted: %d %s" % (code, out))
    e2e.say("chat: the json_schema answer validates; bad schema and "
            "unscripted text refused")


def directives_and_latency(env):
    """A scenario's own failure directives, and the stream pacing."""
    line = {"id": "hello", "say": "שלום, מדבר דני.",
            "agent": "שלום דני, במה אפשר לעזור?",
            "fail": [{"api": "transcription", "mode": "500", "count": 1},
                     {"api": "chat", "mode": "midstream", "count": 1,
                      "after_chars": 4}]}
    path = os.path.join(e2e.RUN_DIR, "directives.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"format": "merkazia-scenario/1", "name": "directives",
                   "caller": {"wpm": 175}, "steps": [line]}, f,
                  ensure_ascii=False)
    st = standins.StandIn("fake-openai", "--scenario", path, "--ttft-ms",
                          "150", "--tokens-per-s", "200", env=env,
                          name="fake-openai-directives")
    st.start()
    try:
        c = Client(st, env["OPENAI_API_KEY"])
        wav = standins.speak(line["say"], 175)
        code, _, out = c.stt(wav)
        check(code == 500 and out["error"]["type"] == "server_error",
              "directive: the first transcription: %d %s" % (code, out))
        code, _, out = c.stt(wav)
        check(code == 200 and out["text"] == line["say"],
              "directive: the retry: %d %s" % (code, out))
        msgs = [SYSTEM, {"role": "user", "content": line["say"]}]
        code, _, chunks = c.chat(msgs)
        p = stream_parts(chunks)
        check(p[5] and not p[4], "directive: no midstream error: %s" % (p,))
        t = time.monotonic()
        code, _, chunks = c.chat(msgs)
        took = time.monotonic() - t
        p = stream_parts(chunks)
        check("".join(p[0]) == line["agent"] and p[4] and not p[5],
              "directive: the chat retry: %s" % (p,))
        floor = 0.150 + len(p[0]) / 200.0
        e2e.delay("stream with ttft 150 ms and 200 tokens/s (%d deltas)" %
                  len(p[0]), took)
        check(took >= floor * 0.9, "the stream took %.3f s, under the "
              "configured %.3f s" % (took, floor))
    finally:
        check(st.stop() == 0, "the directives stand-in did not exit 0")
    e2e.say("scenario directives: a 500 and a midstream error once each, "
            "then success; ttft and token rate pace the stream")


def scenario():
    key = "sk-test-" + secrets.token_hex(20)
    env = dict(os.environ, OPENAI_API_KEY=key)
    record = os.path.join(e2e.RUN_DIR, "log", "openai.requests.log")
    t = time.monotonic()
    st = standins.StandIn("fake-openai", "--scenario", SCENARIO, "--record",
                          record, env=env)
    ready = st.start()
    e2e.delay("fake-openai ready (6 lines rendered)", time.monotonic() - t)
    check(ready["mode"] == "strict" and ready["scenario"] == "buyer_tel_aviv",
          "ready line: %s" % ready)
    c = Client(st, key)
    ln = lines()
    try:
        transcription_checks(st, c, ln)
        chat_checks(st, c, ln)
    finally:
        code = st.stop()
    check(code == 0, "fake-openai exited %s on SIGTERM" % code)
    check(standins.wait_port_closed(ready["listen"], e2e.T(2)),
          "the port is still open after the stop")
    recs = e2e.json_lines(record)
    check(len(recs) >= 30 and all("status" in r for r in recs),
          "%d requests recorded" % len(recs))
    auth = [r["headers"].get("Authorization") for r in recs]
    check(all(a == "Bearer (redacted)" for a in auth),
          "Authorization not redacted: %s" % set(auth))
    matched = [r for r in recs if (r.get("match") or {}).get("verdict") ==
               "match"]
    check(matched and all(r["match"]["score"] >= 0.9 for r in matched),
          "match scores: %s" % [r.get("match") for r in matched])
    for path in (record, st.log_path):
        with open(path, encoding="utf-8") as f:
            check(key not in f.read(), "the API key is in %s" % path)
    e2e.say("%d requests recorded, keys redacted; stopped with exit 0" %
            len(recs))

    directives_and_latency(env)

    # Demo mode: any caller gets a conversation.
    demo = standins.StandIn("fake-openai", "--demo", env=env,
                            name="fake-openai-demo")
    demo.start()
    try:
        dc = Client(demo, key)
        code, _, out = dc.stt(standins.speak("אני רוצה לשכור משרד ברמת גן."),
                              fmt="json")
        check(code == 200 and out["text"], "demo transcription: %d %s" %
              (code, out))
        code, _, chunks = dc.chat([SYSTEM, {"role": "user",
                                            "content": "מה מזג האוויר?"}])
        d = stream_parts(chunks)
        check(code == 200 and "".join(d[0]) and d[4], "demo chat: %s" % (d,))
    finally:
        check(demo.stop() == 0, "the demo stand-in did not exit 0")
    e2e.say("demo mode: unknown speech and text get Hebrew answers")


e2e.main(scenario)
