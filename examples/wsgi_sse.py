"""Server-Sent Events from a WSGI app (stdlib ``wsgiref``), read back with sansstream's parser.

Server side: the WSGI app returns ``sse_stream(...)`` as its body, an iterator of bytes that any
WSGI server sends slice by slice; here it streams a canned reply in the SLOP chunk protocol with
a keepalive comment whenever the producer is silent for 50 ms. Client side: ``http.client`` reads
the body as it arrives and ``iter_sse`` parses it; ``decode_stream("slop", ...)`` would give
chunks instead of events.

Run it: ``python examples/wsgi_sse.py``
"""

from __future__ import annotations

import http.client
import threading
import time
import wsgiref.simple_server
from collections.abc import Iterable, Iterator
from typing import Any

from sansstream.core import iter_sse
from sansstream.model import Chunk, ServerSentEvent
from sansstream.server import sse_stream, stream_response


def slow_reply() -> Iterator[Chunk]:
    for chunk in stream_response("Streamed by a WSGI app.", model="wsgi-demo"):
        time.sleep(0.03)  # a slow producer, e.g. a model generating tokens
        yield chunk


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
    return sse_stream(slow_reply(), format="slop", keepalive=0.05)


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def body_slices(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while data := response.read1(65536):  # returns as soon as some bytes arrived
        yield data


def main() -> list[ServerSentEvent]:
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.handle_request)  # serve exactly one request
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        connection.request("GET", "/stream", headers={"Accept": "text/event-stream"})
        response = connection.getresponse()
        events = []
        for event in iter_sse(body_slices(response)):
            print(event.json(), flush=True)
            events.append(event)
        connection.close()
    finally:
        thread.join(10)
        server.server_close()
    return events


if __name__ == "__main__":
    main()
