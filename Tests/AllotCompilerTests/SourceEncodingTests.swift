import AllotTestSupport
import Foundation
import Testing

@testable import AllotCompiler

/// Files that are not UTF-8: an error at the first bad byte (line, column, offset), and every
/// other error in the project is still reported.
struct SourceEncodingTests {
    /// The sample experiments with one file re-encoded and another file broken.
    static func project(encode file: String, as encoding: String.Encoding, mark: Bool = false, edit: (String) -> String = { $0 }) throws
        -> String
    {
        let folder = Scratch.folder("encoding")
        try FileManager.default.copyItem(
            atPath: Repository.root.appendingPathComponent("experiments").path, toPath: folder + "/experiments")
        let path = folder + "/experiments/" + file
        let text = edit(try String(contentsOfFile: path, encoding: .utf8))
        var data = text.data(using: encoding)!
        if mark { data = Data([0xEF, 0xBB, 0xBF]) + data }
        try data.write(to: URL(fileURLWithPath: path))
        // Another file with a plain mistake, which must still be reported.
        let other = folder + "/experiments/layers/onboarding.yaml"
        let otherText = try String(contentsOfFile: other, encoding: .utf8)
        try otherText.replacingOccurrences(of: "\ntraffic:", with: "\ntrafic:").write(toFile: other, atomically: true, encoding: .utf8)
        return folder + "/experiments"
    }

    static func diagnostics(_ directory: String) -> [Diagnostic] {
        switch Compiler.compile(directory: directory, version: 1, createdAt: 0) {
        case .success: return []
        case .failure(let failure): return failure.diagnostics
        }
    }

    @Test func latin1FileGetsTheBytePositionAndOtherErrorsStillShow() throws {
        let directory = try Self.project(encode: "layers/search.yaml", as: .isoLatin1) {
            $0.replacingOccurrences(of: "description: ", with: "description: Café ", options: [], range: $0.range(of: "description: "))
        }
        defer { Scratch.remove((directory as NSString).deletingLastPathComponent) }
        let found = Self.diagnostics(directory)
        let encoding = try #require(found.first { $0.message.contains("is not UTF-8") })
        let bytes = try #require(FileManager.default.contents(atPath: directory + "/layers/search.yaml"))
        let offset = try #require(bytes.firstIndex(of: 0xE9))
        #expect(encoding.message.hasPrefix("byte 0xE9 at offset \(offset) is not UTF-8"), "\(encoding.message)")
        let text = String(decoding: bytes, as: UTF8.self)
        let lineText = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).first { $0.contains("Caf") })
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex(of: lineText)! + 1
        #expect(encoding.location?.line == line)
        #expect(encoding.location?.column == "description: Caf".count + 1)
        #expect(encoding.hint?.contains("iconv") == true)
        #expect(found.contains { $0.message.contains("unknown key 'trafic'") }, "\(found)")
    }

    @Test(arguments: [(String.Encoding.utf16LittleEndian, "little"), (.utf16BigEndian, "big"), (.utf16, "")])
    func utf16FileIsNamedAsSuch(encoding: String.Encoding, endianness: String) throws {
        let directory = try Self.project(encode: "layers/search.yaml", as: encoding)
        defer { Scratch.remove((directory as NSString).deletingLastPathComponent) }
        let found = Self.diagnostics(directory)
        let message = try #require(found.first { $0.message.contains("UTF-16") }).message
        #expect(message.contains("this file is UTF-16 (\(endianness)"), "\(message)")
        #expect(found.contains { $0.message.contains("unknown key 'trafic'") })
        // Decoded anyway: its layer is known, so no experiment reports an unknown layer.
        #expect(!found.contains { $0.message.contains("unknown layer") }, "\(found)")
    }

    @Test func aUTF8ByteOrderMarkIsFine() throws {
        let directory = try Self.project(encode: "layers/search.yaml", as: .utf8, mark: true)
        defer { Scratch.remove((directory as NSString).deletingLastPathComponent) }
        let found = Self.diagnostics(directory)
        #expect(Set(found.map(\.message)) == ["unknown key 'trafic' in an Experiment"], "\(found)")
    }

    /// A file that never ends (here /dev/zero under a .yaml name) is refused after a bounded read.
    @Test func anEndlessFileIsRefusedNotRead() throws {
        let folder = Scratch.folder("endless")
        defer { Scratch.remove(folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/endless.yaml", withDestinationPath: "/dev/zero")
        let found = Self.diagnostics(folder)
        #expect(found.map(\.message) == ["this file is larger than 64 MiB"], "\(found)")
        #expect(found.first?.location?.file == folder + "/endless.yaml")
    }

    /// The validator against Python's UTF-8 decoder (an independent implementation) on random
    /// byte strings biased towards almost-valid sequences: the same verdict and the same offset.
    @Test func firstInvalidByteAgreesWithPython() async throws {
        var random = SeededRandom(seed: 0x5EED_0011)
        var samples: [[UInt8]] = []
        let pieces: [[UInt8]] = [
            [0x61], [0x0A], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xE9], [0xC0, 0x80], [0xED, 0xA0, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80], [0x80], [0xFF], [0xF0, 0x9F], [0xEF, 0xBF, 0xBF], [0xC2],
        ]
        for _ in 0..<600 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(random.next() % 12) { bytes += pieces[Int(random.next() % UInt64(pieces.count))] }
            samples.append(bytes)
        }
        let hex = samples.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n")
        let script = """
            import sys
            for line in sys.stdin.read().split("\\n"):
                try:
                    bytes.fromhex(line).decode("utf-8")
                    print("ok")
                except UnicodeDecodeError as error:
                    print(error.start)
            """
        let result = try await runProcess("/usr/bin/env", ["python3", "-c", script], stdin: Data(hex.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let verdicts = result.stdout.split(separator: "\n").map(String.init)
        #expect(verdicts.count == samples.count)
        for (bytes, verdict) in zip(samples, verdicts) {
            let ours = SourceDecoder.firstInvalidUTF8(bytes).map(String.init) ?? "ok"
            #expect(ours == verdict, "\(bytes.map { String(format: "%02x", $0) }.joined(separator: " "))")
        }
    }
}
