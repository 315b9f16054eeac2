// Adadelta, Adagrad, Adamax and Nadam: each rule against a Double re-computation of its formula
// after several steps, against the golden values Keras 3 tests itself with
// (keras/src/optimizers/<name>_test.py: test_single_step, test_correctness_with_golden,
// test_weight_decay; same tolerances), Keras's defaults from the registry, and the same bits
// whatever the thread count.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// `w0` after one update per row of `gradients` (steps 1, 2, …) at rate `lr`.
func stepped(_ optimizer: any Optimizer, from w0: [Float], gradients: [[Float]], lr: Float,
             pool: ThreadPool? = nil) -> [Float] {
    let w = FloatStorage(w0), g = FloatStorage(count: w0.count)
    optimizer.prepare(parameterCount: w0.count)
    for (t, row) in gradients.enumerated() {
        g.view.assign(row)
        optimizer.update(parameters: w.view, gradients: g.view, step: t + 1, learningRate: lr, pool: pool)
    }
    return w.array
}

/// Keras's golden runs: one step with gradients 0.01, then five with 0.1, 0.2, …, 1.0, from ones.
let goldenGradients = [[Float](repeating: 0.01, count: 10)] + Array(repeating: (1...10).map { Float($0) / 10 }, count: 5)

func expectClose(_ a: [Float], _ b: [Double], tolerance: Double, _ what: String,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    for (x, y) in zip(a, b) {
        #expect(abs(Double(x) - y) <= tolerance * (1 + abs(y)), "\(what): \(a) vs \(b)", sourceLocation: sourceLocation)
    }
}

@Suite("Adadelta, Adagrad, Adamax, Nadam")
struct AdaptiveOptimizerTests {
    let w0: [Float] = [0.5, -1, 2, 0.25]
    let gradients: [[Float]] = [[0.1, -0.3, 0.05, 2], [0.2, -0.1, -0.4, 1], [-0.3, 0.6, 0.02, 0.5]]

    @Test("adadelta: E[g²], Δ = √(E[Δ²]+ε)·g/√(E[g²]+ε), E[Δ²], w − lr·Δ, after 3 steps")
    func adadelta() throws {
        let (lr, rho, eps, decay) = (1.0, 0.9, 1e-6, 0.01)
        let got = stepped(try optimizer("adadelta", #"{"rho": 0.9, "epsilon": 1e-6, "weight_decay": 0.01}"#),
                          from: w0, gradients: gradients, lr: Float(lr))
        var w = w0.map(Double.init), a = [Double](repeating: 0, count: 4), d = a
        for row in gradients {
            for i in 0..<4 {
                let g = Double(row[i])
                w[i] -= lr * decay * w[i]
                a[i] = rho * a[i] + (1 - rho) * g * g
                let delta = (d[i] + eps).squareRoot() * g / (a[i] + eps).squareRoot()
                d[i] = rho * d[i] + (1 - rho) * delta * delta
                w[i] -= lr * delta
            }
        }
        expectClose(got, w, tolerance: 2e-6, "adadelta")
    }

    @Test("adagrad: A from initial_accumulator_value, A + g², w − lr·g/√(A+ε), after 3 steps")
    func adagrad() throws {
        let (lr, eps) = (0.1, 1e-7)
        let got = stepped(try optimizer("adagrad", #"{"initial_accumulator_value": 0.2}"#), from: w0,
                          gradients: gradients, lr: Float(lr))
        var w = w0.map(Double.init), a = [Double](repeating: 0.2, count: 4)
        for row in gradients {
            for i in 0..<4 {
                let g = Double(row[i])
                a[i] += g * g
                w[i] -= lr * g / (a[i] + eps).squareRoot()
            }
        }
        expectClose(got, w, tolerance: 2e-6, "adagrad")
    }

    @Test("adamax: m, u = max(β₂u, |g|), w − lr·m/((1 − β₁ᵗ)(u + ε)), after 3 steps")
    func adamax() throws {
        let (lr, b1, b2, eps) = (0.01, 0.8, 0.95, 1e-7)
        let got = stepped(try optimizer("adamax", #"{"beta_1": 0.8, "beta_2": 0.95}"#), from: w0,
                          gradients: gradients, lr: Float(lr))
        var w = w0.map(Double.init), m = [Double](repeating: 0, count: 4), u = m
        for (t, row) in gradients.enumerated() {
            for i in 0..<4 {
                let g = Double(row[i])
                m[i] = b1 * m[i] + (1 - b1) * g
                u[i] = max(b2 * u[i], abs(g))
                w[i] -= lr * m[i] / ((1 - pow(b1, Double(t + 1))) * (u[i] + eps))
            }
        }
        expectClose(got, w, tolerance: 2e-6, "adamax")
    }

    /// Nadam in Double with momentum schedule μₜ = β₁(1 − ½·0.96^(d·t)).
    func nadamReference(lr: Double, b1: Double, b2: Double, eps: Double, d: Double) -> [Double] {
        var w = w0.map(Double.init), m = [Double](repeating: 0, count: 4), v = m, product = 1.0
        for (index, row) in gradients.enumerated() {
            let t = Double(index + 1)
            let mu = b1 * (1 - 0.5 * pow(0.96, d * t)), next = b1 * (1 - 0.5 * pow(0.96, d * (t + 1)))
            product *= mu
            for i in 0..<4 {
                let g = Double(row[i])
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let mHat = next * m[i] / (1 - product * next) + (1 - mu) * g / (1 - product)
                let vHat = v[i] / (1 - pow(b2, t))
                w[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        return w
    }

    @Test("nadam: Keras 3's μₜ schedule (0.96^t), and PyTorch's with momentum_decay 0.004, after 3 steps")
    func nadam() throws {
        let keras = stepped(try optimizer("nadam", "{}"), from: w0, gradients: gradients, lr: 0.01)
        expectClose(keras, nadamReference(lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-7, d: 1), tolerance: 2e-6, "nadam")
        let torch = stepped(try optimizer("nadam", #"{"momentum_decay": 0.004}"#), from: w0, gradients: gradients, lr: 0.01)
        expectClose(torch, nadamReference(lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-7, d: 0.004), tolerance: 2e-6,
                    "nadam (momentum_decay 0.004)")
        #expect(keras != torch)
    }

    @Test("Keras 3's own golden values: single step, five steps, weight decay", arguments: [
        "adadelta", "adagrad", "adamax", "nadam",
    ])
    func kerasGolden(_ name: String) throws {
        // test_single_step: learning_rate 0.5, other parameters at their defaults.
        let single: [String: [Double]] = [
            "adadelta": [0.9993, 1.9993, 2.9993, 3.9993], "adagrad": [0.5233, 1.5007, 2.5005, 3.5061],
            "adamax": [0.5, 1.5, 2.5, 3.5], "nadam": [0.4686, 1.4686, 2.4686, 3.4686],
        ]
        let one = stepped(try optimizer(name, "{}"), from: [1, 2, 3, 4], gradients: [[1, 6, 7, 2]], lr: 0.5)
        expectClose(one, single[name]!, tolerance: 1e-4, "\(name) single step")

        // test_correctness_with_golden: the value before each of the last five steps.
        let (json, lr, golden): (String, Float, [[Double]]) = switch name {
        case "adadelta": (#"{"rho": 0.8, "epsilon": 1e-6}"#, 1.0,
                          [0.9978, 0.9947, 0.9915, 0.9882, 0.9849].map { [Double](repeating: $0, count: 10) })
        case "adagrad": (#"{"initial_accumulator_value": 0.3, "epsilon": 1e-6}"#, 0.2, [
            [Double](repeating: 0.9963, count: 10),
            [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
            [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
            [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
            [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825]])
        case "adamax": (#"{"beta_1": 0.85, "beta_2": 0.95, "epsilon": 1e-6}"#, 0.2, [
            [Double](repeating: 0.8, count: 10),
            [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
            [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
            [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
            [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126]])
        default: (#"{"beta_1": 0.5, "beta_2": 0.67, "epsilon": 1e-5}"#, 0.5, [
            [Double](repeating: 0.4281, count: 10),
            [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
            [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
            [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
            [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454]])
        }
        for k in 1...5 {
            let w = stepped(try optimizer(name, json), from: [Float](repeating: 1, count: 10),
                            gradients: Array(goldenGradients.prefix(k)), lr: lr)
            for (x, y) in zip(w, golden[k - 1]) {
                #expect(abs(Double(x) - y) <= 5e-4 + 5e-4 * abs(y), "\(name) after \(k) steps: \(w)")
            }
        }

        // test_weight_decay: a zero gradient, three steps of decay 0.004 at rate 1: 2·0.996³.
        let decayed = stepped(try optimizer(name, #"{"weight_decay": 0.004}"#), from: [2],
                              gradients: [[0], [0], [0]], lr: 1)
        #expect(abs(decayed[0] - 1.9760959) < 1e-6, "\(name): \(decayed)")
    }

    @Test("Keras's defaults; Adadelta's rate is Keras's 0.001, not PyTorch's 1.0")
    func defaults() throws {
        let adadelta = try #require(try optimizer("adadelta", "{}") as? Adadelta)
        #expect(adadelta.config.learningRate == 0.001 && adadelta.config.rho == 0.95 && adadelta.config.epsilon == 1e-7)
        let adagrad = try #require(try optimizer("adagrad", "{}") as? Adagrad)
        #expect(adagrad.config.learningRate == 0.001 && adagrad.config.initialAccumulatorValue == 0.1
                && adagrad.config.epsilon == 1e-7)
        let adamax = try #require(try optimizer("adamax", "{}") as? Adamax)
        #expect(adamax.config.beta1 == 0.9 && adamax.config.beta2 == 0.999 && adamax.config.epsilon == 1e-7)
        let nadam = try #require(try optimizer("nadam", "{}") as? Nadam)
        #expect(nadam.config.adam.learningRate == 0.001 && nadam.config.momentumDecay == 1)
        #expect(Optimizers.registry.names == ["adadelta", "adagrad", "adam", "adamax", "adamw", "nadam", "rmsprop", "sgd"])
        // Checkpoints name the state tensors: Nadam's running product Πₜ is one of them.
        nadam.prepare(parameterCount: 3)
        #expect(nadam.state.map(\.name) == ["m", "v", "u_product"])
        #expect(nadam.state.last?.values.array == [1])
    }

    @Test("the same bits with no pool, 1 thread and 2 threads (10,000 parameters: several chunks)",
          arguments: ["adadelta", "adagrad", "adamax", "nadam"])
    func threadCounts(_ name: String) throws {
        var stream = RandomStream(seed: 5, name: "optimizer-threads")
        let w0 = (0..<10_000).map { _ in stream.nextNormal() }
        let grads = (0..<4).map { _ in (0..<10_000).map { _ in stream.nextNormal() * 0.1 } }
        let json = #"{"weight_decay": 0.01}"#
        let plain = stepped(try optimizer(name, json), from: w0, gradients: grads, lr: 0.01)
        let one = stepped(try optimizer(name, json), from: w0, gradients: grads, lr: 0.01, pool: ThreadPool(threadCount: 1))
        let two = stepped(try optimizer(name, json), from: w0, gradients: grads, lr: 0.01, pool: ThreadPool(threadCount: 2))
        #expect(plain.map(\.bitPattern) == one.map(\.bitPattern))
        #expect(plain.map(\.bitPattern) == two.map(\.bitPattern))
        #expect(plain != w0)
    }

    @Test("training with each: identical weights for 1 and 2 threads, and the loss falls",
          arguments: ["adadelta", "adagrad", "adamax", "nadam"])
    func trainerThreads(_ name: String) throws {
        let data = quadrants(count: 400, seed: 8)
        let json = name == "adadelta" ? #"{"learning_rate": 1.0}"# : #"{"learning_rate": 0.01}"#
        var weights: [[Float]] = [], losses: [Double] = []
        for threads in [1, 2] {
            let trainer = try makeTrainer(seed: 3, threads: threads, optimizer: try optimizer(name, json))
            let history = trainer.fit(Subset(data), validation: nil, FitOptions(epochs: 3, batchSize: 16))
            weights.append(trainer.model.parameters.array)
            losses = history.epochs.map(\.training.loss)
        }
        #expect(weights[0] == weights[1])
        #expect(losses.last! < losses.first!, "\(name): \(losses)")
    }
}
