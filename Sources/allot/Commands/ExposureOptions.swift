import AllotExposures
import AllotStore
import ArgumentParser
import Foundation

/// `allot serve`'s exposure log flags (docs/exposures.md, docs/server.md "Exposure log"). The log
/// is on when `--exposure-spool` or `--exposure-store` is given.
struct ExposureOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Write the exposure log: segments are written into this folder (default with --exposure-store: .allot/exposure-spool).",
            valueName: "dir"))
    var exposureSpool: String?

    @Option(
        help: ArgumentHelp(
            "Ship exposure segments to this store (a folder, file:///path or s3://bucket/prefix?...), not one of the bundle stores.",
            valueName: "url"))
    var exposureStore: String?

    @Option(help: ArgumentHelp("The region this server runs in, carried by every exposure (required with the log).", valueName: "name"))
    var region: String?

    @Option(help: ArgumentHelp("This server's id in exposures and segment names (default: the host name).", valueName: "id"))
    var serverID: String?

    @Flag(help: "Also log decisions that gave the defaults (targeting miss, holdout, paused...), with variant null.")
    var exposureLogDefaults = false

    @Option(help: ArgumentHelp("Bytes of each worker thread's exposure buffer; events beyond are dropped and counted.", valueName: "bytes"))
    var exposureBufferBytes = 4 << 20

    @Option(help: ArgumentHelp("Bytes the exposure spool may hold; events beyond are dropped and counted.", valueName: "bytes"))
    var exposureSpoolBytes = 1 << 30

    @Option(help: ArgumentHelp("Largest exposure segment in (compressed) bytes.", valueName: "bytes"))
    var exposureSegmentBytes = 16 << 20

    @Option(help: ArgumentHelp("Seconds an exposure segment stays open before it is closed and shipped.", valueName: "seconds"))
    var exposureSegmentAge: Double = 60

    @Option(help: ArgumentHelp("Seconds between the exposure writer's flushes to the spool (what a crash can lose).", valueName: "seconds"))
    var exposureFlushInterval: Double = 0.05

    @Option(help: ArgumentHelp("On SIGTERM, seconds given to shipping the last exposure segments.", valueName: "seconds"))
    var exposureShipGrace: Double = 10

    @Option(
        help: ArgumentHelp(
            "Nice value of the exposure writer thread (0-19): high, it yields to requests when the CPU is saturated and drops events instead.",
            valueName: "n"))
    var exposureWriterNice: Int32 = ExposureConfiguration.defaultWriterNice

    /// The spool used when only `--exposure-store` is given.
    static let defaultSpool = ".allot/exposure-spool"

    var isEnabled: Bool { exposureSpool != nil || exposureStore != nil }

    func validate() throws {
        guard isEnabled else {
            let given = [
                region.map { _ in "--region" }, serverID.map { _ in "--server-id" }, exposureLogDefaults ? "--exposure-log-defaults" : nil,
            ].compactMap { $0 }
            if !given.isEmpty {
                throw ValidationError(
                    "\(given.joined(separator: ", ")) need the exposure log: add --exposure-spool DIR and/or --exposure-store URL")
            }
            return
        }
        if let exposureStore {
            do {
                _ = try StoreLocation(parsing: exposureStore)
            } catch {
                throw ValidationError("--exposure-store: \(error.message)")
            }
        }
        guard region != nil else { throw ValidationError("--region NAME is required with the exposure log (records and keys carry it)") }
        do {
            try configuration().validate()
        } catch let error as ExposureError {
            throw ValidationError(error.message)
        }
    }

    /// Refuses an exposure store that is one of the bundle stores: servers should only read those.
    func validate(bundleStores: [String]) throws {
        guard let exposureStore else { return }
        let exposures = try StoreLocation(parsing: exposureStore).description
        for store in bundleStores where (try? StoreLocation(parsing: store).description) == exposures {
            throw ValidationError("--exposure-store must not be a bundle store (\(store)): edge servers should only read bundle stores")
        }
    }

    /// The log's configuration (call when `isEnabled`).
    func configuration() throws -> ExposureConfiguration {
        var configuration = ExposureConfiguration(
            spoolDirectory: exposureSpool ?? Self.defaultSpool, region: region ?? "", serverID: serverID ?? Self.hostName())
        configuration.logDefaults = exposureLogDefaults
        configuration.bufferBytes = exposureBufferBytes
        configuration.spoolLimitBytes = exposureSpoolBytes
        configuration.segmentMaxBytes = exposureSegmentBytes
        configuration.segmentMaxAge = ServeCommand.duration(exposureSegmentAge)
        configuration.flushInterval = ServeCommand.duration(exposureFlushInterval)
        configuration.shipGrace = ServeCommand.duration(max(0, exposureShipGrace))
        configuration.writerNice = exposureWriterNice
        return configuration
    }

    /// The host name, as the default server id.
    static func hostName() -> String {
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "allot"
    }
}
