import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

@Suite("Status across regions")
struct StatusTests {
    let key = SigningKey.generate()

    func check(_ roots: [String], trusted: [PublicKey]? = nil) async -> StatusReport {
        await StatusChecker(stores: roots.map { LocalStore(root: $0) }, trustedKeys: trusted ?? [key.publicKey], logger: Fixtures.logger)
            .check(now: 1_764_003_600)
    }

    func publish(_ version: UInt64, to roots: [String]) async throws {
        _ = try await Publisher(stores: roots.map { LocalStore(root: $0) }, key: key, logger: Fixtures.logger)
            .publish(envelope: Fixtures.bundle(version: version, key: key))
    }

    @Test("agreement, disagreement, empty regions and exit codes")
    func agreement() async throws {
        let roots = (0..<3).map { _ in Scratch.folder("status") }
        defer { roots.forEach(Scratch.remove) }
        let empty = await check(roots)
        #expect(empty.exitCode == 0)
        #expect(empty.regions.allSatisfy { $0.state == .empty })
        #expect(empty.text.contains("no region has a manifest"))

        try await publish(1, to: [roots[0]])
        let partial = await check(roots)
        #expect(!partial.agree)
        #expect(partial.exitCode == 3)

        try await publish(1, to: roots)
        let same = await check(roots)
        #expect(same.agree && same.exitCode == 0)
        #expect(same.regions.allSatisfy { $0.version == 1 && $0.ageSeconds == 3600 && $0.signature == "verified" })
        #expect(same.text.contains("age 60 min"))

        try await publish(2, to: [roots[2]])
        let behind = await check(roots)
        #expect(behind.exitCode == 3)
        #expect(behind.newestVersion == 2)
        #expect(behind.text.contains("BEHIND (newest 2)"))
    }

    @Test("unreachable, invalid and missing-object regions make exit code 4")
    func broken() async throws {
        let roots = (0..<3).map { _ in Scratch.folder("status") }
        defer { roots.forEach(Scratch.remove) }
        try await publish(1, to: roots)
        let manifest = try Manifest.describing(envelope: Fixtures.bundle(version: 1, key: key), key: key)
        try FileManager.default.removeItem(atPath: roots[1] + "/" + manifest.object)
        Scratch.write(Array("{}".utf8), to: roots[2] + "/manifest.json")
        let report = await check(roots + [roots[0] + "/missing"])
        #expect(report.exitCode == 4)
        #expect(report.regions.map(\.state) == [.published, .invalid, .invalid, .unreachable])
        #expect(report.regions[1].error?.contains("missing") == true)
        #expect(report.regions[1].objectPresent == false)
        // The remaining readable region agrees with itself: broken regions are not "disagreement".
        #expect(report.agree)
        // Without trusted keys signatures are not checked, and said so.
        let unchecked = await check([roots[0]], trusted: [])
        #expect(unchecked.regions[0].signature == "not checked")
        #expect(unchecked.text.contains("signature not checked"))
        // With the wrong key, the manifest is invalid.
        let wrong = await check([roots[0]], trusted: [SigningKey.generate().publicKey])
        #expect(wrong.regions[0].state == .invalid)
        #expect(wrong.regions[0].signature == "untrusted_key")
    }
}
