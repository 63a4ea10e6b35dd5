import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a raw-socket helper failed.
public struct RawSocketError: Error, CustomStringConvertible {
    public var description: String
    init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
}

/// Opens a non-blocking TCP socket to `127.0.0.1:port` from `source` (any 127.x.y.z works on Linux, so a test
/// can play several clients). The connection may still be in progress on return.
func openSocket(port: Int, source: String) throws -> Int32 {
    #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    #endif
    guard fd >= 0 else { throw RawSocketError("socket") }
    var from = sockaddr_in()
    from.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, source, &from.sin_addr)
    var to = sockaddr_in()
    to.sin_family = sa_family_t(AF_INET)
    to.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr)
    let bound = withUnsafePointer(to: &from) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
        let error = RawSocketError("bind to \(source)")
        close(fd)
        throw error
    }
    let connected = withUnsafePointer(to: &to) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 || errno == EINPROGRESS else {
        let error = RawSocketError("connect to port \(port)")
        close(fd)
        throw error
    }
    return fd
}

/// Sends all of `bytes` on a connected socket (no SIGPIPE if the peer is gone); false if it could not.
@discardableResult
func sendAll(_ fd: Int32, _ bytes: [UInt8], timeout: Double = 5) -> Bool {
    var offset = 0
    let deadline = Date().addingTimeInterval(timeout)
    while offset < bytes.count {
        #if os(Linux)
            let flags = Int32(MSG_NOSIGNAL)
        #else
            let flags: Int32 = 0
        #endif
        let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, flags) }
        if n > 0 {
            offset += n
        } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, 50)
        } else {
            return false
        }
    }
    return true
}

/// What the server did with one connection, as seen by the client.
public struct ConnectionOutcome: Sendable {
    /// Everything the server sent.
    public var received: [UInt8] = []
    /// When the server closed the connection (orderly or reset), if it did.
    public var closedAt: Date?
    /// When bytes last arrived.
    public var lastDataAt: Date?

    /// The status code of the first answer, if one arrived.
    public var status: Int? {
        let text = String(decoding: received.prefix(16), as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }

    /// Whether the head of an answer and as many body bytes as its `content-length` arrived.
    public var hasWholeAnswer: Bool {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = received.indices.first(where: { received[$0...].starts(with: separator) }) else { return false }
        let head = String(decoding: received[..<end], as: UTF8.self).lowercased()
        guard let r = head.range(of: "content-length: "), let length = Int(head[r.upperBound...].prefix { $0.isNumber })
        else { return true }
        return received.count >= end + 4 + length
    }

    /// The body of the first answer (after the blank line), as text.
    public var body: String {
        let text = String(decoding: received, as: UTF8.self)
        guard let r = text.range(of: "\r\n\r\n") else { return "" }
        return String(text[r.upperBound...])
    }
}

/// One client connection driven byte by byte, for tests of slow and malformed requests.
///
/// Reads happen on a thread of their own, so the times noted (`lastDataAt`, `closedAt`) are when bytes and the
/// close arrived even while the test's task waits for one of the runner's few threads. Use from one task.
public final class RawConnection: @unchecked Sendable {
    let fd: Int32
    public private(set) var outcome = ConnectionOutcome()

    /// Connects to `127.0.0.1:port` from `source`, waiting up to `timeout` seconds.
    public init(port: Int, source: String = "127.0.0.1", timeout: Double = 5) throws {
        fd = try openSocket(port: port, source: source)
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0,
            error == 0
        else {
            close(fd)
            errno = error
            throw RawSocketError("connect to port \(port) from \(source)")
        }
    }

    deinit { close(fd) }

    /// Sends `text` as it is (no line endings added).
    public func send(_ text: String) throws {
        guard sendAll(fd, Array(text.utf8)) else { throw RawSocketError("send") }
    }

    /// Reads until the server closes the connection or `timeout` seconds pass; returns what arrived so far.
    @discardableResult
    public func readUntilClosed(timeout: Double) async -> ConnectionOutcome {
        await read(timeout: timeout) { $0.closedAt != nil }
    }

    /// Reads one whole answer with a `content-length` (what Herald sends), or gives up after `timeout` seconds.
    @discardableResult
    public func readAnswer(timeout: Double) async -> ConnectionOutcome {
        await read(timeout: timeout) { $0.closedAt != nil || $0.hasWholeAnswer }
    }

    func read(timeout: Double, until done: @escaping @Sendable (ConnectionOutcome) -> Bool) async -> ConnectionOutcome {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let deadline = Date().addingTimeInterval(timeout)
                while !done(self.outcome) && Date() < deadline {
                    var p = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
                    if poll(&p, 1, 10) > 0 { self.drain() }
                }
                continuation.resume(returning: self.outcome)
            }
        }
    }

    /// Forgets what was received so far (to read the next answer on a keep-alive connection).
    public func clearReceived() { outcome.received = [] }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while outcome.closedAt == nil {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                outcome.received.append(contentsOf: buffer[0..<n])
                outcome.lastDataAt = Date()
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                outcome.closedAt = Date()  // orderly close, or reset
            } else {
                return
            }
        }
    }
}

/// Many connections that each send the start of a request and then hang, as a slowloris attack does.
public final class SlowClients {
    private var fds: [Int32] = []
    /// When each connection was started (before the server can have accepted it).
    public private(set) var openedAt: [Date] = []
    public private(set) var outcomes: [ConnectionOutcome] = []

    /// Opens `count` connections to `127.0.0.1:port` from `source` and sends `prefix` on each.
    /// - Throws: when a socket cannot be made or not every connection is established within `timeout` seconds.
    public init(count: Int, port: Int, source: String, prefix: String, timeout: Double = 30) async throws {
        let bytes = Array(prefix.utf8)
        for _ in 0..<count {
            openedAt.append(Date())
            fds.append(try openSocket(port: port, source: source))
        }
        outcomes = Array(repeating: ConnectionOutcome(), count: count)
        var waiting = Set(0..<count)
        let deadline = Date().addingTimeInterval(timeout)
        while !waiting.isEmpty && Date() < deadline {
            let ids = Array(waiting)
            var polls = ids.map { pollfd(fd: fds[$0], events: Int16(POLLOUT), revents: 0) }
            guard poll(&polls, nfds_t(polls.count), 0) > 0 else {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            for (k, p) in polls.enumerated() where p.revents != 0 {
                let i = ids[k]
                waiting.remove(i)
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &error, &length)
                if error != 0 {
                    outcomes[i].closedAt = Date()
                    continue
                }
                sendAll(fds[i], bytes, timeout: 0)
            }
        }
        guard waiting.isEmpty else {
            throw RawSocketError("\(waiting.count) of \(count) connections were not established within \(timeout) s")
        }
    }

    deinit { for fd in fds { close(fd) } }

    public var count: Int { fds.count }

    /// Connections the server has closed so far.
    public var closedCount: Int { outcomes.count { $0.closedAt != nil } }

    /// Reads what the server sent, without blocking; notes connections it closed.
    public func readAvailable() {
        let open = fds.indices.filter { outcomes[$0].closedAt == nil }
        var polls = open.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
        guard !polls.isEmpty, poll(&polls, nfds_t(polls.count), 0) > 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for (k, p) in polls.enumerated() where p.revents != 0 {
            let i = open[k]
            while outcomes[i].closedAt == nil {
                let n = buffer.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n > 0 {
                    outcomes[i].received.append(contentsOf: buffer[0..<n])
                } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    outcomes[i].closedAt = Date()
                } else {
                    break
                }
            }
        }
    }

    /// Polls until the server has closed every connection or `timeout` seconds pass; returns how many it closed.
    @discardableResult
    public func waitUntilAllClosed(timeout: Double) async -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            readAvailable()
            if closedCount == count { break }
            try? await Task.sleep(for: .milliseconds(50))
        } while Date() < deadline
        return closedCount
    }
}
