// PyTorch's OneCycleLR (Smith & Topin's 1cycle policy, fastai's two phases by default): the rate
// climbs from max/div_factor to max over the first pct_start of the steps, then anneals to
// max/(div_factor·final_div_factor); the optimizer's momentum (or β₁) moves the opposite way,
// from max_momentum down to base_momentum and back. A pure function of the step, like every
// schedule here, so a resumed run continues exactly.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NeuralNetwork

/// cos(x) (the enum below has a case of that name).
private func cosine(_ x: Double) -> Double { cos(x) }

public struct OneCycle: LearningRateSchedule {
    /// How a phase goes from its start value to its end value.
    public enum Anneal: String, CaseIterable, Codable, Sendable {
        /// end + (start − end)·½(1 + cos(π·pct))
        case cos
        /// start + (end − start)·pct
        case linear

        func value(from start: Double, to end: Double, at pct: Double) -> Double {
            switch self {
            case .cos: end + (start - end) / 2 * (cosine(Double.pi * pct) + 1)
            case .linear: (end - start) * pct + start
            }
        }
    }

    public struct Config: Codable, Sendable {
        /// The peak rate (PyTorch's max_lr); null: the optimizer's learning_rate.
        public var maxLearningRate: Float?
        /// Steps in the cycle; null: the run's epochs × steps per epoch. Steps after the cycle
        /// keep its final rate (PyTorch raises an error there).
        public var totalSteps: Int?
        /// Fraction of the cycle spent raising the rate.
        public var pctStart: Float = 0.3
        /// cos or linear.
        public var annealStrategy: Anneal = .cos
        /// The first rate is max / div_factor.
        public var divFactor: Float = 25
        /// The last rate is max / (div_factor · final_div_factor).
        public var finalDivFactor: Float = 1e4
        /// Smith's three phases: up, back down to the first rate, then down to the last.
        public var threePhase = false
        /// Move the optimizer's momentum (sgd/rmsprop `momentum`, the Adam family's `beta_1`) inversely to the rate.
        public var cycleMomentum = true
        /// The momentum at the peak rate.
        public var baseMomentum: Float = 0.85
        /// The momentum at the lowest rates.
        public var maxMomentum: Float = 0.95

        enum CodingKeys: String, CodingKey {
            case maxLearningRate = "max_learning_rate", totalSteps = "total_steps", pctStart = "pct_start"
            case annealStrategy = "anneal_strategy", divFactor = "div_factor", finalDivFactor = "final_div_factor"
            case threePhase = "three_phase", cycleMomentum = "cycle_momentum", baseMomentum = "base_momentum"
            case maxMomentum = "max_momentum"
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if c.contains(.maxLearningRate), try !c.decodeNil(forKey: .maxLearningRate) {
                maxLearningRate = try c.decode(.maxLearningRate, expected: "a positive number") { (r: Float) in
                    r > 0 && r.isFinite
                }
            }
            if c.contains(.totalSteps), try !c.decodeNil(forKey: .totalSteps) {
                totalSteps = try c.decode(.totalSteps, expected: "a positive number of steps") { (s: Int) in s > 0 }
            }
            pctStart = try c.decode(.pctStart, default: 0.3, expected: "in (0, 1)") { $0 > 0 && $0 < 1 }
            annealStrategy = try c.decodeChoice(.annealStrategy, default: .cos)
            divFactor = try c.decode(.divFactor, default: 25, expected: "a positive number") { $0 > 0 && $0.isFinite }
            finalDivFactor = try c.decode(.finalDivFactor, default: 1e4, expected: "a positive number") {
                $0 > 0 && $0.isFinite
            }
            threePhase = try c.decode(.threePhase, default: false)
            cycleMomentum = try c.decode(.cycleMomentum, default: true)
            baseMomentum = try c.decode(.baseMomentum, default: 0.85, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
            maxMomentum = try c.decode(.maxMomentum, default: 0.95, expected: "in [0, 1)") { $0 >= 0 && $0 < 1 }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(maxLearningRate, forKey: .maxLearningRate)
            try c.encode(totalSteps, forKey: .totalSteps)
            try c.encode(pctStart, forKey: .pctStart)
            try c.encode(annealStrategy, forKey: .annealStrategy)
            try c.encode(divFactor, forKey: .divFactor)
            try c.encode(finalDivFactor, forKey: .finalDivFactor)
            try c.encode(threePhase, forKey: .threePhase)
            try c.encode(cycleMomentum, forKey: .cycleMomentum)
            try c.encode(baseMomentum, forKey: .baseMomentum)
            try c.encode(maxMomentum, forKey: .maxMomentum)
        }
    }

    public let name = "one_cycle"
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public init(_ config: Config) { self.config = config }

    /// A phase ends at step `end` (fractional, as PyTorch computes it), going from the first
    /// value to the second, for the rate (as fractions of the peak) and for the momentum.
    private typealias Phase = (end: Double, rate: (Double, Double), momentum: (Double, Double))

    private func phases(total: Int) -> [Phase] {
        let first = 1 / Double(config.divFactor), last = first / Double(config.finalDivFactor)
        let low = Double(config.baseMomentum), high = Double(config.maxMomentum)
        // pct_start as written (0.3, not Float 0.3's 0.30000001…): phase ends land on whole steps as in PyTorch.
        let pct = Double("\(config.pctStart)") ?? Double(config.pctStart)
        let t = Double(total), up = pct * t - 1
        if config.threePhase {
            return [(up, (first, 1), (high, low)),
                    (2 * pct * t - 2, (1, first), (low, high)),
                    (t - 1, (first, last), (high, high))]
        }
        return [(up, (first, 1), (high, low)), (t - 1, (1, last), (low, high))]
    }

    /// The phase of step `iteration` and how far into it (0…1), as PyTorch's get_lr finds them.
    private func position(_ iteration: Int, length: TrainingLength) -> (phase: Phase, pct: Double) {
        guard let total = config.totalSteps ?? length.totalSteps else {
            preconditionFailure("one_cycle needs total_steps or the run's epochs")
        }
        let phases = phases(total: total)
        let step = Double(min(iteration, total - 1))
        var start = 0.0
        for (i, phase) in phases.enumerated() {
            if step <= phase.end || i == phases.count - 1 {
                let span = phase.end - start
                return (phase, span > 0 ? min(1, max(0, (step - start) / span)) : 1)
            }
            start = phase.end
        }
        preconditionFailure("unreachable")
    }

    public func rate(base: Double, iteration: Int, length: TrainingLength) -> Double {
        let peak = config.maxLearningRate.map(Double.init) ?? base
        let (phase, pct) = position(iteration, length: length)
        return peak * config.annealStrategy.value(from: phase.rate.0, to: phase.rate.1, at: pct)
    }

    public func momentum(iteration: Int, length: TrainingLength) -> Double? {
        guard config.cycleMomentum else { return nil }
        let (phase, pct) = position(iteration, length: length)
        return config.annealStrategy.value(from: phase.momentum.0, to: phase.momentum.1, at: pct)
    }

    public func conflict(with optimizer: any Optimizer) -> (key: String, message: String, hint: String)? {
        guard config.cycleMomentum, optimizer.momentumKey == nil else { return nil }
        let has = ["sgd", "rmsprop"].contains(optimizer.name) ? " with momentum 0" : ""
        return ("cycle_momentum", "one_cycle cycles the optimizer's momentum, but \(optimizer.name)\(has) has none",
                "set `cycle_momentum: false`, or use an optimizer with momentum > 0 or a beta_1 (adam, nadam, …)")
    }
}
