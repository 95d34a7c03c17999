/// Renders diagnostics the way a good compiler does:
///
/// ```
/// experiments/checkout.yaml:12:10: error: unknown key 'trafic'
///    12 | traffic: 20%
///       |          ^~~
///   hint: did you mean 'traffic'?
/// ```
public struct DiagnosticRenderer: Sendable {
    /// File contents by path, for source lines.
    private let sources: [String: String]

    public init(sources: [String: String]) {
        self.sources = sources
    }

    public func render(_ diagnostic: Diagnostic) -> String {
        var lines = [diagnostic.description]
        if let location = diagnostic.location, let text = sources[location.file] {
            let sourceLines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if location.line >= 1, location.line <= sourceLines.count {
                let line = String(sourceLines[location.line - 1]).replacingTabs()
                let number = String(location.line)
                let gutter = String(repeating: " ", count: number.count)
                lines.append(" \(number) | \(line)")
                let scalarsBefore = max(0, location.column - 1)
                let padding = String(repeating: " ", count: scalarsBefore)
                let available = max(1, line.unicodeScalars.count - scalarsBefore)
                let marker = "^" + String(repeating: "~", count: max(0, min(location.length, available) - 1))
                lines.append(" \(gutter) | \(padding)\(marker)")
            }
        }
        if let hint = diagnostic.hint {
            lines.append("  hint: \(hint)")
        }
        return lines.joined(separator: "\n")
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined(separator: "\n")
    }
}

extension String {
    fileprivate func replacingTabs() -> String {
        String(unicodeScalars.map { $0 == "\t" ? " " : Character($0) })
    }
}

/// The closest candidate by edit distance, for did-you-mean hints; nil when nothing is close.
public func closestMatch(to word: String, in candidates: some Sequence<String>) -> String? {
    let word = Array(word.lowercased().unicodeScalars)
    var best: (String, Int)? = nil
    for candidate in candidates {
        let distance = editDistance(word, Array(candidate.lowercased().unicodeScalars))
        let limit = max(1, min(3, candidate.count / 3 + 1))
        guard distance <= limit else { continue }
        if best == nil || distance < best!.1 || (distance == best!.1 && candidate < best!.0) {
            best = (candidate, distance)
        }
    }
    return best?.0
}

func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], previous[j - 1])  // adjacent transposition, approximated
            }
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
