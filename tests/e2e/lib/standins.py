"""Helpers for scenarios that talk to the stand-in providers directly.

Why this exists: the stand-in scenarios (60_fake_openai, 61_fake_google)
and later whole-call scenarios start a stand-in, speak HTTP to it the way
the workers do (multipart uploads, SSE streams read chunk by chunk), and
look at what it recorded. Written once here so each scenario reads as its
assertions. Standard library only.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import e2e
from e2e import T, check

SPEAK = os.path.join(e2e.BIN, "speak")


class StandIn:
    """A stand-in program started with --listen 127.0.0.1:0."""

    def __init__(self, program, *args, env=None, name=None):
        self.name = name or os.path.basename(program)
        self.log_path = os.path.join(e2e.RUN_DIR, "log",
                                     "%s.log" % self.name)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.argv = [os.path.join(e2e.REPO, "tools", program),
                     "--listen", "127.0.0.1:0"] + list(args)
        self.env = env
        self.proc = None
        self.ready = None

    def start(self):
        with open(self.log_path, "ab") as lf:
            self.proc = subprocess.Popen(self.argv, env=self.env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=lf)
        line = e2e._Lines(self.proc.stdout).line(T(20))
        check(line, "%s printed no ready line (see %s)" % (self.name,
                                                           self.log_path))
        self.ready = json.loads(line)
        check(self.ready.get("listen", "").startswith("127.0.0.1:"),
              "%s listens on %r" % (self.name, self.ready.get("listen")))
        self.base = "http://" + self.ready["listen"]
        return self.ready

    def stop(self):
        """SIGTERM; return the exit code (fails the scenario after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=T(10))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise e2e.Fail("%s did not stop within 10 s of SIGTERM" %
                           self.name)

    def control(self, method, path, doc=None):
        code, _, body = http(method, self.base + "/_standin/" + path,
                             json.dumps(doc).encode() if doc is not None
                             else None, {"Content-Type": "application/json"})
        check(code == 200, "control %s %s: %d %s" % (method, path, code,
                                                     body[:200]))
        return json.loads(body)

    def fail(self, path, mode, count=1, **kw):
        d = {"path": path, "mode": mode, "count": count}
        d.update(kw)
        return self.control("POST", "fail", d)

    def requests(self, path=None):
        q = "requests" + ("?path=" + urllib.parse.quote(path) if path
                          else "")
        return self.control("GET", q)["requests"]


def http(method, url, body=None, headers=None, timeout=20):
    """One request; return (status, headers dict lower-cased, body bytes).
    HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=T(timeout)) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, \
                r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def http_json(method, url, doc, headers=None, timeout=20):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    code, hd, body = http(method, url, json.dumps(doc, ensure_ascii=False)
                          .encode("utf-8"), h, timeout)
    try:
        return code, hd, json.loads(body)
    except ValueError:
        return code, hd, body


def multipart(fields, files):
    """Encode form fields {name: str} and files [(name, filename, ctype,
    bytes)] as multipart/form-data; return (content type, body)."""
    boundary = "----merkazia" + uuid.uuid4().hex
    out = []
    for k, v in fields.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n"
                    "\r\n" % (boundary, k)).encode() + v.encode("utf-8") +
                   b"\r\n")
    for name, fname, ctype, data in files:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                    "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n" %
                    (boundary, name, fname, ctype)).encode() + data +
                   b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return "multipart/form-data; boundary=" + boundary, b"".join(out)


def speak(text, wpm=170, fmt="wav"):
    p = subprocess.run([SPEAK, "--wpm", str(wpm), "--format", fmt, text],
                       capture_output=True, timeout=T(30), check=False)
    check(p.returncode == 0 and p.stdout, "speak failed: %s" %
          p.stderr.decode("utf-8", "replace")[-300:])
    return p.stdout


def wav_pcm16(samples, rate=8000):
    """A 16-bit mono PCM WAV file of the samples."""
    data = b"".join(int(max(-32768, min(32767, s))).to_bytes(
        2, "little", signed=True) for s in samples)
    fmt = (b"fmt " + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") +
           (1).to_bytes(2, "little") + rate.to_bytes(4, "little") +
           (rate * 2).to_bytes(4, "little") + (2).to_bytes(2, "little") +
           (16).to_bytes(2, "little"))
    body = b"WAVE" + fmt + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def wav_samples(wav):
    """The 16-bit samples of a plain 44-byte-header PCM WAV (speak's)."""
    check(wav[:4] == b"RIFF" and wav[36:40] == b"data",
          "not a plain PCM WAV")
    d = wav[44:]
    return [int.from_bytes(d[i:i + 2], "little", signed=True)
            for i in range(0, len(d) - 1, 2)]


def raw_post(base, path, headers, body, timeout=20):
    """POST over a plain socket and return (status, headers, [chunk
    payloads]) with the HTTP chunk boundaries as the server wrote them
    (what libcurl's write callback may see), or ([body]) when not
    chunked."""
    host, port = base.split("//", 1)[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=T(timeout))
    head = ["POST %s HTTP/1.1" % path, "Host: %s:%s" % (host, port),
            "Content-Length: %d" % len(body), "Connection: close"]
    head += ["%s: %s" % kv for kv in headers.items()]
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    hdr, _, rest = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hd = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hd[k.strip().lower()] = v.strip()
    if "chunked" not in hd.get("transfer-encoding", ""):
        return status, hd, [rest]
    chunks = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        chunks.append(rest[:n])
        rest = rest[n + 2:]
    return status, hd, chunks


def sse_events(payload):
    """Split an SSE byte stream into the data of each event (str)."""
    text = payload.decode("utf-8")
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [ln[5:].lstrip(" ") if ln.startswith("data:") else None
                for ln in block.split("\n") if ln and not ln.startswith(":")]
        data = [d for d in data if d is not None]
        if data:
            out.append("\n".join(data))
    return out


def wait_port_closed(listen, timeout):
    host, port = listen.split(":")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False
