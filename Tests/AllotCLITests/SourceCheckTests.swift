import AllotTestSupport
import Foundation
import Testing

/// `scripts/check-sources`, which `scripts/test` runs: the sources pass, and a type that is
/// `@unchecked Sendable` without a reason is refused, naming file and line.
struct SourceCheckTests {
    static let script = Repository.root.appendingPathComponent("scripts/check-sources").path

    @Test func theSourcesPass() async throws {
        let result = try await ChildProcess.runStatus(Self.script, [])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func uncheckedSendableNeedsItsReason() async throws {
        let folder = Scratch.folder("check-sources")
        defer { Scratch.remove(folder) }
        let cases = [
            ("Bare.swift", "/// A cache.\nfinal class Cache: @unchecked Sendable {\n    var x = 0\n}\n", false),
            (
                "Body.swift",
                "final class Cache: @unchecked Sendable {\n    // @unchecked: `x` is written only in init.\n    let x = 0\n}\n", true
            ),
            (
                "Doc.swift",
                "/// Immutable, so `Sendable` though it holds a pointer.\n@usableFromInline\nstruct View: @unchecked Sendable {\n}\n", true
            ),
            ("Mention.swift", "// This file has no @unchecked Sendable type.\nlet x = 1\n", true),
        ]
        for (name, text, passes) in cases {
            let directory = folder + "/" + name.dropLast(6)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            let result = try await ChildProcess.runStatus(Self.script, [directory])
            #expect((result.status == 0) == passes, "\(name): \(result.output)")
            if !passes { #expect(result.output.contains("\(name):2: @unchecked Sendable without its reason")) }
        }
    }
}
