import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotCompiler

/// `ip in cidr("10.0.0.0/8", "2001:db8::/32")` (`docs/targeting.md`, "IP addresses"): parsing
/// of addresses and blocks, and membership through the real compiler and evaluator checked
/// against Python's `ipaddress` module.
@Suite("CIDR matching")
struct CIDRTests {
    @Test(
        "addresses: text forms accepted and refused",
        arguments: [
            ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
            ("2001:db8::1", "2001:db8::1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::", "::"), ("::1", "::1"), ("1::", "1::"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"), ("0001:0002::", "1:2::"),
            ("::ffff:192.0.2.1", "192.0.2.1"), ("::FFFF:c000:0201", "192.0.2.1"), ("::192.0.2.1", "::c000:201"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"), ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
            ("1.2.3", nil), ("256.1.1.1", nil), ("01.2.3.4", nil), ("1.2.3.4.5", nil), ("1.2.3.", nil), ("", nil), (" 1.2.3.4", nil),
            ("1::2::3", nil), ("12345::", nil), (":1", nil), ("1:", nil), ("::g", nil), (":::", nil), ("1:2:3:4:5:6:7:8:9", nil),
            ("1:2:3:4:5:6:7:8::", nil), ("::1:2:3:4:5:6:7:8", nil), ("fe80::1%eth0", nil), ("::ffff:1.2.3", nil), ("1.2.3.4::", nil),
            ("1:2:3:4:5:6:7:1.2.3.4", nil),
        ] as [(String, String?)])
    func addresses(_ text: String, _ canonical: String?) {
        #expect(IPAddress(text)?.description == canonical, "\(text)")
    }

    @Test("blocks: canonical text, IPv4 in the mapped space, errors")
    func blocks() throws {
        #expect(try IPNetwork.parse("10.0.0.0/8").get() == IPNetwork.parse("::ffff:10.0.0.0/104").get())
        #expect(try IPNetwork.parse("::ffff:0:0/96").get().description == "0.0.0.0/0")
        #expect(try IPNetwork.parse("::/80").get().description == "::/80")
        #expect(try IPNetwork.parse("2001:DB8::/32").get().description == "2001:db8::/32")
        #expect(try IPNetwork.parse("192.0.2.7").get().description == "192.0.2.7/32")
        #expect(IPNetwork.parse("10.1.0.0/8") == .failure(.hostBitsSet(network: try! IPNetwork.parse("10.0.0.0/8").get())))
        #expect(IPNetwork.parse("10.0.0.0/33") == .failure(.badPrefix(maximum: 32)))
        #expect(IPNetwork.parse("::/129") == .failure(.badPrefix(maximum: 128)))
        #expect(IPNetwork.parse("10.0.0.0/08") == .failure(.badPrefix(maximum: 32)))
        #expect(IPNetwork.parse("10.0.0.0/") == .failure(.badPrefix(maximum: 32)))
        #expect(IPNetwork.parse("10.0.0/8") == .failure(.badAddress))
    }

    @Test("canonical form and bytecode")
    func canonicalForm() throws {
        let environment = TargetingEnvironment(
            attributes: ["ip": .init(index: 0, type: .ip), "country": .init(index: 1, type: .string)], unitTypes: [], segments: [:])
        let checked = try Targeting.check(
            #"ip  in cidr( "10.0.0.0/8","2001:DB8::/32" ) && ip not in cidr("10.1.0.0/16")"#, environment: environment
        )
        .get()
        #expect(checked.description == #"ip in cidr("10.0.0.0/8", "2001:db8::/32") && ip not in cidr("10.1.0.0/16")"#)
        #expect(try Targeting.check(checked.description, environment: environment).get() == checked)
        let compiled = try Targeting.compile(#"ip in cidr("10.0.0.0/8")"#, environment: environment).get()
        var expected: [UInt8] = [TargetingOpcode.ipIn.rawValue, 0, 0, 0, 1, 0, 0, 0]
        expected += [0, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 10, 0xFF, 0xFF, 0, 0]  // ::ffff:10.0.0.0, high word then low, each LE
        expected += [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // /104
        #expect(compiled.code == expected)
        #expect(compiled.code.count == TargetingCodeGenerator.size(of: compiled.expression, environment: environment))
        // `cidr` is not a keyword: an attribute may be called `cidr`.
        let named = TargetingEnvironment(attributes: ["cidr": .init(index: 0, type: .string)], unitTypes: [], segments: [:])
        #expect(try Targeting.check(#"cidr in ["a"]"#, environment: named).get().description == #"cidr in ["a"]"#)
    }

    static let environment = TargetingEnvironment(
        attributes: ["ip": .init(index: 0, type: .ip), "country": .init(index: 1, type: .string)], unitTypes: [], segments: [:])

    static let misuse: [DiagnosticCase] = [
        .init(
            source: #"ip in cidr("10.1.0.0/8")"#, message: #""10.1.0.0/8" has bits set after its /8 prefix"#, column: 12, length: 12,
            hint: #""10.0.0.0/8""#),
        .init(
            source: #"ip in cidr("10.0.0.0/33")"#, message: "the prefix must be a number from 0 to 32", column: 12, length: 13),
        .init(
            source: #"ip in cidr("::/129", "::1")"#, message: "the prefix must be a number from 0 to 128", column: 12, length: 8),
        .init(
            source: #"ip not in cidr("300.0.0.0/8")"#, message: "the address is not an IPv4 or IPv6 address", column: 16, length: 13,
            hint: "leading zeros"),
        .init(source: #"ip in cidr()"#, message: "expected a CIDR block in double quotes, found ')'", column: 12, length: 1),
        .init(source: #"ip in cidr(10)"#, message: "expected a CIDR block in double quotes, found '10'", column: 12, length: 2),
        .init(
            source: #"ip == "192.0.2.1""#, message: "operator '==' does not apply to ip attribute 'ip'", column: 4, length: 2,
            hint: #"cidr("192.0.2.1")"#),
        .init(source: #"ip in ["192.0.2.1"]"#, message: "'in [...]' does not apply to ip attribute 'ip'", column: 4, length: 2),
        .init(
            source: #"country in cidr("10.0.0.0/8")"#,
            message: "'in cidr(...)' applies to ip attributes; 'country' is a string attribute", column: 9, length: 2,
            hint: "type: ip"),
        .init(
            source: #"ip in cidr("10.0.0.0/8", "::ffff:10.0.0.0/104")"#, message: "repeats the block 10.0.0.0/8", column: 26, length: 21),
        .init(
            source: #""10.0.0.1" in cidr("10.0.0.0/8")"#, message: "'in cidr(...)' needs an ip attribute on its left", column: 1, length: 10
        ),
    ]

    @Test("each misuse reports the right message at the right place, with a hint", arguments: misuse)
    func diagnostics(_ test: DiagnosticCase) throws {
        let diagnostics = Targeting.diagnostics(test.source, environment: Self.environment)
        let found = try #require(
            diagnostics.first { $0.message.contains(test.message) }, "no \(test.message); got \(diagnostics.map(\.description))")
        #expect(found.location?.column == test.column, "column")
        #expect(found.location?.length == test.length, "length")
        if let hint = test.hint { #expect(found.hint?.contains(hint) == true, "hint \(found.hint ?? "nil") lacks \(hint)") }
        #expect(diagnostics.allSatisfy { $0.hint?.isEmpty == false }, "\(diagnostics)")
    }

    /// Python's `ipaddress`, with the documented IPv4-mapped rule (an IPv4 address or block is
    /// its `::ffff:0:0/96` counterpart) and without zone ids (`fe80::1%eth0`, which Python reads
    /// and Allot does not): for each address, whether it is in each block, or null when it is
    /// not an address.
    static let python = """
        import ipaddress, json, sys
        d = json.load(sys.stdin)
        def address(text):
            a = ipaddress.ip_address(text)
            return ipaddress.IPv6Address("::ffff:" + str(a)) if a.version == 4 else a
        def network(text):
            n = ipaddress.ip_network(text, strict=True)
            if n.version == 4:
                return ipaddress.IPv6Network("::ffff:%s/%d" % (n.network_address, 96 + n.prefixlen))
            return n
        networks = [network(n) for n in d["networks"]]
        out = []
        for text in d["addresses"]:
            if "%" in text:
                out.append(None)
                continue
            try:
                a = address(text)
            except ValueError:
                out.append(None)
                continue
            out.append([a in n for n in networks])
        print(json.dumps(out))
        """

    @Test("membership through the compiler and evaluator agrees with Python's ipaddress")
    func agreesWithPython() async throws {
        var random = SeededRandom(seed: 1918)
        func bits() -> UInt128 { UInt128(random.next()) << 64 | UInt128(random.next()) }
        // Blocks: IPv4 and IPv6 of every size, including the whole space and the mapped block.
        var networks: [IPNetwork] = [
            try IPNetwork.parse("0.0.0.0/0").get(), try IPNetwork.parse("::/0").get(), try IPNetwork.parse("::/80").get(),
            try IPNetwork.parse("::ffff:0:0/96").get(),
            try IPNetwork.parse("2001:db8::/32").get(), try IPNetwork.parse("10.0.0.0/8").get(), try IPNetwork.parse("::1").get(),
        ]
        while networks.count < 28 {
            let v4 = random.next() % 2 == 0
            let prefix = v4 ? 96 + Int(random.next() % 33) : Int(random.next() % 129)
            let value = v4 ? IPAddress.init(value: 0xFFFF << 32 | bits() & 0xFFFF_FFFF).value : bits()
            let network = IPNetwork(address: IPAddress(value: 0), prefix: prefix)
            networks.append(IPNetwork(address: IPAddress(value: value & network.mask), prefix: prefix))
        }
        // Addresses: inside or just outside the blocks (a bit flipped at or after the prefix), in
        // several spellings, and malformed texts.
        var addresses: [String] = ["fe80::1%eth0", "1.2.3", "01.2.3.4", "1::2::3", "::ffff:1.2.3", "", "x"]
        for _ in 0..<260 {
            let network = networks[Int(random.next() % UInt64(networks.count))]
            var value = network.address.value | (bits() & ~network.mask)
            if random.next() % 3 == 0, network.prefix > 0 {
                value ^= UInt128(1) << (128 - network.prefix + Int(random.next() % UInt64(min(network.prefix, 4))))
            }
            let address = IPAddress(value: value)
            switch random.next() % 4 {
            case 0: addresses.append(address.description)
            case 1: addresses.append(address.ipv6Text)
            case 2:
                let groups = (0..<8).map {
                    String(UInt16(truncatingIfNeeded: value >> (112 - 16 * UInt128($0))), radix: 16, uppercase: true)
                }
                addresses.append(groups.joined(separator: ":"))
            default:
                addresses.append(address.isIPv4 ? "::ffff:" + address.description : address.description)
            }
        }
        let input = try JSONSerialization.data(withJSONObject: ["networks": networks.map(\.description), "addresses": addresses])
        let script = Self.python
        let result = try await runProcess("/usr/bin/env", ["python3", "-c", script], stdin: input)
        try #require(result.status == 0, "\(result.output)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any])

        var yaml = "kind: Attributes\nattributes:\n  client_ip: ip\n"
        for (i, network) in networks.enumerated() {
            yaml +=
                "---\nkind: Layer\nname: l\(i)\nunit: user_id\n---\nkind: Experiment\nname: t\(i)\nlayer: l\(i)\nowner: o\nstatus: running\n"
            yaml += "traffic: 100%\ntargeting: 'client_ip in cidr(\"\(network)\")'\nvariants:\n  - { name: on, weight: 100% }\n"
        }
        let bundle = try Fixture.compile(yaml).bundle
        var counts = [0, 0, 0]
        for (address, row) in zip(addresses, expected) {
            var input = EvaluationInput(for: bundle)
            let request = #"{"units":{"user_id":"u1"},"attributes":{"client_ip":"# + JSONString.quoted(address) + "}}"
            try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
            var outcomes: [Outcome] = []
            bundle.evaluate(input, now: 0, into: &outcomes)
            let enrolled = Set(outcomes.filter { $0.reason == .split }.map { bundle.assignment(for: $0).experiment })
            guard let row = row as? [Bool] else {
                // Not an address: present but unusable, in no block.
                counts[2] += 1
                #expect(enrolled.isEmpty, "\(address)")
                #expect(input.ignoredAttributes.count == 1, "\(address)")
                continue
            }
            #expect(input.ignoredAttributes.isEmpty, "\(address)")
            for (i, inside) in row.enumerated() {
                counts[inside ? 1 : 0] += 1
                #expect(enrolled.contains("t\(i)") == inside, "\(address) in \(networks[i])")
            }
        }
        #expect(counts[1] > 400 && counts[0] > 400 && counts[2] >= 7, "\(counts)")
    }
}
