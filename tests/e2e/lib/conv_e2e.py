"""Helpers of the live-conversation scenarios
(tests/e2e/scenarios/9x_conversation_*.py).

Why this exists: each of those scenarios starts the whole stack (real
PostgreSQL seeded with the demo business, the six daemons, the stand-ins in
strict mode following tests/scenarios/short_buyer.json, latencies of at
most 50 ms), places calls with tools/sim-caller, and reads what the CRM
holds; written once here.

  s = start("--instances", "llm-worker=2")     # e2e.Stack, ready
  call = sim_call(s, "name")                    # sim-caller's JSON report
  rows = call_rows(s, call["call_sid"])        # {call, turns, appointments}

Standard library only; every wait is bounded (x MERKAZIA_TEST_TIMEOUT_MULT).
"""

import json
import os
import subprocess
import time

import e2e
import standins
from e2e import T, check

SCENARIO = os.path.join(e2e.REPO, "tests", "scenarios", "short_buyer.json")


def scenario():
    with open(SCENARIO, encoding="utf-8") as f:
        return json.load(f)


def lines():
    """The caller lines of the scenario, in order."""
    return [st for st in scenario()["steps"] if "say" in st]


def start(*args, sets=(), filler=False):
    """The conversation stack on SCENARIO. The late-reply filler is off
    unless asked for (94 tests it): on a loaded machine a reply slower than
    its threshold would add an agent phrase the scripted checks do not
    expect."""
    env = dict(os.environ)
    env["MERKAZIA_STANDIN_SCENARIO"] = SCENARIO
    env.pop("MERKAZIA_STANDIN_DEMO", None)
    argv = ["--set", "crm-store:MERKAZIA_STORE_DEMO=1"]
    if not filler:
        argv += ["--set", "gateway:MERKAZIA_FILLER_AFTER_MS=0"]
    for kv in sets:
        argv += ["--set", kv]
    st = e2e.Stack(*(argv + list(args)), env=env)
    st.start()
    # Stand-in latencies as the conventions ask (at most 50 ms).
    control(st, "OPENAI_BASE_URL", "config", {"latency_ms": 20})
    control(st, "GOOGLE_TTS_BASE_URL", "config", {"latency_ms": 50})
    wait_business(st)
    return st


def control(stack, setting, path, doc=None, method=None):
    base = stack.settings[setting]
    if base.endswith("/v1"):
        base = base[:-3]
    method = method or ("POST" if doc is not None else "GET")
    code, _, body = standins.http(
        method, base + "/_standin/" + path,
        json.dumps(doc).encode() if doc is not None else None,
        {"Content-Type": "application/json"})
    check(code == 200, "%s %s: %d %s" % (setting, path, code, body[:200]))
    return json.loads(body)


def openai_requests(stack, path=None):
    return [r for r in control(stack, "OPENAI_BASE_URL", "requests")
            ["requests"] if path is None or r.get("path") == path]


def wait_business(stack):
    """The gateway loaded the demo business from crm-store."""
    e2e.wait_for(lambda: any("business 1 " in (l.get("msg") or "")
                             for l in stack.log("gateway")),
                 T(20), "the gateway to load business 1 from crm-store")


def sim_call(stack, name, *args):
    """Run one simulated call of the scenario; return its JSON report."""
    log = stack.path("log", name + ".log")
    with open(log, "w", encoding="utf-8") as err:
        p = subprocess.run(
            [os.path.join(e2e.BIN, "sim-caller"), "--env",
             stack.ready["env"], "--scenario", SCENARIO, "--max-call-ms",
             str(int(T(80) * 1000))] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            timeout=T(120), check=False)
    out = [l for l in p.stdout.decode("utf-8").splitlines() if l.strip()]
    check(out, "%s printed nothing (see %s)" % (name, log))
    return json.loads(out[-1]) if len(out) == 1 else [json.loads(l)
                                                       for l in out]


def sql(stack, query):
    code, out, err = e2e.run(["psql", stack.settings["DATABASE_URL"], "-X",
                              "-At", "-c", query])
    check(code == 0, "psql failed: %s" % err[-300:])
    return out.strip()


def call_rows(stack, sid, analysis=True):
    """Wait until the call is completed (and analysed) in PostgreSQL;
    return {call, turns, appointments}."""
    q = ("SELECT json_build_object("
         "'call', (SELECT row_to_json(c) FROM (SELECT status, duration_s, "
         "business_id, summary, sentiment, lead_score FROM calls WHERE "
         "call_sid = '%s') c), "
         "'turns', (SELECT coalesce(json_agg(t ORDER BY t.seq), '[]') FROM "
         "(SELECT seq, speaker, heard_text, generated_text, start_ms, "
         "end_ms, interrupted, stt_confidence, latency FROM turns WHERE "
         "call_sid = '%s') t), "
         "'appointments', (SELECT coalesce(json_agg(a), '[]') FROM "
         "(SELECT requested_text, address, status FROM appointments WHERE "
         "call_sid = '%s') a))" % (sid, sid, sid))

    def ready():
        d = json.loads(sql(stack, q))
        c = d.get("call") or {}
        if c.get("status") != "completed":
            return None
        if analysis and not c.get("summary"):
            return None
        return d
    return e2e.wait_for(ready, T(20), "call %s completed%s in the CRM" %
                        (sid, " and analysed" if analysis else ""),
                        interval=0.3)


def agent_text(step):
    """What the scenario's agent says to a line (every response joined)."""
    a = step.get("agent")
    if isinstance(a, str):
        return a
    if isinstance(a, dict):
        a = [a]
    return " ".join(r.get("content") or "" for r in a if r.get("content"))


def print_latencies(rows):
    for t in rows["turns"]:
        if t["speaker"] != "agent":
            continue
        lat = t["latency"] or {}
        e2e.delay("turn %d: end of speech -> first reply frame" % t["seq"],
                  (lat.get("end_of_turn_ms", 0) +
                   lat.get("first_frame_ms", 0)) / 1000.0)
        e2e.say("turn %d stages: stt %s ms, llm first sentence %s ms, "
                "tts %s ms" % (t["seq"], lat.get("stt_ms"),
                               lat.get("llm_first_sentence_ms"),
                               lat.get("tts_ms")))
