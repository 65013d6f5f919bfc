#!/usr/bin/env python3
"""Scenario: crm-store is killed in the middle of a call, stays down for
5 s and comes back; every turn of the call still reaches PostgreSQL.

The stack of 90_conversation_call.py takes one call of
tests/scenarios/short_buyer.json. Once the call's second turn row is in
PostgreSQL, crm-store is SIGKILLed (anything it had received but not yet
acknowledged dies with it); 5 s later tools/stack starts it again
(SIGUSR1) while the conversation goes on. The gateway's store client
keeps every write until it is acknowledged: the writes it sent to the
dead crm-store, and those made while it was down, are re-sent or spooled
and replayed.
Asserts: the call ends ok; at least one turn ended (its row was written)
while crm-store was down; every caller and agent turn is in PostgreSQL,
in order, as said and heard; the call is completed; the stack's only
problem at stop is none (the killed crm-store is listed as restarted).
Prints how long crm-store was down and what the gateway's client re-sent
or spooled (never asserted).
Why: issue #10, "nothing said is lost" when the store dies mid-call."""
import datetime
import os
import signal
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import fault_e2e  # noqa: E402
from e2e import T, check  # noqa: E402

# See 99_two_gateways.py: room for a slow sentence on a loaded machine.
DOWN_S = 5.0


def wall(ts):
    """Seconds since the epoch of a log line's ts (UTC, ms)."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def scenario():
    stack = conv_e2e.start()
    bg, sid, before = fault_e2e.call_begun(stack, "sim-caller-store-kill")
    w_kill = time.time()
    t_kill = stack.kill("crm-store", signal.SIGKILL)
    e2e.say("crm-store killed with %d turn rows of the call written" %
            before)
    time.sleep(DOWN_S)
    w_back = time.time()
    took = fault_e2e.restart(stack, "crm-store")
    e2e.delay("crm-store down (kill to READY=1 of the new one)",
              time.monotonic() - t_kill)
    e2e.delay("crm-store restart to READY=1", took)
    _, after = fault_e2e.call_finished(stack, bg, sid, before, "kill")
    # A turn ended (so its row was written) while crm-store was dead.
    ended = [l for l in stack.log("gateway") if l.get("call_sid") == sid and
             (l.get("msg") or "").startswith(("caller said", "agent said"))
             and w_kill < wall(l["ts"]) < w_back]
    check(ended, "no turn of the call ended while crm-store was down")
    e2e.say("%d turn(s) ended while crm-store was down" % len(ended))
    glog = [l for l in stack.log("gateway")
            if "spool" in (l.get("msg") or "") or
            "sent again" in (l.get("msg") or "")]
    e2e.say("gateway store-client lines: %d (e.g. %s)" %
            (len(glog), [l["msg"] for l in glog[:3]]))
    e2e.say("%d turn rows, %d written after crm-store was killed" %
            (after, after - before))
    code, report = stack.stop()
    check(report.get("problems") == [], "problems at stop: %s" %
          report.get("problems"))
    check([r["daemon"] for r in report.get("restarted", [])] ==
          ["crm-store"], "restarted: %s" % report.get("restarted"))


e2e.main(scenario)
