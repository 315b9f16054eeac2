// A convolution of single-channel images (a model's first layer), computed from the images
// directly (Sources/CKernels/conv_direct.c) instead of through im2col's columns, which copy each
// pixel kh·kw times to feed products whose inner dimension is only kh·kw: any kernel size, stride
// and padding, up to 64 filters, no pooling after it (a pooled one is ConvolutionPoolPath's).
//
//   forward   y = f(x ∗ K + b)                          per chunk of samples, from the image
//   backward  dz = dy ⊙ f'(y), db += Σ dz               (activationBackward, as Im2colPath)
//             dK += Σ_positions window ⊗ dz             from the image, no columns
//             dx = col2im(dz·Kᵀ)                        (only when asked for; a first layer is not)
//   or, for a layer without bias and activation followed by batch normalization, dz is that
//   layer's input gradient, computed block by block as the kernel gradient reads it (the same
//   values; it never goes to memory)
//
// The same bits as Im2colPath, which it replaces: each output is one FMA chain over the taps in
// im2col's order, then the bias and the activation; the kernel gradient splits the positions into
// the pieces `gemm` would (`innerSplit`), each piece one FMA chain over its positions, the pieces
// added in order (`addPartials`); dx adds each tap's dz·K[tap] (an FMA chain over the filters) in
// col2im's order. The tests compare the two paths bit for bit.
import CKernels

public final class DirectPath: NormalizationGradientPath {
    public let window: Window2D
    public let filters: Int
    private var workspace: FloatView?, kernelSums: FloatView?

    /// Whether a convolution of this geometry can take this path on this CPU.
    public static func applies(window g: Window2D, filters: Int, code: VectorCode = .best) -> Bool {
        code == .avx512 && g.channels == 1
            && ck_conv1_direct_supported(Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(filters)) != 0
    }

    public init(window: Window2D, filters: Int) {
        precondition(Self.applies(window: window, filters: filters))
        self.window = window
        self.filters = filters
    }

    public var name: String { "direct" }

    /// Per sample: Im2colPath's share of the workspace (bias-gradient block sums; the kernel
    /// gradient's partial sums over pieces of the batch), so the pieces are the same; no columns.
    /// Fixed: one kernel gradient's sum, for batches too small to split.
    public var scratchPerSample: Int {
        max(8 * filters, (gemmWorkspace(m: window.patch, n: filters) + 31) / 32)
    }
    public var scratchFixed: Int { window.patch * filters }

    public func bind(scratch: FloatView) {
        let maxBatch = (scratch.count - scratchFixed) / scratchPerSample
        workspace = scratch.slice(0, maxBatch * scratchPerSample)
        kernelSums = scratch.slice(maxBatch * scratchPerSample, scratchFixed)
    }

    /// Samples per chunk of the forward pass: at most about 4,096 output rows, the samples shared
    /// evenly (64 samples of 196 positions: 4 chunks of 16, not 20, 20, 20 and 4). Each output is
    /// computed alone, so the split changes no bit.
    private func chunking(_ n: Int) -> (samples: Int, chunks: Int) {
        let most = max(1, min(n, 4_096 / max(1, window.positions)))
        let chunks = (n + most - 1) / most, samples = (n + chunks - 1) / chunks
        return (samples, (n + samples - 1) / samples)
    }

    // x: (N, H, W, 1) → y = f(x ∗ K + b): (N, OH, OW, F)
    public func forward(_ x: FloatView, weights: ConvolutionWeights, activation: Activation, into y: FloatView,
                        batch n: Int, pool: ThreadPool?) {
        let g = window, f = filters
        precondition(x.count >= n * g.inputCount && y.count >= n * g.positions * f)
        let relu = activation == .relu
        let (samples, chunks) = chunking(n)
        let kp = weights.kernel.base, bp = weights.bias.map { UnsafePointer($0.base) }
        forEach(chunks, pool: pool) { chunk in
            let first = chunk * samples, count = min(samples, n - first)
            ck_conv1_direct_forward(x.base + first * g.inputCount, Int32(count), Int32(g.height), Int32(g.width),
                                    Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideHeight),
                                    Int32(g.strideWidth), Int32(g.padTop), Int32(g.padLeft), Int32(g.outHeight),
                                    Int32(g.outWidth), Int32(f), kp, bp, relu ? 1 : 0,
                                    y.base + first * g.positions * f)
            if !relu && activation != .linear {       // the other activations after the bias, as Im2colPath
                let rows = count * g.positions
                activation.forward(y.slice(first * g.positions * f, rows * f), rows: rows, cols: f)
            }
        }
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, weights: ConvolutionWeights,
                         activation: Activation, batch n: Int, pool: ThreadPool?) {
        let rows = n * window.positions
        activationBackward(y: y, dy: dy, rows: rows, cols: filters, activation: activation,
                           biasGradient: weights.biasGradient, partials: workspace!.slice(0, n * scratchPerSample),
                           pool: pool)  // dz, db
        kernelGradient(x: x, dz: dy.base, normalization: nil, weights: weights, batch: n, pool: pool)
        if let dx { inputGradient(dz: dy, weights: weights, into: dx, batch: n, pool: pool) }
    }

    /// Without bias or activation, as a first layer: the kernel gradient computes dz block by
    /// block as it reads it; there is no dx to make from it.
    public func takesNormalizationGradient(bias: Bool, activation: Activation, first: Bool) -> Bool {
        first && !bias && activation == .linear
    }

    /// dK += Σ windowᵀ·dz for dz the input gradient of the batch normalization after the layer,
    /// computed as the kernel gradient reads it (`ck_bn_gradient_rows`): dz never goes to memory.
    public func backward(x: FloatView, y: FloatView, normalization: BatchNormGradient, dx: FloatView?,
                         weights: ConvolutionWeights, activation: Activation, batch n: Int, pool: ThreadPool?) {
        precondition(dx == nil && weights.biasGradient == nil && activation == .linear
                     && normalization.source.channels == Int32(filters))
        withUnsafePointer(to: normalization.source) { source in
            kernelGradient(x: x, dz: nil, normalization: source, weights: weights, batch: n, pool: pool)
        }
    }

    /// dK += Σ windowᵀ·dz, split over the positions as gemm splits colsᵀ·dz; dz from memory or, with
    /// `normalization`, computed block by block.
    private func kernelGradient(x: FloatView, dz: UnsafeMutablePointer<Float>?,
                                normalization: UnsafePointer<ck_bn_gradient>?, weights: ConvolutionWeights,
                                batch n: Int, pool: ThreadPool?) {
        let g = window, f = filters, patch = g.patch, rows = n * g.positions
        let workspace = self.workspace!.slice(0, n * scratchPerSample)
        func gradient(first: Int, count: Int, into dk: UnsafeMutablePointer<Float>) {
            ck_conv1_direct_kernel_gradient(x.base, Int32(g.height), Int32(g.width), Int32(g.kernelHeight),
                                            Int32(g.kernelWidth), Int32(g.strideHeight), Int32(g.strideWidth),
                                            Int32(g.padTop), Int32(g.padLeft), Int32(g.outHeight), Int32(g.outWidth),
                                            Int32(f), dz, normalization, first, count, dk)
        }
        if workspace.count >= gemmWorkspace(m: patch, n: f), let split = innerSplit(m: patch, n: f, k: rows) {
            let parts = workspace.base
            forEach(split.pieces, pool: pool) { piece in
                let first = piece * split.step
                gradient(first: first, count: min(split.step, rows - first), into: parts + piece * patch * f)
            }
            addPartials(parts, pieces: split.pieces, m: patch, n: f, beta: 1, c: weights.kernelGradient.base, ldc: f,
                        pool: pool)
        } else {
            let sums = kernelSums!.base, dk = weights.kernelGradient.base
            gradient(first: 0, count: rows, into: sums)
            for i in 0..<patch * f { dk[i] += sums[i] }                 // dK + Σ, as gemm's beta = 1
        }
    }

    private func inputGradient(dz dy: FloatView, weights: ConvolutionWeights, into dx: FloatView, batch n: Int,
                               pool: ThreadPool?) {
        let g = window, f = filters
        // dx = col2im(dz·Kᵀ): each tap's FMA chain over the filters, added in col2im's order.
        let kp = weights.kernel.base, dz = dy.base
        forEach(n, pool: pool) { s in
            let image = dx.base + s * g.inputCount
            image.update(repeating: 0, count: g.inputCount)
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    let top = oh * g.strideHeight - g.padTop, left = ow * g.strideWidth - g.padLeft
                    let row = dz + ((s * g.outHeight + oh) * g.outWidth + ow) * f
                    for i in 0..<g.kernelHeight where top + i >= 0 && top + i < g.height {
                        for j in 0..<g.kernelWidth where left + j >= 0 && left + j < g.width {
                            let k = kp + (i * g.kernelWidth + j) * f
                            var sum: Float = 0
                            for c in 0..<f { sum.addProduct(row[c], k[c]) }
                            image[(top + i) * g.width + left + j] += sum
                        }
                    }
                }
            }
        }
    }
}
