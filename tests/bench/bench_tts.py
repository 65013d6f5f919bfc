#!/usr/bin/env python3
"""bench-tts: one tts-worker's cache-hit latency and synthesis jobs per
second (`make bench-tts`).

Why: every sentence the agent says goes through a tts-worker, and the
business's fixed phrases and common sentences should come from the cache
in about no time; these figures size the stage (how many workers per
gateway) and show regressions. This starts tools/fake-google (no added
latency; it renders real speech with espeak-ng, so the synthesis figure is
bounded by the stand-in's own speed on this host, not Google's) and one
release tts-worker through tools/stack, then:
  * sends N = 200 distinct sentences, 4 in flight at a time, and reports
    synthesis jobs/s and the worker's tts_ms p50 / p99 (and how many fell
    back: none should);
  * sends the same N again all at once (every one a cache hit) and reports
    cache-hit jobs/s and tts_ms p50 / p99 (the worker's own figure, in
    whole ms; jobs/s includes msgtool's encoding and decoding).
Prints the figures (one JSON line at the end); asserts nothing about them
except that every job came back. --smoke sends one job of each kind (part
of `make check`, tests/e2e/scenarios/75_tts_bench_smoke.py). Standard
library only.
"""
import json
import os
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))
sys.dont_write_bytecode = True
os.environ.setdefault("MERKAZIA_BIN", os.path.join(REPO, "build/bin"))
sys.path.insert(0, os.path.join(REPO, "tests/e2e/lib"))
import e2e  # noqa: E402
import tts_e2e as t  # noqa: E402


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def batch(stack, first_id, n, label, conc):
    """Send n distinct sentences, at most conc in flight (waves of conc, as
    a gateway keeps a few sentences per call in flight)."""
    msgs = [t.job(first_id + i, "משפט מספר %s לבדיקת מהירות." %
                  (" ".join(["אחד"] * (1 + i % 3)) + " " + str(i)),
                  budget_ms=60000)
            for i in range(n)]
    res = {}
    t0 = time.monotonic()
    for w in range(0, n, conc):
        res.update(t.jobs(stack, msgs[w:w + conc], timeout_s=120))
    took = time.monotonic() - t0
    e2e.check(len(res) == n, "%s: %d of %d results" % (label, len(res), n))
    ms = [m["payload"]["tts_ms"] for m in res.values()]
    cached = sum(1 for m in res.values() if m["payload"].get("cached"))
    fallbacks = sum(1 for m in res.values()
                    if m["payload"].get("voice_used") == "espeak-ng")
    return {"jobs": n, "in_flight": conc, "seconds": round(took, 3),
            "jobs_per_s": round(n / took, 1), "tts_ms_p50": pct(ms, 50),
            "tts_ms_p99": pct(ms, 99), "cached": cached,
            "fallbacks": fallbacks}


def main(argv):
    smoke = "--smoke" in argv
    n = 1 if smoke else 200
    conc = 1 if smoke else 4
    run = os.environ.get("MERKAZIA_RUN_DIR") or \
        tempfile.mkdtemp(prefix="mzb.", dir="/tmp")
    own = not os.environ.get("MERKAZIA_RUN_DIR")
    g = t.FakeGoogle(os.path.join(run, "g")).start()
    stack = None
    try:
        stack = t.start_worker(g, os.path.join(run, "s"),
                               args=("--bin-dir=" + e2e.BIN,))
        e2e.wait_for(lambda: g.requests("/token"), e2e.T(10), "a token")
        synth = batch(stack, 1, n, "synthesis", conc)
        print("bench: synthesis %s" % synth, flush=True)
        hits = batch(stack, 100001, n, "cache hits", n)
        print("bench: cache hits %s" % hits, flush=True)
        e2e.check(hits["cached"] == n, "only %d of %d were cache hits" %
                  (hits["cached"], n))
        code, report = stack.stop()
        e2e.check(code == 0, "stack stopped with %s: %s" % (code, report))
        print(json.dumps({"bench": "tts", "bin": e2e.BIN,
                          "synthesis": synth, "cache_hit": hits}))
    finally:
        if stack is not None:
            stack.stop()
        g.stop()
        if own and os.environ.get("MERKAZIA_TEST_KEEP") != "1":
            shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except e2e.Fail as e:
        print("bench: FAIL: %s" % e)
        sys.exit(1)
