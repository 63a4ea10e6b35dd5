import Foundation

/// Latency samples and percentiles.
struct LatencyRecorder {
    private(set) var samples: [Double] = []
    var count: Int { samples.count }

    mutating func record(_ seconds: Double) { samples.append(seconds) }
    mutating func merge(_ other: LatencyRecorder) { samples.append(contentsOf: other.samples) }

    /// The p-th percentile in milliseconds (nearest rank).
    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[max(0, min(sorted.count - 1, rank))] * 1000
    }
}

/// Peak and current resident memory of a process, from /proc.
enum ProcessMemory {
    /// Resets this process's VmHWM to its current RSS (Linux: `echo 5 > /proc/self/clear_refs`), so
    /// that a scenario's peak is not an earlier scenario's.
    static func resetOwnPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    /// (VmHWM, VmRSS) in MiB.
    static func read(pid: Int32) -> (peak: Double, current: Double) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        var peak = 0.0
        var current = 0.0
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Double(parts[1]) else { continue }
            if parts[0] == "VmHWM:" { peak = kb / 1024 }
            if parts[0] == "VmRSS:" { current = kb / 1024 }
        }
        return (peak, current)
    }
}

/// Median and spread of repeated runs.
struct Summary {
    var values: [Double]

    var median: Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    var min: Double { values.min() ?? 0 }
    var max: Double { values.max() ?? 0 }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A one-line description of the machine, printed with every result.
func machineSummary(configuration: String) -> String {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let memory = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
    var cpu = "unknown CPU"
    if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
        let colon = line.firstIndex(of: ":")
    {
        cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return "\(cores) cores (\(cpu)), \(String(format: "%.0f", memory)) GiB, \(configuration) build"
}

/// Results are printed for people and appended as JSON lines for comparisons across versions.
struct ResultWriter {
    var jsonPath: String?

    func emit(scenario: String, parameters: [String: String], figures: [(String, Double, String)]) {
        var parameters = parameters
        parameters["store"] = BenchStore.current.rawValue
        let scenario = BenchStore.current == .postgres ? scenario + " [PostgreSQL]" : scenario
        say("\n## \(scenario)")
        say("parameters: " + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        for (name, value, unit) in figures {
            say("  \(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(format(value)) \(unit)")
        }
        guard let jsonPath else { return }
        var object: [String: Any] = ["scenario": scenario, "parameters": parameters]
        var values: [String: Any] = [:]
        for (name, value, unit) in figures { values[name] = ["value": value, "unit": unit] }
        object["figures"] = values
        object["time"] = ISO8601DateFormatter().string(from: Date())
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            if let handle = FileHandle(forWritingAtPath: jsonPath) {
                handle.seekToEndOfFile()
                handle.write(data + Data([0x0A]))
                handle.closeFile()
            } else {
                FileManager.default.createFile(atPath: jsonPath, contents: data + Data([0x0A]))
            }
        }
    }

    private func format(_ v: Double) -> String {
        if v >= 100 { return String(format: "%.0f", v) }
        if v >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }
}

/// Prints a line at once (unbuffered), so that progress shows up when the output goes to a file.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
