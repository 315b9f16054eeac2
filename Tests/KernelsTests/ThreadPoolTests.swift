// The thread pool: every chunk runs exactly once, also when a held-up thread's chunks are taken
// by the others.
#if canImport(Glibc)
import Glibc
#endif
import Kernels
import Testing

@Suite("The thread pool")
struct ThreadPoolTests {
    @Test("parallelFor runs every chunk exactly once, loop after loop")
    func poolCoversChunks() {
        let pool = ThreadPool(threadCount: 2)
        let counts = FloatStorage(count: 37)
        for round in 1...500 {
            let chunks = 1 + round % 37
            pool.parallelFor(chunks) { i in counts.view[i] += 1 }
        }
        var expected = [Float](repeating: 0, count: 37)
        for round in 1...500 { for i in 0..<(1 + round % 37) { expected[i] += 1 } }
        #expect(counts.array == expected)
    }

    @Test("a thread that is held up has its unclaimed chunks taken by the others, each chunk still once")
    func poolSteals() {
        let pool = ThreadPool(threadCount: 2)
        // 4 chunks: the caller owns 0 and 1, the worker 2 and 3. Chunk 2 holds the worker for
        // 200 ms, far longer than the 50 µs the caller waits before taking chunk 3 (or, when the
        // worker has not woken by then, chunks 2 and 3). Without stealing the worker runs 3.
        let runs = FloatStorage(count: 4), onCaller = FloatStorage(count: 4)
        let caller = pthread_self()
        pool.parallelFor(2) { _ in }                    // the worker is up and waiting for loops
        pool.parallelFor(4) { i in
            if i == 2 && pthread_equal(pthread_self(), caller) == 0 { usleep(200_000) }
            runs.view[i] += 1
            onCaller.view[i] = pthread_equal(pthread_self(), caller) != 0 ? 1 : 0
        }
        #expect(runs.array == [1, 1, 1, 1])
        #expect(onCaller.view[3] == 1, "the caller did not take the held-up worker's last chunk")
        // Uneven chunks, loop after loop: whoever runs a chunk, each runs once per loop.
        let counts = FloatStorage(count: 16)
        var stream = RandomStream(seed: 3, name: "steal")
        for _ in 0..<300 {
            let slow = Int(stream.nextUniform() * 16)
            pool.parallelFor(16) { i in
                if i == slow { usleep(100) }
                counts.view[i] += 1
            }
        }
        #expect(counts.array == [Float](repeating: 300, count: 16))
    }
}
