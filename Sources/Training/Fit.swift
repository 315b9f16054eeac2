// `Trainer.fit`, Keras's `model.fit`: epochs of training steps, each followed by validation, the
// early-stopping check and ReduceLROnPlateau's, from the start or from the state a stopped fit left. What to train is
// one `FitOptions` value; what the caller hears as it goes is one `FitCallbacks` value.
import Datasets
import Kernels
import NeuralNetwork

/// How `fit` trains: the arguments of Keras's `model.fit`, and where to start.
public struct FitOptions {
    /// Passes over the training data (in all, counting those a resumed state has done).
    public var epochs: Int
    /// Images per optimizer step (the last batch of an epoch may be smaller, as in Keras).
    public var batchSize: Int
    /// A new order of the training images every epoch (from the seed's "shuffle" stream).
    public var shuffle = true
    /// Images per forward pass of the validation (default: `batchSize`).
    public var validationBatchSize: Int?
    /// Keras's EarlyStopping; nil trains every epoch.
    public var earlyStopping: EarlyStopping.Config?
    /// Keras's ReduceLROnPlateau; nil leaves the schedule's rate alone.
    public var reduceOnPlateau: ReduceLROnPlateau.Config?
    /// Stop after this many optimizer steps in all (the last epoch may be partial); nil: no limit.
    public var maxSteps: Int?
    /// A stopped fit's state to continue from (nil: epoch 0). The trainer's step count and
    /// optimizer state must already be those of that state.
    public var resumedState: FitState?
    /// The best weights a resumed fit had kept for restore_best_weights (nil: a new copy).
    public var resumedSnapshot: WeightSnapshot?

    public init(epochs: Int, batchSize: Int, shuffle: Bool = true, validationBatchSize: Int? = nil,
                earlyStopping: EarlyStopping.Config? = nil, reduceOnPlateau: ReduceLROnPlateau.Config? = nil,
                maxSteps: Int? = nil, resumedState: FitState? = nil, resumedSnapshot: WeightSnapshot? = nil) {
        precondition(maxSteps.map { $0 > 0 } ?? true)
        self.epochs = epochs
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.validationBatchSize = validationBatchSize
        self.earlyStopping = earlyStopping
        self.reduceOnPlateau = reduceOnPlateau
        self.maxSteps = maxSteps
        self.resumedState = resumedState
        self.resumedSnapshot = resumedSnapshot
    }
}

/// What `fit` tells its caller as it goes (Keras's callbacks), each optional. A new kind of event
/// is a new member with a nil default, so callers that do not listen for it do not change.
public struct FitCallbacks {
    /// After every batch, with the epoch's running metrics (progress bars).
    public var progress: ((BatchProgress) -> Void)?
    /// After every optimizer step, with the state there; `.stop` ends training after this step
    /// (the state it returns with is this one, and a later fit can continue it).
    public var afterStep: ((FitState) -> StepDecision)?
    /// After each finished epoch, once validation and early stopping have run, with the state then.
    public var epochEnd: ((EpochSummary, FitState) -> Void)?

    public init(progress: ((BatchProgress) -> Void)? = nil, afterStep: ((FitState) -> StepDecision)? = nil,
                epochEnd: ((EpochSummary, FitState) -> Void)? = nil) {
        self.progress = progress
        self.afterStep = afterStep
        self.epochEnd = epochEnd
    }
}

/// What `fit`'s step callback wants next.
public enum StepDecision: Sendable {
    case proceed
    /// Stop after this step (e.g. on SIGINT): `fit` returns with the state of this step.
    case stop
}

/// One finished epoch of `Trainer.fit`.
public struct EpochSummary: Sendable, Codable, Equatable {
    /// From 0.
    public let epoch: Int
    /// Loss (penalties included) and accuracy averaged over the epoch's training batches.
    public let training: RunningMetrics
    public let validation: Evaluation?
    /// The rate of the epoch's first step (what Keras's LearningRateScheduler logs), with
    /// ReduceLROnPlateau's factor.
    public let learningRate: Float
    /// Wall time of the epoch: its training steps and then its validation pass, as Keras counts an
    /// epoch (a resumed epoch adds the time before the interruption).
    public let seconds: Double
    enum CodingKeys: String, CodingKey { case epoch, training, validation, learningRate = "learning_rate", seconds }

    public init(epoch: Int, training: RunningMetrics, validation: Evaluation?, learningRate: Float, seconds: Double) {
        self.epoch = epoch
        self.training = training
        self.validation = validation
        self.learningRate = learningRate
        self.seconds = seconds
    }

    /// The monitored metric of this epoch, nil when it has none (val_* without validation).
    public func value(of monitor: EarlyStopping.Monitor) -> Double? {
        switch monitor {
        case .loss: training.loss
        case .accuracy: training.accuracy
        case .valLoss: validation?.loss
        case .valAccuracy: validation?.accuracy
        }
    }
}

/// Where `Trainer.fit` stands between two optimizer steps. With the model's tensors, the
/// optimizer's state (and step count) and the best-weights snapshot, it is everything the next
/// step depends on: the data order, the dropout and augmentation streams and the learning rate
/// all derive from (seed, epoch, batch, step). A checkpoint stores it; a fit given it as
/// `FitOptions.resumedState` continues it.
public struct FitState: Sendable, Codable, Equatable {
    /// The epoch in progress (from 0); equals the epoch count once training is over.
    public var epoch = 0
    /// Batches of `epoch` already trained (the data-order cursor is batch · batch size).
    public var batch = 0
    /// Optimizer steps taken since the start of training.
    public var step = 0
    /// Loss and accuracy over the batches of `epoch` trained so far.
    public var metrics = RunningMetrics()
    /// Training time spent in `epoch` so far (across interruptions).
    public var epochSeconds = 0.0
    /// The finished epochs.
    public var history: [EpochSummary] = []
    /// Early stopping's tracker after the last finished epoch.
    public var tracker: EarlyStopping?
    /// ReduceLROnPlateau's tracker after the last finished epoch (its scale applies to every step).
    public var plateau: ReduceLROnPlateau?
    /// No step is left: every epoch ran, or early stopping ended training.
    public var finished = false
    enum CodingKeys: String, CodingKey {
        case epoch, batch, step, metrics, epochSeconds = "epoch_seconds", history, tracker = "early_stopping"
        case plateau = "reduce_on_plateau", finished
    }

    public init() {}
}

/// What `Trainer.fit` did.
public struct FitHistory: Sendable {
    /// Every finished epoch, those of earlier (interrupted) processes included.
    public let epochs: [EpochSummary]
    /// The tracker's final state, when training used early stopping.
    public let earlyStopping: EarlyStopping?
    /// The epoch (from 0) whose weights the model ended with, when they were restored.
    public let restoredEpoch: Int?
    /// Where training stands: finished, or stopped early on request (`afterStep` said so) or
    /// because a step's loss was not finite (the trainer's `divergence`).
    public let state: FitState
    public var interrupted: Bool { !state.finished }
}

extension Trainer {
    /// `model.fit`: `options.epochs` epochs from epoch 0 (or from `options.resumedState`), each
    /// followed by validation (when given), the early-stopping check and ReduceLROnPlateau's (when
    /// configured); training ends early after `options.maxSteps` steps, with that partial epoch
    /// validated and recorded. The best weights are put back at the end when the tracker says so
    /// (kept in `options.resumedSnapshot` for a resumed fit, else in a new snapshot).
    public func fit(_ training: Subset, validation: Subset?, _ options: FitOptions,
                    callbacks: FitCallbacks = FitCallbacks()) -> FitHistory {
        let epochs = options.epochs, batchSize = options.batchSize, earlyStopping = options.earlyStopping
        var state = options.resumedState ?? FitState()
        // A fresh state (or one saved without them) starts the trackers the config asks for.
        if state.tracker == nil, let earlyStopping { state.tracker = EarlyStopping(earlyStopping) }
        if state.plateau == nil, let config = options.reduceOnPlateau { state.plateau = ReduceLROnPlateau(config) }
        precondition(state.step == step, "the trainer's step count and the state's differ")
        rateScale = state.plateau?.scale ?? 1
        let snapshot = options.resumedSnapshot
            ?? (earlyStopping?.restoreBestWeights == true ? WeightSnapshot(of: model) : nil)
        func atStepLimit() -> Bool { options.maxSteps.map { step >= $0 } ?? false }
        while !state.finished && state.epoch < epochs {
            let epoch = state.epoch
            let rate = nextRate(at: step - state.batch)                 // the epoch's first step
            let start = monotonicSeconds()
            let before = state.epochSeconds
            var stopped = false
            // At the step limit already (a fit resumed there), the partial epoch is only recorded.
            let pass = atStepLimit() ? (metrics: state.metrics, batches: state.batch)
                : trainEpoch(training, epoch: epoch, batchSize: batchSize, shuffle: options.shuffle,
                             from: state.batch, metrics: state.metrics, secondsBefore: before,
                             progress: callbacks.progress) { batches, metrics in
                guard let afterStep = callbacks.afterStep else { return atStepLimit() ? .stop : .proceed }
                state.batch = batches
                state.step = self.step
                state.metrics = metrics
                state.epochSeconds = before + monotonicSeconds() - start
                if afterStep(state) == .stop { stopped = true }
                return stopped || atStepLimit() ? .stop : .proceed
            }
            state.batch = pass.batches
            state.step = step
            state.metrics = pass.metrics
            state.epochSeconds = before + monotonicSeconds() - start
            if stopped || divergence != nil { return FitHistory(epochs: state.history, earlyStopping: state.tracker, restoredEpoch: nil, state: state) }

            let val = validation.map { evaluate($0, batchSize: options.validationBatchSize ?? batchSize) }
            // An epoch's time includes its validation pass, as Keras's progress bar counts it.
            let summary = EpochSummary(epoch: epoch, training: pass.metrics, validation: val, learningRate: rate,
                                       seconds: before + monotonicSeconds() - start)
            state.history.append(summary)
            state.epoch += 1
            state.batch = 0
            state.metrics = RunningMetrics()
            state.epochSeconds = 0
            if var tracker = state.tracker {
                let decision = tracker.update(epoch: epoch, value: summary.value(of: tracker.config.monitor))
                state.tracker = tracker
                if decision.saveWeights { snapshot?.save(model) }
                if decision.stop { state.finished = true }
            }
            if var plateau = state.plateau {
                _ = plateau.update(epoch: epoch, value: summary.value(of: plateau.config.monitor),
                                   scheduled: learningRate.rate(step))
                state.plateau = plateau
                rateScale = plateau.scale
            }
            if state.epoch >= epochs || atStepLimit() { state.finished = true }
            callbacks.epochEnd?(summary, state)
        }
        state.finished = true
        var restored: Int?
        if let tracker = state.tracker, tracker.restoresWeights, let snapshot {
            snapshot.restore(into: model)
            restored = tracker.bestEpoch
        }
        return FitHistory(epochs: state.history, earlyStopping: state.tracker, restoredEpoch: restored, state: state)
    }
}
