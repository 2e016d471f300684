"""S3 addresses and clients (boto3: the standard credential chain, REGION, ENDPOINT_URL)."""

from __future__ import annotations

from typing import Any

from sparkify_dwh.console import first_line
from sparkify_dwh.errors import ConfigError
from sparkify_dwh.settings import Settings


def is_s3(uri: str) -> bool:
    return uri.strip().lower().startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    rest = uri.strip()[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ConfigError(f"{uri!r} is not an S3 address; write s3://bucket/prefix")
    return bucket, key


def s3_client(cfg: Settings, *, attempts: int = 8) -> Any:
    """A boto3 S3 client: the standard credential chain, REGION, ENDPOINT_URL for S3-compatible
    stores, retries and a connection pool sized for concurrent reads.

    Retries are botocore's standard mode: up to `attempts`, full-jitter backoff (from 50 ms; from
    1 s when throttled). Not adaptive mode: its client-side rate limiter, once S3 throttles, holds
    every thread to a rate it raises only slowly (5% of requests answered 503 SlowDown made the
    sample load three times slower here). Object reads retry by themselves (attempts=1; sources._get_s3)."""
    import boto3
    from botocore.config import Config as BotoConfig

    s3 = cfg.s3
    return boto3.session.Session().client(
        "s3",
        region_name=s3.region or None,
        endpoint_url=s3.endpoint_url or None,
        config=BotoConfig(
            retries={"max_attempts": attempts, "mode": "standard"},
            max_pool_connections=64,
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def describe_aws_error(exc: BaseException, what: str) -> str:
    """One line for a boto3/botocore failure, naming what to fix."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.NoCredentialsError):
        return f"{what}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError):
        return f"{what}: cannot reach the S3 endpoint ({first_line(exc)}); check [S3] ENDPOINT_URL and REGION"
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), err.get("Message", "")
        hint = {
            "NoSuchBucket": "check the bucket name in [S3]",
            "AccessDenied": "the credentials may not read it",
            "InvalidAccessKeyId": "check the AWS credentials",
            "SignatureDoesNotMatch": "check the AWS credentials",
            "ExpiredToken": "refresh the AWS credentials",
        }.get(code, "")
        return f"{what}: {code} {message}".rstrip() + (f"; {hint}" if hint else "")
    return f"{what}: {first_line(exc)}"
