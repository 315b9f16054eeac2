// The training loop: shuffle, fill a batch, forward, loss, backward, update — and evaluation.
//
// Everything a step touches was allocated when the trainer was made; a step allocates nothing.
// Every random choice comes from a named stream of the seed, indexed by epoch or step, so the
// state of a run is (parameters, optimizer state, step): nothing hidden.
import Datasets
import Kernels
import NeuralNetwork
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loss and accuracy averaged over the samples seen so far in an epoch (what Keras displays).
public struct RunningMetrics: Sendable {
    public var samples = 0
    public var lossSum = 0.0
    public var correct = 0
    public var loss: Double { samples == 0 ? 0 : lossSum / Double(samples) }
    public var accuracy: Double { samples == 0 ? 0 : Double(correct) / Double(samples) }
}

/// Where an epoch stands after a batch, for progress displays.
public struct BatchProgress: Sendable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    public let metrics: RunningMetrics
    public let seconds: Double
}

/// Test or validation results.
public struct Evaluation: Sendable, Codable {
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
    /// Optimizer steps taken so far.
    public private(set) var step = 0

    private let targets: FloatStorage
    private let probabilities: FloatStorage
    private let losses: FloatStorage

    public init(model: Sequential, loss: any Loss, optimizer: any Optimizer, transform: PixelTransform,
                classes: Int, seed: UInt64, pool: ThreadPool?) {
        precondition(model.outputCount == classes)
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.transform = transform
        self.classes = classes
        self.seed = seed
        self.pool = pool
        let perSample = loss.targetEncoding == .oneHot ? classes : 1
        targets = FloatStorage(count: model.maxBatch * perSample)
        probabilities = FloatStorage(count: model.maxBatch * classes)
        losses = FloatStorage(count: model.maxBatch)
        optimizer.prepare(parameterCount: model.trainableCount)
    }

    /// The order of the training images in epoch `epoch` (from 0): a permutation drawn from the
    /// stream ("shuffle", index: epoch), or the stored order when not shuffling.
    public func epochOrder(_ data: Subset, epoch: Int, shuffle: Bool) -> [Int] {
        guard shuffle else { return data.indices }
        var stream = RandomStream(seed: seed, name: "shuffle", index: UInt64(epoch))
        return stream.permutation(data.count).map { data.indices[$0] }
    }

    /// One pass over `data` in batches of `batchSize` (the last batch may be smaller, as in Keras).
    public func trainEpoch(_ data: Subset, epoch: Int, batchSize: Int, shuffle: Bool,
                           progress: ((BatchProgress) -> Void)? = nil) -> RunningMetrics {
        precondition(batchSize > 0 && batchSize <= model.maxBatch)
        let order = epochOrder(data, epoch: epoch, shuffle: shuffle)
        let batches = (order.count + batchSize - 1) / batchSize
        let oneHot = loss.targetEncoding == .oneHot
        var metrics = RunningMetrics()
        let start = monotonicSeconds()
        for b in 0..<batches {
            let batch = order[(b * batchSize)..<min(order.count, (b + 1) * batchSize)]
            let n = batch.count
            data.images.fillInputs(batch, transform: transform, into: model.input.view, pool: pool)
            data.images.fillTargets(batch, oneHot: oneHot, classes: classes, into: targets.view)

            step += 1
            let context = PassContext(training: true, seed: seed, step: UInt64(step), pool: pool)
            let output = model.forward(batch: n, context: context)
            loss.evaluate(logits: output, targets: targets.view, batch: n, classes: classes,
                          probabilities: probabilities.view, losses: losses.view,
                          gradient: model.outputGradient)
            model.zeroGradients(pool: pool)
            model.backward(batch: n, context: context)
            optimizer.update(parameters: model.parameters.view, gradients: model.gradients.view,
                             step: step, learningRate: optimizer.learningRate, pool: pool)

            accumulate(&metrics, batch: batch, images: data.images)
            progress?(BatchProgress(epoch: epoch, batch: b + 1, batches: batches, metrics: metrics,
                                    seconds: monotonicSeconds() - start))
        }
        return metrics
    }

    /// Loss, accuracy and confusion matrix of the model on `data`, in inference mode.
    public func evaluate(_ data: Subset, batchSize: Int) -> Evaluation {
        let batchSize = min(batchSize, model.maxBatch)
        let oneHot = loss.targetEncoding == .oneHot
        var metrics = RunningMetrics()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
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
            for (row, index) in batch.enumerated() {
                let predicted = rowArgmax(probabilities.view, row: row, cols: classes)
                confusion[Int(data.images.labels[index])][predicted] += 1
            }
            accumulate(&metrics, batch: batch, images: data.images)
            start += n
        }
        return Evaluation(loss: metrics.loss, accuracy: metrics.accuracy, samples: metrics.samples,
                          confusion: confusion)
    }

    /// Adds the batch's losses and correct predictions, in sample order.
    private func accumulate(_ metrics: inout RunningMetrics, batch: ArraySlice<Int>, images: ImageSet) {
        for (row, index) in batch.enumerated() {
            metrics.lossSum += Double(losses.view[row])
            if rowArgmax(probabilities.view, row: row, cols: classes) == Int(images.labels[index]) {
                metrics.correct += 1
            }
        }
        metrics.samples += batch.count
    }
}

/// Seconds on a clock that never goes backwards.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
