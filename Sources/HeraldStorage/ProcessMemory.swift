import CMalloc
import Foundation

/// The process's memory as the kernel counts it, and giving glibc's free memory back.
///
/// glibc returns freed memory to the system only from the top of each arena: what is freed below
/// live allocations stays resident. Under sustained ingest (match profiles, request bodies and
/// SQLite pages freed in between longer-lived ones) that free memory grew to 170 MiB of a 510 MiB
/// RSS (`docs/memory.md`). `malloc_trim(0)` returns every whole free page of every arena.
public enum ProcessMemory {
    /// The process's resident set (VmRSS, from /proc/self/statm) in bytes, or 0 when it cannot be read.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Hands every whole free page that glibc's allocator keeps back to the system.
    /// Returns the bytes the RSS went down by (0 or negative when other threads allocated meanwhile).
    @discardableResult
    public static func trim() -> Int {
        let before = residentBytes()
        malloc_trim(0)
        return before - residentBytes()
    }
}
