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
            writes nothing. Otherwise it updates allot.lock and, given a signing key, writes the \
            bundle; without a key (and without --output) it updates the lock only, which is all \
            an experiment owner needs before committing a change. The same inputs, version, \
            created-at and key always give byte-identical output.

            --bucketing-scheme switches how units are hashed into buckets (docs/bundle-format.md \
            §3): a project without allot.lock starts on scheme 2, an existing lock keeps its scheme, \
            and switching moves every unit, so it is only done on request and recorded in the lock.

            Exit status (docs/cli.md): 0 done; 1 --locked and allot.lock would change; 2 the \
            experiments have errors or the key is unreadable; 4 writing failed; 64 usage error \
            (--output without a signing key, no --version outside git).
            """)

    @Option(name: .long, help: ArgumentHelp("Directory of experiment files.", valueName: "dir"))
    var experiments = "experiments"

    @Option(name: .long, help: ArgumentHelp("Bundle file to write (default: bundles/<version>.bundle).", valueName: "file"))
    var output: String?

    @Option(name: .long, help: "Bundle version (default: the number of commits at HEAD).")
    var version: UInt64?

    @Option(
        name: .long, help: ArgumentHelp("Inputs' time, \(TimeArgument.help) (default: HEAD's commit time).", valueName: "time"),
        transform: TimeArgument.parse)
    var createdAt: Int64?

    @OptionGroup var key: SigningKeyOptions

    @Flag(name: .long, help: "Fail without writing anything if allot.lock would change (for CI on pull requests).")
    var locked = false

    @Flag(name: .long, help: "Check everything and write nothing, not even allot.lock.")
    var check = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Switch the project to bucketing scheme 1 or 2 (recorded in allot.lock; every unit may be reassigned).", valueName: "n"),
        transform: { text in
            guard let number = Int(text), let scheme = BucketingScheme(rawValue: number) else {
                throw ValidationError("--bucketing-scheme must be 1 or 2")
            }
            return scheme
        })
    var bucketingScheme: BucketingScheme?

    func run() throws {
        // Without a key (and without --output, which asks for a bundle) compile checks the
        // experiments and updates allot.lock only: what an experiment owner, who never holds the
        // signing key, runs before committing a change. CI passes the key and --output.
        let signingKey: SigningKey?
        if check {
            signingKey = nil
        } else if key.isGiven || output != nil {
            signingKey = try key.load()
        } else {
            signingKey = nil
        }
        let writesBundle = signingKey != nil
        let revision = (version == nil || createdAt == nil) ? GitRevision.current(in: experiments) : nil
        let createdAtSeconds = createdAt ?? revision?.commitTime
        // Only a bundle records the version and created-at: without one they need not come from
        // flags or git (0 for both), so checking works outside git too.
        guard let version = version ?? revision?.commitCount ?? (writesBundle ? nil : 0) else {
            throw CommandFailure(
                message: "cannot default --version: '\(experiments)' is not in a git repository with commits; pass --version N",
                status: .usage)
        }
        guard let createdAtSeconds = createdAtSeconds ?? (writesBundle ? nil : 0) else {
            throw CommandFailure(
                message: "cannot default --created-at: '\(experiments)' is not in a git repository; pass --created-at TIME", status: .usage)
        }
        if let revision, revision.isDirty, self.version == nil, writesBundle {
            Terminal.error("warning: experiments have uncommitted changes; version \(version) is HEAD's commit count, so it may repeat")
        }

        let result = Compiler.compile(
            directory: experiments, version: version, createdAt: createdAtSeconds, bucketingScheme: bucketingScheme)
        let compiled: Compiler.Output
        switch result {
        case .success(let output): compiled = output
        case .failure(let failure):
            Terminal.error(failure.rendered)
            let errors = failure.diagnostics.filter { $0.severity == .error }.count
            throw CommandFailure(message: "\(Plural.count(errors, "error")); nothing was written", status: .invalidInput)
        }
        if !compiled.warnings.isEmpty {
            Terminal.error(DiagnosticRenderer(sources: compiled.sources).render(compiled.warnings))
        }
        if compiled.hadLockFile, compiled.lock.bucketingScheme != compiled.previousLock.bucketingScheme {
            Terminal.error(
                "warning: bucketing scheme \(compiled.previousLock.bucketingScheme) → \(compiled.lock.bucketingScheme): "
                    + "every unit may be reassigned in every layer (`allot diff` shows the shares)")
        }
        let lockPath = experiments + "/" + AllocationLock.fileName
        if locked && compiled.lockChanged {
            let changes =
                compiled.hadLockFile
                ? compiled.lock.changes(from: compiled.previousLock) : ["\(lockPath) does not exist; it would be created"]
            // The same allocation written differently (reordered or hand-edited) still changes the file.
            let lines = changes.isEmpty ? ["the allocation is the same, but the file's text differs from what allot writes"] : changes
            Terminal.error("\(lockPath) would change:\n" + lines.map { "  " + $0 }.joined(separator: "\n"))
            throw CommandFailure(
                message:
                    "\(lockPath) would change (--locked); nothing was written: run `allot compile` (no key needed) and commit the lock",
                status: .wouldChange)
        }
        let summary =
            "\(Plural.count(compiled.project.layers.count, "layer")), \(Plural.count(compiled.project.experiments.count, "experiment"))"
        if check {
            Terminal.print("ok: \(summary); nothing written (--check)")
            return
        }
        guard let signingKey else {
            if compiled.lockChanged {
                do {
                    try FileIO.writeAtomically(Array(compiled.lock.text.utf8), to: lockPath)
                } catch {
                    throw CommandFailure(message: "cannot write \(lockPath): \(error)", status: .unavailable)
                }
            }
            Terminal.print(
                "ok: \(summary); lock \(compiled.lockChanged ? "updated" : "unchanged"): \(lockPath)\n"
                    + "  no bundle written: no signing key (pass --signing-key FILE or set \(SigningKey.environmentVariable) to write one)")
            return
        }
        let bundle: [UInt8]
        do {
            bundle = try BundleEnvelope.seal(payload: compiled.payload, version: version, createdAt: createdAtSeconds, key: signingKey)
        } catch {
            throw CommandFailure(message: "cannot compress the bundle: \(error)", status: .unavailable)
        }
        let outputPath = output ?? "bundles/\(version).bundle"
        do {
            let directory = (outputPath as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileIO.makeDirectories(directory) }
            if compiled.lockChanged { try FileIO.writeAtomically(Array(compiled.lock.text.utf8), to: lockPath) }
            try FileIO.writeAtomically(bundle, to: outputPath)
        } catch {
            throw CommandFailure(message: "cannot write output: \(error)", status: .unavailable)
        }
        let experiments = compiled.project.experiments
        let running = experiments.filter { $0.status == .running }.count
        Terminal.print(
            "compiled \(summary) (\(running) running) → \(outputPath)\n"
                + "  version \(version), created-at \(TimeArgument.format(createdAtSeconds)), key \(signingKey.id), "
                + "\(bundle.count) bytes (payload \(compiled.payload.count))\n"
                + "  lock \(compiled.lockChanged ? "updated" : "unchanged"): \(lockPath)")
    }
}
