import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// Every directory under `Golden/diagnostics` is a malformed project; `expected.txt` holds the
/// exact rendered diagnostics (file:line:column, source line, caret, hint). Run with
/// `ALLOT_UPDATE_GOLDENS=1` to rewrite them after an intended change, then review the diff.
struct DiagnosticGoldenTests {
    static let directory = Repository.root.appendingPathComponent("Tests/AllotCompilerTests/Golden/diagnostics")

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    static func render(_ name: String) throws -> (text: String, diagnostics: [Diagnostic]) {
        let caseDirectory = directory.appendingPathComponent(name)
        let files = try FileManager.default.contentsOfDirectory(atPath: caseDirectory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        let sources = try files.map { file in
            SourceFile(
                path: "experiments/\(file)", text: try String(contentsOf: caseDirectory.appendingPathComponent(file), encoding: .utf8))
        }
        switch Compiler.compile(files: sources, lock: AllocationLock(), version: 1, createdAt: 0) {
        case .success:
            return ("(compiled without errors)\n", [])
        case .failure(let failure):
            return (failure.rendered + "\n", failure.diagnostics)
        }
    }

    @Test func thereAreAtLeastThirtyDistinctCases() {
        #expect(Self.cases.count >= 30)
    }

    @Test(arguments: cases)
    func diagnosticsMatchGolden(_ name: String) throws {
        let (text, diagnostics) = try Self.render(name)
        #expect(!diagnostics.isEmpty, "\(name) compiled; every golden case must fail")
        #expect(diagnostics.allSatisfy { $0.location != nil }, "\(name): every diagnostic needs a location")
        #expect(diagnostics.contains { $0.severity == .error })
        let expectedURL = Self.directory.appendingPathComponent(name).appendingPathComponent("expected.txt")
        if ProcessInfo.processInfo.environment["ALLOT_UPDATE_GOLDENS"] == "1" {
            try text.write(to: expectedURL, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(text == expected, "\(name): rendered diagnostics differ from expected.txt")
    }
}
