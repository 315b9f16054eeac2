// Optimizers, simplest first: SGD (momentum, Nesterov), RMSprop, Adam, AdamW here; Adadelta,
// Adagrad, Adamax and Nadam in AdaptiveOptimizers.swift. Names, parameters and defaults are
// Keras's; the update rules themselves are in Kernels/OptimizerKernels.swift, one commented line
// per step. Every optimizer takes Keras 3's `weight_decay` (decoupled, applied to all trainable
// tensors before the step: w ← w − lr·λ·w; AdamW is Adam with a default of 0.004) and its
// gradient clipping (`clipnorm`, `global_clipnorm`, `clipvalue`: UpdatePlan.swift).
import Kernels
import NeuralNetwork

public protocol Optimizer: AnyObject {
    /// The registry name ("adam").
    var name: String { get }
    /// Parameters after defaults (clipping options included), for the resolved experiment.
    var configuration: any Encodable & Sendable { get }
    /// The configured (base) learning rate; schedules scale it per step.
    var learningRate: Float { get }
    /// Clipping and the layout of the parameter vector: the part of a step all optimizers share.
    var plan: UpdatePlan { get }
    /// The key a schedule's momentum replaces step by step (one_cycle: SGD's and RMSprop's
    /// `momentum`, the Adam family's `beta_1`); nil when the optimizer has none to replace.
    var momentumKey: String? { get }
    /// Allocates per-parameter state for `count` parameters (once, when training starts).
    func allocate(parameterCount count: Int)
    /// Per-step bookkeeping before `apply` runs on the step's ranges (Nadam's momentum product).
    func beginStep(_ step: Int, momentum: Float?)
    /// The optimizer's rule on the elements `range` of the flat vectors, at `learningRate`, with
    /// `momentum` (when a schedule sets it) in place of the configured momentum or β₁.
    /// `step` counts from 1.
    func apply(_ range: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int,
               learningRate: Float, momentum: Float?, pool: ThreadPool?)
    /// Named state tensors (moments, velocities) for checkpoints.
    var state: [(name: String, values: FloatStorage)] { get }
    /// Values of state per parameter: how many parameter-sized tensors `state` holds once
    /// prepared (a scalar such as Nadam's momentum product does not count). Known from the
    /// configuration alone, for the model builder's memory check.
    var statePerParameter: Int { get }
    /// Whether `apply` may run on parts of the vector during the backward pass (the trainer's
    /// `stepsOptimizerDuringBackward`) and on the rest after it: true (the default) unless clipping is
    /// configured, which needs every gradient first. A rule must then be element by element —
    /// every rule here is — so the parts cannot change a bit.
    var stepsDuringBackward: Bool { get }
}

extension Optimizer {
    public var momentumKey: String? { nil }
    public func beginStep(_ step: Int, momentum: Float?) {}

    /// Lays out the tensors and allocates the state (once, when training starts).
    public func prepare(tensors: [TrainableTensor]) { allocate(parameterCount: plan.layout(tensors)) }

    /// `prepare` for one tensor of `count` parameters.
    public func prepare(parameterCount count: Int) { prepare(tensors: [TrainableTensor(range: 0..<count)]) }

    /// One update of all parameters from their gradients: clipping (which rewrites `gradients`),
    /// then the rule on each run of tensors at `learningRate` × the run's multiplier.
    public func update(parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                       momentum: Float? = nil, pool: ThreadPool?) {
        plan.clip(gradients, pool: pool)
        beginStep(step, momentum: momentum)
        applyRuns(parameters: parameters, gradients: gradients, step: step, learningRate: learningRate,
                  momentum: momentum, except: [], pool: pool)
    }

    public var stepsDuringBackward: Bool { plan.clipping.isNone }

    /// The rule on every run of the plan at `learningRate` × the run's multiplier, leaving out
    /// the ranges `excluded` (stepped already: ascending, disjoint).
    public func applyRuns(parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                          momentum: Float?, except excluded: [Range<Int>], pool: ThreadPool?) {
        for run in plan.runs {
            var start = run.range.lowerBound
            for cut in excluded where cut.overlaps(run.range) {
                if cut.lowerBound > start {
                    apply(start..<cut.lowerBound, parameters: parameters, gradients: gradients, step: step,
                          learningRate: learningRate * run.multiplier, momentum: momentum, pool: pool)
                }
                start = max(start, cut.upperBound)
            }
            if start < run.range.upperBound {
                apply(start..<run.range.upperBound, parameters: parameters, gradients: gradients, step: step,
                      learningRate: learningRate * run.multiplier, momentum: momentum, pool: pool)
            }
        }
    }
}

/// An optimizer's own parameters, then the clipping options, in one mapping.
struct OptimizerConfiguration<Config: Encodable & Sendable>: Encodable, Sendable {
    let config: Config
    let clipping: GradientClipping
    func encode(to encoder: Encoder) throws {
        try config.encode(to: encoder)
        try clipping.encode(to: encoder)
    }
}

public final class SGD: Optimizer {
    public struct Config: Codable, Sendable {
        /// Step size.
        public var learningRate: Float = 0.01
        /// Velocity decay μ; 0 is plain SGD.
        public var momentum: Float = 0
        /// Nesterov momentum (looks ahead along the velocity).
        public var nesterov: Bool = false
        /// Decoupled weight decay λ; 0 is none.
        public var weightDecay: Float = 0
        enum CodingKeys: String, CodingKey {
            case learningRate = "learning_rate", momentum, nesterov, weightDecay = "weight_decay"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decode(.learningRate, default: 0.01, expected: "a positive number") { $0 > 0 }
            momentum = try c.decode(.momentum, default: 0, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            nesterov = try c.decode(.nesterov, default: false)
            weightDecay = try c.decodeWeightDecay(.weightDecay, default: 0)
        }
    }
    public let name = "sgd"
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.learningRate }
    public var momentumKey: String? { config.momentum > 0 ? "momentum" : nil }
    private var velocity: FloatStorage?
    public init(_ config: Config, clipping: GradientClipping = GradientClipping()) {
        self.config = config
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        if config.momentum > 0 { velocity = FloatStorage(count: count) }
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        precondition(momentum == nil || velocity != nil, "a scheduled momentum needs sgd's velocity (momentum > 0)")
        sgdUpdate(parameters: parameters[r], gradients: gradients[r], velocity: velocity?.view[r],
                  learningRate: learningRate, momentum: momentum ?? config.momentum, nesterov: config.nesterov,
                  weightDecay: config.weightDecay, pool: pool)
    }
    public var state: [(name: String, values: FloatStorage)] { velocity.map { [("velocity", $0)] } ?? [] }
    public var statePerParameter: Int { config.momentum > 0 ? 1 : 0 }
}

public final class RMSprop: Optimizer {
    public struct Config: Codable, Sendable {
        /// Step size.
        public var learningRate: Float = 0.001
        /// Decay of the running mean of squared gradients.
        public var rho: Float = 0.9
        /// Momentum on the scaled step; 0 disables it.
        public var momentum: Float = 0
        /// Added under the square root for stability.
        public var epsilon: Float = 1e-7
        /// Divide by the gradient's variance rather than its second moment.
        public var centered: Bool = false
        /// Decoupled weight decay λ; 0 is none.
        public var weightDecay: Float = 0
        enum CodingKeys: String, CodingKey {
            case learningRate = "learning_rate", rho, momentum, epsilon, centered, weightDecay = "weight_decay"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decode(.learningRate, default: 0.001, expected: "a positive number") { $0 > 0 }
            rho = try c.decode(.rho, default: 0.9, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            momentum = try c.decode(.momentum, default: 0, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            epsilon = try c.decode(.epsilon, default: 1e-7, expected: "a positive number") { $0 > 0 }
            centered = try c.decode(.centered, default: false)
            weightDecay = try c.decodeWeightDecay(.weightDecay, default: 0)
        }
    }
    public let name = "rmsprop"
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.learningRate }
    public var momentumKey: String? { config.momentum > 0 ? "momentum" : nil }
    private var meanSquare: FloatStorage?, meanGradient: FloatStorage?, velocity: FloatStorage?
    public init(_ config: Config, clipping: GradientClipping = GradientClipping()) {
        self.config = config
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        meanSquare = FloatStorage(count: count)
        if config.centered { meanGradient = FloatStorage(count: count) }
        if config.momentum > 0 { velocity = FloatStorage(count: count) }
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        precondition(momentum == nil || velocity != nil, "a scheduled momentum needs rmsprop's velocity (momentum > 0)")
        rmspropUpdate(parameters: parameters[r], gradients: gradients[r], meanSquare: meanSquare!.view[r],
                      meanGradient: meanGradient?.view[r], velocity: velocity?.view[r], learningRate: learningRate,
                      rho: config.rho, momentum: momentum ?? config.momentum, epsilon: config.epsilon,
                      weightDecay: config.weightDecay, pool: pool)
    }
    public var state: [(name: String, values: FloatStorage)] {
        [("mean_square", meanSquare), ("mean_gradient", meanGradient), ("velocity", velocity)]
            .compactMap { name, s in s.map { (name, $0) } }
    }
    public var statePerParameter: Int { 1 + (config.centered ? 1 : 0) + (config.momentum > 0 ? 1 : 0) }
}

/// Adam, and AdamW (the same rule, registered with a default weight decay of 0.004).
public final class Adam: Optimizer {
    public struct Config: Codable, Sendable {
        /// Step size.
        public var learningRate: Float = 0.001
        /// Decay of the first-moment (mean) estimate.
        public var beta1: Float = 0.9
        /// Decay of the second-moment (uncentred variance) estimate.
        public var beta2: Float = 0.999
        /// Added to √v for stability (Keras's default, 1e-7, not PyTorch's 1e-8).
        public var epsilon: Float = 1e-7
        /// Decoupled weight decay λ (Keras: none for Adam, 0.004 for AdamW).
        public var weightDecay: Float = 0
        enum CodingKeys: String, CodingKey {
            case learningRate = "learning_rate", beta1 = "beta_1", beta2 = "beta_2", epsilon
            case weightDecay = "weight_decay"
        }
        public init() {}
        public init(from decoder: Decoder, decoupledDecay: Bool) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decode(.learningRate, default: 0.001, expected: "a positive number") { $0 > 0 }
            beta1 = try c.decode(.beta1, default: 0.9, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            beta2 = try c.decode(.beta2, default: 0.999, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            epsilon = try c.decode(.epsilon, default: 1e-7, expected: "a positive number") { $0 > 0 }
            weightDecay = try c.decodeWeightDecay(.weightDecay, default: decoupledDecay ? 0.004 : 0)
        }
        public init(from decoder: Decoder) throws { try self.init(from: decoder, decoupledDecay: false) }
    }
    public let name: String
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.learningRate }
    public var momentumKey: String? { "beta_1" }
    private var firstMoment: FloatStorage?, secondMoment: FloatStorage?

    /// - Parameter name: "adam" or "adamw" (the registry name the experiment used).
    public init(_ config: Config, name: String = "adam", clipping: GradientClipping = GradientClipping()) {
        self.config = config
        self.name = name
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        firstMoment = FloatStorage(count: count)
        secondMoment = FloatStorage(count: count)
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        adamUpdate(parameters: parameters[r], gradients: gradients[r], firstMoment: firstMoment!.view[r],
                   secondMoment: secondMoment!.view[r], learningRate: learningRate, beta1: momentum ?? config.beta1,
                   beta2: config.beta2, epsilon: config.epsilon, step: step,
                   weightDecay: config.weightDecay, pool: pool)
    }
    public var state: [(name: String, values: FloatStorage)] {
        [("m", firstMoment), ("v", secondMoment)].compactMap { name, s in s.map { (name, $0) } }
    }
    public var statePerParameter: Int { 2 }
}

/// The optimizers an experiment file can name.
public enum Optimizers {
    public typealias Constructor = @Sendable (Decoder) throws -> any Optimizer
    public static let registry: Registry<Constructor> = {
        var r = Registry<Constructor>(kind: "optimizer")
        r.register("sgd") { SGD(try .init(from: $0), clipping: try .init(from: $0)) }
        r.register("rmsprop") { RMSprop(try .init(from: $0), clipping: try .init(from: $0)) }
        r.register("adam") { Adam(try .init(from: $0, decoupledDecay: false), clipping: try .init(from: $0)) }
        r.register("adamw") { Adam(try .init(from: $0, decoupledDecay: true), name: "adamw", clipping: try .init(from: $0)) }
        r.register("adadelta") { Adadelta(try .init(from: $0), clipping: try .init(from: $0)) }
        r.register("adagrad") { Adagrad(try .init(from: $0), clipping: try .init(from: $0)) }
        r.register("adamax") { Adamax(try .init(from: $0), clipping: try .init(from: $0)) }
        r.register("nadam") { Nadam(try .init(from: $0), clipping: try .init(from: $0)) }
        return r
    }()
}

extension KeyedDecodingContainer {
    /// `weight_decay`: a non-negative number; absent or null means `defaultValue` (Keras's None is 0).
    func decodeWeightDecay(_ key: Key, default defaultValue: Float) throws -> Float {
        try decode(key, default: defaultValue, expected: "a non-negative number") { (d: Float) in d >= 0 && d.isFinite }
    }
}
