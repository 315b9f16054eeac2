// Learning-rate schedules: the rate of every optimizer step as a pure function of the step and the
// number of steps in an epoch. No schedule keeps state, so a run resumed at step t continues with
// exactly the rates of a run that never stopped. Names and formulas are Keras's (ExponentialDecay,
// CosineDecay) and PyTorch's (StepLR); any of them can start with a linear warmup.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NeuralNetwork

/// A schedule of the learning rate around the optimizer's base rate (its `learning_rate`).
public protocol LearningRateSchedule: Sendable {
    /// The registry name ("cosine").
    var name: String { get }
    /// Parameters after defaults, for the resolved experiment.
    var configuration: any Encodable & Sendable { get }
    /// The rate of the update that follows `iteration` earlier updates (Keras's
    /// `optimizer.iterations`: 0 for the first update), for a base rate `base`.
    func rate(base: Double, iteration: Int, stepsPerEpoch: Int) -> Double
}

/// The base rate throughout (`constant`, and `warmup`, which is a constant after its warmup).
public struct ConstantRate: LearningRateSchedule {
    public struct Config: Codable, Sendable {}
    public let name: String
    public var configuration: any Encodable & Sendable { Config() }
    public init(name: String = "constant") { self.name = name }
    public func rate(base: Double, iteration: Int, stepsPerEpoch: Int) -> Double { base }
}

/// PyTorch's StepLR (Keras's "step decay"): rate · factor^⌊epoch / step_size⌋.
public struct StepDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// Epochs between drops. Required.
        public var stepSize: Int
        /// Multiplies the rate at each drop (PyTorch's gamma).
        public var factor: Float = 0.1
        enum CodingKeys: String, CodingKey { case stepSize = "step_size", factor }
        public init(stepSize: Int, factor: Float = 0.1) {
            self.stepSize = stepSize
            self.factor = factor
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            stepSize = try c.decode(.stepSize, expected: "a positive number of epochs") { (s: Int) in s > 0 }
            factor = try c.decode(.factor, default: 0.1, expected: "in (0, 1]") { $0 > 0 && $0 <= 1 }
        }
    }
    public let name = "step"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, stepsPerEpoch: Int) -> Double {
        let epoch = iteration / max(1, stepsPerEpoch)
        return base * pow(Double(config.factor), Double(epoch / config.stepSize))  // lr·γ^⌊e/s⌋
    }
}

/// Keras's ExponentialDecay: rate · decay_rate^(step / decay_steps), the exponent floored when
/// `staircase`.
public struct ExponentialDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// Steps over which the rate is multiplied by `decay_rate` once. Required.
        public var decaySteps: Int
        /// The factor per `decay_steps`. Required.
        public var decayRate: Float
        /// Drop in whole steps of `decay_steps` rather than continuously.
        public var staircase = false
        enum CodingKeys: String, CodingKey {
            case decaySteps = "decay_steps", decayRate = "decay_rate", staircase
        }
        public init(decaySteps: Int, decayRate: Float, staircase: Bool = false) {
            self.decaySteps = decaySteps
            self.decayRate = decayRate
            self.staircase = staircase
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            decaySteps = try c.decode(.decaySteps, expected: "a positive number of steps") { (s: Int) in s > 0 }
            decayRate = try c.decode(.decayRate, expected: "a positive number") { (r: Float) in r > 0 && r.isFinite }
            staircase = try c.decode(.staircase, default: false)
        }
    }
    public let name = "exponential"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, stepsPerEpoch: Int) -> Double {
        var p = Double(iteration) / Double(config.decaySteps)
        if config.staircase { p = p.rounded(.down) }
        return base * pow(Double(config.decayRate), p)                  // lr·r^(t/T)
    }
}

/// Keras's CosineDecay: rate · ((1 − α)·½(1 + cos(π·min(t, T)/T)) + α), then α·rate for good.
public struct CosineDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// Steps over which the rate falls to α·rate. Required.
        public var decaySteps: Int
        /// The final rate, as a fraction of the base rate.
        public var alpha: Float = 0
        enum CodingKeys: String, CodingKey { case decaySteps = "decay_steps", alpha }
        public init(decaySteps: Int, alpha: Float = 0) {
            self.decaySteps = decaySteps
            self.alpha = alpha
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            decaySteps = try c.decode(.decaySteps, expected: "a positive number of steps") { (s: Int) in s > 0 }
            alpha = try c.decode(.alpha, default: 0, expected: "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        }
    }
    public let name = "cosine"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, stepsPerEpoch: Int) -> Double {
        let fraction = Double(min(iteration, config.decaySteps)) / Double(config.decaySteps)
        let cosine = 0.5 * (1 + cos(Double.pi * fraction))             // ½(1 + cos πt/T)
        let alpha = Double(config.alpha)
        return base * ((1 - alpha) * cosine + alpha)
    }
}

/// A linear warmup in front of any schedule: over the first W steps the rate rises from 0 by
/// base·t/W (Keras CosineDecay's warmup, from 0 to the base rate); from step W the schedule runs
/// as if training had started there. W = warmup_steps, or warmup_epochs × steps per epoch.
public struct Warmup: Codable, Sendable, Equatable {
    /// Warmup length in optimizer steps.
    public var warmupSteps = 0
    /// Warmup length in epochs (alternative to warmup_steps).
    public var warmupEpochs = 0
    enum CodingKeys: String, CodingKey { case warmupSteps = "warmup_steps", warmupEpochs = "warmup_epochs" }

    public init(steps: Int = 0, epochs: Int = 0) {
        warmupSteps = steps
        warmupEpochs = epochs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        warmupSteps = try c.decode(.warmupSteps, default: 0, expected: "a non-negative integer") { (s: Int) in s >= 0 }
        warmupEpochs = try c.decode(.warmupEpochs, default: 0, expected: "a non-negative integer") { (e: Int) in e >= 0 }
        if warmupSteps > 0 && warmupEpochs > 0 {
            throw ConfigError(codingPath: c.codingPath + [CodingKeys.warmupEpochs],
                              message: "give 'warmup_steps' or 'warmup_epochs', not both",
                              hint: "warmup_epochs: E is warmup_steps: E × steps per epoch")
        }
    }

    public var isNone: Bool { warmupSteps == 0 && warmupEpochs == 0 }

    /// The warmup's length in steps.
    public func steps(stepsPerEpoch: Int) -> Int { warmupSteps + warmupEpochs * stepsPerEpoch }
}

/// The rate of every step of a run: the optimizer's base rate, a schedule and a warmup, for an
/// epoch of `stepsPerEpoch` steps. A value: `rate(t)` depends on nothing but t.
public struct LearningRate: Sendable {
    public let base: Float
    public let schedule: any LearningRateSchedule
    public let warmup: Warmup
    public let stepsPerEpoch: Int

    public init(base: Float, schedule: any LearningRateSchedule = ConstantRate(), warmup: Warmup = Warmup(),
                stepsPerEpoch: Int) {
        precondition(stepsPerEpoch > 0)
        self.base = base
        self.schedule = schedule
        self.warmup = warmup
        self.stepsPerEpoch = stepsPerEpoch
    }

    /// Whether the rate can change during training (then it is reported per epoch in metrics.csv).
    public var isScheduled: Bool { !(schedule is ConstantRate) || !warmup.isNone }

    /// The rate of the update that follows `iteration` earlier updates (0 for the first).
    public func rate(_ iteration: Int) -> Float {
        precondition(iteration >= 0)
        let w = warmup.steps(stepsPerEpoch: stepsPerEpoch)
        if iteration < w { return Float(Double(base) * Double(iteration) / Double(w)) }  // lr·t/W
        return Float(schedule.rate(base: Double(base), iteration: iteration - w, stepsPerEpoch: stepsPerEpoch))
    }
}

/// The schedules an experiment file can name (`train.lr_schedule: {type: …}`); each also takes
/// `warmup_steps` / `warmup_epochs` (see `Warmup`).
public enum Schedules {
    public typealias Constructor = @Sendable (Decoder) throws -> any LearningRateSchedule
    public static let registry: Registry<Constructor> = {
        var r = Registry<Constructor>(kind: "learning-rate schedule")
        r.register("constant") { _ in ConstantRate() }
        r.register("warmup") { _ in ConstantRate(name: "warmup") }
        r.register("step") { StepDecay(try .init(from: $0)) }
        r.register("exponential") { ExponentialDecay(try .init(from: $0)) }
        r.register("cosine") { CosineDecay(try .init(from: $0)) }
        return r
    }()
}
