#!/usr/bin/env python3
"""Scenario: barge-in and a backchannel in a live call. The stack of
90_conversation_call.py takes one call of tests/scenarios/bargein.json:
the caller's second line ("stop") starts 1.5 s into the agent's first
reply (a short sentence, then one of about six seconds), and its third
line, a 140 ms "כן", starts 500 ms into the second reply.
Asserts: the call ends normally; exactly one `clear` reached the caller,
during the "stop" line, and no media nor mark of the cut reply came after
it while the caller still spoke; the cut reply's turn row is interrupted,
its heard text is only the sentence whose mark came back (its generated
text the whole reply); the chat request answering "stop" carries, of the
cut reply, only that heard sentence; the "כן" made no clear, no caller
turn and no transcription, and the second reply was heard whole; no
warning at the gateway for the call. Prints "caller starts speaking ->
clear" (never asserted).
Why: a caller who talks over the agent must stop it at once, and what the
agent "said" must be only what was heard; a backchannel must not."""
import os
import re
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402

conv_e2e.SCENARIO = os.path.join(e2e.REPO, "tests", "scenarios",
                                 "bargein.json")


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def msg_text(m):
    c = m.get("content")
    if isinstance(c, list):
        return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return c or ""


def scenario():
    stack = conv_e2e.start()
    lines = {l["id"]: l for l in conv_e2e.lines()}
    call = conv_e2e.sim_call(stack, "sim-caller-bargein",
                             "--barge-in", "stop:1500",
                             "--barge-in", "yes:500",
                             "--reply-timeout-ms", "8000")
    turns = {t["id"]: t for t in call["turns"]}
    e2e.say("call: result %s, closed by %s, clears %s, turns %s" %
            (call["result"], call["closed_by"], call["clears"],
             call["turns"]))
    check(call["result"] == "ok", "the call failed: %s %s" %
          (call["result"], call.get("error")))
    check(call["protocol_errors"] == 0, "protocol errors: %s" %
          call["protocol_error_kinds"])
    check(sorted(turns) == ["stop", "want", "yes"],
          "the caller did not say every line: %s" % call["turns"])
    stop, yes = turns["stop"], turns["yes"]
    check(stop["barge_in"] and yes["barge_in"],
          "a line meant to start over the agent did not: %s" %
          call["turns"])

    # The barge-in: one clear, during "stop", nothing old after it.
    check(call["clears"] == 1, "%d clears, want 1" % call["clears"])
    check(stop["clear_ms"] is not None, "no clear during the barge-in")
    check(stop["media_after_clear"] == 0 and
          stop["marks_after_clear"] == [],
          "audio of the cut reply after the clear: %d media, marks %s" %
          (stop["media_after_clear"], stop["marks_after_clear"]))
    if stop["speech_start_ms"] is not None:
        e2e.delay("caller starts speaking -> clear",
                  (stop["clear_at_ms"] - stop["speech_start_ms"]) / 1000.0)

    # The backchannel: no clear, the agent went on.
    check(yes["clear_ms"] is None, "the backchannel made a clear")

    sid = call["call_sid"]
    rows = conv_e2e.call_rows(stack, sid, analysis=False)
    ts = rows["turns"]
    e2e.say("turns: %s" % [(t["seq"], t["speaker"], t["interrupted"],
                            t["heard_text"]) for t in ts])
    callers = [t for t in ts if t["speaker"] == "caller"]
    agents = [t for t in ts if t["speaker"] == "agent"]
    check([norm(t["heard_text"]) for t in callers] ==
          [norm(lines["want"]["say"]), norm(lines["stop"]["say"])],
          "caller turns %s (the backchannel must make none)" %
          [t["heard_text"] for t in callers])
    check(len(agents) == 2, "%d agent turns, want 2" % len(agents))
    cut, second = agents
    first_sentence = lines["want"]["agent"].split(". ")[0] + "."
    check(cut["interrupted"], "the cut reply is not marked interrupted")
    check(norm(cut["heard_text"]) == norm(first_sentence),
          "the cut reply's heard text is %r, want %r" %
          (cut["heard_text"], first_sentence))
    check(norm(cut["generated_text"]) == norm(lines["want"]["agent"]),
          "the cut reply's generated text is %r" % cut["generated_text"])
    check(len((cut["latency"] or {}).get("marks_heard", [])) == 1,
          "marks heard of the cut reply: %s" % cut["latency"])
    check(not second["interrupted"] and
          norm(second["heard_text"]) == norm(lines["stop"]["agent"]),
          "the reply talked through a backchannel was not heard whole: "
          "%s %r" % (second["interrupted"], second["heard_text"]))

    # What the LLM was told of the cut reply: only the heard part.
    chats = conv_e2e.openai_requests(stack, "/v1/chat/completions")
    asked = []
    for r in chats:
        msgs = (r.get("body") or {}).get("messages") or []
        users = [m for m in msgs if m.get("role") == "user"]
        if users and norm(msg_text(users[-1])) == norm(lines["stop"]["say"]):
            asked.append(msgs)
    check(asked, "no chat request answered the barge-in line")
    msgs = asked[0]
    idx = [i for i, m in enumerate(msgs) if m.get("role") == "user" and
           norm(msg_text(m)) == norm(lines["want"]["say"])]
    check(idx, "the chat request lacks the first caller line: %s" % msgs)
    said = [msg_text(m) for m in msgs[idx[0] + 1:-1]
            if m.get("role") == "assistant"]
    check([norm(s) for s in said] == [norm(first_sentence)],
          "the LLM was told the agent said %r, want only %r" %
          (said, first_sentence))

    stt = conv_e2e.openai_requests(stack, "/v1/audio/transcriptions")
    check(len(stt) == 2, "%d transcriptions, want 2 (no backchannel): %s" %
          (len(stt), [r.get("outcome") for r in stt]))
    glog = [l for l in stack.log("gateway") if l.get("call_sid") == sid]
    msgs = [l.get("msg") or "" for l in glog]
    check(any(m.startswith("barge-in:") for m in msgs),
          "the gateway logged no barge-in")
    e2e.say("backchannel: paused and resumed %d time(s); dropped %d "
            "utterance(s)" %
            (sum("short burst over the agent" in m for m in msgs),
             sum("was a backchannel" in m for m in msgs)))
    warns = [l["msg"] for l in glog if l.get("level") in ("warn", "error")]
    check(not warns, "gateway warnings: %s" % warns)
    code, report = stack.stop()
    check(not (report.get("problems") or []),
          "problems at stop: %s" % report.get("problems"))


e2e.main(scenario)
