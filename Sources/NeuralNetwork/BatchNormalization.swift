// Batch normalization (Keras `BatchNormalization`, axis −1): each channel of the last axis is
// normalised over every other axis — over N for (N, F), over N·H·W for (N, H, W, C), any rank.
//
// Variance convention: the biased one (÷ M) everywhere, for normalising and for moving_variance,
// as Keras 3 (`keras/src/layers/normalization/batch_normalization.py` blends the variance of
// `ops.moments`, which is biased). PyTorch blends the unbiased one (÷ (M − 1)) instead.
//
// The moving statistics change in training-mode forward passes only — never in backward, in
// evaluation or in inference — so a checkpoint taken between steps holds them exactly as the next
// step will read them, and resuming from it continues the same averages.
import Kernels

/// Training mode: y = γ·(x − μ)/√(σ² + ε) + β with the batch's per-channel mean μ and biased
/// variance σ², then moving_mean ← m·moving_mean + (1 − m)·μ and moving_variance ← m·moving_variance
/// + (1 − m)·σ² (m = momentum). Inference mode: the same y with moving_mean and moving_variance.
public final class BatchNormalization: Layer {
    /// `- type: batch_normalization` parameters (Keras names and defaults; the axis is the last).
    public struct Config: Codable, Sendable {
        /// Weight of the old value in the moving averages, in [0, 1).
        public var momentum: Float = 0.99
        /// Added to the variance before its square root, > 0.
        public var epsilon: Float = 1e-3
        /// Whether to learn the offset β (otherwise β = 0).
        public var center = true
        /// Whether to learn the scale γ (otherwise γ = 1).
        public var scale = true
        /// How β starts.
        public var betaInitializer: Initializer = .zeros
        /// How γ starts.
        public var gammaInitializer: Initializer = .ones
        /// How the moving mean starts.
        public var movingMeanInitializer: Initializer = .zeros
        /// How the moving variance starts.
        public var movingVarianceInitializer: Initializer = .ones

        enum CodingKeys: String, CodingKey {
            case momentum, epsilon, center, scale
            case betaInitializer = "beta_initializer"
            case gammaInitializer = "gamma_initializer"
            case movingMeanInitializer = "moving_mean_initializer"
            case movingVarianceInitializer = "moving_variance_initializer"
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            momentum = try c.decode(.momentum, default: 0.99, expected: "in [0, 1)") { (m: Float) in
                m >= 0 && m < 1
            }
            epsilon = try c.decode(.epsilon, default: 1e-3, expected: "a positive number") { (e: Float) in
                e > 0 && e.isFinite
            }
            center = try c.decode(.center, default: true)
            scale = try c.decode(.scale, default: true)
            betaInitializer = try c.decodeChoice(.betaInitializer, default: .zeros)
            gammaInitializer = try c.decodeChoice(.gammaInitializer, default: .ones)
            movingMeanInitializer = try c.decodeChoice(.movingMeanInitializer, default: .zeros)
            movingVarianceInitializer = try c.decodeChoice(.movingVarianceInitializer, default: .ones)
        }
    }

    public let kind = "BatchNormalization"
    public var name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public let config: Config
    public var configuration: any Encodable & Sendable { config }

    /// C: the last axis. Each sample holds `positions` rows of C values (H·W for images, 1 for vectors).
    private let channels: Int, positions: Int
    private var gamma: FloatView?, beta: FloatView?
    private var gammaGradient: FloatView?, betaGradient: FloatView?
    private var movingMean: FloatView?, movingVariance: FloatView?
    /// μ and 1/√(σ² + ε) of the last forward pass (the backward pass needs them) and backward's
    /// per-channel sums, in the layer's scratch.
    private var scratch: BatchNormScratch?

    public init(_ config: Config, inputShape: Shape, name: String = "batch_normalization") throws {
        guard let last = inputShape.dims.last, inputShape.dims.allSatisfy({ $0 > 0 }) else {
            throw ModelError(layerIndex: nil,
                message: "batch_normalization needs an input with a non-empty last axis, got \(inputShape)")
        }
        self.config = config
        self.name = name
        self.inputShape = inputShape
        channels = last
        positions = inputShape.count / last
    }

    /// Keras's order: gamma, beta, moving_mean, moving_variance.
    public var parameterSpecs: [ParameterSpec] {
        let c = channels
        var specs: [ParameterSpec] = []
        if config.scale {
            specs.append(ParameterSpec(name: "gamma", shape: [c], initializer: config.gammaInitializer,
                                       fanIn: c, fanOut: c))
        }
        if config.center {
            specs.append(ParameterSpec(name: "beta", shape: [c], initializer: config.betaInitializer,
                                       fanIn: c, fanOut: c))
        }
        specs.append(ParameterSpec(name: "moving_mean", shape: [c], initializer: config.movingMeanInitializer,
                                   fanIn: c, fanOut: c, trainable: false))
        specs.append(ParameterSpec(name: "moving_variance", shape: [c],
                                   initializer: config.movingVarianceInitializer, fanIn: c, fanOut: c,
                                   trainable: false))
        return specs
    }

    public func bind(parameters: [FloatView], gradients: [FloatView]) {
        var i = 0
        if config.scale {
            gamma = parameters[i]
            gammaGradient = gradients[i]
            i += 1
        }
        if config.center {
            beta = parameters[i]
            betaGradient = gradients[i]
            i += 1
        }
        movingMean = parameters[i]
        movingVariance = parameters[i + 1]
    }

    /// Whether the ReLU of the activation layer after this one runs here (`fuse`): y = max(0, ·)
    /// as it is stored, dy taken where y > 0 — the same bits as the two layers, one pass less.
    public private(set) var appliesReLU = false
    /// Whether `activation` (the next layer) can run inside this one: a ReLU of the same shape.
    public func canFuse(_ activation: ActivationLayer) -> Bool {
        activation.configuredActivation == .relu && activation.inputShape == outputShape
    }
    /// Makes this layer apply the activation after it (before the model allocates memory).
    func fuse(_ activation: ActivationLayer) {
        precondition(canFuse(activation))
        appliesReLU = true
    }

    /// Whether the 2×2 max pooling after the fused ReLU runs here too (`fuse(pool:)`): the layer
    /// writes the pooled output and the pooling's argmax, and its backward takes the pooled
    /// gradient — the same bits as the three layers, without the full-size output in memory.
    public private(set) var computesPooling = false
    /// Whether `pool` (the layer after the fused ReLU) can run inside this one: 2×2 max pooling
    /// with stride 2 over (H, W, C) images, on a CPU with AVX-512 (the kernels are
    /// batch_norm.c's).
    public func canFuse(pool: Pooling2D) -> Bool {
        appliesReLU && pool.isFusable && pool.inputShape == outputShape && inputShape.dims.count == 3
            && VectorCode.best == .avx512
    }
    /// Makes this layer compute the pooling as well (before the model allocates memory).
    func fuse(pool: Pooling2D) {
        precondition(canFuse(pool: pool))
        computesPooling = true
        pooledCount = pool.outputShape.count
    }
    /// Whether the convolution before this layer computes this layer's input gradient where it
    /// reads it (`fuse(gradientInto:)`): the backward then leaves dx unwritten and hands that
    /// layer `inputGradient` instead — the same values, one pass over memory fewer.
    public private(set) var inputGradientInPrevious = false
    /// Makes `conv` (the layer before) compute this layer's input gradient (before the model
    /// allocates memory): where its path can (`Conv2D.canTakeGradient`), on AVX-512.
    func fuse(gradientInto conv: Conv2D) {
        precondition(VectorCode.best == .avx512 && conv.outputShape == inputShape && inputShape.dims.count == 3)
        inputGradientInPrevious = true
    }
    /// The input gradient of the last backward, for the layer before (with `inputGradientInPrevious`).
    public private(set) var inputGradient: BatchNormGradient?

    /// Whether the convolution after this layer (after the fused ReLU, if any) applies this
    /// normalization to its input as it reads it (`fuse(outputInto:)`): the forward then computes
    /// the statistics and k = γ·s, β only, and writes no y — the layer's output is its input's
    /// memory, which the convolution reads (`Conv2D.canApplyNormalization(of:)`).
    public private(set) var outputInNext = false
    /// Makes `conv` (the layer after, or after the fused ReLU) apply this normalization (before
    /// the model allocates memory). Not with the pooling inside; AVX-512 only.
    func fuse(outputInto conv: Conv2D) {
        precondition(!computesPooling && VectorCode.best == .avx512 && conv.inputShape == outputShape)
        outputInNext = true
    }
    /// The normalization the convolution after applies (with `outputInNext`), from this layer's
    /// scratch as its last forward left it.
    public var appliedNormalization: InputNormalization {
        InputNormalization(scratch: scratch!, channels: channels, relu: appliesReLU)
    }

    /// What runs, for reports: "normalize", "normalize-relu" (the ReLU after it inside) or
    /// "normalize-relu-pooled" (the 2×2 max pooling too); "-portable" where the passes are the
    /// Swift loops (no AVX-512); then "-dx-in-conv" when the convolution before computes its dx,
    /// "-y-in-conv" when the convolution after applies it.
    public var pathName: String? {
        let base = computesPooling ? "normalize-relu-pooled" : appliesReLU ? "normalize-relu" : "normalize"
        guard VectorCode.best == .avx512 else { return base + "-portable" }
        return base + (inputGradientInPrevious ? "-dx-in-conv" : "") + (outputInNext ? "-y-in-conv" : "")
    }

    /// The pooled output's floats per sample (and its argmax's), with the pooling.
    private var pooledCount = 0
    private var argmax: FloatView?

    /// A few per-channel vectors. They are needed once per batch, not per sample, but the model
    /// sizes scratch per sample, so a batch of one must already hold them. With the pooling, its
    /// argmax per sample.
    /// The pooling's argmax per sample; the statistics and the row blocks' sums are fixed.
    public var scratchPerSample: Int { pooledCount }
    public var scratchFixed: Int { BatchNormScratch.count(channels: channels) }
    public func bind(scratch: FloatView) {
        let count = BatchNormScratch.count(channels: channels), perSample = scratch.count - count
        self.scratch = BatchNormScratch(scratch.slice(perSample, count), channels: channels)
        if computesPooling { argmax = scratch.slice(0, perSample) }
    }

    private var pooling: BatchNormPooling? {
        computesPooling ? BatchNormPooling(height: inputShape.dims[0], width: inputShape.dims[1], argmax: argmax!) : nil
    }

    // x: (N, …, C) → y: (N, …, C), seen as (M, C) with M = N · positions
    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        if context.training {
            // y = γ·(x − μ)/√(σ² + ε) + β with this batch's μ, σ²; the moving statistics are
            // blended here, and only here.
            batchNormTrainingForward(x: x, y: y, rows: n * positions, channels: channels,
                                     epsilon: config.epsilon, momentum: config.momentum, gamma: gamma,
                                     beta: beta, movingMean: movingMean!, movingVariance: movingVariance!,
                                     scratch: scratch!, relu: appliesReLU, pooling: pooling,
                                     writesOutput: !outputInNext, pool: context.pool)
        } else {
            // The same with the moving statistics for μ, σ².
            batchNormInferenceForward(x: x, y: y, rows: n * positions, channels: channels,
                                      epsilon: config.epsilon, gamma: gamma, beta: beta,
                                      movingMean: movingMean!, movingVariance: movingVariance!,
                                      scratch: scratch!, relu: appliesReLU, pooling: pooling,
                                      writesOutput: !outputInNext, pool: context.pool)
        }
    }

    /// Must follow the forward pass of the same batch in the same mode (it reuses that pass's μ, σ²).
    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        batchNormBackward(x: x, dy: dy, dx: inputGradientInPrevious ? nil : dx, rows: n * positions,
                          channels: channels, gamma: gamma, gammaGradient: gammaGradient, betaGradient: betaGradient,
                          batchStatistics: context.training, scratch: scratch!, relu: appliesReLU ? y : nil,
                          pooling: pooling, pool: context.pool)
        if inputGradientInPrevious {
            inputGradient = BatchNormGradient(x: x, dy: dy, channels: channels, batchStatistics: context.training,
                                              scratch: scratch!, relu: appliesReLU, pooling: pooling)
        }
    }
}
