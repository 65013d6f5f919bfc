#!/usr/bin/env python3
"""Scenario: PostgreSQL is restarted in the middle of a call; every turn
of the call still reaches it.

The stack of 90_conversation_call.py takes one call of
tests/scenarios/short_buyer.json. Once the call's second turn row is in
PostgreSQL, the server is stopped (fast shutdown: crm-store's connection
is cut), stays down for 6 s while the conversation goes on (at least one
turn is written meanwhile), and is started again on the same socket. crm-store acknowledges the writes it
gets meanwhile after fsync to its own spool, reconnects and applies the
spool.
Asserts: the call ends ok; every caller and agent turn is in PostgreSQL,
in order, as said and heard; the call is completed; crm-store applied
writes from its spool (the outage was hit) and its spool is empty at the
end (nothing left unapplied); no problem at stop.
Prints how long the database was away (never asserted).
Why: issue #10, "nothing said is lost" when the database restarts
mid-call (an upgrade, a failover)."""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import fault_e2e  # noqa: E402
from e2e import T, check  # noqa: E402

# See 99_two_gateways.py: room for a slow sentence on a loaded machine.
# Long enough that the call's next turn is written while the database is
# away (the caller's next line ends about 4 s after the agent turn).
DOWN_S = 6.0


def spool_bytes(stack):
    d = stack.path("state", "spool")
    total = 0
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if name.startswith("crm-store"):
            total += os.path.getsize(os.path.join(d, name))
    return total


def scenario():
    stack = conv_e2e.start()
    bg, sid, before = fault_e2e.call_begun(stack, "sim-caller-pg-restart")
    t0 = time.monotonic()
    fault_e2e.pg_stop(stack)
    e2e.say("PostgreSQL stopped with %d turn rows of the call written" %
            before)
    time.sleep(DOWN_S)
    fault_e2e.pg_start(stack)
    e2e.delay("PostgreSQL away (stop to started again)",
              time.monotonic() - t0)
    _, after = fault_e2e.call_finished(stack, bg, sid, before, "restart")
    e2e.wait_for(lambda: spool_bytes(stack) == 0, T(20),
                 "crm-store's spool to be applied (%d bytes left)" %
                 spool_bytes(stack))
    slog = [l["msg"] for l in stack.log("crm-store")
            if "spool" in (l.get("msg") or "")]
    applied = [int(m.split()[2]) for m in slog
               if m.startswith("spool: applied ")]
    check(sum(applied) > 0, "no write went through crm-store's spool: the "
          "outage did not meet a write (%s)" % slog)
    e2e.say("crm-store spool lines: %d (e.g. %s)" % (len(slog), slog[:3]))
    e2e.say("%d turn rows, %d written after PostgreSQL stopped" %
            (after, after - before))
    code, report = stack.stop()
    check(report.get("problems") == [], "problems at stop: %s" %
          report.get("problems"))


e2e.main(scenario)
