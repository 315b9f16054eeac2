// The Winograd convolution's per-position matrix products (Winograd.swift): for each of the P
// positions ξ of a tile, over a block of T tiles,
//
//   forward          M[ξ] = V[ξ] · U[ξ]          (T × C) · (C × F)
//   kernel gradient  dU[ξ] (+)= V[ξ]ᵀ · dM[ξ]    (C × T) · (T × F), accumulated block after block
//   input gradient   dV[ξ] = dM[ξ] · U[ξ]ᵀ       (T × F) · (F × C)
//
// Two implementations, chosen once per convolution: single-threaded `cblas_sgemm` (any CPU), or
// the AVX2/FMA (or AVX-512: the same bits) kernels of Sources/CKernels/gemm.c. OpenBLAS packs both
// operands on every call, which for products this small (cnn.yaml's second layer under F(4×4) in
// blocks of 4 images: 36 × 32 times 32 × 64) costs a third as much as the arithmetic, and its
// kernels ran at ~70% of a Zen 4 core's FMA peak where gemm.c's run at ~90%. With those,
// dV = dM · Uᵀ becomes a plain product, with Uᵀ transposed once per backward.
//
// Positions may share a kernel matrix (`WinogradKernels`: at stride 2, 81 positions have 36, 225
// have 81); the positions sharing one are consecutive, so their rows of V, M and dM are one
// stacked matrix and each kernel's product is one call: (count·T × C) · (C × F), and dU[k] sums
// over all count·T rows.
import CKernels

/// Which positions share which kernel matrix of U: kernel k serves positions
/// starts[k] ..< starts[k] + counts[k]. U and dU are (kernels, C, F).
struct WinogradKernels: Sendable, Equatable {
    let starts: [Int], counts: [Int]
    /// Kernel matrices, and positions (the last kernel's last position + 1: kernels are in
    /// position order).
    let count: Int, positions: Int

    init(starts: [Int], counts: [Int]) {
        precondition(starts.count == counts.count
                     && zip(starts.dropFirst(), zip(starts, counts)).allSatisfy { $0 == $1.0 + $1.1 },
                     "each kernel's positions follow the one before's")
        self.starts = starts
        self.counts = counts
        count = starts.count
        positions = (starts.last ?? 0) + (counts.last ?? 0)
    }

    /// One kernel matrix per position (the stride-1 transforms).
    static func oneEach(_ positions: Int) -> WinogradKernels {
        WinogradKernels(starts: Array(0..<positions), counts: Array(repeating: 1, count: positions))
    }

    /// The stride-2 transforms' kernels for tiles of m × m outputs (winograd_s2_body.h): with
    /// E = m + 1, (E + 1)² kernels over (2m + 1)² positions — one each for the E² even × even
    /// points, one per row (then per column) for the E·m even × odd (odd × even) points, one for
    /// the m² odd × odd ones.
    static func stride2(tile m: Int) -> WinogradKernels {
        let e = m + 1, evens = e * e
        return WinogradKernels(starts: Array(0..<evens) + (0..<e).map { evens + m * $0 }
                                   + (0..<e).map { evens + e * m + m * $0 } + [evens + 2 * e * m],
                               counts: Array(repeating: 1, count: evens) + Array(repeating: m, count: 2 * e) + [m * m])
    }
}

/// The products of one Winograd convolution; V, U, M are position-major as in Winograd.swift.
protocol WinogradProducts: Sendable {
    /// M[ξ] = V[ξ] · U[k] for every position ξ of every kernel k.
    func forward(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                 v: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, into m: UnsafeMutablePointer<Float>)
    /// dU[k] = Σ over k's positions ξ of V[ξ]ᵀ · dM[ξ], or dU[k] += … with `accumulate`.
    func kernelGradient(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                        v: UnsafeMutablePointer<Float>, dm: UnsafeMutablePointer<Float>,
                        into du: UnsafeMutablePointer<Float>, accumulate: Bool)
    /// Prepares `inputGradient`'s use of U once per backward: `ut` (as large as U) may receive Uᵀ.
    func prepareInputGradient(kernels: WinogradKernels, channels c: Int, filters f: Int,
                              u: UnsafeMutablePointer<Float>, ut: UnsafeMutablePointer<Float>, pool: ThreadPool?)
    /// dV[ξ] = dM[ξ] · U[k]ᵀ, after `prepareInputGradient` filled `ut`.
    func inputGradient(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                       dm: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, ut: UnsafeMutablePointer<Float>,
                       into dv: UnsafeMutablePointer<Float>)
    /// Images per block for a convolution with this many tiles per image (WinogradConvolution.imagesPerBlock).
    func imagesPerBlock(tilesPerImage: Int) -> Int
}

/// The products through OpenBLAS, on any CPU.
struct BLASWinogradProducts: WinogradProducts {
    func forward(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                 v: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, into m: UnsafeMutablePointer<Float>) {
        for k in 0..<kernels.count {
            let xi = kernels.starts[k], rows = kernels.counts[k] * t
            sgemm(m: rows, n: f, k: c, a: v + xi * t * c, lda: c, b: u + k * c * f, ldb: f, c: m + xi * t * f,
                  ldc: f, kernel: .openBLAS)
        }
    }

    func kernelGradient(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                        v: UnsafeMutablePointer<Float>, dm: UnsafeMutablePointer<Float>,
                        into du: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for k in 0..<kernels.count {
            let xi = kernels.starts[k], rows = kernels.counts[k] * t
            sgemm(transA: true, m: c, n: f, k: rows, a: v + xi * t * c, lda: c, b: dm + xi * t * f, ldb: f,
                  beta: accumulate ? 1 : 0, c: du + k * c * f, ldc: f, kernel: .openBLAS)
        }
    }

    func prepareInputGradient(kernels: WinogradKernels, channels c: Int, filters f: Int,
                              u: UnsafeMutablePointer<Float>, ut: UnsafeMutablePointer<Float>, pool: ThreadPool?) {}

    func inputGradient(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                       dm: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, ut: UnsafeMutablePointer<Float>,
                       into dv: UnsafeMutablePointer<Float>) {
        for k in 0..<kernels.count {
            let xi = kernels.starts[k], rows = kernels.counts[k] * t
            sgemm(transB: true, m: rows, n: c, k: f, a: dm + xi * t * f, lda: f, b: u + k * c * f, ldb: f,
                  c: dv + xi * t * c, ldc: c, kernel: .openBLAS)
        }
    }

    /// OpenBLAS keeps 4 images a block for its larger products.
    func imagesPerBlock(tilesPerImage: Int) -> Int { 4 }
}

/// The products through gemm.c's AVX2/FMA kernels (call only when the CPU has them), in 16-float
/// vectors where the CPU has AVX-512 (the same bits).
struct AVX2WinogradProducts: WinogradProducts {
    let wide = VectorCode.best.wide

    func forward(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                 v: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, into m: UnsafeMutablePointer<Float>) {
        for k in 0..<kernels.count {
            let xi = kernels.starts[k], rows = kernels.counts[k] * t
            ck_gemm(0, 0, Int32(rows), Int32(f), Int32(c), v + xi * t * c, Int32(c), u + k * c * f, Int32(f),
                    m + xi * t * f, Int32(f), 0, wide)
        }
    }

    func kernelGradient(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                        v: UnsafeMutablePointer<Float>, dm: UnsafeMutablePointer<Float>,
                        into du: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for k in 0..<kernels.count {
            let xi = kernels.starts[k], rows = kernels.counts[k] * t
            ck_gemm(1, 0, Int32(c), Int32(f), Int32(rows), v + xi * t * c, Int32(c), dm + xi * t * f, Int32(f),
                    du + k * c * f, Int32(f), accumulate ? 1 : 0, wide)
        }
    }

    /// Uᵀ (kernels, F, C), so that dV = dM · Uᵀ is a plain product.
    func prepareInputGradient(kernels: WinogradKernels, channels c: Int, filters f: Int,
                              u: UnsafeMutablePointer<Float>, ut: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        forEach(kernels.count, pool: pool) { k in
            ck_transpose(Int32(c), Int32(f), u + k * c * f, Int32(f), ut + k * c * f, Int32(c))
        }
    }

    func inputGradient(kernels: WinogradKernels, tiles t: Int, channels c: Int, filters f: Int,
                       dm: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, ut: UnsafeMutablePointer<Float>,
                       into dv: UnsafeMutablePointer<Float>) {
        for k in 0..<kernels.count {
            let xi = kernels.starts[k], rows = kernels.counts[k] * t
            ck_gemm(0, 0, Int32(rows), Int32(c), Int32(f), dm + xi * t * f, Int32(f), ut + k * c * f, Int32(c),
                    dv + xi * t * c, Int32(c), 0, wide)
        }
    }

    /// These kernels repack nothing per call, so smaller blocks are faster as long as their T rows
    /// fill whole 6-row register tiles: the fewest images (up to 4) that do, else 2.
    /// Measured (layer-bench, cnn.yaml's second layer, 1 thread): F(4×4), 9 tiles an image, 2
    /// images (18 rows) as fast forward as 4 and 4% faster backward, 8 were 10% slower; F(5×5),
    /// 4 tiles an image, 3 images (12 rows) 7% faster forward and 10% backward than 2 (8 rows),
    /// 5% than 6.
    func imagesPerBlock(tilesPerImage: Int) -> Int { (1...4).first { $0 * tilesPerImage % 6 == 0 } ?? 2 }
}
