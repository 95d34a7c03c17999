#!/usr/bin/env python3
"""Writes the seed corpus of scripts/fuzz-http-parser into Tests/Fuzz/http-corpus.

Seeds are the hostile-client cases of Tests/AllotHTTPTests (ProtocolErrorTests, HostileClientTests)
and well-formed requests and chunked bodies. Each file is one fuzzer input: a first byte whose low
bit picks the target (0 head, 1 chunked body) and whose other bits pick where the input is split
in two reads, then the bytes. Run it again after adding cases: python3 Tests/Fuzz/http_corpus.py
"""
import hashlib
import os

HEADS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/assign?user_id=u1&country=US&tags=a,b HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n",
    b"POST /v1/assign HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    b"GET http://host/p?q=1 HTTP/1.1\r\nHost: host\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /\r\nHost: x\r\n\r\n",
    b"GET / http/1.1\r\nHost: x\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a b/c@d\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a%zzb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: example.com:80:81\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(40)) + b"\r\n",
]

BODIES = [
    b"3\r\nabc\r\n0\r\n\r\n",
    b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    b"1;name=value\r\na\r\n2 ; x\r\nbc\r\n0\r\nX-Checksum: 1234\r\nX-Empty:\r\n\r\n",
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"FFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n",
    b"2\r\nabc\r\n0\r\n\r\n",
    b"3\nabc\r\n0\r\n\r\n",
    b"1\r\na\r\n0\r\nX-Trailer\r\n\r\n",
    b"1\r\na\r\n0\r\nX-Trailer : 1\r\n\r\n",
    b"1\r\na\r\n0\r\nX-Trailer: 1\x012\r\n\r\n",
    b"1\r\na\r\n0\r\nX-Trailer: 1\r2\r\n\r\n",
    b"1\r\na\r\n0\r\nX-Trailer: 1\r\n 2\r\n\r\n",
    b"400\r\n" + b"a" * 1024 + b"\r\n0\r\n\r\n",
]


def main():
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http-corpus")
    os.makedirs(folder, exist_ok=True)
    for target, seeds in ((0, HEADS), (1, BODIES)):
        for seed in seeds:
            for split in (0, len(seed) // 2, len(seed) - 1):
                data = bytes([((split % 128) << 1) | target]) + seed
                name = ("head-" if target == 0 else "chunked-") + hashlib.sha1(data).hexdigest()[:12]
                with open(os.path.join(folder, name), "wb") as file:
                    file.write(data)


if __name__ == "__main__":
    main()
