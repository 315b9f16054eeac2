// Conv2D: y = f(conv(x, K) + b); with a 2×2 max pooling after it, the pooling too (`fuse`).
// How it is computed (im2col + one matrix product, Winograd, directly with the pooling) is the
// layer's path, picked by `makeConvolutionPath` (Sources/Kernels/ConvolutionPath.swift) when the
// layer is made and again when it takes the pooling in; `pathName` says which.
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
    private var weights: ConvolutionWeights?
    /// The algorithm; with `fuse`, one that computes the pooling too.
    private var path: any ConvolutionPath
    /// The path's name, for reports: "im2col", "winograd-f4x4", "direct-pooled", …
    public var pathName: String? { path.name }

    public init(_ config: Config, inputShape: Shape, name: String = "conv2d") throws {
        window = try imageWindow("conv2d", input: inputShape, window: config.kernelSize, strides: config.strides,
                                 padding: config.padding, what: "kernel")
        self.config = config
        self.name = name
        self.inputShape = inputShape
        filters = config.filters
        outputShape = Shape([window.outHeight, window.outWidth, config.filters])
        activation = config.activation
        path = makeConvolutionPath(window: window, filters: config.filters, pooled: false)
    }

    /// Whether `pool` (the next layer) can run inside this one: 2×2 max pooling after ReLU or no activation.
    public func canFuse(_ pool: Pooling2D) -> Bool {
        pool.isFusable && pool.inputShape == outputShape && (activation == .relu || activation == .linear)
    }
    /// Makes this layer compute the pooling after it (before the model allocates scratch).
    func fuse(_ pool: Pooling2D) {
        precondition(canFuse(pool))
        path = makeConvolutionPath(window: window, filters: filters, pooled: true)
    }

    /// Whether this layer can compute the input gradient of `norm`, the batch normalization after
    /// it, where its backward reads it (`BatchNormalization.fuse(gradientInto:)`): when its path
    /// can (`NormalizationGradientPath`: the direct path of a first layer without bias or
    /// activation, an unpooled Winograd path without activation), on AVX-512 (the normalization's
    /// passes that compute it). `first`: this is the model's first trainable layer (its own dx is
    /// never asked for).
    public func canTakeGradient(of norm: BatchNormalization, first: Bool) -> Bool {
        guard VectorCode.best == .avx512, let path = path as? any NormalizationGradientPath else { return false }
        return path.takesNormalizationGradient(bias: config.useBias, activation: config.activation, first: first)
            && norm.inputShape == outputShape && outputShape.dims.count == 3
    }
    /// The batch normalization after this layer whose input gradient this layer computes.
    private weak var normalization: BatchNormalization?
    func fuse(gradientOf norm: BatchNormalization) {
        precondition(path is any NormalizationGradientPath)
        normalization = norm
        norm.fuse(gradientInto: self)
    }

    /// Whether this layer can apply `norm`, the batch normalization before it (with the ReLU fused
    /// into that, if any), to its input as it reads it (`BatchNormalization.fuse(outputInto:)`):
    /// where its path can (`NormalizedInputPath`: Winograd's), on AVX-512, when the normalization
    /// does not pool.
    public func canApplyNormalization(of norm: BatchNormalization) -> Bool {
        VectorCode.best == .avx512 && path is any NormalizedInputPath && !norm.computesPooling
            && norm.outputShape == inputShape
    }
    /// The batch normalization before this layer that this layer applies to its input.
    private weak var inputNormalizer: BatchNormalization?
    func fuse(inputOf norm: BatchNormalization) {
        precondition(canApplyNormalization(of: norm))
        (path as! any NormalizedInputPath).normalizeInput()
        inputNormalizer = norm
        norm.fuse(outputInto: self)
    }
    /// Hands the path the normalization it applies, as the last forward of that layer left it.
    private func prepareInput() {
        guard let inputNormalizer, let path = path as? any NormalizedInputPath else { return }
        path.inputNormalization = inputNormalizer.appliedNormalization
    }

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
        weights = ConvolutionWeights(kernel: parameters[0], bias: config.useBias ? parameters[1] : nil,
                                     kernelGradient: gradients[0], biasGradient: config.useBias ? gradients[1] : nil)
    }

    /// The path's: its columns or transformed tiles, partial sums, the pooling's argmax.
    public var scratchPerSample: Int { path.scratchPerSample }
    public var scratchFixed: Int { path.scratchFixed }
    public func bind(scratch: FloatView) { path.bind(scratch: scratch) }

    // x: (N, H, W, C) → y = f(conv(x, K) + b): (N, OH, OW, F), or pooled (N, OH/2, OW/2, F).
    // With a normalization applied here, x is that normalization's input (its output's memory).
    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        prepareInput()
        path.forward(x, weights: weights!, activation: activation, into: y, batch: n, pool: context.pool)
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        prepareInput()
        if let normalization, let path = path as? any NormalizationGradientPath {
            // dy was never written: the batch normalization's input gradient is computed as it is read.
            path.backward(x: x, y: y, normalization: normalization.inputGradient!, dx: dx, weights: weights!,
                          activation: activation, batch: n, pool: context.pool)
            return
        }
        path.backward(x: x, y: y, dy: dy, dx: dx, weights: weights!, activation: activation, batch: n,
                      pool: context.pool)
    }
}
