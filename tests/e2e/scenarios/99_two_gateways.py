#!/usr/bin/env python3
"""Scenario: two gateways share one pool of workers; every result returns
to the gateway that sent the job.

tools/stack starts two gateways (--instances gateway=2: gateway and
gateway@1, each binding its own job, result, cancel, call-event and
heartbeat endpoints and listening on its own port), one stt-worker, two
llm-workers and one tts-worker connected to both, crm-store and the
watchdog. sim-caller places CALLS calls of tests/scenarios/short_buyer.json
on each gateway at the same time.
Asserts: every call ends ok; every call is completed in PostgreSQL with
exactly its own turns, in order, as said and heard; each call was handled
by the gateway it was placed on (its log); neither gateway got a result
of a job it did not send (merkazia_job_results_total{result="unknown"} is
0 on both) nor had to send a job again; both gateways see every worker
(their /readyz); the watchdog watched every call of both; no problem at
stop.
Why: issue #9, several gateways in front of one pool of stateless
workers (design: each gateway binds its own results endpoint, the job's
reply address)."""
import os
import re
import sys
import threading

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
import fault_e2e  # noqa: E402
import standins  # noqa: E402
from e2e import T, check  # noqa: E402

CALLS = 2
# The caller speaks after this much agent silence. Above sim-caller's
# default (700 ms): on a loaded machine (ASan, 2 shared cores) a reply's
# next sentence can take longer than that, and a caller line spoken into
# it is a barge-in the strict stand-in does not expect.
PAUSE_MS = 2000
GATEWAYS = ["gateway", "gateway@1"]


def metric(text, name, labels):
    m = re.search(r"^%s\{%s\} (\d+)" % (re.escape(name), re.escape(labels)),
                  text, re.M)
    return int(m.group(1)) if m else None


def get(listen, path):
    code, _, body = standins.http("GET", "http://%s%s" % (listen, path))
    return code, body.decode("utf-8", "replace")


def scenario():
    stack = conv_e2e.start("--instances", "gateway=2",
                           "--instances", "llm-worker=2")
    listens = stack.ready.get("listens") or {}
    check(sorted(listens) == GATEWAYS and all(listens.values()),
          "the ready line lists no address per gateway: %s" % stack.ready)
    check(stack.settings.get("MERKAZIA_LISTEN_1") == listens["gateway@1"],
          "stack.env has no MERKAZIA_LISTEN_1")
    # Both gateways hear every worker's heartbeat.
    for gw in GATEWAYS:
        def ready(gw=gw):
            code, body = get(listens[gw], "/readyz")
            return code == 200 and body
        e2e.wait_for(ready, T(20), "%s /readyz 200" % gw, interval=0.2)

    out = {}

    def place(gw):
        out[gw] = conv_e2e.sim_call(
            stack, "sim-caller-" + gw.replace("@", "-"), "--gateway",
            listens[gw], "--calls", str(CALLS), "--concurrency", str(CALLS),
            "--interval-ms", "200", "--pause-ms", str(PAUSE_MS))
    threads = [threading.Thread(target=place, args=(gw,), daemon=True)
               for gw in GATEWAYS]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=T(150))
    check(all(gw in out for gw in GATEWAYS), "a load run did not finish: "
          "%s" % list(out))

    sids = {}
    for gw in GATEWAYS:
        calls = [c for c in out[gw] if "call_sid" in c] \
            if isinstance(out[gw], list) else [out[gw]]
        check(len(calls) == CALLS, "%s: %d call reports" % (gw, len(calls)))
        for c in calls:
            fault_e2e.check_conversation(stack, c)
        sids[gw] = {c["call_sid"] for c in calls}
    for gw in GATEWAYS:
        mine = {l.get("call_sid") for l in stack.log(gw)} - {None}
        other = [g for g in GATEWAYS if g != gw][0]
        check(sids[gw] <= mine, "%s did not handle its calls %s" %
              (gw, sids[gw] - mine))
        check(not (sids[other] & mine), "%s logged calls of %s: %s" %
              (gw, other, sids[other] & mine))
        code, text = get(listens[gw], "/metrics")
        check(code == 200, "%s /metrics: %d" % (gw, code))
        unknown = metric(text, "merkazia_job_results_total",
                         'result="unknown"')
        delivered = metric(text, "merkazia_job_results_total",
                           'result="delivered"')
        resent = sum(metric(text, "merkazia_jobs_total",
                            'stage="%s",result="resent"' % s) or 0
                     for s in ("stt", "llm", "tts"))
        e2e.say("%s: %s results delivered, %s unknown, %d jobs resent" %
                (gw, delivered, unknown, resent))
        check(delivered, "%s delivered no result" % gw)
        check(unknown == 0, "%s got %s results of jobs it did not send" %
              (gw, unknown))
        check(resent == 0, "%s sent %d jobs again" % (gw, resent))
    # The watchdog follows both gateways' call events.
    watched = {l.get("call_sid") for l in stack.log("watchdog")
               if (l.get("msg") or "").startswith("watching the call")}
    check(sids["gateway"] | sids["gateway@1"] <= watched,
          "the watchdog did not watch %s" %
          ((sids["gateway"] | sids["gateway@1"]) - watched))
    # Each llm-worker's log names the calls it served: the pool is shared.
    served = [{l.get("call_sid") for l in stack.log(w)} - {None}
              for w in ("llm-worker", "llm-worker@1")]
    e2e.say("llm-worker served %d calls, llm-worker@1 %d" %
            (len(served[0]), len(served[1])))
    code, report = stack.stop()
    check(report.get("problems") == [], "problems at stop: %s" %
          report.get("problems"))
    e2e.say("%d calls on each of two gateways, every conversation whole" %
            CALLS)


e2e.main(scenario)
