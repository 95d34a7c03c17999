/// SplitMix64: a tiny, fast, seedable generator so property tests are reproducible.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }

    public mutating func pick<T>(_ items: [T]) -> T {
        items[Int.random(in: 0..<items.count, using: &self)]
    }

    /// `count` distinct items (by `same`), in random order.
    public mutating func distinct<T>(_ items: [T], count: Int, same: (T, T) -> Bool) -> [T] {
        var result: [T] = []
        for item in items.shuffled(using: &self) where !result.contains(where: { same($0, item) }) {
            result.append(item)
            if result.count == count { break }
        }
        return result
    }
}
