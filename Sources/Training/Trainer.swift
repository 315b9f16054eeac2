// The training loop: shuffle, fill a batch (augmented), forward, loss, backward, penalties,
// update at the scheduled rate — epochs with validation and early stopping — and evaluation.
//
// Everything a step touches was allocated when the trainer was made; a step allocates nothing.
// Every random choice comes from a named stream of the seed, indexed by epoch or step, and the
// learning rate is a function of the step, so the state of a run is (parameters, optimizer state,
// step, early-stopping tracker): nothing hidden.
import Datasets
import Kernels
import NeuralNetwork
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loss and accuracy averaged over the samples seen so far in an epoch (what Keras displays).
public struct RunningMetrics: Sendable, Codable, Equatable {
    public var samples = 0
    public var lossSum = 0.0
    public var correct = 0
    public var loss: Double { samples == 0 ? 0 : lossSum / Double(samples) }
    enum CodingKeys: String, CodingKey { case samples, lossSum = "loss_sum", correct }
    public var accuracy: Double { samples == 0 ? 0 : Double(correct) / Double(samples) }
}

/// Where an epoch stands after a batch, for progress displays.
public struct BatchProgress: Sendable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    public let metrics: RunningMetrics
    public let seconds: Double

    public init(epoch: Int, batch: Int, batches: Int, metrics: RunningMetrics, seconds: Double) {
        self.epoch = epoch
        self.batch = batch
        self.batches = batches
        self.metrics = metrics
        self.seconds = seconds
    }
}

/// Test or validation results.
public struct Evaluation: Sendable, Codable, Equatable {
    public let loss: Double
    public let accuracy: Double
    public let samples: Int
    /// confusion[true label][predicted label]
    public let confusion: [[Int]]
}

/// One finished epoch of `Trainer.fit`.
public struct EpochSummary: Sendable, Codable, Equatable {
    /// From 0.
    public let epoch: Int
    /// Loss (penalties included) and accuracy averaged over the epoch's training batches.
    public let training: RunningMetrics
    public let validation: Evaluation?
    /// The rate of the epoch's first step (what Keras's LearningRateScheduler logs).
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
}

/// Where `Trainer.fit` stands between two optimizer steps. With the model's tensors, the
/// optimizer's state (and step count) and the best-weights snapshot, it is everything the next
/// step depends on: the data order, the dropout and augmentation streams and the learning rate
/// all derive from (seed, epoch, batch, step). A checkpoint stores it; `fit(from:)` continues it.
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
    /// No step is left: every epoch ran, or early stopping ended training.
    public var finished = false
    enum CodingKeys: String, CodingKey {
        case epoch, batch, step, metrics, epochSeconds = "epoch_seconds", history, tracker = "early_stopping", finished
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
    /// Where training stands: finished, or stopped early on request (`afterStep` said so).
    public let state: FitState
    public var interrupted: Bool { !state.finished }
}

/// What `fit`'s step callback wants next.
public enum StepDecision: Sendable {
    case proceed
    /// Stop after this step (e.g. on SIGINT): `fit` returns with the state of this step.
    case stop
}

public final class Trainer {
    public let model: Sequential
    public let loss: any Loss
    public let optimizer: any Optimizer
    public let pool: ThreadPool?
    public let seed: UInt64
    public let transform: PixelTransform
    public let classes: Int
    /// The rate of every step (default: the optimizer's learning_rate throughout).
    public let learningRate: LearningRate
    /// Weight penalties added to the loss and its gradient at every step.
    public let penalties: [ParameterPenalty]
    /// Random shifts, rotations and zooms of training images (never of evaluated ones).
    public let augmentation: Augmentation?
    /// Optimizer steps taken so far.
    public private(set) var step = 0
    /// Continue counting from `step` (a resumed run; the optimizer's state must match it).
    public func resume(atStep step: Int) {
        precondition(step >= 0)
        self.step = step
    }

    private let targets: FloatStorage
    private let probabilities: FloatStorage
    private let losses: FloatStorage
    /// Each penalty's tensor and gradient in the model's flat buffers.
    private let penaltyViews: [(weights: FloatView, gradients: FloatView, regularizer: Regularizer)]
    private let partials: PartialSums

    public init(model: Sequential, loss: any Loss, optimizer: any Optimizer, transform: PixelTransform,
                classes: Int, seed: UInt64, pool: ThreadPool?, learningRate: LearningRate? = nil,
                penalties: [ParameterPenalty] = [], augmentation: Augmentation? = nil) {
        precondition(model.outputCount == classes)
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.transform = transform
        self.classes = classes
        self.seed = seed
        self.pool = pool
        self.learningRate = learningRate ?? LearningRate(base: optimizer.learningRate, stepsPerEpoch: 1)
        self.penalties = penalties
        self.augmentation = augmentation.flatMap { $0.isIdentity ? nil : $0 }
        let perSample = loss.targetEncoding == .oneHot ? classes : 1
        targets = FloatStorage(count: model.maxBatch * perSample)
        probabilities = FloatStorage(count: model.maxBatch * classes)
        losses = FloatStorage(count: model.maxBatch)
        penaltyViews = penalties.map { penalty in
            guard let entry = model.parameterTable.first(where: {
                $0.layer == penalty.layer && $0.name == penalty.parameter
            }), entry.trainable else {
                preconditionFailure("no trainable tensor '\(penalty.parameter)' in layer '\(penalty.layer)'")
            }
            return (model.parameters.view(offset: entry.offset, count: entry.count),
                    model.gradients.view(offset: entry.offset, count: entry.count), penalty.regularizer)
        }
        partials = PartialSums(capacity: penaltyViews.map { PartialSums.chunks(for: $0.weights.count) }.max() ?? 1)
        optimizer.prepare(tensors: model.trainableTensors)
    }

    /// The order of the training images in epoch `epoch` (from 0): a permutation drawn from the
    /// stream ("shuffle", index: epoch), or the stored order when not shuffling.
    public func epochOrder(_ data: Subset, epoch: Int, shuffle: Bool) -> [Int] {
        guard shuffle else { return data.indices }
        var stream = RandomStream(seed: seed, name: "shuffle", index: UInt64(epoch))
        return stream.permutation(data.count).map { data.indices[$0] }
    }

    /// The rate the next optimizer step will use.
    public var nextLearningRate: Float { learningRate.rate(step) }

    /// One pass over `data` in batches of `batchSize` (the last batch may be smaller, as in Keras).
    public func trainEpoch(_ data: Subset, epoch: Int, batchSize: Int, shuffle: Bool,
                           progress: ((BatchProgress) -> Void)? = nil) -> RunningMetrics {
        trainEpoch(data, epoch: epoch, batchSize: batchSize, shuffle: shuffle, from: 0, metrics: RunningMetrics(),
                   progress: progress).metrics
    }

    /// The batches `firstBatch`… of epoch `epoch`, adding to `metrics` (those of the batches
    /// before). `afterStep` sees (batches done, metrics) after every step and may stop the pass.
    public func trainEpoch(_ data: Subset, epoch: Int, batchSize: Int, shuffle: Bool, from firstBatch: Int,
                           metrics initial: RunningMetrics, secondsBefore: Double = 0,
                           progress: ((BatchProgress) -> Void)? = nil,
                           afterStep: ((Int, RunningMetrics) -> StepDecision)? = nil)
        -> (metrics: RunningMetrics, batches: Int) {
        precondition(batchSize > 0 && batchSize <= model.maxBatch)
        let order = epochOrder(data, epoch: epoch, shuffle: shuffle)
        let batches = (order.count + batchSize - 1) / batchSize
        precondition(firstBatch >= 0 && firstBatch <= batches)
        let oneHot = loss.targetEncoding == .oneHot
        var metrics = initial
        let start = monotonicSeconds()
        for b in firstBatch..<batches {
            let batch = order[(b * batchSize)..<min(order.count, (b + 1) * batchSize)]
            let n = batch.count
            if let augmentation {
                data.images.fillAugmentedInputs(batch, augmentation: augmentation, seed: seed, epoch: epoch,
                                                firstPosition: b * batchSize, transform: transform,
                                                into: model.input.view, pool: pool)
            } else {
                data.images.fillInputs(batch, transform: transform, into: model.input.view, pool: pool)
            }
            data.images.fillTargets(batch, oneHot: oneHot, classes: classes, into: targets.view)

            let rate = learningRate.rate(step)                      // from the steps taken before this one
            step += 1
            let context = PassContext(training: true, seed: seed, step: UInt64(step), pool: pool)
            let penalty = forwardBackward(batch: n, context: context)
            optimizer.update(parameters: model.parameters.view, gradients: model.gradients.view,
                             step: step, learningRate: rate, momentum: learningRate.momentum(step - 1), pool: pool)

            accumulate(&metrics, batch: batch, images: data.images, penalty: penalty)
            progress?(BatchProgress(epoch: epoch, batch: b + 1, batches: batches, metrics: metrics,
                                    seconds: secondsBefore + monotonicSeconds() - start))
            if afterStep?(b + 1, metrics) == .stop { return (metrics, b + 1) }
        }
        return (metrics, batches)
    }

    /// Forward, loss, backward and penalties for the batch in the model's input and `targets`:
    /// leaves dL/dθ (penalty gradients included) in `model.gradients`; returns the penalties' sum.
    private func forwardBackward(batch n: Int, context: PassContext) -> Double {
        let output = model.forward(batch: n, context: context)
        loss.evaluate(logits: output, targets: targets.view, batch: n, classes: classes,
                      probabilities: probabilities.view, losses: losses.view, gradient: model.outputGradient)
        model.zeroGradients(pool: pool)
        model.backward(batch: n, context: context)
        return applyPenalties(gradients: true)
    }

    /// Σ of the penalties on the current weights; adds their gradients when asked.
    private func applyPenalties(gradients: Bool) -> Double {
        var total = 0.0
        for p in penaltyViews {
            switch p.regularizer {
            case .l2(let lambda):
                total += l2Penalty(weights: p.weights, gradients: gradients ? p.gradients : nil, lambda: lambda,
                                   partials: partials, pool: pool)
            }
        }
        return total
    }

    /// The loss of the images `batch` of `images` (mean over the batch, penalties included) in
    /// training mode at the next step, with its gradient left in `model.gradients`; no update.
    /// For gradient checks.
    public func lossAndGradients(_ batch: ArraySlice<Int>, of images: ImageSet) -> Double {
        precondition(!batch.isEmpty && batch.count <= model.maxBatch)
        images.fillInputs(batch, transform: transform, into: model.input.view, pool: pool)
        images.fillTargets(batch, oneHot: loss.targetEncoding == .oneHot, classes: classes, into: targets.view)
        let context = PassContext(training: true, seed: seed, step: UInt64(step + 1), pool: pool)
        let penalty = forwardBackward(batch: batch.count, context: context)
        var metrics = RunningMetrics()
        accumulate(&metrics, batch: batch, images: images, penalty: penalty)
        return metrics.loss
    }

    /// Loss (penalties included, as Keras reports it), accuracy and confusion matrix of the model
    /// on `data`, in inference mode. Images are never augmented here.
    public func evaluate(_ data: Subset, batchSize: Int) -> Evaluation {
        var metrics = RunningMetrics()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        let penalty = applyPenalties(gradients: false)
        inferBatches(data, batchSize: batchSize) { batch in
            for (row, index) in batch.enumerated() {
                let predicted = rowArgmax(probabilities.view, row: row, cols: classes)
                confusion[Int(data.images.labels[index])][predicted] += 1
            }
            accumulate(&metrics, batch: batch, images: data.images, penalty: penalty)
        }
        return Evaluation(loss: metrics.loss, accuracy: metrics.accuracy, samples: metrics.samples,
                          confusion: confusion)
    }

    /// The class probabilities the model gives each image of `data` (Keras's `model.predict`),
    /// in inference mode: one row of `classes` values per image, in `data`'s order.
    public func predict(_ data: Subset, batchSize: Int) -> [[Float]] {
        var rows: [[Float]] = []
        rows.reserveCapacity(data.count)
        inferBatches(data, batchSize: batchSize) { batch in
            for row in 0..<batch.count {
                rows.append((0..<classes).map { probabilities.view[row * classes + $0] })
            }
        }
        return rows
    }

    /// Runs `data` through the model in inference mode, batch by batch; after each batch the
    /// loss has been computed into `losses` and the probabilities into `probabilities`.
    private func inferBatches(_ data: Subset, batchSize: Int, _ body: (ArraySlice<Int>) -> Void) {
        let batchSize = min(batchSize, model.maxBatch)
        let oneHot = loss.targetEncoding == .oneHot
        let context = PassContext(training: false, seed: seed, step: UInt64(step), pool: pool)
        var start = 0
        while start < data.count {
            let batch = data.indices[start..<min(data.count, start + batchSize)]
            let n = batch.count
            data.images.fillInputs(batch, transform: transform, into: model.input.view, pool: pool)
            data.images.fillTargets(batch, oneHot: oneHot, classes: classes, into: targets.view)
            let output = model.forward(batch: n, context: context)
            loss.evaluate(logits: output, targets: targets.view, batch: n, classes: classes,
                          probabilities: probabilities.view, losses: losses.view, gradient: nil)
            body(batch)
            start += n
        }
    }

    /// `model.fit`: `epochs` epochs from epoch 0 (or from `state`, a stopped fit's), each followed
    /// by validation (when given) and the early-stopping check (when given); the best weights are
    /// put back at the end when the tracker says so (`snapshot` holds them; a resumed fit passes
    /// the one it stored). `afterStep` sees the state after every step and may stop training
    /// there; `epochEnd` sees each epoch and the state once it is finished.
    public func fit(_ training: Subset, validation: Subset?, epochs: Int, batchSize: Int, shuffle: Bool = true,
                    validationBatchSize: Int? = nil, earlyStopping: EarlyStopping.Config? = nil,
                    from resumed: FitState? = nil, snapshot resumedSnapshot: WeightSnapshot? = nil,
                    progress: ((BatchProgress) -> Void)? = nil,
                    afterStep: ((FitState) -> StepDecision)? = nil,
                    epochEnd: ((EpochSummary, FitState) -> Void)? = nil) -> FitHistory {
        var state = resumed ?? FitState()
        // A fresh state (or one saved without early stopping) starts the tracker the config asks for.
        if state.tracker == nil, let earlyStopping { state.tracker = EarlyStopping(earlyStopping) }
        precondition(state.step == step, "the trainer's step count and the state's differ")
        let snapshot = resumedSnapshot
            ?? (earlyStopping?.restoreBestWeights == true ? WeightSnapshot(of: model) : nil)
        while !state.finished && state.epoch < epochs {
            let epoch = state.epoch
            let rate = learningRate.rate(step - state.batch)        // the epoch's first step
            let start = monotonicSeconds()
            let before = state.epochSeconds
            var stopped = false
            let pass = trainEpoch(training, epoch: epoch, batchSize: batchSize, shuffle: shuffle,
                                  from: state.batch, metrics: state.metrics, secondsBefore: before,
                                  progress: progress) { batches, metrics in
                guard let afterStep else { return .proceed }
                state.batch = batches
                state.step = self.step
                state.metrics = metrics
                state.epochSeconds = before + monotonicSeconds() - start
                if afterStep(state) == .stop { stopped = true }
                return stopped ? .stop : .proceed
            }
            state.batch = pass.batches
            state.step = step
            state.metrics = pass.metrics
            state.epochSeconds = before + monotonicSeconds() - start
            if stopped { return FitHistory(epochs: state.history, earlyStopping: state.tracker, restoredEpoch: nil, state: state) }

            let val = validation.map { evaluate($0, batchSize: validationBatchSize ?? batchSize) }
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
            if state.epoch >= epochs { state.finished = true }
            epochEnd?(summary, state)
        }
        state.finished = true
        var restored: Int?
        if let tracker = state.tracker, tracker.restoresWeights, let snapshot {
            snapshot.restore(into: model)
            restored = tracker.bestEpoch
        }
        return FitHistory(epochs: state.history, earlyStopping: state.tracker, restoredEpoch: restored, state: state)
    }

    /// Adds the batch's losses (plus the batch's penalty, once per sample: Keras weights each
    /// batch's total loss by its size) and correct predictions, in sample order.
    private func accumulate(_ metrics: inout RunningMetrics, batch: ArraySlice<Int>, images: ImageSet,
                            penalty: Double) {
        for (row, index) in batch.enumerated() {
            metrics.lossSum += Double(losses.view[row])
            if rowArgmax(probabilities.view, row: row, cols: classes) == Int(images.labels[index]) {
                metrics.correct += 1
            }
        }
        metrics.lossSum += penalty * Double(batch.count)
        metrics.samples += batch.count
    }
}

extension EpochSummary {
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

