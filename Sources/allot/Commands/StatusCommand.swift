import AllotCore
import AllotStore
import ArgumentParser
import Foundation

/// `allot status`: what every region serves, and whether they agree.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the published version in every region's store.",
        discussion: """
            For each store: the manifest's version, object, age (since the bundle's created-at), whether its \
            signature verifies with a trusted key (--trusted-key, the key the servers trust) and its object is \
            there with the size, BLAKE2b-256 and signed version the manifest states, or why it could not be read. \
            A manifest older than --min-version is invalid (replayed or rolled back).

            Exit status (docs/cli.md): 0 every region is reachable, valid and at the same version; 1 regions \
            disagree (different versions, or some have none); 2 some region's manifest or bundle is invalid \
            (servers refuse it); 4 some region is unreachable; 64 usage error.
            """)

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var trust: TrustedKeyOptions

    @Option(
        help: ArgumentHelp(
            "A region whose manifest names an older version is invalid: replayed or rolled back (CI passes the version it published).",
            valueName: "version"))
    var minVersion: UInt64 = 0

    @OptionGroup var output: TextOrJSONFormat

    func run() async throws {
        let keys = try trust.load()
        let logger = storeOptions.logger("allot.status")
        let checker = StatusChecker(
            stores: try storeOptions.openStores(logger: logger), trustedKeys: keys, minVersion: minVersion, logger: logger)
        let report = await checker.check(now: Int64(Date().timeIntervalSince1970))
        let status = Self.exitStatus(report)
        if output.isJSON {
            try JSONOutput.print(Output(ok: status == .success, exitCode: status.code, report: report))
        } else {
            print(report.text, terminator: "")
        }
        if status != .success { throw CommandFailure(message: "", status: status) }
    }

    /// The report's verdict in the exit-status table: a region that cannot be read is
    /// `unavailable`; one whose manifest or object is wrong (servers refuse it) is `invalidInput`;
    /// readable regions at different versions `wouldChange` (they disagree).
    static func exitStatus(_ report: StatusReport) -> ExitStatus {
        if report.regions.contains(where: { $0.state != .published && $0.state != .empty && $0.state != .unreachable }) {
            return .invalidInput
        }
        if report.regions.contains(where: { $0.state == .unreachable }) { return .unavailable }
        return report.agree ? .success : .wouldChange
    }

    struct Output: Encodable {
        let ok: Bool
        let exitCode: Int32
        let report: StatusReport
    }
}
