// Batch normalization: configuration, a hand-computed case, PyTorch's answers (Golden/), gradient
// checks in both modes, thread-count independence and its place in a model.
import Foundation
import Kernels
import NeuralNetwork
import Testing

/// One layer with its own tensors, bound in Keras's order (gamma, beta, moving_mean,
/// moving_variance), the moving statistics in their own storage like `Sequential.state`.
final class BatchNormRig {
    let layer: BatchNormalization
    let batch: Int
    let trainable: FloatStorage, gradients: FloatStorage, state: FloatStorage
    let x: FloatStorage, y: FloatStorage, dy: FloatStorage, dx: FloatStorage, scratch: FloatStorage

    init(_ layer: BatchNormalization, batch: Int) {
        self.layer = layer
        self.batch = batch
        let specs = layer.parameterSpecs
        let trainableCount = specs.filter(\.trainable).reduce(0) { $0 + $1.count }
        trainable = FloatStorage(count: trainableCount)
        gradients = FloatStorage(count: trainableCount)
        state = FloatStorage(count: specs.filter { !$0.trainable }.reduce(0) { $0 + $1.count })
        var values: [FloatView] = [], grads: [FloatView] = []
        var offset = 0, stateOffset = 0
        for spec in specs {
            if spec.trainable {
                values.append(trainable.view(offset: offset, count: spec.count))
                grads.append(gradients.view(offset: offset, count: spec.count))
                offset += spec.count
            } else {
                values.append(state.view(offset: stateOffset, count: spec.count))
                grads.append(FloatStorage(count: 0).view)
                stateOffset += spec.count
            }
        }
        layer.bind(parameters: values, gradients: grads)
        scratch = FloatStorage(count: layer.scratchCount(batch: batch))
        layer.bind(scratch: scratch.view)
        let count = batch * layer.inputShape.count
        x = FloatStorage(count: count)
        y = FloatStorage(count: count)
        dy = FloatStorage(count: count)
        dx = FloatStorage(count: count)
    }

    /// Sets gamma/beta (when the layer has them) and the moving statistics.
    func set(gamma: [Float]? = nil, beta: [Float]? = nil, movingMean: [Float], movingVariance: [Float]) {
        let c = movingMean.count
        var offset = 0
        if let gamma { trainable.view(offset: offset, count: c).assign(gamma); offset += c }
        if let beta { trainable.view(offset: offset, count: c).assign(beta) }
        state.view.assign(movingMean + movingVariance)
    }

    var movingMean: [Float] { Array(state.array.prefix(state.count / 2)) }
    var movingVariance: [Float] { Array(state.array.suffix(state.count / 2)) }

    @discardableResult
    func forward(_ input: [Float], training: Bool, pool: ThreadPool? = nil) -> [Float] {
        x.view.assign(input)
        layer.forward(x: x.view, y: y.view, batch: batch, context: PassContext(training: training, pool: pool))
        return y.array
    }

    /// dL/dx for dL/dy = `outputGradient`, after `forward`; parameter gradients accumulate.
    @discardableResult
    func backward(_ outputGradient: [Float], training: Bool, pool: ThreadPool? = nil) -> [Float] {
        dy.view.assign(outputGradient)
        layer.backward(x: x.view, y: y.view, dy: dy.view, dx: dx.view, batch: batch,
                       context: PassContext(training: training, pool: pool))
        return dx.array
    }
}

/// A case computed by PyTorch (Golden/make_batchnorm_golden.py), in Keras's conventions.
struct BatchNormGoldenCase {
    let shape: [Int]
    let x, gamma, beta, movingMean0, movingVariance0: [Float]
    let trainingOutput, movingMean, movingVariance, inferenceOutput: [Float]
    let momentum, epsilon: Float
}

@Suite("Batch normalization")
struct BatchNormTests {
    static func layer(_ shape: [Int], center: Bool = true, scale: Bool = true, momentum: Float = 0.99)
        throws -> BatchNormalization {
        var config = BatchNormalization.Config()
        config.center = center
        config.scale = scale
        config.momentum = momentum
        return try BatchNormalization(config, inputShape: Shape(shape))
    }

    // MARK: Configuration

    @Test("Keras's defaults, and momentum/epsilon out of range are refused at the key")
    func configuration() throws {
        let defaults = try JSONDecoder().decode(BatchNormalization.Config.self, from: Data("{}".utf8))
        #expect(defaults.momentum == 0.99 && defaults.epsilon == 1e-3)
        #expect(defaults.center && defaults.scale)
        #expect(defaults.betaInitializer == .zeros && defaults.gammaInitializer == .ones)
        #expect(defaults.movingMeanInitializer == .zeros && defaults.movingVarianceInitializer == .ones)

        let given = try JSONDecoder().decode(BatchNormalization.Config.self, from: Data(
            #"{"momentum": 0.9, "epsilon": 1e-5, "center": false, "moving_variance_initializer": "zeros"}"#.utf8))
        #expect(given.momentum == 0.9 && given.epsilon == 1e-5 && !given.center && given.scale)
        #expect(given.movingVarianceInitializer == .zeros)

        for (json, key) in [(#"{"momentum": 1}"#, "momentum"), (#"{"momentum": -0.1}"#, "momentum"),
                            (#"{"epsilon": 0}"#, "epsilon")] {
            let error = #expect(throws: ConfigError.self) {
                try JSONDecoder().decode(BatchNormalization.Config.self, from: Data(json.utf8))
            }
            #expect(error?.codingPath == [key], "\(json)")
        }
        let typo = #expect(throws: ConfigError.self) {
            try JSONDecoder().decode(BatchNormalization.Config.self,
                                     from: Data(#"{"gamma_initializer": "one"}"#.utf8))
        }
        #expect(typo?.hint?.contains("'ones'") == true)
    }

    @Test("registered as batch_normalization; parameters in Keras's order, moving statistics non-trainable")
    func registryAndSpecs() throws {
        struct Built: Decodable {
            let layer: any Layer
            init(from decoder: Decoder) throws {
                layer = try Layers.registry.lookup("batch_normalization")(decoder, Shape([5, 5, 32]), "bn")
            }
        }
        let layer = try JSONDecoder().decode(Built.self, from: Data(#"{"momentum": 0.5}"#.utf8)).layer
        #expect(layer.kind == "BatchNormalization")
        #expect(layer.outputShape == Shape([5, 5, 32]))
        #expect(layer.parameterSpecs.map(\.name) == ["gamma", "beta", "moving_mean", "moving_variance"])
        #expect(layer.parameterSpecs.map(\.trainable) == [true, true, false, false])
        #expect(layer.parameterSpecs.allSatisfy { $0.shape == [32] })
        #expect(layer.parameterCount == 128)   // Keras: 128 params for 32 channels, 64 non-trainable
        #expect(try Self.layer([7], center: false).parameterSpecs.map(\.name)
                == ["gamma", "moving_mean", "moving_variance"])
        #expect(try Self.layer([7], scale: false).parameterSpecs.map(\.name)
                == ["beta", "moving_mean", "moving_variance"])
        #expect(throws: ModelError.self) { try BatchNormalization(.init(), inputShape: Shape([4, 0])) }
    }

    // MARK: Forward

    @Test("4×2 by hand: batch statistics, moving statistics after one step of momentum 0.9, inference")
    func handComputed() throws {
        let rig = BatchNormRig(try Self.layer([2], momentum: 0.9), batch: 4)
        rig.set(gamma: [1, 2], beta: [0, 1], movingMean: [0, 0], movingVariance: [1, 1])
        let x: [Float] = [1, 2,
                          2, 4,
                          3, 6,
                          4, 8]
        // Column 0: mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
        // Column 1: mean 5, biased variance (9 + 1 + 1 + 9) / 4 = 5.
        let y = rig.forward(x, training: true)
        let s0 = 1 / (1.25 + 0.001).squareRoot(), s1 = 1 / (5 + 0.001).squareRoot()
        let expected = [-1.5 * s0, 1 + 2 * (-3 * s1),
                        -0.5 * s0, 1 + 2 * (-1 * s1),
                        0.5 * s0, 1 + 2 * (1 * s1),
                        1.5 * s0, 1 + 2 * (3 * s1)]
        for i in 0..<8 {
            #expect(abs(Double(y[i]) - expected[i]) < 1e-6, "y[\(i)] = \(y[i]), expected \(expected[i])")
        }
        // moving = 0.9 · moving + 0.1 · batch: means 0.25 and 0.5; variances 0.9 + 0.125 and 0.9 + 0.5.
        #expect(zip(rig.movingMean, [0.25, 0.5]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(rig.movingMean)")
        #expect(zip(rig.movingVariance, [1.025, 1.4]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(rig.movingVariance)")

        // Inference normalises with the moving statistics and leaves them alone.
        let z = rig.forward(x, training: false)
        let t0 = 1 / (1.025 + 0.001).squareRoot(), t1 = 1 / (1.4 + 0.001).squareRoot()
        #expect(abs(Double(z[0]) - (1 - 0.25) * t0) < 1e-6)
        #expect(abs(Double(z[7]) - (1 + 2 * (8 - 0.5) * t1)) < 1e-6)
        #expect(zip(rig.movingMean, [0.25, 0.5]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("one-pass statistics hold where |μ| ≫ σ, the first value is far out, or a channel is constant")
    func statisticsWhereMeanDominates() throws {
        // momentum 0: the moving statistics become the batch's own, as Float.
        let rows = 4_096, c = 4
        let rig = BatchNormRig(try Self.layer([c], momentum: 0), batch: rows)
        var stream = RandomStream(seed: 3, name: "bn-moments")
        var x = [Float](repeating: 0, count: rows * c)
        for r in 0..<rows {
            x[r * c] = 1e5 + 0.05 * stream.nextNormal()         // μ/σ = 2·10⁶
            x[r * c + 1] = -3e3 + 1e-3 * stream.nextNormal()
            x[r * c + 2] = 7                                   // σ = 0
            x[r * c + 3] = stream.nextUniform() < 0.1 ? 1 : 0   // mostly zeros
        }
        x[0] = 1e5 + 5                                          // the shift 100 σ from μ
        x[1] = -3e3 - 0.05
        rig.forward(x, training: true)
        for ch in 0..<c {
            // Two passes in Double over the same Float values: the reference.
            let values = (0..<rows).map { Double(x[$0 * c + ch]) }
            let mean = values.reduce(0, +) / Double(rows)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rows)
            #expect(rig.movingMean[ch] == Float(mean), "channel \(ch): mean \(rig.movingMean[ch]) against \(mean)")
            #expect(abs(Double(rig.movingVariance[ch]) - variance) <= 1e-6 * variance,
                    "channel \(ch): variance \(rig.movingVariance[ch]) against \(variance)")
        }
    }

    @Test("matches PyTorch: training output, moving statistics, inference output",
          arguments: ["images", "vectors"])
    func pytorch(_ which: String) throws {
        let golden = which == "images" ? BatchNormGolden.images : BatchNormGolden.vectors
        var config = BatchNormalization.Config()
        config.momentum = golden.momentum
        config.epsilon = golden.epsilon
        let layer = try BatchNormalization(config, inputShape: Shape(Array(golden.shape.dropFirst())))
        let rig = BatchNormRig(layer, batch: golden.shape[0])
        rig.set(gamma: golden.gamma, beta: golden.beta, movingMean: golden.movingMean0,
                movingVariance: golden.movingVariance0)
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            #expect(a.count == b.count)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-5, "\(which) \(what): largest difference \(worst)")
        }
        close(rig.forward(golden.x, training: true), golden.trainingOutput, "training output")
        close(rig.movingMean, golden.movingMean, "moving mean")
        close(rig.movingVariance, golden.movingVariance, "moving variance")
        close(rig.forward(golden.x, training: false), golden.inferenceOutput, "inference output")
    }

    // MARK: Gradients

    @Test("finite differences, training mode (batch statistics), center × scale",
          arguments: [(true, true), (true, false), (false, true), (false, false)])
    func trainingGradients(center: Bool, scale: Bool) throws {
        // (N, F) and (N, H, W, C): statistics over N = 4 rows, and over N·H·W = 12 rows. 17
        // features: a full block of 16 channels and a partial one.
        checkGradients(try Self.layer([17], center: center, scale: scale), batch: 4)
        checkGradients(try Self.layer([2, 3, 3], center: center, scale: scale), batch: 2)
    }

    @Test("finite differences, inference mode (moving statistics), center × scale",
          arguments: [(true, true), (false, false)])
    func inferenceGradients(center: Bool, scale: Bool) throws {
        checkGradients(try Self.layer([17], center: center, scale: scale), batch: 4, training: false)
        checkGradients(try Self.layer([2, 3, 3], center: center, scale: scale), batch: 2, training: false)
    }

    @Test("with batch statistics, dx of a channel sums to zero over the batch (the mean is removed)")
    func gradientOfMeanIsRemoved() throws {
        let rig = BatchNormRig(try Self.layer([2, 5]), batch: 3)
        rig.set(gamma: [1.5, -0.5, 2, 1, 0.3], beta: [0, 0, 0, 0, 0], movingMean: .init(repeating: 0, count: 5),
                movingVariance: .init(repeating: 1, count: 5))
        var stream = RandomStream(seed: 3, name: "bn")
        rig.forward((0..<30).map { _ in stream.nextNormal() * 2 + 1 }, training: true)
        let dx = rig.backward((0..<30).map { _ in stream.nextNormal() }, training: true)
        for c in 0..<5 {
            let total = stride(from: c, to: 30, by: 5).reduce(0.0) { $0 + Double(dx[$1]) }
            #expect(abs(total) < 1e-5, "channel \(c): Σ dx = \(total)")
        }
    }

    // MARK: Determinism and state

    @Test("1, 2 and 3 threads give identical outputs, gradients and moving statistics")
    func threadCountIndependence() throws {
        // 8 × 12 × 12 positions × 40 channels: above the size where the passes use the pool, with
        // three channel blocks (16, 16, 8) and a row split that does not fall on sample boundaries.
        let shape = [12, 12, 40], batch = 8
        var stream = RandomStream(seed: 9, name: "bn-threads")
        let count = batch * shape.reduce(1, *)
        // Magnitudes from 2⁻³⁰ to 2³⁰ in every channel: sums that round even in Double, so a
        // summation order that changed with the thread count would show.
        func wide(_ i: Int) -> Float {
            stream.nextNormal() * Float(sign: .plus, exponent: i % 61 - 30, significand: 1)
        }
        let x = (0..<count).map(wide), r = (0..<count).map(wide)
        let gamma = (0..<40).map { _ in stream.nextNormal() }, beta = (0..<40).map { _ in stream.nextNormal() }

        func run(_ pool: ThreadPool?) throws -> [[UInt32]] {
            let rig = BatchNormRig(try Self.layer(shape), batch: batch)
            rig.set(gamma: gamma, beta: beta, movingMean: .init(repeating: 0.5, count: 40),
                    movingVariance: .init(repeating: 2, count: 40))
            let y = rig.forward(x, training: true, pool: pool)
            let dx = rig.backward(r, training: true, pool: pool)
            let yInference = rig.forward(x, training: false, pool: pool)
            let dxInference = rig.backward(r, training: false, pool: pool)
            return [y, dx, yInference, dxInference, rig.gradients.array, rig.state.array]
                .map { $0.map(\.bitPattern) }
        }
        let reference = try run(nil)
        for threads in 1...3 {
            let result = try run(ThreadPool(threadCount: threads))
            let names = ["y", "dx", "inference y", "inference dx", "dγ dβ", "moving statistics"]
            for (i, what) in names.enumerated() {
                let differing = zip(result[i], reference[i]).filter { $0 != $1 }.count
                #expect(result[i].count == reference[i].count && differing == 0,
                        "\(threads) threads: \(differing) of \(reference[i].count) values of \(what) differ")
            }
        }
        #expect(reference[5] != ([Float](repeating: 0.5, count: 40) + [Float](repeating: 2, count: 40)).map(\.bitPattern),
                "the training step moved the statistics")
    }

    @Test("Dense(16) → BatchNormalization → Dense(10, softmax): 32 non-trainable values in the model's state")
    func modelSummaryAndState() throws {
        let layers: [any Layer] = [
            try Dense(.init(units: 16, activation: .relu), inputShape: Shape([784]), name: "dense"),
            try BatchNormalization(.init(), inputShape: Shape([16])),
            try Dense(.init(units: 10, activation: .softmax), inputShape: Shape([16]), name: "dense_1"),
        ]
        let model = try Sequential(name: "bn", inputShape: Shape([784]), layers: layers, maxBatch: 4, seed: 1)
        let summary = model.summary()
        #expect(summary.contains("batch_normalization (BatchNormalization)"))
        #expect(summary.contains("│            64 │"))
        #expect(summary.contains(" Total params: 12,794 (49.98 KB)"))
        #expect(summary.contains(" Trainable params: 12,762 (49.85 KB)"))
        #expect(summary.contains(" Non-trainable params: 32 (128.00 B)"))

        // The state holds moving_mean then moving_variance, initialised to zeros and ones.
        #expect(model.state.count == 32)
        let entries = model.parameterTable.filter { $0.layer == "batch_normalization" }
        #expect(entries.map(\.name) == ["gamma", "beta", "moving_mean", "moving_variance"])
        #expect(entries.map(\.trainable) == [true, true, false, false])
        #expect(model.state.array == [Float](repeating: 0, count: 16) + [Float](repeating: 1, count: 16))

        var stream = RandomStream(seed: 2, name: "input")
        model.input.view.assign((0..<4 * 784).map { _ in stream.nextUniform() })
        let initial = model.state.array
        model.forward(batch: 4, context: PassContext(training: false))
        #expect(model.state.array == initial, "inference must not move the statistics")
        model.forward(batch: 4, context: PassContext(training: true))
        let trained = model.state.array
        #expect(trained != initial, "a training-mode forward pass blends in the batch statistics")
        model.outputGradient.slice(0, 40).assign((0..<40).map { _ in stream.nextNormal() })
        model.zeroGradients()
        model.backward(batch: 4, context: PassContext(training: true))
        #expect(model.state.array == trained, "backward must not move the statistics")
        let gamma = entries[0]
        #expect(model.gradients.view(offset: gamma.offset, count: gamma.count).array.contains { $0 != 0 })
    }
}
