import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// Every section of the payload as `docs/bundle-format.md` lists it, walked against the validator:
/// the document's ids and record sizes are the reader's, and a section cut short by one record (or
/// one byte) is refused at load, never read past its end.
struct PayloadSectionTests {
    /// A project whose payload has at least one record in every section.
    static let project =
        EvaluatorTests.base
        + "\n---\nkind: Segment\nname: staff\nunit: user_id\nids: [u1, u2, u3]\n"
        + "\n---\nkind: Segment\nname: adults\nrule: 'age >= 18 || tags contains \"vip\"'\n"
        + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 5%\n"
        + EvaluatorTests.experiment(
            "a", traffic: "60%",
            extra: "targeting: 'country in [\"US\", \"CA\"] && app_version >= \"5.0.0\"'\nsegments: [staff, adults]\n"
                + "overrides:\n  treatment: [qa-user]\n")
        + EvaluatorTests.experiment(
            "s", layer: "search", traffic: "50%", variants: "variants:\n  - { name: only, weight: 100%, params: { ranking: neural } }\n")

    /// The rows of the section table: id, name, record size in bytes (nil for `bytes`).
    static func documentedSections() throws -> [(id: UInt32, name: String, recordLength: Int?)] {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/bundle-format.md"), encoding: .utf8)
        let table = try #require(text.components(separatedBy: "### Sections").dropFirst().first?.components(separatedBy: "\n### ").first)
        return table.split(separator: "\n").compactMap { line -> (UInt32, String, Int?)? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, let id = UInt32(cells[0]) else { return nil }
            return (id, cells[1], cells[2] == "bytes" ? nil : Int(cells[2]))
        }
    }

    @Test func theDocumentedSectionsAreTheReadersSections() throws {
        let documented = try Self.documentedSections()
        #expect(documented.map(\.id) == PayloadFormat.Section.allCases.map(\.rawValue))
        for (row, section) in zip(documented, PayloadFormat.Section.allCases) {
            #expect(row.recordLength == section.recordLength, "\(row.name)")
        }
    }

    @Test func everySectionCutShortIsRefused() throws {
        let payload = try Fixture.compile(Self.project).output.payload
        try payload.withUnsafeBytes { bytes in
            let loaded = try Payload.validate(bytes)
            #expect(loaded.holdoutCount > 0 && loaded.segmentCount > 0 && loaded.idEntryCount > 0 && loaded.u32ListCount > 0)
        }
        for (index, row) in try Self.documentedSections().enumerated() {
            let entry = PayloadFormat.headerLength + index * PayloadFormat.directoryEntryLength
            var cut = payload
            let length = (0..<4).reduce(0) { $0 | Int(cut[entry + 8 + $1]) << (8 * $1) }
            #expect(length > 0, "\(row.name) is empty in the fixture: the walk would prove nothing")
            let shorter = UInt32(length - (row.recordLength ?? 1))
            withUnsafeBytes(of: shorter.littleEndian) { cut.replaceSubrange((entry + 8)..<(entry + 12), with: $0) }
            let accepted = cut.withUnsafeBytes { (try? Payload.validate($0)) != nil }
            #expect(!accepted, "a \(row.name) section one \(row.recordLength == nil ? "byte" : "record") short was accepted")
        }
    }
}
