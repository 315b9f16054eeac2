// Matrix products against a naive loop, and the thread-count independence every other guarantee
// rests on: the same bits from 1, 2 and 3 threads.
import CKernels
import Kernels
import Synchronization
import Testing

@Suite("Matrix products")
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

    @Test("ck_transpose moves every element to its transposed place and nothing else, in and beside 8 × 8 blocks",
          arguments: [(1, 1), (8, 8), (13, 21), (32, 64), (64, 128), (17, 8)])
    func transposeIsExact(_ shape: (Int, Int)) {
        let (rows, cols) = shape
        let lda = cols + 3, ldb = rows + 5
        let a = (0..<rows * lda).map { Float($0) }
        var out = [Float](repeating: -1, count: cols * ldb)
        ck_transpose(Int32(rows), Int32(cols), a, Int32(lda), &out, Int32(ldb))
        for j in 0..<cols {
            for i in 0..<ldb {
                let expected: Float = i < rows ? Float(i * lda + j) : -1    // the columns past `rows` untouched
                #expect(out[j * ldb + i] == expected, "b[\(j)][\(i)]")
            }
        }
    }

    @Test("afterChunk sees every element of C exactly once and already final: row, column and inner splits",
          arguments: [(784, 512, 16), (64, 1024, 64), (32, 32, 4096)])
    func afterChunkCoversC(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var s = RandomStream(seed: 4, name: "chunks")
        let a = FloatStorage((0..<k * m).map { _ in s.nextNormal() })
        let b = FloatStorage((0..<k * n).map { _ in s.nextNormal() })
        let workspace = FloatStorage(count: gemmWorkspace(m: m, n: n))
        let expected = FloatStorage(count: m * n)
        gemm(transA: true, m: m, n: n, k: k, a: a.view, lda: m, b: b.view, ldb: n, beta: 0, c: expected.view,
             ldc: n, workspace: workspace.view)
        let final = expected.array
        let c = FloatStorage(count: m * n)
        let seen = Mutex((calls: 0, counts: [Int](repeating: 0, count: m * n), stale: 0))
        gemm(transA: true, m: m, n: n, k: k, a: a.view, lda: m, b: b.view, ldb: n, beta: 0, c: c.view, ldc: n,
             pool: ThreadPool(threadCount: 2), workspace: workspace.view) { rows, cols in
            var stale = 0
            for i in rows { for j in cols where c.view[i * n + j] != final[i * n + j] { stale += 1 } }
            seen.withLock {
                $0.calls += 1
                $0.stale += stale
                for i in rows { for j in cols { $0.counts[i * n + j] += 1 } }
            }
        }
        seen.withLock {
            #expect($0.counts.allSatisfy { $0 == 1 })
            #expect($0.stale == 0)
            #expect($0.calls > 1)           // in parts, the inner split's too (after its partials' sum)
        }
    }

    @Test("an output layer's 1.3 MFLOP products are cut in two, the inner dimension left whole (its bits)")
    func smallProductsInTwo() {
        // mlp-512's 10-unit layer at batch 128: y = x·W, dx = dz·Wᵀ, dW = xᵀ·dz.
        for (transA, transB, m, n, k) in [(false, false, 128, 10, 512), (false, true, 128, 512, 10),
                                          (true, false, 512, 10, 128)] {
            let a = FloatStorage(count: m * k), b = FloatStorage(count: k * n), c = FloatStorage(count: m * n)
            let workspace = FloatStorage(count: gemmWorkspace(m: m, n: n))
            let calls = Mutex(0)
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.view, lda: transA ? m : k, b: b.view,
                 ldb: transB ? k : n, beta: 0, c: c.view, ldc: n, pool: ThreadPool(threadCount: 2),
                 workspace: workspace.view) { _, _ in calls.withLock { $0 += 1 } }
            #expect(calls.withLock { $0 } == 2, "\(m)×\(n)×\(k)")
            #expect(innerSplit(m: m, n: n, k: k) == nil)
        }
    }

    @Test("an image batch through a first dense layer: one piece of columns per thread, the same bits",
          .enabled(if: ProductKernel.avx512.isAvailable))
    func sparseRowsByColumns() {
        // 19% nonzeros, as an MNIST batch: gemm.c takes A at its nonzeros.
        let (m, n, k) = (128, 512, 784)
        var s = RandomStream(seed: 12, name: "sparse rows")
        let a = FloatStorage((0..<m * k).map { _ in s.nextUniform() < 0.19 ? s.nextUniform() : 0 })
        let b = FloatStorage((0..<k * n).map { _ in s.nextNormal() })
        var results: [[UInt32]] = []
        for threads in [1, 2, 3] {
            let c = FloatStorage(count: m * n)
            let pieces = Mutex([(Range<Int>, Range<Int>)]())
            gemm(m: m, n: n, k: k, a: a.view, lda: k, b: b.view, ldb: n, beta: 0, c: c.view, ldc: n,
                 pool: ThreadPool(threadCount: threads)) { rows, cols in pieces.withLock { $0.append((rows, cols)) } }
            let seen = pieces.withLock { $0 }.sorted { $0.1.lowerBound < $1.1.lowerBound }
            #expect(seen.count == threads && seen.allSatisfy { $0.0 == 0..<m }, "\(threads) threads")
            #expect(seen.map(\.1.count).reduce(0, +) == n && seen.first?.1.lowerBound == 0)
            results.append(c.array.map(\.bitPattern))
        }
        #expect(results[0] == results[1] && results[0] == results[2])
        #expect(results[0].contains { $0 != 0 })
    }

    @Test("a split inner dimension adds its pieces' products in piece order, on 1, 2 and 3 threads",
          arguments: [(288, 37, 3136), (40, 100, 8192)])
    func innerSplitAddsInOrder(_ shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        let split = try #require(innerSplit(m: m, n: n, k: k))
        var s = RandomStream(seed: 6, name: "pieces")
        let a = FloatStorage((0..<k * m).map { _ in s.nextNormal() })
        let b = FloatStorage((0..<k * n).map { _ in s.nextNormal() })
        let c0 = (0..<m * n).map { _ in s.nextNormal() }
        // Each piece's product alone, then C + (P₀ + P₁ + …) one element at a time.
        var sums = [Float](repeating: 0, count: m * n)
        for piece in 0..<split.pieces {
            let start = piece * split.step, size = min(split.step, k - start)
            let part = FloatStorage(count: m * n)
            gemm(transA: true, m: m, n: n, k: size, a: a.view.slice(start * m, size * m), lda: m,
                 b: b.view.slice(start * n, size * n), ldb: n, beta: 0, c: part.view, ldc: n)
            for i in 0..<m * n { sums[i] = piece == 0 ? part.view[i] : sums[i] + part.view[i] }
        }
        let expected = zip(c0, sums).map { ($0 + $1).bitPattern }
        for threads in [1, 2, 3] {
            let c = FloatStorage(c0), workspace = FloatStorage(count: gemmWorkspace(m: m, n: n))
            gemm(transA: true, m: m, n: n, k: k, a: a.view, lda: m, b: b.view, ldb: n, beta: 1, c: c.view, ldc: n,
                 pool: ThreadPool(threadCount: threads), workspace: workspace.view)
            let same = c.array.map(\.bitPattern) == expected
            #expect(same, "\(threads) threads")
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
}
