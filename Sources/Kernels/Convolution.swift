// Convolution kernels: the sliding-window geometry shared with pooling, im2col/col2im, and the
// per-row bias, activation and bias-gradient passes around the convolution's matrix products.
//
// ── Memory layout of images, kernels and columns (the one place it is written down) ──────────────
//
//   images    x: (N, H, W, C)     batch-first, channels last (Keras's channels_last), contiguous:
//                                 x[n, h, w, c] sits at ((n·H + h)·W + w)·C + c.
//   kernel    K: (kh, kw, C, F)   Keras's layout: K[i, j, c, f] at ((i·kw + j)·C + c)·F + f, so the
//                                 kernel is a row-major (kh·kw·C) × F matrix as it stands.
//   bias      b: (F)
//   output    y: (N, OH, OW, F)   same layout as x; as a matrix, (N·OH·OW) × F.
//   columns   cols: (N·OH·OW, kh·kw·C)  row r = (n·OH + oh)·OW + ow holds the window under output
//                                 (n, oh, ow) in (i, j, c) order — the kernel's row order — with 0
//                                 where the window hangs over the padding. So y = cols·K, and for a
//                                 fixed (n, oh, ow, i) the kw·C values of a window row are one
//                                 contiguous run of x: im2col and col2im copy runs, not elements.
//
// Windows (Keras/TensorFlow rules): with `valid` padding OH = ⌊(H − kh)/sh⌋ + 1 (no padding); with
// `same`, OH = ⌈H/sh⌉, pad_total = max((OH − 1)·sh + kh − H, 0), pad_top = ⌊pad_total/2⌋ (the extra
// row, if any, goes to the bottom). Likewise for widths. Window (oh, ow) covers input rows
// oh·sh − pad_top ..< oh·sh − pad_top + kh; every window holds at least one real element.
//
// Determinism: loops over samples give each sample to exactly one chunk, and every sum (a window,
// a column of dZ, a sample's scattered gradient) is added in a fixed order inside its chunk.

/// The geometry of a 2-D sliding window (convolution kernel or pooling window) over one
/// (H, W, C) image, padding included.
public struct Window2D: Sendable, Equatable {
    public let height: Int, width: Int, channels: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let strideHeight: Int, strideWidth: Int
    /// Rows above and columns left of the image that windows may cover (zeros for convolution,
    /// ignored by pooling).
    public let padTop: Int, padLeft: Int
    public let outHeight: Int, outWidth: Int
    /// Keras's "same" padding (else "valid").
    public let same: Bool

    /// Keras's output size and padding for each axis. `outHeight`/`outWidth` are ≤ 0 when a valid
    /// window does not fit: the caller reports that as a shape error.
    public init(height: Int, width: Int, channels: Int, kernel: (Int, Int), stride: (Int, Int), same: Bool) {
        precondition(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0)
        self.height = height
        self.width = width
        self.channels = channels
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = stride
        (outHeight, padTop) = Window2D.axis(height, kernel.0, stride.0, same)
        (outWidth, padLeft) = Window2D.axis(width, kernel.1, stride.1, same)
        self.same = same
    }

    /// (output size, padding before) along one axis.
    static func axis(_ size: Int, _ kernel: Int, _ stride: Int, _ same: Bool) -> (Int, Int) {
        if !same {
            return size < kernel ? (size - kernel + 1, 0) : ((size - kernel) / stride + 1, 0)
        }
        let out = (size + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - size, 0)
        return (out, total / 2)
    }

    /// Floats per row of the column matrix: kh·kw·C.
    public var patch: Int { kernelHeight * kernelWidth * channels }
    /// Output positions per sample: OH·OW.
    public var positions: Int { outHeight * outWidth }
    /// Floats of one input sample: H·W·C.
    public var inputCount: Int { height * width * channels }
}

/// cols (N·OH·OW, kh·kw·C) = the windows of x (N, H, W, C), zero where they cover padding.
/// One chunk per sample.
public func im2col(_ x: FloatView, into cols: FloatView, window g: Window2D, batch n: Int, pool: ThreadPool?) {
    let patch = g.patch, perSample = g.positions * patch
    precondition(x.count >= n * g.inputCount && cols.count >= n * perSample)
    let c = g.channels, run = g.kernelWidth * c, line = g.width * c
    let xp = x.base, cp = cols.base
    forEach(n, pool: pool) { s in
        let image = xp + s * g.inputCount
        var d = cp + s * perSample
        for oh in 0..<g.outHeight {
            let top = oh &* g.strideHeight &- g.padTop
            let rowsInside = top >= 0 && top &+ g.kernelHeight <= g.height
            for ow in 0..<g.outWidth {
                let left = ow &* g.strideWidth &- g.padLeft
                if rowsInside && left >= 0 && left &+ g.kernelWidth <= g.width {
                    // Inside the image (almost every window): kh runs of kw·C floats. Short runs
                    // (LeNet's 5, mnist_convnet's 3) are stored as one whole vector each, whose
                    // extra lanes the next run overwrites; the last run is copied exactly. The
                    // extra lanes read the next image row, which exists for all but the last run.
                    var source = image + (top &* g.width &+ left) &* c
                    if run >= 4 && run < 8 && line >= 8 {
                        for _ in 0..<g.kernelHeight - 1 {
                            UnsafeMutableRawPointer(d).storeBytes(
                                of: UnsafeRawPointer(source).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                            source += line
                            d += run
                        }
                    } else if run >= 2 && run < 4 && line >= 4 {
                        for _ in 0..<g.kernelHeight - 1 {
                            UnsafeMutableRawPointer(d).storeBytes(
                                of: UnsafeRawPointer(source).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                            source += line
                            d += run
                        }
                    } else {
                        for _ in 0..<g.kernelHeight - 1 {
                            copyRun(from: source, to: d, count: run)
                            source += line
                            d += run
                        }
                    }
                    copyRun(from: source, to: d, count: run)
                    d += run
                    continue
                }
                // Window columns j in first..<last fall inside the image; the rest is padding.
                let first = max(0, -left), last = min(g.kernelWidth, g.width - left)
                for i in 0..<g.kernelHeight {
                    let h = top + i
                    if h < 0 || h >= g.height || first >= last {
                        zeroRun(d, count: run)
                    } else {
                        if first > 0 { zeroRun(d, count: first * c) }
                        copyRun(from: image + (h * g.width + left + first) * c, to: d + first * c,
                                count: (last - first) * c)
                        if last < g.kernelWidth { zeroRun(d + last * c, count: (g.kernelWidth - last) * c) }
                    }
                    d += run
                }
            }
        }
    }
}

/// dx (N, H, W, C) = Σ over windows of dcols (N·OH·OW, kh·kw·C) scattered back to where im2col
/// took them from (the adjoint of im2col). One chunk per sample; within a sample, windows are added
/// in output order, so the sums never depend on the thread count.
public func col2im(_ cols: FloatView, into dx: FloatView, window g: Window2D, batch n: Int, pool: ThreadPool?) {
    let patch = g.patch, perSample = g.positions * patch
    precondition(dx.count >= n * g.inputCount && cols.count >= n * perSample)
    let c = g.channels, run = g.kernelWidth * c, line = g.width * c
    let xp = dx.base, cp = cols.base
    forEach(n, pool: pool) { s in
        let image = xp + s * g.inputCount
        image.update(repeating: 0, count: g.inputCount)
        var d = UnsafePointer(cp + s * perSample)
        for oh in 0..<g.outHeight {
            let top = oh &* g.strideHeight &- g.padTop
            let rowsInside = top >= 0 && top &+ g.kernelHeight <= g.height
            for ow in 0..<g.outWidth {
                let left = ow &* g.strideWidth &- g.padLeft
                if rowsInside && left >= 0 && left &+ g.kernelWidth <= g.width {
                    var target = image + (top &* g.width &+ left) &* c
                    for _ in 0..<g.kernelHeight {
                        addRun(from: d, to: target, count: run)
                        target += line
                        d += run
                    }
                    continue
                }
                let first = max(0, -left), last = min(g.kernelWidth, g.width - left)
                for i in 0..<g.kernelHeight {
                    let h = top + i
                    if h >= 0 && h < g.height && first < last {
                        addRun(from: d + first * c, to: image + (h * g.width + left + first) * c,
                               count: (last - first) * c)
                    }
                    d += run
                }
            }
        }
    }
}

/// target[0..<count] = source[0..<count]. Runs are short (kw·C floats: 3 for a 3×3 kernel over
/// one channel), so explicit vectors and a branchy tail instead of a loop, which the compiler
/// would turn into a call to memcpy (measured: that call made conv1's im2col 3× slower).
@inline(__always)
func copyRun(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    let s = UnsafeRawPointer(source), t = UnsafeMutableRawPointer(target)
    var offset = 0, end = count * 4
    while offset + 64 <= end {
        t.storeBytes(of: s.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self), toByteOffset: offset,
                     as: SIMD16<Float>.self)
        offset += 64
    }
    if offset + 32 <= end {
        t.storeBytes(of: s.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self), toByteOffset: offset,
                     as: SIMD8<Float>.self)
        offset += 32
    }
    if offset + 16 <= end {
        t.storeBytes(of: s.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self), toByteOffset: offset,
                     as: SIMD4<Float>.self)
        offset += 16
    }
    end /= 4
    offset /= 4
    if offset < end { target[offset] = source[offset]; offset += 1 }
    if offset < end { target[offset] = source[offset]; offset += 1 }
    if offset < end { target[offset] = source[offset] }
}

/// target[0..<count] = 0 for the short runs of a window over padding (a call to memset costs
/// more than the few stores).
@inline(__always)
func zeroRun(_ target: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 4 <= count {
        UnsafeMutableRawPointer(target + i).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
        i += 4
    }
    while i < count {
        target[i] = 0
        i += 1
    }
}

/// target[0..<count] += source[0..<count], vectorised the same way as `copyRun`.
@inline(__always)
func addRun(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    let s = UnsafeRawPointer(source), t = UnsafeMutableRawPointer(target)
    var offset = 0
    let end = count * 4
    while offset + 64 <= end {
        let sum = t.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            + s.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
        t.storeBytes(of: sum, toByteOffset: offset, as: SIMD16<Float>.self)
        offset += 64
    }
    if offset + 16 <= end {
        let sum = t.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
            + s.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
        t.storeBytes(of: sum, toByteOffset: offset, as: SIMD4<Float>.self)
        offset += 16
    }
    var i = offset / 4
    while i < count {
        target[i] += source[i]
        i += 1
    }
}

/// Fixed blocks of rows for row-wise passes over an (rows × cols) matrix: at most 8, each of at
/// least 32K elements (fewer blocks for small matrices), chosen from the shape alone.
public func rowBlocks(rows: Int, cols: Int) -> (step: Int, count: Int) {
    let minimumRows = max(1, 32_768 / max(1, cols))
    let blocks = max(1, min(8, rows / minimumRows))
    let step = (rows + blocks - 1) / blocks
    return (step, rows == 0 ? 0 : (rows + step - 1) / step)
}

/// y = f(y + b) row by row — y: (rows, cols), b: (cols) or nil; f along each row for softmax.
/// With `dropout` (a ReLU only), then y = y · mask of that draw, in the same pass: a dense layer
/// and the dropout layer after it (`Dense.fuse`), the same bits as the two layers' passes (`code`
/// picks the mask's build, as in `dropoutForward`).
public func biasActivationForward(_ y: FloatView, rows: Int, cols: Int, bias: FloatView?,
                                  activation: Activation, dropout: DropoutDraw? = nil, code: VectorCode = .best,
                                  pool: ThreadPool?) {
    precondition(y.count >= rows * cols)
    if let dropout {
        precondition(activation == .relu, "a dropout is applied in the pass of a ReLU only")
        let yp = y.base, bp = bias?.base
        forEachChunk(rows * cols, pool: pool) { range in   // bounds multiples of 4, as the draw wants
            // The chunk's rows, or the parts of them in it: bias and ReLU, then the mask while
            // the chunk (16 KB) is in L1.
            var e = range.lowerBound
            while e < range.upperBound {
                let j = e % cols, end = min(range.upperBound, e - j + cols)
                let row = yp + (e - j)
                if let bp {
                    for c in j..<(end - e + j) { let v = row[c] + bp[c]; row[c] = v < 0 ? 0 : v }  // as addRowVector,
                } else {                                                                            // Activation.relu
                    for c in j..<(end - e + j) { row[c] = row[c] < 0 ? 0 : row[c] }
                }
                e = end
            }
            dropout.apply(range, x: yp, y: yp, mask: nil, code: code)
        }
        return
    }
    if bias == nil && activation == .linear { return }
    let (step, blocks) = rowBlocks(rows: rows, cols: cols)
    forEach(blocks, pool: pool) { block in
        let start = block * step, count = min(step, rows - start)
        let part = y.slice(start * cols, count * cols)
        if let bias { addRowVector(part, rows: count, cols: cols, bias) }
        activation.forward(part, rows: count, cols: cols)
    }
}

/// dy = dL/dy → dz = dL/dz in place (given the forward output y), and, when `biasGradient` is
/// given, biasGradient[j] += Σ_r dz[r, j]. The column sums are taken per fixed row block into
/// `partials` (≥ 8·cols floats; only needed with `biasGradient`), then the blocks are added in
/// order: the same bits on any number of threads.
///
/// With `dropoutKeep` (a ReLU whose pass applied a dropout: `biasActivationForward`'s `dropout`,
/// y the dropout's output), dz = y > 0 ? dy · keep : 0 — the dropout's dy · mask then the ReLU's
/// select on one pass: where the mask kept an element, y > 0 exactly where the ReLU's output was;
/// where it dropped one, both give a zero (+0 here, ±0 there, which no sum from +0 tells apart).
public func activationBackward(y: FloatView, dy: FloatView, rows: Int, cols: Int, activation: Activation,
                               biasGradient: FloatView?, partials: FloatView? = nil, dropoutKeep: Float? = nil,
                               pool: ThreadPool?) {
    precondition(y.count >= rows * cols && dy.count >= rows * cols)
    if let keep = dropoutKeep {
        precondition(activation == .relu && biasGradient == nil, "a dropout's gradient with a ReLU's only")
        let yr = UnsafeRawPointer(y.base), dr = UnsafeMutableRawPointer(dy.base), yp = y.base, dp = dy.base
        forEachChunk(rows * cols, pool: pool) { range in
            var e = range.lowerBound
            while e + 16 <= range.upperBound {
                var d = dr.loadUnaligned(fromByteOffset: 4 * e, as: SIMD16<Float>.self) * keep
                d.replace(with: 0, where: .!(yr.loadUnaligned(fromByteOffset: 4 * e, as: SIMD16<Float>.self) .> 0))
                dr.storeBytes(of: d, toByteOffset: 4 * e, as: SIMD16<Float>.self)
                e += 16
            }
            while e < range.upperBound {
                dp[e] = yp[e] > 0 ? dp[e] * keep : 0
                e += 1
            }
        }
        return
    }
    let (step, blocks) = rowBlocks(rows: rows, cols: cols)
    if biasGradient != nil { precondition((partials?.count ?? 0) >= blocks * cols) }
    let yp = y.base, dp = dy.base, pp = partials?.base
    forEach(blocks, pool: pool) { block in
        let start = block * step, count = min(step, rows - start)
        guard biasGradient != nil else {
            activation.backward(y: y.slice(start * cols, count * cols), dy: dy.slice(start * cols, count * cols),
                                rows: count, cols: cols)
            return
        }
        let sums = pp! + block * cols
        sums.update(repeating: 0, count: cols)
        switch activation {
        case .relu, .linear:
            // One pass: mask (ReLU) and add each row into the block's sums, 16 columns at a time.
            let relu = activation == .relu
            for r in start..<start + count {
                let yr = UnsafeRawPointer(yp + r * cols), dr = UnsafeMutableRawPointer(dp + r * cols)
                let sr = UnsafeMutableRawPointer(sums)
                var j = 0
                while j + 16 <= cols {
                    var d = dr.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self)
                    if relu {
                        let v = yr.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self)
                        d.replace(with: 0, where: .!(v .> 0))      // as Activation.relu: NaN → 0
                        dr.storeBytes(of: d, toByteOffset: 4 * j, as: SIMD16<Float>.self)
                    }
                    let total = sr.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) + d
                    sr.storeBytes(of: total, toByteOffset: 4 * j, as: SIMD16<Float>.self)
                    j += 16
                }
                let yt = yp + r * cols, dt = dp + r * cols
                while j < cols {
                    if relu && !(yt[j] > 0) { dt[j] = 0 }
                    sums[j] += dt[j]
                    j += 1
                }
            }
        default:
            activation.backward(y: y.slice(start * cols, count * cols), dy: dy.slice(start * cols, count * cols),
                                rows: count, cols: cols)
            accumulateColumnSums(dy.slice(start * cols, count * cols), rows: count, cols: cols,
                                 into: partials!.slice(block * cols, cols))
        }
    }
    guard let biasGradient else { return }
    precondition(biasGradient.count >= cols)
    let g = biasGradient.base
    for block in 0..<blocks {
        for j in 0..<cols { g[j] += pp![block * cols + j] }
    }
}
