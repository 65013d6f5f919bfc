#!/usr/bin/env python3
"""Scenario: 20 simulated calls at once, each with its own correct
conversation.

sim-caller's load mode runs 20 calls of the short buyer scenario at the
same time against the whole stack (ASan daemons, two llm-worker and two
tts-worker instances, strict stand-ins). Every call must end ok, and in
PostgreSQL every call must be completed with exactly its own turns: each
caller line heard as said and each agent turn heard as the script's reply
to that line, in order, with no turn of another call mixed in. Prints the
aggregate latencies (never asserted).
Why: one gateway conducts many calls through shared stateless workers;
results that reached the wrong call, or a call starved by the others,
would show here and nowhere else."""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import fault_e2e  # noqa: E402
from e2e import check  # noqa: E402

CALLS = 20


def scenario():
    stack = conv_e2e.start("--instances", "tts-worker=2",
                           "--instances", "llm-worker=2")
    out = conv_e2e.sim_call(stack, "sim-caller-load", "--calls", str(CALLS),
                            "--concurrency", str(CALLS), "--interval-ms",
                            "100")
    check(isinstance(out, list), "sim-caller printed one line: %s" % out)
    calls = [c for c in out if "call_sid" in c]
    agg = [c for c in out if "aggregate" in c]
    if agg:
        e2e.say("aggregate: %s" % agg[-1]["aggregate"])
    check(len(calls) == CALLS, "%d call reports, not %d" % (len(calls),
                                                           CALLS))
    bad = [(c["call_sid"], c["result"], c.get("error")) for c in calls
           if c["result"] != "ok"]
    check(not bad, "calls that failed: %s" % bad)
    sids = [c["call_sid"] for c in calls]
    check(len(set(sids)) == CALLS, "call SIDs repeat: %s" % sids)
    lines = conv_e2e.lines()
    for c in calls:
        rows = fault_e2e.check_conversation(stack, c)
        check(rows["call"]["status"] == "completed",
              "call %s is not completed: %s" % (c["call_sid"], rows["call"]))
    replies = sorted(t["reply_ms"] for c in calls for t in c["turns"]
                     if t.get("reply_ms") is not None)
    if replies:
        e2e.delay("reply after the caller stopped, p50 over %d turns"
                  % len(replies), replies[len(replies) // 2] / 1000.0)
        e2e.delay("reply after the caller stopped, max",
                  replies[-1] / 1000.0)
    e2e.say("%d concurrent calls, each with its own %d-turn conversation"
            % (CALLS, len(lines)))


e2e.main(scenario)
