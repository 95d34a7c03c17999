#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs a newline-delimited batch of requests through `BatchAssigner`s on several threads and
/// writes the answers in input order: the calling thread reads the input in ranges of whole lines
/// (about `chunkBytes` each), worker threads answer the ranges, and the calling thread writes each
/// range's answers as soon as every earlier range's are written. At most `window` ranges are in
/// flight, so memory stays bounded whatever the input's size.
///
/// The output is byte for byte what one `BatchAssigner` writes for the whole input in one call:
/// a range's answers depend only on its lines and the number of its first line, which the reader
/// counts before handing it out. With `workers` 1 everything runs on the calling thread.
public struct BatchPipeline: Sendable {
    /// Threads answering requests (1: the calling thread alone).
    public var workers: Int
    /// The size of the ranges the input is cut into (a longer line makes its range longer).
    public var chunkBytes: Int
    /// Ranges read and not yet written, at most.
    public var window: Int

    public init(workers: Int, chunkBytes: Int = 1 << 20, window: Int? = nil) {
        precondition(workers >= 1 && chunkBytes >= 1)
        self.workers = workers
        self.chunkBytes = chunkBytes
        self.window = max(1, window ?? 2 * workers + 2)
    }

    /// Answers the requests `read` delivers and hands the answers to `write` in order. `read` fills
    /// the buffer it is given and returns how many bytes it put there, 0 at the end of the input;
    /// `write` takes the answers of one range. Both run on the calling thread. The first error
    /// either throws stops the batch: workers finish their range, nothing more is written.
    public func run(
        bundle: LoadedBundle, now: Int64, read: (UnsafeMutableRawBufferPointer) throws -> Int,
        write: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> BatchAssigner.Counts {
        var reader = RangeReader(chunkBytes: chunkBytes)
        if workers == 1 {
            var assigner = BatchAssigner(bundle: bundle, now: now)
            var counts = BatchAssigner.Counts()
            var output: [UInt8] = []
            while let range = try reader.next(read) {
                output.removeAll(keepingCapacity: true)
                counts = counts + range.assign(with: &assigner, into: &output)
                reader.recycle(range.bytes)
                try output.withUnsafeBytes { try write($0) }
            }
            return counts
        }
        let queue = WorkQueue()
        var threads: [pthread_t] = []
        defer {
            queue.close()
            for thread in threads { pthread_join(thread, nil) }
        }
        for _ in 0..<workers {
            guard let thread = try? PlatformThread.start({ Self.work(queue, bundle: bundle, now: now) }) else { break }
            threads.append(thread)
        }
        // No thread could be started: answer on this one.
        if threads.isEmpty {
            return try BatchPipeline(workers: 1, chunkBytes: chunkBytes).run(bundle: bundle, now: now, read: read, write: write)
        }
        var counts = BatchAssigner.Counts()
        var produced = 0
        var written = 0
        var atEnd = false
        while true {
            while !atEnd && produced - written < window {
                if let range = try reader.next(read) {
                    queue.submit(Job(sequence: produced, range: range))
                    produced += 1
                } else {
                    atEnd = true
                }
            }
            if written == produced { break }
            let done = queue.result(written)
            written += 1
            counts = counts + done.counts
            reader.recycle(done.input)
            try done.output.withUnsafeBytes { try write($0) }
            queue.recycle(done.output)
        }
        return counts
    }

    private static func work(_ queue: WorkQueue, bundle: LoadedBundle, now: Int64) {
        var assigner = BatchAssigner(bundle: bundle, now: now)
        while let job = queue.take() {
            // Taken straight from the queue, so this buffer is the only reference and is reused.
            var output = queue.spareOutput()
            output.removeAll(keepingCapacity: true)
            let counts = job.range.assign(with: &assigner, into: &output)
            queue.finish(job.sequence, Done(output: output, input: job.range.bytes, counts: counts))
        }
    }
}

/// Whole lines of the input and the number of the first.
struct LineRange: Sendable {
    /// The lines are `bytes[..<length]`; the rest is scratch.
    var bytes: [UInt8]
    var length: Int
    var firstLine: Int

    func assign(with assigner: inout BatchAssigner, into output: inout [UInt8]) -> BatchAssigner.Counts {
        bytes.withUnsafeBytes { assigner.assign(UnsafeRawBufferPointer(rebasing: $0[..<length]), firstLine: firstLine, into: &output) }
    }
}

/// Cuts the input into ranges of whole lines of about `chunkBytes`, numbering their lines. Reads
/// into buffers handed back with `recycle` once their range is answered.
struct RangeReader {
    let chunkBytes: Int
    /// The start of a line not yet complete, read with the previous range.
    private var carry: [UInt8] = []
    private var spares: [[UInt8]] = []
    private var atEnd = false
    private var nextLine = 1

    init(chunkBytes: Int) {
        self.chunkBytes = chunkBytes
    }

    mutating func recycle(_ buffer: [UInt8]) {
        if spares.count < 16 { spares.append(buffer) }
    }

    mutating func next(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> LineRange? {
        if atEnd && carry.isEmpty { return nil }
        var buffer = spares.popLast() ?? []
        var capacity = carry.count + chunkBytes
        var filled = 0
        while true {
            if buffer.count < capacity { buffer.append(contentsOf: repeatElement(0, count: capacity - buffer.count)) }
            if filled == 0 && !carry.isEmpty {
                buffer.withUnsafeMutableBytes { target in carry.withUnsafeBytes { target.copyMemory(from: $0) } }
                filled = carry.count
                carry.removeAll(keepingCapacity: true)
            }
            let searchFrom = filled
            while !atEnd && filled < capacity {
                let count = try buffer.withUnsafeMutableBytes { try read(UnsafeMutableRawBufferPointer(rebasing: $0[filled..<capacity])) }
                if count == 0 { atEnd = true } else { filled += count }
            }
            if atEnd {
                if filled == 0 {
                    recycle(buffer)
                    return nil
                }
                return range(buffer, length: filled)
            }
            // The last newline, looked for only in the bytes just read (the carry has none).
            let last = buffer.withUnsafeBytes {
                UnsafeRawBufferPointer(rebasing: $0[searchFrom..<filled]).lastIndex(of: UInt8(ascii: "\n"))
            }
            if let last {
                let end = searchFrom + last + 1
                carry.append(contentsOf: buffer[end..<filled])
                return range(buffer, length: end)
            }
            // One line longer than the buffer: read on into a bigger one.
            capacity *= 2
        }
    }

    private mutating func range(_ bytes: [UInt8], length: Int) -> LineRange {
        let first = nextLine
        nextLine += bytes.withUnsafeBytes { BatchAssigner.newlineCount(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
        return LineRange(bytes: bytes, length: length, firstLine: first)
    }
}

private struct Job: Sendable {
    var sequence: Int
    var range: LineRange
}

private struct Done: Sendable {
    var output: [UInt8]
    /// The range's buffer, for the reader to reuse.
    var input: [UInt8]
    var counts: BatchAssigner.Counts
}

/// The jobs waiting for a worker and the results waiting to be written, under one lock.
private final class WorkQueue: @unchecked Sendable {
    // @unchecked: every stored property is read and written with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let jobReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let resultReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// At most `window` jobs wait.
    private var jobs: [Job] = []
    private var results: [Int: Done] = [:]
    /// Output buffers written and handed back, for the workers to reuse.
    private var spareOutputs: [[UInt8]] = []
    private var closed = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(jobReady, nil)
        pthread_cond_init(resultReady, nil)
    }

    deinit {
        pthread_cond_destroy(resultReady)
        pthread_cond_destroy(jobReady)
        pthread_mutex_destroy(mutex)
        resultReady.deallocate()
        jobReady.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    func submit(_ job: Job) {
        locked {
            jobs.append(job)
            pthread_cond_signal(jobReady)
        }
    }

    /// The next job, waiting for one; nil once closed.
    func take() -> Job? {
        locked {
            while jobs.isEmpty && !closed { pthread_cond_wait(jobReady, mutex) }
            if closed { return nil }
            // Removed, not left behind: the reader reuses the job's buffer once it is written.
            return jobs.removeFirst()
        }
    }

    /// An output buffer written before and handed back (empty when there is none).
    func spareOutput() -> [UInt8] {
        locked { spareOutputs.popLast() ?? [] }
    }

    func recycle(_ output: [UInt8]) {
        locked { spareOutputs.append(output) }
    }

    func finish(_ sequence: Int, _ done: Done) {
        locked {
            results[sequence] = done
            pthread_cond_signal(resultReady)
        }
    }

    /// The result of job `sequence`, waiting for it.
    func result(_ sequence: Int) -> Done {
        locked {
            while results[sequence] == nil { pthread_cond_wait(resultReady, mutex) }
            return results.removeValue(forKey: sequence)!
        }
    }

    /// Wakes every worker to stop.
    func close() {
        locked {
            closed = true
            pthread_cond_broadcast(jobReady)
        }
    }
}
