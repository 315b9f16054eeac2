// Matrix products: the dense layers' and im2col convolutions' go through `gemm`, which cuts the
// output into a fixed partition and computes each chunk with one single-threaded product: our own
// (Sources/CKernels/gemm.c) on CPUs with AVX2 and FMA, OpenBLAS's `cblas_sgemm` elsewhere
// (`ProductKernel`, chosen once per process from the CPU).
//
// Why our own kernels: OpenBLAS 0.3.21 does not know every CPU — on Sapphire Rapids it runs its
// SSE3 "Prescott" kernel, a quarter of the AVX-512 FMA width — and it packs both operands on every
// call, which costs as much as the arithmetic of a small product. gemm.c sums every element as one
// FMA chain in k order, so its AVX2 and AVX-512 code give the same bits, and so does any split of
// the output.
//
// Why our own partition instead of OpenBLAS threads: OpenBLAS's threaded sgemm does not give the
// same bits for 1 and 2 threads (measured: a 32×128×784 product differs in the last bits). Here the
// output is cut into chunks chosen from the shapes alone (but for an image batch's first dense
// layer: one piece of columns a thread); each chunk is one single-threaded product over the full
// inner dimension, so each output element is summed in the same order whatever the thread count or
// the cut, and the pool only decides which thread runs which chunk.
import CBLAS
import CKernels

/// The code that computes a single-threaded product (`sgemm`, and each chunk of `gemm`).
public enum ProductKernel: String, Sendable, CaseIterable {
    /// OpenBLAS's `cblas_sgemm`, with whichever kernel OpenBLAS picked for the CPU.
    case openBLAS = "openblas"
    /// gemm.c with 8-float AVX2/FMA vectors.
    case avx2
    /// gemm.c with 16-float AVX-512 vectors: the same bits as `avx2`.
    case avx512

    /// This CPU's fastest: AVX-512 or AVX2 where the CPU has them, else OpenBLAS.
    public static let best: ProductKernel = switch VectorCode.best {
    case .portable: .openBLAS
    case .avx2: .avx2
    case .avx512: .avx512
    }

    /// Whether this CPU can run it.
    public var isAvailable: Bool {
        switch self {
        case .openBLAS: true
        case .avx2: VectorCode.avx2.isAvailable
        case .avx512: VectorCode.avx512.isAvailable
        }
    }
}

public enum BLAS {
    /// Pins OpenBLAS to one thread per call (we parallelise above it). Idempotent; `gemm` does it
    /// before its first product, so nothing can forget it (OpenBLAS's own threads would otherwise
    /// wake for every call and fight the pool's threads for the cores).
    public static func configure() { _ = singleThreaded }
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// OpenBLAS's build configuration, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
    public static var config: String { String(cString: openblas_get_config()) }

    /// The kernel family OpenBLAS chose for this CPU (or was told to use by OPENBLAS_CORETYPE).
    public static var coreName: String { String(cString: openblas_get_corename()) }
}

/// The smallest piece of work worth a chunk of its own: below this, splitting costs more in call
/// and packing overhead than the second core gives back (measured on the seed MLP's products).
let minimumChunkFlops = 2_500_000
let maximumChunks = 8

/// Products of at least this many FLOPs have their output cut in two at least (`gemm`): a model's
/// 10-unit output layer (mlp-512's 128×512·512×10, its dx and dW, 1.3 MFLOP each) otherwise ran
/// on one core while the other waited.
let minimumOutputSplitFlops = 1_000_000

/// How many chunks a product of `flops` over an extent of `extent` is cut into (a power of two,
/// at most 8, each chunk ≥ 2.5 MFLOP and ≥ 32 wide, but two from `splitFrom` FLOPs), and the
/// chunk width: a multiple of `granule` — 16 by default, which keeps every chunk on OpenBLAS's
/// full-width micro-kernels.
public func gemmSplit(flops: Int, extent: Int, granule: Int = 16,
                      splitFrom: Int? = nil) -> (step: Int, pieces: Int) {
    var chunks = flops >= (splitFrom ?? 2 * minimumChunkFlops) && extent >= 32 ? 2 : 1
    while chunks < maximumChunks && flops / (2 * chunks) >= minimumChunkFlops && extent >= 32 * chunks {
        chunks *= 2
    }
    let step = max(granule, ((extent + chunks - 1) / chunks + granule - 1) / granule * granule)
    return (step, (extent + step - 1) / step)
}

/// Floats of workspace `gemm` can use for an m×n product (partial results of a split inner
/// dimension; see `gemm`).
public func gemmWorkspace(m: Int, n: Int) -> Int { maximumChunks * m * n }

/// C (m×n) = op(A) · op(B) + beta · C (beta 0 or 1), all row-major, computed by `kernel`.
/// op(A) is m×k (A is k×m with `transA`), op(B) is k×n (B is n×k with `transB`).
/// `beta = 1` accumulates, which is how backward passes add parameter gradients.
///
/// `afterChunk`, when given, is called once for each part of C as soon as that part is final —
/// (rows, columns), on the thread that computed it (with a split inner dimension: that added its
/// partials), never twice for an element — so a caller can use C while it is still in that core's
/// cache (the optimizer's step on a kernel gradient: Dense.backward).
///
/// The split depends on the shapes only. Usually the output is split along its larger side, so
/// the larger operand is divided between chunks. When the inner dimension dominates (a batch of 32
/// through a 784×128 layer) and a `workspace` of `gemmWorkspace(m:n:)` floats is given, the inner
/// dimension is split instead: chunk i computes the partial product over its slice of k into the
/// workspace, and the partials are added in chunk order. Then each thread reads only its own rows
/// of B — the rows it also updates in the optimizer step — and nothing large crosses between cores.
public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                 a: FloatView, lda: Int, b: FloatView, ldb: Int,
                 beta: Float, c: FloatView, ldc: Int, pool: ThreadPool? = nil, workspace: FloatView? = nil,
                 kernel: ProductKernel = .best, afterChunk: ((_ rows: Range<Int>, _ cols: Range<Int>) -> Void)? = nil) {
    precondition(m >= 0 && n >= 0 && k >= 0)
    if m == 0 || n == 0 { return }
    precondition(beta == 0 || beta == 1, "beta is 0 (overwrite) or 1 (accumulate)")
    precondition(a.count >= (transA ? (k - 1) * lda + m : (m - 1) * lda + k) || k == 0, "A too small")
    precondition(b.count >= (transB ? (n - 1) * ldb + k : (k - 1) * ldb + n) || k == 0, "B too small")
    precondition(c.count >= (m - 1) * ldc + n, "C too small")
    let flops = 2 * m * n * k

    if let workspace, let split = innerSplit(m: m, n: n, k: k) {
        let (step, pieces) = split
        precondition(workspace.count >= pieces * m * n, "gemm workspace too small")
        let parts = workspace.base
        forEach(pieces, pool: pool) { piece in
            let start = piece * step
            let size = min(step, k - start)
            sgemm(transA: transA, transB: transB, m: m, n: n, k: size,
                  a: a.base + (transA ? start * lda : start), lda: lda,
                  b: b.base + (transB ? start : start * ldb), ldb: ldb, c: parts + piece * m * n, ldc: n,
                  kernel: kernel)
        }
        addPartials(parts, pieces: pieces, m: m, n: n, beta: beta, c: c.base, ldc: ldc, pool: pool,
                    afterChunk: afterChunk)
        return
    }

    // A batch of images through a first dense layer — A taken at its nonzeros by gemm.c
    // (`ck_gemm_rows_sparse`), wider than tall — is cut into one piece of columns per thread: each
    // thread finds the rows' nonzeros once (eight column pieces found them eight times: 0.61 ms
    // against 0.41 in row pieces, mlp-512's 128×784 · 784×512 in layer-bench, one thread) and
    // reads only its columns of W, where row pieces had both cores read all of it — and the
    // optimizer's step, writing W by rows, then found every line in the other core's cache too.
    // mlp-512's step in the loop trace (four alternating runs): this product 232–239 → 216–227 µs,
    // the first layer's dW with Adam's step 361–381 → 298–325 µs.
    if m < n && !transA && !transB && kernel == .avx512
        && ck_gemm_rows_sparse(Int32(m), Int32(n), Int32(k), a.base, Int32(lda)) != 0 {
        let pieces = flops < minimumOutputSplitFlops ? 1 : max(1, min(pool?.threadCount ?? 1, n / 64))
        let step = ((n + pieces - 1) / pieces + 15) / 16 * 16
        forEach((n + step - 1) / step, pool: pool) { piece in
            // Sparse once decided: each piece takes A at its nonzeros without asking again (a piece
            // narrower than ck_gemm_rows_sparse's 128 columns would otherwise go dense).
            let start = piece * step, size = min(step, n - start)
            ck_gemm_sparse_rows(Int32(m), Int32(size), Int32(k), a.base, Int32(lda), b.base + start, Int32(ldb),
                                c.base + start, Int32(ldc), beta == 0 ? 0 : 1)
            afterChunk?(0..<m, start..<(start + size))
        }
        return
    }

    // Split the output along the dimension whose operand is larger, so that operand is divided
    // between chunks and only the smaller one is packed again by each chunk.
    let splitRows = m >= n
    let extent = splitRows ? m : n
    // Rows for gemm.c in multiples of 4, not 16: the chunks then come out as many as planned
    // (mlp-512's 784-row kernel gradient: 8 of 100 rows, not 7 of 112 — 3 against 4 on two
    // threads), and gemm.c gives the same bits for any split.
    let (step, pieces) = gemmSplit(flops: flops, extent: extent, granule: splitRows && kernel != .openBLAS ? 4 : 16,
                                   splitFrom: minimumOutputSplitFlops)
    forEach(pieces, pool: pool) { piece in
        let start = piece * step
        let size = min(step, extent - start)
        if splitRows {
            sgemm(transA: transA, transB: transB, m: size, n: n, k: k, a: a.base + (transA ? start : start * lda),
                  lda: lda, b: b.base, ldb: ldb, beta: beta, c: c.base + start * ldc, ldc: ldc, kernel: kernel)
            afterChunk?(start..<(start + size), 0..<n)
        } else {
            sgemm(transA: transA, transB: transB, m: m, n: size, k: k, a: a.base, lda: lda,
                  b: b.base + (transB ? start * ldb : start), ldb: ldb, beta: beta, c: c.base + start, ldc: ldc,
                  kernel: kernel)
            afterChunk?(0..<m, start..<(start + size))
        }
    }
}

/// Whether gemm.c's AVX-512 kernels, in a product at least 64 columns wide (they ask only then),
/// take op(A) = Aᵀ (A stored k × m, lda) at the p where its tiles of 4 rows are nonzero (a kernel
/// gradient of an image batch) rather than in dense tiles — decided from a sample of A. False
/// without AVX-512.
public func transposedProductSkipsZeros(m: Int, k: Int, a: FloatView, lda: Int) -> Bool {
    precondition(a.count >= (k - 1) * lda + m || k == 0, "A too small")
    return ProductKernel.avx512.isAvailable && ck_gemm_transposed_skips(Int32(m), Int32(k), a.base, Int32(lda)) != 0
}

/// How `gemm` splits the inner dimension of an m×n×k product when given a workspace: pieces of
/// `step` rows of k (the last shorter), or nil when it splits the output instead. From the shapes
/// alone; a path that computes the same partial products another way (a direct convolution's
/// kernel gradient) splits the same way and so gives the same bits.
public func innerSplit(m: Int, n: Int, k: Int) -> (step: Int, pieces: Int)? {
    guard k >= 4 * max(m, n) else { return nil }
    let split = gemmSplit(flops: 2 * m * n * k, extent: k)
    return split.pieces > 1 ? split : nil
}

/// C = beta·C + P₀ + P₁ + … for the `pieces` m×n partials P at `parts` (each `stride` floats after
/// the one before: m·n when they are packed), each element summed in piece order, in blocks of rows
/// on the pool. `afterChunk`, when given, is called for each block (its rows, all n columns) once
/// it is final, on the thread that added it (so it can use those rows of C while they are in that
/// core's cache): `gemm`'s hand-off, passed on as it is.
public func addPartials(_ parts: UnsafeMutablePointer<Float>, pieces: Int, stride: Int? = nil, m: Int, n: Int,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool?,
                        afterChunk: ((_ rows: Range<Int>, _ cols: Range<Int>) -> Void)? = nil) {
    let stride = stride ?? m * n
    // Blocks of about 16 K floats of each partial; as many as the pieces at least, when the
    // hand-off wants the rows spread over the threads.
    let perBlock = max(1, min(afterChunk == nil ? m : (m + pieces - 1) / pieces, 16_384 / max(1, n)))
    forEach((m + perBlock - 1) / perBlock, pool: m * n * pieces >= 65_536 || afterChunk != nil ? pool : nil) { block in
        let rows = (block * perBlock)..<min(m, (block + 1) * perBlock)
        for i in rows { addPartialRow(parts + i * n, pieces: pieces, stride: stride, n: n, beta: beta, c: c + i * ldc) }
        afterChunk?(rows, 0..<n)
    }
}

/// One row of `addPartials`: c[j] = beta·c[j] + (p₀[j] + p₁[j] + …), 16 columns a vector.
@inline(__always)
private func addPartialRow(_ row: UnsafeMutablePointer<Float>, pieces: Int, stride: Int, n: Int, beta: Float,
                           c: UnsafeMutablePointer<Float>) {
    var j = 0
    while j + 16 <= n {
        var sum = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD16<Float>.self)
        for piece in 1..<pieces { sum += UnsafeRawPointer(row + piece * stride + j).loadUnaligned(as: SIMD16<Float>.self) }
        if beta != 0 { sum = beta * UnsafeRawPointer(c + j).loadUnaligned(as: SIMD16<Float>.self) + sum }
        UnsafeMutableRawPointer(c + j).storeBytes(of: sum, as: SIMD16<Float>.self)
        j += 16
    }
    while j < n {
        var sum = row[j]
        for piece in 1..<pieces { sum += row[piece * stride + j] }
        c[j] = beta == 0 ? sum : beta * c[j] + sum
        j += 1
    }
}

/// Single-threaded C (m×n) = op(A) · op(B) (beta 0) or C += op(A) · op(B) (beta 1), row-major, on
/// raw pointers (the caller splits the work).
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           a: UnsafeMutablePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, kernel: ProductKernel = .best) {
    if kernel == .openBLAS {
        BLAS.configure()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    } else {
        ck_gemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c,
                Int32(ldc), beta == 0 ? 0 : 1, kernel == .avx512 ? 1 : 0)
    }
}

/// body(0..<count) on the pool, or in order on this thread.
@inline(__always)
func forEach(_ count: Int, pool: ThreadPool?, _ body: (Int) -> Void) {
    if let pool, count > 1 {
        pool.parallelFor(count, body)
    } else {
        for i in 0..<count { body(i) }
    }
}
