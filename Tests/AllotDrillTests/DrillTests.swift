import Foundation
import Testing

/// The multi-region drill's invariants, in CI: `ops/drill/drill.py --profile ci` runs the built
/// `allot` in three simulated regions (one moto S3 store and one `allot serve` each, with
/// inter-region latency from `ops/drill/latency_proxy.py`) while a client checks every answer
/// against `allot assign`. Each test asserts one outcome of that run. Timing numbers are the
/// full drill's business (`ops/drill/run.sh`, docs/drill.md), not these tests'.
@Suite("Multi-region drill (ops/drill/drill.py --profile ci)", .timeLimit(.minutes(15)))
struct DrillTests {
    @Test("the drill ran to the end and every one of its own checks passed")
    func everyCheckPassed() async throws {
        let run = try await DrillRun.results()
        #expect(run.value("error") == nil, "\(run.value("error") ?? "")\n\(run.outputTail)")
        let failed = run.checks.filter { !$0.ok }.map { "\($0.name): \($0.detail)" }
        #expect(failed.isEmpty, "\(failed.joined(separator: "\n"))\n\(run.outputTail)")
        #expect(run.checks.count >= 20, "\(run.checks.count) checks\n\(run.outputTail)")
        #expect(run.status == 0, "\(run.outputTail)")
    }

    @Test("every publish reached every server of every region")
    func propagation() async throws {
        let run = try await DrillRun.results()
        let runs = run.value("phases", "propagation", "runs") as? [[String: Any]] ?? []
        #expect(runs.count == 3, "\(run.outputTail)")
        for publish in runs {
            #expect(publish["publish_exit"] as? Int == 0, "\(publish)")
            #expect((publish["servers_s"] as? [String: Any])?.count == 3, "\(publish)")
        }
    }

    @Test(
        "with one region's store refusing, then hanging, then dripping a byte a second, its servers take new versions from a fallback region",
        arguments: ["refuse", "blackhole", "drip"])
    func regionDown(mode: String) async throws {
        let run = try await DrillRun.results()
        let outcome = run.object("phases", "region_down", mode)
        #expect(!outcome.isEmpty, "\(run.outputTail)")
        // Every server, those of the region that is down included, reached the version published meanwhile.
        #expect((outcome["servers_s"] as? [String: Any])?.count == 3, "\(outcome)")
        // They read their own store and failed, then answered from another region's.
        let failures = outcome["down_region_fetch_failures"] as? [String: Any] ?? [:]
        #expect(!failures.isEmpty && failures.values.allSatisfy { ($0 as? NSNumber)?.intValue ?? 0 > 0 }, "\(outcome)")
        let sources = outcome["down_region_sources"] as? [String: Any] ?? [:]
        #expect(!sources.isEmpty && sources.values.allSatisfy { ($0 as? String).map { $0 != "eu-west-1" } ?? false }, "\(outcome)")
        // The publisher reports the region it could not reach (exit 4, unavailable: docs/cli.md)
        // and moves the others.
        #expect(outcome["publish_exit"] as? Int == 4, "\(outcome)")
        let regions = outcome["publish_regions"] as? [String: String] ?? [:]
        #expect(regions["us-east-1"] == "uploaded/moved" && regions["ap-southeast-2"] == "uploaded/moved", "\(regions)")
        // Rerunning the publish once the store is back repairs the region; allot status agrees.
        #expect(run.int("phases", "region_down", "repair", "publish_exit") == 0)
        #expect(run.int("phases", "region_down", "repair", "status_exit") == 0)
    }

    @Test("with every store frozen past its manifests' expiry, running servers keep serving, a fresh one trusts nothing until a heartbeat")
    func frozenStores() async throws {
        let run = try await DrillRun.results()
        let frozen = run.object("phases", "frozen")
        #expect(!frozen.isEmpty, "\(run.outputTail)")
        #expect(frozen["short_refresh_exit"] as? Int == 0, "\(frozen)")
        let running = frozen["running_versions"] as? [String: Any] ?? [:]
        #expect(running.count == 3 && Set(running.values.map { "\($0)" }).count == 1, "\(frozen)")
        let expired = frozen["expired_refusals"] as? [String: Any] ?? [:]
        #expect(expired.count == 3 && expired.values.allSatisfy { ($0 as? NSNumber)?.doubleValue ?? 0 > 0 }, "\(frozen)")
        #expect(frozen["fresh_before_heartbeat"] is NSNull, "\(frozen)")
        #expect((frozen["fresh_readyz"] as? [Any])?.first as? Int == 503, "\(frozen)")
        #expect(frozen["heartbeat_exit"] as? Int == 0, "\(frozen)")
        #expect(frozen["fresh_after_heartbeat"] as? Int == running.values.first as? Int, "\(frozen)")
    }

    @Test("with every store down, every server keeps serving the last version and no request fails")
    func allStoresDown() async throws {
        let run = try await DrillRun.results()
        let phase = run.object("phases", "all_down")
        let versions = phase["versions"] as? [String: Any] ?? [:]
        #expect(versions.count == 3 && Set(versions.values.compactMap { ($0 as? NSNumber)?.intValue }).count == 1, "\(phase)")
        #expect(run.int("phases", "all_down", "failed_during") == 0, "\(phase)")
        #expect((run.int("phases", "all_down", "answers_during") ?? 0) > 0, "\(phase)")
        #expect(run.int("phases", "all_down", "publish_after_recovery", "publish_exit") == 0, "\(phase)")
    }

    @Test("restarted with every store down, a server serves its cached bundle; with an empty cache it answers 503 until a store is back")
    func restartFromCache() async throws {
        let run = try await DrillRun.results()
        let restarts = run.value("phases", "all_down", "restarts") as? [[String: Any]] ?? []
        #expect(!restarts.isEmpty, "\(run.outputTail)")
        for restart in restarts {
            #expect(restart["sigterm_exit"] as? Int == 0, "\(restart)")
            #expect(restart["start_to_ready_ms"] is NSNumber, "never ready: \(restart)")
            #expect(restart["source"] as? String == "cache", "\(restart)")
            #expect(restart["cache_log"] as? Bool == true, "\(restart)")
        }
        #expect(run.int("phases", "all_down", "cold_start", "readyz_while_down") == 503)
        #expect(run.int("phases", "all_down", "cold_start", "assign_while_down") == 503)
        #expect(run.value("phases", "all_down", "cold_start", "ready_after_stores_back_ms") is NSNumber)
    }

    @Test(
        "a bad bundle or manifest planted in every store is refused by every server, with its reason in the metric and the JSON log",
        arguments: [
            ("tampered manifest", "bad_signature"), ("tampered bundle", "hash_mismatch"), ("wrongly signed", "untrusted_key"),
            ("older version", "older_version"), ("truncated bundle", "size_mismatch"), ("truncated manifest", "malformed"),
            ("oversized manifest", "too_large"), ("oversized bundle", "size_mismatch"), ("same version, other bundle", "version_conflict"),
        ])
    func tampering(title: String, reason: String) async throws {
        let run = try await DrillRun.results()
        let cases = run.value("phases", "tampering", "cases") as? [[String: Any]] ?? []
        let found = cases.first { ($0["case"] as? String)?.hasPrefix(title) ?? false }
        let result = try #require(found, "no '\(title)' case in the drill's results\n\(run.outputTail)")
        #expect(result["reason"] as? String == reason)
        // Refused by each server, counted under the reason...
        #expect((result["detected_ms"] as? [String: Any])?.count == 3, "\(result)")
        // ...said in its JSON log with the same reason...
        let logs = result["log"] as? [String: [String: Any]] ?? [:]
        #expect(logs.count == 3 && logs.values.allSatisfy { ($0["lines"] as? Int ?? 0) > 0 }, "\(logs)")
        // ...and the version served did not change.
        let versions = result["versions"] as? [String: Any] ?? [:]
        let served = Set(versions.values.compactMap { ($0 as? NSNumber)?.intValue })
        #expect(versions.count == 3 && served.count == 1 && served.allSatisfy { $0 < 10_000 }, "\(versions)")
        // An oversized object is refused without being downloaded: what the servers read from the
        // stores per refusal is a small bounded prefix, not the planted object.
        if title.hasPrefix("oversized") {
            let planted = (result["bytes_planted"] as? [String: Any] ?? [:]).values.compactMap { ($0 as? NSNumber)?.intValue }.max() ?? 0
            let perRefusal = (result["bytes_read_per_refusal"] as? NSNumber)?.intValue
            #expect(
                perRefusal != nil && perRefusal! < planted / 4, "read \(perRefusal ?? -1) bytes per refusal of a \(planted)-byte object")
        }
    }

    @Test("a soak with bundle swaps under load: no failed request, every server at the last version, memory flat")
    func soak() async throws {
        let run = try await DrillRun.results()
        let soak = run.object("phases", "soak")
        #expect(run.int("phases", "soak", "wrk_failed") == 0, "\(soak["wrk"] ?? "")")
        #expect((run.int("phases", "soak", "wrk", "requests") ?? 0) > 0)
        #expect(run.int("phases", "soak", "checker_failed") == 0)
        #expect(soak["all_reached_last"] as? Bool == true)
        #expect((run.int("phases", "soak", "versions", "published") ?? 0) >= 3, "\(soak["versions"] ?? "")")
        // Resident memory: no growth with the swaps (a generous bound: a leak of the bundle per
        // swap, or of connection buffers, would be far above it).
        for (server, value) in run.object("phases", "soak", "rss") {
            let rss = value as? [String: Any] ?? [:]
            let first = (rss["first_kib"] as? NSNumber)?.intValue ?? 0
            let last = (rss["last_kib"] as? NSNumber)?.intValue ?? Int.max
            #expect(last - first < 32 * 1024, "\(server): \(rss)")
        }
    }

    @Test("every answer checked during the whole drill equalled allot assign's for its version, and no server went back")
    func everyAnswer() async throws {
        let run = try await DrillRun.results()
        #expect(run.int("checker", "failed") == 0, "\(run.value("checker", "examples") ?? "")")
        #expect((run.int("checker", "ok") ?? 0) > 100)
    }

    @Test("every answer the checking client received is in the shipped exposure log exactly once, through every outage")
    func exposures() async throws {
        let run = try await DrillRun.results()
        let phase = run.object("phases", "exposures")
        #expect((run.int("phases", "exposures", "checker_answers") ?? 0) > 100, "\(phase)")
        // The drill's writers run at nice 0 and must drop nothing: a drop would explain a missing
        // record away, so it is a failure of its own.
        let dropped = phase["events_dropped"] as? [String: Any] ?? [:]
        #expect(!dropped.isEmpty && dropped.values.allSatisfy { ($0 as? NSNumber)?.intValue == 0 }, "\(phase)")
        #expect(run.int("phases", "exposures", "missing") == 0, "\(phase)")
        #expect(run.int("phases", "exposures", "duplicates") == 0, "\(phase)")
        // More records than answers only for requests whose answer was lost on the way back.
        #expect(run.int("phases", "exposures", "extra_unexplained") == 0, "\(phase)")
        #expect((run.int("phases", "exposures", "wrk_records") ?? 0) > 0, "\(phase)")
        #expect((phase["spool_leftovers"] as? [Any])?.isEmpty == true, "\(phase)")
    }
}
