import AllotTestSupport
import Foundation
import Testing

/// `allot publish --refresh` (the heartbeat), `--expires-in`, `--trusted-key` on publish, and
/// `allot status --min-version`, through the built binary.
@Suite(.serialized)
struct HeartbeatCommandTests {
    @Test func refreshReSignsEveryRegionAndStatusShowsTheExpiry() async throws {
        let (directory, keys) = try await StatusCommandTests.published()
        defer { try? FileManager.default.removeItem(at: directory) }
        let refreshed = try await CLI.run(
            [
                "publish", "--refresh", "--store", "us", "--store", "eu", "--signing-key", keys.secret, "--trusted-key", keys.public,
                "--expires-in", "2h",
            ], in: directory)
        #expect(refreshed.status == 0, "\(refreshed.output)")
        #expect(refreshed.stdout.contains("re-signed with a new expiry"), "\(refreshed.stdout)")
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("us/manifest.json")))
            as? [String: Any]
        let signedAt = try #require(manifest?["signed_at"] as? Int)
        #expect(manifest?["format"] as? String == "allot-manifest/2")
        #expect(manifest?["expires"] as? Int == signedAt + 7200)
        let status = try await CLI.run(
            ["status", "--store", "us", "--store", "eu", "--trusted-key", keys.public, "--min-version", "1"], in: directory)
        #expect(status.status == 0, "\(status.output)")
        #expect(status.stdout.contains("expires "), "\(status.stdout)")
        // A region below --min-version is invalid (a replay, or a rollback).
        let behind = try await CLI.run(
            ["status", "--store", "us", "--store", "eu", "--trusted-key", keys.public, "--min-version", "2"], in: directory)
        #expect(behind.status == 2, "\(behind.output)")
        #expect(behind.stdout.contains("replayed or rolled back"), "\(behind.stdout)")
    }

    @Test func aBundleOrRefreshIsNeededNotBoth() async throws {
        let (directory, keys) = try await StatusCommandTests.published()
        defer { try? FileManager.default.removeItem(at: directory) }
        let neither = try await CLI.run(["publish", "--store", "us", "--signing-key", keys.secret], in: directory)
        #expect(neither.status == 64, "\(neither.output)")
        let both = try await CLI.run(["publish", "v1.bundle", "--refresh", "--store", "us", "--signing-key", keys.secret], in: directory)
        #expect(both.status == 64, "\(both.output)")
        let badExpiry = try await CLI.run(
            ["publish", "v1.bundle", "--store", "us", "--signing-key", keys.secret, "--expires-in", "soon"], in: directory)
        #expect(badExpiry.status == 64, "\(badExpiry.output)")
        #expect(badExpiry.stderr.contains("length of time"), "\(badExpiry.stderr)")
    }
}
