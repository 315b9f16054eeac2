// A fit stopped mid-schedule, saved to a checkpoint file and continued in a new trainer ends with
// the same bits as one that never stopped — for the new optimizers (Nadam's running momentum
// product is state that must come back), the new schedules (one_cycle's momentum cycle, inv,
// multistep), clipping and a rate multiplier.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import TestSupport
import Training

struct ResumeCase: CustomTestStringConvertible, Sendable {
    let optimizer: String
    let options: String
    let schedule: String
    let parameters: String
    var testDescription: String { "\(optimizer) \(options) + \(schedule)" }
}

@Suite("Resuming mid-schedule with the new optimizers")
struct OptimizerResumeTests {
    let data = quadrants(count: 600, seed: 3)

    static let cases: [ResumeCase] = [
        ResumeCase(optimizer: "nadam", options: #"{"learning_rate": 0.01, "clipnorm": 0.5}"#,
                   schedule: "one_cycle", parameters: "{}"),
        ResumeCase(optimizer: "sgd", options: #"{"learning_rate": 0.05, "momentum": 0.9, "global_clipnorm": 1}"#,
                   schedule: "one_cycle", parameters: #"{"three_phase": true}"#),
        ResumeCase(optimizer: "adadelta", options: #"{"learning_rate": 1.0, "clipvalue": 0.05}"#,
                   schedule: "multistep", parameters: #"{"milestones": [1, 2], "factor": 0.5}"#),
        ResumeCase(optimizer: "adagrad", options: #"{"learning_rate": 0.05}"#,
                   schedule: "inv", parameters: #"{"gamma": 0.01, "power": 0.75}"#),
        ResumeCase(optimizer: "adamax", options: #"{"learning_rate": 0.01}"#,
                   schedule: "poly", parameters: #"{"decay_steps": 60, "power": 2}"#),
    ]

    func trainer(_ c: ResumeCase, threads: Int) throws -> Trainer {
        let opt = try optimizer(c.optimizer, c.options)
        let lr = LearningRate(base: opt.learningRate, schedule: try schedule(c.schedule, c.parameters), stepsPerEpoch: 30,
                              epochs: 3)
        let trainer = try makeTrainer(seed: 9, threads: threads, optimizer: opt, learningRate: lr)
        // Caffe's bias lr_mult 2 on the hidden layer, laid out again after the trainer's prepare.
        trainer.model.setLearningRateMultiplier(2, layer: "hidden", parameter: "bias")
        opt.prepare(tensors: trainer.model.trainableTensors)
        return trainer
    }

    func tensors(_ trainer: Trainer) -> ([CheckpointTensor], [FloatView]) {
        var names = [CheckpointTensor(name: "parameters", shape: [trainer.model.parameters.count])]
        var views = [trainer.model.parameters.view]
        for (name, values) in trainer.optimizer.state {
            names.append(CheckpointTensor(name: "optimizer/" + name, shape: [values.count]))
            views.append(values.view)
        }
        return (names, views)
    }

    @Test("stopped at step 41 of 90, saved, loaded: the same final weights", arguments: cases)
    func resume(_ c: ResumeCase) throws {
        let (training, _) = Subset.split(data, validationFraction: 0.2)
        let whole = try trainer(c, threads: 2)
        let reference = whole.fit(training, validation: nil, FitOptions(epochs: 3, batchSize: 16))
        #expect(reference.state.step == 90)

        let first = try trainer(c, threads: 1)
        let stopped = first.fit(training, validation: nil, FitOptions(epochs: 3, batchSize: 16),
                                callbacks: FitCallbacks(afterStep: { $0.step == 41 ? .stop : .proceed }))
        #expect(stopped.interrupted && stopped.state.step == 41)
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let (names, views) = tensors(first)
        try CheckpointFile<TestHeader>.write(header: TestHeader(note: "", training: stopped.state, tensors: names),
                                             tensors: views, to: scratch("s.ckpt"))

        let file = try CheckpointFile<TestHeader>(path: scratch("s.ckpt"))
        let second = try trainer(c, threads: 2)
        let (secondNames, secondViews) = tensors(second)
        #expect(secondNames == names)
        for (tensor, view) in zip(secondNames, secondViews) { try file.copy(tensor.name, into: view) }
        second.resume(atStep: file.header.training.step)
        let finished = second.fit(training, validation: nil, FitOptions(epochs: 3, batchSize: 16, resumedState: file.header.training))
        #expect(!finished.interrupted)
        #expect(second.model.parameters.array.map(\.bitPattern) == whole.model.parameters.array.map(\.bitPattern))
        #expect(finished.state.history.map(\.learningRate) == reference.state.history.map(\.learningRate))
        #expect(Set(reference.state.history.map(\.learningRate)).count == 3, "the rate changes every epoch")
    }

    @Test("without Nadam's momentum product the resumed run would differ: it is state")
    func nadamProductMatters() throws {
        let c = Self.cases[0]
        let (training, _) = Subset.split(data, validationFraction: 0.2)
        let whole = try trainer(c, threads: 1)
        _ = whole.fit(training, validation: nil, FitOptions(epochs: 3, batchSize: 16))
        let first = try trainer(c, threads: 1)
        let stopped = first.fit(training, validation: nil, FitOptions(epochs: 3, batchSize: 16),
                                callbacks: FitCallbacks(afterStep: { $0.step == 41 ? .stop : .proceed }))
        let second = try trainer(c, threads: 1)
        second.model.parameters.view.copy(from: first.model.parameters.view)
        for ((name, values), (_, target)) in zip(first.optimizer.state, second.optimizer.state) where name != "u_product" {
            target.view.copy(from: values.view)
        }
        second.resume(atStep: stopped.state.step)
        _ = second.fit(training, validation: nil, FitOptions(epochs: 3, batchSize: 16, resumedState: stopped.state))
        #expect(second.model.parameters.array != whole.model.parameters.array)
    }
}
