import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// `RFC3339` is the one reader and writer of times (experiment files, `--at`, reports, logs):
/// checked against Foundation's ISO 8601 formatter, an independent implementation.
struct RFC3339Tests {
    static var foundation: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }

    @Test func formatAndParseAgreeWithFoundationOnRandomTimes() {
        var random = SeededRandom(seed: 3339)
        let foundation = Self.foundation
        // 1900-01-01 to 2200-01-01, both directions of the epoch.
        let low: Int64 = -2_208_988_800
        let high: Int64 = 7_258_118_400
        for _ in 0..<5000 {
            let seconds = low + Int64(random.next() % UInt64(high - low))
            let text = RFC3339.format(seconds)
            #expect(text == foundation.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
            #expect(RFC3339.parse(text) == seconds)
        }
    }

    @Test(arguments: [
        ("2026-12-01", 1_796_083_200),
        ("2026-12-01T00:00:00Z", 1_796_083_200),
        ("2026-12-01t00:00:00z", 1_796_083_200),
        ("2026-12-01T09:00:00+09:00", 1_796_083_200),
        ("2026-11-30T19:30:00-04:30", 1_796_083_200),
        ("2026-12-01T00:00:00.999Z", 1_796_083_200),
        ("2000-02-29", 951_782_400),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1),
        ("2026-12-31T23:59:60Z", 1_798_761_599),  // a leap second reads as :59
    ])
    func validTimes(text: String, seconds: Int64) {
        #expect(RFC3339.parse(text) == seconds)
    }

    /// Any Int64 formats without trapping (a bundle's created-at is input); the years RFC 3339
    /// cannot write come out as unix seconds.
    @Test(arguments: [
        (Int64.min, "-9223372036854775808"), (Int64.max, "9223372036854775807"), (-62_167_219_200, "0000-01-01T00:00:00Z"),
        (-62_167_219_201, "-62167219201"), (253_402_300_799, "9999-12-31T23:59:59Z"), (253_402_300_800, "253402300800"),
    ])
    func extremeTimesFormat(seconds: Int64, text: String) {
        #expect(RFC3339.format(seconds) == text)
        if !text.hasPrefix("-"), text.contains("T") { #expect(RFC3339.parse(text) == seconds) }
    }

    @Test(arguments: [
        "", "2026", "2026-12", "2026-13-01", "2026-00-10", "2026-02-29", "2100-02-29", "2026-04-31", "2026-12-01T", "2026-12-01T09:00:00",
        "2026-12-01T24:00:00Z", "2026-12-01T09:60:00Z", "2026-12-01 09:00:00Z", "2026-12-01T09:00:00+0900", "2026-12-01T09:00:00.Z",
        " 2026-12-01", "2026-12-01 ", "20261201", "2026-1-01", "12/01/2026",
    ])
    func invalidTimes(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }
}
