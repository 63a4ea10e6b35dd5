#if canImport(Glibc)
    import Glibc
#endif

/// What a test case costs this process, measured in ways that other tests running at the same time do
/// not distort much.
enum ProcessMeasures {
    /// Processor time of the calling thread (zero where it cannot be read). Unlike the wall clock it does
    /// not grow while the thread waits for a core, so a cap on it holds on a loaded machine.
    static func threadCPUTime() -> Duration {
        #if canImport(Glibc)
            var now = timespec()
            guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0 else { return .zero }
            return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
        #else
            return .zero
        #endif
    }

    /// Resident set size of this process, from /proc/self/statm (0 where there is none).
    static func residentBytes() -> Int {
        #if canImport(Glibc)
            guard let file = fopen("/proc/self/statm", "r") else { return 0 }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 128)
            guard fgets(&line, Int32(line.count), file) != nil else { return 0 }
            let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(separator: " ")
            guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
            return pages * Int(getpagesize())
        #else
            return 0
        #endif
    }
}
