"""``python -m sansstream`` / ``sansstream``: demo, chat, record, parse, serve.

Strategy: argparse with one sub-command per verb, each a function returning the exit code. All
errors funnel through ``main``: ours (``SansStreamError``) and file errors print one line,
``sansstream: error: …``, to stderr and exit 1 (argparse usage errors exit 2, Ctrl-C 130); a
traceback only with ``--debug``. Output is written and flushed as chunks arrive, so tokens appear
live on a terminal and through pipes alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..model import ConfigurationError, SansStreamError
from . import _recovery as _recovery_cli

__all__ = ["main", "build_parser"]

PROG = "sansstream"
_KEY_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET_ACCESS_KEY", "_KEY")


# Messages from the Python API name keyword arguments; on the command line the same advice names
# the flag a user can type.
_FLAG_WORDING = (
    ("pass strict=False", "pass --no-strict"),
    ("pass region=...", "pass --region"),
    ("pass api_key=... to stream_chat()", "pass --api-key"),
    ("or pass api_key=...", "or pass --api-key"),
    ("pass base_url=", "pass --base-url"),
    ("pass extra_body=", "pass -o"),
    (" to stream_chat()", ""),
)


def _error(message: str) -> None:
    from ..transports import scrub

    # keys come from the environment here: never echo one (URL passwords and ?key= go too)
    keys = [
        v.strip() for k, v in os.environ.items() if k.upper().endswith(_KEY_SUFFIXES) and len(v.strip()) >= 8
    ]
    one_line = scrub(" ".join(str(message).split()), sorted(keys, key=len, reverse=True))
    for python, flag in _FLAG_WORDING:
        one_line = one_line.replace(python, flag)
    from ._output import escape_surrogates

    sys.stderr.write(f"{PROG}: error: {escape_surrogates(one_line)}\n")
    sys.stderr.flush()


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be at least 1, not {value} (leave it out to serve until Ctrl-C)"
        )
    return value


def _option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw  # a bare word is a string
    return key.strip(), value


def _servable_provider(text: str) -> str:
    """A ``demo -p`` value: a provider with a wire encoder (else a usage error listing them)."""
    from ..providers import get, servable

    try:
        if get(text).encoder_class is not None:
            return text
    except SansStreamError:
        pass
    raise argparse.ArgumentTypeError(
        f"no provider {text!r} with a wire encoder; choose from {', '.join(servable())}"
    )


def build_parser() -> argparse.ArgumentParser:
    from ..server import WIRE_FORMATS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read streamed LLM responses: a live demo, real chats, and tools for fixtures.",
        epilog="Run '%(prog)s demo' to see a stream without network or key.",
    )
    parser.add_argument("--debug", action="store_true", default=False, help="show tracebacks on errors")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # (not required: a bare `sansstream` prints the help, see main())

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="stream a canned reply from an embedded local server (no network, no key)",
        description="Start a local server speaking a provider's real wire format, and stream a canned "
        "reply from it through the real transport, printing tokens as they arrive.",
    )
    demo.add_argument(
        "--provider",
        "-p",
        type=_servable_provider,
        default="openai",
        metavar="NAME",
        help=f"the provider whose wire format the server speaks: {', '.join(WIRE_FORMATS)}, or any "
        "registered provider with a wire encoder (default openai)",
    )
    demo.add_argument(
        "--speed", type=_positive_float, default=1.0, help="pace multiplier (2 = twice as fast)"
    )
    demo.add_argument(
        "--delay-ms", type=_positive_float, default=20.0, help="milliseconds per token (default 20)"
    )
    demo.add_argument("--transport", choices=("requests", "h11"), default="requests")
    demo.add_argument("--json", action="store_true", help="print chunks as JSON lines")
    demo.add_argument("--hide-reasoning", action="store_true", help="do not print the reasoning")
    demo.set_defaults(func=_cmd_demo)
    _recovery_cli.add_demo_options(demo)  # demo --cut (stream recovery)

    for name in ("chat", "record"):
        is_record = name == "record"
        p = sub.add_parser(
            name,
            parents=[common],
            help="record a real chat to a fixture file" if is_record else "chat with a real provider",
            description=(
                "Like chat, also writing the response bytes (with timing, secrets redacted) to --out."
                if is_record
                else "Stream a reply from a real provider; the API key comes from the provider's "
                "environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, …)."
            ),
        )
        p.add_argument("prompt", nargs="?", help="the user message (read from stdin when absent)")
        p.add_argument("--provider", "-p", required=True, help="provider name (openai, anthropic, ollama, …)")
        p.add_argument("--model", "-m", required=True)
        p.add_argument("--system", "-s", help="a system message")
        p.add_argument("--json", action="store_true", help="print chunks as JSON lines")
        p.add_argument("--show-reasoning", action="store_true", help="print reasoning (dimmed on a terminal)")
        p.add_argument("--transport", choices=("requests", "h11"), default="requests")
        p.add_argument(
            "--base-url", help="endpoint base URL (OpenAI-compatible servers, proxies, local models)"
        )
        p.add_argument(
            "--api-key",
            help="the API key (default: the provider's environment variable; none for a loopback --base-url)",
        )
        p.add_argument("--region", help="AWS region for bedrock and bedrock-invoke (default: AWS_REGION)")
        p.add_argument(
            "--timeout", type=_positive_float, help="connect, first-byte and idle timeout in seconds"
        )
        p.add_argument("--connect-timeout", type=_positive_float)
        p.add_argument("--first-token-timeout", type=_positive_float)
        p.add_argument("--idle-timeout", type=_positive_float)
        p.add_argument("--total-timeout", type=_positive_float)
        p.add_argument("--max-tokens", type=int)
        p.add_argument("--temperature", type=float)
        p.add_argument(
            "--option",
            "-o",
            type=_option,
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a provider option (VALUE parsed as JSON when it is JSON); repeatable",
        )
        p.add_argument("--no-strict", action="store_true", help="accept a stream without its terminal marker")
        p.add_argument("--no-retry", action="store_true", help="send the request once, never retry")
        p.add_argument("--no-metrics", action="store_true", help="do not print the metrics line")
        p.add_argument(
            "--timing",
            action="store_true",
            help="after the reply, show how it arrived (first byte/token, tokens/s, gaps, a rate chart)",
        )
        _recovery_cli.add_chat_options(p)  # --recover, --recovery-store (stream recovery)
        if is_record:
            p.add_argument("--out", required=True, help="the fixture file to write")
        else:
            p.add_argument("--record", metavar="FILE", help="also write the response to this fixture file")
        p.set_defaults(func=_cmd_chat)

    inspect = sub.add_parser(
        "inspect",
        parents=[common],
        help="how a recorded stream arrived: first byte/token, tokens/s, gaps, a rate chart",
        description="Show the timing of a recording (made with record= or `sansstream record`): time "
        "to first byte and first token, tokens per second, gap percentiles, keepalives, and a "
        "one-line chart of the token rate over time.",
    )
    inspect.add_argument("file")
    inspect.add_argument("--provider", "-p", help="the provider (default: guessed, and said so)")
    inspect.set_defaults(func=_cmd_inspect)

    parse = sub.add_parser(
        "parse",
        parents=[common],
        help="fixture bytes -> wire events, chunks or the final result (JSON lines)",
        description="Read a recording or a raw body file and print its wire events, chunks (default) or "
        "final result as JSON lines. Framing and provider are guessed when not given.",
    )
    parse.add_argument("file")
    parse.add_argument("--framing", choices=("sse", "ndjson", "json-array", "eventstream"))
    parse.add_argument("--provider", "-p")
    parse.add_argument(
        "--split",
        default=None,
        metavar="N|whole|bytewise|random",
        help="re-slice the bytes before parsing (default: as recorded)",
    )
    parse.add_argument("--seed", type=int, default=0, help="seed for --split random")
    what = parse.add_mutually_exclusive_group()
    what.add_argument("--events", dest="output", action="store_const", const="events", help="wire events")
    what.add_argument(
        "--chunks", dest="output", action="store_const", const="chunks", help="chunks (default)"
    )
    what.add_argument(
        "--result", dest="output", action="store_const", const="result", help="the final result"
    )
    parse.add_argument("--no-strict", action="store_true", help="accept a stream without its terminal marker")
    parse.add_argument("--raw", action="store_true", help="include each chunk's provider payload")
    parse.set_defaults(func=_cmd_parse, output="chunks")

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="replay a recorded stream as a local endpoint",
        description="Serve a recording (or a raw body file) on 127.0.0.1 at any path and method, at the "
        "recorded pace, for testing other apps.",
    )
    serve.add_argument("file")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--speed", type=_positive_float, default=1.0, help="pace multiplier; 0 = no delays")
    serve.add_argument(
        "--pace-ms",
        type=_positive_float,
        default=None,
        help="re-slice the body into events and send one every MS milliseconds (for raw files)",
    )
    serve.add_argument(
        "--max-requests",
        type=_positive_int,
        default=None,
        metavar="N",
        help="exit after serving N requests (N >= 1; default: serve until Ctrl-C)",
    )
    serve.set_defaults(func=_cmd_serve)
    _recovery_cli.add_resume_command(sub, common)  # resume ID (stream recovery)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    if getattr(args, "func", None) is None:  # a bare `sansstream`: show what it can do
        parser.print_help(sys.stderr)
        return 2
    debug = bool(getattr(args, "debug", False))
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error; silence the flush at exit.
        try:
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - replaces the broken stream until exit
        except OSError:
            pass
        return 0
    except SansStreamError as exc:
        if debug:
            raise
        _error(str(exc))
        return 1
    except OSError as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _error(f"{where}{exc.strerror or exc}")
        return 1
    except Exception as exc:
        if debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


# -- demo -------------------------------------------------------------------------------------

DEMO_PROMPT = "In two sentences: what does sansstream do?"
DEMO_REASONING = "They want a short answer. Mention the sans-IO parser, then the providers."
DEMO_TEXT = (
    "sansstream reads streamed responses (Server-Sent Events, NDJSON, JSON arrays and AWS "
    "event-stream) with a pure sans-IO state machine: bytes go in, in slices of any size, and "
    "typed events come out. On top of it, every major LLM provider's stream is decoded into one "
    "chunk model, so a single loop prints tokens from OpenAI, Anthropic, Ollama and the rest."
)

_TTFT_TOKENS = 6
"""The first content arrives after this many token delays, as a server's prompt processing."""


def _cmd_demo(args: argparse.Namespace) -> int:
    """Serve a canned reply in the provider's real wire format (its own ``ChunkEncoder``, found in
    the registry) from a loopback server, and read it back through the real transport."""
    if getattr(args, "cut", False):  # stream recovery shown live (cli/_recovery.py)
        return _recovery_cli.run_demo_cut(args, prompt=DEMO_PROMPT, reasoning=DEMO_REASONING, text=DEMO_TEXT)
    from ..api import NO_RETRY, stream_chat
    from ..providers import encode_chunks, get
    from ..server import chunk_encoder, stream_response
    from ._httpserver import Reply, RequestInfo, StreamServer
    from ._output import LivePrinter, metrics_line, use_color

    name: str = args.provider  # checked by _servable_provider: it has a wire encoder
    provider = get(name)
    delay = 0.0 if args.speed == 0 else args.delay_ms / 1000.0 / args.speed
    chunks = stream_response(
        DEMO_TEXT, reasoning=DEMO_REASONING, model="sansstream-demo", input_tokens=len(DEMO_PROMPT.split())
    )
    encoder = chunk_encoder(name, model="sansstream-demo")
    body = list(encode_chunks(encoder, chunks))

    def responder(request: RequestInfo) -> Reply:
        slices = [
            (0.0 if i == 0 else (delay * _TTFT_TOKENS if i == 1 else delay), b) for i, b in enumerate(body)
        ]
        return Reply(200, [("Content-Type", encoder.content_type)], slices)

    out, err = sys.stdout, sys.stderr
    printer = LivePrinter(out, json_lines=args.json, show_reasoning=not args.hide_reasoning)
    with StreamServer(responder) as server:
        note = LivePrinter(err, color=use_color(err))
        note.note(
            f"demo: a local {name} server at {server.url} (loopback only, no key); prompt: {DEMO_PROMPT}"
        )
        stream = stream_chat(
            provider,
            model="sansstream-demo",
            messages=[{"role": "user", "content": DEMO_PROMPT}],
            api_key="demo-key-not-a-secret",
            **provider.local_options(server.url),
            transport=args.transport,
            timeout=10.0,
            retry=NO_RETRY,
            env={},
        )
        with stream:
            for chunk in stream:
                printer.chunk(chunk)
        printer.end()
        note.note(metrics_line(stream.metrics, stream.usage))
    return 0


# -- chat / record ----------------------------------------------------------------------------


def _read_prompt(args: argparse.Namespace) -> str:
    if args.prompt is not None:
        prompt: str = args.prompt
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise ConfigurationError("no prompt: pass it as an argument, or pipe it on stdin")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise ConfigurationError("the prompt is empty")
    return prompt


def _timeouts(args: argparse.Namespace) -> Any:
    from ..transports import DEFAULT_TIMEOUTS, Timeouts

    timeouts = DEFAULT_TIMEOUTS if args.timeout is None else Timeouts.coerce(args.timeout)
    changes = {
        name: getattr(args, f"{name}_timeout")
        for name in ("connect", "first_token", "idle", "total")
        if getattr(args, f"{name}_timeout") is not None
    }
    return replace(timeouts, **changes)


def _cmd_chat(args: argparse.Namespace) -> int:
    from ..api import NO_RETRY, stream_chat
    from ..transports import is_loopback_url
    from ._output import LivePrinter, metrics_line, use_color
    from ._timing import Timeline, timing_report

    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    options: dict[str, Any] = dict(args.option)
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        options["temperature"] = args.temperature
    record = getattr(args, "out", None) or getattr(args, "record", None)
    # Configuration mistakes are reported before the prompt is read from stdin.
    from ..providers import get as get_provider

    provider = get_provider(args.provider)
    if args.region:
        options["region"] = args.region
    if (
        provider.api_key_env
        and not args.api_key
        and not provider.defaults_from_env(os.environ).get("api_key")
        and not is_loopback_url(args.base_url)
    ):
        raise ConfigurationError(
            f"no API key for provider {provider.name!r}: set the environment variable "
            f"{' or '.join(provider.api_key_env)} or pass --api-key (a --base-url on this machine "
            "needs none)"
        )
    messages.append({"role": "user", "content": _read_prompt(args)})
    if args.no_retry:
        options["retry"] = NO_RETRY
    recover = _recovery_cli.chat_policy(args)  # stream recovery (cli/_recovery.py)
    if recover is not None:
        options["recover"] = recover
    stream = stream_chat(
        args.provider,
        model=args.model,
        messages=messages,
        base_url=args.base_url,
        api_key=args.api_key,
        transport=args.transport,
        timeout=_timeouts(args),
        strict=not args.no_strict,
        record=record,
        **options,
    )
    out, err = sys.stdout, sys.stderr
    printer = LivePrinter(out, json_lines=args.json, show_reasoning=args.show_reasoning)
    timeline = Timeline()
    started = time.monotonic()  # the request is sent when iteration starts
    try:
        with stream:
            for chunk in stream:
                timeline.add(time.monotonic() - started, chunk)
                printer.chunk(chunk)
    finally:
        printer.end()
    if args.timing:
        metrics = stream.metrics
        timeline.first_byte = metrics.time_to_first_byte
        timeline.keepalives = metrics.keepalives
        timeline.end = time.monotonic() - started
        for line in timing_report(timeline):
            LivePrinter(err, color=use_color(err)).note(line)
    if not args.no_metrics:
        LivePrinter(err, color=use_color(err)).note(metrics_line(stream.metrics, stream.usage))
    if record:
        LivePrinter(err, color=use_color(err)).note(f"recorded to {record}")
    return 0


# -- parse ------------------------------------------------------------------------------------


def _pieces(recording: Any, split: str | None, seed: int) -> list[bytes]:
    from ..testing import rechunk

    if split is None:
        return [p for p in recording.chunks() if p]
    body: bytes = recording.body
    if split in ("whole", "bytewise", "random"):
        return rechunk(body, split, seed=seed)  # type: ignore[arg-type]
    try:
        size = int(split)
    except ValueError:
        raise ConfigurationError(
            f"--split takes a byte count, whole, bytewise or random; got {split!r}"
        ) from None
    if size < 1:
        raise ConfigurationError(f"--split must be at least 1 byte, got {size}")
    return rechunk(body, size)


def _load(path_text: str) -> tuple[Path, Any]:
    from ..transports import load_recording

    path = Path(path_text)
    if path.is_dir():
        raise ConfigurationError(f"{path} is a folder; give a recording or a body file")
    return path, load_recording(path)


def _cmd_parse(args: argparse.Namespace) -> int:
    from ..model import chunk_to_dict
    from ..providers import StreamDecoder
    from ..providers import get as get_provider
    from ._output import escape_surrogates, result_to_dict
    from ._parse import decode_chunks, event_to_dict, guess_framing, guess_provider_why, iter_wire_events

    path, recording = _load(args.file)
    if not recording.body:
        raise ConfigurationError(f"{path} is empty: there is no stream to parse")
    if recording.status is not None and not 200 <= recording.status < 300:
        raise ConfigurationError(
            f"{path} recorded an HTTP {recording.status} response, not a stream; its body was: "
            f"{recording.body[:200].decode('utf-8', 'replace')!r}"
        )
    framing = args.framing or guess_framing(recording, path)
    pieces = _pieces(recording, args.split, args.seed)
    out = sys.stdout

    def emit(obj: Any) -> None:
        out.write(escape_surrogates(json.dumps(obj, ensure_ascii=False, default=str)) + "\n")
        out.flush()

    if args.output == "events":
        options: dict[str, Any] = {}
        if framing == "sse":
            options = {"comments": True, "extra_fields": "*"}
        for event in iter_wire_events(framing, pieces, options):
            emit(event_to_dict(event))
        return 0

    if args.provider:
        provider = get_provider(args.provider)
    else:
        name, why = guess_provider_why(recording, path, framing)
        provider = get_provider(name)
        # Say so: a wrong guess otherwise reads as a decoding error of the right provider.
        sys.stderr.write(f"{PROG}: provider guessed as {name!r} from {why}; pass -p to choose another\n")
    machine = StreamDecoder(
        provider,
        strict=not args.no_strict,
        raise_errors=False,
        framing=framing if framing != provider.framing else None,  # type: ignore[arg-type]
    )
    if args.output == "result":
        for _ in decode_chunks(machine, pieces):
            pass
        emit(result_to_dict(machine.result()))
        return 0
    for chunk in decode_chunks(machine, pieces):
        emit(chunk_to_dict(chunk, include_raw=args.raw))
    return 0


# -- inspect ----------------------------------------------------------------------------------


def _cmd_inspect(args: argparse.Namespace) -> int:
    from ..providers import StreamDecoder
    from ..providers import get as get_provider
    from ._output import escape_surrogates
    from ._parse import guess_framing, guess_provider_why
    from ._timing import Timeline, timing_report

    path, recording = _load(args.file)
    if not recording.body:
        raise ConfigurationError(f"{path} is empty: there is no stream to inspect")
    framing = guess_framing(recording, path)
    if args.provider:
        provider = get_provider(args.provider)
    else:
        name, why = guess_provider_why(recording, path, framing)
        provider = get_provider(name)
        sys.stderr.write(f"{PROG}: provider guessed as {name!r} from {why}; pass -p to choose another\n")
    machine = StreamDecoder(
        provider,
        strict=False,
        raise_errors=False,
        framing=framing if framing != provider.framing else None,  # type: ignore[arg-type]
    )
    timeline = Timeline(first_byte=recording.slices[0].t, end=recording.slices[-1].t)
    problem = ""
    try:
        for piece in recording.slices:
            for chunk in machine.feed(piece.data):
                timeline.add(piece.t, chunk)
        machine.feed(b"")
        while machine.feed(b""):
            pass
    except SansStreamError as exc:
        problem = str(exc)  # the timing up to the problem is still worth showing
    timeline.keepalives = machine.keepalives
    out = sys.stdout
    kind = recording.status if recording.status is not None else "no status"
    out.write(f"{path.name}: {provider.name}, {framing}, HTTP {kind}, {len(recording.slices)} reads, "
              f"{sum(len(s.data) for s in recording.slices)} bytes, ended: {recording.end}\n")  # fmt: skip
    if timeline.end is not None and timeline.end <= 0:
        out.write("(no timing: a raw body file, not a recording made with record= or `sansstream record`)\n")
    for line in timing_report(timeline):
        out.write(escape_surrogates(line) + "\n")
    if problem:
        out.write(escape_surrogates(f"stream problem: {problem}") + "\n")
    return 0


# -- serve ------------------------------------------------------------------------------------


def _event_slices(body: bytes, framing: str) -> list[bytes]:
    """The body cut after each event (SSE blank line, NDJSON line); other framings whole."""
    import re

    if framing == "sse":
        pattern = re.compile(rb"(?:\r\n|\r|\n)(?:\r\n|\r|\n)")
    elif framing == "ndjson":
        pattern = re.compile(rb"\n")
    else:
        return [body]
    out: list[bytes] = []
    start = 0
    for match in pattern.finditer(body):
        out.append(body[start : match.end()])
        start = match.end()
    if start < len(body):
        out.append(body[start:])
    return out


def _cmd_serve(args: argparse.Namespace) -> int:
    from ._httpserver import Reply, RequestInfo, StreamServer
    from ._parse import guess_framing

    path, recording = _load(args.file)
    headers = [(k, v) for k, v in recording.headers.raw_items()]
    if args.pace_ms is not None:
        framing = guess_framing(recording, path)
        gap = 0.0 if args.speed == 0 else args.pace_ms / 1000.0 / args.speed
        slices = [(0.0 if i == 0 else gap, s) for i, s in enumerate(_event_slices(recording.body, framing))]
    else:
        slices = []
        previous = recording.t_headers
        for s in recording.slices:
            wait = max(0.0, s.t - previous)
            previous = s.t
            slices.append((0.0 if args.speed == 0 else wait / args.speed, s.data))
    status = recording.status if recording.status is not None else 502

    def responder(request: RequestInfo) -> Reply:
        return Reply(status, headers, slices, abort=recording.end == "error")

    def log(line: str) -> None:
        sys.stderr.write(f"{PROG}: {line}\n")
        sys.stderr.flush()

    try:
        server = StreamServer(
            responder, host=args.host, port=args.port, log=log, max_requests=args.max_requests
        )
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    try:
        with server:  # (closed on the way out, however the loop ends)
            log(f"serving {path} at {server.url}/ (any path, any method); Ctrl-C to stop")
            while not server.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass  # Ctrl-C is how serve is stopped: a normal end, wherever it lands
    return 0
