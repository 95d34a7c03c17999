import AllotCompiler
import AllotCore
import ArgumentParser
import Foundation

struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Validate experiments, allocate traffic and write a signed bundle.",
        discussion: """
            Reads every YAML file under --experiments and the allocation lock beside them. On any \
            error it prints all of them (file:line:column with the source line and a hint) and \
            writes nothing. Otherwise it updates allot.lock and writes the bundle. The same \
            inputs, version, created-at and key always give byte-identical output.
            """)

    @Option(name: .long, help: ArgumentHelp("Directory of experiment files.", valueName: "dir"))
    var experiments = "experiments"

    @Option(name: .long, help: ArgumentHelp("Bundle file to write (default: bundles/<version>.bundle).", valueName: "file"))
    var output: String?

    @Option(name: .long, help: "Bundle version (default: the number of commits at HEAD).")
    var version: UInt64?

    @Option(name: .long, help: ArgumentHelp("Inputs' time, unix seconds or RFC 3339 (default: HEAD's commit time).", valueName: "time"))
    var createdAt: String?

    @OptionGroup var key: SigningKeyOptions

    @Flag(name: .long, help: "Fail without writing anything if allot.lock would change (for CI on pull requests).")
    var locked = false

    @Flag(name: .long, help: "Check everything, write nothing, and need no signing key.")
    var check = false

    func run() throws {
        let revision = (version == nil || createdAt == nil) ? GitRevision.current(in: experiments) : nil
        var createdAtSeconds = revision?.commitTime
        if let createdAt {
            guard let parsed = parseTime(createdAt) else {
                throw CommandFailure(message: "--created-at '\(createdAt)' is neither unix seconds nor an RFC 3339 time")
            }
            createdAtSeconds = parsed
        }
        // --check writes nothing, so the version and created-at only need to be valid numbers:
        // outside git it checks with 0 for both instead of demanding flags that change nothing.
        guard let version = version ?? revision?.commitCount ?? (check ? 0 : nil) else {
            throw CommandFailure(message: "cannot default --version: '\(experiments)' is not in a git repository with commits; pass --version N")
        }
        guard let createdAtSeconds = createdAtSeconds ?? (check ? 0 : nil) else {
            throw CommandFailure(message: "cannot default --created-at: '\(experiments)' is not in a git repository; pass --created-at TIME")
        }
        if let revision, revision.isDirty, self.version == nil, !check {
            Terminal.error("warning: experiments have uncommitted changes; version \(version) is HEAD's commit count, so it may repeat")
        }

        let signingKey = check ? nil : try key.load()
        let result = Compiler.compile(directory: experiments, version: version, createdAt: createdAtSeconds)
        let compiled: Compiler.Output
        switch result {
        case .success(let output): compiled = output
        case .failure(let failure):
            Terminal.error(failure.rendered)
            let errors = failure.diagnostics.filter { $0.severity == .error }.count
            throw CommandFailure(message: "\(errors) error\(errors == 1 ? "" : "s"); nothing was written")
        }
        if !compiled.warnings.isEmpty {
            Terminal.error(DiagnosticRenderer(sources: compiled.sources).render(compiled.warnings))
        }
        let lockPath = experiments + "/" + AllocationLock.fileName
        if locked && compiled.lockChanged {
            throw CommandFailure(
                message: "\(lockPath) would change (--locked): run `allot compile` locally and commit the updated lock; nothing was written")
        }
        guard let signingKey else {
            Terminal.print("ok: \(compiled.project.layers.count) layers, \(compiled.project.experiments.count) experiments; nothing written (--check)")
            return
        }
        let bundle: [UInt8]
        do {
            bundle = try BundleEnvelope.seal(payload: compiled.payload, version: version, createdAt: createdAtSeconds, key: signingKey)
        } catch {
            throw CommandFailure(message: "cannot compress the bundle: \(error)")
        }
        let outputPath = output ?? "bundles/\(version).bundle"
        do {
            let directory = (outputPath as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            if compiled.lockChanged { try FileIO.writeAtomically(Array(compiled.lock.text.utf8), to: lockPath) }
            try FileIO.writeAtomically(bundle, to: outputPath)
        } catch {
            throw CommandFailure(message: "cannot write output: \(error)")
        }
        let experiments = compiled.project.experiments
        let running = experiments.filter { $0.status == .running }.count
        Terminal.print(
            "compiled \(compiled.project.layers.count) layers, \(experiments.count) experiments (\(running) running) → \(outputPath)\n"
                + "  version \(version), created-at \(formatTime(createdAtSeconds)), key \(signingKey.id), "
                + "\(bundle.count) bytes (payload \(compiled.payload.count))\n"
                + "  lock \(compiled.lockChanged ? "updated" : "unchanged"): \(lockPath)")
    }
}
