// Keras's ReduceLROnPlateau callback: when a monitored metric has not improved for `patience`
// epochs, the learning rate is multiplied by `factor` (never below `min_lr`), then `cooldown`
// epochs pass before the wait starts again. The rate depends on the metrics, so unlike the
// schedules (Schedules.swift) it is not a function of the step: it is a tracker like
// EarlyStopping — a few plain values (best, wait, cooldown counter, the factor so far) that
// `Trainer.fit` updates after each epoch and that `FitState`, hence every checkpoint, carries.
//
// It combines with any schedule (Keras cannot: it sets the optimizer's rate, which a schedule
// object owns): the rate of step t is schedule(t) × scale, where scale starts at 1 and each
// reduction multiplies it by `factor`. `min_lr` bounds what a reduction does — the rate of the
// step after it is never taken below min_lr, and a rate already at or below min_lr is not
// reduced — while the schedule may still take the rate lower afterwards. With the constant
// schedule this is exactly Keras's max(lr · factor, min_lr).
import NeuralNetwork

public struct ReduceLROnPlateau: Sendable, Equatable, Codable {
    /// `train.reduce_on_plateau` (Keras names and defaults).
    public struct Config: Codable, Sendable, Equatable {
        /// The quantity to watch.
        public var monitor: EarlyStopping.Monitor = .valLoss
        /// Multiplies the rate at each reduction; in (0, 1).
        public var factor = 0.1
        /// Epochs without improvement after which the rate is reduced.
        public var patience = 10
        /// min, max, or auto (from the monitor's name).
        public var mode: EarlyStopping.Mode = .auto
        /// A change smaller than this is no improvement.
        public var minDelta = 1e-4
        /// Epochs after a reduction during which the wait does not count.
        public var cooldown = 0
        /// A reduction never takes the rate below this.
        public var minLR = 0.0

        enum CodingKeys: String, CodingKey {
            case monitor, factor, patience, mode, minDelta = "min_delta", cooldown, minLR = "min_lr"
        }

        public init(monitor: EarlyStopping.Monitor = .valLoss, factor: Double = 0.1, patience: Int = 10,
                    mode: EarlyStopping.Mode = .auto, minDelta: Double = 1e-4, cooldown: Int = 0, minLR: Double = 0) {
            self.monitor = monitor
            self.factor = factor
            self.patience = patience
            self.mode = mode
            self.minDelta = minDelta
            self.cooldown = cooldown
            self.minLR = minLR
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            monitor = try c.decodeChoice(.monitor, default: .valLoss)
            factor = try c.decode(.factor, default: 0.1, expected: "in (0, 1) (Keras refuses a factor >= 1)") {
                (f: Double) in f > 0 && f < 1
            }
            patience = try c.decode(.patience, default: 10, expected: "a non-negative integer") { (p: Int) in p >= 0 }
            mode = try c.decodeChoice(.mode, default: .auto)
            minDelta = try c.decode(.minDelta, default: 1e-4, expected: "a non-negative number") { (d: Double) in
                d >= 0 && d.isFinite
            }
            cooldown = try c.decode(.cooldown, default: 0, expected: "a non-negative integer") { (n: Int) in n >= 0 }
            minLR = try c.decode(.minLR, default: 0, expected: "a non-negative number") { (r: Double) in
                r >= 0 && r.isFinite
            }
        }

        /// True when larger values are better (mode max, or auto on an accuracy).
        public var maximizes: Bool {
            EarlyStopping.Config(monitor: monitor, mode: mode).maximizes
        }
    }

    public let config: Config
    // State (a checkpoint stores these).
    /// The best monitored value so far (nil before the first, as in Keras 3).
    public private(set) var best: Double?
    /// Epochs since the last improvement (outside cooldowns).
    public private(set) var wait = 0
    /// Epochs of cooldown left.
    public private(set) var cooldownCounter = 0
    /// What the scheduled rate is multiplied by: 1 until the first reduction.
    public private(set) var scale = 1.0
    /// The epochs (from 0) after which the rate was reduced.
    public private(set) var reductions: [Int] = []
    enum CodingKeys: String, CodingKey {
        case config, best, wait, cooldownCounter = "cooldown_counter", scale, reductions
    }

    public init(_ config: Config) { self.config = config }

    /// The tracker with another config and this one's state (a run resumed with a changed file).
    public func with(_ config: Config) -> ReduceLROnPlateau {
        var copy = ReduceLROnPlateau(config)
        copy.best = best
        copy.wait = wait
        copy.cooldownCounter = cooldownCounter
        copy.scale = scale
        copy.reductions = reductions
        return copy
    }

    /// The rate a step takes: the schedule's `scheduled` rate × scale (rounded once, to Float).
    public func rate(_ scheduled: Float) -> Float { Float(Double(scheduled) * scale) }

    /// current beats best by more than min_delta (the first value always does).
    func isImprovement(_ current: Double) -> Bool {
        guard let best else { return true }
        return config.maximizes ? current - config.minDelta > best : current + config.minDelta < best
    }

    /// Keras's `on_epoch_end`: `value` is the monitored metric of epoch `epoch` (from 0), nil when
    /// the epoch has none (then nothing changes); `scheduled` is the schedule's rate for the next
    /// step. Returns true when it reduced the rate.
    public mutating func update(epoch: Int, value: Double?, scheduled: Float) -> Bool {
        guard let current = value else { return false }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            wait = 0
        }
        if isImprovement(current) {
            best = current
            wait = 0
            return false
        }
        guard cooldownCounter == 0 else { return false }
        wait += 1
        guard wait >= config.patience else { return false }
        // Keras: only a rate above min_lr is reduced (otherwise the wait keeps growing).
        guard rate(scheduled) > Float(config.minLR) else { return false }
        scale = max(scale * config.factor, config.minLR / Double(scheduled))   // max(lr·factor, min_lr) / schedule
        cooldownCounter = config.cooldown
        wait = 0
        reductions.append(epoch)
        return true
    }
}
