#!/usr/bin/env python3
"""A delaying TCP proxy: the network between the drill's simulated regions.

This machine's kernel has no `sch_netem` (`tc qdisc add ... netem` fails with "Specified qdisc
kind is unknown"), so inter-region latency is added in user space instead. Every path from a
client location (an edge server's region, or the publisher's) to a region's object store is one
route: a loopback port that forwards to the store and delays every byte by the route's one-way
latency, in each direction. A new connection also waits one round trip before its first byte is
forwarded, standing for the TCP handshake a real long-distance connection pays (the handshake to
this proxy is on loopback and instant). Bandwidth is not limited; ordering is preserved.

Each route can be switched at run time, for failure drills:

- `pass`: forward with the delay (the default).
- `refuse`: open connections on the route are reset, new ones are accepted and reset at once (the
  client sees a connection reset: the store's endpoint is down).
- `blackhole`: open connections stop forwarding, new ones are accepted and never answered (a
  partition: the client only learns it from its own timeout).
- `drip`: the store's answers reach the client one byte a second, on open connections and new
  ones (a slow-retrieval attack, or a dying link: only a minimum transfer speed ends it).

Usage:
    latency_proxy.py CONFIG.json

CONFIG is `{"control_port": P, "routes": [{"name": "eu-west-1>us-east-1", "listen": 0,
"upstream": 9001, "delay_ms": 40}, ...]}`; `listen: 0` picks a free port. Once every route
listens, one JSON line is printed on standard output: `{"control_port": P, "routes": {name: port}}`.

Control: connect to the control port, send one line, read one JSON line back:
    mode ROUTE pass|refuse|blackhole|drip (ROUTE may be a glob such as `*>eu-west-1`)
    stats                                 connections and bytes per route
"""

import asyncio
import fnmatch
import json
import signal
import socket
import struct
import sys
import time

MODES = ("pass", "refuse", "blackhole", "drip")


def reset(writer):
    """Closes a connection with a TCP reset (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Route:
    def __init__(self, name, upstream, delay_ms):
        self.name = name
        self.upstream = upstream
        self.delay = delay_ms / 1000.0
        self.mode = "pass"
        self.connections = set()
        self.stats = {"connections": 0, "refused": 0, "blackholed": 0, "bytes_up": 0, "bytes_down": 0}

    def set_mode(self, mode):
        self.mode = mode
        if mode in ("pass", "drip"):
            return
        for connection in list(self.connections):
            connection.cut(mode)

    async def handle(self, reader, writer):
        self.stats["connections"] += 1
        if self.mode == "refuse":
            self.stats["refused"] += 1
            reset(writer)
            return
        if self.mode == "blackhole":
            self.stats["blackholed"] += 1
            await Connection.swallow(reader, writer)
            return
        connection = Connection(self, reader, writer)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)


class Connection:
    """One proxied connection: two delayed pumps, client to store and store to client."""

    def __init__(self, route, reader, writer):
        self.route = route
        self.client_reader = reader
        self.client_writer = writer
        self.upstream_writer = None
        self.tasks = []
        self.blackholed = False

    @staticmethod
    async def swallow(reader, writer):
        """Reads and drops everything until the client gives up."""
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    def cut(self, mode):
        if mode == "refuse":
            reset(self.client_writer)
            if self.upstream_writer is not None:
                self.upstream_writer.transport.abort()
            for task in self.tasks:
                task.cancel()
        else:
            self.blackholed = True

    async def run(self):
        route = self.route
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", route.upstream)
        except OSError:
            # The store itself is down: the client sees its connection reset.
            reset(self.client_writer)
            return
        self.upstream_writer = upstream_writer
        # The handshake a real connection over this distance would have paid: one round trip.
        handshake_done = time.monotonic() + 2 * route.delay
        up = asyncio.create_task(self.pump(self.client_reader, upstream_writer, "bytes_up", handshake_done))
        down = asyncio.create_task(self.pump(upstream_reader, self.client_writer, "bytes_down", 0.0))
        self.tasks = [up, down]
        try:
            # Either side may close its half first (the other keeps going); an error on either
            # side (a reset, a cut) ends both.
            done, pending = await asyncio.wait([up, down], return_when=asyncio.FIRST_EXCEPTION)
            if any(task.cancelled() or task.exception() is not None for task in done):
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for writer in (upstream_writer, self.client_writer):
                writer.transport.abort()

    async def pump(self, reader, writer, counter, not_before):
        """Forwards reader to writer, each chunk delivered `delay` after it arrived (in order)."""
        queue = asyncio.Queue()
        delay = self.route.delay

        async def deliver():
            while True:
                due, chunk = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.blackholed:
                    continue
                if chunk is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                if counter == "bytes_down" and self.route.mode == "drip":
                    for index in range(len(chunk)):
                        if self.route.mode != "drip":
                            writer.write(chunk[index:])
                            break
                        writer.write(chunk[index:index + 1])
                        await writer.drain()
                        await asyncio.sleep(1)
                    continue
                writer.write(chunk)
                await writer.drain()

        delivery = asyncio.create_task(deliver())
        try:
            while True:
                chunk = await reader.read(65536)
                due = max(time.monotonic(), not_before) + delay
                if not chunk:
                    queue.put_nowait((due, None))
                    break
                self.route.stats[counter] += len(chunk)
                queue.put_nowait((due, chunk))
            await delivery
        except (ConnectionError, OSError, asyncio.CancelledError):
            delivery.cancel()
            raise


async def control(routes, reader, writer):
    try:
        line = (await reader.readline()).decode().strip()
        words = line.split()
        if words[:1] == ["mode"] and len(words) == 3 and words[2] in MODES:
            matched = [r for r in routes.values() if fnmatch.fnmatchcase(r.name, words[1])]
            for route in matched:
                route.set_mode(words[2])
            answer = {"ok": bool(matched), "routes": sorted(r.name for r in matched), "mode": words[2]}
        elif words == ["stats"]:
            answer = {"ok": True, "routes": {r.name: dict(r.stats, mode=r.mode, delay_ms=r.delay * 1000) for r in routes.values()}}
        else:
            answer = {"ok": False, "error": "expected 'mode ROUTE pass|refuse|blackhole|drip' or 'stats', got %r" % line}
        writer.write((json.dumps(answer) + "\n").encode())
        await writer.drain()
    finally:
        writer.close()


async def main(config_path):
    with open(config_path) as handle:
        config = json.load(handle)
    routes = {}
    ports = {}
    for spec in config["routes"]:
        route = Route(spec["name"], int(spec["upstream"]), float(spec["delay_ms"]))
        routes[route.name] = route
        server = await asyncio.start_server(route.handle, "127.0.0.1", int(spec.get("listen", 0)), backlog=512)
        ports[route.name] = server.sockets[0].getsockname()[1]
    control_server = await asyncio.start_server(
        lambda r, w: control(routes, r, w), "127.0.0.1", int(config.get("control_port", 0)))
    control_port = control_server.sockets[0].getsockname()[1]
    print(json.dumps({"control_port": control_port, "routes": ports}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])  # whatever the parent blocked, SIGTERM stops the proxy
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
