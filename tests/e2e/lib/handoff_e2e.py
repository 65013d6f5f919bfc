"""Helpers of the scenarios about how calls end and whom they greet
(tests/e2e/scenarios/96_conversation_transfer.py,
97_conversation_known_caller.py, 98_conversation_hangup.py).

Why this exists: those scenarios start the conversation stack of
conv_e2e with the stand-ins following tests/scenarios/handoff.json, and
place short calls of ONE line each (sim-caller --say) from a caller ID of
their choosing; they then read fake-twilio's call updates, fake-google's
synthesis requests and the CRM rows. Written once here.

  s = start()                                  # conv stack, watchdog fast
  call = say_call(s, "name", "transfer")        # sim-caller's JSON report
  ups = twilio_updates(s, call["call_sid"])    # fake-twilio's records

Standard library only; every wait is bounded (x MERKAZIA_TEST_TIMEOUT_MULT).
"""

import json
import os
import subprocess

import conv_e2e
import e2e
import standins
from e2e import T, check

SCENARIO = os.path.join(e2e.REPO, "tests", "scenarios", "handoff.json")
# The demo business (crm-store/migrations/demo.sql).
BUSINESS_NUMBER = "+97235550100"
TRANSFER_NUMBER = "+97235550199"
# Never contacted: the watchdog only puts it in its Record TwiML.
PUBLIC_URL = "https://calls.merkazia.test"
MEDIA_TIMEOUT_MS = 2000


def scenario():
    with open(SCENARIO, encoding="utf-8") as f:
        return json.load(f)


def line(line_id):
    for st in scenario()["steps"]:
        if st.get("id") == line_id:
            return st
    raise e2e.Fail("no line %s in %s" % (line_id, SCENARIO))


def start(*args, sets=()):
    """The conversation stack on handoff.json; the watchdog with a short
    media timeout, so a wrong redirect would show within the scenario."""
    conv_e2e.SCENARIO = SCENARIO
    return conv_e2e.start(*args, sets=[
        "watchdog:MERKAZIA_PUBLIC_URL=" + PUBLIC_URL,
        "watchdog:MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS=%d" % MEDIA_TIMEOUT_MS,
    ] + list(sets))


def say_call_argv(stack, line_id, from_number, *args):
    st = line(line_id)
    return [os.path.join(e2e.BIN, "sim-caller"), "--env",
            stack.ready["env"], "--say", st["say"], "--wpm",
            str(scenario()["caller"]["wpm"]), "--from", from_number,
            "--to", BUSINESS_NUMBER, "--max-call-ms",
            str(int(T(60) * 1000))] + list(args)


def say_call(stack, name, line_id, from_number, *args):
    """One call saying the scenario's line line_id; return the report."""
    log = stack.path("log", name + ".log")
    with open(log, "w", encoding="utf-8") as err:
        p = subprocess.run(say_call_argv(stack, line_id, from_number, *args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=err, timeout=T(80), check=False)
    out = [ln for ln in p.stdout.decode("utf-8").splitlines() if ln.strip()]
    check(len(out) == 1, "%s printed %d lines (see %s)" % (name, len(out),
                                                           log))
    return json.loads(out[0])


def standin(stack, setting, path):
    base = stack.settings[setting].rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    code, _, body = standins.http("GET", base + "/_standin/" + path, None,
                                  {})
    check(code == 200, "%s %s: %d" % (setting, path, code))
    return json.loads(body)


def standin_post(stack, setting, path, doc):
    base = stack.settings[setting].rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    code, _, body = standins.http("POST", base + "/_standin/" + path,
                                  json.dumps(doc).encode(),
                                  {"Content-Type": "application/json"})
    check(code == 200, "%s %s: %d %s" % (setting, path, code, body[:200]))
    return json.loads(body)


def twilio_updates(stack, call_sid):
    """fake-twilio's records of requests on the call's resource."""
    want = "/Calls/%s.json" % call_sid
    return [r for r in standin(stack, "TWILIO_API_BASE_URL",
                               "requests")["requests"]
            if (r.get("path") or "").endswith(want)]


def tts_requests(stack):
    """fake-google's records of synthesis requests."""
    return [r for r in standin(stack, "GOOGLE_TTS_BASE_URL",
                               "requests")["requests"]
            if "synthesize" in (r.get("path") or "")]


def call_row(stack, sid, status):
    """Wait until the call's row has status; return it."""
    q = ("SELECT row_to_json(c) FROM (SELECT status, duration_s, ended_at "
         "FROM calls WHERE call_sid = '%s') c" % sid)

    def ready():
        out = conv_e2e.sql(stack, q)
        row = json.loads(out) if out else None
        return row if row and row.get("status") == status else None
    return e2e.wait_for(ready, T(20), "call %s %s in the CRM" % (sid, status),
                        interval=0.3)


def turns(stack, sid):
    out = conv_e2e.sql(stack, "SELECT coalesce(json_agg(t ORDER BY t.seq), "
                       "'[]') FROM (SELECT seq, speaker, heard_text, "
                       "generated_text, interrupted FROM turns WHERE "
                       "call_sid = '%s') t" % sid)
    return json.loads(out)


def gateway_lines(stack, sid, levels=None):
    return [ln for ln in stack.log("gateway") if ln.get("call_sid") == sid and
            (levels is None or ln.get("level") in levels)]


def check_no_warnings(stack, sid):
    bad = gateway_lines(stack, sid, ("warn", "error", "fatal"))
    check(not bad, "gateway warnings for call %s: %s" % (sid, bad[:3]))


def check_gateway_ended(call, why):
    """Say how call (sim-caller's report) went; check it went well, that
    the gateway closed the stream (1000, else why) and that no mark was
    left pending or cleared."""
    e2e.say("call: result %s, closed by %s (%s), marks %s" %
            (call["result"], call["closed_by"], call["close_code"],
             [(m["name"], m["played"]) for m in call["marks"]]))
    check(call["result"] == "ok", "the call failed: %s %s" %
          (call["result"], call.get("error")))
    check(call["closed_by"] == "gateway" and call["close_code"] == 1000, why)
    check(call["marks_pending"] == 0 and call["marks_cleared"] == 0,
          "marks pending or cleared: %s" % call["marks"])
