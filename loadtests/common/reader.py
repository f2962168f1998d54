"""Responses are read in the event loop's own callbacks, not in greenlets.

With one greenlet per request reading its socket, each chunk costs a failed
`recv` (EAGAIN), a switch to the gevent hub, an epoll round and a switch
back, then the real `recv`: most of the client's CPU at hundreds of streams.
Here the request's greenlet sends the request, hands the socket to the
process's `StreamReader` and sleeps until its response is over. The reader
starts a libev I/O watcher on the socket whose callback runs inside the hub
when the socket is readable: it reads once (64 KiB, no EAGAIN, no greenlet
switch), stamps that read's time and hands the bytes to the request's
`Exchange` (`common.wire`), which parses HTTP with geventhttpclient's parser
and SSE in bulk. All sockets that one epoll round returns are read in that
round, before any request greenlet runs (waking a finished request is a
callback queued after them), so a chunk's stamp is not delayed by another
request's bookkeeping. Time limits stay with the watchdog
(`common.watchdog`), which interrupts the sleeping request greenlet; it
then stops its watcher.

Plain TCP on Linux; for TLS the client reads in its own greenlet
(`available()` says whether this reader can be used).
"""

from __future__ import annotations

import os
import sys
import time

from gevent.event import Event
from gevent.hub import get_hub

BLOCK_SIZE = 64 * 1024
_READ = 1  # libev EV_READ


def available() -> bool:
    """Reading a socket with os.read in a loop callback needs POSIX file descriptors."""
    return sys.platform != "win32"


class StreamReader:
    """Reads the streams of this process's greenlets in event-loop callbacks."""

    def read(self, stream) -> None:
        """Block the calling greenlet until `stream.on_data(data, now)` says it is over, or an
        exception (the watchdog's, a kill) interrupts it; exceptions of the stream are raised here.

        `stream` has `fd`, `on_data`, and `event`/`error` slots for the reader (`common.wire.Exchange`).
        """
        event = stream.event = Event()
        stream.error = None
        watcher = get_hub().loop.io(stream.fd, _READ)
        watcher.start(self._ready, stream, watcher)
        try:
            event.wait()
        finally:
            watcher.stop()
            watcher.close()
        if stream.error is not None:
            raise stream.error

    def _ready(self, stream, watcher, _read=os.read, _perf=time.perf_counter) -> None:
        """Runs in the hub when the socket is readable; never raises (the request classifies errors)."""
        try:
            data = _read(stream.fd, BLOCK_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._finish(stream, watcher, exc)
            return
        try:
            if stream.on_data(data, _perf()):
                self._finish(stream, watcher, None)
        except Exception as exc:  # parse errors, a closed peer: the request's to classify
            self._finish(stream, watcher, exc)

    @staticmethod
    def _finish(stream, watcher, error: BaseException | None) -> None:
        watcher.stop()
        stream.error = error
        stream.event.set()  # the request greenlet runs after this round's other callbacks


READER = StreamReader()
