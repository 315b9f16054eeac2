// What every optimizer shares, whatever its rule: Keras 3's gradient clipping (`clipnorm`,
// `global_clipnorm`, `clipvalue`) and the layout of the flat parameter vector — where each
// trainable tensor sits and its learning-rate multiplier (a layer's `kernel_lr_multiplier` /
// `bias_lr_multiplier`, Caffe's `lr_mult`). A step clips the gradients, then applies the
// optimizer's rule to each run of consecutive tensors that share a multiplier, at the step's rate
// times that multiplier. With no clipping and every multiplier 1 (the default) the rule sees the
// whole vector at once, exactly as before these options existed.
import Kernels
import NeuralNetwork

/// Keras 3's gradient clipping options (Keras allows one at most). Applied to the gradients —
/// penalties included — before the optimizer's rule and its weight decay.
public struct GradientClipping: Codable, Sendable, Equatable {
    /// Each tensor's gradient separately: g ← g·c / max(‖g‖₂, c).
    public var clipnorm: Float?
    /// All gradients together: g ← g·c / max(‖G‖₂, c), ‖G‖₂ = √(Σ over tensors of ‖g‖₂²).
    public var globalClipnorm: Float?
    /// Each gradient element: g ← min(max(g, −v), v).
    public var clipvalue: Float?

    enum CodingKeys: String, CodingKey { case clipnorm, globalClipnorm = "global_clipnorm", clipvalue }

    public init(clipnorm: Float? = nil, globalClipnorm: Float? = nil, clipvalue: Float? = nil) {
        self.clipnorm = clipnorm
        self.globalClipnorm = globalClipnorm
        self.clipvalue = clipvalue
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func limit(_ key: CodingKeys) throws -> Float? {
            guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
            return try c.decode(key, expected: "a positive number") { (v: Float) in v > 0 && v.isFinite }
        }
        clipnorm = try limit(.clipnorm)
        globalClipnorm = try limit(.globalClipnorm)
        clipvalue = try limit(.clipvalue)
        let given = CodingKeys.allCases.filter { key in
            switch key {
            case .clipnorm: clipnorm != nil
            case .globalClipnorm: globalClipnorm != nil
            case .clipvalue: clipvalue != nil
            }
        }
        if given.count > 1 {
            throw ConfigError(codingPath: c.codingPath + [given[1]],
                              message: "give one of 'clipnorm', 'global_clipnorm' and 'clipvalue', not "
                                  + given.map { "'\($0.stringValue)'" }.joined(separator: " and "),
                              hint: "Keras 3 refuses more than one clipping option")
        }
    }

    /// Every key, null when not set (as Keras's get_config shows them).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clipnorm, forKey: .clipnorm)
        try c.encode(globalClipnorm, forKey: .globalClipnorm)
        try c.encode(clipvalue, forKey: .clipvalue)
    }

    public var isNone: Bool { clipnorm == nil && globalClipnorm == nil && clipvalue == nil }
}

extension GradientClipping.CodingKeys: CaseIterable {}

/// One trainable tensor of the flat parameter vector, as the optimizer sees it.
public struct TrainableTensor: Sendable, Equatable {
    /// Where it sits in the flat vector.
    public let range: Range<Int>
    /// Its rate is the step's rate times this.
    public let learningRateMultiplier: Float

    public init(range: Range<Int>, learningRateMultiplier: Float = 1) {
        self.range = range
        self.learningRateMultiplier = learningRateMultiplier
    }
}

extension Sequential {
    /// The trainable tensors in `parameters` order, with their learning-rate multipliers.
    public var trainableTensors: [TrainableTensor] {
        parameterTable.filter(\.trainable).map {
            TrainableTensor(range: $0.offset..<($0.offset + $0.count), learningRateMultiplier: $0.learningRateMultiplier)
        }
    }
}

/// An optimizer's clipping and the layout of the vector it updates (laid out once, when training
/// starts): the shared half of every step.
public final class UpdatePlan {
    public let clipping: GradientClipping
    /// Maximal runs of consecutive tensors with the same rate multiplier, in order.
    public private(set) var runs: [(range: Range<Int>, multiplier: Float)] = []
    private var norms: TensorNorms?

    public init(clipping: GradientClipping = GradientClipping()) { self.clipping = clipping }

    /// Lays the plan out for `tensors` (contiguous, from 0); returns the parameter count.
    @discardableResult
    func layout(_ tensors: [TrainableTensor]) -> Int {
        var runs: [(range: Range<Int>, multiplier: Float)] = []
        var end = 0
        for tensor in tensors {
            precondition(tensor.range.lowerBound == end, "trainable tensors must tile the vector from 0")
            if let last = runs.last, last.multiplier == tensor.learningRateMultiplier {
                runs[runs.count - 1].range = last.range.lowerBound..<tensor.range.upperBound
            } else {
                runs.append((tensor.range, tensor.learningRateMultiplier))
            }
            end = tensor.range.upperBound
        }
        self.runs = runs
        if clipping.clipnorm != nil || clipping.globalClipnorm != nil {
            norms = TensorNorms(tensors: tensors.map(\.range))
        }
        return end
    }

    /// Clips `gradients` in place as configured (nothing when no option is set).
    func clip(_ gradients: FloatView, pool: ThreadPool?) {
        if let c = clipping.clipvalue {
            clamp(gradients, limit: c, pool: pool)                          // g ← min(max(g, −v), v)
            return
        }
        guard let norms else { return }
        norms.measure(gradients, pool: pool)
        if let c = clipping.clipnorm {
            for (t, range) in norms.tensors.enumerated() {
                let norm = norms.squaredNorm(t).squareRoot()
                if norm > Double(c) {
                    scale(gradients[range], by: Float(Double(c) / norm), pool: pool)  // g ← g·c/‖g‖
                }
            }
        } else if let c = clipping.globalClipnorm {
            let norm = norms.totalSquaredNorm.squareRoot()
            // Keras: a non-finite global norm makes every gradient NaN.
            if !norm.isFinite {
                scale(gradients, by: .nan, pool: pool)
            } else if norm > Double(c) {
                scale(gradients, by: Float(Double(c) / norm), pool: pool)          // g ← g·c/‖G‖
            }
        }
    }
}
