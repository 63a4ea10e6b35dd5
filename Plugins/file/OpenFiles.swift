import Foundation
import Synchronization

/// The process's one writer per file: every file-sink instance that writes to a file shares one
/// `SharedFile` for it, so that two destinations (or a destination's old and new instance during a
/// reload) never interleave their lines.
///
/// Files are told apart by device and inode, not by how their path is spelled: `out.ndjson`,
/// `./out.ndjson`, `/var/x/../x/out.ndjson`, a path through a symlink and a hard link all name one
/// `SharedFile`. An entry lives as long as one instance holds it (reference counted); the last
/// `release` closes the descriptor. The plugin library is never unloaded, so the table lives for
/// the process.
enum OpenFiles {
    private static let table = Mutex<[SharedFile.Identity: SharedFile]>([:])

    /// Opens `path` for appending (creating it and its directory) and returns the process's writer
    /// for that file, shared with every other holder. Balance each call with `release`.
    ///
    /// - Throws: `FileSinkError` saying which path could not be opened and why.
    static func acquire(_ path: String) throws(FileSinkError) -> SharedFile {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        return try table.withLock { table throws(FileSinkError) -> SharedFile in
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o666)
            if fd < 0 {
                throw FileSinkError(
                    "cannot open \(path) for appending: \(String(cString: strerror(errno))) (check that its directory exists and is writable)"
                )
            }
            var st = stat()
            if fstat(fd, &st) != 0 {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw FileSinkError("cannot stat \(path) after opening it: \(reason)")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw FileSinkError(
                    "\(path) is not a regular file: the file sink appends lines to a regular file; give a file path")
            }
            let identity = SharedFile.Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if let shared = table[identity] {
                // Already open in this process (perhaps under another spelling): share it.
                close(fd)
                shared.holders += 1
                return shared
            }
            let shared = SharedFile(fd: fd, identity: identity, path: resolved(path))
            shared.holders = 1
            table[identity] = shared
            return shared
        }
    }

    /// Gives back one `acquire`; the last holder's release closes the file.
    static func release(_ file: SharedFile) {
        table.withLock { table in
            file.holders -= 1
            if file.holders == 0 {
                table[file.identity] = nil
                file.closeFile()
            }
        }
    }

    /// The canonical path (symlinks, `.` and `..` resolved), or `path` itself when that fails.
    private static func resolved(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}

/// An error of the file sink that says what failed, where, and what to do.
struct FileSinkError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
