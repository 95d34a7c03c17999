import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation

@testable import AllotReview

extension Fixture.Compiled {
    /// This side as a review snapshot, as `allot diff` builds it from a directory.
    var snapshot: ReviewSnapshot {
        try! ReviewSnapshot(origin: .directory(path: label), compiled: output)
    }
}
