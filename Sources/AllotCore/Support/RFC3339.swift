/// The one reader and writer of times in Allot: experiment files' `start` and `stop`, the command
/// line's `--at` and `--created-at`, reports, logs and the server's status routes.
///
/// Reads strict RFC 3339 timestamps (`2026-12-01T09:00:00Z`, fractional seconds ignored, offsets
/// `+hh:mm`) and plain dates (`2026-12-01`, midnight UTC); writes `YYYY-MM-DDTHH:MM:SSZ`. Times
/// are unix seconds. Pure arithmetic on the proleptic Gregorian calendar: no Foundation, no
/// locale, no time zone database.
public enum RFC3339 {
    /// Unix seconds of an RFC 3339 timestamp or a plain date, or nil.
    public static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// `parse` over bytes, without allocating (request attributes); at most 64 bytes.
    public static func parse(_ s: UnsafeRawBufferPointer) -> Int64? {
        guard s.count <= 64 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= s.count else { return nil }
            var value = 0
            for i in range {
                guard s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(s[i] - UInt8(ascii: "0"))
            }
            return value
        }
        guard s.count >= 10, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            (1...12).contains(month), day >= 1, day <= daysInMonth(year, month)
        else { return nil }
        let days = daysFromCivil(year, month, day)
        if s.count == 10 { return Int64(days) * 86_400 }
        guard s.count >= 20, s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: "t"), s[13] == UInt8(ascii: ":"),
            s[16] == UInt8(ascii: ":"),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        if index < s.count, s[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < s.count, s[index] >= UInt8(ascii: "0"), s[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > start else { return nil }
        }
        var offset = 0
        guard index < s.count else { return nil }
        if s[index] == UInt8(ascii: "Z") || s[index] == UInt8(ascii: "z") {
            index += 1
        } else if s[index] == UInt8(ascii: "+") || s[index] == UInt8(ascii: "-") {
            guard index + 6 == s.count, s[index + 3] == UInt8(ascii: ":"),
                let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (s[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == s.count else { return nil }
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset)
    }

    /// The first and last second RFC 3339 can write (years 0000 to 9999).
    public static let writableRange: ClosedRange<Int64> = -62_167_219_200...253_402_300_799

    /// Formats unix seconds as `YYYY-MM-DDTHH:MM:SSZ`; a time outside the years 0000 to 9999
    /// (a bundle's created-at is input, and may be anything) as its unix seconds, which every
    /// reader of times here also accepts.
    public static func format(_ seconds: Int64) -> String {
        guard writableRange.contains(seconds) else { return String(seconds) }
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let rest = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = civilFromDays(days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(year)
        return
            "\(String(repeating: "0", count: max(0, 4 - yearText.count)))\(yearText)-\(two(month))-\(two(day))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
