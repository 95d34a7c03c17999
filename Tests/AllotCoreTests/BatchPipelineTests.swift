import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// `BatchPipeline` (what `allot assign --batch` runs) against a plain line-by-line reference: the
/// same bytes for every number of threads, range size and read size, malformed lines included.
@Suite struct BatchPipelineTests {
    static let now: Int64 = 1_796_083_200

    static let bundle: LoadedBundle = {
        let directory = Repository.root.appendingPathComponent("experiments").path
        return try! Fixture.seal(Compiler.compile(directory: directory, version: 3, createdAt: 0), version: 3, createdAt: 0).bundle
    }()

    /// The answers as the sequential loop `allot assign --batch` used before it ran in parallel
    /// wrote them: split at newlines, skip blank lines, number every line.
    static func reference(_ input: [UInt8]) -> (output: [UInt8], counts: BatchAssigner.Counts) {
        var output: [UInt8] = []
        var request = EvaluationInput(for: bundle)
        var outcomes: [Outcome] = []
        var lineNumber = 0
        var failures = 0
        let pieces = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, piece) in pieces.enumerated() {
            let terminated = index < pieces.count - 1
            let blank = piece.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 }
            if blank {
                if terminated { lineNumber += 1 }
                continue
            }
            lineNumber += 1
            var line = Array(piece)
            if line.last == 13 { line.removeLast() }
            var failure: RequestError?
            line.withUnsafeBytes { bytes in
                do {
                    try request.setJSON(bytes, bundle: bundle)
                } catch {
                    failure = error as? RequestError ?? RequestError(.badRequest, "unexpected \(error)")
                }
            }
            if let failure {
                failures += 1
                let text = #"{"error":{"code":""# + failure.code.rawValue + #"","message":"# + JSONString.quoted(failure.message)
                output.append(contentsOf: (text + #","line":\#(lineNumber)}}"#).utf8)
            } else {
                bundle.evaluate(request, now: now, into: &outcomes)
                bundle.writeAnswer(outcomes, input: request, into: &output)
            }
            output.append(UInt8(ascii: "\n"))
        }
        return (output, BatchAssigner.Counts(lines: lineNumber, failures: failures))
    }

    /// Requests of every kind: good ones, wrongly typed attributes, malformed JSON, bad units,
    /// blank and whitespace lines, CRLF endings, extra members, long ids.
    static func input(lines: Int, seed: UInt64, finalNewline: Bool) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        var text = ""
        for i in 0..<lines {
            let country = random.pick(["US", "CA", "GB", "DE", "JP"])
            let platform = random.pick(["ios", "android", "web"])
            switch random.next() % 20 {
            case 0: text += "{not json"
            case 1: text += #"{"units":{"user_id":""},"attributes":{}}"#
            case 2: text += ""
            case 3: text += " \t \r"
            case 4: text += #"{"units":{"user_id":"u-\#(i)"},"attributes":{"account_age_days":"many","country":"\#(country)"}}"# + "\r"
            case 5: text += #"{"units":{"user_id":"\#(String(repeating: "x", count: 600))"}}"#
            case 6: text += #"{"units":{"device_id":"d-\#(i)"},"attributes":{"platform":"\#(platform)"},"id":\#(i)}"#
            case 7: text += #"{"units":{"user_id":"u-\#(i)"},"attributes":{"country":"\#(country)"}"#
            case 8: text += #"  {"units":{"user_id":"é-\#(i)"}}  "#
            default:
                text +=
                    #"{"units":{"user_id":"user-\#(i)","device_id":"device-\#(i)"},"attributes":{"country":"\#(country)","platform":"\#(platform)","app_version":"5.\#(i % 9).0","plan":"free"}}"#
            }
            if i < lines - 1 || finalNewline { text += "\n" }
        }
        return Array(text.utf8)
    }

    /// Runs the pipeline over `input`, delivering it `readSize` bytes (at most) per read.
    static func run(_ input: [UInt8], workers: Int, chunkBytes: Int, readSize: Int) throws -> (
        output: [UInt8], counts: BatchAssigner.Counts, writes: Int
    ) {
        var offset = 0
        var output: [UInt8] = []
        var writes = 0
        let counts = try BatchPipeline(workers: workers, chunkBytes: chunkBytes).run(
            bundle: bundle, now: now,
            read: { buffer in
                let count = min(buffer.count, readSize, input.count - offset)
                input.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
                offset += count
                return count
            },
            write: { answers in
                output.append(contentsOf: answers)
                writes += 1
            })
        return (output, counts, writes)
    }

    @Test(arguments: [
        (workers: 1, chunkBytes: 1 << 20, readSize: 1 << 16), (workers: 2, chunkBytes: 4096, readSize: 1 << 16),
        (workers: 3, chunkBytes: 1, readSize: 7), (workers: 4, chunkBytes: 777, readSize: 100_000),
        (workers: 2, chunkBytes: 1 << 16, readSize: 1), (workers: 8, chunkBytes: 50_000, readSize: 4096),
    ])
    func sameBytesAsTheSequentialLoop(workers: Int, chunkBytes: Int, readSize: Int) async throws {
        for (seed, finalNewline) in [(UInt64(1), true), (2, false)] {
            let lines = readSize == 1 ? 2_000 : 8_000
            let input = Self.input(lines: lines, seed: seed &+ UInt64(workers * 1000 + chunkBytes), finalNewline: finalNewline)
            let expected = Self.reference(input)
            #expect(expected.counts.failures > lines / 10, "the input has malformed lines")
            let result = try await onThread { try Self.run(input, workers: workers, chunkBytes: chunkBytes, readSize: readSize) }
            #expect(result.counts == expected.counts)
            #expect(result.output.count == expected.output.count)
            #expect(result.output == expected.output, "workers \(workers), chunk \(chunkBytes), read \(readSize)")
            if chunkBytes < input.count / 4 { #expect(result.writes > 4, "the input was cut into ranges") }
        }
    }

    @Test func edgeCases() async throws {
        let cases: [String] = [
            "", "\n", "\n\n  \n", "   ", "\r\n", "{not json", "{not json\n", "\n\n{not json", #"{"units":{"user_id":"a"}}"#,
            "\r\n" + #"{"units":{"user_id":"a"}}"# + "\r\n\r\n" + #"{"units":{"user_id":"b"}}"# + "\n \t",
        ]
        for text in cases {
            let input = Array(text.utf8)
            let expected = Self.reference(input)
            for workers in [1, 2, 3] {
                for chunkBytes in [1, 2, 5, 1 << 20] {
                    let result = try await onThread { try Self.run(input, workers: workers, chunkBytes: chunkBytes, readSize: 3) }
                    #expect(result.output == expected.output, "\(text.debugDescription), workers \(workers), chunk \(chunkBytes)")
                    #expect(result.counts == expected.counts, "\(text.debugDescription)")
                }
            }
        }
    }

    struct Stop: Error {}

    @Test func aFailingWriteStopsTheBatch() async throws {
        let input = Self.input(lines: 20_000, seed: 9, finalNewline: true)
        let writes = try await onThread { () -> Int in
            var offset = 0
            var writes = 0
            do {
                _ = try BatchPipeline(workers: 2, chunkBytes: 4096).run(
                    bundle: Self.bundle, now: Self.now,
                    read: { buffer in
                        let count = min(buffer.count, input.count - offset)
                        input.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
                        offset += count
                        return count
                    },
                    write: { _ in
                        writes += 1
                        if writes == 3 { throw Stop() }
                    })
                Issue.record("the write error was not thrown")
            } catch is Stop {}
            return writes
        }
        #expect(writes == 3, "nothing is written after the failing write")
    }

    @Test func aFailingReadStopsTheBatch() async throws {
        let input = Self.input(lines: 2_000, seed: 10, finalNewline: true)
        let written = try await onThread { () -> Int in
            var offset = 0
            var written = 0
            do {
                _ = try BatchPipeline(workers: 2, chunkBytes: 1024).run(
                    bundle: Self.bundle, now: Self.now,
                    read: { buffer in
                        if offset > input.count / 2 { throw Stop() }
                        let count = min(buffer.count, 512, input.count - offset)
                        input.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
                        offset += count
                        return count
                    },
                    write: { written += $0.count })
                Issue.record("the read error was not thrown")
            } catch is Stop {}
            return written
        }
        #expect(written < Self.reference(input).output.count)
    }
}
