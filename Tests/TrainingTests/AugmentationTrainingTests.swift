// Augmentation inside the trainer: training images only (evaluation never sees it), the same
// weights on 1, 2 or 3 threads (also with every other new feature on), and no effect at all when
// every range is 0.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

@Suite("Augmentation in training")
struct AugmentationTrainingTests {
    let data = quadrants(count: 300, seed: 5)
    let augmentation = Augmentation(shift: 0.2, rotation: 15, zoom: 0.1)

    func train(_ trainer: Trainer, epochs: Int = 2) -> [Float] {
        for epoch in 0..<epochs { _ = trainer.trainEpoch(Subset(data), epoch: epoch, batchSize: 16, shuffle: true) }
        return trainer.model.parameters.array
    }

    @Test("1, 2 and 3 threads train to identical weights, which differ from unaugmented training")
    func threads() throws {
        let one = train(try makeTrainer(seed: 4, threads: 1, augmentation: augmentation))
        let two = train(try makeTrainer(seed: 4, threads: 2, augmentation: augmentation))
        let three = train(try makeTrainer(seed: 4, threads: 3, augmentation: augmentation))
        #expect(one == two && two == three)
        #expect(one != train(try makeTrainer(seed: 4, threads: 2)))
    }

    @Test("all ranges 0: exactly the unaugmented run")
    func identity() throws {
        let none = train(try makeTrainer(seed: 6, threads: 2))
        #expect(train(try makeTrainer(seed: 6, threads: 2, augmentation: Augmentation())) == none)
    }

    @Test("evaluate never augments: same weights, same evaluation with or without augmentation")
    func evaluationIsPlain() throws {
        let augmented = try makeTrainer(seed: 7, threads: 2, augmentation: augmentation)
        let plain = try makeTrainer(seed: 7, threads: 2)
        _ = train(augmented, epochs: 1)
        plain.model.parameters.view.copy(from: augmented.model.parameters.view)
        let a = augmented.evaluate(Subset(data), batchSize: 32), b = plain.evaluate(Subset(data), batchSize: 32)
        #expect(a.loss == b.loss && a.accuracy == b.accuracy && a.confusion == b.confusion)
    }

    @Test("schedule, weight decay, a multi-chunk L2 penalty and augmentation: threads 1, 2, 3 give identical weights")
    func everythingOn() throws {
        func train(threads: Int) throws -> (weights: [Float], losses: [Double]) {
            // 64 → 128: an 8,192-value kernel, two chunks of the penalty's partial sums.
            let layers: [any Layer] = [
                Flatten(inputShape: Shape([8, 8])),
                try Dense(.init(units: 128, activation: .relu), inputShape: Shape([64]), name: "hidden"),
                try Dense(.init(units: 4, activation: .softmax), inputShape: Shape([128]), name: "out"),
            ]
            let model = try Sequential(name: "q", inputShape: Shape([8, 8]), layers: layers, maxBatch: 16, seed: 3)
            let loss = CrossEntropy(sparse: false)
            try model.prepare(for: loss)
            var sgd = SGD.Config()
            sgd.learningRate = 0.05
            sgd.momentum = 0.9
            sgd.weightDecay = 0.01
            let trainer = Trainer(
                model: model, loss: loss, optimizer: SGD(sgd), transform: PixelTransform(scale: 1 / 255), classes: 4,
                seed: 3, pool: ThreadPool(threadCount: threads),
                learningRate: LearningRate(base: 0.05, schedule: CosineDecay(.init(decaySteps: 40)),
                                           warmup: Warmup(steps: 5), stepsPerEpoch: 19),
                penalties: [ParameterPenalty(layer: "hidden", regularizer: .l2(0.001))], augmentation: augmentation)
            let history = trainer.fit(Subset(data), validation: nil, FitOptions(epochs: 3, batchSize: 16))
            return (model.parameters.array, history.epochs.map(\.training.loss))
        }
        let one = try train(threads: 1)
        let two = try train(threads: 2), three = try train(threads: 3)
        #expect(one.weights == two.weights && two.weights == three.weights)
        #expect(one.losses == two.losses && two.losses == three.losses)
    }
}
