import AllotCore
import Foundation
import Testing

/// `FileIO` is the one owner of file reads and writes for the cache, the local store, the spool
/// and the compiler, so its bounds and atomicity are tested here once.
@Suite struct FileIOTests {
    private func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "allot-fileio-\(UUID().uuidString)"
        try FileIO.makeDirectories(path + "/a/b")
        return path
    }

    @Test("readToEnd returns exactly the file whatever size it was told, and refuses one byte over the limit")
    func readToEndIsBounded() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var generator = SystemRandomNumberGenerator()
        for size in [0, 1, 100, 65_535, 65_536, 65_537, 300_001] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let path = folder + "/f-\(size)"
            try FileIO.writeAtomically(bytes, to: path)
            // A stale size from fstat (the file grew or shrank since), and the limit around the size.
            for expected in [0, size / 2, size, size * 2 + 1] {
                for limit in [max(size - 1, 0), size, size + 1] {
                    let fd = open(path, O_RDONLY)
                    defer { close(fd) }
                    if size > limit {
                        #expect(throws: SystemError.self) {
                            _ = try FileIO.readToEnd(fd, expectedSize: expected, maxBytes: limit, path: path)
                        }
                    } else {
                        let read = try FileIO.readToEnd(fd, expectedSize: expected, maxBytes: limit, path: path)
                        #expect(read == bytes, "size \(size), told \(expected), limit \(limit)")
                    }
                }
            }
        }
    }

    @Test("an over-limit read fails with EFBIG, a folder or FIFO is refused without blocking, a link is not followed")
    func readRegularFileRefusals() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileIO.writeAtomically(Array(repeating: 7, count: 10), to: folder + "/ten")
        #expect { _ = try FileIO.readRegularFile(path: folder + "/ten", maxBytes: 9) } throws: { ($0 as? SystemError)?.errno == EFBIG }
        #expect(try FileIO.readRegularFile(path: folder + "/ten", maxBytes: 10).count == 10)
        #expect { _ = try FileIO.readRegularFile(path: folder + "/a", maxBytes: 10) } throws: { ($0 as? SystemError)?.errno == EINVAL }
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        #expect { _ = try FileIO.readRegularFile(path: folder + "/fifo", maxBytes: 10) } throws: { ($0 as? SystemError)?.errno == EINVAL }
        #expect(symlink(folder + "/ten", folder + "/link") == 0)
        #expect { _ = try FileIO.readRegularFile(path: folder + "/link", maxBytes: 10) } throws: { ($0 as? SystemError)?.errno == ELOOP }
    }

    @Test("writeAtomically replaces whole files with the mode asked for, leaves no temporary behind, and writeNewFile never overwrites")
    func atomicWrites() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a/b/file"
        try FileIO.writeAtomically(Array("first".utf8), to: path, mode: 0o600)
        try FileIO.writeAtomically(Array("second, longer".utf8), to: path, mode: 0o640)
        #expect(try FileIO.read(path: path) == Array("second, longer".utf8))
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o640)
        #expect(try FileIO.directoryEntries(folder + "/a/b") == ["file"])
        #expect { try Array("x".utf8).withUnsafeBytes { try FileIO.writeNewFile($0, to: path) } } throws: {
            ($0 as? SystemError)?.errno == EEXIST
        }
        #expect(try FileIO.read(path: path) == Array("second, longer".utf8))
        try FileIO.move(path, to: folder + "/moved")
        #expect(!FileIO.exists(path))
        #expect(try FileIO.read(path: folder + "/moved") == Array("second, longer".utf8))
    }
}
