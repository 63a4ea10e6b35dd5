#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What tells one version of a file from the next: device, inode, size, modification and change
/// times (a rewrite in place changes the size or the times; a rename over it changes the inode).
public struct FileStamp: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int64
    var changed: Int64
    var changedNanoseconds: Int64

    init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        size = Int64(s.st_size)
        modified = Int64(s.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(s.st_mtim.tv_nsec)
        changed = Int64(s.st_ctim.tv_sec)
        changedNanoseconds = Int64(s.st_ctim.tv_nsec)
    }

    /// Whether the file changed less than `seconds` ago: a writer may not be done with it (file
    /// times tick in jiffies, so two writes of the same size within one tick look alike).
    func isRecent(seconds: Int64) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) - max(modified, changed) < seconds
    }
}

/// Reads credentials files with plain system calls (the plugin does not link Foundation).
enum CredentialsFileReader {
    /// A credentials file is a few hundred bytes; anything over this is not one.
    static let maxBytes = 1 << 20

    /// The file's stamp now, or why it has none (`No such file or directory`…).
    static func stamp(_ path: String) -> Result<FileStamp, CredentialsFileError> {
        var s = stat()
        guard stat(path, &s) == 0 else { return .failure(systemError(path)) }
        return .success(FileStamp(s))
    }

    /// The file's text and the stamp of exactly the version read.
    static func load(_ path: String) throws(CredentialsFileError) -> (text: String, stamp: FileStamp) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw systemError(path) }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0 else { throw systemError(path) }
        guard (s.st_mode & S_IFMT) == S_IFREG else {
            throw CredentialsFileError(path: path, line: nil, "not a regular file")
        }
        guard Int(s.st_size) <= maxBytes else {
            throw CredentialsFileError(
                path: path, line: nil, "\(s.st_size) bytes: too large for a credentials file (at most \(maxBytes))")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while bytes.count <= maxBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError(path)
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return (String(decoding: bytes, as: UTF8.self), FileStamp(s))
    }

    static func systemError(_ path: String) -> CredentialsFileError {
        let code = errno
        return CredentialsFileError(path: path, line: nil, "cannot be read: \(String(cString: strerror(code)))")
    }
}
