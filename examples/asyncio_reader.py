"""The SSE parser inside an asyncio stream reader (standard library only).

sansstream's parser does no I/O: it takes bytes and returns events. So an asyncio program reads
from its own ``StreamReader`` and hands each slice to ``SSEParser.feed``; nothing blocks and no
thread is involved. This example starts a small loopback HTTP server with ``asyncio.start_server``
that streams a few events slowly, then reads them with ``asyncio.open_connection``.

Run it: ``python examples/asyncio_reader.py``
"""

from __future__ import annotations

import asyncio

from sansstream.core import SSEParser, encode_sse
from sansstream.model import ServerSentEvent

WORDS = ["Hello", " from", " an", " asyncio", " server", "!"]


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal HTTP/1.1 server: read the request head, answer with a close-delimited
    ``text/event-stream`` body, one event every 20 ms."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
    for i, word in enumerate(WORDS):
        writer.write(encode_sse(ServerSentEvent(word, event="token", id=str(i))))
        await writer.drain()
        await asyncio.sleep(0.02)
    writer.write(encode_sse(data="[DONE]"))
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def read_events(host: str, port: int) -> list[ServerSentEvent]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise RuntimeError(f"unexpected response: {status!r}")

    parser = SSEParser()
    events: list[ServerSentEvent] = []
    while True:
        data = await reader.read(65536)  # whatever has arrived: any slicing works
        for event in parser.feed(data):  # feed(b"") at the end flushes and ends the stream
            if event.data == "[DONE]":
                continue
            print(f"{event.event} #{event.id}: {event.data!r}", flush=True)
            events.append(event)
        if not data:
            break
    writer.close()
    await writer.wait_closed()
    return events


async def run() -> list[ServerSentEvent]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await read_events("127.0.0.1", port)


def main() -> list[ServerSentEvent]:
    events = asyncio.run(run())
    print("text:", "".join(e.data for e in events))
    return events


if __name__ == "__main__":
    main()
