import Foundation
import Testing

// Swift's cooperative thread pool has one thread per core: two on the CI machine. A test that blocks one of them
// for many seconds (processes, synchronous HTTP calls, sleeps) starves every other test of the run: store tests hit
// their time limits and leases in lease tests lapse between two statements. Two tools keep the pool free:
// - `offPool` / `offPoolConcurrently` run blocking work that reports by returning or throwing on threads of their
//   own (not `#expect`: swift-testing attributes expectations through task-locals, which a raw thread lacks);
// - the `.blocking` suite trait lets at most one test case of all `.blocking` suites run at a time, so at least one
//   pool thread stays free for the rest of the run (the others wait without holding a thread). A test's time limit
//   counts its wait for the slot too, so `.blocking` suites take 10 minutes: a limit there catches a hang, not a
//   slow test behind a queue of others.

/// Runs `body` on a thread of its own and awaits its result. `body` reports by returning or throwing, not `#expect`.
public func offPool<T>(_ body: @escaping () throws -> T) async throws -> T {
    let work = UncheckedSendable(body)
    let result: UncheckedSendable<Result<T, any Error>> = await withCheckedContinuation { continuation in
        let thread = Thread {
            continuation.resume(returning: UncheckedSendable(Result { try work.value() }))
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    return try result.value.get()
}

/// Runs each body on a thread of its own, all at once, and awaits them all; rethrows the first error.
public func offPoolConcurrently(_ bodies: [@Sendable () throws -> Void]) async throws {
    try await offPool {
        let group = DispatchGroup()
        let failure = NSLock()
        nonisolated(unsafe) var first: (any Error)?
        for body in bodies {
            group.enter()
            Thread {
                do { try body() } catch { failure.withLock { if first == nil { first = error } } }
                group.leave()
            }.start()
        }
        group.wait()
        if let first { throw first }
    }
}

/// A value handed to another thread by the caller that created it and waits for it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The `.blocking` trait (see above): at most one test case of the suites that carry it runs at a time.
public struct BlockingTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// One slot per core but one: on the 2-core CI machine, one blocking test at a time.
    static let slots = TestSlots(max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
    @TaskLocal static var holding = false

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // The suite itself runs its tests as usual; a test already holding a slot (scoped once for its function and
        // again for its case) does not take a second one.
        guard !test.isSuite, !BlockingTrait.holding else { return try await function() }
        await Self.slots.acquire()
        do {
            try await BlockingTrait.$holding.withValue(true) { try await function() }
        } catch {
            await Self.slots.release()
            throw error
        }
        await Self.slots.release()
    }
}

extension Trait where Self == BlockingTrait {
    /// The suite's tests block a thread for seconds: at most one such test case runs at a time (see `BlockingTrait`).
    public static var blocking: Self { BlockingTrait() }
}

/// A counting semaphore that tasks wait on without blocking a thread.
actor TestSlots {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }
}
