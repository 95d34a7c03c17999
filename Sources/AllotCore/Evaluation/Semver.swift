/// Semantic versions (semver.org 2.0 precedence), for `semver` attributes such as app versions.
///
/// Parsing is lenient where clients commonly differ: a leading `v` is allowed and missing minor or
/// patch components are zero (`5.2` is `5.2.0`). Build metadata after `+` is ignored, as semver
/// precedence requires.
public struct Semver: Sendable, Equatable, CustomStringConvertible {
    public var major: UInt64
    public var minor: UInt64
    public var patch: UInt64
    /// The pre-release identifiers after `-`, empty when there are none.
    public var prerelease: String

    public init(major: UInt64, minor: UInt64, patch: UInt64, prerelease: String = "") {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
    }

    /// Parses a version; nil when `text` is not one.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Semver.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self.major = parsed.major
        self.minor = parsed.minor
        self.patch = parsed.patch
        let start = parsed.prereleaseStart
        self.prerelease = String(decoding: Array(text.utf8)[start..<(start + parsed.prereleaseLength)], as: UTF8.self)
    }

    public var description: String {
        "\(major).\(minor).\(patch)" + (prerelease.isEmpty ? "" : "-\(prerelease)")
    }

    /// Parsed components; the pre-release is a byte range of the input.
    struct Parsed {
        var major: UInt64
        var minor: UInt64
        var patch: UInt64
        var prereleaseStart: Int
        var prereleaseLength: Int
    }

    /// Parses without allocating.
    static func parse(_ text: UnsafeRawBufferPointer) -> Parsed? {
        var index = 0
        let count = text.count
        if index < count, text[index] == UInt8(ascii: "v") || text[index] == UInt8(ascii: "V") { index += 1 }
        var numbers: (UInt64, UInt64, UInt64) = (0, 0, 0)
        for component in 0..<3 {
            if component > 0 {
                guard index < count, text[index] == UInt8(ascii: ".") else {
                    if component == 1 { break }  // "5" alone
                    if component == 2 { break }  // "5.2"
                    return nil
                }
                index += 1
            }
            var value: UInt64 = 0
            let start = index
            while index < count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (added, overflow2) = multiplied.addingReportingOverflow(UInt64(text[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                value = added
                index += 1
            }
            guard index > start else { return nil }
            switch component {
            case 0: numbers.0 = value
            case 1: numbers.1 = value
            default: numbers.2 = value
            }
        }
        var prereleaseStart = index
        var prereleaseLength = 0
        if index < count, text[index] == UInt8(ascii: "-") {
            index += 1
            prereleaseStart = index
            var identifierLength = 0
            while index < count, text[index] != UInt8(ascii: "+") {
                let byte = text[index]
                if byte == UInt8(ascii: ".") {
                    guard identifierLength > 0 else { return nil }
                    identifierLength = 0
                } else {
                    guard isIdentifierByte(byte) else { return nil }
                    identifierLength += 1
                }
                index += 1
            }
            guard identifierLength > 0 else { return nil }
            prereleaseLength = index - prereleaseStart
        }
        if index < count, text[index] == UInt8(ascii: "+") {
            index += 1
            guard index < count else { return nil }
            while index < count {
                guard isIdentifierByte(text[index]) || text[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
        }
        guard index == count else { return nil }
        return Parsed(
            major: numbers.0, minor: numbers.1, patch: numbers.2, prereleaseStart: prereleaseStart, prereleaseLength: prereleaseLength)
    }

    @inline(__always)
    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "-")
    }

    /// Semver precedence: -1, 0 or 1.
    static func compare(
        _ a: (UInt64, UInt64, UInt64), _ aPre: UnsafeRawBufferPointer,
        _ b: (UInt64, UInt64, UInt64), _ bPre: UnsafeRawBufferPointer
    ) -> Int {
        if a.0 != b.0 { return a.0 < b.0 ? -1 : 1 }
        if a.1 != b.1 { return a.1 < b.1 ? -1 : 1 }
        if a.2 != b.2 { return a.2 < b.2 ? -1 : 1 }
        if aPre.count == 0 || bPre.count == 0 {
            if aPre.count == bPre.count { return 0 }
            return aPre.count == 0 ? 1 : -1  // a release ranks above its pre-releases
        }
        var i = 0
        var j = 0
        while true {
            let aEnd = nextDot(aPre, from: i)
            let bEnd = nextDot(bPre, from: j)
            let result = compareIdentifier(
                UnsafeRawBufferPointer(rebasing: aPre[i..<aEnd]), UnsafeRawBufferPointer(rebasing: bPre[j..<bEnd]))
            if result != 0 { return result }
            let aDone = aEnd >= aPre.count
            let bDone = bEnd >= bPre.count
            if aDone || bDone {
                if aDone && bDone { return 0 }
                return aDone ? -1 : 1  // fewer identifiers rank lower
            }
            i = aEnd + 1
            j = bEnd + 1
        }
    }

    private static func nextDot(_ text: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index < text.count, text[index] != UInt8(ascii: ".") { index += 1 }
        return index
    }

    private static func compareIdentifier(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let aNumeric = a.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        let bNumeric = b.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        switch (aNumeric, bNumeric) {
        case (true, true):
            // Compare numerically without overflow: strip leading zeros, then longer is larger.
            let aDigits = UnsafeRawBufferPointer(rebasing: a[(a.firstIndex(where: { $0 != UInt8(ascii: "0") }) ?? a.count)...])
            let bDigits = UnsafeRawBufferPointer(rebasing: b[(b.firstIndex(where: { $0 != UInt8(ascii: "0") }) ?? b.count)...])
            if aDigits.count != bDigits.count { return aDigits.count < bDigits.count ? -1 : 1 }
            return compareBytes(aDigits, bDigits)
        case (true, false): return -1  // numeric identifiers rank below alphanumeric ones
        case (false, true): return 1
        case (false, false): return compareBytes(a, b)
        }
    }

    /// Semver precedence between two parsed versions: -1, 0 or 1.
    public static func compare(_ a: Semver, _ b: Semver) -> Int {
        var aPre = a.prerelease
        var bPre = b.prerelease
        return aPre.withUTF8 { ap in
            bPre.withUTF8 { bp in
                compare((a.major, a.minor, a.patch), UnsafeRawBufferPointer(ap), (b.major, b.minor, b.patch), UnsafeRawBufferPointer(bp))
            }
        }
    }
}
