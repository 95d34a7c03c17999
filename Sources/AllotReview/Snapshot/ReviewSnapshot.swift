public import AllotCompiler
public import AllotCore

/// One side of a review: everything a bundle holds, plus what only experiment files know (which
/// experiments acknowledge reassignment, where things are declared).
///
/// Built from a bundle file, from an experiments directory compiled in memory, or from a git
/// revision (see `GitSnapshot`). All three go through the same path: a validated payload read
/// with `LoadedBundle.contents`, so the numbers of `allot diff` never depend on where a side came from.
public struct ReviewSnapshot: Sendable {
    /// Where a side came from.
    public enum Origin: Sendable, Equatable {
        /// A signed bundle file.
        case bundle(path: String)
        /// An experiments directory, compiled in memory with the lock beside it.
        case directory(path: String)
        /// A git revision: `name` as given, the commit it resolved to, and the experiments
        /// directory inside the repository.
        case revision(name: String, commit: String, directory: String)
    }

    public var origin: Origin
    /// What the bundle holds (experiments carry variant runs, not expanded variant buckets).
    public var contents: BundleContents
    /// The ids each segment lists, by segment name.
    public var segmentIDs: [String: [String]]
    /// Experiments whose file says `acknowledge: [reassignment]`; nil when the side is a bundle
    /// (bundles do not carry acknowledgements).
    public var acknowledged: Set<String>?
    /// Holdouts, layers and segments whose file says `acknowledge: [reassignment]`, by kind
    /// (`holdout`, `layer`, `segment`): a change of theirs may move the units of the experiments
    /// it affects. Empty when the side is a bundle.
    public var acknowledgedChanges: [String: Set<String>] = [:]
    /// Where each experiment is declared, when the side came from files.
    public var experimentLocations: [String: SourceLocation]

    /// A short label for reports: the path or revision name.
    public var label: String {
        switch origin {
        case .bundle(let path): return path
        case .directory(let path): return path
        case .revision(let name, _, _): return name
        }
    }

    public init(
        origin: Origin, bundle: LoadedBundle, acknowledged: Set<String>? = nil, experimentLocations: [String: SourceLocation] = [:]
    ) {
        self.origin = origin
        self.contents = bundle.contents(expandingVariantBuckets: false)
        var ids: [String: [String]] = [:]
        for (index, segment) in contents.segments.enumerated() { ids[segment.name] = bundle.segmentIDs(index) }
        self.segmentIDs = ids
        self.acknowledged = acknowledged
        self.experimentLocations = experimentLocations
    }

    /// A side from a compiler output: the payload is validated exactly as a loaded bundle's is.
    public init(origin: Origin, compiled: Compiler.Output) throws(ReviewError) {
        let bundle: LoadedBundle
        do {
            bundle = try LoadedBundle.open(unsignedPayload: compiled.payload)
        } catch {
            throw ReviewError("the compiled payload does not validate: \(error.message) (this is a compiler bug)")
        }
        var acknowledged = Set<String>()
        var locations: [String: SourceLocation] = [:]
        for experiment in compiled.project.experiments {
            if experiment.declaration.acknowledgesReassignment { acknowledged.insert(experiment.name) }
            locations[experiment.name] = experiment.declaration.name.location
        }
        self.init(origin: origin, bundle: bundle, acknowledged: acknowledged, experimentLocations: locations)
        let project = compiled.project
        acknowledgedChanges = [
            "holdout": Set(project.holdouts.filter(\.declaration.acknowledgesReassignment).map(\.name)),
            "layer": Set(project.layers.filter(\.acknowledgesReassignment).map(\.name)),
            "segment": Set(project.segments.filter(\.declaration.acknowledgesReassignment).map(\.name)),
        ]
    }

    /// Reads and verifies a bundle file.
    public static func load(bundleAt path: String, trustedKeys: [PublicKey]) throws(ReviewError) -> ReviewSnapshot {
        do {
            let bundle = try LoadedBundle.load(path: path, trustedKeys: trustedKeys)
            return ReviewSnapshot(origin: .bundle(path: path), bundle: bundle)
        } catch {
            throw ReviewError("\(path) is not a valid bundle: \(error.message) [\(error.code.rawValue)]")
        }
    }

    /// Compiles an experiments directory (its YAML files and `allot.lock`) in memory.
    public static func compile(directory: String) throws(ReviewError) -> ReviewSnapshot {
        try compile(directory: directory, origin: .directory(path: directory), displayPrefix: nil)
    }

    /// Compiles `directory`; diagnostics show `displayPrefix` in place of the directory path.
    static func compile(directory: String, origin: Origin, displayPrefix: (path: String, shown: String)?) throws(ReviewError)
        -> ReviewSnapshot
    {
        switch Compiler.compile(directory: directory, version: 0, createdAt: 0) {
        case .success(let output):
            return try ReviewSnapshot(origin: origin, compiled: output)
        case .failure(let failure):
            var rendered = failure.rendered
            if let displayPrefix { rendered = rendered.replacing(displayPrefix.path, with: displayPrefix.shown) }
            let errors = failure.diagnostics.filter { $0.severity == .error }.count
            let name: String
            switch origin {
            case .revision(let revision, _, _): name = "the experiments at \(revision)"
            default: name = "'\(directory)'"
            }
            throw ReviewError("\(name) do not compile (\(errors) error\(errors == 1 ? "" : "s"))", details: rendered)
        }
    }
}
