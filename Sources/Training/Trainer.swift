// The training step and its loop: shuffle, fill a batch (augmented), forward, loss, backward,
// penalties, update at the scheduled rate; and evaluation. Epochs with validation and early
// stopping (`fit`) are in Fit.swift.
//
// Everything a step touches was allocated when the trainer was made; a step allocates nothing.
// Training and evaluation run with denormals flushed to zero (Kernels/Denormals.swift).
// Every random choice comes from a named stream of the seed, indexed by epoch or step, and the
// learning rate is a function of the step (times ReduceLROnPlateau's factor), so the state of a
// run is (parameters, optimizer state, step, the early-stopping and plateau trackers): nothing hidden.
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

/// Where training diverged: the step whose training loss was not finite. That step's update was
/// not applied, so the model holds the weights the step started from (those of step `step − 1`).
public struct Divergence: Sendable, Codable, Equatable {
    /// The epoch of that step (from 0).
    public let epoch: Int
    /// The batch of the epoch (from 1).
    public let batch: Int
    /// The optimizer step (from 1) whose loss was not finite.
    public let step: Int
    /// Its mean training loss over the batch: NaN or ±infinity.
    public let loss: Double

    public init(epoch: Int, batch: Int, step: Int, loss: Double) {
        self.epoch = epoch
        self.batch = batch
        self.step = step
        self.loss = loss
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
    /// Set when a step's training loss was not finite: training stopped before that step's update.
    public private(set) var divergence: Divergence?
    /// What every step's scheduled rate is multiplied by: ReduceLROnPlateau's factor so far (1
    /// without it). `fit` sets it from its state, so it is part of the state a checkpoint holds.
    public var rateScale = 1.0
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
        let stepped = model.tensorsSteppedInBackward
        steppedRanges = stepped.map { $0.offset..<($0.offset + $0.count) }
        stepsOptimizerDuringBackward = optimizer.stepsDuringBackward && penalties.isEmpty && !stepped.isEmpty
        // Made once: a step only sets `backwardStep` (no allocation in the step). The rule runs
        // on the calling thread (pool nil), on the elements the layer hands over.
        let parameters = model.parameters.view, gradients = model.gradients.view
        backwardSteps = stepped.map { tensor in
            let offset = tensor.offset, multiplier = tensor.learningRateMultiplier
            return ParameterStep { [unowned self] elements in
                let (step, rate, momentum) = self.backwardStep
                self.optimizer.apply(offset + elements.lowerBound..<offset + elements.upperBound,
                                     parameters: parameters, gradients: gradients, step: step,
                                     learningRate: rate * multiplier, momentum: momentum, pool: nil)
            }
        }
    }

    /// Whether a training step has the optimizer step the tensors in `steppedRanges` during the
    /// backward pass (each part as its gradient is final: Dense's kernel, while the gradient is
    /// still in cache), and the rest after it. Not with clipping (which needs every gradient
    /// first) or penalties (whose gradients are added after the pass). Same bits either way.
    public let stepsOptimizerDuringBackward: Bool
    private let steppedRanges: [Range<Int>]
    /// The optimizer's rule for each of those tensors, as the layers run it, at the step, rate
    /// and momentum in `backwardStep` (set before each backward pass; `beginStep` has run).
    private var backwardSteps: [ParameterStep] = []
    private var backwardStep: (step: Int, rate: Float, momentum: Float?) = (0, 0, nil)

    /// The order of the training images in epoch `epoch` (from 0): a permutation drawn from the
    /// stream ("shuffle", index: epoch), or the stored order when not shuffling.
    public func epochOrder(_ data: Subset, epoch: Int, shuffle: Bool) -> [Int] {
        guard shuffle else { return data.indices }
        var stream = RandomStream(seed: seed, name: "shuffle", index: UInt64(epoch))
        return stream.permutation(data.count).map { data.indices[$0] }
    }

    /// The rate the next optimizer step will use.
    public var nextLearningRate: Float { nextRate(at: step) }

    /// The rate of the update that follows `iteration` earlier ones: the schedule's × `rateScale`
    /// (exactly the schedule's when the scale is 1).
    func nextRate(at iteration: Int) -> Float { Float(Double(learningRate.rate(iteration)) * rateScale) }

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
        withDenormalsFlushed {
            trainBatches(data, epoch: epoch, batchSize: batchSize, shuffle: shuffle, from: firstBatch,
                         metrics: initial, secondsBefore: secondsBefore, progress: progress, afterStep: afterStep)
        }
    }

    private func trainBatches(_ data: Subset, epoch: Int, batchSize: Int, shuffle: Bool, from firstBatch: Int,
                              metrics initial: RunningMetrics, secondsBefore: Double,
                              progress: ((BatchProgress) -> Void)?,
                              afterStep: ((Int, RunningMetrics) -> StepDecision)?)
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

            let rate = nextRate(at: step)                           // from the steps taken before this one
            step += 1
            let context = PassContext(training: true, seed: seed, step: UInt64(step), pool: pool)
            let momentum = learningRate.momentum(step - 1)
            // The batch's loss (read before the update, which does not touch it): a non-finite one
            // stops training here, without the update its gradients would make. When the
            // optimizer steps tensors during the backward pass, that pass comes after the check.
            var after = metrics
            if stepsOptimizerDuringBackward {
                forwardLoss(batch: n, context: context)
                accumulate(&after, batch: batch, images: data.images, penalty: 0)   // no penalties here
            } else {
                let penalty = forwardBackward(batch: n, context: context)
                accumulate(&after, batch: batch, images: data.images, penalty: penalty)
            }
            if !after.lossSum.isFinite && metrics.lossSum.isFinite {
                divergence = Divergence(epoch: epoch, batch: b + 1, step: step,
                                        loss: (after.lossSum - metrics.lossSum) / Double(n))
                step -= 1
                return (metrics, b)
            }
            if stepsOptimizerDuringBackward {
                optimizer.beginStep(step, momentum: momentum)
                model.zeroGradients(pool: pool)
                backwardStep = (step, rate, momentum)
                model.backward(batch: n, context: context, steps: backwardSteps)
                optimizer.applyRuns(parameters: model.parameters.view, gradients: model.gradients.view, step: step,
                                    learningRate: rate, momentum: momentum, except: steppedRanges, pool: pool)
            } else {
                optimizer.update(parameters: model.parameters.view, gradients: model.gradients.view,
                                 step: step, learningRate: rate, momentum: momentum, pool: pool)
            }
            metrics = after
            progress?(BatchProgress(epoch: epoch, batch: b + 1, batches: batches, metrics: metrics,
                                    seconds: secondsBefore + monotonicSeconds() - start))
            if afterStep?(b + 1, metrics) == .stop { return (metrics, b + 1) }
        }
        return (metrics, batches)
    }

    /// Forward, loss, backward and penalties for the batch in the model's input and `targets`:
    /// leaves dL/dθ (penalty gradients included) in `model.gradients`; returns the penalties' sum.
    private func forwardBackward(batch n: Int, context: PassContext) -> Double {
        forwardLoss(batch: n, context: context)
        model.zeroGradients(pool: pool)
        model.backward(batch: n, context: context)
        return applyPenalties(gradients: true)
    }

    /// Forward and loss: the losses in `losses`, dL/d(output) in the model's output gradient.
    private func forwardLoss(batch n: Int, context: PassContext) {
        let output = model.forward(batch: n, context: context)
        loss.evaluate(logits: output, targets: targets.view, batch: n, classes: classes,
                      probabilities: probabilities.view, losses: losses.view, gradient: model.outputGradient)
    }

    /// Whether every parameter is a finite number (no NaN or infinity).
    public var parametersAreFinite: Bool {
        let view = model.parameters.view
        var bad: UInt32 = 0
        for i in 0..<view.count { bad |= view[i].bitPattern & 0x7F80_0000 == 0x7F80_0000 ? 1 : 0 }
        return bad == 0
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
        let penalty = withDenormalsFlushed { forwardBackward(batch: batch.count, context: context) }
        var metrics = RunningMetrics()
        accumulate(&metrics, batch: batch, images: images, penalty: penalty)
        return metrics.loss
    }

    /// Loss (penalties included, as Keras reports it), accuracy and confusion matrix of the model
    /// on `data`, in inference mode. Images are never augmented here.
    public func evaluate(_ data: Subset, batchSize: Int) -> Evaluation {
        var none: [Float]?
        return evaluate(data, batchSize: batchSize, probabilities: &none)
    }

    /// `evaluate`, and the class probabilities of every image (`classes` per image, in `data`'s
    /// order) from the same pass.
    public func evaluateWithProbabilities(_ data: Subset, batchSize: Int) -> (Evaluation, [Float]) {
        var rows: [Float]? = []
        rows!.reserveCapacity(data.count * classes)
        let evaluation = evaluate(data, batchSize: batchSize, probabilities: &rows)
        return (evaluation, rows!)
    }

    private func evaluate(_ data: Subset, batchSize: Int, probabilities rows: inout [Float]?) -> Evaluation {
        var metrics = RunningMetrics()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        let penalty = applyPenalties(gradients: false)
        inferBatches(data, batchSize: batchSize) { batch in
            for (row, index) in batch.enumerated() {
                let predicted = rowArgmax(probabilities.view, row: row, cols: classes)
                confusion[Int(data.images.labels[index])][predicted] += 1
            }
            if rows != nil {
                for i in 0..<(batch.count * classes) { rows!.append(probabilities.view[i]) }
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
            withDenormalsFlushed {                                  // as in training
                let output = model.forward(batch: n, context: context)
                loss.evaluate(logits: output, targets: targets.view, batch: n, classes: classes,
                              probabilities: probabilities.view, losses: losses.view, gradient: nil)
            }
            body(batch)
            start += n
        }
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
