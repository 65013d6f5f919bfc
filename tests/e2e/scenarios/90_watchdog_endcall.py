#!/usr/bin/env python3
"""Scenario: a call the agent ends (end_call) is never redirected. The
whole stack (real PostgreSQL with the demo business, the six daemons,
strict stand-ins following tests/scenarios/short_buyer.json; the watchdog
with MERKAZIA_PUBLIC_URL and a 2 s media timeout) takes one simulated
call: five caller turns, then the agent's end_call, the goodbye and the
gateway's hang-up.
Asserts: the call ends normally; the gateway published "handoff" when
the agent ended the call and the watchdog stopped watching it then
(decision forget, event handoff), and after more than the media timeout
fake-twilio has no update for the call and the watchdog no redirect,
no not_redirected and no redirect_failed line.
Why: redirecting a call the agent has just said goodbye on would put a
caller who is done into a voicemail apology."""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import watchdog_e2e as wd  # noqa: E402
from e2e import T, check  # noqa: E402


def scenario():
    stack = wd.conv_start()
    tw = wd.Twilio(stack)
    call = conv_e2e.sim_call(stack, "sim-caller-endcall")
    check(call["result"] == "ok", "the call failed: %s %s" %
          (call["result"], call.get("error")))
    check(call["closed_by"] == "gateway",
          "the agent did not end the call: closed by %s" %
          call["closed_by"])
    sid = call["call_sid"]
    fg, _ = wd.wait_decision(stack, sid, "forget", 10)
    check(fg["event"] == "handoff",
          "the watchdog forgot the call on %s, not on the agent's "
          "handoff" % fg["event"])
    time.sleep(T(wd.MEDIA_TIMEOUT_MS / 1000.0 + 1.5))
    kinds = [d["decision"] for d in wd.decisions(stack, sid)]
    check(kinds[0] == "watch" and kinds[-1] == "forget" and
          not set(kinds) & {"redirect", "redirected", "not_redirected",
                            "redirect_failed"},
          "decisions for the ended call: %s" % kinds)
    check(tw.updates(sid) == [], "the ended call was updated at Twilio: "
          "%s" % tw.updates(sid))
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
