// Our own matrix products (Sources/CKernels/gemm.c) against the definition they promise: every
// element one FMA chain over k in order from zero, then added to C — checked bit for bit, for both
// vector widths, on shapes that leave partial register tiles, masked columns and packed panels.
import Kernels
import Testing

@Suite("Own matrix products (AVX2/FMA, AVX-512)", .enabled(if: ProductKernel.avx2.isAvailable, "no AVX2/FMA"))
struct ProductKernelTests {
    struct Shape: CustomStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        var description: String { "\(m)×\(n)×\(k)" }
    }

    /// C = start + Σₚ op(A)(i, p)·op(B)(p, j), the sum one FMA chain from zero in p order.
    static func chain(_ a: [Float], lda: Int, transA: Bool, _ b: [Float], ldb: Int, transB: Bool, m: Int, n: Int,
                      k: Int, start: [Float], ldc: Int, accumulate: Bool) -> [Float] {
        var c = start
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p], y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum.addProduct(x, y)
                }
                c[i * ldc + j] = accumulate ? start[i * ldc + j] + sum : sum
            }
        }
        return c
    }

    static var kernels: [ProductKernel] { [.avx2, .avx512].filter(\.isAvailable) }

    /// Every (kernel, transA, transB, accumulate) the tests run.
    static var cases: [(ProductKernel, Bool, Bool, Bool)] {
        kernels.flatMap { k in [false, true].flatMap { ta in [false, true].flatMap { tb in
            [false, true].map { acc in (k, ta, tb, acc) } } } }
    }

    /// C from `start` by `gemm` (with `kernel`, on `pool`) and by `chain`: (ours, expected).
    static func product(_ kernel: ProductKernel = .best, transA: Bool = false, transB: Bool = false,
                        accumulate: Bool, _ a: [Float], lda: Int, _ b: [Float], ldb: Int, _ s: Shape,
                        start: [Float], ldc: Int, pool: ThreadPool? = nil) -> (ours: [Float], expected: [Float]) {
        let ours = FloatStorage(start)
        gemm(transA: transA, transB: transB, m: s.m, n: s.n, k: s.k, a: FloatStorage(a).view, lda: lda,
             b: FloatStorage(b).view, ldb: ldb, beta: accumulate ? 1 : 0, c: ours.view, ldc: ldc, pool: pool,
             kernel: kernel)
        let expected = chain(a, lda: lda, transA: transA, b, ldb: ldb, transB: transB, m: s.m, n: s.n, k: s.k,
                             start: start, ldc: ldc, accumulate: accumulate)
        return (ours.array, expected)
    }

    /// Elements that differ: NaN where the other has NaN counts as equal (NaN ≠ NaN), anything
    /// else must have the same bits.
    static func differing(_ x: [Float], _ y: [Float]) -> Int {
        zip(x, y).filter { $0.isNaN ? !$1.isNaN : $0.bitPattern != $1.bitPattern }.count
    }

    @Test("C = op(A)·op(B) and C += op(A)·op(B) are the FMA chain's bits, and C's padding is left alone",
          arguments: [
        Shape(m: 1, n: 1, k: 1),
        Shape(m: 5, n: 7, k: 3),          // fewer rows than a tile, one masked vector
        Shape(m: 7, n: 17, k: 9),         // a tile and a row; two full vectors and one masked column
        Shape(m: 13, n: 23, k: 5),        // a 16-column panel, then a masked 7-column one
        Shape(m: 11, n: 8, k: 40),        // an 8-column panel, unmasked
        Shape(m: 25, n: 47, k: 2),        // two 12-row tiles and a row; a 32-column panel and a masked one
        Shape(m: 36, n: 64, k: 32),       // cnn.yaml's Winograd forward product
        Shape(m: 33, n: 130, k: 19),      // more than one packed panel of Bᵀ (128 columns)
        Shape(m: 30, n: 37, k: 600),      // three blocks of k (256 rows each), the sums carried over
        Shape(m: 250, n: 20, k: 300),     // two blocks of rows (240) and of k
        Shape(m: 0, n: 3, k: 4), Shape(m: 3, n: 2, k: 0),
    ])
    func matchesChain(_ s: Shape) {
        var stream = RandomStream(seed: 11, name: "own gemm")
        // Leading dimensions larger than the matrices, so stray reads and writes show.
        let lda = s.k + 3, ldaT = s.m + 5, ldb = s.n + 2, ldbT = s.k + 4, ldc = s.n + 9
        let a = (0..<max(1, s.m * lda)).map { _ in stream.nextNormal() }
        let at = (0..<max(1, s.k * ldaT)).map { _ in stream.nextNormal() }
        let b = (0..<max(1, s.k * ldb)).map { _ in stream.nextNormal() }
        let bt = (0..<max(1, s.n * ldbT)).map { _ in stream.nextNormal() }
        let start = (0..<max(1, s.m * ldc)).map { _ in stream.nextNormal() }
        for (kernel, transA, transB, accumulate) in Self.cases {
            let (av, la) = transA ? (at, ldaT) : (a, lda), (bv, lb) = transB ? (bt, ldbT) : (b, ldb)
            let (ours, expected) = Self.product(kernel, transA: transA, transB: transB, accumulate: accumulate,
                                                av, lda: la, bv, ldb: lb, s, start: start, ldc: ldc)
            #expect(ours == expected, "\(kernel) transA \(transA) transB \(transB) accumulate \(accumulate)")
        }
    }

    @Test("Own products agree with OpenBLAS's to rounding, split across 1, 2 and 3 threads the same bits",
          arguments: [Shape(m: 32, n: 128, k: 784), Shape(m: 784, n: 128, k: 32), Shape(m: 128, n: 512, k: 512),
                      Shape(m: 37, n: 61, k: 300)])
    func matchesOpenBLAS(_ s: Shape) {
        var stream = RandomStream(seed: 5, name: "own gemm vs blas")
        let a = FloatStorage((0..<s.m * s.k).map { _ in stream.nextNormal() })
        let b = FloatStorage((0..<s.k * s.n).map { _ in stream.nextNormal() })
        for (transA, transB) in [(false, false), (true, false), (false, true)] {
            let (lda, ldb) = (transA ? s.m : s.k, transB ? s.k : s.n)
            let blas = FloatStorage(count: s.m * s.n)
            gemm(transA: transA, transB: transB, m: s.m, n: s.n, k: s.k, a: a.view, lda: lda, b: b.view, ldb: ldb,
                 beta: 0, c: blas.view, ldc: s.n, kernel: .openBLAS)
            var results: [[Float]] = []
            for kernel in Self.kernels {
                for threads in [1, 2, 3] {
                    let c = FloatStorage(count: s.m * s.n)
                    let workspace = FloatStorage(count: gemmWorkspace(m: s.m, n: s.n))
                    gemm(transA: transA, transB: transB, m: s.m, n: s.n, k: s.k, a: a.view, lda: lda, b: b.view,
                         ldb: ldb, beta: 0, c: c.view, ldc: s.n, pool: ThreadPool(threadCount: threads),
                         workspace: workspace.view, kernel: kernel)
                    results.append(c.array)
                }
            }
            #expect(results.allSatisfy { $0 == results[0] }, "transA \(transA) transB \(transB)")
            #expect(worstScaled(results[0], blas.array) < 1e-5, "transA \(transA) transB \(transB)")
        }
    }

    @Test("A with zero blocks (an image's blank pixels): skipped terms leave the chain's bits",
          arguments: [Shape(m: 128, n: 512, k: 784), Shape(m: 784, n: 128, k: 32), Shape(m: 25, n: 70, k: 300),
                      Shape(m: 13, n: 64, k: 17)])
    func zeroBlocksMatchChain(_ s: Shape) {
        var stream = RandomStream(seed: 17, name: "sparse gemm")
        // Rows and columns of A blank in stretches, as pixels around a digit are: whole tiles of
        // zeros (skipped) next to tiles with a few nonzeros (kept), and one NaN, which must stay.
        func sparse(_ rows: Int, _ cols: Int) -> [Float] {
            (0..<rows * cols).map { e in
                let (i, p) = (e / cols, e % cols)
                return (i / 3 + p / 5) % 4 == 0 || stream.nextUniform() < 0.05 ? stream.nextNormal() : 0
            }
        }
        var a = sparse(s.m, s.k), at = sparse(s.k, s.m)
        a[a.count / 2] = .nan
        at[at.count / 3] = .nan
        let b = (0..<s.k * s.n).map { _ in stream.nextNormal() }, bt = (0..<s.n * s.k).map { _ in stream.nextNormal() }
        let start = (0..<s.m * s.n).map { _ in stream.nextNormal() }
        #expect(a.filter { $0 == 0 }.count > a.count / 2)
        for (kernel, transA, transB, accumulate) in Self.cases {
            let (av, la) = transA ? (at, s.m) : (a, s.k), (bv, lb) = transB ? (bt, s.k) : (b, s.n)
            let (ours, expected) = Self.product(kernel, transA: transA, transB: transB, accumulate: accumulate,
                                                av, lda: la, bv, ldb: lb, s, start: start, ldc: s.n)
            #expect(Self.differing(ours, expected) == 0,
                    "\(kernel) transA \(transA) transB \(transB) accumulate \(accumulate)")
        }
    }

    @Test("Aᵀ's zero tiles are looked for only where a sample finds a quarter of them",
          .enabled(if: ProductKernel.avx512.isAvailable))
    func transposedSkipsFromSample() {
        var stream = RandomStream(seed: 29, name: "skip sample")
        let (k, m) = (200, 288)
        // A stored k × m: a kernel gradient's columns (rows p, 288 patch values each).
        func matrix(_ kept: (_ p: Int, _ i: Int) -> Bool) -> FloatView {
            FloatStorage((0..<k * m).map { e in kept(e / m, e % m) ? stream.nextNormal() : 0 }).view
        }
        func skips(_ a: FloatView) -> Bool { transposedProductSkipsZeros(m: m, k: k, a: a, lda: m) }
        #expect(!skips(matrix { _, _ in true }))
        // Blank stretches as around a digit: every 4-row tile of Aᵀ zero at 3 of every 4 p.
        #expect(skips(matrix { p, _ in p % 4 == 0 }))
        // Zero at 3 of every 4 p only in the tiles the sample does not visit (every 9th of 72):
        // the decision is the sample's, and the product is right either way (tests above).
        #expect(!skips(matrix { p, i in (i / 4) % 9 == 0 || p % 4 == 0 }))
        // A quarter exactly skipped is enough; one p fewer is not.
        #expect(skips(matrix { p, _ in p >= k / 4 }))
        #expect(!skips(matrix { p, _ in p >= k / 4 - 1 }))
    }

    @Test("A mostly zeros (an image batch): rows visited at their nonzeros leave the chain's bits",
          arguments: [Shape(m: 128, n: 512, k: 784), Shape(m: 7, n: 300, k: 100), Shape(m: 33, n: 128, k: 64),
                      Shape(m: 5, n: 130, k: 257), Shape(m: 9, n: 240, k: 200)])
    func sparseRowsMatchChain(_ s: Shape) {
        var stream = RandomStream(seed: 23, name: "sparse rows")
        // 10% nonzero, scattered (few whole zero tiles), C at least 128 wide: within gemm.c's
        // SPARSE_PERCENT and SPARSE_MIN_N, so the products of A as it is take the row-by-row path;
        // one NaN, which must stay NaN.
        var a = (0..<s.m * s.k).map { _ in stream.nextUniform() < 0.1 ? stream.nextNormal() : 0 }
        a[a.count / 2] = .nan
        let b = (0..<s.k * s.n).map { _ in stream.nextNormal() }, start = (0..<s.m * s.n).map { _ in stream.nextNormal() }
        for accumulate in [false, true] {
            let (ours, expected) = Self.product(accumulate: accumulate, a, lda: s.k, b, ldb: s.n, s, start: start,
                                                ldc: s.n, pool: ThreadPool(threadCount: 2))
            let differing = Self.differing(ours, expected)
            #expect(differing == 0, "\(differing) elements differ, accumulate \(accumulate)")
            #expect(ours.contains { $0.isNaN })
        }
    }
}
