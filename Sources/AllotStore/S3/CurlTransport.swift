import AllotCore
internal import CCurl
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// HTTP over libcurl, with every response bounded in size and time whatever the server does.
///
/// - **Size**: a response body (2xx) larger than ``TransportRequest/maxResponseBytes``, or an error
///   body larger than ``errorBodyLimit``, is abandoned as it arrives (`CURLOPT_MAXFILESIZE_LARGE`
///   refuses a declared length at once; the write callback stops an undeclared or lying one) and
///   reported as ``TransportError/tooLarge(_:)``. Headers are capped at ``headerLimit``. A store
///   that ignores `Range` or streams forever costs at most the limit plus one buffer.
/// - **Time**: a transfer slower than ``minimumBytesPerSecond`` for the request's `timeout`
///   (whole seconds, at least 1) is a stall (`CURLOPT_LOW_SPEED_LIMIT/TIME`), so a server that
///   drips a byte a second fails; the connection must be made within that time too; and no
///   request lasts longer than ``deadline`` (`CURLOPT_TIMEOUT_MS`) however it trickles.
/// - No redirects are followed (S3 redirects mean a wrong region or endpoint, which should be
///   reported), no cookies, no caching, HTTP and HTTPS only.
///
/// Each request runs `curl_easy_perform` on a thread of its own (not a Dispatch worker: the
/// global queue runs about one blocking job per core, so one stalled store would hold up every
/// other transfer in the process); task cancellation aborts it at the next progress callback.
/// Easy handles are pooled so connections are reused.
public final class CurlTransport: HTTPTransport, Sendable {
    /// Bytes per second below which a transfer counts as stalled.
    public let minimumBytesPerSecond: Int
    /// The longest any one request may take, in seconds.
    public let deadline: Double
    /// The largest error body (non-2xx) accepted.
    public static let errorBodyLimit = 64 * 1024
    /// The largest response head accepted.
    public static let headerLimit = 64 * 1024

    private let pool = Mutex<[EasyHandle]>([])
    private static let poolSize = 16

    /// libcurl's global state, set up once before the first handle.
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// - Parameters:
    ///   - minimumBytesPerSecond: slower than this for a request's `timeout` is a stall.
    ///   - deadline: seconds any one request may take in all.
    public init(minimumBytesPerSecond: Int = 1024, deadline: Double = 300) {
        self.minimumBytesPerSecond = max(1, minimumBytesPerSecond)
        self.deadline = deadline.isFinite ? max(0.001, deadline) : 300
        _ = Self.initialized
    }

    deinit {
        for handle in pool.withLock({ $0 }) { curl_easy_cleanup(handle.pointer) }
    }

    /// Whole seconds, at least one (libcurl's stall window is in seconds).
    static func wholeSeconds(_ seconds: Double) -> Int {
        guard seconds.isFinite else { return 30 }
        return Int(max(1, seconds.rounded(.up)))
    }

    public func send(_ request: TransportRequest) async throws(TransportError) -> TransportResponse {
        let transfer = Transfer(request: request)
        let result: Result<TransportResponse, TransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let started = PlatformThread.detach {
                    continuation.resume(returning: self.perform(transfer))
                }
                if !started {
                    continuation.resume(returning: .failure(.other("\(request.method) \(request.url): cannot start a transfer thread")))
                }
            }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .relaxed)
        }
        return try result.get()
    }

    private func takeHandle() -> UnsafeMutableRawPointer? {
        if let handle = pool.withLock({ $0.popLast() }) {
            curl_easy_reset(handle.pointer)
            return handle.pointer
        }
        return curl_easy_init()
    }

    private func giveBack(_ handle: UnsafeMutableRawPointer) {
        let kept = pool.withLock { pool in
            guard pool.count < Self.poolSize else { return false }
            pool.append(EasyHandle(pointer: handle))
            return true
        }
        if !kept { curl_easy_cleanup(handle) }
    }

    /// Runs one transfer on the calling thread (blocking).
    private func perform(_ transfer: Transfer) -> Result<TransportResponse, TransportError> {
        let request = transfer.request
        let label = "\(request.method) \(request.url)"
        guard let handle = takeHandle() else { return .failure(.other("\(label): curl_easy_init failed")) }
        defer { giveBack(handle) }
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headers) }
        // No `Expect: 100-continue` round trip: S3 answers the PUT anyway.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headers = curl_slist_append(headers, line)
        }
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        let stall = Self.wholeSeconds(request.timeout)
        var code = allot_curl_set_string(handle, CURLOPT_URL, request.url)
        func set(_ option: CURLoption, _ value: Int) {
            if code == CURLE_OK { code = allot_curl_set_long(handle, option, value) }
        }
        func setOffset(_ option: CURLoption, _ value: Int) {
            if code == CURLE_OK { code = allot_curl_set_offset(handle, option, curl_off_t(value)) }
        }
        set(CURLOPT_NOSIGNAL, 1)
        if code == CURLE_OK { code = allot_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https") }
        set(CURLOPT_FOLLOWLOCATION, 0)
        set(CURLOPT_CONNECTTIMEOUT_MS, stall * 1000)
        set(CURLOPT_LOW_SPEED_LIMIT, minimumBytesPerSecond)
        set(CURLOPT_LOW_SPEED_TIME, stall)
        set(CURLOPT_TIMEOUT_MS, Int((deadline * 1000).rounded(.up)))
        setOffset(CURLOPT_MAXFILESIZE_LARGE, max(request.maxResponseBytes, Self.errorBodyLimit))
        if code == CURLE_OK { code = allot_curl_set_list(handle, CURLOPT_HTTPHEADER, headers) }
        if code == CURLE_OK { code = allot_curl_set_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWrite) }
        if code == CURLE_OK { code = allot_curl_set_pointer(handle, CURLOPT_WRITEDATA, context) }
        if code == CURLE_OK { code = allot_curl_set_data_callback(handle, CURLOPT_HEADERFUNCTION, curlHeader) }
        if code == CURLE_OK { code = allot_curl_set_pointer(handle, CURLOPT_HEADERDATA, context) }
        set(CURLOPT_NOPROGRESS, 0)
        if code == CURLE_OK { code = allot_curl_set_progress_callback(handle, curlProgress) }
        if code == CURLE_OK { code = allot_curl_set_pointer(handle, CURLOPT_XFERINFODATA, context) }
        switch request.method {
        case "GET":
            set(CURLOPT_HTTPGET, 1)
        case "HEAD":
            set(CURLOPT_NOBODY, 1)
        default:
            if request.method != "PUT" {
                code = code == CURLE_OK ? allot_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, request.method) : code
            }
            set(CURLOPT_UPLOAD, 1)
            setOffset(CURLOPT_INFILESIZE_LARGE, request.body.count)
            if code == CURLE_OK { code = allot_curl_set_data_callback(handle, CURLOPT_READFUNCTION, curlRead) }
            if code == CURLE_OK { code = allot_curl_set_pointer(handle, CURLOPT_READDATA, context) }
        }
        guard code == CURLE_OK else { return .failure(.other("\(label): cannot configure libcurl: \(Self.text(code))")) }

        let started = ContinuousClock.now
        let result = curl_easy_perform(handle)
        let took = (ContinuousClock.now - started).components
        let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
        switch result {
        case CURLE_OK:
            var status = 0
            _ = allot_curl_response_code(handle, &status)
            return .success(TransportResponse(status: status, headers: transfer.headers, body: transfer.body))
        case _ where result == CURLE_FILESIZE_EXCEEDED || (result == CURLE_WRITE_ERROR && transfer.overflow != nil):
            let limit = transfer.overflow ?? max(request.maxResponseBytes, Self.errorBodyLimit)
            return .failure(.tooLarge("\(label): the answer is larger than the \(limit) bytes accepted; abandoned"))
        case CURLE_OPERATION_TIMEDOUT:
            return .failure(
                .timeout(
                    "\(label): \(Self.text(result)) after \(String(format: "%.1f", seconds)) s (stalled below \(minimumBytesPerSecond) B/s for \(stall) s, or over the \(deadline) s deadline)"
                ))
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_GOT_NOTHING, CURLE_RECV_ERROR,
            CURLE_SEND_ERROR, CURLE_SSL_CONNECT_ERROR, CURLE_PARTIAL_FILE:
            return .failure(.unreachable("\(label): \(Self.text(result))"))
        case CURLE_ABORTED_BY_CALLBACK:
            return .failure(.other("\(label): cancelled"))
        default:
            return .failure(.other("\(label): \(Self.text(result)) (curl \(result.rawValue))"))
        }
    }

    private static func text(_ code: CURLcode) -> String {
        String(cString: curl_easy_strerror(code))
    }
}

/// A libcurl easy handle, used by one transfer at a time (the pool hands it over under its lock).
private struct EasyHandle: @unchecked Sendable {
    // @unchecked: a handle is used by one transfer at a time; the pool hands it over under its lock.
    let pointer: UnsafeMutableRawPointer
}

/// The state of one transfer, shared with libcurl's callbacks (on the transfer's thread only,
/// except `cancelled`).
private final class Transfer: @unchecked Sendable {
    // @unchecked: the mutable state is touched only by libcurl's callbacks on the transfer's thread
    // and read by it after the transfer; other threads only set `cancelled`, an atomic.
    let request: TransportRequest
    var status = 0
    var headers: [String: String] = [:]
    var headerBytes = 0
    var body: [UInt8] = []
    var uploaded = 0
    /// The limit that was exceeded, if the answer was cut off for size.
    var overflow: Int?
    let cancelled = Atomic<Bool>(false)

    init(request: TransportRequest) { self.request = request }

    /// The body limit for the current status: the request's for 2xx, a small one for errors.
    var bodyLimit: Int {
        (200..<300).contains(status) ? request.maxResponseBytes : CurlTransport.errorBodyLimit
    }

    static func from(_ context: UnsafeMutableRawPointer?) -> Transfer {
        Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    }
}

private func curlWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let transfer = Transfer.from(context)
    let length = size * count
    let limit = transfer.bodyLimit
    guard transfer.body.count + length <= limit else {
        transfer.overflow = limit
        return 0
    }
    if length > 0, let data {
        transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    }
    return length
}

private func curlHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let transfer = Transfer.from(context)
    let length = size * count
    transfer.headerBytes += length
    guard transfer.headerBytes <= CurlTransport.headerLimit else {
        transfer.overflow = CurlTransport.headerLimit
        return 0
    }
    guard let data else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response head (after `100 Continue`, or a retry inside libcurl): start over.
        transfer.headers = [:]
        let parts = line.split(separator: " ", maxSplits: 2)
        transfer.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        return length
    }
    guard let colon = line.firstIndex(of: ":") else { return length }
    let name = line[..<colon].lowercased()
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
    var value = line[line.index(after: colon)...]
    while let first = value.first, isSpace(first) { value.removeFirst() }
    while let last = value.last, isSpace(last) { value.removeLast() }
    transfer.headers[name] = String(value)
    return length
}

private func curlRead(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let transfer = Transfer.from(context)
    guard let data else { return 0 }
    let remaining = transfer.request.body.count - transfer.uploaded
    let length = min(size * count, remaining)
    guard length > 0 else { return 0 }
    transfer.request.body.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(data).copyMemory(from: bytes.baseAddress! + transfer.uploaded, byteCount: length)
    }
    transfer.uploaded += length
    return length
}

private func curlProgress(
    _ context: UnsafeMutableRawPointer?, _ downloadTotal: curl_off_t, _ downloaded: curl_off_t, _ uploadTotal: curl_off_t,
    _ uploaded: curl_off_t
) -> Int32 {
    Transfer.from(context).cancelled.load(ordering: .relaxed) ? 1 : 0
}
