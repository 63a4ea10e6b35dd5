import Foundation

/// Match tokens as stored: a 64-bit FNV-1a hash of the token's UTF-8 bytes (stable across versions
/// and platforms: it is persisted).
public enum MatchKey {
    public static func of(_ token: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in token.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    package static func encode(_ keys: Set<Int64>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(keys.count * 8)
        for key in keys.sorted() {
            withUnsafeBytes(of: key.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    package static func decode(_ raw: UnsafeRawBufferPointer) -> Set<Int64> {
        var keys = Set<Int64>(minimumCapacity: raw.count / 8)
        var offset = 0
        while offset + 8 <= raw.count {
            keys.insert(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
            offset += 8
        }
        return keys
    }

    package static func decode(_ data: Data) -> Set<Int64> {
        data.withUnsafeBytes { decode($0) }
    }

    package static func decode(_ bytes: [UInt8]) -> Set<Int64> {
        bytes.withUnsafeBytes { decode($0) }
    }
}
