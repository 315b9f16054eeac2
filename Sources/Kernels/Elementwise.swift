// Elementwise kernels and small reductions over row-major (rows × cols) matrices.
// Rows are samples of a batch; columns are features. Reductions over rows run in row order, so a
// sum never depends on how work was split.
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Calls `body(range)` on fixed slices of 4,096 elements of `0..<count`: the slices depend only
/// on `count`, so elementwise loops split this way give the same bits on any number of threads.
/// (16 KB slices: small enough to balance two threads over ~100k parameters, large enough that
/// the claim per slice costs nothing.)
@inlinable
public func forEachChunk(_ count: Int, pool: ThreadPool?, _ body: (Range<Int>) -> Void) {
    let chunks = (count + 4_095) / 4_096
    if chunks <= 1 || pool == nil {
        body(0..<count)
        return
    }
    pool!.parallelFor(chunks) { chunk in
        let start = chunk * 4_096
        body(start..<min(count, start + 4_096))
    }
}

/// x = 0, split like `forEachChunk`.
public func zero(_ x: FloatView, pool: ThreadPool?) {
    let p = x.base
    forEachChunk(x.count, pool: pool) { range in
        (p + range.lowerBound).update(repeating: 0, count: range.count)
    }
}

/// y[i, j] += bias[j]   — y: (rows, cols), bias: (cols)
public func addRowVector(_ y: FloatView, rows: Int, cols: Int, _ bias: FloatView) {
    precondition(y.count >= rows * cols && bias.count >= cols)
    let y = y.base, b = bias.base
    for i in 0..<rows {
        let row = y + i * cols
        for j in 0..<cols { row[j] += b[j] }
    }
}

/// sums[j] += Σ_i x[i, j]   — x: (rows, cols); rows are added in order. With a pool, the
/// columns are cut into blocks (from the shape alone) summed on different threads: each column's
/// sum still adds its rows in order, so the bits are the same.
public func accumulateColumnSums(_ x: FloatView, rows: Int, cols: Int, into sums: FloatView,
                                 pool: ThreadPool? = nil) {
    precondition(x.count >= rows * cols && sums.count >= cols)
    let x = x.base, s = sums.base
    let (step, blocks) = columnBlocks(rows: rows, cols: cols)
    forEach(blocks, pool: pool) { block in
        let first = block * step, last = min(cols, first + step)
        for i in 0..<rows {
            let row = x + i * cols
            for j in first..<last { s[j] += row[j] }
        }
    }
}

/// Blocks of columns (multiples of 16, at most 8 blocks) for an elementwise pass over a
/// (rows × cols) matrix: one block unless there are at least 32K elements per block, as
/// `rowBlocks` cuts rows.
public func columnBlocks(rows: Int, cols: Int) -> (step: Int, count: Int) {
    let blocks = max(1, min(8, cols / 16, rows * cols / 32_768))
    let step = ((cols + blocks - 1) / blocks + 15) / 16 * 16
    return (step, cols == 0 ? 0 : (cols + step - 1) / step)
}

/// y = alpha · x + y
public func axpy(_ alpha: Float, _ x: FloatView, _ y: FloatView) {
    precondition(x.count == y.count)
    let xp = x.base, yp = y.base
    for i in 0..<x.count { yp[i] += alpha * xp[i] }
}

/// x *= alpha
public func scale(_ x: FloatView, by alpha: Float) {
    let p = x.base
    for i in 0..<x.count { p[i] *= alpha }
}

/// The sum of squares of the elements, in index order.
public func sumOfSquares(_ x: FloatView) -> Double {
    var total = 0.0
    for i in 0..<x.count { total += Double(x.base[i]) * Double(x.base[i]) }
    return total
}

/// The index of the largest element of row `row` (first one on ties, like NumPy's argmax).
public func rowArgmax(_ x: FloatView, row: Int, cols: Int) -> Int {
    let p = x.base + row * cols
    var best = 0
    for j in 1..<cols where p[j] > p[best] { best = j }
    return best
}

/// How many images ahead `gatherScaled` asks for an image's bytes.
let gatherAhead = 4

/// out[r, :] = bytes[indices[r], :] · scale + shift, for r in 0..<indices.count — the per-batch
/// conversion of stored UInt8 pixels into the network's Float input.
public func gatherScaled(_ bytes: [UInt8], rowLength: Int, indices: ArraySlice<Int>,
                         scale: Float, shift: Float, into out: FloatView, pool: ThreadPool? = nil) {
    precondition(out.count >= indices.count * rowLength)
    bytes.withUnsafeBufferPointer { src in
        indices.withUnsafeBufferPointer { idx in
            // Two halves of the pixel columns, cut where a two-way split of the first layer's
            // inner dimension cuts (a multiple of 16): each thread converts the pixels it will
            // multiply, and they stay in its cache.
            let width = rowLength < 64 ? rowLength : ((rowLength + 1) / 2 + 15) / 16 * 16
            forEach((rowLength + width - 1) / width, pool: pool) { piece in
                let start = piece * width, end = min(rowLength, start + width)
                for r in 0..<idx.count {
                    // The images lie at random places in the dataset: start loading the one
                    // `ahead` rows on while this one is converted.
                    if r + gatherAhead < idx.count, idx[r + gatherAhead] >= 0,
                       (idx[r + gatherAhead] + 1) * rowLength <= src.count {
                        ck_prefetch(src.baseAddress! + idx[r + gatherAhead] * rowLength + start, end - start)
                    }
                    let sourceRow = idx[r]
                    precondition(sourceRow >= 0 && (sourceRow + 1) * rowLength <= src.count)
                    let s = src.baseAddress! + sourceRow * rowLength
                    let d = out.base + r * rowLength
                    for j in start..<end { d[j] = Float(s[j]) * scale + shift }
                }
            }
        }
    }
}
