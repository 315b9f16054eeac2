// A fixed set of worker threads that run the chunks of one parallel loop at a time.
//
// Determinism: callers split work into chunks whose number and shape depend only on the problem
// (never on `threadCount`), and every chunk writes memory no other chunk writes. Which thread runs
// which chunk then cannot change a single bit of the result, so 1 and 2 threads agree exactly.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

public final class ThreadPool: @unchecked Sendable {
    /// Threads that run chunks, the calling thread included.
    public let threadCount: Int
    private let core: PoolCore
    private var threads: [pthread_t] = []

    /// - Parameter threadCount: total threads including the caller; at least 1.
    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        core = PoolCore()
        for _ in 1..<self.threadCount {
            // The worker owns a reference to the core, never to the pool, so the pool can go away.
            let retained = Unmanaged.passRetained(core).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                Unmanaged<PoolCore>.fromOpaque(raw!).takeRetainedValue().workerLoop()
                return nil
            }, retained)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
        }
    }

    deinit {
        core.shutDown()
        for thread in threads { pthread_join(thread, nil) }
    }

    /// The number of cores the operating system reports.
    public static var availableCores: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Runs `body(0) … body(chunks-1)`, spread over the pool's threads; returns when all are done.
    /// Each chunk must write only memory that no other chunk touches.
    public func parallelFor(_ chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 0 { return }
        if chunks == 1 || threadCount == 1 {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        core.run(chunks, body)
    }
}

/// The state shared by the caller and the worker threads.
private final class PoolCore: @unchecked Sendable {
    // `state` packs the loop's generation (high 32 bits) and the number of chunks not yet claimed
    // (low 32 bits). Claiming is a compare-and-swap on both at once, so a late worker can never
    // claim a chunk of a loop other than the one whose generation it read; chunks are claimed from
    // the last down, which needs no chunk count outside the atomic.
    private let state = Atomic<UInt64>(0)
    private let unfinished = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var body: ((Int) -> Void)?

    // Workers spin for the next loop for ~0.2 ms (a training step's loops come tens of microseconds
    // apart; waking a sleeping thread costs about as much as a small loop), then sleep on a
    // condition variable so an idle pool costs nothing.
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var sleepers = 0

    init() {
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

    func run(_ chunks: Int, _ body: (Int) -> Void) {
        precondition(chunks < 1 << 31)
        withoutActuallyEscaping(body) { body in
            self.body = body
            unfinished.store(chunks, ordering: .relaxed)
            // The releasing store publishes `body` to whoever claims a chunk of this generation.
            let generation = (state.load(ordering: .relaxed) >> 32) &+ 1
            state.store(generation << 32 | UInt64(chunks), ordering: .releasing)
            pthread_mutex_lock(&mutex)
            if sleepers > 0 { pthread_cond_broadcast(&wake) }
            pthread_mutex_unlock(&mutex)

            runChunks(generation: generation)
            while unfinished.load(ordering: .acquiring) > 0 {}
            self.body = nil
        }
    }

    private func runChunks(generation: UInt64) {
        var current = state.load(ordering: .acquiring)
        while current >> 32 == generation, current & 0xffff_ffff > 0 {
            let (claimed, found) = state.compareExchange(
                expected: current, desired: current &- 1, ordering: .acquiringAndReleasing)
            if !claimed { current = found; continue }
            body!(Int(current & 0xffff_ffff) - 1)
            unfinished.subtract(1, ordering: .releasing)
            current = state.load(ordering: .acquiring)
        }
    }

    func workerLoop() {
        var seen = state.load(ordering: .acquiring) >> 32
        while !stopping.load(ordering: .acquiring) {
            var generation = state.load(ordering: .acquiring) >> 32
            var spins = 0
            while generation == seen && spins < 200_000 {
                spins += 1
                generation = state.load(ordering: .acquiring) >> 32
            }
            if generation == seen {
                pthread_mutex_lock(&mutex)
                sleepers += 1
                while state.load(ordering: .acquiring) >> 32 == seen {
                    pthread_cond_wait(&wake, &mutex)
                }
                sleepers -= 1
                pthread_mutex_unlock(&mutex)
                continue
            }
            seen = generation
            runChunks(generation: generation)
        }
    }
}
