import AllotCore
import AllotStore
import ArgumentParser
import Foundation

/// `allot publish`: upload a bundle to every region and move each region's signed manifest.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a bundle to every region's store.",
        discussion: """
            Uploads the bundle (content-addressed, immutable) to every store, confirms it, then moves each \
            store's signed manifest.json with conditional writes. A manifest never moves backwards and never \
            names an object that is not there. A region's manifest is believed for ordering only if it \
            verifies with the signing key or a --trusted-key (pass every key the servers trust); one that \
            does not (garbage, forged, tampered) is replaced and reported as repaired. Rerunning is safe. \
            The manifest is signed with its publish time and an expiry (--expires-in, default 3 days) after \
            which servers refuse it; `allot publish --refresh` re-signs the current manifests with a new \
            expiry (a heartbeat, e.g. daily from CI). See docs/storage.md.

            Exit status (docs/cli.md): 0 every region is current; 2 the bundle or key is unusable (nothing \
            was touched); 3 no failure, but some region refused (it has a newer version, or this version with \
            another bundle); 4 some region failed (rerun when it is back); 64 usage error.
            """)

    @Argument(help: "The bundle file made by `allot compile` (none with --refresh).", completion: .file())
    var bundle: String?

    @Flag(
        help:
            "Heartbeat: re-sign every region's current manifest with a new expiry, without a new bundle (run it more often than --expires-in)."
    )
    var refresh = false

    @Option(
        help: ArgumentHelp(
            "How long the signed manifest stays valid; servers refuse it after (\(DurationArgument.help)).", valueName: "duration"),
        transform: DurationArgument.parse)
    var expiresIn: Int64 = Publisher.Options.defaultExpiresIn

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var key: SigningKeyOptions

    @OptionGroup var trust: OptionalTrustedKeyOptions

    @Flag(help: "Move no manifest unless the bundle is confirmed in every region and no region refuses.")
    var allOrNothing = false

    @OptionGroup var output: TextOrJSONFormat

    func validate() throws {
        if refresh && bundle != nil { throw ValidationError("--refresh re-signs what the regions hold: give no bundle file") }
        if !refresh && bundle == nil { throw ValidationError("give the bundle file to publish (or --refresh for a heartbeat)") }
    }

    func run() async throws {
        let key = try self.key.load()
        let trustedKeys = try trust.load(required: false)
        let envelope: [UInt8]
        do {
            envelope = refresh ? [] : try FileIO.read(path: bundle ?? "")
        } catch {
            throw CommandFailure(message: "cannot read the bundle: \(error)", status: .invalidInput)
        }
        let logger = storeOptions.logger("allot.publish")
        // Publishing creates a local store's folder; servers reading a missing folder still
        // report it (a mistyped path must not look like an empty store).
        for store in storeOptions.stores {
            if case .local(let path) = try StoreLocation(parsing: store) {
                try? FileIO.makeDirectories(path)
            }
        }
        let publisher = Publisher(
            stores: try storeOptions.openStores(logger: logger), key: key, trustedKeys: trustedKeys,
            options: .init(requireAllRegions: allOrNothing, expiresIn: expiresIn), logger: logger)
        let report: PublishReport
        if refresh {
            report = await publisher.refresh()
        } else {
            do {
                report = try await publisher.publish(envelope: envelope)
            } catch {
                throw CommandFailure(message: "\(bundle ?? ""): \(error.message) (nothing was published)", status: .invalidInput)
            }
        }
        let status = Self.exitStatus(report)
        if output.isJSON {
            try JSONOutput.print(Output(ok: report.succeeded, exitCode: status.code, report: report))
        } else {
            print(report.text, terminator: "")
        }
        if status != .success { throw CommandFailure(message: "", status: status) }
    }

    /// The report's verdict in the exit-status table: a region that failed or was not attempted
    /// is `unavailable` (rerun when it is back); otherwise a region that refused is `refused`.
    static func exitStatus(_ report: PublishReport) -> ExitStatus {
        if report.succeeded { return .success }
        if report.regions.contains(where: { $0.manifest == .failed || $0.object == .failed || $0.manifest == .notAttempted }) {
            return .unavailable
        }
        return .refused
    }

    struct Output: Encodable {
        let ok: Bool
        let exitCode: Int32
        let report: PublishReport
    }
}
