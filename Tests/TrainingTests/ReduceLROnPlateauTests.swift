// ReduceLROnPlateau with Keras's semantics: its decisions on metric sequences against hand-worked
// ones (patience, cooldown, min_lr, min_delta, modes), how its factor multiplies a schedule's rate
// in `fit` (every step's rate, the epoch's recorded rate, the next rate a checkpoint stores), and
// a fit stopped after a reduction, saved and continued in a fresh trainer ending with the same
// bits. Also train.max_steps: the run stops mid-epoch, with that epoch recorded.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import TestSupport
import Training

/// Feeds `values` epoch by epoch with the schedule's rate `scheduled`; returns the effective rate
/// after each epoch and the tracker.
func plateauRun(_ config: ReduceLROnPlateau.Config, _ values: [Double?], scheduled: Float = 0.1)
    -> (rates: [Float], tracker: ReduceLROnPlateau) {
    var tracker = ReduceLROnPlateau(config)
    var rates: [Float] = []
    for (epoch, value) in values.enumerated() {
        _ = tracker.update(epoch: epoch, value: value, scheduled: scheduled)
        rates.append(tracker.rate(scheduled))
    }
    return (rates, tracker)
}

/// What the trainer computes for a scheduled rate r and a scale s: r·s in Double, rounded to Float once.
func scaled(_ r: Float, _ s: Double) -> Float { Float(Double(r) * s) }

@Suite("ReduceLROnPlateau")
struct ReduceLROnPlateauTests {
    @Test("Keras's defaults: val_loss, factor 0.1, patience 10, auto, min_delta 1e-4, cooldown 0, min_lr 0")
    func defaults() {
        let c = ReduceLROnPlateau.Config()
        #expect(c.monitor == .valLoss && c.factor == 0.1 && c.patience == 10 && c.mode == .auto)
        #expect(c.minDelta == 1e-4 && c.cooldown == 0 && c.minLR == 0 && !c.maximizes)
        // Ten epochs without improvement after the first: the rate drops after the eleventh (epoch 10).
        let run = plateauRun(c, [1.0] + Array(repeating: 1.0, count: 10))
        #expect(run.tracker.reductions == [10] && run.rates[9] == 0.1 && run.rates[10] == scaled(0.1, 0.1))
    }

    @Test("patience 2, factor 0.5: reduced after epochs 3 and 5; an improvement restarts the wait")
    func patience() {
        // epoch 0: best 1.0 · 1: 0.9 is better · 2: wait 1 · 3: wait 2 → 0.05 · 4: wait 1 · 5: wait 2 → 0.025 · 6: better.
        let run = plateauRun(.init(factor: 0.5, patience: 2), [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5, 0.6])
        #expect(run.tracker.reductions == [3, 5])
        #expect(run.rates == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025])
        #expect(run.tracker.best == 0.5 && run.tracker.wait == 1 && run.tracker.scale == 0.25)
    }

    @Test("min_delta: 1.0 → 0.99995 is no improvement with the default 1e-4; equal is none either")
    func minDelta() {
        #expect(plateauRun(.init(patience: 1), [1.0, 0.99995]).tracker.reductions == [1])
        #expect(plateauRun(.init(patience: 1), [1.0, 0.9998]).tracker.reductions.isEmpty)
        #expect(plateauRun(.init(patience: 1, minDelta: 0), [1.0, 1.0]).tracker.reductions == [1])
    }

    @Test("cooldown N rests N − 1 epochs after a reduction (Keras counts the cooldown down first)")
    func cooldown() {
        // patience 1, cooldown 2, never improving: reduced after epochs 1, 3, 5 (epochs 2 and 4 rest).
        let run = plateauRun(.init(factor: 0.5, patience: 1, cooldown: 2), [1, 2, 3, 4, 5, 6])
        #expect(run.tracker.reductions == [1, 3, 5])
        // cooldown 1 is no rest at all, as in Keras.
        #expect(plateauRun(.init(factor: 0.5, patience: 1, cooldown: 1), [1, 2, 3, 4]).tracker.reductions == [1, 2, 3])
        // An improvement during the cooldown still becomes the best.
        let improving = plateauRun(.init(factor: 0.5, patience: 1, cooldown: 3), [1, 2, 0.5, 0.7])
        #expect(improving.tracker.best == 0.5 && improving.tracker.reductions == [1])
    }

    @Test("min_lr: max(lr·factor, min_lr); a rate at min_lr is not reduced and the wait keeps counting")
    func minLR() {
        let run = plateauRun(.init(factor: 0.1, patience: 0, minLR: 0.005), [1, 1, 1, 1, 1])
        #expect(run.tracker.reductions == [1, 2])
        #expect(run.rates == [0.1, scaled(0.1, 0.1), 0.005, 0.005, 0.005])
        #expect(run.tracker.wait == 2)
    }

    @Test("modes: auto raises accuracies and lowers losses; max and min force the direction; no value, no change")
    func modes() {
        #expect(plateauRun(.init(monitor: .valAccuracy, patience: 0), [0.5, 0.6, 0.55]).tracker.reductions == [2])
        #expect(plateauRun(.init(monitor: .loss, patience: 0, mode: .max), [0.5, 0.6, 0.55]).tracker.reductions == [2])
        #expect(plateauRun(.init(monitor: .accuracy, patience: 0, mode: .min), [0.5, 0.4, 0.3]).tracker.reductions.isEmpty)
        let missing = plateauRun(.init(patience: 0), [nil, nil, nil])
        #expect(missing.tracker == ReduceLROnPlateau(.init(patience: 0)))
        // NaN never improves.
        #expect(plateauRun(.init(patience: 0), [1.0, .nan]).tracker.reductions == [1])
    }

    @Test("with a schedule: min_lr bounds the reduction against the schedule's rate of the next step")
    func withSchedule() {
        var t = ReduceLROnPlateau(.init(factor: 0.1, patience: 0, minLR: 0.002))
        _ = t.update(epoch: 0, value: 1, scheduled: 0.1)
        var reduced = t.update(epoch: 1, value: 1, scheduled: 0.04)  // 0.04·0.1 = 0.004 ≥ min_lr
        #expect(reduced)
        #expect(t.scale == 0.1 && t.rate(0.04) == scaled(0.04, 0.1))
        reduced = t.update(epoch: 2, value: 1, scheduled: 0.03)      // 0.003·0.1 → held at 0.002
        #expect(reduced)
        #expect(t.rate(0.03) == 0.002)
        // The schedule may take it lower afterwards; then it is not reduced again.
        reduced = t.update(epoch: 3, value: 1, scheduled: 0.015)
        #expect(t.rate(0.015) < 0.002 && !reduced && t.reductions == [1, 2])
    }

    @Test("in fit: every step's rate is the schedule's × the factor; the epoch's recorded rate includes it")
    func fitRates() throws {
        let recorder = RecordingOptimizer()
        // step: ×0.5 every epoch. The training loss with min_delta 10 never improves: reduced after every epoch.
        let lr = LearningRate(base: 0.5, schedule: try schedule("step", #"{"step_size": 1, "factor": 0.5}"#),
                              stepsPerEpoch: 10, epochs: 3, reducedOnPlateau: true)
        let trainer = try makeTrainer(seed: 2, threads: 1, dropout: false, optimizer: recorder, learningRate: lr)
        var nextRates: [Float] = []
        let history = trainer.fit(Subset(quadrants(count: 160, seed: 2)), validation: nil,
                                  FitOptions(epochs: 3, batchSize: 16,
                                             reduceOnPlateau: .init(monitor: .loss, factor: 0.2, patience: 0, minDelta: 10)),
                                  callbacks: FitCallbacks(epochEnd: { _, _ in nextRates.append(trainer.nextLearningRate) }))
        // Epoch 0: 0.5 · epoch 1: 0.25 × (no reduction yet: the first epoch sets the best) · epoch 2: 0.125 × 0.2.
        let expected: [Float] = Array(repeating: 0.5, count: 10) + Array(repeating: 0.25, count: 10)
            + Array(repeating: scaled(0.125, 0.2), count: 10)
        #expect(recorder.rates == expected)
        #expect(history.epochs.map(\.learningRate) == [0.5, 0.25, scaled(0.125, 0.2)])
        #expect(history.state.plateau?.reductions == [1, 2])
        #expect(nextRates == [0.25, scaled(0.125, 0.2), scaled(0.0625, 0.2 * 0.2)])
        #expect(lr.isScheduled && !LearningRate(base: 0.5, stepsPerEpoch: 10).isScheduled)
    }

    @Test("stopped after a reduction, saved, loaded into a fresh trainer: the same final weights and state")
    func resume() throws {
        let data = quadrants(count: 600, seed: 4)
        let (training, validation) = Subset.split(data, validationFraction: 0.2)
        let config = ReduceLROnPlateau.Config(monitor: .valLoss, factor: 0.5, patience: 0, minDelta: 0.05)
        let options = FitOptions(epochs: 5, batchSize: 16, reduceOnPlateau: config)
        func trainer(_ threads: Int) throws -> Trainer {
            var adam = Adam.Config()
            adam.learningRate = 0.02
            return try makeTrainer(seed: 13, threads: threads, optimizer: Adam(adam),
                            learningRate: LearningRate(base: 0.02, stepsPerEpoch: 30, epochs: 5, reducedOnPlateau: true))
        }
        let whole = try trainer(2)
        let reference = whole.fit(training, validation: validation, options)
        let reductions = try #require(reference.state.plateau?.reductions)
        try #require(!reductions.isEmpty && reductions[0] < 3, "no early reduction: \(reference.epochs.map(\.validation?.loss))")
        let stopAt = (reductions[0] + 1) * 30 + 11                  // mid-epoch, after the first reduction

        let first = try trainer(1)
        let stopped = first.fit(training, validation: validation, options,
                                callbacks: FitCallbacks(afterStep: { $0.step == stopAt ? .stop : .proceed }))
        #expect(stopped.interrupted && stopped.state.plateau?.reductions == [reductions[0]])
        #expect(try #require(stopped.state.plateau).scale == 0.5)
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        var names = [CheckpointTensor(name: "parameters", shape: [first.model.parameters.count])]
        var views = [first.model.parameters.view]
        for (name, values) in first.optimizer.state {
            names.append(CheckpointTensor(name: "optimizer/" + name, shape: [values.count]))
            views.append(values.view)
        }
        try CheckpointFile<TestHeader>.write(header: TestHeader(note: "", training: stopped.state, tensors: names),
                                             tensors: views, to: scratch("p.ckpt"))

        let file = try CheckpointFile<TestHeader>(path: scratch("p.ckpt"))
        #expect(file.header.training == stopped.state)
        func fresh() throws -> Trainer {
            let second = try trainer(2)
            try file.copy("parameters", into: second.model.parameters.view)
            for (name, values) in second.optimizer.state { try file.copy("optimizer/" + name, into: values.view) }
            second.resume(atStep: file.header.training.step)
            return second
        }
        let second = try fresh()
        #expect(second.nextLearningRate == 0.02, "the factor comes from the state, not the trainer")
        let finished = second.fit(training, validation: validation, FitOptions(
            epochs: 5, batchSize: 16, reduceOnPlateau: config, resumedState: file.header.training))
        #expect(second.model.parameters.array.map(\.bitPattern) == whole.model.parameters.array.map(\.bitPattern))
        #expect(finished.state.plateau == reference.state.plateau)
        #expect(finished.epochs.map(\.learningRate) == reference.epochs.map(\.learningRate))

        // Without the plateau state (the factor back at 1) the continued run differs: it is state.
        var forgotten = file.header.training
        forgotten.plateau = nil
        let third = try fresh()
        _ = third.fit(training, validation: validation, FitOptions(epochs: 5, batchSize: 16, reduceOnPlateau: config,
                                                                    resumedState: forgotten))
        #expect(third.model.parameters.array != whole.model.parameters.array)
    }

    @Test("max_steps: training stops mid-epoch; that partial epoch is validated and recorded")
    func maxSteps() throws {
        let data = quadrants(count: 480, seed: 5)                  // 30 steps of 16 an epoch
        let trainer = try makeTrainer(seed: 3, threads: 2)
        let history = trainer.fit(Subset(data), validation: Subset(data),
                                  FitOptions(epochs: 4, batchSize: 16, maxSteps: 70))
        #expect(trainer.step == 70 && !history.interrupted && history.state.finished)
        #expect(history.epochs.map(\.training.samples) == [480, 480, 160])
        #expect(history.epochs.count == 3 && history.epochs[2].validation != nil)

        // Interrupted exactly at the limit and resumed: no further step, the partial epoch recorded once.
        let first = try makeTrainer(seed: 3, threads: 1)
        let stopped = first.fit(Subset(data), validation: Subset(data), FitOptions(epochs: 4, batchSize: 16, maxSteps: 70),
                                callbacks: FitCallbacks(afterStep: { $0.step == 70 ? .stop : .proceed }))
        #expect(stopped.interrupted && stopped.state.step == 70 && stopped.state.batch == 10)
        let resumed = first.fit(Subset(data), validation: Subset(data),
                                FitOptions(epochs: 4, batchSize: 16, maxSteps: 70, resumedState: stopped.state))
        #expect(first.step == 70 && resumed.epochs.map(\.training.samples) == [480, 480, 160])
        #expect(first.model.parameters.array == trainer.model.parameters.array)
        // one_cycle's length follows max_steps when it comes first.
        #expect(LearningRate(base: 1, stepsPerEpoch: 30, epochs: 4, maxSteps: 70).length.totalSteps == 70)
        #expect(LearningRate(base: 1, stepsPerEpoch: 30, epochs: 2, maxSteps: 70).length.totalSteps == 60)
    }
}
