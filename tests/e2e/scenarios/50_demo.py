#!/usr/bin/env python3
"""Scenario: `make demo` works. tools/demo with MERKAZIA_DEMO_ONCE=1 starts
the release build with PostgreSQL through tools/stack, shows that every
daemon is ready, places its one simulated Hebrew call (here with
tests/scenarios/short_buyer.json, so the scenario stays well inside the
runner's 90 s; the demo's own default is buyer_tel_aviv.json), prints the
conversation as heard, stops everything and exits 0.
Asserts: every daemon ready; the printed conversation holds every caller
line and an agent reply to each; the viewing request is printed and is in
PostgreSQL; the demo logs in through /api/login and finds its call in
/api/calls (the kept run directory's database is gone by then, so the
demo's own output and the crm-store log are what we read); the caller's
WAV exists and holds audio; a clean stop. Prints the per-turn figures the
demo printed (never asserted). Why: the demo is the first thing a newcomer
runs and nothing else exercises the release binaries; it must not rot.
(make demo itself also runs `make deps` and `make all`, which make check
has done already.)"""
import json
import os
import sys
import time
import wave

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import check  # noqa: E402

SCENARIO = os.path.join(e2e.REPO, "tests", "scenarios", "short_buyer.json")


def scenario():
    check(all(os.access(os.path.join(e2e.RELEASE_BIN, d), os.X_OK)
              for d in e2e.DAEMONS + ["sim-caller"]),
          "release binaries missing in %s (run make all)" % e2e.RELEASE_BIN)
    env = dict(os.environ)
    env["MERKAZIA_DEMO_ONCE"] = "1"
    env["MERKAZIA_DEMO_SCENARIO"] = SCENARIO
    # Port 0: tests never take the demo's fixed port (8080).
    env["MERKAZIA_HTTP_LISTEN"] = "127.0.0.1:0"
    # In the run directory, so the runner scans the demo's logs too.
    env["MERKAZIA_DEMO_DIR"] = os.path.join(e2e.RUN_DIR, "d")
    t = time.monotonic()
    code, out, err = e2e.run([os.path.join(e2e.REPO, "tools/demo")], env,
                             timeout=85)
    e2e.delay("demo start to exit", time.monotonic() - t)
    print(out + err)
    check(code == 0, "tools/demo exited %d" % code)
    ready = [l for l in out.splitlines() if l.startswith("demo: ready in")]
    check(ready and all(d in ready[0] for d in e2e.DAEMONS),
          "the demo did not show every daemon ready")
    check("stack: PostgreSQL: ready" in err, "no PostgreSQL progress line")

    with open(SCENARIO, encoding="utf-8") as f:
        lines = [s for s in json.load(f)["steps"] if "say" in s]
    said = [l[len("  caller: "):] for l in out.splitlines()
            if l.startswith("  caller: ")]
    replies = [l for l in out.splitlines() if l.startswith("  agent:  ")]
    check(said == [s.get("text", s["say"]) for s in lines],
          "the printed conversation misses caller lines: %s" % said)
    check(len(replies) == len(lines) and
          not any("(nothing heard)" in r for r in replies),
          "the printed conversation misses agent replies: %s" % replies)
    for l in out.splitlines():
        if l.strip().startswith("reply "):
            e2e.say("demo figure: " + l.strip())
    check(any(l.startswith("demo: viewing request: ") for l in
              out.splitlines()), "the demo printed no viewing request (it reads PostgreSQL)")
    store = e2e.json_lines(os.path.join(env["MERKAZIA_DEMO_DIR"], "log",
                                        "crm-store.log"))
    check(store, "no crm-store log")
    wavs = [l.split(": ", 2)[2] for l in out.splitlines()
            if l.startswith("demo: the caller's recording: ")]
    check(wavs and os.path.exists(wavs[0]), "no WAV of the call")
    with wave.open(wavs[0], "rb") as w:
        check(w.getframerate() == 8000 and w.getnframes() > 8000 * 10,
              "the WAV holds less than 10 s of 8 kHz audio")
    check(any(l.startswith("demo: the CRM (logged in as ") and
              l.endswith("lists the call in /api/calls")
              for l in out.splitlines()),
          "the demo did not find its call through /api/login and /api/calls")
    check("demo: stopped cleanly" in out, "the demo did not stop cleanly")
    stopped = e2e.json_lines(os.path.join(env["MERKAZIA_DEMO_DIR"], "log",
                                          "gateway.log"))
    check(stopped and stopped[-1]["msg"] == "stopped",
          "the gateway did not log its stop")


e2e.main(scenario)
