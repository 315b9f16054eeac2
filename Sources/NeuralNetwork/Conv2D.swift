// Conv2D: y = f(conv(x, K) + b), as im2col + one matrix product for the whole batch, or as
// Winograd F(4×4, 3×3); with a 2×2 max pooling after it, the pooling too (`fuse`).
// Layouts (NHWC images, Keras's (kh, kw, C, F) kernels, the column matrix) and the padding rules
// are written down once, at the top of Sources/Kernels/Convolution.swift.
import Kernels

public final class Conv2D: ActivatedLayer {
    /// `- type: conv2d` parameters (Keras names and defaults).
    public struct Config: Codable, Sendable {
        /// Output channels F. Required.
        public var filters: Int
        /// Window size: `3` or `[3, 5]` (height, width). Required.
        public var kernelSize: HeightWidth
        /// Step between windows: `1` or `[sh, sw]`.
        public var strides = HeightWidth(1)
        /// `valid` (windows inside the image) or `same` (output = ⌈input/stride⌉, TensorFlow's padding).
        public var padding: Padding = .valid
        /// Applied to conv(x, K) + b: linear, relu, sigmoid, tanh, softmax (over the filters).
        public var activation: Activation = .linear
        /// Whether to add the learned bias b (one per filter).
        public var useBias = true
        /// How K starts (fans as Keras: fan_in = kh·kw·C, fan_out = kh·kw·F).
        public var kernelInitializer: Initializer = .glorotUniform
        /// How b starts.
        public var biasInitializer: Initializer = .zeros

        enum CodingKeys: String, CodingKey {
            case filters, strides, padding, activation
            case kernelSize = "kernel_size"
            case useBias = "use_bias"
            case kernelInitializer = "kernel_initializer"
            case biasInitializer = "bias_initializer"
        }

        public init(filters: Int, kernelSize: HeightWidth, strides: HeightWidth = HeightWidth(1),
                    padding: Padding = .valid, activation: Activation = .linear, useBias: Bool = true) {
            self.filters = filters
            self.kernelSize = kernelSize
            self.strides = strides
            self.padding = padding
            self.activation = activation
            self.useBias = useBias
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            filters = try c.decode(.filters, expected: "a positive integer up to 65,536") { (f: Int) in
                f > 0 && f <= 1 << 16
            }
            kernelSize = try c.decode(.kernelSize, expected: "positive (at most 65,536)") { (k: HeightWidth) in
                k.isPositive(upTo: maximumWindow)
            }
            strides = try c.decode(.strides, default: HeightWidth(1), expected: "positive (at most 65,536)") {
                (s: HeightWidth) in s.isPositive(upTo: maximumWindow)
            }
            padding = try c.decodeChoice(.padding, default: .valid)
            activation = try c.decodeChoice(.activation, default: .linear)
            useBias = try c.decode(.useBias, default: true)
            kernelInitializer = try c.decodeChoice(.kernelInitializer, default: .glorotUniform)
            biasInitializer = try c.decodeChoice(.biasInitializer, default: .zeros)
        }
    }

    public let kind = "Conv2D"
    public var name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public private(set) var activation: Activation

    private let window: Window2D
    private let filters: Int
    private var kernel: FloatView?, bias: FloatView?
    private var kernelGradient: FloatView?, biasGradient: FloatView?
    /// (maxBatch·OH·OW, kh·kw·C) columns, then `workspaceShare` floats per sample of workspace.
    private var columns: FloatView?, workspace: FloatView?
    /// 3×3 stride-1 convolutions over ≥ 8 channels run as Winograd F(4×4, 3×3): 2.25–4× fewer
    /// multiplications (Kernels/Winograd.swift). Smaller channel counts stay on im2col + GEMM,
    /// where the transforms would cost more than they save.
    private var winograd: Winograd3x3?
    private var transformed: (v: FloatView, scratch: FloatView, u: FloatView, du: FloatView)?
    /// Set by `fuse`: the 2×2 max pooling after this layer runs inside it, so y and dy are the
    /// pooled output and gradient (Kernels/ConvolutionPool.swift). The im2col path then works in
    /// chunks of samples (`pooled`); `argmax` holds the pooling's choices, `z` the unpooled output.
    private var fusedPool = false
    private var pooled: PooledConvolution?
    private var argmax: FloatView?, z: FloatView?, partials: FloatView?

    public init(_ config: Config, inputShape: Shape, name: String = "conv2d") throws {
        window = try imageWindow("conv2d", input: inputShape, window: config.kernelSize, strides: config.strides,
                                 padding: config.padding, what: "kernel")
        self.config = config
        self.name = name
        self.inputShape = inputShape
        filters = config.filters
        outputShape = Shape([window.outHeight, window.outWidth, config.filters])
        activation = config.activation
        if window.kernelHeight == 3 && window.kernelWidth == 3 && window.strideHeight == 1
            && window.strideWidth == 1 && window.channels >= 8 {
            winograd = Winograd3x3(height: window.height, width: window.width, channels: window.channels,
                                   filters: filters, same: config.padding == .same)
        } else {
            winograd = nil
        }
    }

    /// Whether `pool` (the next layer) can run inside this one: 2×2 max pooling after ReLU or no activation.
    public func canFuse(_ pool: Pooling2D) -> Bool {
        pool.isFusable && pool.inputShape == outputShape && (activation == .relu || activation == .linear)
    }
    /// Makes this layer compute the pooling after it (before the model allocates scratch).
    func fuse(_ pool: Pooling2D) {
        precondition(canFuse(pool))
        fusedPool = true
        if let w = winograd {
            // The pooling reads only 2·⌊OH/2⌋ × 2·⌊OW/2⌋ outputs: F(5×5, 3×3) may compute them with fewer products.
            winograd = Winograd3x3(height: w.height, width: w.width, channels: w.channels, filters: w.filters,
                                   same: w.pad == 1, pooled: true)
        } else {
            pooled = PooledConvolution(window: window, filters: filters)
        }
    }
    private var pooledCount: Int { (window.outHeight / 2) * (window.outWidth / 2) * filters }

    public var configuredActivation: Activation { config.activation }
    public func detachActivation() { activation = .linear }

    public var parameterSpecs: [ParameterSpec] {
        let area = window.kernelHeight * window.kernelWidth
        let fanIn = area * window.channels, fanOut = area * filters
        var specs = [ParameterSpec(name: "kernel", shape: [window.kernelHeight, window.kernelWidth,
                                                           window.channels, filters],
                                   initializer: config.kernelInitializer, fanIn: fanIn, fanOut: fanOut)]
        if config.useBias {
            specs.append(ParameterSpec(name: "bias", shape: [filters], initializer: config.biasInitializer,
                                       fanIn: fanIn, fanOut: fanOut))
        }
        return specs
    }

    public func bind(parameters: [FloatView], gradients: [FloatView]) {
        kernel = parameters[0]
        kernelGradient = gradients[0]
        if config.useBias {
            bias = parameters[1]
            biasGradient = gradients[1]
        }
    }

    /// Per sample: the sample's rows of the column matrix (kept from forward for dK, then reused
    /// for dcols), and a share of the workspace. The workspace holds the bias-gradient block sums
    /// (≤ 8·F) and, for batches of 32 or more, dK's partial products over slices of the batch
    /// (`gemmWorkspace`): a share of 1/32 of that per sample keeps the full workspace out of the
    /// per-sample scratch, which the model multiplies by its largest batch.
    /// Winograd: V for every sample and the transforms' scratch; U and dU are fixed.
    /// Fused with pooling: also the pooling's argmax; im2col keeps z and per-chunk partial sums.
    public var scratchPerSample: Int {
        if let w = winograd { return w.inputTransformPerImage + w.scratchPerImage + (fusedPool ? pooledCount : 0) }
        if let p = pooled {
            return window.positions * window.patch + p.outputCount + pooledCount
                + p.partialsPerSample
        }
        return window.positions * window.patch + workspaceShare
    }
    public var scratchFixed: Int {
        if let w = winograd { return w.scratchFixed + 2 * w.kernelTransformCount }
        return pooled?.partialsFixed ?? 0
    }
    private var workspaceShare: Int {
        max(8 * filters, (gemmWorkspace(m: window.patch, n: filters) + 31) / 32)
    }

    public func bind(scratch: FloatView) {
        let maxBatch = (scratch.count - scratchFixed) / scratchPerSample
        if let w = winograd {
            var offset = 0
            func take(_ count: Int) -> FloatView {
                defer { offset += count }
                return scratch.slice(offset, count)
            }
            transformed = (v: take(maxBatch * w.inputTransformPerImage), scratch: take(w.scratchCount(images: maxBatch)),
                           u: take(w.kernelTransformCount), du: take(w.kernelTransformCount))
            if fusedPool { argmax = take(maxBatch * pooledCount) }
            return
        }
        let columnCount = maxBatch * window.positions * window.patch
        columns = scratch.slice(0, columnCount)
        if let p = pooled {
            z = scratch.slice(columnCount, maxBatch * p.outputCount)
            argmax = scratch.slice(columnCount + maxBatch * p.outputCount, maxBatch * pooledCount)
            let start = columnCount + maxBatch * (p.outputCount + pooledCount)
            partials = scratch.slice(start, maxBatch * p.partialsPerSample + p.partialsFixed)
            return
        }
        workspace = scratch.slice(columnCount, maxBatch * workspaceShare)
    }

    /// ReLU and the identity run inside the Winograd transforms; other activations take a pass of their own.
    private var fusedActivation: Bool { activation == .relu || activation == .linear }

    // x: (N, H, W, C) → cols: (N·OH·OW, kh·kw·C) → y = f(cols·K + b): (N·OH·OW, F) = (N, OH, OW, F)
    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        let rows = n * window.positions, patch = window.patch
        if let w = winograd, let t = transformed {
            // y = f(Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A + b), tile by tile, 36 GEMMs per group of images
            w.forward(x, kernel: kernel!, bias: bias, relu: activation == .relu, images: n, u: t.u, v: t.v,
                      scratch: t.scratch, into: y, poolArgmax: argmax, pool: context.pool)
            if !fusedActivation {
                biasActivationForward(y, rows: rows, cols: filters, bias: nil, activation: activation,
                                      pool: context.pool)
            }
            return
        }
        if let p = pooled {
            // y = pool(f(cols·K + b)), chunk by chunk of samples
            p.forward(x, kernel: kernel!, bias: bias, relu: activation == .relu, cols: columns!, z: z!, into: y,
                      argmax: argmax!, batch: n, pool: context.pool)
            return
        }
        im2col(x, into: columns!, window: window, batch: n, pool: context.pool)
        gemm(m: rows, n: filters, k: patch, a: columns!, lda: patch, b: kernel!, ldb: filters,
             beta: 0, c: y, ldc: filters, pool: context.pool)                         // z = cols·K
        biasActivationForward(y, rows: rows, cols: filters, bias: bias, activation: activation,
                              pool: context.pool)                                     // y = f(z + b)
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        let rows = n * window.positions, patch = window.patch
        if let w = winograd, let t = transformed {
            if !fusedActivation {
                activationBackward(y: y, dy: dy, rows: rows, cols: filters, activation: activation,
                                   biasGradient: nil, partials: dy, pool: context.pool)   // dz = dy ⊙ f'(z)
            }
            // dz = dy ⊙ relu'; db += Σ dz; dM = A dz Aᵀ;  dK += Gᵀ (Σ V ⊙ dM) G;  dx = B (U ⊙ dM) Bᵀ
            w.backward(dy, y: y, relu: activation == .relu, images: n, u: t.u, v: t.v, scratch: t.scratch,
                       du: t.du, dKernel: kernelGradient!, biasGradient: biasGradient, dx: dx, poolArgmax: argmax,
                       pool: context.pool)
            return
        }
        if let p = pooled {
            // dz = dy routed through the pooling and ReLU; db += Σ dz; dK += colsᵀ·dz; dx = col2im(dz·Kᵀ)
            p.backward(x: x, dy: dy, y: y, argmax: argmax!, relu: activation == .relu, kernel: kernel!, cols: columns!,
                       z: z!, partials: partials!, dKernel: kernelGradient!, biasGradient: biasGradient, dx: dx,
                       batch: n, pool: context.pool)
            return
        }
        let workspace = self.workspace!.slice(0, n * workspaceShare)
        activationBackward(y: y, dy: dy, rows: rows, cols: filters, activation: activation,
                           biasGradient: biasGradient, partials: workspace,
                           pool: context.pool)                                        // dz = dy ⊙ f'(z); db += Σ dz
        // dK += colsᵀ·dz, the sum over N·OH·OW split into fixed slices added in order (when the
        // workspace holds them; otherwise gemm splits K's rows and sums each over the whole batch).
        let split = workspace.count >= gemmWorkspace(m: patch, n: filters) ? workspace : nil
        gemm(transA: true, m: patch, n: filters, k: rows, a: columns!, lda: patch, b: dy, ldb: filters,
             beta: 1, c: kernelGradient!, ldc: filters, pool: context.pool, workspace: split)
        guard let dx else { return }
        gemm(transB: true, m: rows, n: patch, k: filters, a: dy, lda: filters, b: kernel!, ldb: filters,
             beta: 0, c: columns!, ldc: patch, pool: context.pool)                    // dcols = dz·Kᵀ
        col2im(columns!, into: dx, window: window, batch: n, pool: context.pool)      // dx = col2im(dcols)
    }
}
