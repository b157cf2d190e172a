"""The provider decoder inside an httpx byte stream.

A program that already uses httpx keeps its client, its connection pool and its auth, and uses
sansstream only to make sense of the bytes: ``StreamDecoder("openai")`` turns the raw body of an
OpenAI-compatible streaming response into chunks (text, reasoning, tool calls, usage…), whatever
size the slices are. Here the server is sansstream's loopback ``FixtureServer`` streaming an
OpenAI-format reply built with ``sansstream.server``, so the example needs no network and no key.

Run it: ``python examples/httpx_stream.py`` (needs ``pip install httpx``)
"""

from __future__ import annotations

import httpx

from sansstream.model import END, NEED_DATA, ChatResult, TextDelta
from sansstream.providers import StreamDecoder
from sansstream.server import sse_stream, stream_response
from sansstream.testing import FixtureResponse, FixtureServer


def stream_with_httpx(url: str) -> ChatResult:
    decoder = StreamDecoder("openai")
    request = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=10) as client, client.stream("POST", url, json=request) as response:
        response.raise_for_status()
        for data in response.iter_bytes():  # decoded (gzip…) body bytes, as they arrive
            decoder.receive_data(data)
            while (chunk := decoder.next_chunk()) is not NEED_DATA and chunk is not END:
                if isinstance(chunk, TextDelta):
                    print(chunk.text, end="", flush=True)
            if chunk is END:
                break  # the provider's terminal marker ([DONE]) ended the stream: stop reading
        decoder.feed(b"")  # end of body: raises IncompleteStreamError if it was truncated
    print()
    return decoder.result()


def main() -> ChatResult:
    body = list(sse_stream(stream_response("Decoded from an httpx byte stream.", model="m"), format="openai"))
    with FixtureServer(FixtureResponse(body, delay=0.01)) as server:
        result = stream_with_httpx(server.url + "/v1/chat/completions")
    print("finish:", result.finish_reason, "| usage:", result.usage)
    return result


if __name__ == "__main__":
    main()
