// The trainer on a small synthetic problem: it learns, and it is exactly reproducible — same
// seed, same bits, whatever the thread count — while a different seed changes the result.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// 8×8 images of random noise with one bright quadrant (label 0–3) — learnable in a few epochs.
func quadrants(count: Int, seed: UInt64) -> ImageSet {
    var s = RandomStream(seed: seed, name: "quadrants")
    var pixels = [UInt8](), labels = [UInt8]()
    for _ in 0..<count {
        let label = s.nextInt(below: 4)
        for r in 0..<8 {
            for c in 0..<8 {
                let quadrant = (r / 4) * 2 + c / 4
                let base = quadrant == label ? 150 : 0
                pixels.append(UInt8(base + s.nextInt(below: 100)))
            }
        }
        labels.append(UInt8(label))
    }
    return ImageSet(count: count, rows: 8, cols: 8, pixels: pixels, labels: labels)
}

func makeTrainer(seed: UInt64, threads: Int, dropout: Bool = true, optimizer: any Optimizer = Adam(.init()),
                 sparse: Bool = false, learningRate: LearningRate? = nil, penalties: [ParameterPenalty] = [],
                 augmentation: Augmentation? = nil, transform: PixelTransform = PixelTransform(scale: 1 / 255))
    throws -> Trainer {
    var layers: [any Layer] = [Flatten(inputShape: Shape([8, 8])),
                               try Dense(.init(units: 16, activation: .relu), inputShape: Shape([64]), name: "hidden")]
    if dropout { layers.append(Dropout(.init(rate: 0.3), inputShape: Shape([16]), name: "dropout")) }
    layers.append(try Dense(.init(units: 4, activation: .softmax), inputShape: Shape([16]), name: "out"))
    let model = try Sequential(name: "q", inputShape: Shape([8, 8]), layers: layers, maxBatch: 16, seed: seed)
    let loss = CrossEntropy(sparse: sparse)
    try model.prepare(for: loss)
    return Trainer(model: model, loss: loss, optimizer: optimizer, transform: transform,
                   classes: 4, seed: seed, pool: ThreadPool(threadCount: threads), learningRate: learningRate,
                   penalties: penalties, augmentation: augmentation)
}

@Suite("Trainer")
struct TrainerTests {
    let data = quadrants(count: 600, seed: 1)

    func train(_ trainer: Trainer, epochs: Int = 3) -> [Float] {
        let (training, _) = Subset.split(data, validationFraction: 0.2)
        for epoch in 0..<epochs { _ = trainer.trainEpoch(training, epoch: epoch, batchSize: 16, shuffle: true) }
        return trainer.model.parameters.array
    }

    @Test("two runs with the same seed end with identical weights; threads do not matter")
    func determinism() throws {
        let a = train(try makeTrainer(seed: 42, threads: 1))
        let b = train(try makeTrainer(seed: 42, threads: 2))
        let c = train(try makeTrainer(seed: 42, threads: 2))
        #expect(a == b)
        #expect(b == c)
        let d = train(try makeTrainer(seed: 43, threads: 2))
        #expect(a != d)
    }

    @Test("it learns: validation accuracy well above chance, loss falling", arguments: ["adam", "sgd", "rmsprop", "adamw"])
    func learns(_ name: String) throws {
        let optimizer: any Optimizer
        switch name {
        case "sgd":
            var config = SGD.Config()
            config.learningRate = 0.1
            config.momentum = 0.9
            optimizer = SGD(config)
        case "rmsprop": optimizer = RMSprop(.init())
        case "adamw": optimizer = try Optimizers.registry.lookup("adamw")(JSONDecoder().decoder(for: "{}"))
        default: optimizer = Adam(.init())
        }
        let trainer = try makeTrainer(seed: 7, threads: 2, optimizer: optimizer)
        let (training, validation) = Subset.split(data, validationFraction: 0.2)
        let before = trainer.evaluate(validation!, batchSize: 16)
        var first = 0.0, last = 0.0
        for epoch in 0..<6 {
            let m = trainer.trainEpoch(training, epoch: epoch, batchSize: 16, shuffle: true)
            if epoch == 0 { first = m.loss }
            last = m.loss
        }
        let after = trainer.evaluate(validation!, batchSize: 16)
        #expect(last < first)
        #expect(after.accuracy > 0.9, "\(name): \(after.accuracy)")
        #expect(after.loss < before.loss)
        #expect(after.confusion.flatMap { $0 }.reduce(0, +) == validation!.count)
        #expect(trainer.step == 6 * ((training.count + 15) / 16))
    }

    @Test("sparse and one-hot cross-entropy train to the same weights")
    func sparseEqualsOneHot() throws {
        let a = train(try makeTrainer(seed: 5, threads: 1, sparse: false), epochs: 1)
        let b = train(try makeTrainer(seed: 5, threads: 1, sparse: true), epochs: 1)
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5)
    }

    @Test("epoch order is a per-epoch permutation of the training images")
    func shuffling() throws {
        let trainer = try makeTrainer(seed: 3, threads: 1)
        let (training, _) = Subset.split(data, validationFraction: 0.5)
        let e0 = trainer.epochOrder(training, epoch: 0, shuffle: true)
        let e1 = trainer.epochOrder(training, epoch: 1, shuffle: true)
        #expect(e0.sorted() == training.indices && e0 != e1)
        #expect(trainer.epochOrder(training, epoch: 0, shuffle: false) == training.indices)
    }

    @Test("validation_split holds out the last images, like Keras")
    func split() {
        let (training, validation) = Subset.split(data, validationFraction: 0.1)
        #expect(training.indices == Array(0..<540))
        #expect(validation?.indices == Array(540..<600))
        #expect(Subset.split(data, validationFraction: 0).1 == nil)
    }

    @Test("optimizer settings are read with Keras names and defaults, and checked")
    func optimizerConfigs() throws {
        let adam = try Optimizers.registry.lookup("adam")(JSONDecoder().decoder(for: #"{"learning_rate": 0.01}"#))
        #expect(adam.learningRate == 0.01)
        let config = try #require((adam as? Adam)?.config)
        #expect(config.beta1 == 0.9 && config.beta2 == 0.999 && config.epsilon == 1e-7 && config.weightDecay == 0)
        #expect(adam.name == "adam")
        let adamw = try #require(try Optimizers.registry.lookup("adamw")(JSONDecoder().decoder(for: "{}")) as? Adam)
        #expect(adamw.config.weightDecay == 0.004 && adamw.name == "adamw")
        #expect(throws: ConfigError.self) {
            _ = try Optimizers.registry.lookup("sgd")(JSONDecoder().decoder(for: #"{"momentum": 1.5}"#))
        }
        let error = #expect(throws: ConfigError.self) { try Optimizers.registry.lookup("adma") }
        #expect(error?.hint?.contains("did you mean 'adam'") == true)
    }

    @Test("an optimizer says how much state it keeps per parameter before it has any, and keeps that much",
          arguments: [("sgd", "{}", 0), ("sgd", #"{"momentum": 0.9}"#, 1), ("rmsprop", "{}", 1),
                      ("rmsprop", #"{"centered": true}"#, 2), ("rmsprop", #"{"momentum": 0.5}"#, 2),
                      ("rmsprop", #"{"centered": true, "momentum": 0.5}"#, 3), ("adam", "{}", 2), ("adamw", "{}", 2)])
    func statePerParameter(type: String, json: String, expected: Int) throws {
        let optimizer = try Optimizers.registry.lookup(type)(JSONDecoder().decoder(for: json))
        #expect(optimizer.statePerParameter == expected)
        optimizer.prepare(parameterCount: 7)
        #expect(optimizer.state.count == expected)
        #expect(optimizer.state.allSatisfy { $0.values.count == 7 })
    }
}

extension JSONDecoder {
    /// A Decoder positioned on the given JSON text (for constructing from registries in tests).
    func decoder(for json: String) throws -> any Decoder {
        try decode(DecoderCapture.self, from: Data(json.utf8)).decoder
    }
}

private struct DecoderCapture: Decodable {
    let decoder: any Decoder
    init(from decoder: Decoder) throws { self.decoder = decoder }
}

@Suite("Divergence")
struct DivergenceTests {
    @Test("a step whose loss is not finite stops fit before its update: the weights stay those of the step before")
    func stopsAtTheStep() throws {
        var config = SGD.Config()
        config.learningRate = 1e30
        let trainer = try makeTrainer(seed: 3, threads: 2, dropout: false, optimizer: SGD(config))
        let data = Subset(quadrants(count: 160, seed: 2))
        var steps: [Int] = []
        let history = trainer.fit(data, validation: nil, FitOptions(epochs: 3, batchSize: 16),
                                  callbacks: FitCallbacks(afterStep: { steps.append($0.step); return .proceed }))
        let divergence = try #require(trainer.divergence)
        #expect(!divergence.loss.isFinite)
        #expect(divergence.step >= 2 && divergence.epoch == 0 && divergence.batch == divergence.step)
        // The step was not taken: the state and the trainer stand at the step before, with finite weights.
        #expect(history.interrupted && history.state.step == divergence.step - 1 && trainer.step == divergence.step - 1)
        #expect(history.state.batch == divergence.batch - 1 && steps.last == divergence.step - 1)
        #expect(history.state.metrics.lossSum.isFinite)
        #expect(trainer.parametersAreFinite)
    }

    @Test("a sane learning rate never sets a divergence")
    func saneRun() throws {
        let trainer = try makeTrainer(seed: 3, threads: 1)
        let history = trainer.fit(Subset(quadrants(count: 160, seed: 2)), validation: nil, FitOptions(epochs: 2, batchSize: 16))
        #expect(trainer.divergence == nil && !history.interrupted && trainer.parametersAreFinite)
    }
}
