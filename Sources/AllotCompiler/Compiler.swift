public import AllotCore
import Foundation

/// The compiler front end: reads an experiments directory, checks it, allocates traffic against
/// the lock and lays out the payload. Pure: it reads files but writes nothing; the caller writes
/// the bundle and lock only when compilation succeeded.
public enum Compiler {
    /// The outcome of a successful compilation.
    public struct Output: Sendable {
        public var project: CheckedProject
        /// The lock after allocation.
        public var lock: AllocationLock
        /// The lock as it was on disk (empty when there was none).
        public var previousLock: AllocationLock
        /// Whether a lock file existed.
        public var hadLockFile: Bool
        /// The decompressed payload.
        public var payload: [UInt8]
        /// Warnings found while compiling.
        public var warnings: [Diagnostic]
        /// File contents by path, for rendering diagnostics.
        public var sources: [String: String]

        /// Whether the lock text would change on disk.
        public var lockChanged: Bool { !hadLockFile || lock.text != previousLockText }
        var previousLockText: String
    }

    /// A failed compilation: every diagnostic, and the sources to render them against.
    public struct Failure: Error, Sendable {
        public var diagnostics: [Diagnostic]
        public var sources: [String: String]

        public var rendered: String { DiagnosticRenderer(sources: sources).render(diagnostics) }
    }

    /// Compiles `directory` (every `*.yaml`/`*.yml` below it, plus `allot.lock`).
    ///
    /// The bucketing scheme is the lock's (scheme 1 for a lock without one); a directory without a
    /// lock file starts on `BucketingScheme.newProjectDefault`. `bucketingScheme`, when given,
    /// switches the project to that scheme: every unit may move, so only an explicit request does it.
    public static func compile(
        directory: String, version: UInt64, createdAt: Int64, bucketingScheme: BucketingScheme? = nil
    ) -> Result<Output, Failure> {
        var encodingDiagnostics: [Diagnostic] = []
        let sourcesResult = loadSources(directory: directory, encodingDiagnostics: &encodingDiagnostics)
        guard case .success(let files) = sourcesResult else {
            if case .failure(let failure) = sourcesResult { return .failure(failure) }
            fatalError("unreachable")
        }
        var sources = Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.text) })
        let lockPath = join(directory, AllocationLock.fileName)
        var previousLock = AllocationLock()
        var previousLockText = ""
        var hadLockFile = false
        if FileManager.default.fileExists(atPath: lockPath) {
            hadLockFile = true
            let data: [UInt8]
            switch SourceDecoder.read(lockPath) {
            case .success(let bytes): data = bytes
            case .failure(let diagnostic): return .failure(Failure(diagnostics: [diagnostic], sources: sources))
            }
            let decoded = SourceDecoder.decode(data, path: lockPath)
            if let diagnostic = decoded.diagnostic {
                sources[lockPath] = decoded.text
                return .failure(Failure(diagnostics: DiagnosticBag(encodingDiagnostics + [diagnostic]).sorted, sources: sources))
            }
            let text = decoded.text
            sources[lockPath] = text
            previousLockText = text
            switch AllocationLock.parse(SourceFile(path: lockPath, text: text), bucketCount: Bucketing.bucketCount) {
            case .success(let lock): previousLock = lock
            case .failure(let failure): return .failure(Failure(diagnostics: failure.diagnostics, sources: sources))
            }
        }
        if !hadLockFile { previousLock.bucketingScheme = BucketingScheme.newProjectDefault }
        var allocationBase = previousLock
        if let bucketingScheme { allocationBase.bucketingScheme = bucketingScheme }
        switch compile(files: files, lock: allocationBase, version: version, createdAt: createdAt) {
        case .success(let output) where !encodingDiagnostics.isEmpty:
            return .failure(Failure(diagnostics: DiagnosticBag(encodingDiagnostics + output.warnings).sorted, sources: sources))
        case .success(var output):
            output.previousLock = previousLock
            output.hadLockFile = hadLockFile
            output.previousLockText = previousLockText
            output.sources = sources
            return .success(output)
        case .failure(var failure):
            failure.sources.merge(sources) { a, _ in a }
            failure.diagnostics = DiagnosticBag(encodingDiagnostics + failure.diagnostics).sorted
            return .failure(failure)
        }
    }

    /// Compiles in-memory files against a lock. Id files named by segments are read from disk
    /// relative to the declaring file.
    public static func compile(files: [SourceFile], lock: AllocationLock, version: UInt64, createdAt: Int64) -> Result<Output, Failure> {
        var sources = Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.text) })
        var parser = DeclarationParser(readIDFile: readIDFile)
        for file in files { parser.parse(file) }
        var checker = ProjectChecker()
        let project = checker.check(parser.declarations)
        var all = parser.diagnostics
        all.append(contentsOf: checker.diagnostics.diagnostics)
        for diagnostic in all.diagnostics {
            if let file = diagnostic.location?.file, sources[file] == nil, let text = readText(file) { sources[file] = text }
        }
        guard let project, !all.hasErrors else {
            return .failure(Failure(diagnostics: all.sorted, sources: sources))
        }
        let next = Allocator.allocate(project, previous: lock)
        let payload = PayloadBuilder.build(project, lock: next, version: version, createdAt: createdAt)
        return .success(
            Output(
                project: project, lock: next, previousLock: lock, hadLockFile: false, payload: payload,
                warnings: all.sorted.filter { $0.severity == .warning }, sources: sources, previousLockText: ""))
    }

    /// Every experiment file below `directory`, sorted by path. A file that is not UTF-8 is
    /// decoded as well as possible and its error appended to `encodingDiagnostics`.
    static func loadSources(directory: String, encodingDiagnostics: inout [Diagnostic]) -> Result<[SourceFile], Failure> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return .failure(
                Failure(
                    diagnostics: [
                        Diagnostic(at: nil, "experiments directory '\(directory)' does not exist", hint: "pass --experiments DIR")
                    ],
                    sources: [:]))
        }
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else {
            return .failure(Failure(diagnostics: [Diagnostic(at: nil, "cannot list '\(directory)'")], sources: [:]))
        }
        var paths: [String] = []
        for case let relative as String in enumerator where relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") {
            paths.append(join(directory, relative))
        }
        var files: [SourceFile] = []
        var diagnostics: [Diagnostic] = []
        for path in paths.sorted() {
            let data: [UInt8]
            switch SourceDecoder.read(path) {
            case .success(let bytes): data = bytes
            case .failure(let diagnostic):
                diagnostics.append(diagnostic)
                continue
            }
            let decoded = SourceDecoder.decode(data, path: path)
            if let diagnostic = decoded.diagnostic {
                // Compiled anyway (as decoded) so every other error in the project is reported too.
                encodingDiagnostics.append(diagnostic)
            }
            files.append(SourceFile(path: path, text: decoded.text))
        }
        if !diagnostics.isEmpty { return .failure(Failure(diagnostics: diagnostics + encodingDiagnostics, sources: [:])) }
        return .success(files)
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func readText(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    /// Reads an id file: one id per line; blank lines and lines starting with `#` are skipped;
    /// surrounding spaces trimmed.
    static func readIDFile(declaringFile: String, relativePath: String) -> Result<[Located<String>], Diagnostic> {
        let base = (declaringFile as NSString).deletingLastPathComponent
        let path = relativePath.hasPrefix("/") ? relativePath : join(base.isEmpty ? "." : base, relativePath)
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(
                Diagnostic(
                    at: SourceLocation(file: declaringFile, line: 1, column: 1), "cannot read id file '\(path)'",
                    hint: "idsFile is relative to the file that declares the segment"))
        }
        var ids: [Located<String>] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = line[...]
            while let first = bytes.first, first == 32 || first == 9 { bytes = bytes.dropFirst() }
            while let last = bytes.last, last == 32 || last == 9 || last == 13 { bytes = bytes.dropLast() }
            if bytes.isEmpty || bytes.first == UInt8(ascii: "#") { continue }
            guard bytes.count <= Bucketing.maxUnitIDLength, let id = String(bytes: bytes, encoding: .utf8) else {
                return .failure(
                    Diagnostic(
                        at: SourceLocation(file: path, line: lineNumber, column: 1), "invalid unit id",
                        hint: "ids are UTF-8 text of at most \(Bucketing.maxUnitIDLength) bytes, one per line"))
            }
            ids.append(Located(id, at: SourceLocation(file: path, line: lineNumber, column: 1, length: id.unicodeScalars.count)))
        }
        return .success(ids)
    }
}
