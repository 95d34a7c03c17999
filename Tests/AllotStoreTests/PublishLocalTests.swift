import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// The publish protocol on local folders (fast; the same code runs against moto in PublishMotoTests).
@Suite("Publish to local folders")
struct PublishLocalTests {
    let key = SigningKey.generate()

    func folders(_ count: Int) -> [String] { (0..<count).map { _ in Scratch.folder("region") } }

    func publisher(_ roots: [String], key: SigningKey? = nil, options: Publisher.Options = .init()) -> Publisher {
        Publisher(stores: roots.map { LocalStore(root: $0) }, key: key ?? self.key, options: options, logger: Fixtures.logger)
    }

    @Test("objects and manifests land byte for byte; the next version moves every manifest")
    func publishes() async throws {
        let roots = folders(3)
        defer { roots.forEach(Scratch.remove) }
        let v1 = Fixtures.bundle(version: 1, key: key)
        let report = try await publisher(roots).publish(envelope: v1)
        #expect(report.succeeded)
        #expect(report.exitCode == 0)
        #expect(report.regions.allSatisfy { $0.object == .uploaded && $0.manifest == .created && $0.previousVersion == nil })
        let manifest = try Manifest.describing(envelope: v1, key: key)
        for root in roots {
            #expect(Scratch.read("\(root)/\(manifest.object)") == v1)
            #expect(Fixtures.names(Scratch.read("\(root)/manifest.json"), manifest, key: key))
        }
        let v2 = Fixtures.bundle(version: 2, key: key)
        let second = try await publisher(roots).publish(envelope: v2)
        #expect(second.regions.allSatisfy { $0.object == .uploaded && $0.manifest == .moved && $0.previousVersion == 1 })
        #expect(second.text.contains("manifest moved 1 → 2"))
        for root in roots {
            #expect(Fixtures.names(Scratch.read("\(root)/manifest.json"), try Manifest.describing(envelope: v2, key: key), key: key))
            // Old objects stay: servers still on v1 can finish fetching it.
            #expect(Scratch.read("\(root)/\(manifest.object)") == v1)
        }
    }

    @Test("rerunning is idempotent and touches nothing")
    func rerun() async throws {
        let roots = folders(2)
        defer { roots.forEach(Scratch.remove) }
        let v1 = Fixtures.bundle(version: 1, key: key)
        _ = try await publisher(roots).publish(envelope: v1)
        let before = try roots.map { try FileManager.default.attributesOfItem(atPath: "\($0)/manifest.json")[.modificationDate] as? Date }
        let again = try await publisher(roots).publish(envelope: v1)
        #expect(again.exitCode == 0)
        #expect(again.regions.allSatisfy { $0.object == .alreadyPresent && $0.manifest == .alreadyCurrent })
        let after = try roots.map { try FileManager.default.attributesOfItem(atPath: "\($0)/manifest.json")[.modificationDate] as? Date }
        #expect(before == after)
    }

    @Test("a region at a newer version, or at the same version with another bundle, is refused and untouched")
    func refusals() async throws {
        let roots = folders(2)
        defer { roots.forEach(Scratch.remove) }
        _ = try await publisher([roots[0]]).publish(envelope: Fixtures.bundle(version: 5, key: key))
        _ = try await publisher([roots[1]]).publish(envelope: Fixtures.bundle(version: 3, key: key, payload: "other"))
        let manifests = roots.map { Scratch.read("\($0)/manifest.json") }
        let v3 = Fixtures.bundle(version: 3, key: key)
        let report = try await publisher(roots).publish(envelope: v3)
        #expect(report.exitCode == 3)
        #expect(report.regions[0].manifest == .refused)
        #expect(report.regions[0].reason?.contains("newer than 3") == true)
        #expect(report.regions[1].manifest == .refused)
        #expect(report.regions[1].reason?.contains("different bundle") == true)
        // Refused early: nothing uploaded, nothing moved.
        #expect(report.regions.allSatisfy { $0.object == .notAttempted })
        #expect(roots.map { Scratch.read("\($0)/manifest.json") } == manifests)
        let object = try Manifest.describing(envelope: v3, key: key).object
        #expect(roots.allSatisfy { !FileManager.default.fileExists(atPath: "\($0)/\(object)") })
        #expect(report.text.contains("REFUSED"))
    }

    @Test("a missing object behind a current manifest is uploaded again by a rerun")
    func repairsMissingObject() async throws {
        let roots = folders(1)
        defer { roots.forEach(Scratch.remove) }
        let v1 = Fixtures.bundle(version: 1, key: key)
        let object = try Manifest.describing(envelope: v1, key: key).object
        _ = try await publisher(roots).publish(envelope: v1)
        try FileManager.default.removeItem(atPath: "\(roots[0])/\(object)")
        let report = try await publisher(roots).publish(envelope: v1)
        #expect(report.regions[0].object == .uploaded)
        #expect(report.regions[0].manifest == .alreadyCurrent)
        #expect(Scratch.read("\(roots[0])/\(object)") == v1)
    }

    @Test("a damaged object at the content address fails the region and leaves its manifest alone")
    func damagedObject() async throws {
        let roots = folders(2)
        defer { roots.forEach(Scratch.remove) }
        _ = try await publisher(roots).publish(envelope: Fixtures.bundle(version: 1, key: key))
        let v2 = Fixtures.bundle(version: 2, key: key)
        let object = try Manifest.describing(envelope: v2, key: key).object
        try FileManager.default.createDirectory(atPath: "\(roots[1])/bundles", withIntermediateDirectories: true)
        var damaged = v2
        damaged[damaged.count - 1] ^= 1
        Scratch.write(damaged, to: "\(roots[1])/\(object)")
        let before = Scratch.read("\(roots[1])/manifest.json")
        let report = try await publisher(roots).publish(envelope: v2)
        #expect(report.regions[0].manifest == .moved)
        #expect(report.regions[1].object == .failed)
        #expect(report.regions[1].manifest == .notAttempted)
        #expect(report.regions[1].reason?.contains("damaged") == true)
        #expect(report.exitCode == 2)
        #expect(Scratch.read("\(roots[1])/manifest.json") == before)
    }

    @Test("all-or-nothing moves no manifest when one region is not ready")
    func allOrNothing() async throws {
        let roots = folders(2)
        defer { roots.forEach(Scratch.remove) }
        // The second "region" is a file where a folder should be: it cannot be written.
        let blocked = roots[1] + "/not-a-folder"
        Scratch.write([1], to: blocked)
        let report = try await publisher([roots[0], blocked], options: .init(requireAllRegions: true))
            .publish(envelope: Fixtures.bundle(version: 1, key: key))
        #expect(report.exitCode == 2)
        #expect(report.regions[0].object == .uploaded)
        #expect(report.regions[0].manifest == .notAttempted)
        #expect(report.regions[0].reason?.contains("all-or-nothing") == true)
        #expect(report.regions[1].manifest == .failed || report.regions[1].object == .failed)
        #expect(!FileManager.default.fileExists(atPath: roots[0] + "/manifest.json"))
    }

    @Test("an unreadable existing manifest is never used for ordering: the region is repaired and says so")
    func garbageManifest() async throws {
        let roots = folders(1)
        defer { roots.forEach(Scratch.remove) }
        Scratch.write(Array("{ not json".utf8), to: roots[0] + "/manifest.json")
        let report = try await publisher(roots).publish(envelope: Fixtures.bundle(version: 1, key: key))
        #expect(report.regions[0].manifest == .repaired)
        #expect(report.succeeded)
        #expect(report.text.contains("REPAIRED"))
        #expect(try Manifest.decode(Scratch.read(roots[0] + "/manifest.json")!).version == 1)
    }

    @Test("a manifest of a newer format is left alone (an older build must not overwrite it)")
    func newerFormat() async throws {
        let roots = folders(1)
        defer { roots.forEach(Scratch.remove) }
        let text = Array(#"{"format": "allot-manifest/99", "version": 5}"#.utf8)
        Scratch.write(text, to: roots[0] + "/manifest.json")
        let report = try await publisher(roots).publish(envelope: Fixtures.bundle(version: 1, key: key))
        #expect(report.regions[0].manifest == .failed)
        #expect(report.regions[0].errorCode == "manifest_unsupported_format")
        #expect(Scratch.read(roots[0] + "/manifest.json") == text)
    }

    @Test("a bundle from another key is refused before any store is touched")
    func wrongKey() async throws {
        let roots = folders(1)
        defer { roots.forEach(Scratch.remove) }
        await #expect {
            _ = try await publisher(roots).publish(envelope: Fixtures.bundle(version: 1, key: SigningKey.generate()))
        } throws: { ($0 as? ManifestError)?.code == .bundleMismatch }
        #expect(try FileManager.default.contentsOfDirectory(atPath: roots[0]).isEmpty)
    }

    @Test("concurrent publishers of one version: exactly one wins each region, the other is refused")
    func concurrentLocal() async throws {
        let roots = folders(3)
        defer { roots.forEach(Scratch.remove) }
        let a = Fixtures.bundle(version: 7, key: key, payload: "A")
        let b = Fixtures.bundle(version: 7, key: key, payload: "B")
        async let first = publisher(roots).publish(envelope: a)
        async let second = publisher(roots).publish(envelope: b)
        let reports = try await [first, second]
        await Self.checkOneWinnerPerRegion(reports, envelopes: [a, b], key: key) { index in
            Scratch.read(roots[index] + "/manifest.json") ?? []
        }
    }

    /// Shared with the moto test: per region, exactly one report created the manifest and the other
    /// was refused (or found it current if the same bundle), and the manifest is the winner's.
    static func checkOneWinnerPerRegion(
        _ reports: [PublishReport], envelopes: [[UInt8]], key: SigningKey, manifestBytes: (Int) async throws -> [UInt8]
    ) async rethrows {
        let manifests = envelopes.map { try! Manifest.describing(envelope: $0, key: key) }
        for region in reports[0].regions.indices {
            let outcomes = reports.map { $0.regions[region].manifest }
            #expect(outcomes.filter { $0 == .created }.count == 1, "region \(region): \(outcomes)")
            #expect(outcomes.filter { $0 == .refused }.count == 1, "region \(region): \(outcomes)")
            let winner = outcomes.firstIndex(of: .created)!
            #expect(Fixtures.names(try await manifestBytes(region), manifests[winner], key: key))
        }
    }
}
