/// Collects the diagnostics of one targeting expression, turning spans of the expression into file
/// locations through the caller's `locate`.
struct TargetingDiagnostics {
    private let locate: (Int) -> SourceLocation
    private(set) var diagnostics: [Diagnostic] = []

    init(locate: @escaping (Int) -> SourceLocation) {
        self.locate = locate
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// The file location of `span`: where it starts, as long as it is (at least one column).
    func location(_ span: TargetingSpan) -> SourceLocation {
        var location = locate(span.offset)
        location.length = max(1, span.length)
        return location
    }

    /// `column 7`, or `line 3, column 7` when the expression spans lines, for hints that point
    /// somewhere else than the diagnostic.
    func position(_ offset: Int) -> String {
        let here = locate(offset)
        let start = locate(0)
        return here.line == start.line ? "column \(here.column)" : "line \(here.line), column \(here.column)"
    }

    mutating func error(_ span: TargetingSpan, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: location(span), message, hint: hint))
    }
}
