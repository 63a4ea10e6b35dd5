/// Generates the short random ids of entities, values and crosswalks.
///
/// xoshiro256** seeded once from the system generator: ids need to be unlikely
/// to collide, not unpredictable, and a syscall per id would cost more than the
/// rest of rendering. Callers check uniqueness where it matters (entity ids in
/// the store, value ids within an entity).
public struct IDGenerator: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64? = nil) {
        var x = seed ?? UInt64.random(in: .min ... .max)
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&x)
        s1 = splitmix(&x)
        s2 = splitmix(&x)
        s3 = splitmix(&x)
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A base-62 id of `length` characters (at most 10).
    public mutating func id(length: Int) -> String {
        var v = next()
        return String(unsafeUninitializedCapacity: length) { buffer in
            for i in 0..<length {
                buffer[i] = IDGenerator.alphabet[Int(v % 62)]
                v /= 62
            }
            return length
        }
    }

    /// Entity ids: 8 base-62 characters (2.2 × 10^14 possibilities; the store retries on collision).
    public mutating func entityId() -> String { id(length: 8) }

    /// Value and crosswalk ids: 6 characters, unique within one entity.
    public mutating func localId() -> String { id(length: 6) }
}
