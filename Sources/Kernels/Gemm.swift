// Matrix products: the dense layers' and im2col convolutions' go through `gemm`, which calls
// single-threaded OpenBLAS `cblas_sgemm` on a fixed partition of the output. (On CPUs with AVX2
// and FMA the convolutions' many small products — Winograd's per position, a pooled layer's with
// at most 32 filters — run in Sources/CKernels instead: OpenBLAS packs both operands every call.)
//
// Why our own partition instead of OpenBLAS threads: OpenBLAS's threaded sgemm does not give the
// same bits for 1 and 2 threads (measured: a 32×128×784 product differs in the last bits). Here the
// output is cut into chunks chosen from the shapes alone; each chunk is one single-threaded sgemm
// over the full inner dimension, so each output element is summed in the same order whatever the
// thread count, and the pool only decides which thread runs which chunk.
import CBLAS

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

/// How many chunks a product of `flops` over an extent of `extent` is cut into (a power of two,
/// at most 8, each chunk ≥ 2.5 MFLOP and ≥ 32 wide), and the chunk width: a multiple of 16, which
/// keeps every chunk on OpenBLAS's full-width micro-kernels.
public func gemmSplit(flops: Int, extent: Int) -> (step: Int, pieces: Int) {
    var chunks = 1
    while chunks < maximumChunks && flops / (2 * chunks) >= minimumChunkFlops && extent >= 32 * chunks {
        chunks *= 2
    }
    let step = max(16, ((extent + chunks - 1) / chunks + 15) / 16 * 16)
    return (step, (extent + step - 1) / step)
}

/// Floats of workspace `gemm` can use for an m×n product (partial results of a split inner
/// dimension; see `gemm`).
public func gemmWorkspace(m: Int, n: Int) -> Int { maximumChunks * m * n }

/// C (m×n) = alpha · op(A) · op(B) + beta · C, all row-major.
/// op(A) is m×k (A is k×m with `transA`), op(B) is k×n (B is n×k with `transB`).
/// `beta = 1` accumulates, which is how backward passes add parameter gradients.
///
/// The split depends on the shapes only. Usually the output is split along its larger side, so
/// the larger operand is divided between chunks. When the inner dimension dominates (a batch of 32
/// through a 784×128 layer) and a `workspace` of `gemmWorkspace(m:n:)` floats is given, the inner
/// dimension is split instead: chunk i computes the partial product over its slice of k into the
/// workspace, and the partials are added in chunk order. Then each thread reads only its own rows
/// of B — the rows it also updates in the optimizer step — and nothing large crosses between cores.
public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                 alpha: Float = 1, a: FloatView, lda: Int, b: FloatView, ldb: Int,
                 beta: Float, c: FloatView, ldc: Int, pool: ThreadPool? = nil, workspace: FloatView? = nil) {
    precondition(m >= 0 && n >= 0 && k >= 0)
    if m == 0 || n == 0 { return }
    BLAS.configure()
    precondition(a.count >= (transA ? (k - 1) * lda + m : (m - 1) * lda + k) || k == 0, "A too small")
    precondition(b.count >= (transB ? (n - 1) * ldb + k : (k - 1) * ldb + n) || k == 0, "B too small")
    precondition(c.count >= (m - 1) * ldc + n, "C too small")
    let ta = transA ? CblasTrans : CblasNoTrans
    let tb = transB ? CblasTrans : CblasNoTrans
    let flops = 2 * m * n * k

    if let workspace, k >= 4 * max(m, n) {
        let (step, pieces) = gemmSplit(flops: flops, extent: k)
        if pieces > 1 {
            precondition(workspace.count >= pieces * m * n, "gemm workspace too small")
            let parts = workspace.base
            forEach(pieces, pool: pool) { piece in
                let start = piece * step
                let size = min(step, k - start)
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(size), alpha,
                            a.base + (transA ? start * lda : start), Int32(lda),
                            b.base + (transB ? start : start * ldb), Int32(ldb), 0,
                            parts + piece * m * n, Int32(n))
            }
            // C = beta·C + P₀ + P₁ + …, each element summed in chunk order.
            let cp = c.base
            for i in 0..<m {
                let row = cp + i * ldc
                for j in 0..<n {
                    var sum = parts[i * n + j]
                    for piece in 1..<pieces { sum += parts[piece * m * n + i * n + j] }
                    row[j] = beta == 0 ? sum : beta * row[j] + sum
                }
            }
            return
        }
    }

    // Split the output along the dimension whose operand is larger, so that operand is divided
    // between chunks and only the smaller one is packed again by each chunk.
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let (step, pieces) = gemmSplit(flops: flops, extent: extent)
    forEach(pieces, pool: pool) { piece in
        let start = piece * step
        let size = min(step, extent - start)
        if splitRows {
            let aOffset = transA ? start : start * lda
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(size), Int32(n), Int32(k), alpha,
                        a.base + aOffset, Int32(lda), b.base, Int32(ldb), beta,
                        c.base + start * ldc, Int32(ldc))
        } else {
            let bOffset = transB ? start * ldb : start
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(size), Int32(k), alpha,
                        a.base, Int32(lda), b.base + bOffset, Int32(ldb), beta,
                        c.base + start, Int32(ldc))
        }
    }
}

/// Single-threaded C (m×n) = op(A) · op(B), row-major, on raw pointers (the caller splits the work).
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           a: UnsafeMutablePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    BLAS.configure()
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
