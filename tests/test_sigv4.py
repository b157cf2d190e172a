"""SigV4 signing (standard library only): AWS's published test-suite vectors, a cross-check
against botocore's signer for Bedrock-shaped requests, and ``BedrockProvider.sign``."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from sansstream.model import ConfigurationError
from sansstream.providers import HTTPRequest
from sansstream.providers._sigv4 import Credentials, canonical_request, sign_headers
from sansstream.providers.bedrock import BedrockProvider

# The AWS Signature Version 4 test suite's credentials and time.
SUITE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.timezone.utc)
SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


@pytest.mark.parametrize(
    ("method", "url", "signature"),
    [
        pytest.param(
            "GET",
            "https://example.amazonaws.com/",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            id="get-vanilla",
        ),
        pytest.param(
            "POST",
            "https://example.amazonaws.com/",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            id="post-vanilla",
        ),
        pytest.param(
            "GET",
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            id="get-vanilla-query-order-key-case",
        ),
    ],
)
def test_aws_test_suite_vectors(method: str, url: str, signature: str) -> None:
    headers = sign_headers(
        method,
        url,
        {},
        b"",
        credentials=SUITE_CREDENTIALS,
        region="us-east-1",
        service="service",
        now=SUITE_TIME,
    )
    assert headers["x-amz-date"] == "20150830T123600Z"
    assert headers["authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date, Signature={signature}"
    )
    assert "x-amz-security-token" not in headers
    assert "host" not in headers  # signed, but left to the HTTP client to send


def test_get_vanilla_canonical_request() -> None:
    text, signed = canonical_request(
        "GET",
        "https://example.amazonaws.com/",
        {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
        b"",
    )
    assert signed == "host;x-amz-date"
    assert text == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_naive_time_is_utc_and_other_zones_are_converted() -> None:
    naive = SUITE_TIME.replace(tzinfo=None)
    paris = SUITE_TIME.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    results = {
        sign_headers(
            "GET",
            "https://example.amazonaws.com/",
            {},
            b"",
            credentials=SUITE_CREDENTIALS,
            region="us-east-1",
            service="service",
            now=now,
        )["authorization"]
        for now in (SUITE_TIME, naive, paris)
    }
    assert len(results) == 1


def _bedrock_request(model: str = "anthropic.claude-3-5-sonnet-20240620-v1:0") -> HTTPRequest:
    return BedrockProvider().build_request(
        model=model,
        messages=[{"role": "user", "content": "Hello"}],
        region="us-west-2",
        max_tokens=100,
    )


BEDROCK_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}


@pytest.mark.parametrize("session_token", [None, "FQoGZXIvYXdzEXAMPLETOKEN//////////wEaDA=="])
@pytest.mark.parametrize(
    "model", ["anthropic.claude-3-5-sonnet-20240620-v1:0", "us.amazon.nova-pro-v1:0", "plain-model"]
)
def test_matches_botocore_for_bedrock_requests(
    session_token: str | None, model: str, monkeypatch: Any
) -> None:
    """botocore (the AWS SDK's signer) signs the same request to the same Authorization,
    including the double-encoded ``:`` of a model id in the path."""
    auth = pytest.importorskip("botocore.auth", reason="the botocore cross-check needs botocore (test extra)")
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from botocore.credentials import Credentials as BotoCredentials  # type: ignore[import-untyped,import-not-found,unused-ignore]

    request = _bedrock_request(model)
    env = dict(BEDROCK_ENV)
    if session_token:
        env["AWS_SESSION_TOKEN"] = session_token
    signed = BedrockProvider().sign(request, env=env, now=SUITE_TIME)

    monkeypatch.setattr(auth, "get_current_datetime", lambda: SUITE_TIME.replace(tzinfo=None))
    theirs = AWSRequest(method="POST", url=request.url, data=request.body, headers=dict(request.headers))
    auth.SigV4Auth(
        BotoCredentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], session_token),
        "bedrock",
        "us-west-2",
    ).add_auth(theirs)
    assert signed.headers["authorization"] == theirs.headers["Authorization"]
    assert signed.headers["x-amz-date"] == theirs.headers["X-Amz-Date"]
    assert signed.headers.get("x-amz-security-token") == theirs.headers.get("X-Amz-Security-Token")
    assert signed.body == request.body
    assert signed.url == request.url


def test_sign_covers_the_body_and_the_time() -> None:
    provider = BedrockProvider()
    request = _bedrock_request()
    first = provider.sign(request, env=BEDROCK_ENV, now=SUITE_TIME)
    later = provider.sign(request, env=BEDROCK_ENV, now=SUITE_TIME + datetime.timedelta(seconds=1))
    other = HTTPRequest(request.method, request.url, request.headers, json.dumps({"messages": []}).encode())
    changed = provider.sign(other, env=BEDROCK_ENV, now=SUITE_TIME)
    assert (
        len(
            {first.headers["authorization"], later.headers["authorization"], changed.headers["authorization"]}
        )
        == 3
    )
    assert "us-west-2/bedrock/aws4_request" in first.headers["authorization"]
    assert "content-type" in first.headers["authorization"]  # the content type is signed too


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigurationError) as info:
        BedrockProvider().sign(_bedrock_request(), env={"AWS_ACCESS_KEY_ID": "x"}, now=SUITE_TIME)
    message = str(info.value)
    assert "AWS_ACCESS_KEY_ID" in message
    assert "AWS_SECRET_ACCESS_KEY" in message


def test_api_key_requests_are_not_signed() -> None:
    request = BedrockProvider().build_request(
        model="m", messages=[{"role": "user", "content": "hi"}], region="eu-west-1", api_key="bedrock-api-key"
    )
    assert request.headers["authorization"] == "Bearer bedrock-api-key"
    assert BedrockProvider().sign(request, env={}, now=SUITE_TIME) is request


def test_region_from_env_when_the_host_does_not_name_it() -> None:
    request = BedrockProvider().build_request(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        base_url="https://vpce-123.bedrock-runtime.example.com",
    )
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        BedrockProvider().sign(request, env=BEDROCK_ENV, now=SUITE_TIME)
    signed = BedrockProvider().sign(request, env={**BEDROCK_ENV, "AWS_REGION": "ap-south-1"}, now=SUITE_TIME)
    assert "/ap-south-1/bedrock/aws4_request" in signed.headers["authorization"]


def test_credentials_repr_hides_the_secret() -> None:
    assert "EXAMPLEKEY" not in repr(SUITE_CREDENTIALS)
