// A standalone activation (Keras's `Activation` layer): y = f(x), same shape.
import Kernels

public final class ActivationLayer: ActivatedLayer {
    /// `- type: activation` parameters.
    public struct Config: Codable, Sendable {
        /// linear, relu, sigmoid, tanh, softmax (softmax along the last axis). Required.
        public var activation: Activation
        public init(activation: Activation) { self.activation = activation }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            activation = try c.decodeChoice(.activation, default: nil)
        }
    }

    public let kind = "Activation"
    public var name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    private var activation: Activation
    /// Softmax is taken along the last axis; other activations don't care about rows.
    private let rowLength: Int

    public init(_ config: Config, inputShape: Shape, name: String = "activation") {
        self.config = config
        self.name = name
        self.inputShape = inputShape
        activation = config.activation
        rowLength = inputShape.dims.last ?? 1
    }

    public var configuredActivation: Activation { config.activation }
    public func detachActivation() { activation = .linear }

    /// True when the batch normalization before this layer applies the activation
    /// (`BatchNormalization.fuse`): this layer's output is then that layer's output memory, and
    /// its passes do nothing.
    public private(set) var fusedIntoPrevious = false
    public var aliasesInput: Bool { fusedIntoPrevious }
    func markFused() {
        precondition(activation == .relu)
        fusedIntoPrevious = true
    }

    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        if fusedIntoPrevious { return }
        let count = n * inputShape.count
        y.slice(0, count).copy(from: x.slice(0, count))
        activation.forward(y, rows: count / rowLength, cols: rowLength)
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        guard let dx, !fusedIntoPrevious else { return }
        let count = n * inputShape.count
        activation.backward(y: y, dy: dy, rows: count / rowLength, cols: rowLength)
        dx.slice(0, count).copy(from: dy.slice(0, count))
    }
}
