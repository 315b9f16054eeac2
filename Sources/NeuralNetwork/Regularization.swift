// Weight penalties (Keras's `kernel_regularizer`): what a layer's configuration can hold, and the
// list of penalties a built model trains with. The trainer applies each penalty to one trainable
// tensor after backward: loss += λ·Σw², gradient += 2λ·w.
//
// A layer takes part in one of two ways:
//   * it conforms to `RegularizedLayer`, its Config holding `kernelRegularizer: Regularizer?`
//     (decoded from `kernel_regularizer`), and names its weight tensor "kernel";
//   * or it does nothing but name its weight tensor "kernel": the experiment's model builder then
//     reads `kernel_regularizer` from the layer's entry itself (this is how `dense` gets it).

/// Keras's regularizers; only L2 so far. YAML: `kernel_regularizer: {l2: 0.001}`, or `l2` alone
/// for Keras's default λ = 0.01.
public enum Regularizer: Sendable, Equatable, Codable {
    /// λ·Σw² (Keras `L2(l2=λ)`).
    case l2(Float)

    enum CodingKeys: String, CodingKey { case l2 }

    public init(from decoder: Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            guard name == "l2" else {
                throw ConfigError(codingPath: decoder.codingPath, message: "unknown regularizer '\(name)'",
                                  hint: Spelling.hint(for: name, among: ["l2"], kind: "regularizers")
                                      + " (written `l2` or `{l2: 0.01}`)")
            }
            self = .l2(0.01)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self = .l2(try c.decode(.l2, default: 0.01, expected: "a non-negative number") { (l: Float) in
            l >= 0 && l.isFinite
        })
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .l2(let lambda): try c.encode(lambda, forKey: .l2)
        }
    }
}

/// A layer whose configuration holds a `kernel_regularizer`. The penalty applies to the layer's
/// trainable tensor named "kernel".
public protocol RegularizedLayer: Layer {
    var kernelRegularizer: Regularizer? { get }
}

/// One penalty of a model: which tensor (layer name, tensor name as in `parameterSpecs`) and how.
public struct ParameterPenalty: Sendable, Equatable {
    public let layer: String
    public let parameter: String
    public let regularizer: Regularizer

    public init(layer: String, parameter: String = "kernel", regularizer: Regularizer) {
        self.layer = layer
        self.parameter = parameter
        self.regularizer = regularizer
    }

    /// The kernel penalties that `RegularizedLayer`s of `layers` hold, in layer order.
    public static func declared(by layers: [any Layer]) -> [ParameterPenalty] {
        layers.compactMap { layer in
            guard let regularized = layer as? any RegularizedLayer,
                  let regularizer = regularized.kernelRegularizer else { return nil }
            precondition(layer.hasKernel, "layer '\(layer.name)' has a kernel_regularizer but no 'kernel' tensor")
            return ParameterPenalty(layer: layer.name, regularizer: regularizer)
        }
    }
}

extension Layer {
    /// Whether the layer has a trainable tensor named "kernel" (what kernel_regularizer acts on).
    public var hasKernel: Bool { parameterSpecs.contains { $0.name == "kernel" && $0.trainable } }
}
