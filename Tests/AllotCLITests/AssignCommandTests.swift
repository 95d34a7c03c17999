import AllotCore
import AllotTestSupport
import Foundation
import Testing

@Suite(.serialized)
struct AssignCommandTests {
    struct Prepared {
        var directory: URL
        var bundle: String
        var publicKey: String
    }

    static func prepare() async throws -> Prepared {
        let directory = try CLI.temporaryDirectory()
        try CLI.copySamples(to: directory)
        try await CLI.run(["keygen", "--out", directory.appendingPathComponent("keys").path])
        let result = try await CLI.run(
            ["compile", "--version", "5", "--created-at", "0", "--signing-key", "keys/signing.key", "--output", "s.bundle"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        return Prepared(
            directory: directory, bundle: directory.appendingPathComponent("s.bundle").path,
            publicKey: directory.appendingPathComponent("keys/signing.pub").path)
    }

    @Test func singleAssignmentMatchesTheLibrary() async throws {
        let p = try await Self.prepare()
        defer { try? FileManager.default.removeItem(at: p.directory) }
        let bundle = try LoadedBundle.load(
            path: p.bundle, trustedKeys: [try PublicKey(text: String(contentsOfFile: p.publicKey, encoding: .utf8))])
        for user in ["alice", "bob", "qa-user-1", "user-000007", "zed"] {
            let result = try await CLI.run([
                "assign", "--bundle", p.bundle, "--trusted-key", p.publicKey, "--unit", "user_id=\(user)", "--unit", "device_id=d-\(user)",
                "--attr", "country=US", "--attr", "app_version=5.3.0", "--attr", "platform=ios", "--at", "1796083200", "--json",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let expected = try bundle.answerJSON(
                units: ["user_id": user, "device_id": "d-\(user)"],
                attributes: ["country": "US", "app_version": "5.3.0", "platform": "ios"],
                now: 1_796_083_200)
            #expect(result.stdout.trimmingCharacters(in: .newlines) == expected)
        }
    }

    @Test func badAttributesAreRefused() async throws {
        let p = try await Self.prepare()
        defer { try? FileManager.default.removeItem(at: p.directory) }
        let result = try await CLI.run([
            "assign", "--bundle", p.bundle, "--trusted-key", p.publicKey, "--unit", "user_id=u1", "--attr", "account_age_days=old",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("account_age_days"))
    }

    @Test func batchWritesOneAnswerPerLineInOrder() async throws {
        let p = try await Self.prepare()
        defer { try? FileManager.default.removeItem(at: p.directory) }
        var lines: [String] = []
        for i in 0..<5_000 {
            if i == 1234 {
                lines.append(#"{"units":{"user_id":""},"attributes":{"account_age_days":"many"}}"#)
            } else if i == 2345 {
                lines.append(#"{"units":{"user_id":"user-2345"},"attributes":{"country":"US","platform":"web","account_age_days":"many"}}"#)
            } else if i == 4000 {
                lines.append("{not json")
            } else {
                lines.append(#"{"units":{"user_id":"user-\#(i)"},"attributes":{"country":"US","platform":"web"},"id":\#(i)}"#)
            }
        }
        let result = try await CLI.run(
            ["assign", "--bundle", p.bundle, "--trusted-key", p.publicKey, "--batch", "-", "--at", "1796083200"],
            stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 2, "two lines are bad")
        #expect(result.stderr.contains("2 of 5000"))
        let output = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(output.count == 5_000)
        #expect(output[1234].hasPrefix(#"{"error":{"code":"bad_unit""#) && output[1234].contains(#""line":1235"#))
        #expect(output[4000].hasPrefix(#"{"error":{"code":"malformed_json""#))
        // A wrongly typed attribute is ignored, not an error; the answer names it.
        #expect(output[2345].hasSuffix(#","ignored_attributes":[{"name":"account_age_days","reason":"expected a number"}]}"#))
        let single = try await CLI.run([
            "assign", "--bundle", p.bundle, "--trusted-key", p.publicKey, "--unit", "user_id=user-77", "--attr", "country=US", "--attr",
            "platform=web",
            "--at", "1796083200", "--json",
        ])
        #expect(String(output[77]) == single.stdout.trimmingCharacters(in: .newlines))
    }

    /// Answered on one thread or several, a batch gives the same bytes: answers, error lines with
    /// their line numbers, the summary and the exit status.
    @Test func batchOutputIsTheSameForAnyNumberOfThreads() async throws {
        let p = try await Self.prepare()
        defer { try? FileManager.default.removeItem(at: p.directory) }
        var random = SeededRandom(seed: 19)
        var text = ""
        for i in 0..<15_000 {
            switch random.next() % 50 {
            case 0: text += "{not json\n"
            case 1: text += #"{"units":{"user_id":""}}"# + "\n"
            case 2: text += " \t\r\n"
            case 3: text += #"{"units":{"user_id":"u-\#(i)"},"attributes":{"account_age_days":"many"}}"# + "\r\n"
            default:
                text +=
                    #"{"units":{"user_id":"user-\#(i)","device_id":"d-\#(i)"},"attributes":{"country":"\#(random.pick(["US", "CA", "DE"]))","platform":"web","app_version":"5.\#(i % 9).0"}}"#
                text += "\n"
            }
        }
        text += "{not json at the end, unterminated"
        let input = p.directory.appendingPathComponent("requests.ndjson")
        try Data(text.utf8).write(to: input)
        var results: [CLI.Result] = []
        for threads in [["--threads", "1"], ["--threads", "2"], ["--threads", "5"], []] {
            results.append(
                try await CLI.run(
                    ["assign", "--bundle", p.bundle, "--trusted-key", p.publicKey, "--batch", input.path, "--at", "1796083200"] + threads))
        }
        let lines = results[0].stdout.split(separator: "\n")
        #expect(results[0].status == 2)
        #expect(lines.count > 14_000)
        #expect(lines.last?.hasPrefix(#"{"error":{"code":"malformed_json""#) == true && lines.last?.hasSuffix(#""line":15001}}"#) == true)
        for result in results.dropFirst() {
            #expect(result.status == results[0].status)
            #expect(result.stdout == results[0].stdout)
            #expect(result.stderr == results[0].stderr)
        }
    }

    @Test func verifyAndInspectRejectTamperedBundles() async throws {
        let p = try await Self.prepare()
        defer { try? FileManager.default.removeItem(at: p.directory) }
        let inspect = try await CLI.run(["inspect", p.bundle, "--trusted-key", p.publicKey, "--json"])
        #expect(inspect.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect((object?["experiments"] as? [Any])?.count == 11)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: p.bundle))
        bytes[bytes.count / 2] ^= 0x40
        let tampered = p.directory.appendingPathComponent("tampered.bundle")
        try bytes.write(to: tampered)
        let verify = try await CLI.run(["verify", tampered.path, "--trusted-key", p.publicKey])
        #expect(verify.status == 2)
        #expect(verify.stderr.contains("bad_signature"))
        let other = p.directory.appendingPathComponent("other")
        try await CLI.run(["keygen", "--out", other.path])
        let untrusted = try await CLI.run(["verify", p.bundle, "--trusted-key", other.appendingPathComponent("signing.pub").path])
        #expect(untrusted.status == 2 && untrusted.stderr.contains("untrusted_key"))
    }
}
