"""Provider emulators for recovery tests: a model that writes one fixed answer, served through a
``FixtureServer`` in each provider's wire format, with cuts where the test wants them.

``ProviderEmulator(provider, reply, cuts=[...])`` is a ``FixtureServer`` handler. Each streaming
request it serves is numbered (0 for the first); ``cuts[i]`` (``Cut(events, extra_bytes)``)
makes answer ``i`` stop after that many whole wire events plus ``extra_bytes`` of the next one
(the connection then closes, or resets with ``reset=True``). It behaves as the real APIs do
where recovery depends on it:

- ``openai-responses`` with ``background: true``: events carry ``sequence_number``;
  ``GET /responses/{id}?stream=true&starting_after=N`` replays the same response from event
  ``N + 1`` (without ``response.created``); ``POST /responses/{id}/cancel`` cancels it, after
  which a resume answers 400 like a finished response would not be streamable again (noted in
  ``cancelled``); an unknown id gets a 404.
- prefill providers (``anthropic``, ``bedrock``, ``mistral``, ``openai``, ``ollama``,
  ``gemini``): the model continues from the prefix it is given: the request's final assistant
  turn, in that provider's shape (``prefix: true`` for Mistral and DeepSeek-style servers, a
  ``model`` turn for Gemini). The continuation is the rest of the fixed answer; a prefix that
  is not the start of the answer gets a 400, as does an Anthropic prefix that ends in
  whitespace (the real API refuses it). A continuation has no reasoning and no tool call.

Answers are split into small deltas (about one word each). ``reasoning`` adds reasoning before
the text (signed where the provider signs it), ``tool`` a tool call after it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._server import FixtureResponse, ReceivedRequest

__all__ = ["ProviderEmulator", "Cut", "split_words"]


@dataclass(frozen=True)
class Cut:
    """Stop an answer after ``events`` whole wire events and ``extra_bytes`` of the next."""

    events: int
    extra_bytes: int = 0


def split_words(text: str) -> list[str]:
    """``text`` in pieces of one word with its leading space, a line end closing its piece
    (joined, they give ``text``)."""
    out: list[str] = []
    current = ""
    for ch in text:
        if ch == " " and current.strip():
            out.append(current)
            current = ""
        current += ch
        if ch == "\n":  # a line end closes its piece (so a delta can end in whitespace)
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def _sse(data: Any, event: str | None = None, crlf: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    head = f"event: {event}{nl}" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}{nl}{nl}".encode()


_CONTENT_TYPES = {
    "openai-responses": "text/event-stream; charset=utf-8",
    "anthropic": "text/event-stream; charset=utf-8",
    "mistral": "text/event-stream; charset=utf-8",
    "openai": "text/event-stream; charset=utf-8",
    "ollama": "application/x-ndjson",
    "gemini": "text/event-stream",
    "bedrock": "application/vnd.amazon.eventstream",
}


class ProviderEmulator:
    """A ``FixtureServer`` handler emulating ``provider`` answering ``reply`` (see module doc)."""

    def __init__(
        self,
        provider: str,
        reply: str,
        *,
        reasoning: str = "",
        tool: tuple[str, str] | None = None,
        cuts: Sequence[Cut | None] = (),
        reset: bool = False,
        response_id: str = "resp_emulated0001",
        delay: float = 0.0,
    ) -> None:
        if provider not in _CONTENT_TYPES:
            raise ValueError(f"no emulator for {provider!r}; choose from {sorted(_CONTENT_TYPES)}")
        self.provider = provider
        self.reply = reply
        self.reasoning = reasoning
        self.tool = tool  # (name, arguments JSON text)
        self.cuts = list(cuts)
        self.reset = reset
        self.response_id = response_id
        self.delay = delay
        self.served = 0  # streaming answers served
        self.prefixes: list[str | None] = []  # the prefix each streaming request carried
        self.cancelled = False
        self._lock = threading.Lock()

    # -- the handler ---------------------------------------------------------------------------

    def __call__(self, request: ReceivedRequest) -> FixtureResponse:
        if self.provider == "openai-responses":
            return self._responses(request)
        try:
            body = request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        prefix = _prefix_of(self.provider, body)
        if isinstance(prefix, FixtureResponse):
            return prefix
        if prefix is None:
            return self._serve(self.events(), prefix)
        if self.provider == "anthropic" and prefix != prefix.rstrip():
            return _error(400, "final assistant content cannot end with trailing whitespace")
        if not self.reply.startswith(prefix):
            return _error(400, "the emulated model cannot continue a prefix that is not its answer")
        return self._serve(self.events(text=self.reply[len(prefix) :], continuation=True), prefix)

    def _serve(self, slices: list[bytes], prefix: str | None) -> FixtureResponse:
        with self._lock:
            number = self.served
            self.served += 1
            self.prefixes.append(prefix)
        cut = self.cuts[number] if number < len(self.cuts) else None
        options: dict[str, Any] = {}
        if cut is not None:
            offset = sum(len(s) for s in slices[: cut.events]) + cut.extra_bytes
            options["cut_after"] = offset
            options["reset"] = self.reset
        framing = "content-length" if cut is None and self.provider == "bedrock" else "chunked"
        return FixtureResponse(
            slices, content_type=_CONTENT_TYPES[self.provider], delay=self.delay, framing=framing, **options
        )

    def _responses(self, request: ReceivedRequest) -> FixtureResponse:
        path = request.path
        base = path.split("/responses", 1)[0] + "/responses"
        if request.method == "POST" and path == base:
            body = request.json()
            if not isinstance(body, dict) or body.get("background") is not True:
                return self._serve(self.events(background=False), None)
            return self._serve(self.events(), None)
        rest = path[len(base) :].strip("/")
        if request.method == "POST" and rest.endswith("/cancel"):
            if rest[: -len("/cancel")] != self.response_id:
                return _error(404, "no such response")
            self.cancelled = True
            return FixtureResponse(
                json.dumps({"id": self.response_id, "object": "response", "status": "cancelled"}),
                content_type="application/json",
                framing="content-length",
            )
        if request.method == "GET" and rest:
            if rest != self.response_id:
                return _error(404, f"Response with id '{rest}' not found.")
            if self.cancelled:
                return _error(400, "the response was cancelled")
            params = dict(p.split("=", 1) for p in request.query.split("&") if "=" in p)
            if params.get("stream") != "true":
                return _error(400, "this emulator only streams")
            after = int(params.get("starting_after", "-1"))
            events = [e for e in self._responses_events(True) if e["sequence_number"] > after]
            return self._serve([_sse(e, e["type"]) for e in events], None)
        return _error(404, "no route")

    # -- answers -------------------------------------------------------------------------------

    def events(
        self, *, text: str | None = None, continuation: bool = False, background: bool = True
    ) -> list[bytes]:
        """The answer's wire events (one slice each)."""
        reply = self.reply if text is None else text
        reasoning = "" if continuation else self.reasoning
        tool = None if continuation else self.tool
        if self.provider == "openai-responses":
            return [_sse(e, e["type"]) for e in self._responses_events(background)]
        maker = getattr(self, "_" + self.provider.replace("-", "_"))
        slices: list[bytes] = maker(reply, reasoning, tool)
        return slices

    def _responses_events(self, background: bool) -> list[dict[str, Any]]:
        rid = self.response_id
        events: list[dict[str, Any]] = []

        def add(kind: str, **fields: Any) -> None:
            events.append({"type": kind, "sequence_number": len(events), **fields})

        resp = {"id": rid, "object": "response", "model": "gpt-emulated", "background": background}
        add("response.created", response={**resp, "status": "queued" if background else "in_progress"})
        if background:
            add("response.queued", response={**resp, "status": "queued"})
        add("response.in_progress", response={**resp, "status": "in_progress"})
        output: list[dict[str, Any]] = []
        index = 0
        if self.reasoning:
            item = {"type": "reasoning", "id": "rs_1", "summary": []}
            add("response.output_item.added", output_index=index, item=item)
            add("response.reasoning_summary_part.added", item_id="rs_1", output_index=index, summary_index=0)
            for piece in split_words(self.reasoning):
                add(
                    "response.reasoning_summary_text.delta",
                    item_id="rs_1",
                    output_index=index,
                    summary_index=0,
                    delta=piece,
                )
            add(
                "response.reasoning_summary_text.done",
                item_id="rs_1",
                output_index=index,
                summary_index=0,
                text=self.reasoning,
            )
            done_item = {**item, "summary": [{"type": "summary_text", "text": self.reasoning}]}
            add("response.output_item.done", output_index=index, item=done_item)
            output.append(done_item)
            index += 1
        if self.reply:
            item = {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            add("response.output_item.added", output_index=index, item=item)
            add(
                "response.content_part.added",
                item_id="msg_1",
                output_index=index,
                content_index=0,
                part={"type": "output_text", "text": ""},
            )
            for piece in split_words(self.reply):
                add(
                    "response.output_text.delta",
                    item_id="msg_1",
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            add(
                "response.output_text.done",
                item_id="msg_1",
                output_index=index,
                content_index=0,
                text=self.reply,
            )
            part = {"type": "output_text", "text": self.reply, "annotations": []}
            add("response.content_part.done", item_id="msg_1", output_index=index, content_index=0, part=part)
            done_item = {**item, "status": "completed", "content": [part]}
            add("response.output_item.done", output_index=index, item=done_item)
            output.append(done_item)
            index += 1
        if self.tool:
            name, arguments = self.tool
            item = {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": name,
                "arguments": "",
                "status": "in_progress",
            }
            add("response.output_item.added", output_index=index, item=item)
            for k in range(0, len(arguments), 4):
                add(
                    "response.function_call_arguments.delta",
                    item_id="fc_1",
                    output_index=index,
                    delta=arguments[k : k + 4],
                )
            add(
                "response.function_call_arguments.done",
                item_id="fc_1",
                output_index=index,
                arguments=arguments,
            )
            done_item = {**item, "arguments": arguments, "status": "completed"}
            add("response.output_item.done", output_index=index, item=done_item)
            output.append(done_item)
        usage = {
            "input_tokens": 12,
            "output_tokens": 34,
            "total_tokens": 46,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 5},
        }
        add("response.completed", response={**resp, "status": "completed", "output": output, "usage": usage})
        return events

    def _anthropic(self, reply: str, reasoning: str, tool: tuple[str, str] | None) -> list[bytes]:
        out = [
            _sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_emulated",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-emulated",
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 12, "output_tokens": 1},
                    },
                },
                "message_start",
            )
        ]
        index = 0

        def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
            nonlocal index
            out.append(
                _sse(
                    {"type": "content_block_start", "index": index, "content_block": start},
                    "content_block_start",
                )
            )
            for delta in deltas:
                out.append(
                    _sse(
                        {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
                    )
                )
            out.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1

        if reasoning:
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_words(reasoning)]
            deltas.append({"type": "signature_delta", "signature": "EmulatedSignature=="})
            block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
        if reply:
            block(
                {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in split_words(reply)]
            )
        if tool:
            name, arguments = tool
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [
                {"type": "input_json_delta", "partial_json": arguments[k : k + 4]}
                for k in range(0, len(arguments), 4)
            ]
            block({"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}, deltas)
        stop = "tool_use" if tool else "end_turn"
        out.append(
            _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": 30},
                },
                "message_delta",
            )
        )
        out.append(_sse({"type": "message_stop"}, "message_stop"))
        return out

    def _chat(self, reply: str, reasoning: str, tool: tuple[str, str] | None, model: str) -> list[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            return _sse(
                {
                    "id": "chatcmpl-emulated",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    **extra,
                }
            )

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"reasoning_content": p}) for p in split_words(reasoning)]
        out += [chunk({"content": p}) for p in split_words(reply)]
        if tool:
            name, arguments = tool
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            out += [
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[k : k + 4]}}]})
                for k in range(0, len(arguments), 4)
            ]
        usage = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}
        out.append(chunk({}, "tool_calls" if tool else "stop", usage=usage))
        out.append(b"data: [DONE]\n\n")
        return out

    def _openai(self, reply: str, reasoning: str, tool: tuple[str, str] | None) -> list[bytes]:
        return self._chat(reply, reasoning, tool, "deepseek-emulated")

    def _mistral(self, reply: str, reasoning: str, tool: tuple[str, str] | None) -> list[bytes]:
        return self._chat(reply, reasoning, tool, "mistral-emulated")

    def _ollama(self, reply: str, reasoning: str, tool: tuple[str, str] | None) -> list[bytes]:
        def line(message: dict[str, Any], done: bool = False, **extra: Any) -> bytes:
            obj = {
                "model": "llama-emulated",
                "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", **message},
                "done": done,
                **extra,
            }
            return (json.dumps(obj, separators=(",", ":")) + "\n").encode()

        out = [line({"content": "", "thinking": p}) for p in split_words(reasoning)]
        out += [line({"content": p}) for p in split_words(reply)]
        if tool:
            name, arguments = tool
            out.append(
                line(
                    {
                        "content": "",
                        "tool_calls": [{"function": {"name": name, "arguments": json.loads(arguments)}}],
                    }
                )
            )
        out.append(line({"content": ""}, True, done_reason="stop", prompt_eval_count=12, eval_count=30))
        return out

    def _gemini(self, reply: str, reasoning: str, tool: tuple[str, str] | None) -> list[bytes]:
        def chunk(parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            return _sse(
                {
                    "candidates": [candidate],
                    "usageMetadata": {
                        "promptTokenCount": 12,
                        "candidatesTokenCount": 30,
                        "totalTokenCount": 42,
                    },
                    "modelVersion": "gemini-emulated",
                    "responseId": "gem_emulated",
                },
                crlf=True,
            )

        pieces = split_words(reasoning)
        out = [chunk([{"text": p, "thought": True}]) for p in pieces[:-1]]
        if pieces:
            out.append(chunk([{"text": pieces[-1], "thought": True, "thoughtSignature": "c2lnbmVk"}]))
        out += [chunk([{"text": p}]) for p in split_words(reply)]
        if tool:
            name, arguments = tool
            out.append(chunk([{"functionCall": {"name": name, "args": json.loads(arguments)}}]))
        out.append(chunk([{"text": ""}], "STOP"))
        return out

    def _bedrock(self, reply: str, reasoning: str, tool: tuple[str, str] | None) -> list[bytes]:
        from ..core import encode_event_stream_message

        def frame(name: str, payload: dict[str, Any]) -> bytes:
            headers = [
                (":message-type", "event"),
                (":event-type", name),
                (":content-type", "application/json"),
            ]
            return encode_event_stream_message(headers, json.dumps({**payload, "p": "abcd"}).encode())

        out = [frame("messageStart", {"role": "assistant"})]
        index = 0
        if reasoning:
            out += [
                frame(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": p}}},
                )
                for p in split_words(reasoning)
            ]
            out.append(
                frame(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": "sig=="}}},
                )
            )
            out.append(frame("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        if reply:
            out += [
                frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}})
                for p in split_words(reply)
            ]
            out.append(frame("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        if tool:
            name, arguments = tool
            out.append(
                frame(
                    "contentBlockStart",
                    {
                        "contentBlockIndex": index,
                        "start": {"toolUse": {"toolUseId": "tooluse_1", "name": name}},
                    },
                )
            )
            out += [
                frame(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"toolUse": {"input": arguments[k : k + 4]}}},
                )
                for k in range(0, len(arguments), 4)
            ]
            out.append(frame("contentBlockStop", {"contentBlockIndex": index}))
        out.append(frame("messageStop", {"stopReason": "tool_use" if tool else "end_turn"}))
        out.append(
            frame(
                "metadata",
                {
                    "usage": {"inputTokens": 12, "outputTokens": 30, "totalTokens": 42},
                    "metrics": {"latencyMs": 5},
                },
            )
        )
        return out


def _error(status: int, message: str) -> FixtureResponse:
    body = json.dumps({"error": {"type": "invalid_request_error", "message": message}})
    return FixtureResponse(body, status=status, content_type="application/json", framing="content-length")


def _prefix_of(provider: str, body: Any) -> str | FixtureResponse | None:
    """The assistant prefix a request carries, in that provider's shape (None: no prefix)."""
    if not isinstance(body, dict):
        return _error(400, "the body is not a JSON object")
    turns = body.get("contents" if provider == "gemini" else "messages")
    if not isinstance(turns, list) or not turns:
        return _error(400, "no messages")
    last = turns[-1]
    role = last.get("role")
    if provider == "gemini":
        if role != "model":
            return None
        return "".join(p.get("text", "") for p in last.get("parts") or [])
    if role != "assistant":
        return None
    if provider in ("mistral", "openai"):
        if last.get("prefix") is not True:
            return _error(400, "a final assistant message needs prefix: true")
        return str(last.get("content") or "")
    content = last.get("content")
    if provider == "bedrock":
        return "".join(b.get("text", "") for b in content or [])
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content or [])
