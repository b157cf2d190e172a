"""TLS on both adapters against a local HTTPS FixtureServer whose certificate comes from a test CA
(trustme): verification succeeds with the CA, fails clearly without it or for the wrong host."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from transport_support import ADAPTERS, drain, fetch, make_transport, open_url

from sansstream.model import TransportError
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import H11Transport

BODY = b"".join(b'data: {"n": %d}\n\n' % i for i in range(50))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    return ctx


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[FixtureServer]:
    slices = [BODY[i : i + 100] for i in range(0, len(BODY), 100)]
    with FixtureServer(
        FixtureResponse(body=slices), ssl_context=server_context(ca, "127.0.0.1", "localhost")
    ) as server:
        yield server


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_verified_with_the_test_ca(ca: trustme.CA, ca_file: str, adapter: str, framing: str) -> None:
    ctx = server_context(ca, "127.0.0.1")
    with FixtureServer(
        FixtureResponse(body=[BODY[:10], BODY[10:]], framing=framing), ssl_context=ctx
    ) as server:
        assert server.url.startswith("https://127.0.0.1:")
        t = make_transport(adapter, verify=ca_file)
        try:
            assert fetch(t, server.url) == BODY
        finally:
            t.close()
        assert server.errors == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_untrusted_certificate_is_a_clear_transport_error(tls_server: FixtureServer, adapter: str) -> None:
    t = make_transport(adapter)  # system CAs only: the test CA is unknown
    try:
        with pytest.raises(TransportError) as info:
            open_url(t, tls_server.url)
    finally:
        t.close()
    message = str(info.value)
    assert "certificate verification failed" in message
    assert "verify=" in message  # says what to do


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_wrong_host_name_is_refused(ca: trustme.CA, ca_file: str, adapter: str) -> None:
    with FixtureServer(
        FixtureResponse(body=BODY), ssl_context=server_context(ca, "api.example.test")
    ) as server:
        t = make_transport(adapter, verify=ca_file)
        try:
            with pytest.raises(TransportError) as info:
                open_url(t, server.url)
        finally:
            t.close()
    assert "certificate" in str(info.value).lower()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_verification_can_be_disabled_for_local_testing(tls_server: FixtureServer, adapter: str) -> None:
    t = make_transport(adapter, verify=False)
    try:
        assert fetch(t, tls_server.url) == BODY
    finally:
        t.close()


def test_h11_with_an_explicit_ssl_context(ca: trustme.CA, tls_server: FixtureServer) -> None:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    with H11Transport(ssl_context=ctx) as t:
        assert fetch(t, tls_server.url) == BODY
        assert fetch(t, tls_server.url) == BODY
    assert tls_server.connections == 1  # keep-alive over TLS


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_tls_stream_cut_is_an_error(ca: trustme.CA, ca_file: str, adapter: str) -> None:
    ctx = server_context(ca, "127.0.0.1")
    with FixtureServer(FixtureResponse(body=BODY, cut_after=123), ssl_context=ctx) as server:
        t = make_transport(adapter, verify=ca_file)
        try:
            got, error = drain(open_url(t, server.url))
        finally:
            t.close()
    assert got == BODY[:123]
    assert isinstance(error, TransportError)


def test_ca_file_path_objects_are_accepted(ca_file: str, tls_server: FixtureServer) -> None:
    with H11Transport(verify=str(Path(ca_file))) as t:
        assert fetch(t, tls_server.url) == BODY
