// Pooling over (N, H, W, C) images: MaxPooling2D and AveragePooling2D (one class, two Keras
// names), and GlobalAveragePooling2D. Window rules: Sources/Kernels/Convolution.swift.
import Kernels

public final class Pooling2D: Layer {
    public enum Reduction: Sendable {
        /// The largest real element of each window (ties: the first in scan order).
        case max
        /// The mean of each window's real elements (padding is not counted, as in Keras).
        case average
    }

    /// `- type: max_pooling2d` / `average_pooling2d` parameters (Keras names and defaults).
    public struct Config: Codable, Sendable {
        /// Window size: `2` or `[ph, pw]`.
        public var poolSize = HeightWidth(2)
        /// Step between windows: `2` or `[sh, sw]`; defaults to `pool_size` (Keras's strides=None).
        public var strides = HeightWidth(2)
        /// `valid` (windows inside the image) or `same` (output = ⌈input/stride⌉).
        public var padding: Padding = .valid

        enum CodingKeys: String, CodingKey {
            case strides, padding
            case poolSize = "pool_size"
        }

        public init(poolSize: HeightWidth = HeightWidth(2), strides: HeightWidth? = nil, padding: Padding = .valid) {
            self.poolSize = poolSize
            self.strides = strides ?? poolSize
            self.padding = padding
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            poolSize = try c.decode(.poolSize, default: HeightWidth(2), expected: "positive (at most 65,536)") {
                (p: HeightWidth) in p.isPositive(upTo: maximumWindow)
            }
            strides = try c.decode(.strides, default: poolSize, expected: "positive (at most 65,536)") {
                (s: HeightWidth) in s.isPositive(upTo: maximumWindow)
            }
            padding = try c.decodeChoice(.padding, default: .valid)
        }
    }

    public var kind: String { reduction == .max ? "MaxPooling2D" : "AveragePooling2D" }
    public var name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public let config: Config
    public let reduction: Reduction
    public var configuration: any Encodable & Sendable { config }

    private let window: Window2D
    /// Max pooling: where each output came from (an Int32 per output, see `maxPoolForward`).
    private var argmax: FloatView?

    public init(_ reduction: Reduction, _ config: Config, inputShape: Shape, name: String? = nil) throws {
        let type = reduction == .max ? "max_pooling2d" : "average_pooling2d"
        window = try imageWindow(type, input: inputShape, window: config.poolSize, strides: config.strides,
                                 padding: config.padding, what: "pool")
        self.reduction = reduction
        self.config = config
        self.name = name ?? type
        self.inputShape = inputShape
        outputShape = Shape([window.outHeight, window.outWidth, window.channels])
    }

    /// True when the layer before computes the pooling — a convolution (`Conv2D.fuse`), or a batch
    /// normalization two layers before, through its fused ReLU (`BatchNormalization.fuse(pool:)`):
    /// this layer's output is then that layer's output memory, and its passes do nothing.
    public private(set) var fusedIntoPrevious = false
    public var aliasesInput: Bool { fusedIntoPrevious }
    /// Whether a convolution may compute this layer: 2×2 max pooling, stride 2, valid.
    public var isFusable: Bool {
        reduction == .max && window.kernelHeight == 2 && window.kernelWidth == 2 && window.strideHeight == 2
            && window.strideWidth == 2 && config.padding == .valid
    }
    func markFused() {
        precondition(isFusable)
        fusedIntoPrevious = true
    }

    public var scratchPerSample: Int { reduction == .max && !fusedIntoPrevious ? outputShape.count : 0 }
    public func bind(scratch: FloatView) { argmax = scratch }

    // x: (N, H, W, C) → y: (N, OH, OW, C)
    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        if fusedIntoPrevious { return }
        switch reduction {
        case .max: maxPoolForward(x: x, y: y, argmax: argmax!, window: window, batch: n, pool: context.pool)
        case .average: averagePoolForward(x: x, y: y, window: window, batch: n, pool: context.pool)
        }
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        guard let dx, !fusedIntoPrevious else { return }
        switch reduction {
        case .max: maxPoolBackward(dy: dy, argmax: argmax!, dx: dx, window: window, batch: n, pool: context.pool)
        case .average: averagePoolBackward(dy: dy, dx: dx, window: window, batch: n, pool: context.pool)
        }
    }
}

public final class GlobalAveragePooling2D: Layer {
    /// `- type: global_average_pooling2d` takes no parameters.
    public struct Config: Codable, Sendable {
        public init() {}
        public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: NoKeys.self) }
        enum NoKeys: CodingKey {}
    }

    public let kind = "GlobalAveragePooling2D"
    public var name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var configuration: any Encodable & Sendable { Config() }

    public init(inputShape: Shape, name: String = "global_average_pooling2d") throws {
        // The 1×1 window only checks the rank (and builds the hint); it always fits.
        _ = try imageWindow("global_average_pooling2d", input: inputShape, window: HeightWidth(1),
                            strides: HeightWidth(1), padding: .valid, what: "pool")
        self.name = name
        self.inputShape = inputShape
        outputShape = Shape([inputShape.dims[2]])
    }

    // x: (N, H, W, C) → y: (N, C), the mean over H·W
    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        globalAveragePoolForward(x: x, y: y, positions: inputShape.dims[0] * inputShape.dims[1],
                                 channels: inputShape.dims[2], batch: n, pool: context.pool)
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        guard let dx else { return }
        globalAveragePoolBackward(dy: dy, dx: dx, positions: inputShape.dims[0] * inputShape.dims[1],
                                  channels: inputShape.dims[2], batch: n, pool: context.pool)
    }
}
