#!/usr/bin/env python3
"""Scenario: the watchdog saves calls whose media stream is dead, and only
those. tools/stack runs the gateway, the watchdog (start timeout 1.5 s,
media timeout 2 s, MERKAZIA_PUBLIC_URL set), crm-store and fake-twilio.
  1. sim-caller --no-start (the WebSocket opens, `start` never comes):
     the watchdog updates the call at fake-twilio once, with HTTP Basic
     auth, on the call's own resource, with TwiML holding a Hebrew
     <Say language="he-IL"> and <Record> whose action and
     recordingStatusCallback are the absolute public URLs; exactly one
     update, even long after.
  2. a normal greeting call that stops cleanly: no update at all, and the
     watchdog logs watch then forget.
  3. a call whose stream breaks while live (sim-caller --no-stop: media
     for 1.5 s, then a close with no `stop`: the "greeting, then silence"
     of the prototype): one update, reason stalled.
Prints the delays (webhook -> redirect); asserts order and outcome.
Why: this is the prototype's worst failure, and a redirect of a healthy
call would be as bad as none."""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import watchdog_e2e as wd  # noqa: E402
from e2e import T, check  # noqa: E402


def scenario():
    stack = wd.start()
    tw = wd.Twilio(stack)

    # 1. The stream never starts.
    t0 = time.monotonic()
    p = wd.sim_caller_start(stack, "sim-caller-no-start", "--no-start",
                            "--hangup-after", "4000")
    sid = e2e.wait_for(lambda: wd.first_call_sid(stack), T(10),
                       "the watchdog to watch the no-start call")
    red, t_red = wd.wait_decision(stack, sid, "redirect",
                                  wd.START_TIMEOUT_MS / 1000 + 5)
    check(red["reason"] == "never_started", "reason %s" % red["reason"])
    ok, t_ok = wd.wait_decision(stack, sid, "redirected", 15)
    call = wd.sim_caller_wait(p)
    check(call["call_sid"] == sid, "the watchdog watched %s, the caller "
          "was %s" % (sid, call["call_sid"]))
    check(not call["start_sent"], "sim-caller sent start")
    e2e.delay("no-start: webhook -> redirect decided", t_red - t0)
    e2e.delay("no-start: webhook -> Twilio answered", t_ok - t0)
    ups = tw.updates(sid)
    check(len(ups) == 1, "%d updates for the no-start call" % len(ups))
    wd.check_record_update(ups[0], sid, tw)
    check(ups[0]["status"] == 200, "fake-twilio answered %s" %
          ups[0]["status"])
    check(ok["outcome"] == "ok" and ok["attempts"] == 1,
          "redirect outcome %s after %s attempts" % (ok["outcome"],
                                                     ok["attempts"]))

    # 2. A normal call: greeting heard, stop, clean close.
    good = wd.sim_caller(stack, "sim-caller-normal")
    check(good["result"] == "ok" and good["stop_sent"],
          "the normal call did not end normally: %s" % good["result"])
    gsid = good["call_sid"]
    wd.wait_decision(stack, gsid, "forget", 10)
    # Give the watchdog more than both timeouts to make a mistake.
    time.sleep(T((max(wd.START_TIMEOUT_MS, wd.MEDIA_TIMEOUT_MS) + 1500) /
                 1000.0))
    kinds = [d["decision"] for d in wd.decisions(stack, gsid)]
    check(kinds == ["watch", "forget"], "decisions for the normal call: "
          "%s" % kinds)
    check(tw.updates(gsid) == [], "the normal call was updated")

    # 3. Media stops while the call is live (no stop, no end).
    t0 = time.monotonic()
    dead = wd.sim_caller(stack, "sim-caller-no-stop", "--no-stop",
                         "--hangup-after", "1500")
    t_hang = time.monotonic()
    check(dead["start_sent"] and not dead["stop_sent"],
          "sim-caller --no-stop: start_sent=%s stop_sent=%s" %
          (dead["start_sent"], dead["stop_sent"]))
    dsid = dead["call_sid"]
    red, t_red = wd.wait_decision(stack, dsid, "redirect",
                                  wd.MEDIA_TIMEOUT_MS / 1000 + 5)
    check(red["reason"] == "stalled", "reason %s" % red["reason"])
    wd.wait_decision(stack, dsid, "redirected", 15)
    e2e.delay("stall: caller gone -> redirect decided", t_red - t_hang)
    e2e.delay("stall: call start -> redirect decided", t_red - t0)
    ups = tw.updates(dsid)
    check(len(ups) == 1, "%d updates for the stalled call" % len(ups))
    wd.check_record_update(ups[0], dsid, tw)
    kinds = [d["decision"] for d in wd.decisions(stack, dsid)]
    check(kinds.index("watch") < kinds.index("redirect") <
          kinds.index("redirected"), "decisions out of order: %s" % kinds)

    # Still exactly one update for the first call, long after.
    check(len(tw.updates(sid)) == 1, "the no-start call was updated again")
    check(not wd.decisions(stack, decision="redirect_failed"),
          "a redirect failed")

    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
