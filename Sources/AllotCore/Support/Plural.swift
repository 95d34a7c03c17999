/// Counts in messages: `1 layer`, `2 layers`, `0 layers`.
public enum Plural {
    /// `count` and the noun, plural unless `count` is 1 (`plural` for irregular nouns).
    public static func count(_ count: Int, _ noun: String, plural: String? = nil) -> String {
        "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
    }
}
