"""The process that reads article pages: one forked child per page, killed at its time limit.

A stranger's page can make trafilatura run for minutes (a 10 MB page took 95 s of CPU and
450 MB) and Python cannot interrupt a C parser from outside, so a page is read where it can
be killed: the daemon starts this server once (``python -m monitor.feeds.extraction_server``,
see :mod:`monitor.feeds.extractor`), and the server forks a child per page. Forking here is
safe (this process has one thread) and cheap (trafilatura and lxml are imported before the
first fork), and each child's memory goes back to the system when it ends.

Frames both ways are a 4-byte big-endian length and a pickle; only the daemon writes to this
process, and only its own children write back, so pickles cross no trust boundary. Requests:
``("page", id, body, url, content_type, seconds)`` and ``("cancel", id)``; replies:
``(id, FullText)``. A child past its seconds is killed and answered "time limit"; one that
dies otherwise is answered "extraction failed". The server ends when its input closes (the
daemon stopped or died) and kills what is still running; on Linux it and its children also
die with their parent (PR_SET_PDEATHSIG), and a child cannot use more CPU than its limit
(RLIMIT_CPU) even if nobody is left to kill it.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import resource
import selectors
import signal
import struct
import sys
import time
from dataclasses import dataclass, field

from monitor.feeds.article import FullText, extract_page
from monitor.libc import die_with_parent

HEADER = struct.Struct(">I")
_READ = 1 << 16


@dataclass(slots=True)
class _Child:
    request: int
    pid: int
    fd: int
    deadline: float
    chunks: list[bytes] = field(default_factory=list)


def frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def unframe(buffer: bytearray) -> list[object]:
    """Every whole message at the start of ``buffer``, which keeps what is left of the next."""
    messages: list[object] = []
    while len(buffer) >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer)
        if len(buffer) < HEADER.size + size:
            break
        messages.append(pickle.loads(bytes(buffer[HEADER.size : HEADER.size + size])))
        del buffer[: HEADER.size + size]
    return messages


class Server:
    def __init__(self, requests: int, replies: int) -> None:
        self.requests = requests
        self.replies = replies
        self.selector = selectors.DefaultSelector()
        self.selector.register(requests, selectors.EVENT_READ, None)
        self.children: dict[int, _Child] = {}
        self.buffer = bytearray()

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select(self._wait()):
                if key.data is None:
                    if not self._read_requests():
                        self._kill_all()
                        return
                else:
                    self._read_child(key.data)
            self._kill_overdue()

    def _wait(self) -> float | None:
        if not self.children:
            return None
        return max(0.0, min(c.deadline for c in self.children.values()) - time.monotonic())

    def _read_requests(self) -> bool:
        data = os.read(self.requests, _READ)
        if not data:
            return False
        self.buffer += data
        for message in unframe(self.buffer):
            match message:
                case ("page", int(request), bytes(body), str(url), str() | None as kind, float(s)):
                    self._start(request, body, url, kind, s)
                case ("cancel", int(request)) if request in self.children:
                    self._kill(self.children[request], None)
        return True

    def _start(
        self, request: int, body: bytes, url: str, content_type: str | None, seconds: float
    ) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _child(write_end, body, url, content_type, seconds, (self.requests, self.replies))
        os.close(write_end)
        child = _Child(request, pid, read_end, time.monotonic() + seconds)
        self.children[request] = child
        self.selector.register(read_end, selectors.EVENT_READ, child)

    def _read_child(self, child: _Child) -> None:
        chunk = os.read(child.fd, _READ)
        if chunk:
            child.chunks.append(chunk)
            return
        status = self._end(child)
        try:
            found = pickle.loads(b"".join(child.chunks))
        except Exception:  # it died before it had written all of its answer
            found = FullText(None, f"extraction failed: {_death(status)}")
        self._reply(child.request, found)

    def _kill_overdue(self) -> None:
        now = time.monotonic()
        for child in [c for c in self.children.values() if c.deadline <= now]:
            self._kill(child, FullText(None, "time limit"))

    def _kill(self, child: _Child, answer: FullText | None) -> None:
        os.kill(child.pid, signal.SIGKILL)
        self._end(child)
        if answer is not None:
            self._reply(child.request, answer)

    def _kill_all(self) -> None:
        for child in list(self.children.values()):
            self._kill(child, None)

    def _end(self, child: _Child) -> int:
        self.selector.unregister(child.fd)
        os.close(child.fd)
        del self.children[child.request]
        _, status = os.waitpid(child.pid, 0)
        return status

    def _reply(self, request: int, found: FullText) -> None:
        data = memoryview(frame((request, found)))
        while data:
            data = data[os.write(self.replies, data) :]


def _child(
    out: int,
    body: bytes,
    url: str,
    content_type: str | None,
    seconds: float,
    server_fds: tuple[int, int],
) -> None:
    code = 0
    try:
        die_with_parent()
        # The server's pipes are not the child's to read or write.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in server_fds:
            os.dup2(null, fd)
        cpu = math.ceil(seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        try:
            found = extract_page(body, url, content_type)
        except Exception as error:  # a parser bug on one hostile page costs that page only
            found = FullText(None, f"extraction failed: {type(error).__name__}")
        data = memoryview(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(out, data) :]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return f"exit {os.waitstatus_to_exitcode(status)}"


def main() -> None:
    die_with_parent()
    # The daemon decides when this process ends (by closing its input); a Ctrl-C sent to
    # the whole process group must not end it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Outcomes are the daemon's to log; what trafilatura says about a page is noise here.
    logging.disable(logging.CRITICAL)
    # Nothing but frames on the replies pipe: a stray print (or a C library's) goes nowhere.
    requests, replies = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    # Loaded once, before any fork, so each child starts with it.
    extract_page(b"<html><body><p>warm-up</p></body></html>", "http://localhost/", "text/html")
    os.write(replies, frame(("ready", os.getpid())))
    Server(requests, replies).serve()


if __name__ == "__main__":
    main()
