import AllotTestSupport
import Foundation
import Testing

/// The README's quick start, literally: `scripts/quickstart` in a fresh clone, up to a served
/// answer, then stopped. The build step is skipped (`ALLOT_BINARY` names the allot the suite
/// built: building again from nothing would take minutes, and CI's own clean build covers it);
/// everything else runs as a new user would see it, including the `curl` lines it prints.
@Suite(.serialized)
struct QuickstartTests {
    @Test func quickstartServesAnAnswer() async throws {
        let clone = try await FreshClone.make("quickstart", paths: ["scripts", "experiments"])
        defer { clone.remove() }
        // /usr/bin/env execs the script and the script execs `allot serve`: one process id, whose
        // listening socket the helper waits for.
        let server = try await ChildProcess.start(
            name: "quickstart", executable: "/usr/bin/env", arguments: { ["ALLOT_LISTEN=127.0.0.1:\($0)", "scripts/quickstart"] },
            environment: ["PWD": clone.path, "ALLOT_BINARY": AllotBinary.path], timeout: 180)
        defer { server.kill() }
        let log = server.log
        #expect(log.contains("compiled 4 layers, 11 experiments"), "\(log)")
        #expect(log.contains("== user_id=alice"), "\(log)")
        #expect(log.contains("published to 1 of 1 region"), "\(log)")

        // As the banner says: wait for "bundle swapped in" (requests before it get 503 not_ready;
        // on a loaded machine verifying the first bundle can take longer than the curl below).
        #expect(log.contains("Once the server logs \"bundle swapped in\""), "\(log)")
        let deadline = Date().addingTimeInterval(60)
        while !server.log.contains("] bundle swapped in"), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(server.log.contains("] bundle swapped in"), "\(server.log)")

        // The curl lines it prints, as printed (curl fails on an HTTP error status).
        let curls = log.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("curl ") }
        #expect(curls.count >= 6, "\(log)")
        for line in curls {
            let script = "curl() { command curl --silent --show-error --fail-with-body --max-time 30 \"$@\"; }\n\(line)\n"
            let result = try await runProcess("/bin/bash", ["-c", script], directory: clone.path)
            #expect(result.status == 0, "\(line): \(result.output)")
            if line.contains("/v1/assign?user_id=alice") {
                #expect(result.stdout.hasPrefix("{\"version\":"), "\(result.stdout)")
                #expect(result.stdout.contains("\"assignments\""), "\(result.stdout)")
            }
        }
        #expect(try await server.terminate(signal: SIGTERM) == 0, "\(server.log)")
    }
}
