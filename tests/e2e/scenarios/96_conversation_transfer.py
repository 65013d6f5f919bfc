#!/usr/bin/env python3
"""Scenario: the agent transfers a call to a person. The conversation
stack (demo business, transfer number +97235550199; the watchdog with a
2 s media timeout and a public URL, so it could redirect) takes one call
saying tests/scenarios/handoff.json's 'transfer' line; the scripted agent
answers and calls transfer_to_human.
Asserts: the caller heard the reply and then the transfer notice, all of
it (every mark played, none cleared); fake-twilio got exactly one update
of the call, Twiml <Response><Dial>+97235550199</Dial></Response>, with
Basic auth, recorded after the gateway logged the notice's mark; the
gateway then closed the stream (1000); the watchdog logged the handoff
and, even after more than its media timeout, made no redirect (still one
update); the call row is "transferred" with ended_at and duration; turn
rows caller then agent; no warning at the gateway for the call. A
second call whose transfer fake-twilio refuses (401, not retried): one
warning, the apology plays after the notice, the call goes on until the
caller hangs up, and its row is completed.
Why: a caller who asks for a person must reach one; a Record redirect
after a transfer would cut them off."""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import handoff_e2e as ho  # noqa: E402
from e2e import T, check  # noqa: E402

CALLER = "+972527770011"


def scenario():
    stack = ho.start()
    call = ho.say_call(stack, "sim-caller-transfer", "transfer", CALLER)
    sid = call["call_sid"]
    ho.check_gateway_ended(
        call, "the gateway did not close the stream after the transfer")
    check(call["marks_played"] >= 3,
          "greeting, reply and notice not all heard: %s" % call["marks"])

    # The notice's mark, then the update.
    glog = ho.gateway_lines(stack, sid)
    notice = [ln for ln in glog if "transfer notice played" in
              (ln.get("msg") or "")]
    check(len(notice) == 1, "the gateway did not log the notice's mark "
          "once: %s" % notice)
    ups = e2e.wait_for(lambda: ho.twilio_updates(stack, sid), T(10),
                       "fake-twilio to get the transfer")
    check(len(ups) == 1, "%d updates of the call: %s" % (len(ups), ups))
    up = ups[0]
    check(up["method"] == "POST" and up.get("status") == 200,
          "the update was %s, answered %s" % (up["method"], up.get("status")))
    check((up["headers"].get("Authorization") or "").startswith("Basic "),
          "no Basic auth on the transfer")
    check(up.get("update") == "Twiml" and up.get("verbs") == ["Dial"],
          "the transfer is %s %s, not Twiml [Dial]" %
          (up.get("update"), up.get("verbs")))
    check(up.get("twiml") == "<Response><Dial>%s</Dial></Response>" %
          ho.TRANSFER_NUMBER, "the TwiML is %r" % up.get("twiml"))
    check(up["ts"] >= notice[0]["ts"],
          "the update (%s) came before the notice's mark (%s)" %
          (up["ts"], notice[0]["ts"]))
    done = [ln for ln in glog if "call transferred" in (ln.get("msg") or "")]
    check(done, "the gateway did not log the transfer's success")
    e2e.say("notice heard %s, Twilio asked %s, transferred %s" %
            (notice[0]["ts"], up["ts"], done[0]["ts"]))

    # The watchdog: handoff, and no redirect even past its media timeout.
    def wd(decision):
        return [ln for ln in stack.log("watchdog")
                if ln.get("call_sid") == sid and
                ln.get("decision") == decision]
    e2e.wait_for(lambda: [ln for ln in stack.log("watchdog")
                          if ln.get("call_sid") == sid and
                          ln.get("event") == "handoff"], T(10),
                 "the watchdog to take the handoff")
    time.sleep(T(ho.MEDIA_TIMEOUT_MS / 1000.0 + 1.5))
    check(not wd("redirect"), "the watchdog redirected the transferred "
          "call: %s" % wd("redirect"))
    check(len(ho.twilio_updates(stack, sid)) == 1,
          "a second update of the transferred call")

    row = ho.call_row(stack, sid, "transferred")
    e2e.say("call row: %s" % row)
    check(row["ended_at"] and row["duration_s"] is not None,
          "the transferred call's AI part has no end: %s" % row)
    turns = ho.turns(stack, sid)
    check([t["speaker"] for t in turns] == ["caller", "agent"],
          "turn rows: %s" % turns)
    ho.check_no_warnings(stack, sid)

    # 2. Twilio refuses the transfer (401): the apology, and the call goes
    # on with the agent until the caller hangs up.
    tw = ho.standin_post(stack, "TWILIO_API_BASE_URL", "fail",
                         {"path": "*", "mode": "401", "count": 1})
    e2e.say("fake-twilio armed: %s" % tw)
    call = ho.say_call(stack, "sim-caller-transfer-refused", "transfer",
                       "+972527770012")
    sid = call["call_sid"]
    e2e.say("refused: result %s, closed by %s, marks %s" %
            (call["result"], call["closed_by"],
             [(m["name"], m["played"]) for m in call["marks"]]))
    check(call["result"] == "ok" and call["closed_by"] != "gateway",
          "the call did not go on after the refused transfer: %s by %s" %
          (call["result"], call["closed_by"]))
    check(call["marks_played"] >= 4 and call["marks_cleared"] == 0,
          "greeting, reply, notice and apology not all heard: %s" %
          call["marks"])
    glog = ho.gateway_lines(stack, sid)
    failed = [ln for ln in glog if "transfer failed" in
              (ln.get("msg") or "")]
    check(len(failed) == 1 and failed[0]["level"] == "warn" and
          "401" in failed[0]["msg"], "the refusal was not logged once as "
          "a warning: %s" % [ln.get("msg") for ln in glog])
    check(not [ln for ln in glog if "call transferred" in
               (ln.get("msg") or "")], "a refused transfer was taken as done")
    check(len(ho.twilio_updates(stack, sid)) == 1,
          "the refused transfer was retried")
    row = ho.call_row(stack, sid, "completed")
    e2e.say("refused transfer's call row: %s" % row)
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
