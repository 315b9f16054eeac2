// Kernels: the generator against published vectors, products against a naive loop, and the
// thread-count independence every other guarantee rests on.
#if canImport(Glibc)
import Glibc
#endif
import Kernels
import Testing

@Suite("Random streams")
struct RandomTests {
    @Test("Philox4x32-10 matches Random123's known-answer vectors")
    func philoxKnownAnswers() {
        #expect(philox4x32(counter: (0, 0, 0, 0), key: (0, 0)) == (0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8))
        let ones = UInt32.max
        #expect(philox4x32(counter: (ones, ones, ones, ones), key: (ones, ones))
                == (0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd))
        #expect(philox4x32(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
                == (0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1))
    }

    @Test("a stream is a function of (seed, name, index, position)")
    func streams() {
        var a = RandomStream(seed: 42, name: "shuffle", index: 3)
        var b = RandomStream(seed: 42, name: "shuffle", index: 3)
        let first = (0..<10).map { _ in a.nextUInt32() }
        #expect(first == (0..<10).map { _ in b.nextUInt32() })
        var other = RandomStream(seed: 42, name: "dropout", index: 3)
        #expect(first != (0..<10).map { _ in other.nextUInt32() })
        var nextIndex = RandomStream(seed: 42, name: "shuffle", index: 4)
        #expect(first != (0..<10).map { _ in nextIndex.nextUInt32() })
        // Resuming from a stored position continues the same sequence.
        var resumed = RandomStream(seed: 42, name: "shuffle", index: 3, position: 6)
        #expect((0..<4).map { _ in resumed.nextUInt32() } == Array(first[6...]))
    }

    @Test("uniforms, bounded integers, normals and permutations are well formed")
    func distributions() {
        var s = RandomStream(seed: 1, name: "test")
        let u = (0..<10_000).map { _ in s.nextUniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(u.reduce(0, +) / 10_000 - 0.5) < 0.02)
        let ints = (0..<10_000).map { _ in s.nextInt(below: 7) }
        #expect(Set(ints) == Set(0..<7))
        let normals = (0..<20_000).map { _ in Double(s.nextNormal()) }
        let mean = normals.reduce(0, +) / 20_000
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20_000
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        let truncated = (0..<5_000).map { _ in s.nextTruncatedNormal(stddev: 0.5) }
        #expect(truncated.allSatisfy { abs($0) <= 1 })
        let p = s.permutation(1000)
        #expect(p.sorted() == Array(0..<1000) && p != Array(0..<1000))
    }
}

@Suite("Matrix products and the thread pool")
struct GemmTests {
    /// C = op(A)·op(B) in Double, the slow obvious way.
    func naive(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = s
            }
        }
        return c
    }

    @Test("gemm equals the naive product, for every transpose and for split and unsplit shapes",
          arguments: [(3, 5, 7), (32, 128, 784), (784, 128, 32), (100, 70, 600)])
    func gemmMatchesNaive(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var s = RandomStream(seed: 3, name: "gemm")
        let a = (0..<m * k).map { _ in s.nextNormal() }
        let b = (0..<k * n).map { _ in s.nextNormal() }
        let pool = ThreadPool(threadCount: 2)
        for transA in [false, true] {
            for transB in [false, true] {
                let c = FloatStorage((0..<m * n).map { _ in 1 })
                gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: FloatStorage(a).view,
                     lda: transA ? m : k, b: FloatStorage(b).view, ldb: transB ? k : n,
                     beta: 1, c: c.view, ldc: n, pool: pool)
                let expected = naive(a, b, m: m, n: n, k: k, transA: transA, transB: transB)
                let worst = zip(c.array, expected).map { abs(Double($0) - ($1 + 1)) }.max()!
                #expect(worst < 1e-3 * Double(k).squareRoot(), "transA \(transA) transB \(transB): \(worst)")
            }
        }
    }

    @Test("1, 2 and 3 threads give bit-identical products and updates")
    func threadCountIndependence() {
        var s = RandomStream(seed: 9, name: "bits")
        let (m, n, k) = (784, 128, 32)
        let a = FloatStorage((0..<k * m).map { _ in s.nextNormal() })
        let b = FloatStorage((0..<k * n).map { _ in s.nextNormal() })
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let pool = ThreadPool(threadCount: threads)
            let c = FloatStorage(count: m * n)
            gemm(transA: true, m: m, n: n, k: k, a: a.view, lda: m, b: b.view, ldb: n, beta: 0, c: c.view,
                 ldc: n, pool: pool)
            let w = FloatStorage(c.array), mom = FloatStorage(count: m * n), vel = FloatStorage(count: m * n)
            for step in 1...3 {
                adamUpdate(parameters: w.view, gradients: c.view, firstMoment: mom.view, secondMoment: vel.view,
                           learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: step,
                           weightDecay: 0.004, pool: pool)
            }
            results.append(c.array + w.array)
        }
        #expect(results[0] == results[1])
        #expect(results[0] == results[2])
    }

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

@Suite("Optimizer updates")
struct OptimizerKernelTests {
    @Test("Adam's first step moves each weight by about the learning rate, against the gradient")
    func adamFirstStep() {
        let w = FloatStorage([1, 1, 1]), g = FloatStorage([0.5, -2, 0])
        let m = FloatStorage(count: 3), v = FloatStorage(count: 3)
        adamUpdate(parameters: w.view, gradients: g.view, firstMoment: m.view, secondMoment: v.view,
                   learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 1, weightDecay: 0, pool: nil)
        // t = 1: m̂ = g, v̂ = g², so w -= lr · g / (|g| + ε·…) = lr · sign(g).
        #expect(abs(w.view[0] - 0.9) < 1e-5 && abs(w.view[1] - 1.1) < 1e-5 && w.view[2] == 1)
        #expect(abs(m.view[0] - 0.05) < 1e-7 && abs(v.view[1] - 0.004) < 1e-7)
    }

    @Test("SGD with momentum and Nesterov follows Keras's formulas")
    func sgd() {
        let w = FloatStorage([1]), g = FloatStorage([2]), velocity = FloatStorage(count: 1)
        for _ in 0..<2 {
            sgdUpdate(parameters: w.view, gradients: g.view, velocity: velocity.view, learningRate: 0.1,
                      momentum: 0.9, nesterov: false, pool: nil)
        }
        // v1 = -0.2, w1 = 0.8; v2 = 0.9·(-0.2) - 0.2 = -0.38, w2 = 0.42
        #expect(abs(w.view[0] - 0.42) < 1e-6)
        let wn = FloatStorage([1]), vn = FloatStorage(count: 1)
        sgdUpdate(parameters: wn.view, gradients: g.view, velocity: vn.view, learningRate: 0.1, momentum: 0.9,
                  nesterov: true, pool: nil)
        // v1 = -0.2; w1 = 1 + 0.9·(-0.2) - 0.2 = 0.62
        #expect(abs(wn.view[0] - 0.62) < 1e-6)
    }

    @Test("RMSprop divides by the running RMS of the gradient")
    func rmsprop() {
        let w = FloatStorage([1]), g = FloatStorage([2]), s = FloatStorage(count: 1)
        rmspropUpdate(parameters: w.view, gradients: g.view, meanSquare: s.view, meanGradient: nil, velocity: nil,
                      learningRate: 0.01, rho: 0.9, momentum: 0, epsilon: 1e-7, pool: nil)
        // s = 0.1·4 = 0.4; w -= 0.01·2/√0.4
        #expect(abs(w.view[0] - (1 - 0.02 / Float(0.4).squareRoot())) < 1e-6)
    }
}

@Suite("Dropout")
struct DropoutKernelTests {
    @Test("drops about `rate` of the elements, scales the rest, the same on any thread count")
    func dropout() {
        let count = 50_000
        let x = FloatStorage((0..<count).map { _ in 1 })
        var masks: [[Float]] = []
        for threads in [1, 2] {
            let y = FloatStorage(count: count), mask = FloatStorage(count: count)
            dropoutForward(x: x.view, y: y.view, mask: mask.view, count: count, rate: 0.25,
                           stream: RandomStream(seed: 1, name: "dropout/d", index: 8),
                           pool: ThreadPool(threadCount: threads))
            let kept = y.array.filter { $0 != 0 }
            #expect(abs(Double(kept.count) / Double(count) - 0.75) < 0.01)
            #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
            masks.append(mask.array)
        }
        #expect(masks[0] == masks[1])
    }
}
