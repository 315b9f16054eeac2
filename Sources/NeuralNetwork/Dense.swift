// Dense (fully connected): y = f(x·W + b). Keras layout: kernel W is (inputs, units).
import Kernels

public final class Dense: ActivatedLayer {
    /// `- type: dense` parameters (Keras names and defaults).
    public struct Config: Codable, Sendable {
        /// Output features. Required.
        public var units: Int
        /// Applied to x·W + b: linear, relu, sigmoid, tanh, softmax.
        public var activation: Activation = .linear
        /// Whether to add the learned bias b.
        public var useBias: Bool = true
        /// How W starts: glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_*, caffe_*, zeros, ones.
        public var kernelInitializer: Initializer = .glorotUniform
        /// How b starts.
        public var biasInitializer: Initializer = .zeros

        enum CodingKeys: String, CodingKey {
            case units, activation
            case useBias = "use_bias"
            case kernelInitializer = "kernel_initializer"
            case biasInitializer = "bias_initializer"
        }

        public init(units: Int, activation: Activation = .linear) {
            self.units = units
            self.activation = activation
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            units = try c.decode(.units, expected: "a positive integer up to 16,777,216") { (u: Int) in
                u > 0 && u <= 1 << 24
            }
            activation = try c.decodeChoice(.activation, default: .linear)
            useBias = try c.decode(.useBias, default: true)
            kernelInitializer = try c.decodeChoice(.kernelInitializer, default: .glorotUniform)
            biasInitializer = try c.decodeChoice(.biasInitializer, default: .zeros)
        }
    }

    public let kind = "Dense"
    public var name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public private(set) var activation: Activation

    private let inputs: Int, units: Int
    private var kernel: FloatView?, bias: FloatView?, workspace: FloatView?
    private var kernelGradient: FloatView?, biasGradient: FloatView?

    public init(_ config: Config, inputShape: Shape, name: String = "dense") throws {
        guard inputShape.rank == 1 else {
            throw ModelError(layerIndex: nil,
                message: "dense expects a flat input (None, features), got \(inputShape)",
                hint: "add `- type: flatten` before this layer")
        }
        self.config = config
        self.name = name
        self.inputShape = inputShape
        inputs = inputShape.dims[0]
        units = config.units
        outputShape = Shape([config.units])
        activation = config.activation
    }

    public var configuredActivation: Activation { config.activation }
    public func detachActivation() { activation = .linear }

    public var parameterSpecs: [ParameterSpec] {
        var specs = [ParameterSpec(name: "kernel", shape: [inputs, units],
                                   initializer: config.kernelInitializer, fanIn: inputs, fanOut: units)]
        if config.useBias {
            specs.append(ParameterSpec(name: "bias", shape: [units], initializer: config.biasInitializer,
                                       fanIn: inputs, fanOut: units))
        }
        return specs
    }

    /// "gemm": the products in our own kernels (Sources/CKernels/gemm.c); "gemm-portable":
    /// OpenBLAS's, on a CPU without AVX2 and FMA; then "-dropout" when it applies the dropout
    /// layer after it (`fuse`).
    public var pathName: String? {
        (ProductKernel.best == .openBLAS ? "gemm-portable" : "gemm") + (dropout == nil ? "" : "-dropout")
    }

    /// The dropout layer after this one, when this layer applies it (`fuse`).
    private var dropout: Dropout?

    /// Whether this layer can apply `next`'s mask in its own pass: with a ReLU, whose backward
    /// can tell the kept elements by the dropout's output (see `activationBackward`).
    public func canFuse(_ next: Dropout) -> Bool { activation == .relu }

    /// Applies `next`'s mask in the bias-and-ReLU pass, and its gradient in the ReLU's backward:
    /// two passes over the batch's activations fewer each way, and no mask in memory. The output
    /// is then the dropout's (the model gives both layers one buffer); the same bits.
    public func fuse(_ next: Dropout) {
        precondition(canFuse(next))
        dropout = next
        next.markFused()
    }

    /// Workspace for the forward product's split inner dimension (see `gemm`).
    public var scratchPerSample: Int { gemmWorkspace(m: 1, n: units) }
    public func bind(scratch: FloatView) { workspace = scratch }

    /// Backward writes dW and db: the kernel gradient's zeroing and the product's read of it were
    /// two passes over the largest tensor of an MLP (mlp-512: 1.6 MB) every step.
    public var writesGradients: Bool { true }

    public func bind(parameters: [FloatView], gradients: [FloatView]) {
        kernel = parameters[0]
        kernelGradient = gradients[0]
        if config.useBias {
            bias = parameters[1]
            biasGradient = gradients[1]
        }
    }

    // x: (N, I) → y: (N, U)
    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        gemm(m: n, n: units, k: inputs, a: x, lda: inputs, b: kernel!, ldb: units,
             beta: 0, c: y, ldc: units, pool: context.pool, workspace: workspace)  // y = x·W
        biasActivationForward(y, rows: n, cols: units, bias: bias, activation: activation,
                              dropout: dropout?.draw(context), pool: context.pool)   // y = f(y + b) (⊙ mask)
    }

    /// The kernel: each part of dW, as soon as the product has it, is stepped by the thread that
    /// computed it, its gradient still in that core's cache (a separate pass reads all of dW again:
    /// mlp-512's 2.7 MB). dx reads W first.
    public var stepsFirstTensorInBackward: Bool { true }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        activationBackward(y: y, dy: dy, rows: n, cols: units, activation: activation, biasGradient: nil,
                           dropoutKeep: dropout?.draw(context)?.keep, pool: context.pool)  // dz = dy (⊙ mask) ⊙ f'(z)
        if let dx {
            gemm(transB: true, m: n, n: inputs, k: units, a: dy, lda: units, b: kernel!, ldb: units,
                 beta: 0, c: dx, ldc: inputs, pool: context.pool)             // dx = dz·Wᵀ
        }
        let units = units
        gemm(transA: true, m: inputs, n: units, k: n, a: x, lda: inputs, b: dy, ldb: units,
             beta: 0, c: kernelGradient!, ldc: units, pool: context.pool,
             afterChunk: context.firstTensorStep.map { step in { rows, cols in
                 if cols.count == units {
                     step(rows.lowerBound * units..<rows.upperBound * units)
                 } else {
                     for r in rows { step(r * units + cols.lowerBound..<r * units + cols.upperBound) }
                 }
             } })                                                            // dW = xᵀ·dz
        if let biasGradient {
            biasGradient.fill(0)
            accumulateColumnSums(dy, rows: n, cols: units, into: biasGradient, pool: context.pool)  // db = Σₙ dz
        }
    }
}
