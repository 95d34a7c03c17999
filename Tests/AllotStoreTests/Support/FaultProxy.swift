import AllotTestSupport
import Foundation

/// A small HTTP server in Python that stands in front of a region and injects failures:
/// `.alwaysFail` answers every request with `500 InternalError`; `.failFirst(n)` fails the first
/// `n` requests and forwards the rest to the upstream moto server; `.hang` never answers.
/// `GET /__stats` returns the counts.
final class FaultProxy: @unchecked Sendable {
    enum Mode {
        case alwaysFail
        case failFirst(Int)
        /// Accept requests and never answer.
        case hang
    }

    let child: ChildProcess
    var endpoint: String { "http://127.0.0.1:\(child.port)" }

    static func start(_ mode: Mode, upstream: Int? = nil) async throws -> FaultProxy {
        let (modeName, failures): (String, Int) = {
            switch mode {
            case .alwaysFail: return ("fail", 0)
            case .failFirst(let count): return ("flaky", count)
            case .hang: return ("hang", 0)
            }
        }()
        let child = try await ChildProcess.start(
            name: "fault-proxy", executable: Moto.python,
            arguments: { ["-c", script, "\($0)", modeName, "\(failures)", "\(upstream ?? 0)"] })
        return FaultProxy(child: child)
    }

    private init(child: ChildProcess) { self.child = child }

    /// (requests seen, requests failed), excluding the stats requests themselves.
    func stats() async throws -> (requests: Int, failed: Int) {
        let text = try await ChildProcess.run(
            Moto.python,
            ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())", endpoint + "/__stats"])
        let numbers = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return (numbers[0], numbers[1])
    }

    static let script = """
        import http.client, http.server, json, sys, threading, time
        port, mode, failures, upstream = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        lock = threading.Lock()
        counts = {"requests": 0, "failed": 0}
        HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, headers, body, length=None):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.close_connection = True

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == "/__stats":
                    return self.reply(200, [], json.dumps(counts).encode())
                with lock:
                    counts["requests"] += 1
                    fail = mode == "fail" or counts["requests"] <= failures
                    if fail:
                        counts["failed"] += 1
                if mode == "hang":
                    time.sleep(3600)
                if fail:
                    return self.reply(500, [("Content-Type", "application/xml")],
                                      b"<Error><Code>InternalError</Code><Message>injected failure</Message></Error>")
                connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "expect")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP]
                declared = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.reply(response.status, kept, data, int(declared) if declared is not None else None)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_any

        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """
}
