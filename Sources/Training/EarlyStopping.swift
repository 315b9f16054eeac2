// Keras's EarlyStopping callback: stop when a monitored metric has stopped improving, optionally
// going back to the weights of the best epoch. The tracker's state is a few plain values (best
// value, best epoch, wait count, stopped epoch), so a checkpoint can store it.
import Kernels
import NeuralNetwork

public struct EarlyStopping: Sendable, Equatable, Codable {
    /// The metric an epoch is judged by.
    public enum Monitor: String, CaseIterable, Codable, Sendable {
        case loss, accuracy
        case valLoss = "val_loss", valAccuracy = "val_accuracy"

        /// Whether it needs a validation split.
        public var isValidation: Bool { self == .valLoss || self == .valAccuracy }
    }

    /// Which way is better: `auto` infers it from the name (losses fall, accuracies rise).
    public enum Mode: String, CaseIterable, Codable, Sendable { case auto, min, max }

    /// `train.early_stopping` (Keras names and defaults).
    public struct Config: Codable, Sendable, Equatable {
        /// The quantity to watch.
        public var monitor: Monitor = .valLoss
        /// Epochs without improvement after which training stops.
        public var patience = 0
        /// A change smaller than this is no improvement.
        public var minDelta = 0.0
        /// min, max, or auto (from the monitor's name).
        public var mode: Mode = .auto
        /// If given, the wait only restarts on epochs that also beat it.
        public var baseline: Double?
        /// At the end of training, go back to the weights of the best epoch.
        public var restoreBestWeights = false
        /// Epochs to train before watching at all (a warm-up with no expectation of progress).
        public var startFromEpoch = 0

        enum CodingKeys: String, CodingKey {
            case monitor, patience, minDelta = "min_delta", mode, baseline
            case restoreBestWeights = "restore_best_weights", startFromEpoch = "start_from_epoch"
        }

        public init(monitor: Monitor = .valLoss, patience: Int = 0, minDelta: Double = 0, mode: Mode = .auto,
                    baseline: Double? = nil, restoreBestWeights: Bool = false, startFromEpoch: Int = 0) {
            self.monitor = monitor
            self.patience = patience
            self.minDelta = minDelta
            self.mode = mode
            self.baseline = baseline
            self.restoreBestWeights = restoreBestWeights
            self.startFromEpoch = startFromEpoch
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            monitor = try c.decodeChoice(.monitor, default: .valLoss)
            patience = try c.decode(.patience, default: 0, expected: "a non-negative integer") { (p: Int) in p >= 0 }
            minDelta = try c.decode(.minDelta, default: 0, expected: "a non-negative number") { (d: Double) in
                d >= 0 && d.isFinite
            }
            mode = try c.decodeChoice(.mode, default: .auto)
            baseline = try c.decodeIfPresent(Double.self, forKey: .baseline)
            restoreBestWeights = try c.decode(.restoreBestWeights, default: false)
            startFromEpoch = try c.decode(.startFromEpoch, default: 0, expected: "a non-negative integer") { (e: Int) in
                e >= 0
            }
        }

        /// Every key, `baseline: null` included (the resolved experiment shows every default).
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(monitor, forKey: .monitor)
            try c.encode(patience, forKey: .patience)
            try c.encode(minDelta, forKey: .minDelta)
            try c.encode(mode, forKey: .mode)
            try c.encode(baseline, forKey: .baseline)
            try c.encode(restoreBestWeights, forKey: .restoreBestWeights)
            try c.encode(startFromEpoch, forKey: .startFromEpoch)
        }

        /// True when larger values are better (mode max, or auto on an accuracy).
        public var maximizes: Bool {
            switch mode {
            case .min: false
            case .max: true
            case .auto: monitor == .accuracy || monitor == .valAccuracy
            }
        }
    }

    /// What to do after an epoch.
    public struct Decision: Sendable, Equatable {
        /// Copy the current weights: they are the best so far (only with restore_best_weights).
        public var saveWeights = false
        /// Stop training after this epoch.
        public var stop = false
    }

    public let config: Config
    // State (a checkpoint stores these four).
    /// The best monitored value so far (±∞ before the first, as in Keras).
    public private(set) var best: Double
    /// The epoch (from 0) of `best`; with restore_best_weights, the epoch of the saved weights.
    public private(set) var bestEpoch: Int?
    /// Epochs since the last improvement.
    public private(set) var wait = 0
    /// The epoch (from 0) after which training stopped, if it did.
    public private(set) var stoppedEpoch: Int?
    enum CodingKeys: String, CodingKey {
        case config, best, bestEpoch = "best_epoch", wait, stoppedEpoch = "stopped_epoch"
    }

    public init(_ config: Config) {
        self.config = config
        best = config.maximizes ? -.infinity : .infinity
    }

    /// Restores a tracker from its stored state.
    public init(_ config: Config, best: Double, bestEpoch: Int?, wait: Int, stoppedEpoch: Int?) {
        self.config = config
        self.best = best
        self.bestEpoch = bestEpoch
        self.wait = wait
        self.stoppedEpoch = stoppedEpoch
    }

    /// current is better than reference by more than min_delta.
    func isImprovement(_ current: Double, over reference: Double) -> Bool {
        config.maximizes ? current - config.minDelta > reference : current + config.minDelta < reference
    }

    /// Keras's `on_epoch_end`: `value` is the monitored metric of epoch `epoch` (from 0), nil when
    /// the epoch has none (then nothing changes).
    public mutating func update(epoch: Int, value: Double?) -> Decision {
        guard let current = value, epoch >= config.startFromEpoch else { return Decision() }
        var decision = Decision()
        if config.restoreBestWeights && bestEpoch == nil {
            // Nothing saved yet: the current weights are the best so far.
            decision.saveWeights = true
            bestEpoch = epoch
        }
        wait += 1
        if isImprovement(current, over: best) {
            best = current
            bestEpoch = epoch
            decision.saveWeights = config.restoreBestWeights
            // The wait restarts only on beating both the previous best and the baseline.
            if config.baseline.map({ isImprovement(current, over: $0) }) ?? true { wait = 0 }
            return decision
        }
        if wait >= config.patience && epoch > 0 {
            stoppedEpoch = epoch
            decision.stop = true
        }
        return decision
    }

    /// Whether training ends with the best epoch's weights put back (Keras's on_train_end).
    public var restoresWeights: Bool { config.restoreBestWeights && bestEpoch != nil }
}

/// A copy of a model's weights (trainable parameters and state), allocated once.
public final class WeightSnapshot {
    /// Same layout as the model's `parameters` and `state` (a checkpoint stores both).
    public let parameters: FloatStorage
    public let state: FloatStorage

    public init(of model: Sequential) {
        parameters = FloatStorage(count: model.parameters.count)
        state = FloatStorage(count: model.state.count)
    }

    public func save(_ model: Sequential) {
        parameters.view.copy(from: model.parameters.view)
        state.view.copy(from: model.state.view)
    }

    public func restore(into model: Sequential) {
        model.parameters.view.copy(from: parameters.view)
        model.state.view.copy(from: state.view)
    }
}
