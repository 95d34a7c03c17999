import AllotCompiler
import AllotCore
import Foundation

/// Loading and verifying a bundle with a ~100 MB payload (a segment of a few million ids), split
/// into its parts: signature check, decompression, payload hash, structural validation.
enum LoadBenchmark {
    static func run(quick: Bool) throws {
        let idCount = quick ? 300_000 : 2_800_000
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("allot-load-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var ids = ""
        ids.reserveCapacity(idCount * 14)
        for i in 0..<idCount { ids += "user-\(i * 13)\n" }
        try ids.write(to: directory.appendingPathComponent("ids.txt"), atomically: true, encoding: .utf8)
        let yaml = """
            kind: Layer
            name: main
            unit: user_id
            params: { on: { type: bool, default: false } }
            ---
            kind: Segment
            name: allowlist
            unit: user_id
            idsFile: ids.txt
            ---
            kind: Experiment
            name: gated
            layer: main
            owner: o@example.com
            status: running
            traffic: 100%
            segments: [allowlist]
            variants: [ { name: on, weight: 100%, params: { on: true } } ]
            """
        let compileStart = now()
        let output = try Compiler.compile(
            files: [SourceFile(path: directory.appendingPathComponent("main.yaml").path, text: yaml)], lock: AllocationLock(), version: 1,
            createdAt: 0
        ).get()
        let compileSeconds = Double(now() - compileStart) / 1e9
        let key = SigningKey.generate()
        let sealStart = now()
        let envelope = try BundleEnvelope.seal(payload: output.payload, version: 1, createdAt: 0, key: key)
        let sealSeconds = Double(now() - sealStart) / 1e9

        var best = (
            total: Double.infinity, verify: Double.infinity, decompress: Double.infinity, hash: Double.infinity, validate: Double.infinity
        )
        for _ in 0..<(quick ? 2 : 5) {
            let t0 = now()
            _ = try LoadedBundle.open(envelope: envelope, trustedKeys: [key.publicKey])
            let t1 = now()
            best.total = min(best.total, Double(t1 - t0) / 1e6)
            // The parts, measured separately.
            try envelope.withUnsafeBytes { bytes in
                let header = try BundleHeader.parse(bytes)
                let a = now()
                try header.verifySignature(of: bytes, trustedKeys: [key.publicKey])
                let b = now()
                let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: header.payloadLength, alignment: 16)
                defer { destination.deallocate() }
                try Zstd.decompress(UnsafeRawBufferPointer(rebasing: bytes[header.frameRange]), into: destination)
                let c = now()
                _ = Blake2b.hash256(UnsafeRawBufferPointer(destination))
                let d = now()
                _ = try Payload.validate(UnsafeRawBufferPointer(destination))
                let e = now()
                best.verify = min(best.verify, Double(b - a) / 1e6)
                best.decompress = min(best.decompress, Double(c - b) / 1e6)
                best.hash = min(best.hash, Double(d - c) / 1e6)
                best.validate = min(best.validate, Double(e - d) / 1e6)
            }
        }
        report([
            "name": "load_and_verify_bundle", "ns_per_op": best.total * 1e6, "ms": best.total,
            "payload_mb": Double(output.payload.count) / 1e6, "compressed_mb": Double(envelope.count) / 1e6,
            "signature_ms": best.verify, "decompress_ms": best.decompress, "blake2b_ms": best.hash, "validate_ms": best.validate,
            "segment_ids": idCount,
        ])
        report([
            "name": "compile_and_seal_large_segment", "ns_per_op": (compileSeconds + sealSeconds) * 1e9, "compile_s": compileSeconds,
            "seal_s": sealSeconds,
        ])
    }
}
