#!/usr/bin/env python3
"""Scenario: a whole live conversation. The stack (real PostgreSQL with the
demo business, the six daemons, two tts-worker instances, stand-ins strict
with at most 50 ms of latency) takes one simulated call of
tests/scenarios/short_buyer.json: five caller turns, line noise, a viewing
booked and the agent ending the call.
Asserts: the call ends normally, closed by the gateway after the goodbye;
PostgreSQL holds the call (completed, a duration, the analysis' summary,
sentiment and lead score), ten turns alternating caller / agent, each
caller turn the line's transcript and each agent turn the scripted reply,
heard whole; the viewing request; the heard text of every agent turn is
exactly its sentences whose marks sim-caller reports as fully played (and
every mark the caller played belongs to a turn, the greeting or the
goodbye); the line noise was transcribed ("תודה רבה." with a high
no_speech_prob) but made no turn and no chat request; a reply whose TTS
results came back out of order (the 'rooms' reply's second sentence is in
the tts-worker's cache) was still heard in sentence order; no warning at
the gateway for the call. Prints each turn's latencies (never asserted).
Why: this is the product's main job; every stage and every row of a call
is on this path."""
import os
import re
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def scenario():
    stack = conv_e2e.start("--instances", "tts-worker=2")
    call = conv_e2e.sim_call(stack, "sim-caller-call", "--wav",
                             stack.path("heard.wav"))
    e2e.say("call: result %s, closed by %s (%s), %d turns, %s marks played"
            % (call["result"], call["closed_by"], call["close_code"],
               len(call["turns"]), call["marks_played"]))
    check(call["result"] == "ok", "the call failed: %s %s" %
          (call["result"], call.get("error")))
    check(call["closed_by"] == "gateway" and call["close_code"] == 1000,
          "the agent did not end the call after its goodbye")
    check(call["protocol_errors"] == 0, "protocol errors: %s" %
          call["protocol_error_kinds"])
    check(call["marks_pending"] == 0 and call["marks_cleared"] == 0,
          "marks pending or cleared: %s" % call["marks"])
    lines = conv_e2e.lines()
    check([t["id"] for t in call["turns"]] == [l["id"] for l in lines],
          "the caller did not say every line: %s" % call["turns"])
    check(all(t["reply_ms"] is not None for t in call["turns"]),
          "a line got no reply: %s" % call["turns"])

    sid = call["call_sid"]
    rows = conv_e2e.call_rows(stack, sid)
    c = rows["call"]
    e2e.say("call row: %s" % {k: c[k] for k in ("status", "duration_s",
                                                "sentiment",
                                                "lead_score")})
    check(c["status"] == "completed" and c["duration_s"] >= 20,
          "the call row is not completed with its duration: %s" % c)
    check(c["summary"] and c["sentiment"] and c["lead_score"] is not None,
          "no analysis in the call row: %s" % c)
    turns = rows["turns"]
    check(len(turns) == 2 * len(lines),
          "%d turn rows, not %d" % (len(turns), 2 * len(lines)))
    played = {m["name"] for m in call["marks"] if m["played"]}
    turn_marks = set()
    for i, line in enumerate(lines):
        ct, at = turns[2 * i], turns[2 * i + 1]
        check(ct["speaker"] == "caller" and at["speaker"] == "agent",
              "turns %d/%d are not caller/agent" % (ct["seq"], at["seq"]))
        check(norm(ct["heard_text"]) == norm(line.get("text", line["say"])),
              "caller turn %d: %r, not %r" % (ct["seq"], ct["heard_text"],
                                              line.get("text")))
        check(ct["stt_confidence"] is not None,
              "caller turn %d has no STT confidence" % ct["seq"])
        want = norm(conv_e2e.agent_text(line))
        check(norm(at["heard_text"]) == want,
              "agent turn %d heard %r, not %r" % (at["seq"],
                                                  at["heard_text"], want))
        check(not at["interrupted"], "agent turn %d interrupted" % at["seq"])
        marks = (at["latency"] or {}).get("marks_heard") or []
        check(marks and set(marks) <= played,
              "agent turn %d: marks %s were not all played (played: %s)" %
              (at["seq"], marks, sorted(played)))
        turn_marks |= set(marks)
    # The greeting and the goodbye are the only other items played.
    check(len(played - turn_marks) == 2,
          "played marks outside the turns: %s" % sorted(played - turn_marks))
    appts = rows["appointments"]
    check(len(appts) == 1 and appts[0]["status"] == "requested" and
          "ארלוזורוב" in (appts[0]["address"] or ""),
          "no viewing request for the call: %s" % appts)

    # Line noise: transcribed as Whisper's hallucination, yet no turn and
    # no chat request.
    reqs = conv_e2e.openai_requests(stack)
    noise = [r for r in reqs if r["path"] == "/v1/audio/transcriptions" and
             "noise" in (r.get("outcome") or "")]
    e2e.say("noise transcriptions: %s" % [r.get("outcome") for r in noise])
    check(noise, "the line noise never reached the transcription service "
          "(the VAD dropped it: fine, but then this check proves nothing)")
    chats = [r for r in reqs if r["path"] == "/v1/chat/completions"]
    check(not any("תודה רבה" in ((r.get("chat") or {}).get("last_user") or "")
                  for r in chats),
          "a chat request was made for the line noise")
    glog = stack.log("gateway")
    check(any("is no speech" in (l.get("msg") or "") for l in glog
              if l.get("call_sid") == sid),
          "the gateway did not log the noise as no speech")

    # Out of order: some sentence's audio came before an earlier one's.
    waited = [l["msg"] for l in glog if l.get("call_sid") == sid and
              "it waits its turn" in (l.get("msg") or "")]
    e2e.say("TTS results that came out of order: %d" % len(waited))
    check(waited, "no TTS result came out of order (the cached sentence "
          "should have)")
    warns = [l for l in glog if l.get("call_sid") == sid and
             l.get("level") in ("warn", "error", "fatal")]
    check(not warns, "gateway warnings for the call: %s" % warns[:3])
    conv_e2e.print_latencies(rows)
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
