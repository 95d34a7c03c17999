#!/usr/bin/env python3
"""Generates AWS Signature Version 4 test vectors for Allot's S3 signer with botocore.

botocore is an independent implementation of SigV4: these vectors check Allot's signer
(Sources/AllotStore/S3/SigV4Signer.swift) and its S3 request layout against it.

Two kinds of vectors:
  * "client": a real boto3 S3 client (path-style, custom endpoint, payload signing on) performs an
    operation; the request it would send is captured just before sending (nothing is sent). These
    check the URL layout (object key encoding, query parameters) as well as the signature.
  * "direct": botocore's S3SigV4Auth signs a hand-made request, to reach corners the client does
    not (repeated query names, whitespace in header values, empty query values, odd characters).

The clock is frozen so the output is reproducible, except for headers botocore fills with random
values (amz-sdk-invocation-id), which are recorded with the signature they produced.

Usage: python3 Tests/Vectors/sigv4/generate-sigv4-vectors.py > Tests/Vectors/sigv4/vectors.json
Requires: pip install boto3 (tested with botocore 1.43).
"""

import base64
import datetime
import hashlib
import json
import sys
from unittest import mock
from urllib.parse import unquote, urlsplit

import boto3
import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

FROZEN = datetime.datetime(2026, 11, 29, 12, 34, 56, tzinfo=datetime.timezone.utc)
TIMESTAMP = FROZEN.strftime("%Y%m%dT%H%M%SZ")

PLAIN = {"access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session_token": None}
SESSION = {
    "access_key": "ASIAEXAMPLESESSION01",
    "secret_key": "tmp/Secret+Key=With/Odd+Chars",
    "session_token": "FwoGZXIvYXdzEXAMPLE//////////wEaDNExampleSessionToken+/=",
}

SPECIAL_KEY = "dir with space/a+b=c&d?e#f%g~h'i(j)k*l!m,n;o:p@q$r[s]t"
UNICODE_KEY = "ünïcødé/日本語/ファイル.bundle"


def split_query(url):
    query = urlsplit(url).query
    pairs = []
    if query:
        for part in query.split("&"):
            name, _, value = part.partition("=")
            pairs.append([unquote(name), unquote(value)])
    return pairs


def signed_header_names(authorization):
    for part in authorization.split(", "):
        if part.startswith("SignedHeaders="):
            return part[len("SignedHeaders="):].split(";")
    raise ValueError(authorization)


def describe(name, kind, creds, region, method, url, headers, body, operation=None, params=None):
    """Recomputes the canonical request and string to sign for the request botocore signed."""
    # Only the headers botocore signed: clients add some (User-Agent, amz-sdk-*) after signing.
    signed = signed_header_names(headers["Authorization"])
    request = AWSRequest(method=method, url=url, headers={k: v for k, v in headers.items() if k.lower() in signed},
                         data=body, params=params)
    request.context["timestamp"] = TIMESTAMP
    auth = botocore.auth.S3SigV4Auth(Credentials(creds["access_key"], creds["secret_key"], creds["session_token"]), "s3", region)
    canonical_request = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical_request)
    signature = auth.signature(string_to_sign, request)
    authorization = headers["Authorization"]
    assert authorization.endswith("Signature=" + signature), (name, authorization, signature)
    to_sign = auth.headers_to_sign(request)
    signed_headers = []
    for header in signed:
        for value in to_sign.get_all(header):
            signed_headers.append([header, value])
    query = [[k, str(v)] for k, v in params] if params else split_query(url)
    vector = {
        "name": name,
        "kind": kind,
        "region": region,
        "service": "s3",
        "credentials": creds,
        "timestamp": TIMESTAMP,
        "method": method,
        "url": url,
        "path": urlsplit(url).path,
        "query": query,
        "headers": signed_headers,
        "body_base64": base64.b64encode(body or b"").decode(),
        "payload_hash": headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body or b"").hexdigest(),
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "signed_headers": ";".join(signed),
        "signature": signature,
        "authorization": authorization,
    }
    if operation is not None:
        vector["operation"] = operation
    return vector


def client_vectors():
    vectors = []
    cases = [
        ("get-object", PLAIN, "us-east-1", "get_object", {"Bucket": "allot-eu", "Key": "manifest.json"}),
        ("get-object-if-none-match", PLAIN, "eu-west-1", "get_object",
         {"Bucket": "allot-eu", "Key": "prod/manifest.json", "IfNoneMatch": '"5d41402abc4b2a76b9719d911017c592"'}),
        ("head-object-special-characters", PLAIN, "eu-west-1", "head_object", {"Bucket": "allot-eu", "Key": SPECIAL_KEY}),
        ("head-object-unicode", PLAIN, "ap-southeast-2", "head_object", {"Bucket": "allot-ap", "Key": UNICODE_KEY}),
        ("put-object-if-none-match", PLAIN, "us-east-1", "put_object",
         {"Bucket": "allot-us", "Key": "bundles/" + "ab" * 32 + ".bundle", "Body": b"ALLOTBDL\x01\x00\x98\x00 bundle bytes \xff\x00",
          "IfNoneMatch": "*", "ContentType": "application/octet-stream"}),
        ("put-object-if-match", PLAIN, "us-east-1", "put_object",
         {"Bucket": "allot-us", "Key": "manifest.json", "Body": b'{"format": "allot-manifest/1"}\n',
          "IfMatch": '"0123456789abcdef0123456789abcdef"', "ContentType": "application/json"}),
        ("put-object-empty-body", PLAIN, "us-east-1", "put_object",
         {"Bucket": "allot-us", "Key": "empty", "Body": b"", "ContentType": "application/octet-stream"}),
        ("list-objects-prefix", PLAIN, "eu-central-1", "list_objects_v2", {"Bucket": "allot-eu", "Prefix": "prod/bundles/"}),
        ("list-objects-continuation", PLAIN, "eu-central-1", "list_objects_v2",
         {"Bucket": "allot-eu", "Prefix": "dir with space/ü", "ContinuationToken": "1/tok+en==&x"}),
        ("get-object-session-token", SESSION, "us-west-2", "get_object", {"Bucket": "allot-us", "Key": "prod/manifest.json"}),
        ("put-object-session-token", SESSION, "us-west-2", "put_object",
         {"Bucket": "allot-us", "Key": "prod/bundles/x.bundle", "Body": b"\x00\x01\x02", "ContentType": "application/octet-stream"}),
    ]
    for name, creds, region, operation, params in cases:
        endpoint = "http://127.0.0.1:9000"
        session = boto3.session.Session(
            aws_access_key_id=creds["access_key"], aws_secret_access_key=creds["secret_key"],
            aws_session_token=creds["session_token"], region_name=region)
        client = session.client(
            "s3", endpoint_url=endpoint,
            config=Config(s3={"addressing_style": "path", "payload_signing_enabled": True},
                          request_checksum_calculation="when_required", response_checksum_validation="when_required",
                          retries={"max_attempts": 1}))
        captured = {}

        def capture(request, **kwargs):
            captured["request"] = request
            response = AWSResponse(request.url, 200, {}, None)
            response.raw = mock.Mock()
            response.raw.stream = lambda **kw: iter([])
            raise _Captured()

        client.meta.events.register("before-send.s3", capture)
        try:
            getattr(client, operation)(**params)
        except _Captured:
            pass
        request = captured["request"]
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        op = {"name": operation, "endpoint": endpoint, "bucket": params["Bucket"]}
        for field, label in [("Key", "key"), ("Prefix", "prefix"), ("ContinuationToken", "continuation_token")]:
            if field in params:
                op[label] = params[field]
        vectors.append(describe(name, "client", creds, region, request.method, request.url, headers, body, op))
    return vectors


class _Captured(Exception):
    pass


def direct_vectors():
    vectors = []
    cases = [
        ("direct-get-no-query", PLAIN, "us-east-1", "GET", "http://127.0.0.1:9000/bucket/key", [], {}, b""),
        ("direct-repeated-and-empty-query", PLAIN, "eu-west-1", "GET", "http://127.0.0.1:9000/bucket",
         [("b", "2"), ("a", ""), ("b", "1"), ("list-type", "2"), ("A", "upper")], {}, b""),
        ("direct-query-special-characters", PLAIN, "eu-west-1", "GET", "https://s3.eu-west-1.amazonaws.com/bucket",
         [("prefix", "a b/c+d=e&f"), ("start-after", "ü~*'()!"), ("max-keys", "10")], {}, b""),
        ("direct-header-whitespace", PLAIN, "us-east-1", "PUT", "http://localhost:4566/bucket/obj", [],
         {"Content-Type": "  text/plain;   charset=utf-8  ", "X-Amz-Meta-Note": "a   b\tc", "If-Match": '"etag"'}, b"hello world"),
        ("direct-session-token-body", SESSION, "eu-north-1", "PUT", "http://127.0.0.1:9000/bucket/dir%20x/file%2Bname", [],
         {"Content-Type": "application/octet-stream"}, "näive body ✓".encode()),
        ("direct-virtual-host", PLAIN, "eu-west-1", "HEAD", "https://allot-eu.s3.eu-west-1.amazonaws.com/prod/manifest.json", [], {}, b""),
        ("direct-port-in-host", PLAIN, "us-east-1", "DELETE", "http://127.0.0.1:65000/bucket/a~b", [], {}, b""),
    ]
    for name, creds, region, method, url, params, headers, body in cases:
        request = AWSRequest(method=method, url=url, headers=dict(headers), data=body, params=list(params) or None)
        auth = botocore.auth.S3SigV4Auth(Credentials(creds["access_key"], creds["secret_key"], creds["session_token"]), "s3", region)
        auth.add_auth(request)
        sent = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        vectors.append(describe(name, "direct", creds, region, method, url, sent, body, None, list(params) or None))
    return vectors


def main():
    with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN):
        vectors = client_vectors() + direct_vectors()
    json.dump({
        "generator": "Tests/Vectors/sigv4/generate-sigv4-vectors.py",
        "botocore": botocore.__version__,
        "vectors": vectors,
    }, sys.stdout, indent=2, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
