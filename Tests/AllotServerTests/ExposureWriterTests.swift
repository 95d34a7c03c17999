import AllotCore
import AllotStore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotExposures

/// The exposure log below HTTP: recorders, the writer's segments in a real spool (rotation,
/// frames, names, limits, drops), recovery of segments left open, and what a hostile spool holds.
/// Segments are read with the `zstd` program and the Python readers, never with the writer's code.
@Suite("Exposure writer", .serialized)
struct ExposureWriterTests {
    /// Attributes that pass `checkout-redesign`'s targeting.
    static var attributes: [String: Any] { ["country": "US"] }

    @Test("segments rotate by size: each is one complete frame under the limit, names fixed at open and in order")
    func rotationBySize() async throws {
        let harness = try LogHarness { $0.segmentMaxBytes = 256 << 10 }
        defer { harness.remove() }
        var recorder = harness.recorder()
        var random = SeededRandom(seed: 14)
        var expected = 0
        var openName: String?
        // Random ids compress poorly enough to fill several 256 KiB segments.
        for round in 0..<20 {
            for _ in 0..<600 {
                let id = String(random.next(), radix: 36) + String(random.next(), radix: 36)
                expected += try harness.record(&recorder, units: ["user_id": id, "device_id": id], attributes: Self.attributes)
            }
            harness.cycle()
            if round == 0 {
                #expect(harness.openFiles.count == 1)
                openName = harness.openFiles.first
            }
        }
        harness.closeAll()
        let files = harness.readyFiles
        // Open, the file already had the name it has once closed.
        #expect(openName.map(files.contains) == true, "\(openName ?? "none") not in \(files)")
        #expect(files.count >= 3, "\(files)")
        #expect(harness.openFiles.isEmpty)
        var total = 0
        for (index, file) in files.enumerated() {
            let path = harness.spool + "/exposures/" + file
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(bytes.count <= 256 << 10)
            #expect(bytes.withUnsafeBytes { Zstd.isSingleFrame($0) })
            #expect(file.hasSuffix(String(format: "-%06d.ndjson.zst", index + 1)), "\(file)")
            // Records carry unit ids: readable by the server's user only.
            #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
            total += try await zstdLines(path).count
        }
        #expect(total == expected)
        #expect((try FileManager.default.attributesOfItem(atPath: harness.spool)[.posixPermissions] as? Int) == 0o700)
        #expect(harness.counter("allot_exposure_events_total") == Double(expected))
        #expect(harness.counter("allot_exposure_segments_closed_total") == Double(files.count), "\(harness.registry.render())")
    }

    @Test(
        "segments rotate by age and at the UTC hour; every key agrees with its records",
        .enabled(if: ExposureReader.available, ExposureReader.skipReason))
    func rotationByAgeAndHour() async throws {
        let harness = try LogHarness { $0.segmentMaxAge = .milliseconds(100) }
        defer { harness.remove() }
        var recorder = harness.recorder()
        let hour: Int64 = 1_764_860_000_000 / 3_600_000 * 3_600_000
        // Interleaved records of two hours (as worker threads race at the boundary), then an age rotation.
        for i in 0..<10 {
            try harness.record(
                &recorder, units: ["user_id": "a\(i)"], attributes: Self.attributes, timestamp: hour + 3_599_990 + Int64(i % 2) * 20)
        }
        harness.cycle()
        #expect(harness.openFiles.count == 2)
        try await Task.sleep(for: .milliseconds(150))
        harness.cycle()
        #expect(harness.openFiles.isEmpty)
        #expect(harness.readyFiles.count == 2)
        try harness.record(&recorder, units: ["user_id": "late"], attributes: Self.attributes, timestamp: hour + 3_600_500)
        harness.closeAll()
        #expect(harness.readyFiles.count == 3)
        let report = try await ExposureReader.read(harness.spool)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.records.count == 11)
        #expect(report.duckDBCount == 11)
        let hours = Set(report.segments.map { $0.key.split(separator: "/")[2] })
        #expect(hours.count == 2, "\(report.segments)")
    }

    @Test("a full spool drops events and counts them; the spool never passes its limit")
    func spoolFull() async throws {
        let harness = try LogHarness {
            $0.segmentMaxBytes = 128 << 10
            $0.spoolLimitBytes = 512 << 10
            $0.segmentMaxAge = .milliseconds(100)
        }
        defer { harness.remove() }
        var recorder = harness.recorder()
        var random = SeededRandom(seed: 7)
        var recorded = 0
        for _ in 0..<40 {
            for _ in 0..<500 {
                let id = String(random.next(), radix: 36) + String(random.next(), radix: 36)
                recorded += try harness.record(&recorder, units: ["user_id": id, "device_id": id], attributes: Self.attributes)
            }
            harness.cycle()
            #expect(harness.log.spool.bytes <= 512 << 10)
        }
        harness.closeAll()
        let dropped = harness.counter(#"allot_exposure_events_dropped_total{reason="spool_full"}"#)
        let written = harness.counter("allot_exposure_events_total")
        #expect(dropped > 0)
        #expect(written + dropped == Double(recorded))
        var onDisk = 0
        for file in harness.readyFiles { onDisk += try await zstdLines(harness.spool + "/exposures/" + file).count }
        #expect(Double(onDisk) == written)
    }

    @Test("a full buffer drops the request's events and counts them; nothing half-written reaches a segment")
    func bufferFull() async throws {
        let harness = try LogHarness { $0.bufferBytes = 64 << 10 }
        defer { harness.remove() }
        var recorder = harness.recorder()
        var recorded = 0
        for i in 0..<5000 { recorded += try harness.record(&recorder, units: ["user_id": "user-\(i)", "device_id": "device-\(i)"]) }
        let dropped = harness.counter(#"allot_exposure_events_dropped_total{reason="buffer_full"}"#)
        #expect(dropped > 0)
        harness.closeAll()
        let written = harness.counter("allot_exposure_events_total")
        #expect(written + dropped == Double(recorded))
        var lines: [String] = []
        for file in harness.readyFiles { lines += try await zstdLines(harness.spool + "/exposures/" + file) }
        #expect(Double(lines.count) == written)
        // The first requests made it, in order; the rest were dropped whole.
        #expect(lines.first?.contains(#""unit":"d"#) == true || lines.first?.contains(#""unit":"device-0""#) == true)
    }

    @Test("an abandoned transaction leaves nothing: no record, no drop, names announced again")
    func abandon() async throws {
        let harness = try LogHarness()
        defer { harness.remove() }
        var recorder = harness.recorder()
        recorder.begin(harness.names, timestamp: 1_764_860_000_000)
        try harness.evaluate(units: ["device_id": "d-9"])
        harness.add(to: &recorder, api: .batch)
        recorder.abandon()
        harness.cycle()
        #expect(harness.counter("allot_exposure_events_total") == 0)
        #expect(harness.openFiles.isEmpty)
        // The names record was rolled back too: the next request announces them again and is written.
        try harness.record(&recorder, units: ["device_id": "d-10"])
        harness.closeAll()
        var lines: [String] = []
        for file in harness.readyFiles { lines += try await zstdLines(harness.spool + "/exposures/" + file) }
        #expect(lines.count == 1)
        #expect(lines.first?.contains(#""unit":"d-10""#) == true)
    }

    @Test("unit ids of any bytes become valid JSON strings, invalid UTF-8 replaced as Swift's decoder does", arguments: [1, 2, 3])
    func unitEscaping(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let interesting: [UInt8] = [
            0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x00, 0x1F, 0x7F, 0x41, 0xC2, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0, 0x80,
            0xC0, 0xAF, 0xF4, 0x90, 0xFF, 0xE0,
        ]
        for _ in 0..<2000 {
            let length = Int(random.next() % 24) + 1
            let bytes = (0..<length).map { _ in
                random.next() % 3 == 0
                    ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))]
            }
            let staging = StagingBuffer(capacity: 64)
            staging.append("\"")
            bytes.withUnsafeBytes { RecordEncoder.appendEscaped($0, to: staging) }
            staging.append("\"")
            let output = Array(staging.bytes)
            let decoded = try JSONSerialization.jsonObject(with: Data(output), options: [.fragmentsAllowed]) as? String
            #expect(decoded == String(decoding: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test("segment names: paths round-trip; anything else in the spool is not a segment")
    func segmentNames() {
        let name = SegmentName(
            server: "edge-eu-1", boot: 1_764_857_102_311, sequence: 42, hour: 1_764_857_102_311 / 3_600_000, region: "eu-west")
        #expect(name.relativePath == "date=2025-12-04/hour=14/region=eu-west/edge-eu-1-1764857102311-000042.ndjson.zst")
        #expect(name.key == "exposures/" + name.relativePath)
        #expect(SegmentName(relativePath: name.relativePath) == name)
        for bad in [
            "date=2025-12-04/hour=14/region=eu-west/edge-eu-1-1764857102311-000042.ndjson",  // suffix
            "date=2025-02-30/hour=14/region=eu-west/edge-1764857102311-000001.ndjson.zst",  // no such date
            "date=2025-12-04/hour=24/region=eu-west/edge-1764857102311-000001.ndjson.zst",
            "date=2025-12-04/hour=14/region=../edge-1764857102311-000001.ndjson.zst",
            "date=2025-12-04/hour=14/region=eu-west/edge-176485710231-000001.ndjson.zst",  // 12-digit boot
            "date=2025-12-04/hour=14/region=eu-west/edge-1764857102311-00001.ndjson.zst",  // 5-digit seq
            "date=2025-12-04/hour=14/region=eu-west/edge-1764857102311-000000.ndjson.zst",  // seq 0
            "date=2025-12-04/hour=14/region=eu-west/.x-1764857102311-000001.ndjson.zst",
            "date=2025-12-04/hour=14/eu-west/edge-1764857102311-000001.ndjson.zst",
            "date=2025-12-4/hour=14/region=eu-west/edge-1764857102311-000001.ndjson.zst",
            "x/date=2025-12-04/hour=14/region=eu-west/edge-1764857102311-000001.ndjson.zst",
        ] {
            #expect(SegmentName(relativePath: bad) == nil, "\(bad)")
        }
    }

    @Test("a second server cannot take a spool in use")
    func spoolLock() throws {
        let first = try LogHarness()
        defer { first.remove() }
        #expect(throws: ExposureError.self) { _ = try LogHarness(spool: first.spool) }
        do {
            _ = try LogHarness(spool: first.spool)
        } catch let error as ExposureError {
            #expect(error.code == .spoolLocked)
        }
    }
}

/// Segments left open by a process that was killed, and recovery of their complete records.
@Suite("Exposure recovery", .serialized)
struct ExposureRecoveryTests {
    @Test("a spool left by a killed writer: the next start closes its open segment with every flushed record")
    func restartRecovers() async throws {
        let spool = Scratch.folder("spool")
        defer { Scratch.remove(spool) }
        var flushed = 0
        do {
            let first = try LogHarness(spool: spool)
            var recorder = first.recorder()
            for i in 0..<300 {
                flushed += try first.record(&recorder, units: ["user_id": "k\(i)", "device_id": "k\(i)"], attributes: ["country": "US"])
            }
            first.cycle()
            // Recorded after the last flush: lost, like events in memory at a kill.
            try first.record(&recorder, units: ["user_id": "lost"], attributes: ["country": "US"])
            #expect(first.openFiles.count == 1)
            // The process "dies" here: no close, the frame is left unfinished.
        }
        let second = try LogHarness(spool: spool)
        second.closeAll()
        #expect(second.openFiles.isEmpty)
        var lines: [String] = []
        for file in second.readyFiles { lines += try await zstdLines(spool + "/exposures/" + file) }
        #expect(lines.count == flushed)
        #expect(!lines.contains { $0.contains(#""unit":"lost""#) })
        #expect(second.counter("allot_exposure_records_recovered_total") == Double(flushed))
        #expect(second.counter("allot_exposure_segments_recovered_total") == 1)
    }

    @Test("cut at any byte, a segment gives back exactly the records of its complete flushes, as a valid frame")
    func truncatedAnywhere() async throws {
        let harness = try LogHarness()
        defer { harness.remove() }
        var recorder = harness.recorder()
        var boundaries: [(bytes: Int, records: Int)] = [(0, 0)]
        var records = 0
        for batch in 0..<8 {
            for i in 0..<(3 + batch * 5) {
                records += try harness.record(
                    &recorder, units: ["user_id": "t\(batch)-\(i)", "device_id": "t\(i)"], attributes: ["country": "US"])
            }
            harness.cycle()
            let open = harness.spool + "/open/" + harness.openFiles[0]
            boundaries.append((try FileManager.default.attributesOfItem(atPath: open)[.size] as! Int, records))
        }
        let source = harness.spool + "/open/" + harness.openFiles[0]
        let whole = try Data(contentsOf: URL(fileURLWithPath: source))
        var random = SeededRandom(seed: 99)
        var cuts = (0..<25).map { _ in Int(random.next() % UInt64(whole.count + 1)) }
        cuts += boundaries.map(\.bytes) + boundaries.map { $0.bytes + 1 }.filter { $0 <= whole.count }
        let folder = Scratch.folder("cuts")
        defer { Scratch.remove(folder) }
        for cut in cuts {
            let path = folder + "/cut.zst"
            try whole.prefix(cut).write(to: URL(fileURLWithPath: path))
            let destination = folder + "/out/recovered.zst"
            try? FileManager.default.removeItem(atPath: destination)
            let outcome = try SegmentRecovery.recover(source: path, destination: destination, level: 1)
            let expected = boundaries.last { $0.bytes <= cut }!.records
            #expect(outcome.records == expected, "cut at \(cut) of \(whole.count)")
            if expected > 0 {
                #expect(try await zstdLines(destination).count == expected)
            } else {
                #expect(!FileManager.default.fileExists(atPath: destination))
            }
        }
    }

    @Test("hostile spool contents are set aside, never shipped: bad names, non-frames, oversized files, garbage left open")
    func hostileSpool() async throws {
        let spool = Scratch.folder("spool")
        let storeRoot = Scratch.folder("store")
        defer {
            Scratch.remove(spool)
            Scratch.remove(storeRoot)
        }
        let valid = "date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000001.ndjson.zst"
        func put(_ relative: String, _ bytes: [UInt8]) throws {
            let path = spool + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let frame = try Array("{\"v\":1}\n".utf8).withUnsafeBytes { try Zstd.compress($0, level: 1) }
        try put("exposures/" + valid, frame)  // a real one: shipped
        try put("exposures/date=2025-12-04/hour=14/region=eu-west/notes.txt", Array("hello".utf8))
        try put("exposures/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000002.ndjson.zst", Array("not zstd".utf8))
        try put("exposures/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000003.ndjson.zst", Array(frame.dropLast(3)))
        try put("exposures/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000004.ndjson.zst", frame + frame)
        try put(
            "exposures/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000005.ndjson.zst",
            [UInt8](repeating: 0x28, count: (1 << 20) + 1))
        try put("open/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000006.ndjson.zst", Array("garbage".utf8))
        try put("open/stray", Array("x".utf8))
        try FileManager.default.createSymbolicLink(
            atPath: spool + "/exposures/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000007.ndjson.zst",
            withDestinationPath: "/etc/passwd")

        let harness = try LogHarness(spool: spool, store: LocalStore(root: storeRoot)) { $0.segmentMaxBytes = 1 << 20 }
        harness.closeAll()
        let result = await harness.log.uploader!.shipAll(deadline: nil)
        #expect(result == .empty)
        let shipped = try await LocalStore(root: storeRoot).list(prefix: "exposures/")
        #expect(shipped.map(\.key) == ["exposures/" + valid])
        #expect(harness.counter("allot_exposure_files_rejected_total") == 7)
        #expect(harness.counter("allot_exposure_segments_shipped_total") == 1)
        let rejected = try FileManager.default.contentsOfDirectory(atPath: spool + "/rejected")
        #expect(rejected.count == 7, "\(rejected)")
        // Garbage under a segment's name in open/ is kept for a person, not deleted as an empty recovery.
        #expect(rejected.contains { $0.hasSuffix("000006.ndjson.zst") }, "\(rejected)")
        // The symbolic link is neither followed, nor shipped, nor moved.
        #expect(
            (try? FileManager.default.destinationOfSymbolicLink(
                atPath: spool + "/exposures/date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-000007.ndjson.zst"))
                == "/etc/passwd")
    }

    /// A closed segment named with sequence `sequence`, written straight into the spool.
    private static func plantSegment(_ spool: String, _ sequence: Int) throws -> String {
        let relative = "date=2025-12-04/hour=14/region=eu-west/edge-test-1-1764857102311-\(String(format: "%06d", sequence)).ndjson.zst"
        let path = spool + "/exposures/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let frame = try Array("{\"v\":1,\"seq\":\(sequence)}\n".utf8).withUnsafeBytes { try Zstd.compress($0, level: 1) }
        try Data(frame).write(to: URL(fileURLWithPath: path))
        return "exposures/" + relative
    }

    @Test(
        "a segment the store refuses for good does not hold back the others, and is set aside after repeated refusals",
        arguments: [StoreError.Code.requestRejected, .accessDenied])
    func stuckSegment(_ code: StoreError.Code) async throws {
        let spool = Scratch.folder("spool")
        let storeRoot = Scratch.folder("store")
        defer {
            Scratch.remove(spool)
            Scratch.remove(storeRoot)
        }
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let poison = try Self.plantSegment(spool, 2)
        let store = RefusingStore(LocalStore(root: storeRoot), refusing: [poison], with: code)
        let harness = try LogHarness(spool: spool, store: store)
        harness.closeAll()
        let uploader = harness.log.uploader!
        var expected: [String] = []
        for round in 1...ExposureUploader.stuckSegmentStrikes {
            // Traffic goes on: each round has new segments, after (and one before) the refused one.
            expected.append(try Self.plantSegment(spool, 10 * round))
            if round == 1 { expected.append(try Self.plantSegment(spool, 1)) }
            let result = await uploader.shipAll(deadline: nil)
            #expect(result == .someRefused(retryable: false), "round \(round)")
            let stored = try await LocalStore(root: storeRoot).list(prefix: "exposures/").map(\.key)
            #expect(stored == expected.sorted(), "round \(round): every other segment shipped")
            let stillWaiting = FileManager.default.fileExists(atPath: spool + "/" + poison)
            #expect(stillWaiting == (round < ExposureUploader.stuckSegmentStrikes), "round \(round)")
        }
        #expect(store.refused == ExposureUploader.stuckSegmentStrikes)
        #expect(harness.counter("allot_exposure_files_rejected_total") == 1)
        let rejected = try FileManager.default.contentsOfDirectory(atPath: spool + "/rejected")
        #expect(rejected.count == 1 && rejected[0].hasSuffix("000002.ndjson.zst"), "\(rejected)")
        // Nothing is left to ship, and the set-aside segment is not tried again.
        #expect(await uploader.shipAll(deadline: nil) == .empty)
        #expect(store.refused == ExposureUploader.stuckSegmentStrikes)
    }

    @Test("a store that refuses everything, or one segment with timeouts, never gets a segment set aside")
    func awayStoreSetsNothingAside() async throws {
        for (keys, code) in [(nil, StoreError.Code.accessDenied), (Set(["poison"]), .timeout)] as [(Set<String>?, StoreError.Code)] {
            let spool = Scratch.folder("spool")
            let storeRoot = Scratch.folder("store")
            defer {
                Scratch.remove(spool)
                Scratch.remove(storeRoot)
            }
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            let first = try Self.plantSegment(spool, 1)
            let refusing = keys.map { _ in Set([first]) }
            let store = RefusingStore(LocalStore(root: storeRoot), refusing: refusing, with: code)
            let harness = try LogHarness(spool: spool, store: store)
            harness.closeAll()
            for round in 1...(2 * ExposureUploader.stuckSegmentStrikes) {
                _ = try Self.plantSegment(spool, 10 * round)
                let result = await harness.log.uploader!.shipAll(deadline: nil)
                #expect(result == (keys == nil ? .failed : .someRefused(retryable: true)), "\(code), round \(round)")
            }
            if keys == nil {
                // Two refusals in a row with nothing shipped end a round: not every segment is tried.
                #expect(store.refused == 2 * 2 * ExposureUploader.stuckSegmentStrikes)
            }
            #expect(harness.counter("allot_exposure_files_rejected_total") == 0, "\(code)")
            #expect(FileManager.default.fileExists(atPath: spool + "/" + first), "\(code)")
        }
    }

    @Test("rejected/ is bounded: past a tenth of the spool limit its oldest files are deleted and counted, the newest kept")
    func rejectedIsBounded() async throws {
        let spool = Scratch.folder("spool")
        let storeRoot = Scratch.folder("store")
        defer {
            Scratch.remove(spool)
            Scratch.remove(storeRoot)
        }
        let folder = spool + "/exposures/date=2025-12-04/hour=14/region=eu-west"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Spool limit 2 MiB: rejected/ keeps at most 209,715 bytes, four of these 50,000-byte files.
        for index in 0..<10 {
            let path = folder + "/notes-\(index).txt"
            try Data(repeating: 0x41, count: 50_000).write(to: URL(fileURLWithPath: path))
            var times = [timespec(tv_sec: 1_700_000_000 + index, tv_nsec: 0), timespec(tv_sec: 1_700_000_000 + index, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        }
        let harness = try LogHarness(spool: spool, store: LocalStore(root: storeRoot)) {
            $0.segmentMaxBytes = 64 << 10
            $0.spoolLimitBytes = 2 << 20
        }
        harness.closeAll()
        #expect(await harness.log.uploader!.shipAll(deadline: nil) == .empty)
        let kept = try FileManager.default.contentsOfDirectory(atPath: spool + "/rejected").sorted()
        #expect(kept.map { $0.split(separator: ",").last.map(String.init) ?? $0 } == (6..<10).map { "notes-\($0).txt" }, "\(kept)")
        #expect(harness.counter("allot_exposure_files_rejected_total") == 10)
        #expect(harness.counter("allot_exposure_rejected_files_deleted_total") == 6)
    }
}
