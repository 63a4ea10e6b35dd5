/// Several literals stored back to back, so the hot path reads all of them through one buffer
/// instead of copying (and reference-counting) an array per literal.
struct PackedLiterals<Unit: FixedWidthInteger & Sendable>: Sendable {
    private var storage: [Unit] = []
    /// Literal `i` is `storage[bounds[i]..<bounds[i + 1]]`.
    private var bounds: [Int] = [0]
    private var slashes: [Bool] = []

    var count: Int { slashes.count }
    var isEmpty: Bool { slashes.isEmpty }

    mutating func append(_ units: some Collection<Unit>, hasSlash: Bool) {
        storage.append(contentsOf: units)
        bounds.append(storage.count)
        slashes.append(hasSlash)
    }

    /// A read-only view valid inside `body`.
    struct View {
        let storage: UnsafeBufferPointer<Unit>
        let bounds: UnsafeBufferPointer<Int>
        let slashes: UnsafeBufferPointer<Bool>

        var count: Int { slashes.count }

        subscript(_ i: Int) -> UnsafeBufferPointer<Unit> {
            UnsafeBufferPointer(rebasing: storage[bounds[i]..<bounds[i + 1]])
        }

        /// Whether literal `i` contains '/'.
        func hasSlash(_ i: Int) -> Bool { slashes[i] }
    }

    @inline(__always)
    func withView<R>(_ body: (View) -> R) -> R {
        storage.withUnsafeBufferPointer { s in
            bounds.withUnsafeBufferPointer { b in
                slashes.withUnsafeBufferPointer { body(View(storage: s, bounds: b, slashes: $0)) }
            }
        }
    }
}
