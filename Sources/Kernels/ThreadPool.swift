// A fixed set of worker threads that run the chunks of one parallel loop at a time.
//
// Determinism: callers split work into chunks whose number and shape depend only on the problem
// (never on `threadCount`), and every chunk writes memory no other chunk writes. Which thread runs
// which chunk then cannot change a single bit of the result, so 1 and 2 threads agree exactly.
//
// Locality: thread t always runs the same contiguous block of chunks (t·n/T ..< (t+1)·n/T), so
// from one training step to the next each core updates the same slice of the parameters and keeps
// it in its own cache. Handing chunks out first-come-first-served instead made the seed MLP's
// epoch swing between 0.47 s and 1.15 s on this machine: the optimizer's 1.6 MB of state moved
// between cores every step, which is slow whenever the two virtual CPUs sit on different dies.
//
// Floating point: every chunk runs with its caller's handling of denormals (Denormals.swift), which
// a worker takes from the loop before it runs any chunk, so which thread runs a chunk cannot change
// a bit there either.
//
// Stealing: a thread that has finished its block and has waited `stealAfter` for the others
// takes their unclaimed chunks. A thread that is not running (another process has its core, or
// the host has its virtual CPU) then no longer holds up every loop: with one busy process
// beside a 2-thread LeNet-5 run, the caller waited 1.1 s per 2.2 s epoch for the descheduled
// worker (1 thread alone: 1.6 s). The wait keeps chunks where they were in the usual case.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels
import CSpinWait
import Synchronization

public final class ThreadPool: @unchecked Sendable {
    /// Threads that run chunks, the calling thread included.
    public let threadCount: Int
    private let core: PoolCore
    private var threads: [pthread_t] = []

    /// - Parameter threadCount: total threads including the caller; at least 1.
    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        core = PoolCore(threadCount: self.threadCount)
        for index in 1..<self.threadCount {
            // The worker owns a reference to the core, never to the pool, so the pool can go away.
            let context = Unmanaged.passRetained(WorkerContext(core: core, index: index)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.core.workerLoop(index: context.index)
                return nil
            }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
        }
    }

    deinit {
        core.shutDown()
        for thread in threads { pthread_join(thread, nil) }
    }

    /// The CPUs this process may use (affinity mask and cgroup quota; see `CPUAllowance`).
    public static var availableCores: Int { CPUAllowance.current().usable }

    /// Runs `body(0) … body(chunks-1)`, spread over the pool's threads; returns when all are done.
    /// Each chunk must write only memory that no other chunk touches. Not reentrant: `body` must
    /// not call `parallelFor` on the same pool.
    public func parallelFor(_ chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 0 { return }
        if chunks == 1 || threadCount == 1 {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        core.run(chunks, body)
    }
}

private final class WorkerContext {
    let core: PoolCore
    let index: Int
    init(core: PoolCore, index: Int) {
        self.core = core
        self.index = index
    }
}

/// The generation (high 32 bits) and the next unclaimed chunk (low 32 bits) of one thread's block.
private final class Claim: @unchecked Sendable {
    let next = Atomic<UInt64>(0)
}

/// The state shared by the caller and the worker threads.
private final class PoolCore: @unchecked Sendable {
    let threadCount: Int
    // `state` packs the loop's generation (high 32 bits) with the caller's denormal mode (bit 31)
    // and its chunk count (low 31 bits), so a worker reads them in one atomic load and can never
    // pair one loop's generation with another's count or mode. `body` is only read by threads that hold a claimed chunk of the current loop (claims
    // carry the generation, so a thread still in an older loop claims nothing of a newer one), and
    // the caller does not return (or replace `body`) until every chunk is done.
    private let state = Atomic<UInt64>(0)
    private let unfinished = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let claims: [Claim]
    private var body: ((Int) -> Void)?

    /// How long a thread done with its block waits before taking other threads' chunks: longer
    /// than a loop's usual imbalance (a few microseconds), far shorter than a time slice.
    static let stealAfter = 50e-6

    // Workers spin (with the CPU's pause hint) for the next loop for up to ~1 ms (a training
    // step's loops come tens of microseconds apart; waking a sleeping thread costs about as much
    // as a small loop), then sleep on a condition variable so an idle pool costs nothing.
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var sleepers = 0

    init(threadCount: Int) {
        self.threadCount = threadCount
        claims = (0..<threadCount).map { _ in Claim() }
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
    }

    deinit {
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&mutex)
    }

    func shutDown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        // A new generation wakes spinning workers; the broadcast wakes sleeping ones.
        state.add(1 << 32, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
    }

    /// Thread `index`'s chunks of a loop of `chunks`.
    private func block(_ index: Int, of chunks: Int) -> Range<Int> {
        (index * chunks / threadCount)..<((index + 1) * chunks / threadCount)
    }

    /// The next unclaimed chunk of thread `owner`'s block in loop `generation`, now claimed; nil
    /// when the block is all claimed or the loop is another.
    private func claim(_ owner: Int, generation: UInt64, end: Int) -> Int? {
        var v = claims[owner].next.load(ordering: .relaxed)
        while v >> 32 == generation && Int(v & 0xffff_ffff) < end {
            let (exchanged, original) = claims[owner].next.compareExchange(
                expected: v, desired: v + 1, ordering: .relaxed)
            if exchanged { return Int(v & 0xffff_ffff) }
            v = original
        }
        return nil
    }

    /// Runs the chunks of `owner`'s block that nobody has claimed yet.
    private func runClaimed(_ owner: Int, generation: UInt64, chunks: Int) {
        let end = block(owner, of: chunks).upperBound
        while let chunk = claim(owner, generation: generation, end: end) {
            body!(chunk)
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    /// After a thread's own block: waits for the loop to finish, taking the other threads'
    /// unclaimed chunks once it has waited `stealAfter`. Returns when every chunk is done, or
    /// (a worker) when a newer loop has begun.
    private func finish(_ index: Int, generation: UInt64, chunks: Int) {
        var spins = 0
        let start = monotonicSeconds()
        while unfinished.load(ordering: .acquiring) > 0 {
            if index != 0 && state.load(ordering: .acquiring) >> 32 != generation { return }
            spins += 1
            if spins % 64 == 0 && monotonicSeconds() - start >= Self.stealAfter {
                for owner in 0..<threadCount where owner != index {
                    runClaimed(owner, generation: generation, chunks: chunks)
                }
            }
            // Spin briefly, then yield: when the machine is oversubscribed (tests in parallel,
            // other processes), the thread we wait for may need this very core to finish.
            if spins < 4_000 { spin_wait_hint() } else { sched_yield() }
        }
    }

    func run(_ chunks: Int, _ body: (Int) -> Void) {
        precondition(chunks < 1 << 31)
        withoutActuallyEscaping(body) { body in
            self.body = body
            let generation = ((state.load(ordering: .relaxed) >> 32) &+ 1) & 0xffff_ffff
            for t in 0..<threadCount {
                claims[t].next.store(generation << 32 | UInt64(block(t, of: chunks).lowerBound), ordering: .relaxed)
            }
            unfinished.store(chunks, ordering: .relaxed)
            // The releasing store publishes `body` and the claims to the workers.
            let mode = UInt64(ck_flush_denormals()) << 31
            state.store(generation << 32 | mode | UInt64(chunks), ordering: .releasing)
            pthread_mutex_lock(&mutex)
            if sleepers > 0 { pthread_cond_broadcast(&wake) }
            pthread_mutex_unlock(&mutex)

            runClaimed(0, generation: generation, chunks: chunks)
            finish(0, generation: generation, chunks: chunks)
            self.body = nil
        }
    }

    func workerLoop(index: Int) {
        // Generation 0 is the pool before its first loop. (Reading `state` here instead would miss
        // a loop published before this thread got to run, and its chunks would never be done.)
        var seen: UInt64 = 0
        var mode = ck_flush_denormals()
        while !stopping.load(ordering: .acquiring) {
            var current = state.load(ordering: .acquiring)
            var spins = 0
            while current >> 32 == seen && spins < 20_000 {
                if spins < 4_000 { spin_wait_hint() } else { sched_yield() }
                spins += 1
                current = state.load(ordering: .acquiring)
            }
            if current >> 32 == seen {
                pthread_mutex_lock(&mutex)
                sleepers += 1
                while state.load(ordering: .acquiring) >> 32 == seen {
                    pthread_cond_wait(&wake, &mutex)
                }
                sleepers -= 1
                pthread_mutex_unlock(&mutex)
                continue
            }
            seen = current >> 32
            if stopping.load(ordering: .acquiring) { return }
            let chunks = Int(current & 0x7fff_ffff)
            if Int32(current >> 31 & 1) != mode {
                mode = Int32(current >> 31 & 1)
                ck_set_flush_denormals(mode)
            }
            runClaimed(index, generation: seen, chunks: chunks)
            finish(index, generation: seen, chunks: chunks)
        }
    }
}

/// Seconds on a clock that never goes backwards (a vDSO call: tens of nanoseconds).
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
