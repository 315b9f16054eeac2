// The AVX2/FMA products of the Winograd convolution (Sources/CKernels/winograd_gemm.c) against OpenBLAS's
// `cblas_sgemm` (through `gemm`), on shapes that leave partial register tiles and masked columns.
import Kernels
import Testing

@Suite("Winograd products (AVX2/FMA)", .enabled(if: Winograd3x3.avx2Available, "this CPU has no AVX2/FMA"))
struct WinogradProductTests {
    struct Shape: CustomStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        var description: String { "\(m)×\(n)×\(k)" }
    }

    @Test("C = op(A)·B and C += op(A)·B equal cblas_sgemm's, and C's padding is left alone", arguments: [
        Shape(m: 1, n: 1, k: 1),
        Shape(m: 5, n: 7, k: 3),          // fewer rows than a tile, one masked vector
        Shape(m: 7, n: 17, k: 9),         // a tile and a row; two full vectors and one masked column
        Shape(m: 13, n: 23, k: 5),        // a 16-column panel, then a masked 7-column one
        Shape(m: 11, n: 8, k: 40),        // an 8-column panel, unmasked
        Shape(m: 36, n: 64, k: 32),       // cnn.yaml's forward product
        Shape(m: 32, n: 64, k: 36),       // its kernel-gradient product
        Shape(m: 36, n: 32, k: 64),       // its input-gradient product
        Shape(m: 19, n: 41, k: 2),
    ])
    func matchesSgemm(_ s: Shape) {
        var stream = RandomStream(seed: 11, name: "wgemm")
        // Leading dimensions larger than the matrices, so stray reads and writes show.
        let lda = s.k + 3, ldaT = s.m + 5, ldb = s.n + 2, ldc = s.n + 9
        let a = FloatStorage((0..<s.m * lda).map { _ in stream.nextNormal() })
        let at = FloatStorage((0..<s.k * ldaT).map { _ in stream.nextNormal() })
        let b = FloatStorage((0..<s.k * ldb).map { _ in stream.nextNormal() })
        let start = (0..<s.m * ldc).map { _ in stream.nextNormal() }
        for transA in [false, true] {
            for accumulate in [false, true] {
                let ours = FloatStorage(start), blas = FloatStorage(start)
                let (av, l) = transA ? (at.view, ldaT) : (a.view, lda)
                Winograd3x3.product(transA: transA, m: s.m, n: s.n, k: s.k, a: av, lda: l, b: b.view, ldb: ldb,
                                    accumulate: accumulate, c: ours.view, ldc: ldc)
                gemm(transA: transA, m: s.m, n: s.n, k: s.k, a: av, lda: l, b: b.view, ldb: ldb,
                     beta: accumulate ? 1 : 0, c: blas.view, ldc: ldc)
                #expect(worstRelative(ours.array, blas.array) < 1e-5, "transA \(transA), accumulate \(accumulate)")
                // The columns between n and ldc are not C's: still the start values.
                let padding = (0..<s.m).flatMap { i in (s.n..<ldc).map { i * ldc + $0 } }
                #expect(padding.allSatisfy { ours.array[$0] == start[$0] }, "transA \(transA)")
                // And the product is not trivially the start (or zero).
                #expect(worstRelative(ours.array, start) > 1e-3 || s.k == 0)
            }
        }
    }
}
