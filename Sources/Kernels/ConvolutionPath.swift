// How a convolution layer computes: one protocol, one implementation per algorithm, and the one
// place that picks the algorithm for a layer, once, when the model is built.
//
//   path                 taken for                                       name
//   Im2colPath           every other convolution (the reference)         im2col
//   DirectPath           one input channel, no pooling, AVX-512          direct
//                        (DirectConvolution.swift)
//   ConvolutionPoolPath  a 2×2 max pooling after it (run inside)         direct-pooled, direct-pooled-sparse,
//                        (ConvolutionPool.swift)                         im2col-pooled, im2col-pooled-sparse;
//                                                                        "-portable" off AVX2
//   WinogradPath         3×3, stride 1, at least 8 input channels;       winograd-f4x4, winograd-f4x4-pooled,
//                        5×5, stride 1, pooled, ≥ 8 channels, AVX2;      winograd-f5x5-pooled,
//                        3×3, stride 2, unpooled, ≥ 8 channels, AVX2     winograd-f4x4-k5x5-pooled,
//                        (Winograd.swift)                                winograd-s2-f4x4, winograd-s2-f7x7;
//                                                                        "-portable" off AVX2
//
// A path owns its part of the layer's scratch (its layout is the path's business) and runs the
// forward and backward of the layer's convolution, bias and activation: with pooling, of the
// pooling too. Which fast kernels a path uses inside (AVX2/FMA or portable, F(4×4) or F(5×5), …)
// it decides when it is made, from the shapes and the CPU, and its name says so.

/// The layer's parameters and their gradients, as the model binds them.
public struct ConvolutionWeights {
    /// K (kh, kw, C, F) and b (F), when the layer has a bias.
    public var kernel: FloatView, bias: FloatView?
    /// dK and db, accumulated (`+=`) by backward.
    public var kernelGradient: FloatView, biasGradient: FloatView?

    public init(kernel: FloatView, bias: FloatView?, kernelGradient: FloatView, biasGradient: FloatView?) {
        self.kernel = kernel
        self.bias = bias
        self.kernelGradient = kernelGradient
        self.biasGradient = biasGradient
    }
}

/// One algorithm for a convolution layer (see the table above).
public protocol ConvolutionPath: AnyObject {
    /// What runs, for reports: "im2col", "winograd-f5x5-pooled", …
    var name: String { get }
    /// Floats of scratch per sample and fixed; `bind(scratch:)` receives
    /// maxBatch · scratchPerSample + scratchFixed of them, once, before any pass.
    var scratchPerSample: Int { get }
    var scratchFixed: Int { get }
    func bind(scratch: FloatView)
    /// x: (N, H, W, C) → y = f(conv(x, K) + b): (N, OH, OW, F), or its 2×2 max pooling
    /// (N, OH/2, OW/2, F) for a pooled path.
    func forward(_ x: FloatView, weights: ConvolutionWeights, activation: Activation, into y: FloatView,
                 batch n: Int, pool: ThreadPool?)
    /// From dy = ∂L/∂y of the last forward (y its output; dy may be overwritten): dK += ∂L/∂K,
    /// db += ∂L/∂b, and dx = ∂L/∂x when dx is given.
    func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, weights: ConvolutionWeights,
                  activation: Activation, batch n: Int, pool: ThreadPool?)
}

/// A path that can compute the input gradient of a batch normalization after the layer where it
/// reads its dy (`BatchNormGradient`), instead of that layer writing it to memory for this one to
/// read: the same values, one pass over memory fewer each way.
public protocol NormalizationGradientPath: ConvolutionPath {
    /// Whether it can, for a layer with this bias and activation; `first` when the layer is the
    /// model's first trainable one (its dx is never asked for).
    func takesNormalizationGradient(bias: Bool, activation: Activation, first: Bool) -> Bool
    /// `backward` with dy the normalization's input gradient, as `normalization` gives it.
    func backward(x: FloatView, y: FloatView, normalization: BatchNormGradient, dx: FloatView?,
                  weights: ConvolutionWeights, activation: Activation, batch n: Int, pool: ThreadPool?)
}

/// A path that can apply the batch normalization before the layer (and the ReLU fused with it)
/// to its input as it reads it (`InputNormalization`), so that layer writes no output and this
/// one reads its input instead: the same values, a pass over memory fewer.
public protocol NormalizedInputPath: ConvolutionPath {
    /// Makes the passes apply one (before the scratch is sized: they need room for it).
    func normalizeInput()
    /// The normalization the passes apply to x, which is then that normalization's input; set
    /// by the layer before its passes.
    var inputNormalization: InputNormalization? { get set }
}

/// The path for a convolution of this geometry, with the 2×2 max pooling after it when `pooled`
/// (ReLU or no activation only). The one place that picks.
public func makeConvolutionPath(window g: Window2D, filters: Int, pooled: Bool) -> any ConvolutionPath {
    // Winograd needs 2.25–4× fewer multiplications, but below 8 channels its transforms cost
    // more than they save.
    // F(4×4, 5×5) for 5×5 layers followed by pooling: 64 products per 16 outputs against 400.
    let k = g.kernelHeight, stride1 = g.strideHeight == 1 && g.strideWidth == 1
    let fiveFits = k == 5 && pooled && WinogradConvolution.supports5x5(height: g.height, width: g.width, same: g.same)
    let winograd = g.kernelWidth == k && stride1 && g.channels >= 8 && (k == 3 || fiveFits)
    // At stride 2, 81 products per 16 outputs against 144, or 225 per 49 against 441 (Winograd.swift).
    let stride2 = k == 3 && g.kernelWidth == 3 && g.strideHeight == 2 && g.strideWidth == 2 && !pooled
        && g.channels >= 8 && WinogradConvolution.supportsStride2(height: g.height, width: g.width, same: g.same)
    if stride2 {
        return WinogradPath(WinogradConvolution(height: g.height, width: g.width, channels: g.channels,
                                                filters: filters, stride: 2, same: g.same), pooled: false)
    }
    switch (winograd, pooled) {
    case (true, _):
        return WinogradPath(WinogradConvolution(height: g.height, width: g.width, channels: g.channels,
                                                filters: filters, kernelSize: k, same: g.same, pooled: pooled),
                            pooled: pooled)
    case (false, true):
        return ConvolutionPoolPath(PooledConvolution(window: g, filters: filters))
    case (false, false):
        // A single-channel image (a first layer): straight from the image, no columns.
        if DirectPath.applies(window: g, filters: filters) { return DirectPath(window: g, filters: filters) }
        return Im2colPath(window: g, filters: filters)
    }
}

/// im2col + one matrix product for the whole batch (Caffe's way), on any CPU: the reference
/// the other paths are tested against.
public final class Im2colPath: ConvolutionPath {
    public let window: Window2D
    public let filters: Int
    /// (maxBatch·OH·OW, kh·kw·C) columns, then `workspaceShare` floats per sample of workspace.
    private var columns: FloatView?, workspace: FloatView?

    public init(window: Window2D, filters: Int) {
        self.window = window
        self.filters = filters
    }

    public var name: String { "im2col" }

    /// Per sample: the sample's rows of the column matrix (kept from forward for dK, then reused
    /// for dcols), and a share of the workspace. The workspace holds the bias-gradient block sums
    /// (≤ 8·F) and, for batches of 32 or more, dK's partial products over slices of the batch
    /// (`gemmWorkspace`): a share of 1/32 of that per sample keeps the full workspace out of the
    /// per-sample scratch, which the model multiplies by its largest batch.
    public var scratchPerSample: Int { window.positions * window.patch + workspaceShare }
    public var scratchFixed: Int { 0 }
    private var workspaceShare: Int {
        max(8 * filters, (gemmWorkspace(m: window.patch, n: filters) + 31) / 32)
    }

    public func bind(scratch: FloatView) {
        let maxBatch = scratch.count / scratchPerSample
        let columnCount = maxBatch * window.positions * window.patch
        columns = scratch.slice(0, columnCount)
        workspace = scratch.slice(columnCount, maxBatch * workspaceShare)
    }

    // x: (N, H, W, C) → cols: (N·OH·OW, kh·kw·C) → y = f(cols·K + b): (N·OH·OW, F) = (N, OH, OW, F)
    public func forward(_ x: FloatView, weights: ConvolutionWeights, activation: Activation, into y: FloatView,
                        batch n: Int, pool: ThreadPool?) {
        let rows = n * window.positions, patch = window.patch
        im2col(x, into: columns!, window: window, batch: n, pool: pool)
        gemm(m: rows, n: filters, k: patch, a: columns!, lda: patch, b: weights.kernel, ldb: filters,
             beta: 0, c: y, ldc: filters, pool: pool)                                 // z = cols·K
        biasActivationForward(y, rows: rows, cols: filters, bias: weights.bias, activation: activation,
                              pool: pool)                                             // y = f(z + b)
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, weights: ConvolutionWeights,
                         activation: Activation, batch n: Int, pool: ThreadPool?) {
        let rows = n * window.positions, patch = window.patch
        let workspace = self.workspace!.slice(0, n * workspaceShare)
        activationBackward(y: y, dy: dy, rows: rows, cols: filters, activation: activation,
                           biasGradient: weights.biasGradient, partials: workspace,
                           pool: pool)                                                // dz = dy ⊙ f'(z); db += Σ dz
        // dK += colsᵀ·dz, the sum over N·OH·OW split into fixed slices added in order (when the
        // workspace holds them; otherwise gemm splits K's rows and sums each over the whole batch).
        let split = workspace.count >= gemmWorkspace(m: patch, n: filters) ? workspace : nil
        gemm(transA: true, m: patch, n: filters, k: rows, a: columns!, lda: patch, b: dy, ldb: filters,
             beta: 1, c: weights.kernelGradient, ldc: filters, pool: pool, workspace: split)
        guard let dx else { return }
        gemm(transB: true, m: rows, n: patch, k: filters, a: dy, lda: filters, b: weights.kernel, ldb: filters,
             beta: 0, c: columns!, ldc: patch, pool: pool)                            // dcols = dz·Kᵀ
        col2im(columns!, into: dx, window: window, batch: n, pool: pool)              // dx = col2im(dcols)
    }
}
