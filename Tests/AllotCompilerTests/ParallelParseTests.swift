import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// The compiler parses files on several threads: the payload, the lock, the warnings and every
/// diagnostic (text and order) must be what one thread gives, run after run.
struct ParallelParseTests {
    /// A project of `layers` layer files with `perLayer` experiments each (a third targeted, two
    /// or three variants), the shape of the compile benchmark.
    static func project(layers: Int, perLayer: Int) -> [SourceFile] {
        var files = [
            SourceFile(
                path: "p/attributes.yaml",
                text: "kind: Attributes\nattributes:\n  country: { type: string, values: [US, CA, GB] }\n  app_version: semver\n")
        ]
        let share = 10_000 / perLayer
        for layer in 0..<layers {
            var text = "kind: Layer\nname: layer-\(layer)\nunit: \(layer % 3 == 0 ? "device_id" : "user_id")\nparams:\n"
            text += "  p\(layer)_color: { type: string, default: blue }\n  p\(layer)_size: { type: number, default: 10 }\n"
            for e in 0..<perLayer {
                text +=
                    "---\nkind: Experiment\nname: exp-\(layer)-\(e)\nlayer: layer-\(layer)\nowner: team-\(e % 5)@example.com\nstatus: running\n"
                text += "traffic: \(share / 100).\(share % 100 < 10 ? "0" : "")\(share % 100)%\n"
                if e % 3 == 0 { text += "targeting: country in [\"US\", \"CA\"] && app_version >= \"5.\(e % 4).0\"\n" }
                if e % 2 == 0 {
                    text +=
                        "variants:\n  - { name: control, weight: 50% }\n  - { name: red, weight: 50%, params: { p\(layer)_color: red } }\n"
                } else {
                    text +=
                        "variants:\n  - { name: control, weight: 34% }\n  - { name: small, weight: 33%, params: { p\(layer)_size: 12 } }\n"
                    text += "  - { name: large, weight: 33%, params: { p\(layer)_size: 20 } }\n"
                }
            }
            files.append(SourceFile(path: "p/layer-\(String(format: "%03d", layer)).yaml", text: text))
        }
        return files
    }

    /// Every golden diagnostics case's files in one project, each under its case's folder: dozens
    /// of files with errors of every kind (YAML, shapes, references across files, duplicates).
    static func brokenProject() throws -> [SourceFile] {
        let root = DiagnosticGoldenTests.directory
        var files: [SourceFile] = []
        for name in DiagnosticGoldenTests.cases {
            let folder = root.appendingPathComponent(name)
            for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).filter({ $0.hasSuffix(".yaml") }).sorted() {
                files.append(
                    SourceFile(
                        path: "experiments/\(name)/\(file)",
                        text: try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)))
            }
        }
        return files
    }

    @Test func aLargeProjectCompilesToTheSameBytesOnAnyNumberOfThreads() async throws {
        let files = Self.project(layers: 60, perLayer: 25)
        let outputs = try await onThread {
            try [1, 2, 3, 8, 2, 64].map { threads in
                try Compiler.compile(files: files, lock: AllocationLock(), version: 7, createdAt: 0, threads: threads).get()
            }
        }
        let first = outputs[0]
        #expect(first.project.experiments.count == 60 * 25)
        for output in outputs.dropFirst() {
            #expect(output.payload == first.payload)
            #expect(output.lock.text == first.lock.text)
            #expect(output.warnings == first.warnings)
        }
    }

    @Test func diagnosticsComeInTheSameOrderOnAnyNumberOfThreads() async throws {
        let files = try Self.brokenProject()
        #expect(files.count >= 30)
        let failures = try await onThread {
            [1, 2, 4, 16, 3, 2].map { threads -> Compiler.Failure? in
                if case .failure(let failure) = Compiler.compile(
                    files: files, lock: AllocationLock(), version: 1, createdAt: 0, threads: threads)
                {
                    return failure
                }
                return nil
            }
        }
        let first = try #require(failures[0])
        #expect(first.diagnostics.count >= 30, "errors from many files")
        #expect(Set(first.diagnostics.compactMap(\.location?.file)).count >= 20)
        for failure in failures.dropFirst() {
            let failure = try #require(failure)
            #expect(failure.diagnostics == first.diagnostics)
            #expect(failure.rendered == first.rendered)
        }
    }

    /// The whole path of `allot compile`: files read from a directory (one not UTF-8), a lock on
    /// disk, an id file read while parsing.
    @Test func aDirectoryCompilesTheSameOnAnyNumberOfThreads() async throws {
        let folder = Scratch.folder("parallel-parse")
        defer { Scratch.remove(folder) }
        for file in Self.project(layers: 12, perLayer: 10) {
            let path = folder + "/" + file.path.dropFirst(2)
            try file.text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try "kind: Segment\nname: beta\nunit: user_id\nidsFile: beta.txt\n".write(
            toFile: folder + "/segment.yaml", atomically: true, encoding: .utf8)
        try "u1\nu2\n".write(toFile: folder + "/beta.txt", atomically: true, encoding: .utf8)
        let good = try await onThread {
            try [1, 2, 5].map { try Compiler.compile(directory: folder, version: 1, createdAt: 0, threads: $0).get() }
        }
        for output in good.dropFirst() {
            #expect(output.payload == good[0].payload)
            #expect(output.lock.text == good[0].lock.text)
        }
        try good[0].lock.text.write(toFile: folder + "/allot.lock", atomically: true, encoding: .utf8)
        try Data([0x6b, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0xff, 0x0a]).write(to: URL(fileURLWithPath: folder + "/latin1.yaml"))
        try "kind: Segment\nname: gamma\nunit: user_id\nidsFile: missing.txt\n".write(
            toFile: folder + "/segment2.yaml", atomically: true, encoding: .utf8)
        let bad = try await onThread {
            [1, 2, 5].map { threads -> String? in
                if case .failure(let failure) = Compiler.compile(directory: folder, version: 2, createdAt: 0, threads: threads) {
                    return failure.rendered
                }
                return nil
            }
        }
        let rendered = try #require(bad[0])
        #expect(rendered.contains("latin1.yaml") && rendered.contains("missing.txt"))
        #expect(bad.allSatisfy { $0 == rendered })
        // A lock that does not parse (it is read alongside the files): its errors alone, the same way.
        try "version: 1\nlayers:\n  - [\n".write(toFile: folder + "/allot.lock", atomically: true, encoding: .utf8)
        let badLock = try await onThread {
            [1, 2, 5].map { threads -> String? in
                if case .failure(let failure) = Compiler.compile(directory: folder, version: 2, createdAt: 0, threads: threads) {
                    return failure.rendered
                }
                return nil
            }
        }
        let lockRendered = try #require(badLock[0])
        #expect(lockRendered.contains("allot.lock") && !lockRendered.contains("missing.txt"))
        #expect(badLock.allSatisfy { $0 == lockRendered })
    }
}
