// The other per-parameter adaptive optimizers Keras 3 ships: Adadelta, Adagrad, Adamax, Nadam.
// Names, parameters and defaults are Keras 3's; the rules are in Kernels/OptimizerKernels.swift.
// Like the others, each takes `weight_decay` and the clipping options.
import Kernels
import NeuralNetwork

/// Adadelta. Keras's default rate is 0.001; Zeiler's paper, PyTorch (default lr 1.0, eps 1e-6) and
/// PyTorch's examples/mnist (lr 1.0) use 1.0 — the rule is the same, the rate multiplies Δ.
public final class Adadelta: Optimizer {
    public struct Config: Codable, Sendable {
        /// Step size (multiplies Δ; 1.0 is Zeiler's original form).
        public var learningRate: Float = 0.001
        /// Decay of both running averages, E[g²] and E[Δ²].
        public var rho: Float = 0.95
        /// Added inside both roots (Keras 1e-7; PyTorch 1e-6).
        public var epsilon: Float = 1e-7
        /// Decoupled weight decay λ; 0 is none.
        public var weightDecay: Float = 0
        enum CodingKeys: String, CodingKey { case learningRate = "learning_rate", rho, epsilon, weightDecay = "weight_decay" }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decode(.learningRate, default: 0.001, expected: "a positive number") { $0 > 0 }
            rho = try c.decode(.rho, default: 0.95, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            epsilon = try c.decode(.epsilon, default: 1e-7, expected: "a positive number") { $0 > 0 }
            weightDecay = try c.decodeWeightDecay(.weightDecay, default: 0)
        }
    }
    public let name = "adadelta"
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.learningRate }
    private var accumulatedGradient: FloatStorage?, accumulatedDelta: FloatStorage?
    public init(_ config: Config, clipping: GradientClipping = GradientClipping()) {
        self.config = config
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        accumulatedGradient = FloatStorage(count: count)
        accumulatedDelta = FloatStorage(count: count)
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        adadeltaUpdate(parameters: parameters[r], gradients: gradients[r], accumulatedGradient: accumulatedGradient!.view[r],
                       accumulatedDelta: accumulatedDelta!.view[r], learningRate: learningRate, rho: config.rho,
                       epsilon: config.epsilon, weightDecay: config.weightDecay, pool: pool)
    }
    public var statePerParameter: Int { 2 }
    public var state: [(name: String, values: FloatStorage)] {
        [("accumulated_grad", accumulatedGradient), ("accumulated_delta_var", accumulatedDelta)]
            .compactMap { name, s in s.map { (name, $0) } }
    }
}

/// Adagrad: each parameter's rate shrinks with the sum of its squared gradients.
public final class Adagrad: Optimizer {
    public struct Config: Codable, Sendable {
        /// Step size.
        public var learningRate: Float = 0.001
        /// Where every accumulator starts.
        public var initialAccumulatorValue: Float = 0.1
        /// Added inside the root (Keras 3: √(A + ε)).
        public var epsilon: Float = 1e-7
        /// Decoupled weight decay λ; 0 is none.
        public var weightDecay: Float = 0
        enum CodingKeys: String, CodingKey {
            case learningRate = "learning_rate", initialAccumulatorValue = "initial_accumulator_value", epsilon
            case weightDecay = "weight_decay"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decode(.learningRate, default: 0.001, expected: "a positive number") { $0 > 0 }
            initialAccumulatorValue = try c.decode(.initialAccumulatorValue, default: 0.1, expected: "a non-negative number") {
                $0 >= 0 && $0.isFinite
            }
            epsilon = try c.decode(.epsilon, default: 1e-7, expected: "a positive number") { $0 > 0 }
            weightDecay = try c.decodeWeightDecay(.weightDecay, default: 0)
        }
    }
    public let name = "adagrad"
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.learningRate }
    private var accumulator: FloatStorage?
    public init(_ config: Config, clipping: GradientClipping = GradientClipping()) {
        self.config = config
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        accumulator = FloatStorage(count: count)
        accumulator!.view.fill(config.initialAccumulatorValue)
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        adagradUpdate(parameters: parameters[r], gradients: gradients[r], accumulator: accumulator!.view[r],
                      learningRate: learningRate, epsilon: config.epsilon, weightDecay: config.weightDecay, pool: pool)
    }
    public var statePerParameter: Int { 1 }
    public var state: [(name: String, values: FloatStorage)] { accumulator.map { [("accumulator", $0)] } ?? [] }
}

/// Adamax: Adam with the infinity norm u in place of the second moment. Adam's keys and
/// defaults (`beta_2` decays u, `epsilon` is added to u).
public final class Adamax: Optimizer {
    public typealias Config = Adam.Config
    public let name = "adamax"
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.learningRate }
    public var momentumKey: String? { "beta_1" }
    private var firstMoment: FloatStorage?, infinityNorm: FloatStorage?
    public init(_ config: Config, clipping: GradientClipping = GradientClipping()) {
        self.config = config
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        firstMoment = FloatStorage(count: count)
        infinityNorm = FloatStorage(count: count)
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        adamaxUpdate(parameters: parameters[r], gradients: gradients[r], firstMoment: firstMoment!.view[r],
                     infinityNorm: infinityNorm!.view[r], learningRate: learningRate, beta1: momentum ?? config.beta1,
                     beta2: config.beta2, epsilon: config.epsilon, step: step, weightDecay: config.weightDecay, pool: pool)
    }
    public var statePerParameter: Int { 2 }
    public var state: [(name: String, values: FloatStorage)] {
        [("m", firstMoment), ("u", infinityNorm)].compactMap { name, s in s.map { (name, $0) } }
    }
}

/// Nadam: Adam with Nesterov momentum, in Keras 3's form with its momentum schedule
/// μₜ = β₁·(1 − ½·0.96^(d·t)) (see `NadamStep`). `momentum_decay` d is 1 in Keras 3; PyTorch's
/// NAdam (and Keras 2) use 0.004, which makes μₜ rise from ½β₁ far more slowly.
public final class Nadam: Optimizer {
    public struct Config: Codable, Sendable {
        /// learning_rate, beta_1, beta_2, epsilon, weight_decay as Adam's.
        public var adam = Adam.Config()
        /// d in μₜ = β₁·(1 − ½·0.96^(d·t)): Keras 3 1.0, PyTorch's NAdam momentum_decay 0.004.
        public var momentumDecay: Float = 1
        enum CodingKeys: String, CodingKey { case momentumDecay = "momentum_decay" }
        public init() {}
        public init(from decoder: Decoder) throws {
            adam = try Adam.Config(from: decoder)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            momentumDecay = try c.decode(.momentumDecay, default: 1, expected: "a positive number") { $0 > 0 && $0.isFinite }
        }
        public func encode(to encoder: Encoder) throws {
            try adam.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(momentumDecay, forKey: .momentumDecay)
        }
    }
    public let name = "nadam"
    public let config: Config
    public let plan: UpdatePlan
    public var configuration: any Encodable & Sendable { OptimizerConfiguration(config: config, clipping: plan.clipping) }
    public var learningRate: Float { config.adam.learningRate }
    public var momentumKey: String? { "beta_1" }
    private var firstMoment: FloatStorage?, secondMoment: FloatStorage?
    /// Πₜ, the product of the momentum schedule so far (Keras's `_u_product`): state, since a
    /// scheduled β₁ makes it depend on the whole history.
    private var momentumProduct: FloatStorage?
    private var scalars: NadamStep?
    public init(_ config: Config, clipping: GradientClipping = GradientClipping()) {
        self.config = config
        plan = UpdatePlan(clipping: clipping)
    }

    public func allocate(parameterCount count: Int) {
        firstMoment = FloatStorage(count: count)
        secondMoment = FloatStorage(count: count)
        momentumProduct = FloatStorage([1])
    }
    public func beginStep(_ step: Int, momentum: Float?) {
        var product = momentumProduct!.view[0]
        scalars = NadamStep(step: step, beta1: momentum ?? config.adam.beta1, beta2: config.adam.beta2,
                            momentumDecay: config.momentumDecay, product: &product)
        momentumProduct!.view[0] = product
    }
    public func apply(_ r: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
                      momentum: Float?, pool: ThreadPool?) {
        nadamUpdate(parameters: parameters[r], gradients: gradients[r], firstMoment: firstMoment!.view[r],
                    secondMoment: secondMoment!.view[r], learningRate: learningRate, beta1: momentum ?? config.adam.beta1,
                    beta2: config.adam.beta2, epsilon: config.adam.epsilon, scalars: scalars!,
                    weightDecay: config.adam.weightDecay, pool: pool)
    }
    public var statePerParameter: Int { 2 }
    public var state: [(name: String, values: FloatStorage)] {
        [("m", firstMoment), ("v", secondMoment), ("u_product", momentumProduct)].compactMap { name, s in s.map { (name, $0) } }
    }
}
