/// Why a review could not be computed: an input that is not a bundle, directory or revision, a
/// bundle that does not verify, experiments that do not compile, a failing git command.
public struct ReviewError: Error, Sendable, CustomStringConvertible {
    /// One line saying what went wrong.
    public var message: String
    /// Rendered compiler diagnostics, when the cause is a compilation failure.
    public var details: String?

    public init(_ message: String, details: String? = nil) {
        self.message = message
        self.details = details
    }

    public var description: String { details.map { "\($0)\n\(message)" } ?? message }
}
