// Matrix products: every one in the project goes through `gemm`, which calls single-threaded
// OpenBLAS `cblas_sgemm` on a fixed partition of the output.
//
// Why our own partition instead of OpenBLAS threads: OpenBLAS's threaded sgemm does not give the
// same bits for 1 and 2 threads (measured: a 32×128×784 product differs in the last bits). Here the
// output is cut into chunks chosen from the shapes alone; each chunk is one single-threaded sgemm
// over the full inner dimension, so each output element is summed in the same order whatever the
// thread count, and the pool only decides which thread runs which chunk.
import CBLAS

public enum BLAS {
    /// Pins OpenBLAS to one thread per call (we parallelise above it). Idempotent.
    public static func configure() { openblas_set_num_threads(1) }

    /// OpenBLAS's build configuration, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
    public static var config: String { String(cString: openblas_get_config()) }

    /// The kernel family OpenBLAS chose for this CPU (or was told to use by OPENBLAS_CORETYPE).
    public static var coreName: String { String(cString: openblas_get_corename()) }
}

/// The smallest piece of work worth a chunk of its own: below this, splitting costs more in call
/// and packing overhead than the second core gives back (measured on the seed MLP's products).
let minimumChunkFlops = 2_500_000
let maximumChunks = 8

/// C (m×n) = alpha · op(A) · op(B) + beta · C, all row-major.
/// op(A) is m×k (A is k×m with `transA`), op(B) is k×n (B is n×k with `transB`).
/// `beta = 1` accumulates, which is how backward passes add parameter gradients.
public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                 alpha: Float = 1, a: FloatView, lda: Int, b: FloatView, ldb: Int,
                 beta: Float, c: FloatView, ldc: Int, pool: ThreadPool? = nil) {
    precondition(m >= 0 && n >= 0 && k >= 0)
    if m == 0 || n == 0 { return }
    precondition(a.count >= (transA ? (k - 1) * lda + m : (m - 1) * lda + k) || k == 0, "A too small")
    precondition(b.count >= (transB ? (n - 1) * ldb + k : (k - 1) * ldb + n) || k == 0, "B too small")
    precondition(c.count >= (m - 1) * ldc + n, "C too small")

    // Split the output along the dimension whose operand is larger, so that operand is divided
    // between chunks and only the smaller one is packed again by each chunk.
    let flops = 2 * m * n * k
    let splitRows = m >= n
    let extent = splitRows ? m : n
    var chunks = 1
    while chunks < maximumChunks && flops / (2 * chunks) >= minimumChunkFlops && extent >= 32 * chunks {
        chunks *= 2
    }
    // Chunk edges on multiples of 16 keep every chunk on OpenBLAS's full-width micro-kernels.
    let step = ((extent + chunks - 1) / chunks + 15) / 16 * 16
    let pieces = (extent + step - 1) / step

    let ta = transA ? CblasTrans : CblasNoTrans
    let tb = transB ? CblasTrans : CblasNoTrans
    func run(_ piece: Int) {
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
    if let pool, pieces > 1 {
        pool.parallelFor(pieces, run)
    } else {
        for piece in 0..<pieces { run(piece) }
    }
}
