// Losses. Both cross-entropies work on logits: when the model ends in softmax (the Keras way,
// from_logits: false), the model hands its logits over and the softmax happens inside the loss,
// in one stable step; when from_logits is true, the model's output already is logits.
import Kernels

/// How the targets of a batch are laid out for a loss.
public enum TargetEncoding: String, Sendable, Codable {
    /// (N, classes) probability rows, e.g. one-hot vectors.
    case oneHot = "one_hot"
    /// (N) class indices.
    case sparse
}

public protocol Loss: Sendable {
    /// The registry name ("categorical_crossentropy").
    var name: String { get }
    /// The loss's parameters after defaults, for the resolved experiment.
    var configuration: any Encodable & Sendable { get }
    var targetEncoding: TargetEncoding { get }
    /// True when the model is expected to end in softmax, which the loss then takes over.
    var expectsProbabilities: Bool { get }

    /// For each of the `batch` rows: probabilities, the per-sample loss and, when `gradient` is
    /// given, dL/dlogits of the batch's *mean* loss.
    func evaluate(logits: FloatView, targets: FloatView, batch: Int, classes: Int,
                  probabilities: FloatView, losses: FloatView, gradient: FloatView?)
}

/// categorical_crossentropy (one-hot targets) and sparse_categorical_crossentropy (integer targets).
public struct CrossEntropy: Loss {
    /// Loss parameters (Keras names).
    public struct Config: Codable, Sendable {
        /// True when the model outputs raw scores instead of ending in softmax.
        public var fromLogits: Bool = false
        /// ε: the targets become (1 − ε)·t + ε/K (Keras's categorical label_smoothing; Keras 3's
        /// sparse loss has none, PyTorch's CrossEntropyLoss applies the same formula to labels).
        public var labelSmoothing: Float = 0
        enum CodingKeys: String, CodingKey { case fromLogits = "from_logits", labelSmoothing = "label_smoothing" }
        public init(fromLogits: Bool = false, labelSmoothing: Float = 0) {
            self.fromLogits = fromLogits
            self.labelSmoothing = labelSmoothing
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            fromLogits = try c.decode(.fromLogits, default: false)
            labelSmoothing = try c.decode(.labelSmoothing, default: 0, expected: "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        }
    }

    public let name: String
    public let config: Config
    public let targetEncoding: TargetEncoding
    public var configuration: any Encodable & Sendable { config }
    public var expectsProbabilities: Bool { !config.fromLogits }

    public init(sparse: Bool, config: Config = Config()) {
        name = sparse ? "sparse_categorical_crossentropy" : "categorical_crossentropy"
        targetEncoding = sparse ? .sparse : .oneHot
        self.config = config
    }

    // L = (1/N) Σₙ −Σ_c t'ₙc log softmax(zₙ)_c;  dL/dzₙ = (softmax(zₙ) − t'ₙ) / N,
    // t' = (1 − ε)·t + ε/K (t' = t without label smoothing)
    public func evaluate(logits: FloatView, targets: FloatView, batch: Int, classes: Int,
                         probabilities: FloatView, losses: FloatView, gradient: FloatView?) {
        softmaxCrossEntropy(logits: logits,
                            targets: targetEncoding == .sparse ? .labels(targets) : .distributions(targets),
                            rows: batch, cols: classes, probabilities: probabilities, losses: losses,
                            gradient: gradient, gradientScale: 1 / Float(batch), labelSmoothing: config.labelSmoothing)
    }
}

/// The losses an experiment file can name.
public enum Losses {
    public typealias Constructor = @Sendable (Decoder) throws -> any Loss
    public static let registry: Registry<Constructor> = {
        var r = Registry<Constructor>(kind: "loss")
        r.register("categorical_crossentropy") { CrossEntropy(sparse: false, config: try .init(from: $0)) }
        r.register("sparse_categorical_crossentropy") { CrossEntropy(sparse: true, config: try .init(from: $0)) }
        return r
    }()
}
