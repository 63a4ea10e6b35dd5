import CCurl

/// An HTTP response: status, headers (names lower-cased) and body bytes.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A transport failure (no HTTP answer): connection refused, timeout, TLS error.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    /// libcurl's error code (`CURLE_*`).
    public var code: Int
    public var message: String
    public var isTimeout: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }

    public var description: String { "HTTP transport error \(code): \(message)" }
}

/// A blocking HTTP/1.1 client over one libcurl easy handle.
///
/// The handle keeps its connection alive between requests (connection reuse).
/// Not thread-safe: use one client per thread. TLS peers are verified unless
/// `verifyTLS` is false.
public final class HTTPClient {
    private let handle: UnsafeMutableRawPointer
    private let box = ResponseBox()
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    /// - Parameters:
    ///   - timeout: total time for one request, in seconds.
    ///   - connectTimeout: time to establish the connection, in seconds.
    public init(timeout: Double = 30, connectTimeout: Double = 10, verifyTLS: Bool = true) {
        _ = HTTPClient.globalInit
        handle = curl_easy_init()
        herald_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        herald_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        herald_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        herald_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        herald_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, verifyTLS ? 1 : 0)
        herald_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, verifyTLS ? 2 : 0)
        herald_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, httpClientWriteBody)
        herald_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, httpClientWriteHeader)
        let opaque = Unmanaged.passUnretained(box).toOpaque()
        herald_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
        herald_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque)
        errorBuffer.withUnsafeMutableBufferPointer { buffer in
            _ = herald_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress)
        }
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    /// Sends one request and waits for the whole answer.
    ///
    /// - Throws: `HTTPTransportError` when no HTTP answer was received.
    public func send(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) throws(HTTPTransportError) -> HTTPResponse {
        box.body.removeAll(keepingCapacity: true)
        box.headers.removeAll(keepingCapacity: true)
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        // An empty Expect stops libcurl from waiting for "100 Continue" on large bodies.
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }
        herald_curl_setopt_string(handle, CURLOPT_URL, url)
        herald_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        herald_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        herald_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, nil)
        herald_curl_setopt_long(handle, CURLOPT_NOBODY, 0)

        let code: CURLcode
        if let body {
            code = body.withUnsafeBufferPointer { buffer -> CURLcode in
                herald_curl_setopt_long(handle, CURLOPT_POST, 1)
                herald_curl_setopt_large(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(buffer.count))
                if let base = buffer.baseAddress, buffer.count > 0 {
                    herald_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                } else {
                    herald_curl_setopt_string(handle, CURLOPT_POSTFIELDS, "")
                }
                if method != "POST" { herald_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method) }
                let result = curl_easy_perform(handle)
                // POSTFIELDS points into `body`: clear it before the buffer goes away.
                herald_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
                return result
            }
        } else {
            if method == "HEAD" {
                herald_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
            } else if method != "GET" {
                herald_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
            }
            code = curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPTransportError(code: Int(code.rawValue), message: text)
        }
        var status = 0
        herald_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: box.headers, body: box.body)
    }
}

final class ResponseBox {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
}

private func httpClientWriteBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let userdata else { return 0 }
    let box = Unmanaged<ResponseBox>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    data.withMemoryRebound(to: UInt8.self, capacity: n) { bytes in
        box.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: n))
    }
    return n
}

private func httpClientWriteHeader(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let userdata else { return 0 }
    let box = Unmanaged<ResponseBox>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: n), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
        box.headers.removeAll()  // a new response (after redirects or 100 Continue)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
        box.headers.append((name, value))
    }
    return n
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
