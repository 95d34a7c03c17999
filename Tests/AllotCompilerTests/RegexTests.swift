import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotCompiler

/// `user_agent matches "pattern"` (`docs/targeting.md`, "Regular expressions"): automata built at
/// compile time, checked against Python's `re` through the real compiler and evaluator, the
/// state bound, linear-time evaluation and misuse.
@Suite("Regular expressions")
struct RegexTests {
    static let patterns = [
        "Chrome/\\d+", "^Mozilla/5\\.0", "\\.com$", "^$", "a|b", "^(ab)+$", "a.c", "[a-c]x", "[^a-z]", "x?y", "a{2}", "a{2,}b",
        "^a{1,3}$", "(a|ab)(c|bcd)", "\\s\\S", "\\w+@\\w+", "\\W", "\\D\\d", "é", "[-/.]", "\\(\\)", "^(a|b)*c(a|b)?$", "",
        "(((a)))", "a\\/b", "^x+$",
    ]

    static let alphabet = ["a", "b", "c", "x", "y", "1", "2", "/", ".", "-", " ", "\n", "@", "é", "(", ")", "A"]

    /// Python's `re` over UTF-8 bytes with DOTALL (`.` is any byte) and `$` only at the very end,
    /// as Allot defines them: for each value, whether each pattern finds a match.
    static let python = """
        import json, re, sys
        d = json.load(sys.stdin)
        def compile(p):
            if p.endswith("$") and not p.endswith("\\\\$"):
                p = p[:-1] + "\\\\Z"
            return re.compile(p.encode(), re.DOTALL)
        patterns = [compile(p) for p in d["patterns"]]
        print(json.dumps([[p.search(v.encode()) is not None for p in patterns] for v in d["values"]]))
        """

    @Test("matches agree with Python's re on random values, through the compiler and evaluator")
    func agreesWithPython() async throws {
        var random = SeededRandom(seed: 1951)
        var values = ["", "Mozilla/5.0 (X11)", "Chrome/120", "x@example.com", "ab", "abab", "abcd", "aaab", "é", "()", "a/b"]
        while values.count < 300 {
            let length = Int(random.next() % 9)
            values.append((0..<length).map { _ in Self.alphabet[Int(random.next() % UInt64(Self.alphabet.count))] }.joined())
        }
        let input = try JSONSerialization.data(withJSONObject: ["patterns": Self.patterns, "values": values])
        let script = Self.python
        let result = try await runProcess("/usr/bin/env", ["python3", "-c", script], stdin: input)
        try #require(result.status == 0, "\(result.output)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[Bool]])

        var yaml = "kind: Attributes\nattributes:\n  agent: string\n"
        for (i, pattern) in Self.patterns.enumerated() {
            yaml +=
                "---\nkind: Layer\nname: l\(i)\nunit: user_id\n---\nkind: Experiment\nname: t\(i)\nlayer: l\(i)\nowner: o\nstatus: running\n"
            let quoted = JSONString.quoted(pattern).replacingOccurrences(of: "'", with: "''")
            yaml += "traffic: 100%\ntargeting: 'agent matches \(quoted)'\nvariants:\n  - { name: on, weight: 100% }\n"
        }
        let bundle = try Fixture.compile(yaml).bundle
        var counts = [0, 0]
        for (value, row) in zip(values, expected) {
            var input = EvaluationInput(for: bundle)
            let request = #"{"units":{"user_id":"u1"},"attributes":{"agent":"# + JSONString.quoted(value) + "}}"
            try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
            var outcomes: [Outcome] = []
            bundle.evaluate(input, now: 0, into: &outcomes)
            let enrolled = Set(outcomes.filter { $0.reason == .split }.map { bundle.assignment(for: $0).experiment })
            for (i, matches) in row.enumerated() {
                counts[matches ? 1 : 0] += 1
                #expect(enrolled.contains("t\(i)") == matches, "\(Self.patterns[i]) on \(value.debugDescription)")
            }
        }
        #expect(counts.min()! > 1000, "\(counts)")
    }

    @Test("evaluation is one pass over the value: patterns that make backtracking engines explode stay linear")
    func linearTime() throws {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 200_000)
        for pattern in ["(a|aa)*b", "(a+)+b", "^(a|a?)+b", "(x+x+)+y"] {
            let automaton = try RegexAutomaton.compile(pattern).get()
            #expect(automaton.stateCount <= RegexAutomaton.maxStates)
            #expect(!automaton.matches(long), "\(pattern)")
        }
        #expect(try RegexAutomaton.compile("(a+)+$").get().matches(long))
    }

    @Test(
        "patterns that are not accepted",
        arguments: [
            ("(a", "'(' is not closed", 0), ("a)", "unmatched ')'", 1), ("*a", "nothing to repeat", 0), ("a{2,1}", "repetition counts", 1),
            ("a{101}", "repetition counts", 1), ("a{x}", "must be a repetition", 1), ("[a-", "'[' is not closed", 0),
            ("[z-a]", "is empty or not ASCII", 1), ("[é]", "ASCII characters only", 1), ("\\q", "unknown escape", 0),
            ("a\\", "cannot end", 1),
            ("a^b", "anchors only", 1), ("a$b", "anchors only", 1), ("(a|b)*a(a|b){9}", "more than 256 automaton states", -1),
            ("((a{100}){100}){100}", "too large", -1),
        ])
    func refused(_ pattern: String, _ message: String, _ offset: Int) {
        guard case .failure(let failure) = RegexAutomaton.compile(pattern) else {
            Issue.record("\(pattern) compiled")
            return
        }
        #expect(failure.message.contains(message), "\(pattern): \(failure.message)")
        #expect(failure.offset == offset, "\(pattern)")
    }

    static let environment = TargetingEnvironment(
        attributes: ["agent": .init(index: 0, type: .string), "age": .init(index: 1, type: .number)], unitTypes: [], segments: [:])

    @Test("canonical form, misuse diagnostics with columns, and the program's size")
    func compilerIntegration() throws {
        let checked = try Targeting.check(#"agent   matches "^Mozilla/5\\.0" && !(agent matches "bot")"#, environment: Self.environment)
            .get()
        #expect(checked.description == #"agent matches "^Mozilla/5\\.0" && !(agent matches "bot")"#)
        #expect(try Targeting.check(checked.description, environment: Self.environment).get() == checked)
        let compiled = try Targeting.compile(#"agent matches "a""#, environment: Self.environment).get()
        #expect(compiled.code.count == TargetingCodeGenerator.size(of: compiled.expression, environment: Self.environment))
        #expect(Array(compiled.code.prefix(4)) == [TargetingOpcode.regexMatch.rawValue, 0, 0, 0])

        let cases: [(String, String, Int, Int)] = [
            (#"agent matches "(bot""#, "invalid pattern: '(' is not closed; add ')' (at character 1 of the pattern)", 15, 6),
            (#"agent matches "(a|b)*a(a|b){9}""#, "more than 256 automaton states", 15, 17),
            (#"age matches "1""#, "'matches' applies to string attributes; 'age' is a number attribute", 1, 3),
            (#"agent matches 5"#, "expected a pattern in double quotes after 'matches', found '5'", 15, 1),
            (#"!agent matches "x""#, "'!' applies to a single operand", 1, 1),
        ]
        for (source, message, column, length) in cases {
            let diagnostics = Targeting.diagnostics(source, environment: Self.environment)
            let found = diagnostics.first { $0.message.contains(message) }
            #expect(found?.location?.column == column, "\(source): \(diagnostics.map(\.description))")
            #expect(found?.location?.length == length, "\(source)")
            #expect(diagnostics.allSatisfy { $0.hint?.isEmpty == false }, "\(diagnostics)")
        }
        // `matches` is not a keyword.
        let named = TargetingEnvironment(attributes: ["matches": .init(index: 0, type: .string)], unitTypes: [], segments: [:])
        #expect(try Targeting.check(#"matches matches "x""#, environment: named).get().description == #"matches matches "x""#)
    }
}
