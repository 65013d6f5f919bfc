#!/usr/bin/env python3
"""Scenario: a live conversation survives a failing transcription and the
death of an llm-worker in the middle of a turn. The stack of
90_conversation_call.py with two llm-worker instances and the gateway
re-sending an LLM job with no sentence after 2 s takes one call of
tests/scenarios/short_buyer.json, with the OpenAI stand-in armed so that
the first utterance's transcription fails on every attempt (500) and the
first chat request hangs. While it hangs, the llm-worker holding it (the
one with a connection to the stand-in) is killed with SIGKILL.
Asserts: the call ends normally with every line answered (the first with
the apology); the failed utterance made no turn and the gateway logged it
as not transcribed (a warning, the only one); the LLM job was sent again
(attempt 2) and its reply was heard whole, in the turn row; the rest of
the conversation, the viewing request and the call's completion are in
PostgreSQL; the stack's only problem at stop is the killed worker.
Prints when the reply arrived after the kill (never asserted).
Why: workers die and providers fail; "nothing said is lost" and "the call
goes on" are what the caller notices."""
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
from e2e import T, check  # noqa: E402


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except OSError:
        pass
    return out


def talks_to(pid, port):
    """True when pid has an established TCP connection to 127.0.0.1:port."""
    inodes = socket_inodes(pid)
    with open("/proc/net/tcp", encoding="ascii") as f:
        next(f)
        for line in f:
            p = line.split()
            if (int(p[2].split(":")[1], 16) == port and p[3] == "01" and
                    p[9] in inodes):
                return True
    return False


def scenario():
    stack = conv_e2e.start(
        "--instances", "llm-worker=2",
        sets=["gateway:MERKAZIA_JOB_LLM_RESEND_MS=2000"])
    conv_e2e.control(stack, "OPENAI_BASE_URL", "fail", [
        {"path": "/v1/audio/transcriptions", "mode": "500", "count": 3},
        {"path": "/v1/chat/completions", "mode": "hang", "count": 1}])
    port = int(stack.settings["OPENAI_BASE_URL"].split(":")[2].split("/")[0])
    killed = {}

    def killer():
        end = time.monotonic() + T(60)
        while time.monotonic() < end and not killed:
            hung = [r for r in conv_e2e.openai_requests(
                stack, "/v1/chat/completions") if r.get("status") is None]
            if hung:
                for name in ("llm-worker", "llm-worker@1"):
                    if talks_to(stack.pid(name), port):
                        stack.kill(name, signal.SIGKILL)
                        killed[name] = time.monotonic()
                        return
            time.sleep(0.05)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    call = conv_e2e.sim_call(stack, "sim-caller-faults")
    th.join(timeout=T(5))
    e2e.say("call: result %s, closed by %s, killed %s" %
            (call["result"], call["closed_by"], list(killed)))
    check(killed, "no llm-worker was found holding the hung request")
    check(call["result"] == "ok", "the call failed: %s %s" %
          (call["result"], call.get("error")))
    check(all(t["reply_ms"] is not None for t in call["turns"]),
          "a line got no reply: %s" % call["turns"])
    check(call["closed_by"] == "gateway", "the agent did not end the call")

    sid = call["call_sid"]
    rows = conv_e2e.call_rows(stack, sid)
    lines = conv_e2e.lines()
    callers = [t["heard_text"] for t in rows["turns"]
               if t["speaker"] == "caller"]
    want = [l.get("text", l["say"]) for l in lines[1:]]
    check([norm(x) for x in callers] == [norm(x) for x in want],
          "caller turns %s, not %s (the failed first line makes none)" %
          (callers, want))
    agents = [t for t in rows["turns"] if t["speaker"] == "agent"]
    check(norm(agents[0]["heard_text"]) ==
          norm(conv_e2e.agent_text(lines[1])),
          "the reply of the killed worker's turn was not heard: %r" %
          agents[0]["heard_text"])
    check(len(rows["appointments"]) == 1, "no viewing request")
    glog = [l for l in stack.log("gateway") if l.get("call_sid") == sid]
    check(any("not transcribed" in (l.get("msg") or "") for l in glog),
          "the STT failure was not logged")
    resent = [l for l in glog if "sent again (attempt 2" in
              (l.get("msg") or "") and "llm job" in l["msg"]]
    check(resent, "the LLM job was not sent again")
    warns = [l["msg"] for l in glog if l.get("level") in ("warn", "error")]
    check(all("not transcribed" in w for w in warns),
          "unexpected gateway warnings: %s" % warns)
    said = [l for l in glog if (l.get("msg") or "").startswith("agent said")]
    if said and killed:
        e2e.say("first agent reply logged %s" % said[0]["ts"])
    code, report = stack.stop()
    problems = report.get("problems") or []
    check(all(list(killed)[0] in p for p in problems),
          "problems at stop beyond the killed worker: %s" % problems)


e2e.main(scenario)
