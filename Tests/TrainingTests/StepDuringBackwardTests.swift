// The optimizer stepping dense kernels during the backward pass (Trainer's
// `stepsOptimizerDuringBackward`) against the same training with the step after the pass: the same
// bits for every optimizer, 1 and 2 threads, with the kernel gradients split by rows and by
// columns between chunks and a learning-rate multiplier on one kernel.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

@Suite("Optimizer during the backward pass")
struct StepDuringBackwardTests {
    let data = quadrants(count: 320, seed: 5)

    /// 8×8 → dense 1024 (its kernel gradient 64×1024 at batch 64: split by columns) → dense 512
    /// (1024×512: split by rows) → dropout → dense 4, trained one epoch.
    func trained(_ type: String, _ json: String, threads: Int, penalties: [ParameterPenalty] = [])
        throws -> (weights: [Float], stepped: Bool) {
        let layers: [any Layer] = [
            Flatten(inputShape: Shape([8, 8])),
            try Dense(.init(units: 1024, activation: .relu), inputShape: Shape([64]), name: "wide"),
            try Dense(.init(units: 512, activation: .relu), inputShape: Shape([1024]), name: "tall"),
            Dropout(.init(rate: 0.3), inputShape: Shape([512]), name: "dropout"),
            try Dense(.init(units: 4, activation: .softmax), inputShape: Shape([512]), name: "out"),
        ]
        let model = try Sequential(name: "s", inputShape: Shape([8, 8]), layers: layers, maxBatch: 64, seed: 7)
        model.setLearningRateMultiplier(2, layer: "tall", parameter: "kernel")
        let loss = CrossEntropy(sparse: false)
        try model.prepare(for: loss)
        let trainer = Trainer(model: model, loss: loss, optimizer: try optimizer(type, json),
                              transform: PixelTransform(scale: 1 / 255), classes: 4, seed: 7,
                              pool: ThreadPool(threadCount: threads), penalties: penalties)
        _ = trainer.trainEpoch(Subset(data), epoch: 0, batchSize: 64, shuffle: true)
        return (model.parameters.array, trainer.stepsOptimizerDuringBackward)
    }

    @Test("the same weights as the step after the pass, for every optimizer, on 1 and 2 threads",
          arguments: [("adam", "{}"), ("adamw", "{}"), ("rmsprop", #"{"momentum": 0.5, "centered": true}"#),
                      ("rmsprop", "{}"), ("sgd", #"{"momentum": 0.9, "nesterov": true, "weight_decay": 0.01}"#),
                      ("nadam", "{}"), ("adamax", "{}"), ("adagrad", "{}"), ("adadelta", #"{"learning_rate": 1}"#)])
    func sameBits(_ optimizer: (String, String)) throws {
        let (type, json) = optimizer
        // A clipnorm no gradient reaches leaves every gradient as it is, and makes the trainer
        // step after the pass (clipping needs every gradient first).
        let after = String(json.dropLast()) + (json == "{}" ? "" : ", ") + #""clipnorm": 1e30}"#
        let reference = try trained(type, after, threads: 2)
        #expect(!reference.stepped)
        for threads in [1, 2] {
            let during = try trained(type, json, threads: threads)
            #expect(during.stepped)
            // A Bool, not the arrays: a failing comparison would print 600,000 weights.
            let same = during.weights == reference.weights
            #expect(same, "\(type) \(json), \(threads) threads")
        }
    }

    @Test("penalties keep the step after the pass (their gradients are added after it)")
    func penaltiesStepAfter() throws {
        let penalty = ParameterPenalty(layer: "tall", parameter: "kernel", regularizer: .l2(0.01))
        #expect(!(try trained("adam", "{}", threads: 1, penalties: [penalty])).stepped)
    }
}
