"""A browser page whose ``EventSource`` resumes a reply after the connection drops.

A small stdlib WSGI app (``wsgiref``, one thread per request) serves two things:

- ``/``: a page that opens ``new EventSource("/events")`` and appends each ``token`` event to
  the text, logging every (re)connection and the id it resumed from;
- ``/events``: the reply as SSE events with ids (``réponse-0``, ``réponse-1``…). To show resuming,
  the server ends every response after ``PER_CONNECTION`` events, as a flaky network would. The
  browser reconnects by itself after the ``retry:`` delay (200 ms here) and sends the id of the
  last event it saw in ``Last-Event-ID``; ``read_last_event_id(environ)`` reads it back (the
  browser sends UTF-8, WSGI hands it over as Latin-1 text, the helper undoes that) and the app
  continues right after it. The final ``end`` event has no id, and ``last_event_id=`` makes
  ``sse_stream`` write an empty ``id:`` line for it, so the browser does not keep a stale id.

Run it and open the printed URL: ``python examples/browser_resume.py`` (Ctrl-C to stop).
``python examples/browser_resume.py --check`` reads the stream with sansstream's own
EventSource client (``connect_sse``) instead of a browser and prints what it got.
"""

from __future__ import annotations

import socketserver
import sys
import threading
import wsgiref.simple_server
from collections.abc import Iterable, Iterator
from typing import Any

from sansstream.api import connect_sse
from sansstream.model import ServerSentEvent
from sansstream.server import read_last_event_id, sse_stream

REPLY = "Every token of this reply arrives exactly once, however often the connection drops."
TOKENS = [word + " " for word in REPLY.split(" ")]
TOKENS[-1] = TOKENS[-1].rstrip()
PER_CONNECTION = 4  # events per response before the server drops the connection
RETRY_MS = 200  # how long the browser waits before reconnecting

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>sansstream: EventSource resume</title>
<style>body { font: 16px system-ui, sans-serif; margin: 2em; } #text { font-size: 1.3em; }</style>
<h1>A reply that survives dropped connections</h1>
<p id="text"></p>
<p>Status: <span id="status">connecting…</span></p>
<ol id="log"></ol>
<script>
const text = document.getElementById("text");
const status = document.getElementById("status");
const log = document.getElementById("log");
let connections = 0, lastId = "";
const source = new EventSource("/events");
function note(message) {
  const item = document.createElement("li");
  item.textContent = message;
  log.appendChild(item);
}
source.onopen = () => {
  connections += 1;
  note(connections === 1 ? "connected" : "reconnected after id " + JSON.stringify(lastId));
  status.textContent = "streaming";
};
source.addEventListener("token", (event) => {
  text.textContent += event.data;
  lastId = event.lastEventId;
});
source.addEventListener("end", (event) => {
  source.close();
  status.textContent = "done after " + connections + " connections";
  document.body.dataset.done = JSON.stringify(
    {text: text.textContent, connections: connections, endId: event.lastEventId});
});
source.onerror = () => {
  if (source.readyState !== EventSource.CLOSED) status.textContent = "reconnecting…";
};
</script>
</html>
"""


def event_id(n: int) -> str:
    return f"réponse-{n}"  # non-ASCII on purpose: it travels as UTF-8 in Last-Event-ID


def resume_index(last_id: str | None) -> int:
    """The index of the first token to send, after the event the client saw last."""
    if last_id is None:
        return 0  # a first connection
    prefix, _, number = last_id.rpartition("-")
    if prefix != "réponse" or not number.isdigit() or int(number) >= len(TOKENS):
        return 0  # an id we never wrote: start over rather than guess
    return int(number) + 1


def events_from(start: int) -> Iterator[ServerSentEvent]:
    stop = min(start + PER_CONNECTION, len(TOKENS))
    for n in range(start, stop):
        retry = RETRY_MS if n == start else None  # how soon to come back after this drop
        yield ServerSentEvent(TOKENS[n], event="token", id=event_id(n), retry=retry)
    if stop == len(TOKENS):
        yield ServerSentEvent("", event="end")  # no id: sse_stream resets the client's one


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        body = PAGE.encode("utf-8")
        start_response(
            "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
        )
        return [body]
    if path == "/events":
        last_id = read_last_event_id(environ)
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return sse_stream(events_from(resume_index(last_id)), done=False, last_event_id=last_id)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


class ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True  # an open EventSource must not keep the process alive


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_server(port: int = 0) -> tuple[ThreadingWSGIServer, threading.Thread]:
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def check() -> tuple[str, list[str], int]:
    """Read the stream as a browser would, with sansstream's EventSource client; returns the
    text, the ids seen and the number of connections."""
    server, thread = start_server()
    connections = 0

    def opened(response: Any) -> None:
        nonlocal connections
        connections += 1

    text, ids = [], []
    try:
        url = f"http://127.0.0.1:{server.server_port}/events"
        with connect_sse(url, on_connect=opened, timeout=10) as source:
            for event in source:
                if event.event == "end":
                    ids.append(event.id)
                    break
                text.append(event.data)
                ids.append(event.id)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    print("".join(text))
    print(f"{connections} connections; ids: {ids}")
    return "".join(text), ids, connections


def main(argv: list[str]) -> None:
    if "--check" in argv:
        check()
        return
    server, thread = start_server(int(argv[0]) if argv and argv[0].isdigit() else 8000)
    print(f"open http://127.0.0.1:{server.server_port}/ in a browser (Ctrl-C to stop)", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
