"""An S3 fault proxy for the tests: a small threaded HTTP proxy on loopback in front of moto's
server that breaks some requests the way a flaky network or a busy S3 does.

Faults (each request gets at most one, decided by a seeded hash of the request and how many
times it was made, so a retry of the same request is decided afresh and the same seed breaks
the same attempts in every run, whatever order the threads send them in):
- reset:     the connection is reset before any response;
- error500:  500 InternalError;
- slowdown:  503 SlowDown, S3's throttling answer;
- truncate:  the headers promise the whole body, half of it comes, then the connection closes;
- reset_body: half the body, then the connection is reset;
- short:     half the body, with headers that agree (Content-Length and all): a body cut short
             somewhere the HTTP framing cannot tell;
- corrupt:   the whole body, one byte changed;
- gone:      404 NoSuchKey, as for an object deleted after the listing.
`always` breaks every request whose path contains one of its keys, with that fault.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("reset", "error500", "slowdown", "truncate", "reset_body", "short", "corrupt", "gone")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te",
              "trailer", "upgrade"}
ERROR_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
             "<RequestId>FAULTPROXY</RequestId></Error>")


class FaultProxy:
    """Forwards to `upstream`; with rates {fault: share of requests}, breaks that share of the
    GETs of objects (listings too when objects_only is False). `counts` says what it did.
    strip_checksums: answer without x-amz-checksum-* headers, so botocore cannot check the body."""

    def __init__(self, upstream: str, rates: dict[str, float] | None = None, *, seed: int = 1,
                 objects_only: bool = True, strip_checksums: bool = False,
                 always: dict[str, str] | None = None) -> None:
        unknown = (set(rates or {}) | set((always or {}).values())) - set(FAULTS)
        assert not unknown, unknown
        self.upstream = urlsplit(upstream)
        self.rates = dict(rates or {})
        self.always = dict(always or {})
        self.seed = seed
        self.objects_only = objects_only
        self.strip_checksums = strip_checksums  # as a store without flexible checksums answers
        self.counts: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.proxy = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault_for(self, method: str, path: str) -> str | None:
        """The fault of this request (None: forward it as it is), and count it."""
        request = f"{method} {path}"
        with self.lock:
            self.attempts[request] += 1
            attempt = self.attempts[request]
            self.counts["requests"] += 1
        if method != "GET" or (self.objects_only and not _is_object(path)):
            return None
        for part, fault in self.always.items():
            if part in path:
                with self.lock:
                    self.counts[fault] += 1
                return fault
        draw = random.Random(f"{self.seed}|{request}|{attempt}").random()
        for fault, rate in self.rates.items():
            if draw < rate:
                with self.lock:
                    self.counts[fault] += 1
                return fault
            draw -= rate
        return None


def _is_object(path: str) -> bool:
    """/bucket/key (path style), not a listing (/bucket?list-type=2…)."""
    parts = urlsplit(path)
    return parts.path.strip("/").count("/") >= 1 and "list-type" not in parts.query


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3 uses it

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._forward()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    def _forward(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = proxy.fault_for(self.command, self.path)
        if fault == "reset":
            self._reset()
            return
        if fault in ("error500", "slowdown", "gone"):
            status, code, message = {
                "error500": (500, "InternalError", "We encountered an internal error. Please try again."),
                "slowdown": (503, "SlowDown", "Please reduce your request rate."),
                "gone": (404, "NoSuchKey", "The specified key does not exist."),
            }[fault]
            self._send(status, [("Content-Type", "application/xml")], ERROR_XML.format(code=code, message=message)
                       .encode())
            return
        upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            status, reply_headers = response.status, response.getheaders()
        finally:
            upstream.close()
        kept = [(k, v) for k, v in reply_headers if k.lower() not in HOP_BY_HOP
                and not (proxy.strip_checksums and k.lower().startswith("x-amz-checksum"))]
        if self.command == "HEAD":  # no body, but the length of the one a GET would have
            length = next((int(v) for k, v in reply_headers if k.lower() == "content-length"), 0)
            self._send(status, kept, b"", length=length)
            return
        if fault is None or status != 200 or len(data) < 2:
            self._send(status, kept, data)
        elif fault == "short":
            self._send(status, kept, data[: len(data) // 2])
        elif fault == "corrupt":
            middle = len(data) // 2
            self._send(status, kept, data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1 :])
        else:  # truncate, reset_body: the whole length promised, half of it sent
            self._send(status, kept, data[: len(data) // 2], length=len(data))
            if fault == "reset_body":
                self._reset()
            else:
                self.close_connection = True

    def _send(self, status: int, headers: list[tuple[str, str]], data: bytes, length: int | None = None) -> None:
        self.send_response_only(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with an RST instead of a FIN: the peer sees 'connection reset by peer'."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
