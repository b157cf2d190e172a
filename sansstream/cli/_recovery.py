"""The CLI's part of stream recovery: ``chat --recover``, ``resume ID`` and ``demo --cut``.

Kept apart from ``_main.py`` (which only calls in here) so the recovery commands read in one
place: options that turn a ``RecoveryPolicy`` on for ``chat``/``record``, a ``resume`` command
that picks a stored stream up by its recovery id in a new process, and a demo that cuts a stream
on purpose and shows it being recovered live.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_chat_options", "chat_policy", "add_resume_command", "add_demo_options", "run_demo_cut"]


def add_chat_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stream recovery")
    group.add_argument(
        "--recover",
        choices=("off", "resume", "continue"),
        default="off",
        help="recover a stream that breaks: 'resume' (exact; openai-responses with -o background=true) "
        "or 'continue' (re-send with the text so far as the assistant prefix)",
    )
    group.add_argument(
        "--recovery-store",
        metavar="DIR",
        help="keep a broken stream's state here (keys are never stored), for 'resume ID' later",
    )
    group.add_argument(
        "--prefix-completion",
        action="store_true",
        help="the openai-compatible server does DeepSeek-style prefix completion (prefix: true)",
    )


def _note(text: str) -> None:
    from ._output import LivePrinter, use_color

    LivePrinter(sys.stderr, color=use_color(sys.stderr)).note(text)


def _describe(marker: Any) -> str:
    if marker.mode == "resume":
        return f"[recovered #{marker.attempt}: stream reopened after event {marker.after}, nothing repeated]"
    return (
        f"[recovered #{marker.attempt}: request re-sent with the {marker.prefix_chars} characters so far "
        "as the assistant prefix]"
    )


def chat_policy(args: argparse.Namespace) -> Any:
    """The ``RecoveryPolicy`` the chat options ask for, or ``None``."""
    from ..api import RecoveryPolicy
    from ..model import ConfigurationError

    mode: Any = getattr(args, "recover", "off")
    if mode == "off":
        if getattr(args, "recovery_store", None):
            raise ConfigurationError("--recovery-store needs --recover resume or --recover continue")
        return None
    return RecoveryPolicy(
        mode=mode,
        store=args.recovery_store,
        prefix_completion=args.prefix_completion,
        markers=bool(args.json),  # JSON lines show the Recovered chunk; text output gets a note
        on_recover=None if args.json else (lambda marker: _note(_describe(marker))),
    )


def add_resume_command(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "resume",
        parents=[common],
        help="carry on a broken stream from its recovery id (chat --recover --recovery-store)",
        description="Pick up a stream that broke, from the state chat --recovery-store kept: prints "
        "the part already received, then streams the rest (exact resumption or prefill "
        "continuation, as the stream was set up). The API key comes from the environment.",
    )
    p.add_argument("recovery_id")
    p.add_argument("--store", required=True, metavar="DIR", help="the --recovery-store directory")
    p.add_argument("--transport", choices=("requests", "h11"), default="requests")
    p.add_argument("--json", action="store_true", help="print chunks as JSON lines")
    p.add_argument("--show-reasoning", action="store_true")
    p.add_argument("--no-metrics", action="store_true")
    p.set_defaults(func=_cmd_resume)


def _cmd_resume(args: argparse.Namespace) -> int:
    from ..api import RecoveryPolicy, load_recovery, recover
    from ..model import TextDelta
    from ._output import LivePrinter, metrics_line

    record = load_recovery(args.recovery_id, store=args.store)
    policy = RecoveryPolicy(
        mode=record.mode,
        store=args.store,
        markers=bool(args.json),
        on_recover=None if args.json else (lambda marker: _note(_describe(marker))),
    )
    stream = recover(args.recovery_id, store=args.store, transport=args.transport, policy=policy)
    printer = LivePrinter(sys.stdout, json_lines=args.json, show_reasoning=args.show_reasoning)
    if not args.json:
        _note(f"[resuming {record.provider} stream {record.recovery_id} ({record.mode}); received before:]")
        if record.partial.text:
            printer.chunk(TextDelta(record.partial.text))
    try:
        with stream:
            for chunk in stream:
                printer.chunk(chunk)
    finally:
        printer.end()
    if not args.no_metrics:
        _note(metrics_line(stream.metrics, stream.usage))
    return 0


def add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cut",
        action="store_true",
        help="cut the connection mid-answer and recover it live (openai: exact resume of a "
        "Responses background stream; anthropic, ollama: prefill continuation)",
    )


def run_demo_cut(args: argparse.Namespace, *, prompt: str, reasoning: str, text: str) -> int:
    """``demo --cut``: an emulated provider cuts its stream half-way; recovery carries it on."""
    from ..api import NO_RETRY, RecoveryPolicy, stream_chat
    from ..model import ConfigurationError
    from ..testing import Cut, FixtureServer, ProviderEmulator
    from ._output import LivePrinter, metrics_line

    if args.provider not in ("openai", "anthropic", "ollama"):
        raise ConfigurationError(f"demo --cut shows openai, anthropic or ollama, not {args.provider!r}")
    provider = "openai-responses" if args.provider == "openai" else args.provider
    delay = 0.0 if args.speed == 0 else args.delay_ms / 1000.0 / args.speed
    # (prefill carries answer text only: the prefill demos have no reasoning to refuse over)
    shown = reasoning if provider == "openai-responses" else ""
    emulator = ProviderEmulator(provider, text, reasoning=shown, delay=delay)
    events = emulator.events()
    emulator.cuts = [Cut(len(events) // 2, 9)]  # half-way, inside an event
    mode: Any = "resume" if provider == "openai-responses" else "continue"
    out = sys.stdout
    printer = LivePrinter(out, json_lines=args.json, show_reasoning=not args.hide_reasoning)
    policy = RecoveryPolicy(
        mode=mode,
        initial_delay=0.2,
        markers=bool(args.json),
        on_recover=None if args.json else (lambda marker: _note(_describe(marker))),
    )
    options: dict[str, Any] = {"background": True} if provider == "openai-responses" else {}
    with FixtureServer(emulator) as server:
        how = "resumed exactly (background mode)" if mode == "resume" else "continued by prefill"
        _note(f"demo: a local {provider} server at {server.url} will cut the stream half-way; it is {how}")
        stream = stream_chat(
            provider,
            model="sansstream-demo",
            messages=[{"role": "user", "content": prompt}],
            api_key="demo-key-not-a-secret",
            base_url=server.url + ("/v1" if provider == "openai-responses" else ""),
            transport=args.transport,
            timeout=10.0,
            retry=NO_RETRY,
            env={},
            recover=policy,
            **options,
        )
        with stream:
            for chunk in stream:
                printer.chunk(chunk)
        printer.end()
        requests = [f"{r.method} {r.target}" for r in server.requests]
    _note("requests: " + "; ".join(requests))
    _note(metrics_line(stream.metrics, stream.usage) + f" · recoveries {stream.metrics.recoveries}")
    return 0
