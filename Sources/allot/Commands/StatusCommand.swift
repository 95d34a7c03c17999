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
            present, or why it could not be read.

            Exit status: 0 every region is reachable, valid and at the same version; 3 regions disagree \
            (different versions, or some have none); 4 some region is unreachable or invalid; 64 usage error.
            """)

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var trust: TrustedKeyOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let keys = try trust.load()
        let logger = storeOptions.logger("allot.status")
        let checker = StatusChecker(stores: try storeOptions.openStores(logger: logger), trustedKeys: keys, logger: logger)
        let report = await checker.check(now: Int64(Date().timeIntervalSince1970))
        if json {
            try JSONOutput.print(Output(ok: report.exitCode == 0, exitCode: report.exitCode, report: report))
        } else {
            print(report.text, terminator: "")
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    struct Output: Encodable {
        let ok: Bool
        let exitCode: Int32
        let report: StatusReport
    }
}
