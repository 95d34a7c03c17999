import AllotTestSupport
import Foundation
import Testing

/// Counts agree with their nouns: every command run where its counts are 1.
struct PluralTests {
    static let project = """
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
        ---
        kind: Experiment
        name: idle
        layer: checkout
        owner: o@example.com
        status: running
        traffic: 0%
        variants:
          - { name: only, weight: 100%, params: { color: red } }

        """

    @Test func oneOfEverything() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let experiments = directory.appendingPathComponent("experiments")
        try FileManager.default.createDirectory(at: experiments, withIntermediateDirectories: true)
        try Self.project.write(to: experiments.appendingPathComponent("main.yaml"), atomically: true, encoding: .utf8)
        try "{not json\n".write(to: directory.appendingPathComponent("one.ndjson"), atomically: true, encoding: .utf8)
        let keys = try await CompileCommandTests.keys(in: directory)
        var outputs: [String] = []
        func run(_ arguments: [String]) async throws -> ProcessResult {
            let result = try await CLI.run(arguments, in: directory)
            outputs.append("$ allot \(arguments.joined(separator: " "))\n\(result.output)")
            return result
        }
        #expect(try await run(["compile", "--check"]).stdout.contains("ok: 1 layer, 1 experiment;"))
        #expect(
            try await run(["compile", "--signing-key", keys.secret, "--version", "1", "--created-at", "0", "--output", "b.bundle"]).status
                == 0)
        #expect(try await run(["lint"]).stderr.contains("1 warning\n"))
        #expect(
            try await run(["publish", "b.bundle", "--store", "region", "--signing-key", keys.secret]).stdout.contains(
                "published to 1 of 1 region"))
        #expect(try await run(["status", "--store", "region", "--trusted-key", keys.public]).stdout.contains("the region is current"))
        #expect(try await run(["assign", "--bundle", "b.bundle", "--trusted-key", keys.public, "--batch", "one.ndjson"]).status == 2)
        try Self.project.replacingOccurrences(of: "traffic: 0%", with: "traffic: 0").write(
            to: experiments.appendingPathComponent("main.yaml"), atomically: true, encoding: .utf8)
        #expect(try await run(["compile", "--check"]).stderr.contains("error: 1 error;"))
        let text = outputs.joined(separator: "\n")
        let wrong = try Regex(#"\b1 (layer|experiment|warning|error|region|request|bucket|unit|variant)s\b"#)
        #expect(text.firstMatch(of: wrong) == nil, "\(text)")
    }
}
