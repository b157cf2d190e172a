"""Fuzz the SSE parser against the reference model, for every split of the same bytes.

Invariants checked for each input (control byte + body, see ``_harness``):
1. With no size limit, the parser dispatches exactly the events of ``tests/reference_sse.py`` (a
   literal transcription of the WHATWG algorithm): data, event type, last event ID, and the block's
   ``retry``; its ``last_event_id`` and ``retry`` at the end match the oracle's; and it raises
   nothing at all (every byte sequence is a valid event stream).
2. That holds for the whole body, a fuzzer-chosen split and (small bodies) byte by byte.
3. With a small ``max_event_size`` the only exception is ``EventTooLargeError``; the events before
   it are a prefix of the oracle's, identical for every split; afterwards the parser refuses work
   with one of our errors.
4. The speed routes change nothing: ``feed()`` with every route on gives exactly what
   ``SSEParser(routes=False)`` (the rules alone) gives, with and without the small limit.

Run: ``python fuzz/fuzz_sse.py fuzz/corpus-sse -max_len=4096`` (see fuzz/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import feeds, instrumented, run, split_input, split_plan
from reference_sse import RefResult, reference_parse

with instrumented(__name__ == "__main__"):
    from sansstream.core import SSEParser
    from sansstream.model import (
        END,
        NEED_DATA,
        EventTooLargeError,
        RemoteProtocolError,
        SansStreamError,
        ServerSentEvent,
    )

# Retry values beyond this are compared loosely: the spec sets no upper bound, and a parser may
# reasonably cap an absurd reconnection delay; what matters is that it neither crashes nor hangs.
RETRY_EXACT_BELOW = 2**63

Key = tuple[str, str, str]


def _key(ev: ServerSentEvent) -> Key:
    return (ev.event, ev.data, ev.id)


def _drain(parser: SSEParser[ServerSentEvent], chunks: list[bytes], out: list[ServerSentEvent]) -> None:
    """Feed every chunk, then end of input, pulling events as a streaming caller would."""
    for chunk in chunks:
        parser.receive_data(chunk)
        _pull(parser, out, until_end=False)
    parser.receive_data(b"")
    _pull(parser, out, until_end=True)


def _pull(parser: SSEParser[ServerSentEvent], out: list[ServerSentEvent], *, until_end: bool) -> None:
    while True:
        ev = parser.next_event()
        if ev is NEED_DATA:
            assert not until_end, "NEED_DATA after end of input"
            return
        if ev is END:
            assert until_end, "END before end of input"
            return
        assert isinstance(ev, ServerSentEvent), f"unexpected event {ev!r}"
        out.append(ev)


def _retry_matches(got: int | None, want: int | None) -> bool:
    if want is None or want < RETRY_EXACT_BELOW:
        return got == want
    return got is None or isinstance(got, int)


def check_unlimited(body: bytes, chunks: list[bytes], ref: RefResult, how: str) -> None:
    parser = SSEParser(max_event_size=None)
    events: list[ServerSentEvent] = []
    _drain(parser, chunks, events)
    want = [(e.type, e.data, e.last_event_id) for e in ref.events]
    got = [_key(e) for e in events]
    assert got == want, f"{how}: events differ for {body!r}:\n got {got}\nwant {want}"
    for ev, rev in zip(events, ref.events, strict=True):
        assert _retry_matches(ev.retry, rev.retry), f"{how}: event retry {ev.retry} != {rev.retry}"
    assert parser.last_event_id == ref.last_event_id, f"{how}: last_event_id for {body!r}"
    assert _retry_matches(parser.retry, ref.retry), f"{how}: retry {parser.retry} != {ref.retry}"
    assert parser.next_event() is END


def run_limited(chunks: list[bytes], limit: int) -> tuple[list[Key], str | None]:
    """Events and the name of the error (if any) with a small size limit."""
    parser = SSEParser(max_event_size=limit)
    events: list[ServerSentEvent] = []
    try:
        _drain(parser, chunks, events)
    except EventTooLargeError as exc:
        # h11 habit: after an error the parser refuses further work, loudly and with our error.
        for again in (parser.next_event, lambda: parser.receive_data(b"x")):
            try:
                again()
            except SansStreamError:
                pass
            else:
                raise AssertionError("parser kept working after EventTooLargeError") from exc
        return [_key(e) for e in events], type(exc).__name__
    except RemoteProtocolError as exc:  # allowed by the contract, but not expected for SSE
        return [_key(e) for e in events], type(exc).__name__
    return [_key(e) for e in events], None


def fed(chunks: list[bytes], limit: int | None, routes: bool) -> tuple[list[ServerSentEvent], str | None]:
    parser: SSEParser[ServerSentEvent] = SSEParser(max_event_size=limit, routes=routes)
    events: list[ServerSentEvent] = []
    try:
        for chunk in [*chunks, b""]:
            events += parser.feed(chunk)
    except SansStreamError as exc:
        return events, type(exc).__name__
    return events, None


def check(data: bytes) -> None:
    control, body = split_input(data)
    ref = reference_parse(body)
    for how, chunks in feeds(control, body):
        check_unlimited(body, chunks, ref, how)
        for limit in (None, 1 + (control * 37) % 97):
            routed, rules = fed(chunks, limit, True), fed(chunks, limit, False)
            assert routed == rules, f"{how}, limit {limit}: routes {routed} != rules {rules} for {body!r}"

    limit = 1 + (control * 37) % 97  # small, so the limit fires often
    want = [(e.type, e.data, e.last_event_id) for e in ref.events]
    outcomes = set()
    for how, chunks in (("whole", [body] if body else []), ("plan", split_plan(control, body))):
        got, error = run_limited(chunks, limit)
        assert got == want[: len(got)], f"{how}: limited parser's events are not a prefix of the oracle's"
        if error is None:
            assert got == want, f"{how}: limited parser stopped early without an error"
        outcomes.add((tuple(got), error))
    assert len(outcomes) == 1, f"limit {limit}: outcome depends on the split: {outcomes}"


if __name__ == "__main__":
    run(check)
