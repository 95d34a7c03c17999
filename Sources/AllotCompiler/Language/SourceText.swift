internal import Synchronization
internal import Yams

/// An experiment file as read from disk.
public struct SourceFile: Sendable {
    /// The path shown in diagnostics.
    public var path: String
    /// The file's text.
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

/// The lines of a file, split on first use: most files compile without a diagnostic, and a
/// locator is only asked for lines when one is reported. The cache is filled under a lock, so
/// declarations holding a locator can be read from several threads.
final class LineIndex: Sendable {
    private let text: String
    private let cache = Mutex<[Substring]?>(nil)

    init(_ text: String) {
        self.text = text
    }

    var lines: [Substring] {
        cache.withLock { cached in
            if let cached { return cached }
            var result: [Substring] = []
            var start = text.utf8.startIndex
            for index in text.utf8.indices where text.utf8[index] == UInt8(ascii: "\n") {
                result.append(text[start..<index])
                start = text.utf8.index(after: index)
            }
            result.append(text[start...])
            cached = result
            return result
        }
    }
}

/// Positions of a scalar's characters in its file, worked out on first use under a lock.
private final class ScalarPositions: Sendable {
    private let cache = Mutex<[(line: Int, column: Int)]?>(nil)

    func get(_ build: () -> [(line: Int, column: Int)]) -> [(line: Int, column: Int)] {
        cache.withLock { cached in
            if let cached { return cached }
            let built = build()
            cached = built
            return built
        }
    }
}

/// Locations of YAML nodes in their file.
struct NodeLocator {
    let file: String
    private let index: LineIndex

    var lines: [Substring] { index.lines }

    init(_ source: SourceFile) {
        self.file = source.path
        self.index = LineIndex(source.text)
    }

    /// Where `node` starts, spanning its text when it is a one-line scalar.
    func location(of node: Node) -> SourceLocation {
        guard let mark = node.mark else { return SourceLocation(file: file, line: 1, column: 1) }
        var length = 1
        if let scalar = node.scalar {
            let text = scalar.string
            let oneLine = !text.utf8.contains(UInt8(ascii: "\n"))
            switch scalar.style {
            case .plain:
                length = oneLine ? text.unicodeScalars.count : 1
            case .singleQuoted, .doubleQuoted:
                length = oneLine ? text.unicodeScalars.count + 2 : 1
            default:
                length = 1
            }
        }
        return SourceLocation(file: file, line: mark.line, column: mark.column, length: length)
    }

    /// Where `key:` appears next after `mark` (block or flow style), for duplicate-key errors.
    func nextOccurrence(ofKey key: String, after mark: Mark) -> SourceLocation? {
        var line = mark.line - 1
        var startColumn = mark.column  // skip the first occurrence itself
        while line < lines.count {
            let scalars = Array(lines[line].unicodeScalars)
            let keyScalars = Array(key.unicodeScalars)
            var column = startColumn
            while column + keyScalars.count <= scalars.count {
                if Array(scalars[column..<(column + keyScalars.count)]) == keyScalars {
                    var after = column + keyScalars.count
                    while after < scalars.count, scalars[after] == " " { after += 1 }
                    let before = column == 0 ? " " : scalars[column - 1]
                    if after < scalars.count, scalars[after] == ":", before == " " || before == "{" || before == "," || before == "\t" {
                        return SourceLocation(file: file, line: line + 1, column: column + 1, length: keyScalars.count)
                    }
                }
                column += 1
            }
            line += 1
            startColumn = 0
        }
        return nil
    }

    /// The column of the first tab in the leading whitespace of `line` (1-based), if any.
    func tabInIndentation(line: Int) -> Int? {
        guard line >= 1, line <= lines.count else { return nil }
        var column = 1
        for scalar in lines[line - 1].unicodeScalars {
            if scalar == "\t" { return column }
            guard scalar == " " else { return nil }
            column += 1
        }
        return nil
    }

    func location(line: Int, column: Int, length: Int = 1) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column, length: length)
    }

    /// Maps a Unicode-scalar offset inside a scalar's value to its place in the file, by aligning
    /// the value with the raw text from the scalar's start (this follows quotes, escapes, folded
    /// and literal block scalars closely enough for a caret).
    func scalarLocator(for node: Node) -> @Sendable (Int) -> SourceLocation {
        let start = location(of: node)
        guard let scalar = node.scalar, node.mark != nil else { return { _ in start } }
        // What the positions need from the node, taken now: the closure keeps no Yams node.
        let value = scalar.string
        let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
        let block = scalar.style == .literal || scalar.style == .folded
        // Built on first use: targeting that compiles cleanly never asks for a position.
        let positions = ScalarPositions()
        let locator = self
        return { offset in
            let positions = positions.get { locator.positions(of: value, from: start, quoted: quoted, block: block) }
            if offset >= 0, offset < positions.count {
                return SourceLocation(file: locator.file, line: positions[offset].line, column: positions[offset].column)
            }
            if offset == positions.count, let last = positions.last {
                return SourceLocation(file: locator.file, line: last.line, column: last.column + 1)
            }
            return start
        }
    }

    /// Where each Unicode scalar of a scalar's `value` is in the file, for a scalar starting at
    /// `start` (`quoted`: after its opening quote; `block`: literal or folded, on the next lines).
    private func positions(of text: String, from start: SourceLocation, quoted: Bool, block: Bool) -> [(line: Int, column: Int)] {
        let value = Array(text.unicodeScalars)
        var positions: [(line: Int, column: Int)] = []
        positions.reserveCapacity(value.count + 1)
        var line = start.line - 1
        var column = start.column - 1
        var raw: [Unicode.Scalar] = line < lines.count ? Array(lines[line].unicodeScalars) : []
        if quoted {
            column += 1
        } else if block {
            line += 1
            column = 0
            raw = line < lines.count ? Array(lines[line].unicodeScalars) : []
        }
        func advanceLine() -> Bool {
            line += 1
            column = 0
            guard line < lines.count else { return false }
            raw = Array(lines[line].unicodeScalars)
            return true
        }
        outer: for character in value {
            while true {
                if column >= raw.count {
                    if character == "\n" || character == " " {
                        positions.append((line + 1, column + 1))
                        if !advanceLine() { break outer }
                        while column < raw.count, raw[column] == " " || raw[column] == "\t" { column += 1 }
                        continue outer
                    }
                    if !advanceLine() { break outer }
                    while column < raw.count, raw[column] == " " || raw[column] == "\t" { column += 1 }
                    continue
                }
                if raw[column] == character {
                    positions.append((line + 1, column + 1))
                    column += 1
                    continue outer
                }
                column += 1
            }
        }
        return positions
    }
}

/// Reads a YAML mapping, remembering which keys were used so unknown keys can be reported with a
/// did-you-mean hint, and rejecting duplicate keys (which YAML parsers silently accept).
struct MappingReader {
    let node: Node
    let locator: NodeLocator
    private(set) var entries: [(key: String, keyNode: Node, value: Node)] = []
    /// The keys alone, in order: lookups scan these without touching (copying) any node.
    private var keys: [String] = []

    init?(_ node: Node, _ locator: NodeLocator, context: String, _ diagnostics: inout DiagnosticBag) {
        guard let mapping = node.mapping else {
            diagnostics.error(
                at: locator.location(of: node), "\(context) must be a mapping of keys to values", hint: "write it as `key: value` lines")
            return nil
        }
        self.node = node
        self.locator = locator
        entries.reserveCapacity(mapping.count)
        keys.reserveCapacity(mapping.count)
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                diagnostics.error(at: locator.location(of: keyNode), "keys in \(context) must be plain strings")
                continue
            }
            if let index = keys.firstIndex(of: key) {
                let firstLine = entries[index].keyNode.mark.map { " (first defined on line \($0.line))" } ?? ""
                diagnostics.error(
                    at: locator.location(of: keyNode), "duplicate key '\(key)' in \(context)\(firstLine)",
                    hint: "remove one of them; YAML keeps only the last silently")
                continue
            }
            keys.append(key)
            entries.append((key, keyNode, value))
        }
    }

    // Mappings are small: a scan that copies only the node it returns beats hashing.
    subscript(_ key: String) -> Node? {
        keys.firstIndex(of: key).map { entries[$0].value }
    }

    func keyNode(_ key: String) -> Node? {
        keys.firstIndex(of: key).map { entries[$0].keyNode }
    }

    /// Reports every key not in `known`, suggesting the closest known key.
    func reportUnknownKeys(known: [String], context: String, _ diagnostics: inout DiagnosticBag) {
        for entry in entries where !known.contains(entry.key) {
            let hint: String
            if let suggestion = closestMatch(to: entry.key, in: known) {
                hint = "did you mean '\(suggestion)'?"
            } else {
                hint = "\(context) accepts: \(known.joined(separator: ", "))"
            }
            diagnostics.error(at: locator.location(of: entry.keyNode), "unknown key '\(entry.key)' in \(context)", hint: hint)
        }
    }
}

extension Node {
    /// Whether the node is YAML null (`~`, `null` or empty).
    var isNull: Bool {
        guard let scalar, scalar.style == .plain else { return false }
        switch scalar.string {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }
}
