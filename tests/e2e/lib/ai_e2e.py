"""Helpers of the stt-worker and llm-worker scenarios
(tests/e2e/scenarios/8x_*.py).

Why this exists: each of those scenarios starts tools/stack with only the
AI workers and the OpenAI stand-in (tools/fake-openai, answering from
tests/scenarios/buyer_tel_aviv.json), sends jobs with msgtool from the
gateway's side of the job endpoint, reads the results at a reply address
of its own, and arms faults in the stand-in; written once here.

  s = start(run_dir, "stt-worker")          # e2e.Stack
  o = openai(s)                             # control of fake-openai
  r = Results(s, n); send(s, "JOBS_STT", [stt_job(1, mulaw)], r.addr)
  msgs = r.collect()                        # [message, ...] in order

Everything waits with a bound in time (x MERKAZIA_TEST_TIMEOUT_MULT).
Standard library only.
"""

import base64
import json
import os
import subprocess
import time

import e2e
import standins
from e2e import T, check

MSGTOOL = os.path.join(e2e.BIN, "msgtool")
SCENARIO = os.path.join(e2e.REPO, "tests", "scenarios", "buyer_tel_aviv.json")
STT_PATH = "/v1/audio/transcriptions"
CHAT_PATH = "/v1/chat/completions"


def scenario():
    with open(SCENARIO, encoding="utf-8") as f:
        return json.load(f)


def line(step_id):
    for st in scenario()["steps"]:
        if st.get("id") == step_id:
            return st
    raise e2e.Fail("no step %s in the scenario" % step_id)


def start(run_dir, only, *sets, instances=None, db=False):
    """tools/stack with only the daemons in `only` (and fake-openai); a
    private PostgreSQL too when db is true."""
    argv = ["--only", only] + ([] if db else ["--no-db"])
    for kv in sets:
        argv += ["--set", kv]
    if instances:
        argv += ["--instances", instances]
    st = e2e.Stack(*argv, run_dir=run_dir)
    st.start()
    return st


class OpenAI:
    """The control endpoint of the stack's fake-openai."""

    def __init__(self, stack):
        base = stack.settings["OPENAI_BASE_URL"]
        self.base = base[:-3] if base.endswith("/v1") else base

    def control(self, method, path, doc=None):
        code, _, body = standins.http(
            method, self.base + "/_standin/" + path,
            json.dumps(doc).encode() if doc is not None else None,
            {"Content-Type": "application/json"})
        check(code == 200, "fake-openai %s %s: %d %s" % (method, path, code,
                                                         body[:200]))
        return json.loads(body)

    def fail(self, path, mode, count=1, **kw):
        d = {"path": path, "mode": mode, "count": count}
        d.update(kw)
        return self.control("POST", "fail", d)

    def heal(self):
        return self.control("DELETE", "fail")

    def config(self, **kv):
        return self.control("POST", "config", kv)

    def requests(self, path=None):
        return [r for r in self.control("GET", "requests")["requests"]
                if path is None or r.get("path") == path]


def openai(stack):
    return OpenAI(stack)


def env_of(stack):
    env = dict(os.environ)
    env["MERKAZIA_RUNTIME_DIR"] = stack.settings["MERKAZIA_RUNTIME_DIR"]
    return env


class Results:
    """msgtool recv bound at a reply address of ours; start it before
    sending. n: how many messages to wait for (0: until the timeout)."""

    def __init__(self, stack, n, timeout_s=20, name="results"):
        self.addr = "ipc://%s/%s.sock" % (stack.run_dir, name)
        argv = [MSGTOOL, "recv", "-b", self.addr, "-t",
                str(int(T(timeout_s) * 1000))]
        if n:
            argv += ["-n", str(n)]
        self.proc = subprocess.Popen(argv, env=env_of(stack),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.timeout_s = timeout_s
        time.sleep(0.05)

    def until(self, done):
        """Read messages until done(messages) is true or the timeout;
        stop msgtool; return the messages."""
        lines = e2e._Lines(self.proc.stdout)
        end = time.monotonic() + T(self.timeout_s)
        msgs = []
        while time.monotonic() < end:
            ln = lines.line(max(0.01, end - time.monotonic()))
            if ln is None:
                break
            if not ln.strip():
                continue
            m = json.loads(ln)
            check("error" not in m, "undecodable result: %s" % ln)
            m["t"] = time.monotonic()
            msgs.append(m)
            if done(msgs):
                break
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=T(10))
        return msgs

    def collect(self):
        out, _ = self.proc.communicate(timeout=T(self.timeout_s + 10))
        msgs = []
        for ln in out.splitlines():
            if ln.strip():
                m = json.loads(ln)
                check("error" not in m, "undecodable result: %s" % ln)
                m["t"] = time.monotonic()
                msgs.append(m)
        return msgs


def send(stack, endpoint, msgs, reply):
    for m in msgs:
        m["reply"] = reply
    code, _, err = e2e.run(
        [MSGTOOL, "send", "-e", endpoint, "-t", str(int(T(10) * 1000))] +
        [json.dumps(m, ensure_ascii=False) for m in msgs],
        env=env_of(stack))
    check(code == 0, "msgtool send exited %d: %s" % (code, err))


def send_paced(stack, endpoint, msgs, reply, pause=0.3):
    """Like send, one msgtool for all, pausing between messages so every
    worker has connected to the new endpoint before the rest go out."""
    p = subprocess.Popen([MSGTOOL, "send", "-e", endpoint, "-t",
                          str(int(T(10) * 1000))], env=env_of(stack),
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for m in msgs:
        m["reply"] = reply
        p.stdin.write(json.dumps(m, ensure_ascii=False) + "\n")
        p.stdin.flush()
        time.sleep(pause)
    p.stdin.close()
    check(p.wait(timeout=T(20)) == 0, "msgtool send failed: %s" %
          p.stderr.read())


def cancel(stack, call_sid, generation, times=5):
    """JOB_CANCEL on the gateway's PUB endpoint; sent a few times because
    subscribers join a new publisher late."""
    m = {"type": "JOB_CANCEL", "job_id": 0, "generation": generation,
         "call_sid": call_sid, "payload": {"reason": "barge-in"}}
    for _ in range(times):
        e2e.run([MSGTOOL, "send", "-e", "CANCEL", "-t", "2000",
                 json.dumps(m)], env=env_of(stack))
        time.sleep(0.1)


def speak_mulaw(text):
    return standins.speak(text, fmt="mulaw")


def stt_job(job_id, audio, budget_ms=15000, call_sid="CAstt", generation=1,
            prompt=None):
    payload = {"turn": job_id, "language": "he", "source": "call"}
    if prompt is not None:
        payload["prompt"] = prompt
    return {"type": "STT_JOB", "job_id": job_id, "generation": generation,
            "budget_ms": budget_ms, "attempt": 1, "call_sid": call_sid,
            "payload": payload,
            "blob_base64": base64.b64encode(audio).decode()}


def llm_job(job_id, text, heard=None, budget_ms=20000, call_sid="CAllm",
            generation=1, business_id=1):
    payload = {"business_id": business_id, "turn": job_id,
               "instructions": "משרד תיווך בתל אביב.",
               "customer": {"name": "דני כהן", "phone": "+972521234567"},
               "heard": heard or [], "text": text}
    return {"type": "LLM_JOB", "job_id": job_id, "generation": generation,
            "budget_ms": budget_ms, "attempt": 1, "call_sid": call_sid,
            "payload": payload}


def of_job(msgs, job_id):
    return [m for m in msgs if m["job_id"] == job_id]


def log_has(stack, daemon, text):
    return any(text in (ln.get("msg") or "") for ln in stack.log(daemon))
