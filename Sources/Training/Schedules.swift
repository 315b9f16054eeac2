// Learning-rate schedules: the rate of every optimizer step as a pure function of the step and the
// length of training (steps per epoch, total steps). No schedule keeps state, so a run resumed at
// step t continues with exactly the rates of a run that never stopped. Names and formulas are
// Keras's (ExponentialDecay, CosineDecay, PolynomialDecay, PiecewiseConstantDecay), PyTorch's
// (StepLR, MultiStepLR, OneCycleLR in OneCycle.swift) and Caffe's (`inv`); any of them but
// one_cycle can start with a linear warmup. A schedule may also set the optimizer's momentum per
// step (one_cycle cycles it); the others leave it alone.
//
// A rate that depends on the metrics (Keras's ReduceLROnPlateau) is not a function of the step:
// it is a tracker beside the schedule (ReduceLROnPlateau.swift) whose factor multiplies every
// step's scheduled rate.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NeuralNetwork

/// How long training runs, for the schedules that need to know.
public struct TrainingLength: Sendable, Equatable {
    /// Optimizer steps in one epoch.
    public let stepsPerEpoch: Int
    /// Steps of the whole run after any warmup (epochs × steps per epoch − warmup); nil when the
    /// run's length is unknown (a trainer made without epochs).
    public let totalSteps: Int?

    public init(stepsPerEpoch: Int, totalSteps: Int? = nil) {
        self.stepsPerEpoch = stepsPerEpoch
        self.totalSteps = totalSteps
    }
}

/// A schedule of the learning rate around the optimizer's base rate (its `learning_rate`).
public protocol LearningRateSchedule: Sendable {
    /// The registry name ("cosine").
    var name: String { get }
    /// Parameters after defaults, for the resolved experiment.
    var configuration: any Encodable & Sendable { get }
    /// The rate of the update that follows `iteration` earlier updates (Keras's
    /// `optimizer.iterations`: 0 for the first update), for a base rate `base`.
    func rate(base: Double, iteration: Int, length: TrainingLength) -> Double
    /// The momentum (SGD's or RMSprop's `momentum`, the Adam family's `beta_1`) of that update, or
    /// nil to leave the optimizer's own (every schedule but one_cycle).
    func momentum(iteration: Int, length: TrainingLength) -> Double?
    /// Why this schedule cannot drive `optimizer` (key of the schedule to point at, message, hint),
    /// or nil when it can.
    func conflict(with optimizer: any Optimizer) -> (key: String, message: String, hint: String)?
}

extension LearningRateSchedule {
    public func momentum(iteration: Int, length: TrainingLength) -> Double? { nil }
    public func conflict(with optimizer: any Optimizer) -> (key: String, message: String, hint: String)? { nil }
}

/// The base rate throughout (`constant`, and `warmup`, which is a constant after its warmup).
public struct ConstantRate: LearningRateSchedule {
    public struct Config: Codable, Sendable {}
    public let name: String
    public var configuration: any Encodable & Sendable { Config() }
    public init(name: String = "constant") { self.name = name }
    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double { base }
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

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        let epoch = iteration / max(1, length.stepsPerEpoch)
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

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
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

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        let fraction = Double(min(iteration, config.decaySteps)) / Double(config.decaySteps)
        let cosine = 0.5 * (1 + cos(Double.pi * fraction))             // ½(1 + cos πt/T)
        let alpha = Double(config.alpha)
        return base * ((1 - alpha) * cosine + alpha)
    }
}

/// Caffe's `inv` policy: rate · (1 + γ·t)^(−p) (Caffe's lenet_solver: γ 1e-4, p 0.75).
public struct InverseDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// γ, how fast the rate falls. Required.
        public var gamma: Float
        /// p, the power. Required.
        public var power: Float
        public init(gamma: Float, power: Float) {
            self.gamma = gamma
            self.power = power
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            gamma = try c.decode(.gamma, expected: "a positive number") { (g: Float) in g > 0 && g.isFinite }
            power = try c.decode(.power, expected: "a positive number") { (p: Float) in p > 0 && p.isFinite }
        }
    }
    public let name = "inv"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        base * pow(1 + Double(config.gamma) * Double(iteration), -Double(config.power))  // lr·(1 + γt)^(−p)
    }
}

/// Keras's PolynomialDecay: (rate − end)·(1 − min(t, T)/T)^p + end; with `cycle`, T grows to the
/// first multiple of decay_steps at or above t. Caffe's `poly` (base·(1 − t/max_iter)^p) is
/// `end_learning_rate: 0` with decay_steps = max_iter.
public struct PolynomialDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// T, the steps over which the rate falls to end_learning_rate. Required.
        public var decaySteps: Int
        /// The rate at step T and after (an absolute rate, as in Keras).
        public var endLearningRate: Float = 0.0001
        /// p: 1 is a straight line.
        public var power: Float = 1
        /// Start again from a lower peak after every decay_steps (Keras's `cycle`).
        public var cycle = false
        enum CodingKeys: String, CodingKey {
            case decaySteps = "decay_steps", endLearningRate = "end_learning_rate", power, cycle
        }
        public init(decaySteps: Int, endLearningRate: Float = 0.0001, power: Float = 1, cycle: Bool = false) {
            self.decaySteps = decaySteps
            self.endLearningRate = endLearningRate
            self.power = power
            self.cycle = cycle
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            decaySteps = try c.decode(.decaySteps, expected: "a positive number of steps") { (s: Int) in s > 0 }
            endLearningRate = try c.decode(.endLearningRate, default: 0.0001, expected: "a non-negative number") {
                $0 >= 0 && $0.isFinite
            }
            power = try c.decode(.power, default: 1, expected: "a positive number") { $0 > 0 && $0.isFinite }
            cycle = try c.decode(.cycle, default: false)
        }
    }
    public let name = "poly"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        var t = Double(iteration), steps = Double(config.decaySteps)
        if config.cycle {
            steps *= max(1, (t / steps).rounded(.up))                  // T·⌈t/T⌉ (T at t = 0)
        } else {
            t = min(t, steps)
        }
        let end = Double(config.endLearningRate)
        return (base - end) * pow(1 - t / steps, Double(config.power)) + end  // (lr − e)·(1 − t/T)^p + e
    }
}

/// PyTorch's MultiStepLR (Caffe's `multistep`): rate · factor^(number of milestones ≤ the epoch),
/// or ≤ the step with milestone_steps.
public struct MultiStepDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// Epochs (from 0) at whose start the rate drops; increasing. Or:
        public var milestones: [Int]?
        /// Steps (from 0) at which the rate drops; increasing (Caffe's stepvalue).
        public var milestoneSteps: [Int]?
        /// Multiplies the rate at each milestone (PyTorch's gamma).
        public var factor: Float = 0.1
        enum CodingKeys: String, CodingKey { case milestones, milestoneSteps = "milestone_steps", factor }
        public init(milestones: [Int]? = nil, milestoneSteps: [Int]? = nil, factor: Float = 0.1) {
            self.milestones = milestones
            self.milestoneSteps = milestoneSteps
            self.factor = factor
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func list(_ key: CodingKeys, _ unit: String) throws -> [Int]? {
                guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
                return try c.decode(key, expected: "a non-empty list of increasing positive \(unit)") { (m: [Int]) in
                    !m.isEmpty && m[0] > 0 && zip(m, m.dropFirst()).allSatisfy { $0 < $1 }
                }
            }
            milestones = try list(.milestones, "epochs")
            milestoneSteps = try list(.milestoneSteps, "steps")
            factor = try c.decode(.factor, default: 0.1, expected: "in (0, 1]") { $0 > 0 && $0 <= 1 }
            if milestones != nil && milestoneSteps != nil {
                throw ConfigError(codingPath: c.codingPath + [CodingKeys.milestoneSteps],
                                  message: "give 'milestones' (epochs) or 'milestone_steps', not both")
            }
            if milestones == nil && milestoneSteps == nil {
                _ = try c.decode([Int].self, forKey: .milestones)   // the decoder's error: it names a misspelt key
            }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(milestones, forKey: .milestones)
            try c.encode(milestoneSteps, forKey: .milestoneSteps)
            try c.encode(factor, forKey: .factor)
        }
    }
    public let name = "multistep"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        let now = config.milestones != nil ? iteration / max(1, length.stepsPerEpoch) : iteration
        let passed = (config.milestones ?? config.milestoneSteps ?? []).filter { $0 <= now }.count
        return base * pow(Double(config.factor), Double(passed))        // lr·γ^#{m ≤ e}
    }
}

/// Keras's PiecewiseConstantDecay: values[0] while t ≤ boundaries[0], values[i] while
/// boundaries[i−1] < t ≤ boundaries[i], the last value after the last boundary. The values are
/// the rates themselves (as in Keras): the optimizer's learning_rate is not used, except as the
/// top of a warmup.
public struct PiecewiseConstantDecay: LearningRateSchedule {
    public struct Config: Codable, Sendable {
        /// Steps (from 0) after which the next value applies; increasing. Required.
        public var boundaries: [Int]
        /// One rate more than there are boundaries. Required.
        public var values: [Float]
        public init(boundaries: [Int], values: [Float]) {
            self.boundaries = boundaries
            self.values = values
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            boundaries = try c.decode(.boundaries, expected: "a non-empty list of increasing steps (from 0)") { (b: [Int]) in
                !b.isEmpty && b[0] >= 0 && zip(b, b.dropFirst()).allSatisfy { $0 < $1 }
            }
            values = try c.decode(.values, expected: "a list of positive rates") { (v: [Float]) in
                v.allSatisfy { $0 > 0 && $0.isFinite }
            }
            if values.count != boundaries.count + 1 {
                throw ConfigError(codingPath: c.codingPath + [CodingKeys.values],
                                  message: "'values' must hold one rate more than 'boundaries' (\(boundaries.count + 1)), found \(values.count)",
                                  hint: "values[0] applies up to the first boundary, the last value after the last one")
            }
        }
    }
    public let name = "piecewise_constant"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        Double(config.values[config.boundaries.filter { iteration > $0 }.count])  // values[#{b < t}]
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
/// epoch of `stepsPerEpoch` steps (and `epochs` of them, when known). A value: `rate(t)` depends
/// on nothing but t.
public struct LearningRate: Sendable {
    public let base: Float
    public let schedule: any LearningRateSchedule
    public let warmup: Warmup
    public let stepsPerEpoch: Int
    /// The run's epochs, when known (one_cycle's default length).
    public let epochs: Int?
    /// train.max_steps: the run stops after this many steps when that comes before the last epoch's end.
    public let maxSteps: Int?
    /// ReduceLROnPlateau multiplies these rates during the run (they can change even when constant).
    public let reducedOnPlateau: Bool

    public init(base: Float, schedule: any LearningRateSchedule = ConstantRate(), warmup: Warmup = Warmup(),
                stepsPerEpoch: Int, epochs: Int? = nil, maxSteps: Int? = nil, reducedOnPlateau: Bool = false) {
        precondition(stepsPerEpoch > 0)
        self.base = base
        self.schedule = schedule
        self.warmup = warmup
        self.stepsPerEpoch = stepsPerEpoch
        self.epochs = epochs
        self.maxSteps = maxSteps
        self.reducedOnPlateau = reducedOnPlateau
    }

    /// Whether the rate can change during training (then it is reported per epoch in metrics.csv).
    public var isScheduled: Bool { !(schedule is ConstantRate) || !warmup.isNone || reducedOnPlateau }

    /// What the schedule sees: steps per epoch, and the steps after the warmup when epochs are
    /// known (epochs × steps per epoch, or max_steps when fewer).
    public var length: TrainingLength {
        TrainingLength(stepsPerEpoch: stepsPerEpoch, totalSteps: epochs.map {
            max(1, min($0 * stepsPerEpoch, maxSteps ?? .max) - warmup.steps(stepsPerEpoch: stepsPerEpoch))
        })
    }

    /// The rate of the update that follows `iteration` earlier updates (0 for the first).
    public func rate(_ iteration: Int) -> Float {
        precondition(iteration >= 0)
        let w = warmup.steps(stepsPerEpoch: stepsPerEpoch)
        if iteration < w { return Float(Double(base) * Double(iteration) / Double(w)) }  // lr·t/W
        return Float(schedule.rate(base: Double(base), iteration: iteration - w, length: length))
    }

    /// The momentum the schedule sets for that update, nil when it leaves the optimizer's own.
    public func momentum(_ iteration: Int) -> Float? {
        let w = warmup.steps(stepsPerEpoch: stepsPerEpoch)
        if iteration < w { return nil }
        return schedule.momentum(iteration: iteration - w, length: length).map(Float.init)
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
        r.register("inv") { InverseDecay(try .init(from: $0)) }
        r.register("poly") { PolynomialDecay(try .init(from: $0)) }
        r.register("multistep") { MultiStepDecay(try .init(from: $0)) }
        r.register("piecewise_constant") { PiecewiseConstantDecay(try .init(from: $0)) }
        r.register("one_cycle") { decoder in
            let schedule = OneCycle(try .init(from: decoder))
            let warmup = try Warmup(from: decoder)
            if !warmup.isNone {
                let key: Warmup.CodingKeys = warmup.warmupSteps > 0 ? .warmupSteps : .warmupEpochs
                throw ConfigError(codingPath: decoder.codingPath + [key],
                                  message: "one_cycle warms up by itself (its first pct_start of the steps)",
                                  hint: "remove warmup_steps / warmup_epochs, or set pct_start")
            }
            return schedule
        }
        return r
    }()
}
