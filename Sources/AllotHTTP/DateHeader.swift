#if canImport(Glibc)
    import Glibc
#endif

/// The `Date: <IMF-fixdate>\r\n` line, reformatted at most once per second.
struct DateHeader: ~Copyable {
    private var line = OwnedBuffer(capacity: 64)
    private var second = -1

    mutating func update(unixSeconds: Int) {
        guard unixSeconds != second else { return }
        second = unixSeconds
        var time = time_t(unixSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let text =
            "Date: \(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
        line.removeAll()
        line.append(Array(text.utf8))
    }

    /// Appends the line (empty before the first `update`).
    @inline(__always)
    func write(into out: inout OwnedBuffer) {
        out.append(contentsOf: line)
    }
}
