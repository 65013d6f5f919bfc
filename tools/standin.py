"""tools/standin.py: the frame every local stand-in provider is built on.

Why this exists: tests and the demo replace OpenAI, Google TTS/OAuth and
Twilio REST with local servers of ours that speak the providers' exact wire
formats (see docs/standins.md). Each stand-in must also listen on loopback
only, announce itself with one JSON line, record what it received, fail on
demand, be slow on demand and stop cleanly; written once here, each
stand-in is only its provider's protocol. The product never knows it talks
to one of these.

What it gives a stand-in program (tools/fake-openai, tools/fake-google):
  * add_common_args(parser): --listen (127.0.0.1:0 by default; loopback
    only), --record FILE, --fail PATH:MODE[:COUNT] (repeatable),
    --latency-ms, --ttft-ms, --tokens-per-s, --hang-s, -v.
  * Handler: a BaseHTTPRequestHandler speaking HTTP/1.1 (keep-alive,
    Content-Length or chunked bodies both ways, Expect: 100-continue) that
    records every request, applies injected faults and latency, then calls
    the route the subclass lists in ROUTES. Subclasses shape errors the way
    their provider does (error_body) and add provider headers.
  * Timings on CLOCK_MONOTONIC (seconds, the clock time.monotonic() and
    clock_gettime(CLOCK_MONOTONIC) share machine-wide), in every record:
    t_arrived (the request line read), t_done (the answer's last byte
    written; null while in progress), and where a stand-in notes them,
    more (fake-openai chat streams: t_first_content, t_first_sentence).
    --latency-ms counts from t_arrived: the route's own work runs inside
    it and only the rest is slept, so a stand-in keeps to its setting
    while its work is shorter than the setting.
  * The control endpoint under /_standin/ (never recorded, never faulted):
      GET    /_standin/health          {"ok": true, "name": ...}
      GET    /_standin/requests        {"requests": [...]} (?path= filter;
                                        listed on arrival, "status": null
                                        until answered)
      DELETE /_standin/requests        forget the requests seen so far
      GET    /_standin/fail            the armed faults
      POST   /_standin/fail            {"path": "/v1/..." | "*", "mode":
                                        "429|500|503|401|quota|hang|drop|
                                        midstream", "count": N (-1: always),
                                        "retry_after": s, "after_chars": n}
      DELETE /_standin/fail            disarm every fault
      GET    /_standin/config          the latency settings
      POST   /_standin/config          {"latency_ms": .., "ttft_ms": ..,
                                        "tokens_per_s": .., "hang_s": ..}
  * serve(): binds, prints {"listen": "127.0.0.1:N", "name": ..., ...} on
    stdout once ready, logs JSON lines on stderr, and on SIGTERM/SIGINT
    stops accepting, wakes hanging requests and exits 0.

Secrets: Authorization and API-key headers are recorded as
"<scheme> (redacted)", and body fields named like credentials (assertion,
access_token, private_key, ...) as "(redacted)"; nothing secret is logged.
Standard library only (Python 3.9+).
"""

import argparse
import ipaddress
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAIL_MODES = ("429", "500", "503", "401", "quota", "hang", "drop",
              "midstream")
REDACT_HEADERS = ("authorization", "proxy-authorization", "x-api-key",
                  "api-key", "x-goog-api-key", "cookie")
REDACT_FIELDS = ("assertion", "access_token", "refresh_token", "id_token",
                 "private_key", "api_key", "apikey", "key", "password",
                 "secret", "client_secret", "token")
MAX_RECORDS = 2000      # kept in memory for GET /_standin/requests
SUMMARY_STR = 300       # longer strings are cut in recorded bodies
DEFAULT_MAX_BODY = 32 * 1024 * 1024


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)


class Log:
    """JSON lines on stderr, the daemons' shape (ts, level, standin, msg)."""

    def __init__(self, name, verbose=False):
        self.name = name
        self.verbose = verbose
        self.lock = threading.Lock()

    def emit(self, level, msg, **fields):
        if level == "debug" and not self.verbose:
            return
        doc = {"ts": now_iso(), "level": level, "standin": self.name,
               "pid": os.getpid(), "msg": msg}
        doc.update(fields)
        line = json.dumps(doc, ensure_ascii=False)
        with self.lock:
            try:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def info(self, msg, **f):
        self.emit("info", msg, **f)

    def warn(self, msg, **f):
        self.emit("warn", msg, **f)

    def debug(self, msg, **f):
        self.emit("debug", msg, **f)


def summarize(value, depth=0):
    """Return a copy of a JSON value fit for the record: long strings cut,
    credential-like fields redacted."""
    if depth > 8:
        return "(deep)"
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and k.lower() in REDACT_FIELDS and v:
                out[k] = "(redacted)"
            else:
                out[k] = summarize(v, depth + 1)
        return out
    if isinstance(value, list):
        items = [summarize(v, depth + 1) for v in value[:50]]
        if len(value) > 50:
            items.append("(%d more)" % (len(value) - 50))
        return items
    if isinstance(value, str) and len(value) > SUMMARY_STR:
        return value[:SUMMARY_STR] + "...(%d chars)" % len(value)
    return value


def redact_headers(headers):
    out = {}
    for k, v in headers.items():
        if k.lower() in REDACT_HEADERS:
            scheme = v.split(" ", 1)[0] if " " in v else ""
            v = (scheme + " (redacted)").strip()
        out[k] = v
    return out


class Fault:
    def __init__(self, path, mode, count=1, retry_after=1, after_chars=8,
                 source="control"):
        if mode not in FAIL_MODES:
            raise ValueError("unknown fault mode %r (one of %s)" %
                             (mode, ", ".join(FAIL_MODES)))
        if not (path == "*" or path.startswith("/")):
            raise ValueError("fault path must start with / or be *")
        self.path = path
        self.mode = mode
        self.count = int(count)
        self.retry_after = retry_after
        self.after_chars = int(after_chars)
        self.source = source

    def doc(self):
        return {"path": self.path, "mode": self.mode, "count": self.count,
                "retry_after": self.retry_after,
                "after_chars": self.after_chars, "source": self.source}


def parse_fail_spec(spec):
    """Parse --fail PATH:MODE[:COUNT] (COUNT -1 or * for always)."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3 and (parts[2].lstrip("-").isdigit() or
                            parts[2] == "*"):
        path, mode, count = parts
        count = -1 if count == "*" else int(count)
    else:
        path, mode = spec.rsplit(":", 1)
        count = 1
    return Fault(path, mode, count, source="--fail")


class State:
    """What the control endpoint changes and every handler reads."""

    def __init__(self, name, args, config_extra=None):
        self.name = name
        self.lock = threading.Lock()
        self.faults = [parse_fail_spec(s) for s in (args.fail or [])]
        self.config = {"latency_ms": args.latency_ms, "ttft_ms": args.ttft_ms,
                       "tokens_per_s": args.tokens_per_s,
                       "hang_s": args.hang_s}
        self.config.update(config_extra or {})
        self.records = []
        self.seq = 0
        self.record_path = args.record
        self.record_file = None
        if self.record_path:
            d = os.path.dirname(os.path.abspath(self.record_path))
            os.makedirs(d, exist_ok=True)
            fd = os.open(self.record_path,
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self.record_file = os.fdopen(fd, "a", encoding="utf-8")
        self.stopping = threading.Event()

    def take_fault(self, path):
        """Consume and return the first fault armed for path, or None."""
        with self.lock:
            for f in self.faults:
                if f.path in ("*", path) and f.count != 0:
                    if f.count > 0:
                        f.count -= 1
                    self.faults = [g for g in self.faults if g.count != 0]
                    return f
        return None

    def add_fault(self, fault):
        with self.lock:
            self.faults.append(fault)

    def begin(self, doc):
        """Note a request as it arrives, so GET /_standin/requests shows a
        request still in progress (a hang) with "status": null."""
        with self.lock:
            self.seq += 1
            doc["seq"] = self.seq
            doc["status"] = None
            doc["t_done"] = None
            self.records.append(doc)
            if len(self.records) > MAX_RECORDS:
                del self.records[:len(self.records) - MAX_RECORDS]

    def record(self, doc):
        """Write a finished request to the record file."""
        with self.lock:
            if self.record_file:
                self.record_file.write(json.dumps(doc, ensure_ascii=False) +
                                       "\n")
                self.record_file.flush()

    def close(self):
        with self.lock:
            if self.record_file:
                self.record_file.close()
                self.record_file = None


class ClientGone(Exception):
    """The client closed the connection while we were writing."""


class Handler(BaseHTTPRequestHandler):
    """Base request handler of a stand-in. Subclasses set ROUTES, a dict
    {(METHOD, PATH): "method_name"}, and may override error_body() and
    provider_headers()."""

    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""
    timeout = 300
    ROUTES = {}
    STREAMING = ()  # paths that handle a "midstream" fault (self.fault)
    state = None   # set by serve()
    log = None
    max_body = DEFAULT_MAX_BODY

    # ----- provider hooks ----------------------------------------------

    def error_body(self, status, kind, message):
        """Return (status, JSON body, extra headers) for an error of kind
        (a fault mode, "not_found", "bad_request", "too_large", ...)."""
        return status, {"error": {"code": status, "message": message,
                                  "status": kind}}, {}

    def provider_headers(self):
        """Headers added to every response of this provider."""
        return {}

    # ----- plumbing ----------------------------------------------------

    def parse_request(self):
        # The request line has just been read: the request's arrival.
        self.t_arrived = time.monotonic()
        return super().parse_request()

    def mark(self, key):
        """Note now (CLOCK_MONOTONIC seconds) as rec[key], once."""
        if key not in self.rec:
            self.rec[key] = round(time.monotonic(), 6)

    def log_message(self, fmt, *args):  # BaseHTTPRequestHandler's access log
        self.log.debug("http: " + (fmt % args))

    def _dispatch(self):
        self.t0 = getattr(self, "t_arrived", None) or time.monotonic()
        self.t_done = None
        self.deadline = None
        url = urllib.parse.urlsplit(self.path)
        self.url_path = url.path
        self.query = urllib.parse.parse_qs(url.query)
        self.status_sent = None
        self.fault = None
        self.rec = {"ts": now_iso(), "method": self.command,
                    "path": self.url_path, "t_arrived": round(self.t0, 6)}
        if url.query:
            self.rec["query"] = summarize(
                {k: v[0] if len(v) == 1 else v
                 for k, v in self.query.items()})
        try:
            if self.url_path.startswith("/_standin/") or \
                    self.url_path == "/_standin":
                self._control()
                return
            self.rec["headers"] = redact_headers(dict(self.headers.items()))
            self.state.begin(self.rec)
            try:
                self.body = self._read_body()
            except ValueError as e:
                self.rec["outcome"] = "bad body: %s" % e
                self.send_error_shaped(400, "bad_request", str(e))
                self.close_connection = True
                return
            if self.body is None:
                return
            self.rec["body"] = self.default_summary()
            route = self.ROUTES.get((self.command, self.url_path))
            if route is None:
                known = [p for (m, p) in self.ROUTES if p == self.url_path]
                if known:
                    self.send_error_shaped(405, "method_not_allowed",
                                           "Method %s not allowed on %s" %
                                           (self.command, self.url_path))
                else:
                    self.send_error_shaped(404, "not_found",
                                           "Unknown path %s" % self.url_path)
                self.rec.setdefault("outcome", "no route")
                return
            # latency_ms counts from the arrival: the route's own work
            # (matching audio, rendering speech) runs inside it, and the
            # answer's first byte waits for the rest (send_*, below).
            self.deadline = self.t0 + float(
                self.state.config.get("latency_ms", 0) or 0) / 1000.0
            fault = self.state.take_fault(self.url_path)
            if fault is not None:
                self.rec["fault"] = fault.mode
                if fault.mode == "midstream" and \
                        self.url_path not in self.STREAMING:
                    fault = Fault(fault.path, "500", source=fault.source)
                if fault.mode != "midstream":
                    self.apply_fault(fault)
                    return
                self.fault = fault
            getattr(self, route)()
        except ClientGone:
            self.rec["outcome"] = (self.rec.get("outcome", "") +
                                   " (client went away)").strip()
            self.close_connection = True
        finally:
            if not self.url_path.startswith("/_standin"):
                self.rec["status"] = self.status_sent
                done = self.t_done or time.monotonic()
                self.rec["t_done"] = round(done, 6)
                self.rec["ms"] = round((done - self.t0) * 1000, 1)
                self.state.record(self.rec)
                self.log.info("%s %s -> %s" % (self.command, self.url_path,
                                              self.status_sent),
                              ms=self.rec["ms"],
                              outcome=self.rec.get("outcome"),
                              fault=self.rec.get("fault"))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def _read_body(self):
        """Return the request body (bytes), or None when an error answer
        was already sent."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("chunked body cut short")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    break
                total += size
                if total > self.max_body:
                    self.send_error_shaped(413, "too_large",
                                           "Request body too large")
                    self.close_connection = True
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(chunks)
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            raise ValueError("bad Content-Length")
        if n < 0:
            raise ValueError("bad Content-Length")
        if n > self.max_body:
            self.send_error_shaped(413, "too_large",
                                   "Request body of %d bytes is too large "
                                   "(at most %d)" % (n, self.max_body))
            self.close_connection = True
            return None
        data = self.rfile.read(n)
        if len(data) != n:
            raise ValueError("body shorter than Content-Length")
        return data

    def default_summary(self):
        ctype = self.headers.get("Content-Type", "")
        if not self.body:
            return None
        if ctype.startswith("application/json"):
            try:
                return summarize(json.loads(self.body))
            except ValueError:
                return {"bytes": len(self.body), "json": "invalid"}
        if ctype.startswith("application/x-www-form-urlencoded"):
            q = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                      keep_blank_values=True)
            return summarize({k: v[0] if len(v) == 1 else v
                              for k, v in q.items()})
        return {"bytes": len(self.body), "content_type": ctype}

    def delay_ms(self, ms):
        """Sleep ms milliseconds, waking early when the stand-in stops."""
        if ms and ms > 0:
            self.state.stopping.wait(ms / 1000.0)

    def delay_until(self, t):
        """Sleep until CLOCK_MONOTONIC t (seconds), waking early when the
        stand-in stops; no sleep when t has passed."""
        left = t - time.monotonic()
        if left > 0:
            self.state.stopping.wait(left)

    def wait_latency(self):
        """Hold the answer's first byte until latency_ms after arrival."""
        t = getattr(self, "deadline", None)
        if t is not None:
            self.deadline = None
            self.delay_until(t)

    # ----- responses ---------------------------------------------------

    def _headers(self, status, ctype, length=None, extra=None):
        self.send_response(status)
        self.status_sent = status
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in self.provider_headers().items():
            self.send_header(k, v)
        for k, v in (extra or {}).items():
            self.send_header(k, str(v))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def send_bytes(self, status, data, ctype, extra=None):
        self.wait_latency()
        try:
            self._headers(status, ctype, len(data), extra)
            self.wfile.write(data)
            self.wfile.flush()
            self.t_done = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            raise ClientGone()

    def send_json(self, status, doc, extra=None):
        data = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
        self.send_bytes(status, data + b"\n",
                        "application/json; charset=utf-8", extra)

    def send_error_shaped(self, status, kind, message):
        status, body, extra = self.error_body(status, kind, message)
        self.rec.setdefault("outcome", "%s: %s" % (kind, message))
        self.send_json(status, body, extra)

    def start_chunked(self, status, ctype, extra=None):
        self.wait_latency()
        try:
            self.send_response(status)
            self.status_sent = status
            self.send_header("Content-Type", ctype)
            self.send_header("Transfer-Encoding", "chunked")
            for k, v in self.provider_headers().items():
                self.send_header(k, v)
            for k, v in (extra or {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            raise ClientGone()

    def write_chunk(self, data):
        if not data:
            return
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            raise ClientGone()

    def end_chunked(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.t_done = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            raise ClientGone()

    # ----- faults ------------------------------------------------------

    def apply_fault(self, fault):
        mode = fault.mode
        self.rec["outcome"] = "injected %s" % mode
        self.wait_latency()
        if mode == "hang":
            self.hang()
            return
        if mode == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status = {"429": 429, "quota": 429, "500": 500, "503": 503,
                  "401": 401}[mode]
        status, body, extra = self.error_body(status, mode, "")
        if status == 429 and mode == "429":
            extra = dict(extra)
            extra["Retry-After"] = str(fault.retry_after)
        self.send_json(status, body, extra)

    def hang(self):
        """Answer nothing until the client gives up, the stand-in stops or
        hang_s passes; then close the connection."""
        end = time.monotonic() + float(self.state.config.get("hang_s", 120))
        self.close_connection = True
        sock = self.connection
        while not self.state.stopping.is_set() and time.monotonic() < end:
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        self.rec["outcome"] = "hung until the client left"
                        return
                except OSError:
                    return
                # Pipelined bytes: keep hanging without reading them.
                self.state.stopping.wait(0.1)
        self.rec["outcome"] = "hung until %s" % (
            "the stand-in stopped" if self.state.stopping.is_set()
            else "hang_s passed")

    # ----- control endpoint ------------------------------------------

    def _control(self):
        path = self.url_path
        body = self._read_body() or b""
        try:
            doc = json.loads(body) if body.strip() else {}
        except ValueError:
            return self.send_json(400, {"error": "body is not JSON"})
        if path == "/_standin/health":
            return self.send_json(200, {"ok": True, "name": self.state.name})
        if path == "/_standin/requests":
            if self.command == "DELETE":
                with self.state.lock:
                    self.state.records = []
                return self.send_json(200, {"ok": True})
            want = self.query.get("path", [None])[0]
            with self.state.lock:
                recs = [dict(r) for r in self.state.records
                        if want is None or r.get("path") == want]
            return self.send_json(200, {"requests": recs})
        if path == "/_standin/fail":
            if self.command == "DELETE":
                with self.state.lock:
                    self.state.faults = []
                return self.send_json(200, {"ok": True})
            if self.command == "POST":
                items = doc if isinstance(doc, list) else [doc]
                try:
                    for d in items:
                        self.state.add_fault(Fault(
                            d.get("path", "*"), str(d.get("mode", "")),
                            d.get("count", 1), d.get("retry_after", 1),
                            d.get("after_chars", 8)))
                except (ValueError, TypeError, AttributeError) as e:
                    return self.send_json(400, {"error": str(e)})
                self.log.info("faults armed", faults=items)
            with self.state.lock:
                faults = [f.doc() for f in self.state.faults]
            return self.send_json(200, {"faults": faults})
        if path == "/_standin/config":
            if self.command == "POST":
                if not isinstance(doc, dict):
                    return self.send_json(400, {"error": "want an object"})
                bad = [k for k in doc if k not in self.state.config]
                if bad:
                    return self.send_json(400, {
                        "error": "unknown settings %s (known: %s)" %
                        (bad, sorted(self.state.config))})
                with self.state.lock:
                    self.state.config.update(doc)
                self.log.info("config changed", config=doc)
            return self.send_json(200, {"config": self.state.config})
        extra = self.control_extra(path, doc)
        if extra is not None:
            return self.send_json(200, extra)
        return self.send_json(404, {"error": "unknown control path %s" %
                                    path})

    def control_extra(self, path, doc):
        """Subclass hook for more /_standin/ paths: return a JSON answer,
        or None for 404."""
        return None


def add_common_args(ap):
    ap.add_argument("--listen", default="127.0.0.1:0",
                    help="loopback address to bind, HOST:PORT "
                         "(default 127.0.0.1:0)")
    ap.add_argument("--record", metavar="FILE",
                    help="append every request received as a JSON line "
                         "(default $MERKAZIA_STANDIN_RECORD_DIR/"
                         "standin-NAME.requests.log, else none)")
    ap.add_argument("--fail", action="append", default=[],
                    metavar="PATH:MODE[:COUNT]",
                    help="arm a fault at start (MODE one of %s; COUNT "
                         "default 1, -1 or * for always)" %
                         ", ".join(FAIL_MODES))
    ap.add_argument("--latency-ms", type=float, default=0,
                    help="delay before every answer")
    ap.add_argument("--ttft-ms", type=float, default=0,
                    help="streams: delay before the first token")
    ap.add_argument("--tokens-per-s", type=float, default=0,
                    help="streams: token rate (0: as fast as possible)")
    ap.add_argument("--hang-s", type=float, default=120,
                    help="how long a 'hang' fault holds a request")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="debug log lines")


def check_listen(ap, listen):
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit():
        ap.error("--listen wants HOST:PORT")
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
    except ValueError:
        ap.error("--listen: stand-ins bind a loopback address only, "
                 "not %r" % host)
    return host, int(port)


def default_record(name):
    d = os.environ.get("MERKAZIA_STANDIN_RECORD_DIR")
    if not d:
        return None
    return os.path.join(d, "standin-%s.requests.log" % name)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False


def serve(name, args, ap, handler_cls, ready_extra=None, config_extra=None,
          on_bound=None, on_stop=None):
    """Bind, announce, serve until SIGTERM/SIGINT; return the exit code.
    on_bound(host, port) runs after binding and before the ready line and
    may return more keys for it; on_stop() runs at the end."""
    host, port = check_listen(ap, args.listen)
    # The timings are noted by whichever thread holds the GIL: hand it
    # over every 1 ms (not 5) so a note waits less for it under load.
    sys.setswitchinterval(0.001)
    if not args.record:
        args.record = default_record(name)
    log = Log(name, args.verbose)
    try:
        state = State(name, args, config_extra)
    except ValueError as e:
        ap.error(str(e))
    cls = type(handler_cls.__name__, (handler_cls,),
               {"state": state, "log": log})
    if ":" in host:
        _Server.address_family = socket.AF_INET6
    try:
        srv = _Server((host, port), cls)
    except OSError as e:
        log.warn("cannot listen on %s: %s" % (args.listen, e))
        return 1
    host, port = srv.server_address[:2]
    listen = ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
    ready = {"listen": listen, "name": name}
    ready.update(ready_extra or {})
    if on_bound:
        try:
            ready.update(on_bound(host, port) or {})
        except Exception as e:  # a failed setup is a failed start
            log.warn("setup failed: %s" % e)
            srv.server_close()
            return 1
    if args.record:
        ready["record"] = os.path.abspath(args.record)
    ready["control"] = "http://%s/_standin" % listen

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=srv.serve_forever, kwargs={
        "poll_interval": 0.1}, daemon=True)
    t.start()
    sys.stdout.write(json.dumps(ready, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    log.info("listening", listen=listen,
             faults=[f.doc() for f in state.faults])
    while not stop.wait(0.5):
        pass
    log.info("stopping")
    state.stopping.set()
    srv.shutdown()
    srv.server_close()
    t.join(timeout=5)
    if on_stop:
        try:
            on_stop()
        except Exception as e:
            log.warn("cleanup failed: %s" % e)
    state.close()
    log.info("stopped")
    return 0


def parser(prog, description):
    return argparse.ArgumentParser(prog=prog, description=description)
