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
            names an object that is not there. Rerunning is safe. See docs/storage.md.

            Exit status: 0 every region is current; 2 some region failed (rerun when it is back); \
            3 no failure but some region refused (it has a newer version, or this version with another bundle); \
            1 the bundle or key is unusable (nothing was touched); 64 usage error.
            """)

    @Argument(help: "The bundle file made by `allot compile`.", completion: .file())
    var bundle: String

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var key: SigningKeyOptions

    @Flag(help: "Move no manifest unless the bundle is confirmed in every region and no region refuses.")
    var allOrNothing = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let key = try self.key.load()
        let envelope: [UInt8]
        do {
            envelope = try FileIO.read(path: bundle)
        } catch {
            throw CommandFailure("cannot read the bundle: \(error)")
        }
        let logger = storeOptions.logger("allot.publish")
        // Publishing creates a local store's folder; servers reading a missing folder still
        // report it (a mistyped path must not look like an empty store).
        for store in storeOptions.stores {
            if case .local(let path) = try StoreLocation(parsing: store) {
                try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
        }
        let publisher = Publisher(
            stores: try storeOptions.openStores(logger: logger), key: key, options: .init(requireAllRegions: allOrNothing), logger: logger)
        let report: PublishReport
        do {
            report = try await publisher.publish(envelope: envelope)
        } catch {
            throw CommandFailure("\(bundle): \(error.message) (nothing was published)")
        }
        if json {
            try JSONOutput.print(Output(ok: report.succeeded, exitCode: report.exitCode, report: report))
        } else {
            print(report.text, terminator: "")
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    struct Output: Encodable {
        let ok: Bool
        let exitCode: Int32
        let report: PublishReport
    }
}
