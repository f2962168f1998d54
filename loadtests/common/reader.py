"""One greenlet reads every response of the process.

With one greenlet per request, each chunk costs a failed `recv` (EAGAIN), a
switch to the gevent hub, an epoll round and a switch back, then the real
`recv`: most of the client's CPU at hundreds of streams. Here the request's
greenlet sends the request, hands the socket to the process's
`StreamReader` and sleeps until its response is over. The reader keeps the
sockets in an epoll set of its own, whose file descriptor is a single gevent
watcher: one wake-up returns every socket with data, each is read once
(64 KiB, no EAGAIN), stamped with that read's time, and handed to the
request's `Exchange` (`common.wire`), which parses HTTP with
geventhttpclient's parser and SSE in bulk. Time limits stay with the
watchdog (`common.watchdog`), which interrupts the sleeping request
greenlet; it then takes its socket back.

Linux (epoll) over plain TCP; elsewhere, and for TLS, the client reads in
its own greenlet (`available()` says which).
"""

from __future__ import annotations

import os
import time

import gevent
from gevent.event import Event
from gevent.hub import get_hub
from gevent.monkey import get_original

BLOCK_SIZE = 64 * 1024


try:  # Locust monkey-patches `select`, and gevent's version has no epoll: take the original
    _epoll = get_original("select", "epoll")
    EPOLLIN = get_original("select", "EPOLLIN")
except AttributeError:
    _epoll = None
    EPOLLIN = 1


def available() -> bool:
    return _epoll is not None


class StreamReader:
    """Reads streams for the greenlets of this process; runs only while there are streams."""

    def __init__(self) -> None:
        self._epoll = None
        self._streams: dict[int, object] = {}
        self._greenlet: gevent.Greenlet | None = None
        self.wakes = 0  # gevent wake-ups of the reader (each returns every ready socket)
        self.reads = 0  # socket reads

    def read(self, stream) -> None:
        """Block the calling greenlet until `stream.on_data(data, now)` says it is over, or an
        exception (the watchdog's, a kill) interrupts it; exceptions of the stream are raised here.

        `stream` has `fd`, `on_data`, and `event`/`error` slots for the reader (`common.wire.Exchange`).
        """
        fd = stream.fd
        stream.event = Event()
        stream.error = None
        if self._epoll is None:
            self._epoll = _epoll()
        self._epoll.register(fd, EPOLLIN)
        self._streams[fd] = stream
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)
        try:
            stream.event.wait()
        finally:
            self._forget(stream)
        if stream.error is not None:
            raise stream.error

    def _forget(self, stream) -> None:
        if self._streams.get(stream.fd) is stream:
            del self._streams[stream.fd]
            try:
                self._epoll.unregister(stream.fd)  # type: ignore[union-attr]
            except OSError:
                pass  # already closed: epoll dropped it

    def _finish(self, stream, error: BaseException | None = None) -> None:
        stream.error = error
        self._forget(stream)
        stream.event.set()

    def _run(self) -> None:
        hub = get_hub()
        epoll = self._epoll
        assert epoll is not None
        watcher = hub.loop.io(epoll.fileno(), 1)
        streams = self._streams
        perf = time.perf_counter
        read = os.read
        try:
            while streams:
                hub.wait(watcher)
                ready = epoll.poll(0)
                self.wakes += 1
                self.reads += len(ready)
                for fd, _ in ready:
                    stream = streams.get(fd)
                    if stream is None:
                        continue
                    try:
                        data = read(fd, BLOCK_SIZE)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        self._finish(stream, exc)
                        continue
                    try:
                        if stream.on_data(data, perf()):
                            self._finish(stream)
                    except Exception as exc:  # parse errors, a closed peer: the request's to classify
                        self._finish(stream, exc)
        finally:
            watcher.close()
            self._greenlet = None
            for stream in list(streams.values()):  # only if this greenlet itself was killed
                self._finish(stream, ConnectionError("the stream reader stopped"))


READER = StreamReader()
