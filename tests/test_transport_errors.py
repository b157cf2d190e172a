"""HTTP failures become our errors, the same way on both adapters: error statuses with provider
error bodies, HTML where a stream was expected, resets, truncated bodies, compressed bodies
(and a decompression bomb), keep-alive reuse, choosing a transport by name."""

from __future__ import annotations

import datetime
import email.utils
import gzip
import json
import zlib
from collections.abc import Iterator

import pytest
from transport_support import ADAPTERS, drain, fetch, make_transport, open_url, read_all

from sansstream.model import (
    ConfigurationError,
    HTTPStatusError,
    RemoteProtocolError,
    TransportError,
    UnexpectedContentTypeError,
)
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import (
    H11Transport,
    Headers,
    RequestsTransport,
    Transport,
    check_content_type,
    extract_error_message,
    get_transport,
    parse_retry_after,
    raise_for_status,
)

SSE = "text/event-stream"
BODY = b"data: hello\n\n" * 20


@pytest.fixture(params=ADAPTERS)
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    t = make_transport(request.param)
    yield t
    t.close()


def error_for(transport: Transport, response: FixtureResponse) -> HTTPStatusError:
    with FixtureServer(response) as server:
        r = open_url(transport, server.url_for("/v1/chat"))
        with pytest.raises(HTTPStatusError) as info:
            raise_for_status(r)
        return info.value


# ------------------------------------------------------------------------------ statuses

PROVIDER_ERRORS = [
    # (status, body, expected provider_message)
    (
        401,
        {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
        "Incorrect API key provided",
    ),
    (
        404,
        {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x"}},
        "model: claude-x",
    ),
    (
        429,
        [{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}],
        "Resource has been exhausted",
    ),
    (500, {"error": "model runner has unexpectedly stopped"}, "model runner has unexpectedly stopped"),
    (
        400,
        {"message": "invalid request: messages must not be empty"},
        "invalid request: messages must not be empty",
    ),
    (422, {"detail": [{"loc": ["body", "model"], "msg": "field required"}]}, "field required"),
]


@pytest.mark.parametrize(("status", "payload", "message"), PROVIDER_ERRORS)
def test_error_status_with_provider_json(
    transport: Transport, status: int, payload: object, message: str
) -> None:
    body = json.dumps(payload).encode()
    err = error_for(transport, FixtureResponse(body=body, status=status, content_type="application/json"))
    assert err.status == status
    assert err.provider_message == message
    assert err.body == body.decode()
    assert err.headers["content-type"] == "application/json"
    assert err.url is not None
    assert err.url.endswith("/v1/chat")
    text = str(err)
    assert str(status) in text
    assert message in text
    assert err.retryable == (status in (429, 500))


def test_retry_after_seconds(transport: Transport) -> None:
    err = error_for(
        transport,
        FixtureResponse(
            body=b'{"error": {"message": "slow down"}}', status=429, headers={"Retry-After": "7"}
        ),
    )
    assert err.retry_after == 7.0
    assert "retry after 7s" in str(err)


def test_retry_after_http_date(transport: Transport) -> None:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)
    header = email.utils.format_datetime(when, usegmt=True)
    err = error_for(transport, FixtureResponse(body=b"busy", status=503, headers={"Retry-After": header}))
    assert err.retry_after is not None
    assert 100 <= err.retry_after <= 121
    assert err.provider_message is None
    assert "busy" in str(err)


def test_error_body_is_bounded(transport: Transport) -> None:
    big = b"<html>" + b"x" * 200_000 + b"</html>"
    with FixtureServer(FixtureResponse(body=big, status=502, content_type="text/html")) as server:
        r = open_url(transport, server.url)
        with pytest.raises(HTTPStatusError) as info:
            raise_for_status(r, max_body=1000)
    assert 1000 <= len(info.value.body) < 70_000


def test_error_body_read_is_bounded_in_time(transport: Transport) -> None:
    # the server sends half an error body then stalls: the error is still reported, promptly
    response = FixtureResponse(body=b'{"error": {"message": "boom"}}', status=500, stall=10, stall_at=10)
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        with pytest.raises(HTTPStatusError) as info:
            raise_for_status(r, body_timeout=0.3)
    assert info.value.body == '{"error": '
    assert info.value.status == 500


def test_success_passes(transport: Transport) -> None:
    with FixtureServer(FixtureResponse(body=BODY)) as server:
        r = open_url(transport, server.url)
        raise_for_status(r)
        check_content_type(r, (SSE,))
        assert b"".join(read_all(r)) == BODY


# ------------------------------------------------------------------------------ content type


def test_html_page_instead_of_a_stream(transport: Transport) -> None:
    page = b"<!DOCTYPE html><html><body><h1>Please log in to the Wi-Fi</h1></body></html>"
    with FixtureServer(FixtureResponse(body=page, content_type="text/html; charset=utf-8")) as server:
        r = open_url(transport, server.url)
        raise_for_status(r)
        with pytest.raises(UnexpectedContentTypeError) as info:
            check_content_type(r, (SSE,))
    err = info.value
    assert err.content_type == "text/html; charset=utf-8"
    assert "Please log in" in err.body
    assert "text/event-stream" in str(err)
    assert "text/html" in str(err)
    assert isinstance(err, RemoteProtocolError)


def test_content_type_parameters_and_case_are_ignored(transport: Transport) -> None:
    with FixtureServer(FixtureResponse(body=BODY, content_type="Text/Event-Stream; charset=utf-8")) as server:
        r = open_url(transport, server.url)
        check_content_type(r, (SSE, "application/x-ndjson"))
        r.close()


# ------------------------------------------------------------------------------ broken bodies


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_reset_mid_stream(transport: Transport, framing: str) -> None:
    response = FixtureResponse(body=BODY, cut_after=30, reset=True, framing=framing)
    with FixtureServer(response) as server:
        got, error = drain(open_url(transport, server.url))
    assert isinstance(error, TransportError)
    assert BODY.startswith(got)
    assert "retry" in str(error)


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_close_before_the_body_is_complete(transport: Transport, framing: str) -> None:
    response = FixtureResponse(body=BODY, cut_after=100, framing=framing)
    with FixtureServer(response) as server:
        got, error = drain(open_url(transport, server.url))
    assert isinstance(error, TransportError)
    assert got == BODY[:100]
    assert "complete" in str(error)


def test_declared_length_longer_than_the_body(transport: Transport) -> None:
    response = FixtureResponse(
        body=BODY, framing="content-length", content_length=len(BODY) + 50, keep_alive=False
    )
    with FixtureServer(response) as server:
        got, error = drain(open_url(transport, server.url))
    assert isinstance(error, TransportError)
    assert got == BODY


def test_close_delimited_cut_is_the_end(transport: Transport) -> None:
    # without a declared length, a close is how the body ends: no error at this layer
    with FixtureServer(FixtureResponse(body=BODY, cut_after=100, framing="close")) as server:
        assert fetch(transport, server.url) == BODY[:100]


# ------------------------------------------------------------------------------ compression


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_gzip_bodies_are_decoded(transport: Transport, framing: str) -> None:
    slices = [BODY[i : i + 37] for i in range(0, len(BODY), 37)]
    with FixtureServer(FixtureResponse(body=slices, gzip=True, framing=framing)) as server:
        r = open_url(transport, server.url)
        assert r.headers["content-encoding"] == "gzip"
        assert b"".join(read_all(r)) == BODY
        assert server.requests[0].headers.get("accept-encoding", "").find("gzip") >= 0


@pytest.mark.parametrize("wrapped", [True, False])
def test_deflate_bodies_are_decoded(transport: Transport, wrapped: bool) -> None:
    if wrapped:
        data = zlib.compress(BODY)
    else:
        c = zlib.compressobj(wbits=-15)
        data = c.compress(BODY) + c.flush()
    response = FixtureResponse(body=[data[:5], data[5:]], headers={"Content-Encoding": "deflate"})
    with FixtureServer(response) as server:
        assert fetch(transport, server.url) == BODY


def test_multi_member_gzip(transport: Transport) -> None:
    data = gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])
    with FixtureServer(FixtureResponse(body=data, headers={"Content-Encoding": "gzip"})) as server:
        assert fetch(transport, server.url) == BODY


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB -> 64 MiB
    response = FixtureResponse(
        body=[bomb[i : i + 4096] for i in range(0, len(bomb), 4096)], headers={"Content-Encoding": "gzip"}
    )
    for name in ADAPTERS:
        t = make_transport(name)
        with FixtureServer(response) as server:
            got, error = drain(open_url(t, server.url))
        t.close()
        assert isinstance(error, RemoteProtocolError), name
        assert len(got) < 8 * 1024 * 1024, "refused long before inflating everything"
        assert "decompression bomb" in str(error)


def test_corrupt_gzip_is_a_protocol_error(transport: Transport) -> None:
    response = FixtureResponse(
        body=b"\x1f\x8b\x08\x00this is not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    with FixtureServer(response) as server:
        _, error = drain(open_url(transport, server.url))
    assert isinstance(error, RemoteProtocolError)


# ------------------------------------------------------------------------------ keep-alive


def test_h11_reuses_an_idle_connection() -> None:
    with FixtureServer(FixtureResponse(body=BODY)) as server, H11Transport() as t:
        assert fetch(t, server.url_for("/a")) == BODY
        assert t.idle_connections() == 1
        assert fetch(t, server.url_for("/b")) == BODY
        requests_seen = server.wait_for_requests(2)
        assert [r.path for r in requests_seen] == ["/a", "/b"]
        assert server.connections == 1
        assert requests_seen[0].connection == requests_seen[1].connection


def test_h11_does_not_reuse_an_unfinished_or_closing_connection() -> None:
    routes = {
        "/close": FixtureResponse(body=BODY, framing="close"),
        "/ok": FixtureResponse(body=BODY),
        "/slow": FixtureResponse(body=BODY, stall=10, stall_at=13),
    }
    with FixtureServer(routes=routes) as server, H11Transport() as t:
        assert fetch(t, server.url_for("/close")) == BODY  # close-delimited: not reusable
        r = open_url(t, server.url_for("/slow"))
        assert r.read(5) == BODY[:13]
        r.close()  # abandoned mid-body: not reusable
        assert fetch(t, server.url_for("/ok")) == BODY
        assert fetch(t, server.url_for("/ok")) == BODY
        assert server.connections == 3  # /close, /slow, then one connection for both /ok


def test_h11_skips_a_pooled_connection_the_server_dropped() -> None:
    # the server closes after the response without saying so; the pool notices the EOF
    with FixtureServer(FixtureResponse(body=BODY, drop_after=True)) as server, H11Transport() as t:
        assert fetch(t, server.url) == BODY
        assert fetch(t, server.url) == BODY
        assert server.connections == 2
        assert len(server.requests) == 2


def test_h11_retries_once_when_a_reused_connection_hangs_up() -> None:
    # the second request arrives on the reused connection and the server hangs up without a
    # byte: the request is sent again on a new connection, invisibly to the caller
    answers = [FixtureResponse(body=BODY), FixtureResponse(hangup=True), FixtureResponse(body=BODY)]
    with FixtureServer(answers) as server, H11Transport() as t:
        assert fetch(t, server.url) == BODY
        assert fetch(t, server.url) == BODY
        seen = server.wait_for_requests(3)
        assert [r.connection for r in seen] == [0, 0, 1]


def test_a_fresh_connection_that_hangs_up_is_an_error(transport: Transport) -> None:
    with FixtureServer(FixtureResponse(hangup=True)) as server, pytest.raises(TransportError):
        open_url(transport, server.url)


def test_h11_pool_can_be_disabled() -> None:
    with FixtureServer(FixtureResponse(body=BODY)) as server, H11Transport(pool=False) as t:
        fetch(t, server.url)
        fetch(t, server.url)
        assert server.connections == 2
        assert t.idle_connections() == 0


def test_requests_pools_through_its_session() -> None:
    with FixtureServer(FixtureResponse(body=BODY)) as server, RequestsTransport() as t:
        fetch(t, server.url)
        fetch(t, server.url)
        assert server.connections == 1


# ------------------------------------------------------------------------------ requests sent


def test_request_line_headers_and_body_reach_the_server(transport: Transport) -> None:
    from sansstream.providers import HTTPRequest

    with FixtureServer(FixtureResponse(body=BODY)) as server:
        request = HTTPRequest.json(
            "POST",
            server.url_for("/v1/x?alt=sse"),
            {"model": "m", "stream": True},
            headers={"Authorization": "Bearer sk-test", "X-Extra": "1"},
        )
        read_all(transport.open(request, connect_timeout=5, first_byte_timeout=5))
        seen = server.wait_for_requests(1)[0]
    assert seen.method == "POST"
    assert seen.target == "/v1/x?alt=sse"
    assert seen.path == "/v1/x"
    assert seen.query == "alt=sse"
    assert seen.json() == {"model": "m", "stream": True}
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.headers["x-extra"] == "1"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"


def test_h11_streams_an_iterable_request_body() -> None:
    from sansstream.providers import HTTPRequest

    parts = [b'{"a":', b"1", b"}"]
    with FixtureServer(FixtureResponse(body=BODY)) as server, H11Transport() as t:
        request = HTTPRequest("POST", server.url, {}, iter(parts))  # type: ignore[arg-type]
        read_all(t.open(request, connect_timeout=5, first_byte_timeout=5))
        seen = server.wait_for_requests(1)[0]
    assert seen.body == b'{"a":1}'
    assert seen.headers["transfer-encoding"] == "chunked"


def test_connection_refused_is_a_transport_error(transport: Transport) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(TransportError) as info:
        open_url(transport, f"http://127.0.0.1:{port}/")
    assert str(port) in str(info.value)


def test_bad_urls_are_configuration_errors(transport: Transport) -> None:
    with pytest.raises(ConfigurationError):
        open_url(transport, "ftp://example.invalid/x")


# ------------------------------------------------------------------------------ helpers


def test_get_transport() -> None:
    assert isinstance(get_transport(None), RequestsTransport)
    assert isinstance(get_transport("requests"), RequestsTransport)
    assert isinstance(get_transport("h11"), H11Transport)
    mine = H11Transport(pool=False)
    assert get_transport(mine) is mine
    with pytest.raises(ConfigurationError, match="'requests'"):
        get_transport("curl")
    with pytest.raises(ConfigurationError):
        get_transport(42)  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    now = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after(" 2 ", now=now) == 2.0
    assert parse_retry_after("1.5", now=now) == 1.5
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0  # past: now
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after("nan", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_extract_error_message_shapes() -> None:
    assert extract_error_message('{"error": {"message": "a"}}') == "a"
    assert extract_error_message('{"error": "b"}') == "b"
    assert extract_error_message('{"message": "c"}') == "c"
    assert extract_error_message('{"detail": "d"}') == "d"
    assert extract_error_message('[{"error": {"message": "e"}}]') == "e"
    assert extract_error_message('{"errors": []}') is None
    assert extract_error_message('{"detail": [{"msg": "x"}, {"msg": "y"}, {"msg": "x"}]}') == "x; y"
    assert extract_error_message("<html>502</html>") is None
    assert extract_error_message("") is None


def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    h = Headers([("Content-Type", "text/event-stream"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert h["content-type"] == h["CONTENT-TYPE"] == "text/event-stream"
    assert h["set-cookie"] == "a=1, b=2"
    assert h.get_list("SET-COOKIE") == ["a=1", "b=2"]
    assert list(h) == ["Content-Type", "Set-Cookie"]
    assert len(h) == 2
    assert "Content-type" in h
    assert "x" not in h
    assert h.get("missing") is None
    assert dict(Headers({"A": "1"})) == {"A": "1"}


def test_repeated_response_headers_are_kept(transport: Transport) -> None:
    response = FixtureResponse(body=BODY, headers=[("X-A", "1"), ("x-a", "2"), ("Retry-After", "5")])
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        read_all(r)
    assert isinstance(r.headers, Headers)
    assert r.headers.get_list("X-A") == ["1", "2"]
    assert r.headers["x-a"] == "1, 2"
    assert r.headers["RETRY-AFTER"] == "5"


def test_content_type_check_leaves_error_statuses_alone(transport: Transport) -> None:
    response = FixtureResponse(body=b"<h1>nope</h1>", status=404, content_type="text/html")
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        check_content_type(r, (SSE,))  # not its business: raise_for_status reports the 404
        with pytest.raises(HTTPStatusError):
            raise_for_status(r)


def test_adapters_satisfy_the_transport_protocol(transport: Transport) -> None:
    from sansstream.transports import TransportResponse, iter_body

    assert isinstance(transport, Transport)
    with FixtureServer(FixtureResponse(body=[BODY[:7], BODY[7:]])) as server:
        r = open_url(transport, server.url)
        assert isinstance(r, TransportResponse)
        assert r.url.startswith(server.url)
        assert b"".join(iter_body(r, read_timeout=5)) == BODY
        assert r.read(1) == b""  # after the end (and the close iter_body did): still the end


def test_h11_streamed_bodies_always_get_a_fresh_connection() -> None:
    # a one-shot iterable cannot be re-sent if a pooled connection turns out dead
    from sansstream.providers import HTTPRequest

    with FixtureServer(FixtureResponse(body=BODY)) as server, H11Transport() as t:
        fetch(t, server.url)
        assert t.idle_connections() == 1
        request = HTTPRequest("POST", server.url, {}, iter([b"{}"]))  # type: ignore[arg-type]
        read_all(t.open(request, connect_timeout=5, first_byte_timeout=5))
        assert server.connections == 2


def test_responses_without_a_body(transport: Transport) -> None:
    routes = {
        "/204": FixtureResponse(status=204),
        "/head": FixtureResponse(body=BODY, framing="content-length"),
    }
    with FixtureServer(routes=routes) as server:
        r = open_url(transport, server.url_for("/204"))
        assert r.status == 204
        assert read_all(r) == []
        r = open_url(transport, server.url_for("/head"), method="HEAD", body=None)
        assert r.headers["content-length"] == str(len(BODY))
        assert read_all(r) == []
        assert fetch(transport, server.url_for("/head")) == BODY
        assert server.connections == 1  # all three on one kept-alive connection
