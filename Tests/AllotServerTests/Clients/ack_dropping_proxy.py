#!/usr/bin/env python3
"""An HTTP/1.1 proxy in front of an S3 server that loses the store's answer to PUTs.

Usage: ack_dropping_proxy.py LISTEN_PORT UPSTREAM_PORT DROPS

Every request is forwarded to 127.0.0.1:UPSTREAM_PORT. For the first DROPS PUTs of each path the
upstream's answer is read (so the object *is* written) and then thrown away: the client's
connection is closed without a reply, as when an acknowledgement is lost on the way back. Other
answers are relayed as they are. Prints "ready" once listening; a line per dropped answer.
"""
import socket
import sys
import threading

drops_per_path = {}
lock = threading.Lock()


def read_message(stream, has_body=True):
    """Reads one HTTP/1.1 message (head and Content-Length body, none for an answer to HEAD); None
    at a clean end of stream."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = stream.recv(1)
        if not chunk:
            return None
        head += chunk
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if not has_body:
        length = 0
    body = b""
    while len(body) < length:
        chunk = stream.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return head, body


def serve(client, upstream_port, limit):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    try:
        while True:
            request = read_message(client)
            if request is None:
                return
            head, body = request
            method, path = head.split(b" ")[0], head.split(b" ")[1]
            upstream.sendall(head + body)
            response = read_message(upstream, has_body=method != b"HEAD")
            if response is None:
                return
            if method == b"PUT":
                with lock:
                    seen = drops_per_path.get(path, 0)
                    drops_per_path[path] = seen + 1
                if seen < limit:
                    print(f"dropped the answer to PUT {path.decode()}", flush=True)
                    return
            client.sendall(response[0] + response[1])
    except OSError:
        pass
    finally:
        client.close()
        upstream.close()


def main():
    listen_port, upstream_port, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=serve, args=(client, upstream_port, limit), daemon=True).start()


if __name__ == "__main__":
    main()
