import Foundation

/// The report as JSON for tools: keys sorted, two-space indentation, nulls written out, shares
/// as fractions in [0, 1]. The field names are documented in `docs/review.md`.
public enum JSONReport {
    public static func render(_ report: DiffReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
