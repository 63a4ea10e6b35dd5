import CHeraldSink
import Foundation

/// A plugin library that passed every check and can create instances.
public final class LoadedPlugin: @unchecked Sendable {
    public let manifest: PluginManifest
    let descriptor: UnsafePointer<herald_sink_descriptor>
    public let name: String
    public let version: String
    public let summary: String
    public let configSchema: String?
    public let abiMajor: Int
    public let abiMinor: Int
    public let capabilities: UInt64
    /// SHA-256 of the library's bytes as loaded: what identifies this code (a new file, a new plugin).
    public let sha256: String
    /// The library's bytes as loaded: a `herald sink-host` child gets these, so it runs the very code the daemon
    /// checked, whatever has become of the file since.
    let image: Data

    init(manifest: PluginManifest, descriptor: UnsafePointer<herald_sink_descriptor>, sha256: String, image: Data) {
        self.manifest = manifest
        self.descriptor = descriptor
        self.sha256 = sha256
        self.image = image
        let d = descriptor.pointee
        name = d.name.map { String(cString: $0) } ?? ""
        version = d.version.map { String(cString: $0) } ?? ""
        summary = d.description.map { String(cString: $0) } ?? ""
        configSchema = d.config_schema.map { String(cString: $0) }
        abiMajor = Int(d.abi_major)
        abiMinor = Int(d.abi_minor)
        capabilities = d.capabilities
    }

    public var isAsync: Bool { capabilities & UInt64(HERALD_SINK_CAP_ASYNC) != 0 }
    public var keepsKeyOrder: Bool { capabilities & UInt64(HERALD_SINK_CAP_ORDERING_KEY) != 0 }
    public var canFlush: Bool { capabilities & UInt64(HERALD_SINK_CAP_FLUSH) != 0 && descriptor.pointee.on_flush != nil }

    /// Runs the plugin's pure configuration check.
    /// - Returns: nil when valid, else the plugin's message.
    public func validate(config: String) -> String? {
        guard let validate = descriptor.pointee.on_validate_config else { return nil }
        var error = [CChar](repeating: 0, count: 1024)
        let status = config.withCString { text in
            validate(text, strlen(text), &error, error.count)
        }
        if status == 0 { return nil }
        let message = cString(error)
        return message.isEmpty ? "the plugin rejected the configuration (no message given)" : message
    }
}

/// Loads plugin libraries: `dlopen` with RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE (never unloaded),
/// then checks magic, ABI version and struct size before using anything else.
///
/// A library is read once into memory, hashed, written to a private copy named by its hash, opened from that
/// copy, and the copy is removed (the mapping stays). So the pinned `sha256` is checked on the very bytes that
/// run, and a library file replaced in place (same path, new code) loads as new code on the next scan — dlopen
/// alone would hand back the library it already has for that path.
public enum PluginLoader {
    /// The ABI version this host implements.
    public static let hostABIMajor = Int(HERALD_SINK_ABI_MAJOR)
    public static let hostABIMinor = Int(HERALD_SINK_ABI_MINOR)

    /// Libraries already opened, by the SHA-256 of their bytes: the same code is opened once per process.
    nonisolated(unsafe) private static var opened: [String: UnsafeRawPointer] = [:]
    private static let lock = NSLock()
    /// Largest library file read.
    static let maxLibraryBytes = 1 << 30

    /// The bytes of a library file and their SHA-256.
    public static func read(library path: String) throws(PluginLoadError) -> (bytes: Data, sha256: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.intValue
        else {
            throw PluginLoadError(.libraryMissing, "library \(path) does not exist or cannot be read")
        }
        guard size <= maxLibraryBytes else {
            throw PluginLoadError(.libraryMissing, "library \(path) is \(size) bytes, over the \(maxLibraryBytes) a plugin may have")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw PluginLoadError(.libraryMissing, "cannot read library \(path)")
        }
        return (bytes, sha256Hex(of: bytes))
    }

    public static func load(_ manifest: PluginManifest) throws(PluginLoadError) -> LoadedPlugin {
        let path = manifest.library
        guard FileManager.default.fileExists(atPath: path) else {
            throw PluginLoadError(.libraryMissing, "library \(path) does not exist (named by \(manifest.manifestPath))")
        }
        if manifest.abiMajor != hostABIMajor || manifest.abiMinor > hostABIMinor {
            throw PluginLoadError(
                .abiMismatch,
                "manifest \(manifest.manifestPath) declares ABI \(manifest.abiMajor).\(manifest.abiMinor); "
                    + "this Herald implements ABI \(hostABIMajor).\(hostABIMinor) (accepts \(hostABIMajor).0–\(hostABIMajor).\(hostABIMinor))")
        }
        let (bytes, actual) = try read(library: path)
        return try load(manifest, image: bytes, sha256: actual)
    }

    /// Loads a library from its bytes (`herald sink-host` gets them from the daemon), checked as `load(_:)` checks.
    static func load(_ manifest: PluginManifest, image bytes: Data, sha256 actual: String) throws(PluginLoadError) -> LoadedPlugin {
        let path = manifest.library
        if let expected = manifest.sha256, actual != expected {
            throw PluginLoadError(
                .hashMismatch,
                "SHA-256 of \(path) is \(actual) but the manifest pins \(expected); rebuild the manifest or the library")
        }
        let entry = try openEntry(path: path, bytes: bytes, sha256: actual, name: manifest.name)
        let descriptorPointer = entry()
        guard let descriptorPointer else {
            throw PluginLoadError(.descriptorInvalid, "\(path): herald_sink_entry() returned NULL")
        }
        let descriptor = try check(descriptorPointer, path: path)
        let plugin = LoadedPlugin(manifest: manifest, descriptor: descriptor, sha256: actual, image: bytes)
        if plugin.name != manifest.name {
            throw PluginLoadError(
                .descriptorInvalid,
                "\(path) calls itself '\(plugin.name)' but its manifest \(manifest.manifestPath) says '\(manifest.name)'")
        }
        // The library's own report was checked against this host; the manifest's must name the same major (a
        // 1.0 manifest for a library built against 1.1 headers is fine: both minors are supported).
        if plugin.abiMajor != manifest.abiMajor {
            throw PluginLoadError(
                .abiMismatch,
                "manifest declares ABI \(manifest.abiMajor).\(manifest.abiMinor) but \(path) reports \(plugin.abiMajor).\(plugin.abiMinor)")
        }
        return plugin
    }

    /// Loads a library directly (for `herald plugins check`), without a manifest.
    public static func load(library path: String) throws(PluginLoadError) -> LoadedPlugin {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        guard FileManager.default.fileExists(atPath: absolute) else {
            throw PluginLoadError(.libraryMissing, "library \(absolute) does not exist")
        }
        let (bytes, sha) = try read(library: absolute)
        let entry = try openEntry(path: absolute, bytes: bytes, sha256: sha, name: "check")
        guard let pointer = entry() else {
            throw PluginLoadError(.descriptorInvalid, "\(absolute): herald_sink_entry() returned NULL")
        }
        let descriptor = try check(pointer, path: absolute)
        let d = descriptor.pointee
        let manifest = PluginManifest(
            name: d.name.map { String(cString: $0) } ?? "?", library: absolute, abiMajor: Int(d.abi_major),
            abiMinor: Int(d.abi_minor), description: "", sha256: nil, manifestPath: "(none)")
        return LoadedPlugin(manifest: manifest, descriptor: descriptor, sha256: sha, image: bytes)
    }

    /// A private folder for the copies being opened (mode 0700, one per process).
    private static let copyFolder: String = {
        let folder = NSTemporaryDirectory() + "herald-plugins-\(getuid())-\(getpid())"
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder
    }()

    /// Opens `bytes` (read from `path`) through a private copy, once per distinct content.
    private static func openEntry(path: String, bytes: Data, sha256: String, name: String) throws(PluginLoadError)
        -> herald_sink_entry_fn
    {
        let handle: UnsafeRawPointer
        lock.lock()
        if let existing = opened[sha256] {
            handle = existing
            lock.unlock()
        } else {
            let copy = copyFolder + "/\(name)-\(sha256.prefix(16)).so"
            guard FileManager.default.createFile(atPath: copy, contents: bytes, attributes: [.posixPermissions: 0o500]) else {
                lock.unlock()
                throw PluginLoadError(.dlopenFailed, "cannot copy \(path) to \(copy) to load it")
            }
            _ = dlerror()
            let h = dlopen(copy, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
            unlink(copy)
            guard let h else {
                lock.unlock()
                let reason = (dlerror().map { String(cString: $0) } ?? "unknown error").replacingOccurrences(of: copy, with: path)
                throw PluginLoadError(.dlopenFailed, "dlopen(\(path)) failed: \(reason)")
            }
            handle = UnsafeRawPointer(h)
            opened[sha256] = handle
            lock.unlock()
        }
        _ = dlerror()
        guard let symbol = dlsym(UnsafeMutableRawPointer(mutating: handle), HERALD_SINK_ENTRY_SYMBOL) else {
            throw PluginLoadError(
                .entryMissing,
                "\(path) does not export '\(HERALD_SINK_ENTRY_SYMBOL)'; a Herald sink exports exactly that function "
                    + "(see herald_sink.h)")
        }
        return unsafeBitCast(symbol, to: herald_sink_entry_fn.self)
    }

    private static func check(_ pointer: UnsafePointer<herald_sink_descriptor>, path: String) throws(PluginLoadError)
        -> UnsafePointer<herald_sink_descriptor>
    {
        // Read the fixed-size prefix first: magic, struct_size and versions are the first 12 bytes.
        let raw = UnsafeRawPointer(pointer)
        let magic = raw.loadUnaligned(as: UInt32.self)
        guard magic == HERALD_SINK_MAGIC else {
            throw PluginLoadError(
                .badMagic,
                "\(path) is not a Herald sink: descriptor magic is 0x\(String(magic, radix: 16)), expected 0x\(String(HERALD_SINK_MAGIC, radix: 16))")
        }
        let size = raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let major = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        let minor = Int(raw.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        guard major == hostABIMajor, minor <= hostABIMinor else {
            throw PluginLoadError(
                .abiMismatch,
                "\(path) was built for ABI \(major).\(minor); this Herald implements ABI \(hostABIMajor).\(hostABIMinor) "
                    + "and accepts \(hostABIMajor).0 to \(hostABIMajor).\(hostABIMinor): rebuild the plugin against this Herald's herald_sink.h")
        }
        let needed = MemoryLayout<herald_sink_descriptor>.size
        guard Int(size) >= needed else {
            throw PluginLoadError(
                .descriptorInvalid,
                "\(path): descriptor struct_size is \(size) bytes, ABI \(major).\(minor) needs at least \(needed)")
        }
        let d = pointer.pointee
        var missing: [String] = []
        if d.name == nil { missing.append("name") }
        if d.version == nil { missing.append("version") }
        if d.on_validate_config == nil { missing.append("on_validate_config") }
        if d.on_create == nil { missing.append("on_create") }
        if d.on_get_limits == nil { missing.append("on_get_limits") }
        if d.on_start == nil { missing.append("on_start") }
        if d.on_send_batch == nil { missing.append("on_send_batch") }
        if d.on_stop == nil { missing.append("on_stop") }
        if d.on_destroy == nil { missing.append("on_destroy") }
        guard missing.isEmpty else {
            throw PluginLoadError(.descriptorInvalid, "\(path): descriptor lacks \(missing.joined(separator: ", "))")
        }
        return pointer
    }
}
