"""Helpers of the tts-worker scenarios (tests/e2e/scenarios/7x_tts_*.py)
and of tools/bench-tts.

Why this exists: every TTS scenario starts the Google stand-in
(tools/fake-google), a tts-worker through tools/stack pointed at it, sends
TTS_JOBs with msgtool and reads the TTS_RESULTs at a reply address of its
own; written once here, each scenario reads as its assertions.

  g = FakeGoogle(run_dir, "--token-lifetime-s", "4").start()
  s = start_worker(g, run_dir)          # e2e.Stack running tts-worker
  res = jobs(s, [job(1, "שלום")])       # {job_id: result}
  g.requests("/v1/text:synthesize")    # what the stand-in received

Everything waits with a bound in time (x MERKAZIA_TEST_TIMEOUT_MULT).
Standard library only.
"""

import base64
import json
import os
import signal
import subprocess
import urllib.request

import e2e
from e2e import T, check

MSGTOOL = os.path.join(e2e.BIN, "msgtool")
FAKE_GOOGLE = os.path.join(e2e.REPO, "tools", "fake-google")


class FakeGoogle:
    """tools/fake-google on 127.0.0.1:0, its credentials file in run_dir."""

    def __init__(self, run_dir, *args):
        self.run_dir = run_dir
        self.args = list(args)
        self.proc = None
        self.info = None
        self.creds = os.path.join(run_dir, "google-sa.json")

    def start(self):
        os.makedirs(self.run_dir, exist_ok=True)
        log = open(os.path.join(self.run_dir, "fake-google.log"), "w")
        self.proc = subprocess.Popen(
            [FAKE_GOOGLE, "--listen", "127.0.0.1:0", "--credentials-out",
             self.creds] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        log.close()
        line = e2e._Lines(self.proc.stdout).line(T(60))
        check(line, "tools/fake-google printed nothing")
        self.info = json.loads(line)
        check("listen" in self.info, "fake-google: %s" % line)
        return self

    @property
    def url(self):
        return "http://" + self.info["listen"]

    def control(self, method, path, doc=None):
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(self.url + "/_standin" + path,
                                     data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=T(10)) as r:
            return json.loads(r.read() or b"{}")

    def requests(self, path=None):
        """The requests received so far (only those to path if given)."""
        reqs = self.control("GET", "/requests")["requests"]
        return [r for r in reqs if path is None or r.get("path") == path]

    def fail(self, mode, count=-1, path="/v1/text:synthesize"):
        self.control("POST", "/fail", {"path": path, "mode": mode,
                                       "count": count})

    def heal(self):
        self.control("DELETE", "/fail")

    def revoke(self):
        self.control("POST", "/revoke", {})

    def config(self, **kv):
        self.control("POST", "/config", kv)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=T(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_worker(google, run_dir, *sets, args=()):
    """Start tools/stack with only a tts-worker pointed at google; sets are
    extra KEY=VALUE settings for it. Return the started e2e.Stack."""
    argv = ["--only", "tts-worker", "--no-db", "--no-standins",
            "--set", "tts-worker:GOOGLE_APPLICATION_CREDENTIALS=" +
            google.creds,
            "--set", "tts-worker:GOOGLE_TTS_BASE_URL=" + google.url]
    for kv in sets:
        argv += ["--set", "tts-worker:" + kv]
    st = e2e.Stack(*(argv + list(args)), run_dir=run_dir)
    st.start()
    return st


def job(job_id, text, budget_ms=5000, voice=None, rate=None, call_sid="",
        generation=0, index=None):
    payload = {"index": job_id if index is None else index, "text": text}
    if voice is not None:
        payload["voice"] = voice
    if rate is not None:
        payload["rate"] = rate
    return {"type": "TTS_JOB", "job_id": job_id, "generation": generation,
            "budget_ms": budget_ms, "attempt": 1, "call_sid": call_sid,
            "payload": payload}


def msgtool_env(stack):
    env = dict(os.environ)
    env["MERKAZIA_RUNTIME_DIR"] = stack.settings["MERKAZIA_RUNTIME_DIR"]
    return env


class Results:
    """msgtool recv bound at a reply address of ours, expecting n results;
    start it before sending."""

    def __init__(self, stack, n, timeout_s=20, name="results"):
        self.addr = "ipc://%s/%s.sock" % (stack.run_dir, name)
        self.proc = subprocess.Popen(
            [MSGTOOL, "recv", "-b", self.addr, "-n", str(n), "-t",
             str(int(T(timeout_s) * 1000))],
            env=msgtool_env(stack), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.timeout_s = timeout_s

    def collect(self):
        """Wait for msgtool to exit; return {job_id: message} with the
        audio decoded into message["audio"]."""
        out, err = self.proc.communicate(timeout=T(self.timeout_s + 10))
        got = {}
        for line in out.splitlines():
            if not line.strip():
                continue
            m = json.loads(line)
            check("error" not in m, "undecodable result: %s" % line)
            m["audio"] = base64.b64decode(m.get("blob_base64", ""))
            got[m["job_id"]] = m
        return got


def send(stack, msgs, reply):
    for m in msgs:
        m["reply"] = reply
    code, out, err = e2e.run(
        [MSGTOOL, "send", "-e", "JOBS_TTS", "-t", str(int(T(10) * 1000))] +
        [json.dumps(m, ensure_ascii=False) for m in msgs],
        env=msgtool_env(stack))
    check(code == 0, "msgtool send exited %d: %s" % (code, err))


def jobs(stack, msgs, expect=None, timeout_s=20):
    """Send msgs as TTS_JOBs and return {job_id: result} once expect
    (default: all of them) results came back."""
    r = Results(stack, len(msgs) if expect is None else expect, timeout_s)
    send(stack, msgs, r.addr)
    return r.collect()


def google_voice(res):
    return res["payload"].get("voice_used") not in (None, "espeak-ng")


def check_ok(res, job_id, cached=None, fallback=False):
    """Check one successful TTS_RESULT of job_id; return it."""
    m = res.get(job_id)
    check(m is not None, "no TTS_RESULT for job %d (got %s)" %
          (job_id, sorted(res)))
    check(m["type"] == "TTS_RESULT", "job %d: got %s" % (job_id, m["type"]))
    check(not (m["flags"] & 2), "job %d failed: %s" % (job_id, m["payload"]))
    check(m["flags"] & 1, "job %d: result without FINAL" % job_id)
    p = m["payload"]
    check(p.get("index") == job_id, "job %d: index %s" %
          (job_id, p.get("index")))
    check(len(m["audio"]) > 800, "job %d: only %d bytes of audio" %
          (job_id, len(m["audio"])))
    check(m["audio"][:4] != b"RIFF", "job %d: audio starts with a WAV "
          "header" % job_id)
    if fallback:
        check(p.get("voice_used") == "espeak-ng",
              "job %d: voice_used %s, not the fallback" %
              (job_id, p.get("voice_used")))
    else:
        check(google_voice(m), "job %d: fell back (%s)" % (job_id, p))
    if cached is not None:
        check(p.get("cached") is cached, "job %d: cached is %s" %
              (job_id, p.get("cached")))
    check(isinstance(p.get("tts_ms"), int), "job %d: no tts_ms" % job_id)
    return m


def scan_secrets(stack):
    """The worker's log must hold no key, JWT or access token."""
    text = open(stack.path("log", "tts-worker.log"), encoding="utf-8",
                errors="replace").read()
    for needle in ("PRIVATE KEY", "ya29.", "eyJhbGci", "assertion="):
        check(needle not in text, "tts-worker.log holds %r" % needle)
