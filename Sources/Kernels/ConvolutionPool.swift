// A convolution followed by 2×2 max pooling (stride 2, valid), computed as one step: the
// convolution's full output never leaves the cache, and the pooled output is the only tensor
// written. The same for the gradient: the pooled gradient is routed to each window's maximum and
// through the ReLU in the same pass that feeds the kernel's matrix product.
//
//   forward   z = cols·K (im2col + GEMM);  y = maxpool₂ₓ₂(f(z + b)), argmax ∈ 0..<4 per output
//   backward  dz = dy at the window's argmax where y > 0 (ReLU), 0 elsewhere; db += Σ dz;
//             dK += colsᵀ·dz;  dx = col2im(dz·Kᵀ)
//
// Layout as in Convolution.swift; pooled y (N, OH/2, OW/2, F) and argmax (same shape, Int32: the
// position of the maximum in its window in scan order: 0 top left, 1 top right, 2, 3). Rows and
// columns of z past the last whole window (an odd OH or OW) are dropped, as pooling drops them.
//
// On CPUs with AVX2 and FMA (Sources/CKernels) two paths skip parts of this, chosen from the shapes:
//   direct  3×3 or 5×5 kernels: the forward convolves from a zero-padded copy of each image with
//           the outputs in registers (no cols, no z), summing in im2col's order, so the bits are
//           those of im2col + the narrow products; for one input channel the kernel gradient too.
//   sparse  stride 1: the backward visits only the (window, filter) pairs whose gradient is not
//           zero, adding g·x[patch] to dK and g·K to dx[patch], a kernel row's vectors in registers.
//
// Work is cut into fixed chunks of samples (from the shapes alone); each chunk runs im2col, its
// products and the pooling (or the direct kernels) on one thread. dK and db are summed per chunk,
// then the chunks in order: the same bits on any number of threads.
//
// The portable pooling and its gradient (Swift, any CPU) are in ConvolutionPoolPortable.swift; the
// AVX2/FMA kernels in Sources/CKernels (narrow_gemm.c, conv_pool_direct.c, conv_pool_sparse.c).
import CKernels

/// Shapes and buffer sizes of a convolution (im2col + GEMM) fused with the 2×2 max pooling after it.
public struct PooledConvolution: Sendable {
    public let window: Window2D
    public let filters: Int
    /// Rows of the column matrix per chunk, about: a chunk's columns and z stay in cache.
    static let rowsPerChunk = 4_096

    /// Whether the AVX2/FMA kernels run at all (the CPU has AVX2 and FMA, and `avx2` was not
    /// turned off): without them the products go through `sgemm` and the pooling is the Swift code.
    public let vectorKernels: Bool
    /// Whether the products z = cols·K and dK = colsᵀ·dz go through the AVX2/FMA kernels
    /// `ck_gemm_narrow(_tn)` (when `vectorKernels` and K is narrow: at most 32 filters) instead of
    /// `sgemm` (gemm.c where the CPU has AVX2, else OpenBLAS, which packs both operands on every call).
    public let narrowProduct: Bool

    /// Whether the layer skips im2col and z altogether (`ck_conv_pool`, `ck_conv1_pool_kernel_gradient`):
    /// a single-channel input (a first layer), a 3×3 or 5×5 kernel, stride 1, on a CPU with AVX2
    /// and FMA. Its results are the same bits as the narrow products'; only dx (which a first
    /// layer does not need) still goes through im2col, made in `backward` when asked for.
    public let direct: Bool
    /// Whether the forward convolves from the images (`ck_conv_pool`, the same bits as im2col +
    /// narrow products) instead of im2col's columns: `direct` layers, and layers with more
    /// channels whose backward needs no columns either (`sparseGradient`), a 3×3 or 5×5 kernel and
    /// at most 32 filters. (With more, its 8-filter groups were slower than im2col + gemm.c's
    /// AVX-512 product: Caffe's LeNet's 20 → 50 layer, 3.1 against 2.5 ms per batch of 64.)
    public let directForward: Bool

    /// Whether the backward visits only the (window, filter) pairs with a gradient
    /// (`ck_pool_sparse_gradient`): after the pooling and ReLU, three quarters or more of a dense
    /// dz are zeros, which dK = colsᵀ·dz and dx = col2im(dz·Kᵀ) multiply all the same. Taken for
    /// stride-1 layers (kernel rows of up to 512 floats, kw·C) on a CPU with AVX2 and FMA, when not
    /// `direct`: LeNet-5's second layer (rows of 5·6), Caffe's LeNet's (5·20, 50 filters).
    public let sparseGradient: Bool

    /// Whether the direct and sparse kernels (`ck_conv_pool`, `ck_conv1_pool_kernel_gradient`,
    /// `ck_pool_sparse_gradient`) run the code compiled for AVX-512VL (the CPU has it): the same
    /// operations per element as the AVX2 code, so the same bits.
    public let wideRegisters: Bool
    /// True when this CPU has AVX-512F and AVX-512VL.
    static let avx512Available = ck_has_avx512vl() != 0

    /// `avx2: false` takes none of this type's AVX2/FMA kernels — the products go through `sgemm`
    /// (gemm.c on a CPU with AVX2, OpenBLAS elsewhere) and the pooling through the Swift code —
    /// `direct: false` keeps the narrow products on im2col's columns, `wide: false` the direct
    /// kernels to AVX2's 16 registers (the tests compare them).
    public init(window: Window2D, filters: Int, avx2: Bool = WinogradConvolution.avx2Available, direct: Bool = true,
                wide: Bool = true, sparse: Bool = true) {
        self.window = window
        self.filters = filters
        wideRegisters = wide && Self.avx512Available
        vectorKernels = avx2 && WinogradConvolution.avx2Available
        narrowProduct = vectorKernels && filters <= 32
            && window.patch * ((filters + 7) / 8) * 8 <= 4096
        let g = window
        self.direct = direct && narrowProduct && g.channels == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && ck_conv_pool_supported(Int32(g.height), Int32(g.width), 1, Int32(g.kernelHeight), Int32(g.kernelWidth),
                                      Int32(g.padTop), Int32(g.padLeft), Int32(g.outHeight), Int32(g.outWidth),
                                      Int32(filters)) != 0
        sparseGradient = sparse && vectorKernels && !self.direct && g.strideHeight == 1 && g.strideWidth == 1
            && ck_pool_sparse_supported(Int32(g.channels), Int32(g.kernelHeight), Int32(g.kernelWidth),
                                        Int32(g.outHeight), Int32(g.outWidth), Int32(filters)) != 0
        directForward = self.direct || (sparseGradient && direct && narrowProduct
            && ck_conv_pool_supported(Int32(g.height), Int32(g.width), Int32(g.channels), Int32(g.kernelHeight),
                                      Int32(g.kernelWidth), Int32(g.padTop), Int32(g.padLeft), Int32(g.outHeight),
                                      Int32(g.outWidth), Int32(filters)) != 0)
    }

    /// Floats of Kᵀ in kernel rows of `sparseRow` (F, kh, sparseRow), kept after the chunks' partial sums.
    var sparseKernelCount: Int { sparseGradient ? filters * window.kernelHeight * sparseRow : 0 }
    /// Floats of a kernel row in the sparse gradient's Kᵀ and dKᵀ: 32 for kw·C ≤ 32, else kw·C rounded up to 16.
    var sparseRow: Int { Int(ck_pool_sparse_row(Int32(window.channels), Int32(window.kernelWidth))) }
    /// Floats of the copy of Kᵀ after the chunks' partial sums: sparseKernelCount, and 15 to start
    /// it on a 64-byte boundary (its rows are read as whole vectors, a cache line apiece).
    var kernelCopyCount: Int { sparseGradient ? sparseKernelCount + 15 : 0 }
    /// Floats of `partials` `backward` needs for a batch of n.
    public func partialsCount(batch n: Int) -> Int { chunks(n) * partialCount + kernelCopyCount }

    public var pooledHeight: Int { window.outHeight / 2 }
    public var pooledWidth: Int { window.outWidth / 2 }
    /// Floats of one sample's pooled output (and Int32s of its argmax).
    public var pooledCount: Int { pooledHeight * pooledWidth * filters }
    /// Floats of one sample's convolution output z.
    public var outputCount: Int { window.positions * filters }
    /// Samples per chunk and chunks for a batch of n, from the shapes alone: chunks of at most
    /// about `rowsPerChunk` rows (down to half that), the size whose chunks split most evenly
    /// in two halves (thread 0 of two runs the first ⌊chunks/2⌋), the widest of equally even ones.
    /// (For LeNet's batch of 64, 5 samples a chunk gave 13 chunks, 30 images against 34; 4 give
    /// 16, 32 against 32.)
    public func chunking(_ n: Int) -> (samples: Int, chunks: Int) {
        let target = max(1, (n * window.positions + Self.rowsPerChunk - 1) / Self.rowsPerChunk)
        let widest = max(1, (n + target - 1) / target)
        var best = (samples: widest, chunks: (n + widest - 1) / widest), bestGap = Int.max
        for samples in stride(from: widest, through: (widest + 1) / 2, by: -1) {
            let chunks = (n + samples - 1) / samples, gap = abs(n - 2 * (chunks / 2) * samples)
            if gap < bestGap { (best, bestGap) = ((samples, chunks), gap) }
        }
        return best
    }
    public func chunks(_ n: Int) -> Int { chunking(n).chunks }
    /// Floats of partial sums per sample and fixed, enough for any batch:
    /// partialsCount(batch: n) ≤ n · partialsPerSample + partialsFixed.
    /// (Chunks of at least half of `rowsPerChunk` rows: at most 2·n·positions/rowsPerChunk + 2.)
    public var partialsPerSample: Int { (2 * partialCount * window.positions + Self.rowsPerChunk - 1) / Self.rowsPerChunk }
    public var partialsFixed: Int { 2 * partialCount + kernelCopyCount }
    /// Floats per chunk of partial sums: dK (kh·kw·C × F; with `sparseGradient` dKᵀ in rows of
    /// `sparseRow`, F × kh × sparseRow), then db (F).
    public var partialCount: Int { (sparseGradient ? sparseKernelCount : window.patch * filters) + filters }
    private var kernelPartialCount: Int { partialCount - filters }

    /// y (pooled), argmax = pool(f(x ∗ K + b)) for samples 0..<n. `cols` holds n samples' columns
    /// (kept for `backward`), `z` n samples' convolution outputs.
    public func forward(_ x: FloatView, kernel: FloatView, bias: FloatView?, relu: Bool, cols: FloatView,
                        z: FloatView, into y: FloatView, argmax: FloatView, batch n: Int, pool: ThreadPool?) {
        let g = window, f = filters, rowsPerSample = g.positions, patch = g.patch
        precondition(cols.count >= n * rowsPerSample * patch && z.count >= n * outputCount
                     && y.count >= n * pooledCount && argmax.count >= n * pooledCount)
        BLAS.configure()
        let kp = kernel.base, bp = bias.map { UnsafePointer($0.base) }
        let (perChunk, chunks) = chunking(n)
        forEach(chunks, pool: pool) { chunk in
            let first = chunk * perChunk, count = min(perChunk, n - first)
            if directForward {
                argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
                    ck_conv_pool(x.base + first * g.inputCount, Int32(count), Int32(g.height), Int32(g.width),
                                 Int32(g.channels), Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.padTop),
                                 Int32(g.padLeft), Int32(g.outHeight), Int32(g.outWidth), Int32(f), kp, bp,
                                 relu ? 1 : 0, wideRegisters ? 1 : 0, y.base + first * pooledCount,
                                 ap + first * pooledCount)
                }
                return
            }
            let cp = cols.slice(first * rowsPerSample * patch, count * rowsPerSample * patch)
            im2col(x.slice(first * g.inputCount, count * g.inputCount), into: cp, window: g, batch: count, pool: nil)
            let zp = z.base + first * outputCount
            if narrowProduct {
                ck_gemm_narrow(count * rowsPerSample, Int32(patch), Int32(f), cp.base, kp, zp)
            } else {
                sgemm(m: count * rowsPerSample, n: f, k: patch, a: cp.base, lda: patch, b: kp, ldb: f, c: zp, ldc: f)
            }
            argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
                for s in first..<first + count {
                    biasReluPool2x2(z.base + s * outputCount, bias: bp, relu: relu, height: g.outHeight,
                                    width: g.outWidth, filters: f, into: y.base + s * pooledCount,
                                    argmax: ap + s * pooledCount)
                }
            }
        }
    }

    /// dKernel += ∂L/∂K, biasGradient += ∂L/∂b and (when given) dx = ∂L/∂x, from the pooled
    /// gradient dy and the last `forward`'s input x, y, argmax and cols (cols is overwritten when
    /// dx is wanted; z serves as dz). `partials` is `partialsCount(batch: n)` floats.
    public func backward(x: FloatView, dy: FloatView, y: FloatView, argmax: FloatView, relu: Bool, kernel: FloatView,
                         cols: FloatView, z: FloatView, partials: FloatView, dKernel: FloatView,
                         biasGradient: FloatView?, dx: FloatView?, batch n: Int, pool: ThreadPool?) {
        let g = window, f = filters, rowsPerSample = g.positions, patch = g.patch, (perChunk, chunks) = chunking(n)
        precondition(partials.count >= partialsCount(batch: n) && z.count >= n * outputCount
                     && dy.count >= n * pooledCount && dKernel.count >= patch * f)
        BLAS.configure()
        let kp = kernel.base, pp = partials.base, kh = g.kernelHeight, run = g.kernelWidth * g.channels
        let copy = pp + chunks * partialCount, row = sparseRow  // (sparse) Kᵀ in rows of `row`, 64-byte aligned
        let kT = copy + (16 - Int(UInt(bitPattern: copy) / 4 % 16)) % 16
        if sparseGradient {
            for j in 0..<f {
                for r in 0..<kh {
                    for i in 0..<row { kT[(j * kh + r) * row + i] = i < run ? kp[(r * run + i) * f + j] : 0 }
                }
            }
        }
        forEach(chunks, pool: pool) { chunk in
            let first = chunk * perChunk, count = min(perChunk, n - first)
            let sums = pp + chunk * partialCount + kernelPartialCount
            sums.update(repeating: 0, count: f)
            if sparseGradient {                         // dKᵀ_chunk, the bias sums and dx from the nonzero g only
                argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
                    ck_pool_sparse_gradient(
                        x.base + first * g.inputCount, Int32(count), Int32(g.height), Int32(g.width), Int32(g.channels),
                        Int32(kh), Int32(g.kernelWidth), Int32(g.padTop), Int32(g.padLeft), Int32(g.outHeight),
                        Int32(g.outWidth), Int32(f), kT, dy.base + first * pooledCount, y.base + first * pooledCount,
                        ap + first * pooledCount, relu ? 1 : 0, wideRegisters ? 1 : 0, pp + chunk * partialCount, sums,
                        dx.map { $0.base + first * g.inputCount })
                }
                return
            }
            if direct && dx == nil {                    // dK_chunk and the bias sums straight from x
                argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
                    ck_conv1_pool_kernel_gradient(
                        x.base + first * g.inputCount, Int32(count), Int32(g.height), Int32(g.width),
                        Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.padTop), Int32(g.padLeft),
                        Int32(g.outHeight), Int32(g.outWidth), Int32(f), dy.base + first * pooledCount,
                        y.base + first * pooledCount, ap + first * pooledCount, relu ? 1 : 0,
                        wideRegisters ? 1 : 0, pp + chunk * partialCount, sums)
                }
                return
            }
            if direct {                                 // forward made no columns
                im2col(x.slice(first * g.inputCount, count * g.inputCount),
                       into: cols.slice(first * rowsPerSample * patch, count * rowsPerSample * patch),
                       window: g, batch: count, pool: nil)
            }
            argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
                for s in first..<first + count {
                    pool2x2Gradient(dy: dy.base + s * pooledCount, y: y.base + s * pooledCount,
                                    argmax: ap + s * pooledCount, relu: relu, height: g.outHeight, width: g.outWidth,
                                    filters: f, into: z.base + s * outputCount, sums: sums)
                }
            }
            let rows = count * rowsPerSample, cp = cols.base + first * rowsPerSample * patch
            let dz = z.base + first * outputCount
            if narrowProduct {                                                              // dK_chunk = colsᵀ·dz
                ck_gemm_narrow_tn(rows, Int32(patch), Int32(f), cp, dz, pp + chunk * partialCount)
            } else {
                sgemm(transA: true, m: patch, n: f, k: rows, a: cp, lda: patch, b: dz, ldb: f,
                      c: pp + chunk * partialCount, ldc: f)
            }
            guard let dx else { return }
            sgemm(transB: true, m: rows, n: patch, k: f, a: dz, lda: f, b: kp, ldb: f, c: cp, ldc: patch)
            col2im(cols.slice(first * rowsPerSample * patch, rows * patch),
                   into: dx.slice(first * g.inputCount, count * g.inputCount), window: g, batch: count, pool: nil)
        }
        // dK += Σ_chunks, db += Σ_chunks, in chunk order (dKᵀ's rows back to (kh, kw, C, F)).
        let dk = dKernel.base
        for chunk in 0..<chunks {
            let part = pp + chunk * partialCount
            if sparseGradient {
                for j in 0..<f {
                    for r in 0..<kh {
                        for i in 0..<run { dk[(r * run + i) * f + j] += part[(j * kh + r) * row + i] }
                    }
                }
            } else {
                for i in 0..<patch * f { dk[i] += part[i] }
            }
            if let biasGradient {
                for j in 0..<f { biasGradient.base[j] += part[kernelPartialCount + j] }
            }
        }
    }
}

/// A pooled convolution as a layer's path: the columns, z, the pooling's argmax and the chunks'
/// partial sums in the layer's scratch. ReLU or no activation only.
public final class ConvolutionPoolPath: ConvolutionPath {
    public let convolution: PooledConvolution
    private var columns: FloatView?, z: FloatView?, argmax: FloatView?, partials: FloatView?

    public init(_ convolution: PooledConvolution) {
        self.convolution = convolution
    }

    /// "direct" when the forward convolves from the images (`ck_conv_pool`), else "im2col";
    /// then "-pooled"; "-sparse" with the sparse gradient; "-portable" without `vectorKernels` (a
    /// CPU without AVX2/FMA: OpenBLAS's products and the Swift pooling). With more than 32 filters
    /// the products are gemm.c's, not the narrow kernels', under the same names.
    public var name: String {
        let c = convolution
        return (c.directForward ? "direct" : "im2col") + "-pooled" + (c.sparseGradient ? "-sparse" : "")
            + (c.vectorKernels ? "" : "-portable")
    }

    /// Per sample: its rows of the column matrix, its z and argmax, a share of the partial sums.
    public var scratchPerSample: Int {
        let c = convolution
        return c.window.positions * c.window.patch + c.outputCount + c.pooledCount + c.partialsPerSample
    }
    public var scratchFixed: Int { convolution.partialsFixed }

    public func bind(scratch: FloatView) {
        let c = convolution, maxBatch = (scratch.count - scratchFixed) / scratchPerSample
        let columnCount = maxBatch * c.window.positions * c.window.patch
        columns = scratch.slice(0, columnCount)
        z = scratch.slice(columnCount, maxBatch * c.outputCount)
        argmax = scratch.slice(columnCount + maxBatch * c.outputCount, maxBatch * c.pooledCount)
        let start = columnCount + maxBatch * (c.outputCount + c.pooledCount)
        partials = scratch.slice(start, maxBatch * c.partialsPerSample + c.partialsFixed)
    }

    // y = pool(f(cols·K + b)), chunk by chunk of samples
    public func forward(_ x: FloatView, weights: ConvolutionWeights, activation: Activation, into y: FloatView,
                        batch n: Int, pool: ThreadPool?) {
        precondition(activation == .relu || activation == .linear)
        convolution.forward(x, kernel: weights.kernel, bias: weights.bias, relu: activation == .relu, cols: columns!,
                            z: z!, into: y, argmax: argmax!, batch: n, pool: pool)
    }

    // dz = dy routed through the pooling and ReLU; db += Σ dz; dK += colsᵀ·dz; dx = col2im(dz·Kᵀ)
    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, weights: ConvolutionWeights,
                         activation: Activation, batch n: Int, pool: ThreadPool?) {
        convolution.backward(x: x, dy: dy, y: y, argmax: argmax!, relu: activation == .relu, kernel: weights.kernel,
                             cols: columns!, z: z!, partials: partials!, dKernel: weights.kernelGradient,
                             biasGradient: weights.biasGradient, dx: dx, batch: n, pool: pool)
    }
}
