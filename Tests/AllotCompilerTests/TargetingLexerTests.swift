import Testing

@testable import AllotCompiler

@Suite("Targeting lexer")
struct TargetingLexerTests {
    static let tokens: [(String, [TargetingTokenKind])] = [
        (#""\"\\\/\b\f\n\r\t""#, [.string("\"\\/\u{08}\u{0C}\n\r\t")]),
        (#""\u00e9\u00C9""#, [.string("éÉ")]),
        (#""\ud83d\ude00""#, [.string("😀")]),
        (#""日本 😀""#, [.string("日本 😀")]),
        ("0 -0 12 -12.5e-1 1E+2 0.001", [.number(0), .number(0), .number(12), .number(-1.25), .number(100), .number(0.001)]),
        (
            "a.b geo:country x/y app-version _x",
            [.identifier("a.b"), .identifier("geo:country"), .identifier("x/y"), .identifier("app-version"), .identifier("_x")]
        ),
        ("`in` `5g` in not", [.identifier("in"), .identifier("5g"), .in, .not]),
        ("true false has segment semver", [.bool(true), .bool(false), .has, .segment, .semver]),
        (
            "startsWith endsWith contains StartsWith",
            [.comparison(.startsWith), .comparison(.endsWith), .comparison(.contains), .identifier("StartsWith")]
        ),
        (
            "==!=<<=>>=!&&||()[],",
            [
                .comparison(.equal), .comparison(.notEqual), .comparison(.less), .comparison(.lessOrEqual), .comparison(.greater),
                .comparison(.greaterOrEqual), .bang, .and, .or, .leftParen, .rightParen, .leftBracket, .rightBracket, .comma,
            ]
        ),
        ("age>-5", [.identifier("age"), .comparison(.greater), .number(-5)]),
        ("\n\t x \r\n", [.identifier("x")]),
    ]

    @Test("source reads as these tokens, without errors", arguments: tokens)
    func lex(_ source: String, _ expected: [TargetingTokenKind]) {
        let (tokens, errors) = TargetingLexer.tokenize(source)
        #expect(errors.isEmpty, "\(errors.map(\.message))")
        #expect(tokens.map(\.kind) == expected + [.end])
    }

    @Test("spans count Unicode scalars")
    func spans() {
        let (tokens, _) = TargetingLexer.tokenize("\"😀é\" == x")
        #expect(
            tokens.map(\.span) == [
                TargetingSpan(offset: 0, length: 4), TargetingSpan(offset: 5, length: 2), TargetingSpan(offset: 8, length: 1),
                TargetingSpan(offset: 9, length: 0),
            ])
    }

    @Test("mistakes are reported and read as what was meant")
    func recovery() {
        let (tokens, errors) = TargetingLexer.tokenize("a = 'x' & b | c")
        #expect(
            tokens.map(\.kind) == [
                .identifier("a"), .comparison(.equal), .string("x"), .and, .identifier("b"), .or, .identifier("c"), .end,
            ])
        #expect(errors.count == 4)
    }

    @Test(
        "bare identifiers are exactly the names that print without backticks",
        arguments: [
            ("country", true), ("app_version", true), ("geo:country", true), ("in", false), ("contains", false), ("5g", false),
            ("a b", false), ("", false), ("é", false), ("-x", false),
        ])
    func bare(_ name: String, _ isBare: Bool) {
        #expect(TargetingLexer.isBareIdentifier(name) == isBare)
        if !name.isEmpty {
            let (tokens, errors) = TargetingLexer.tokenize(TargetingText.name(name))
            #expect(errors.isEmpty)
            #expect(tokens.first?.kind == .identifier(name))
        }
    }
}
