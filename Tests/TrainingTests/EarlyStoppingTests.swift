// Early stopping with Keras's EarlyStopping semantics: on synthetic metric sequences (patience,
// min_delta, modes, baseline, start_from_epoch, when weights are saved), its state as a plain
// value, and end to end with the trainer (stops at the right epoch, restores the best weights).
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// Feeds `values` epoch by epoch; returns the epoch (from 0) it stopped at, or nil, and the tracker.
func run(_ config: EarlyStopping.Config, _ values: [Double?]) -> (stopped: Int?, tracker: EarlyStopping,
                                                                 saved: [Int]) {
    var tracker = EarlyStopping(config)
    var saved: [Int] = []
    for (epoch, value) in values.enumerated() {
        let decision = tracker.update(epoch: epoch, value: value)
        if decision.saveWeights { saved.append(epoch) }
        if decision.stop { return (epoch, tracker, saved) }
    }
    return (nil, tracker, saved)
}

@Suite("Early stopping")
struct EarlyStoppingTests {
    @Test("patience: stops after `patience` epochs without improvement")
    func patience() {
        let (stopped, tracker, _) = run(.init(monitor: .valLoss, patience: 2), [1.0, 0.8, 0.85, 0.9, 0.7])
        #expect(stopped == 3)
        #expect(tracker.stoppedEpoch == 3 && tracker.bestEpoch == 1 && tracker.best == 0.8 && tracker.wait == 2)
        // patience 0 (Keras's default) stops at the first epoch that does not improve, never at epoch 0.
        #expect(run(.init(monitor: .loss), [1.0, 1.1, 0.5]).stopped == 1)
        #expect(run(.init(monitor: .loss), [1.0, 0.9, 0.8, 0.7]).stopped == nil)
    }

    @Test("min_delta: a smaller change is no improvement")
    func minDelta() {
        #expect(run(.init(monitor: .loss, patience: 1, minDelta: 0.1), [1.0, 0.95, 0.5]).stopped == 1)
        #expect(run(.init(monitor: .loss, patience: 1, minDelta: 0.01), [1.0, 0.95, 0.5]).stopped == nil)
        // Equal is not better.
        #expect(run(.init(monitor: .loss, patience: 0), [1.0, 1.0]).stopped == 1)
    }

    @Test("mode auto: accuracies should rise, losses fall; min and max force the direction")
    func modes() {
        let rising = run(.init(monitor: .valAccuracy, patience: 1), [0.5, 0.6, 0.55, 0.58])
        #expect(rising.stopped == 2 && rising.tracker.bestEpoch == 1 && rising.tracker.best == 0.6)
        #expect(run(.init(monitor: .accuracy, patience: 0, mode: .min), [0.5, 0.4, 0.3]).stopped == nil)
        #expect(run(.init(monitor: .loss, patience: 0, mode: .max), [0.5, 0.4]).stopped == 1)
        #expect(EarlyStopping.Config(monitor: .valLoss).maximizes == false)
        #expect(EarlyStopping.Config(monitor: .accuracy).maximizes)
    }

    @Test("start_from_epoch: earlier epochs are not watched")
    func startFromEpoch() {
        let (stopped, tracker, _) = run(.init(monitor: .loss, patience: 0, startFromEpoch: 2), [1, 2, 3, 4, 5])
        #expect(stopped == 3 && tracker.bestEpoch == 2)
    }

    @Test("baseline: the wait only restarts on epochs that also beat it (Keras)")
    func baseline() {
        // Without a baseline: wait resets at epoch 0, stops at epoch 2.
        #expect(run(.init(monitor: .valLoss, patience: 2), [0.9, 0.95, 0.96]).stopped == 2)
        // With baseline 0.5 the first epoch counts as waiting: stops at epoch 1.
        #expect(run(.init(monitor: .valLoss, patience: 2, baseline: 0.5), [0.9, 0.95, 0.96]).stopped == 1)
    }

    @Test("restore_best_weights: weights are saved at the first watched epoch and at each improvement")
    func saving() {
        let (stopped, tracker, saved) = run(.init(monitor: .valLoss, patience: 1, restoreBestWeights: true),
                                            [0.9, 0.7, 0.8, 0.6])
        #expect(stopped == 2 && saved == [0, 1] && tracker.restoresWeights && tracker.bestEpoch == 1)
        // A first value that is not a number: the current weights are still the best so far.
        let nan = run(.init(monitor: .valLoss, patience: 5, restoreBestWeights: true), [.nan, 0.5])
        #expect(nan.saved == [0, 1] && nan.tracker.bestEpoch == 1)
        // No value at all (no validation): nothing happens.
        let missing = run(.init(monitor: .valLoss, restoreBestWeights: true), [nil, nil])
        #expect(missing.stopped == nil && missing.saved.isEmpty && !missing.tracker.restoresWeights)
        #expect(!run(.init(monitor: .valLoss), [0.9, 0.7]).tracker.restoresWeights)
    }

    @Test("the tracker is a plain value: a copy (or one rebuilt from its state) continues identically")
    func plainValue() {
        var a = EarlyStopping(.init(monitor: .valLoss, patience: 3))
        for (epoch, value) in [1.0, 0.8, 0.9].enumerated() { _ = a.update(epoch: epoch, value: value) }
        var b = a
        var c = EarlyStopping(a.config, best: a.best, bestEpoch: a.bestEpoch, wait: a.wait, stoppedEpoch: a.stoppedEpoch)
        #expect(b == a && c == a)
        for (epoch, value) in [(3, 0.95), (4, 0.97), (5, 0.99)] {
            let da = a.update(epoch: epoch, value: value)
            #expect(b.update(epoch: epoch, value: value) == da && c.update(epoch: epoch, value: value) == da)
        }
        #expect(a.stoppedEpoch == 5 && b == a && c == a)
    }

    @Test("end to end: fit stops at the epoch the rule says and restores the best epoch's weights")
    func fitRestores() throws {
        let data = quadrants(count: 400, seed: 8)
        let (training, validation) = Subset.split(data, validationFraction: 0.25)
        let config = EarlyStopping.Config(monitor: .valAccuracy, patience: 1, restoreBestWeights: true)

        // Reference: every epoch's weights and metrics without early stopping.
        let reference = try makeTrainer(seed: 21, threads: 2)
        var weights: [[Float]] = []
        let full = reference.fit(training, validation: validation, FitOptions(epochs: 8, batchSize: 16),
                                 callbacks: FitCallbacks(epochEnd: { _, _ in weights.append(reference.model.parameters.array) }))
        let expected = run(config, full.epochs.map { $0.validation?.accuracy })
        try #require(expected.stopped != nil, "the reference run never stops: \(full.epochs.map { $0.validation?.accuracy })")

        let trainer = try makeTrainer(seed: 21, threads: 1)
        let history = trainer.fit(training, validation: validation,
                                  FitOptions(epochs: 8, batchSize: 16, earlyStopping: config))
        let tracker = try #require(history.earlyStopping)
        #expect(tracker.stoppedEpoch == expected.stopped)
        #expect(history.epochs.count == (expected.stopped.map { $0 + 1 } ?? 8))
        let best = try #require(tracker.bestEpoch)
        #expect(best == expected.tracker.bestEpoch)
        #expect(history.restoredEpoch == best)
        #expect(trainer.model.parameters.array == weights[best])
        #expect(trainer.evaluate(validation!, batchSize: 16).accuracy == full.epochs[best].validation?.accuracy)
    }

    @Test("end to end: a huge min_delta on the training loss stops after the second epoch")
    func fitStops() throws {
        let data = quadrants(count: 200, seed: 8)
        let trainer = try makeTrainer(seed: 22, threads: 2)
        var seen: [Int] = []
        let history = trainer.fit(Subset(data), validation: nil,
                                  FitOptions(epochs: 10, batchSize: 16,
                                             earlyStopping: .init(monitor: .loss, patience: 1, minDelta: 10)),
                                  callbacks: FitCallbacks(epochEnd: { e, _ in seen.append(e.epoch) }))
        #expect(seen == [0, 1])
        #expect(history.earlyStopping?.stoppedEpoch == 1 && history.restoredEpoch == nil)
        #expect(trainer.step == 2 * 13)
    }
}
