#!/usr/bin/env python3
"""Scenario: two llm-worker instances share the jobs of one gateway
endpoint; nothing else is reconfigured.

Checked (tools/stack --instances llm-worker=2 + tools/fake-openai): six
LLM_JOBs sent to the one JOBS_LLM endpoint all end with LLM_DONE, and
both instances' logs show replies they made.
"""
import glob
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import ai_e2e as ai  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def main():
    want = ai.line("want-to-buy")
    # Two instances share the load.
    s2 = ai.start(os.path.join(e2e.RUN_DIR, "t"), "llm-worker",
                  instances="llm-worker=2")
    o2 = ai.openai(s2)
    o2.config(ttft_ms=300)
    r = ai.Results(s2, 0, 8, name="shared")
    ai.send_paced(s2, "JOBS_LLM", [ai.llm_job(20 + i, want["say"],
                                              call_sid="CA%d" % i)
                                   for i in range(6)], r.addr)
    msgs = r.until(lambda ms: sum(m["type"] == "LLM_DONE" for m in ms) == 6)
    dones = [m for m in msgs if m["type"] == "LLM_DONE"]
    check(len(dones) == 6, "%d of 6 jobs done" % len(dones))
    served = 0
    for path in glob.glob(s2.path("log", "llm-worker*.log")):
        if any("replied in" in (ln.get("msg") or "")
               for ln in e2e.json_lines(path)):
            served += 1
    check(served == 2, "%d instance(s) served the jobs" % served)
    s2.stop()


e2e.main(main)
