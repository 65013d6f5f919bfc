#!/usr/bin/env python3
"""Scenario: a one-job smoke run of `make bench-tts`
(tests/bench/bench_tts.py --smoke) on the sanitizer build, so the benchmark
keeps working: one synthesis, one cache hit, its JSON line of figures.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import T, check  # noqa: E402


def scenario():
    p = subprocess.run([os.path.join(e2e.REPO, "tests/bench/bench_tts.py"),
                        "--smoke"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=T(80),
                       check=False)
    print(p.stdout + p.stderr)
    check(p.returncode == 0, "bench_tts.py --smoke exited %d" % p.returncode)
    last = json.loads(p.stdout.strip().splitlines()[-1])
    check(last["synthesis"]["jobs"] == 1 and last["cache_hit"]["cached"] == 1,
          "figures: %s" % last)


e2e.main(scenario)
