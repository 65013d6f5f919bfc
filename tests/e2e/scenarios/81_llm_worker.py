#!/usr/bin/env python3
"""Scenario: the llm-worker streams the agent's reply sentence by sentence
through the OpenAI stand-in, runs tool rounds, and fails loudly.

Checked (llm-worker + tools/fake-openai via tools/stack; the stand-in
cuts deltas inside "3.5", "₪2,950,000", "מ״ר", "וכו׳" and splits events
inside UTF-8 letters): a turn comes back as LLM_SENTENCE 0, 1, ... whose
texts join to the scripted reply, no sentence cut inside a number or an
abbreviation, then LLM_DONE (FINAL) with the count, usage and llm_ms;
book_viewing is written through the store client (LLM_DONE bookings) and
the second round's confirmation is spoken, and the same job sent again leaves one
appointment row in PostgreSQL; end_call comes as LLM_ACTION
after the last sentence; 429 then success; 500 on every try and a hung
provider give an ERROR LLM_DONE within the budget (times printed); an
error in the middle of the stream ends with an ERROR LLM_DONE; quota is
not retried and raises the operator alert; a cancelled job stops sending;
an ANALYSIS_JOB comes back as a validated ANALYSIS_RESULT (stored).
"""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import ai_e2e as ai  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def turn(s, job, n=0, timeout_s=20):
    """Send one LLM_JOB; return its messages (until LLM_DONE)."""
    r = ai.Results(s, n, timeout_s)
    t0 = time.monotonic()
    ai.send(s, "JOBS_LLM", [job], r.addr)
    msgs = ai.of_job(r.until(lambda ms: ms[-1]["type"] == "LLM_DONE"),
                     job["job_id"])
    dt = time.monotonic() - t0
    check(msgs and msgs[-1]["type"] == "LLM_DONE" and msgs[-1]["flags"] & 1,
          "job %d did not end with a FINAL LLM_DONE: %s" %
          (job["job_id"], [(m["type"], m["payload"]) for m in msgs]))
    return msgs, dt


def sentences(msgs):
    ss = [m["payload"] for m in msgs if m["type"] == "LLM_SENTENCE"]
    check([p["index"] for p in ss] == list(range(len(ss))),
          "sentence indexes out of order: %s" % [p["index"] for p in ss])
    return [p["text"] for p in ss]


def squash(s):
    return "".join(s.split())


def main():
    s = ai.start(os.path.join(e2e.RUN_DIR, "s"), "llm-worker,crm-store",
                 "llm-worker:MERKAZIA_LLM_RETRIES=2",
                 "crm-store:MERKAZIA_STORE_DEMO=1", db=True)
    o = ai.openai(s)
    o.config(tokens_per_s=0, ttft_ms=0)

    want = ai.line("want-to-buy")
    msgs, dt = turn(s, ai.llm_job(1, want["say"]), 0)
    ss = sentences(msgs)
    done = msgs[-1]["payload"]
    check(not (msgs[-1]["flags"] & 2), "error: %s" % done)
    check(ss == ["שלום, טוב שהתקשרת!", "כמה חדרים אתה מחפש, ומה התקציב "
                 "בערך?"], "sentences %s" % ss)
    check(done["sentences"] == 2 and done["usage"]["total_tokens"] > 0,
          "LLM_DONE %s" % done)
    e2e.delay("reply of 2 sentences (first token %d ms)" %
              done["first_token_ms"], dt)

    rb = ai.line("rooms-budget")
    msgs, _ = turn(s, ai.llm_job(2, rb["text"]))
    ss = sentences(msgs)
    check(squash("".join(ss)) == squash(rb["agent"]),
          "sentences do not join to the reply: %s" % ss)
    for tok in ("₪2,950,000", "3.5", "מ״ר", "וכו׳."):
        check(any(tok in x for x in ss), "%s was cut: %s" % (tok, ss))
    check(all(x[-1] in ".?!," for x in ss), "a sentence cut early: %s" % ss)
    e2e.say("sentences: %s" % " | ".join(ss))

    # book_viewing: written through the store client, then confirmed.
    nm = ai.line("name")
    msgs, _ = turn(s, ai.llm_job(3, nm["say"]))
    ss = sentences(msgs)
    done = msgs[-1]["payload"]
    check(ss[0] == "רגע, אני רושם." and len(ss) >= 2,
          "tool round sentences %s" % ss)
    check(len(done.get("bookings", [])) == 1 and
          done["bookings"][0].startswith("CAllm:1:"),
          "no booking written: %s" % done)
    # The same job sent again (a gateway's resend) books nothing new: the
    # key is call SID + generation + tool-call index.
    key = done["bookings"][0]
    msgs, _ = turn(s, ai.llm_job(3, nm["say"]))
    again = msgs[-1]["payload"]
    check(again.get("bookings") == [key],
          "the resent job booked %s, not %s" % (again.get("bookings"), key))
    check("DATABASE_URL" in s.settings, "the stack has no database")
    rows = None
    for _ in range(int(50 * e2e.MULT)):
        code, out, err = e2e.run(
            ["psql", s.settings["DATABASE_URL"], "-X", "-At", "-c",
             "SELECT count(*) FROM appointments WHERE call_sid = "
             "'CAllm'"])
        rows = out.strip() if code == 0 else None
        if rows == "1":
            break
        time.sleep(0.1)
    check(rows == "1", "appointments for the call after a resend: %s"
          % rows)
    e2e.say("a resent booking job left one appointment row")

    # end_call: an action after the last sentence.
    bye = ai.line("thanks-bye")
    msgs, _ = turn(s, ai.llm_job(4, bye["say"]))
    ss = sentences(msgs)
    acts = [m["payload"] for m in msgs if m["type"] == "LLM_ACTION"]
    check(len(acts) == 1 and acts[0]["action"] == "end_call" and
          acts[0]["index"] == len(ss) - 1, "actions %s" % acts)
    check([m["type"] for m in msgs][-2:] == ["LLM_ACTION", "LLM_DONE"],
          "order %s" % [m["type"] for m in msgs])

    # 429 once, then success.
    o.fail(ai.CHAT_PATH, "429", 1, retry_after=1)
    msgs, dt = turn(s, ai.llm_job(5, want["say"]))
    check(not (msgs[-1]["flags"] & 2) and len(sentences(msgs)) == 2,
          "429 then success: %s" % msgs[-1]["payload"])
    e2e.delay("reply after a 429 with Retry-After 1", dt)

    # 500 on every try: an ERROR LLM_DONE.
    o.fail(ai.CHAT_PATH, "500", -1)
    msgs, dt = turn(s, ai.llm_job(6, want["say"]))
    o.heal()
    d = msgs[-1]
    check(d["flags"] & 2 and d["payload"]["error"] == "provider" and
          d["payload"]["attempts"] == 3, "500: %s" % d["payload"])
    e2e.delay("error LLM_DONE after 500 x3 (llm_ms %d)" %
              d["payload"]["llm_ms"], dt)

    # A hung provider: an error within the budget.
    o.fail(ai.CHAT_PATH, "hang", -1)
    msgs, dt = turn(s, ai.llm_job(7, want["say"], budget_ms=2500))
    o.heal()
    d = msgs[-1]
    check(d["flags"] & 2 and d["payload"]["error"] == "timeout",
          "hang: %s" % d["payload"])
    check(dt < 2.5 + e2e.T(1.5), "hang answered after %.2f s" % dt)
    e2e.delay("error LLM_DONE for a hung provider (budget 2.5 s)", dt)

    # An error in the middle of the stream.
    o.fail(ai.CHAT_PATH, "midstream", 1, after_chars=30)
    msgs, _ = turn(s, ai.llm_job(8, rb["text"]))
    d = msgs[-1]
    check(d["flags"] & 2, "midstream error not reported: %s" % d["payload"])
    e2e.say("midstream: %s after %d sentence(s)" % (d["payload"]["message"],
                                                   d["payload"]["sentences"]))

    # Quota: once, no retry, operator alert.
    o.fail(ai.CHAT_PATH, "quota", 1)
    msgs, _ = turn(s, ai.llm_job(9, want["say"]))
    d = msgs[-1]
    check(d["flags"] & 2 and d["payload"]["error"] == "quota" and
          d["payload"]["attempts"] == 1, "quota: %s" % d["payload"])
    e2e.wait_for(lambda: ai.log_has(s, "llm-worker", "operator alert"),
                 e2e.T(5), "the operator alert in the log")

    # A cancelled job stops sending.
    o.config(tokens_per_s=12)
    r = ai.Results(s, 0, 6, name="cancelled")
    ai.send(s, "JOBS_LLM", [ai.llm_job(10, rb["text"], call_sid="CAcx",
                                       generation=4)], r.addr)
    time.sleep(1.2)
    ai.cancel(s, "CAcx", 4)
    msgs = ai.of_job(r.collect(), 10)
    types = [m["type"] for m in msgs]
    check("LLM_DONE" not in types, "a cancelled job went on: %s" % types)
    check(len(types) < len(ai.line("rooms-budget")["agent"].split(". ")),
          "every sentence came: %s" % types)
    e2e.wait_for(lambda: ai.log_has(s, "llm-worker", "job cancelled"),
                 e2e.T(5), "the cancel in the log")
    e2e.say("cancelled after %d sentence(s)" % len(types))
    o.config(tokens_per_s=0)

    # Post-call analysis: structured, validated, written, answered.
    tr = []
    for st in ai.scenario()["steps"]:
        if "say" in st:
            tr.append({"role": "caller", "text": st.get("text", st["say"])})
        if isinstance(st.get("agent"), str):
            tr.append({"role": "agent", "text": st["agent"]})
    r = ai.Results(s, 1, 20, name="analysis")
    ai.send(s, "JOBS_LLM", [{"type": "ANALYSIS_JOB", "job_id": 30,
                             "generation": 9, "budget_ms": 20000,
                             "attempt": 1, "call_sid": "CAllm",
                             "payload": {"business_id": 1,
                                         "transcript": tr,
                                         "customer": {"phone":
                                                      "+972521234567"}}}],
            r.addr)
    msgs = r.collect()
    check(len(msgs) == 1 and msgs[0]["type"] == "ANALYSIS_RESULT" and
          not (msgs[0]["flags"] & 2), "analysis: %s" % msgs)
    a = msgs[0]["payload"]
    check(a["summary"] and 0 <= a["lead_score"] <= 100 and
          a["sentiment"] in ("positive", "neutral", "negative", "mixed") and
          a["stored"] is True and "rooms_min" in a["requirements"],
          "analysis payload %s" % a)
    e2e.say("analysis: score %d, %s, requirements %s" % (
        a["lead_score"], a["sentiment"], a["requirements"]))
    s.stop()



e2e.main(main)
