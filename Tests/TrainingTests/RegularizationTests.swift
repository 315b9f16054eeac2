// Weight decay (Keras 3's decoupled `weight_decay` on every optimizer) and L2 kernel penalties:
// one hand-computed update per optimizer, the penalty's value and gradient, a finite-difference
// check of the loss with its penalty, and Keras's reporting (the penalty is part of the loss).
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// One update of `optimizer` on w with gradient g at rate `lr`; returns the new w.
func oneStep(_ optimizer: any Optimizer, w: [Float], g: [Float], lr: Float) -> [Float] {
    let weights = FloatStorage(w), gradients = FloatStorage(g)
    optimizer.prepare(parameterCount: w.count)
    optimizer.update(parameters: weights.view, gradients: gradients.view, step: 1, learningRate: lr, pool: nil)
    return weights.array
}

func optimizer(_ type: String, _ json: String) throws -> any Optimizer {
    try Optimizers.registry.lookup(type)(JSONDecoder().decoder(for: json))
}

@Suite("Weight decay and L2 penalties")
struct RegularizationTests {
    @Test("sgd weight_decay: w ← w − lr·λ·w, then w ← w − lr·g")
    func sgdDecay() throws {
        let sgd = try optimizer("sgd", #"{"learning_rate": 0.1, "weight_decay": 0.01}"#)
        // 2 − 0.1·0.01·2 = 1.998, − 0.1·0.5 = 1.948;  −1 + 0.001 = −0.999, − 0.1·0.25 = −1.024
        let w = oneStep(sgd, w: [2, -1], g: [0.5, 0.25], lr: 0.1)
        #expect(abs(w[0] - 1.948) < 1e-6 && abs(w[1] + 1.024) < 1e-6, "\(w)")
        // Without decay the same step gives 1.95 and −1.025.
        let plain = oneStep(try optimizer("sgd", #"{"learning_rate": 0.1}"#), w: [2, -1], g: [0.5, 0.25], lr: 0.1)
        #expect(abs(plain[0] - 1.95) < 1e-6 && abs(plain[1] + 1.025) < 1e-6, "\(plain)")
        // With momentum the first step is the same (v starts at 0).
        let momentum = oneStep(try optimizer("sgd", #"{"momentum": 0.9, "weight_decay": 0.01}"#),
                               w: [2, -1], g: [0.5, 0.25], lr: 0.1)
        #expect(abs(momentum[0] - 1.948) < 1e-6, "\(momentum)")
    }

    @Test("rmsprop weight_decay: decay first, then the RMSprop step")
    func rmspropDecay() throws {
        let rms = try optimizer("rmsprop", #"{"learning_rate": 0.01, "weight_decay": 0.1}"#)
        // w = 1 − 0.01·0.1·1 = 0.999; s = 0.1·0.5² = 0.025; w −= 0.01·0.5/√(0.025 + 1e-7) = 0.0316227
        let w = oneStep(rms, w: [1], g: [0.5], lr: 0.01)
        #expect(abs(w[0] - 0.9673773) < 2e-7, "\(w)")
    }

    @Test("adam takes weight_decay too; adamw defaults to 0.004")
    func adamDecay() throws {
        // Adam's first step is lr·m̂/(√v̂ + ε) ≈ lr = 0.001; the decay takes 0.001·0.004·1 = 4e-6 first.
        let adamw = try optimizer("adamw", "{}")
        #expect(adamw.name == "adamw")
        let w = oneStep(adamw, w: [1], g: [0.5], lr: 0.001)
        #expect(abs(w[0] - 0.998996) < 2e-7, "\(w)")
        let adam = try optimizer("adam", #"{"weight_decay": 0.004}"#)
        #expect(adam.name == "adam")
        #expect(oneStep(adam, w: [1], g: [0.5], lr: 0.001) == w)
        let none = oneStep(try optimizer("adam", "{}"), w: [1], g: [0.5], lr: 0.001)
        #expect(abs(none[0] - 0.999) < 2e-7, "\(none)")
        #expect(throws: ConfigError.self) { _ = try optimizer("sgd", #"{"weight_decay": -0.1}"#) }
    }

    @Test("the decay uses the step's scheduled rate")
    func decayFollowsRate() throws {
        let sgd = try optimizer("sgd", #"{"learning_rate": 0.1, "weight_decay": 0.5}"#)
        // At rate 0 nothing changes, whatever λ.
        #expect(oneStep(sgd, w: [3], g: [0], lr: 0) == [3])
        // At rate 0.2: 3 − 0.2·0.5·3 = 2.7
        #expect(abs(oneStep(sgd, w: [3], g: [0], lr: 0.2)[0] - 2.7) < 1e-6)
    }

    @Test("kernel_regularizer values: {l2: λ}, `l2` alone is Keras's 0.01, and λ ≥ 0")
    func regularizerConfig() throws {
        struct Box: Decodable { let r: Regularizer; init(from d: Decoder) throws { r = try Regularizer(from: d) } }
        func read(_ json: String) throws -> Regularizer { try JSONDecoder().decode(Box.self, from: Data(json.utf8)).r }
        #expect(try read(#"{"l2": 0.001}"#) == .l2(0.001))
        #expect(try read(#""l2""#) == .l2(0.01))
        let negative = #expect(throws: ConfigError.self) { _ = try read(#"{"l2": -1}"#) }
        #expect(negative?.message.contains("'l2' must be a non-negative number") == true)
        let other = #expect(throws: ConfigError.self) { _ = try read(#""l1""#) }
        #expect(other?.hint?.contains("did you mean 'l2'") == true)
    }

    /// Two trainers on identical models (same seed), the second with an L2 penalty on the hidden kernel.
    func pair(lambda: Float) throws -> (plain: Trainer, penalized: Trainer) {
        let plain = try makeTrainer(seed: 11, threads: 1, dropout: false)
        let penalized = try makeTrainer(seed: 11, threads: 2, dropout: false,
                                        penalties: [ParameterPenalty(layer: "hidden", regularizer: .l2(lambda))])
        return (plain, penalized)
    }

    /// The hidden kernel's slice of the model's flat parameter array.
    func hiddenKernel(_ model: Sequential) throws -> Range<Int> {
        let entry = try #require(model.parameterTable.first { $0.layer == "hidden" && $0.name == "kernel" })
        return entry.offset..<(entry.offset + entry.count)
    }

    @Test("L2: the loss gains λ·Σw², the kernel's gradient 2λ·w, nothing else changes")
    func l2ValueAndGradient() throws {
        let lambda: Float = 0.05
        let (plain, penalized) = try pair(lambda: lambda)
        let images = quadrants(count: 16, seed: 2)
        let batch = Array(0..<16)[...]
        let base = plain.lossAndGradients(batch, of: images)
        let total = penalized.lossAndGradients(batch, of: images)
        let kernel = try hiddenKernel(plain.model)
        let w = plain.model.parameters.array
        let sumOfSquares = kernel.reduce(0.0) { $0 + Double(w[$1]) * Double(w[$1]) }
        #expect(abs((total - base) - Double(lambda) * sumOfSquares) < 1e-6 * total, "\(total - base)")

        let g0 = plain.model.gradients.array, g1 = penalized.model.gradients.array
        for i in g0.indices {
            let expected = kernel.contains(i) ? g0[i] + 2 * lambda * w[i] : g0[i]
            #expect(abs(g1[i] - expected) <= 1e-6 * max(1, abs(expected)), "parameter \(i)")
        }
        // Evaluation reports the penalty too, as Keras's evaluate does.
        let data = Subset(images)
        let e0 = plain.evaluate(data, batchSize: 16), e1 = penalized.evaluate(data, batchSize: 16)
        // (The kernel sums squares in Float lanes within a chunk: agreement to ~1e-7, not exactly.)
        #expect(abs((e1.loss - e0.loss) - Double(lambda) * sumOfSquares) < 1e-6 * Double(lambda) * sumOfSquares)
        #expect(e1.accuracy == e0.accuracy)
    }

    @Test("L2: finite differences of the loss with its penalty match the gradient")
    func l2FiniteDifferences() throws {
        let (_, trainer) = try pair(lambda: 0.5)
        let images = quadrants(count: 16, seed: 3)
        let batch = Array(0..<16)[...]
        _ = trainer.lossAndGradients(batch, of: images)
        let analytic = trainer.model.gradients.array
        let kernel = try hiddenKernel(trainer.model)
        let p = trainer.model.parameters.view
        let h: Float = 1e-3
        // A spread of kernel entries, and a few outside it (no penalty there).
        let checked = stride(from: kernel.lowerBound, to: kernel.upperBound, by: 97).map { $0 } + [kernel.upperBound + 3]
        var worst = 0.0
        for i in checked {
            let original = p[i]
            p[i] = original + h
            let up = trainer.lossAndGradients(batch, of: images)
            p[i] = original - h
            let down = trainer.lossAndGradients(batch, of: images)
            p[i] = original
            let numeric = (up - down) / Double(2 * h)
            let error = abs(numeric - Double(analytic[i])) / max(1e-2, abs(numeric) + abs(Double(analytic[i])))
            worst = max(worst, error)
            #expect(error < 2e-2, "parameter \(i): numeric \(numeric), analytic \(analytic[i])")
        }
        #expect(checked.count > 10 && worst < 2e-2)
    }

    @Test("the L2 kernel over several chunks: the same bits with no pool or 1, 2, 3 threads")
    func l2Kernel() {
        var stream = RandomStream(seed: 5, name: "l2")
        let values = (0..<10_001).map { _ in stream.nextUniform() - 0.5 }
        let exact = 0.125 * values.reduce(0.0) { $0 + Double($1) * Double($1) }
        var results: [(Double, [Float])] = []
        for threads in [0, 1, 2, 3] {
            let w = FloatStorage(values), g = FloatStorage(count: values.count)
            g.view.fill(1)
            let value = l2Penalty(weights: w.view, gradients: g.view, lambda: 0.125, partials: PartialSums(capacity: 3),
                                  pool: threads == 0 ? nil : ThreadPool(threadCount: threads))
            results.append((value, g.array))
        }
        #expect(abs(results[0].0 - exact) < 1e-6 * exact)
        #expect(results[0].1 == values.map { 1 + 0.25 * $0 })
        for r in results.dropFirst() { #expect(r.0 == results[0].0 && r.1 == results[0].1) }
    }

    @Test("a layer holding its own kernel_regularizer (RegularizedLayer) declares its penalty")
    func regularizedLayer() throws {
        let hidden = try RegularizedDense(units: 16, input: 64, name: "hidden", regularizer: .l2(0.25))
        let layers: [any Layer] = [Flatten(inputShape: Shape([8, 8])), hidden,
                                   try Dense(.init(units: 4, activation: .softmax), inputShape: Shape([16]), name: "out")]
        #expect(ParameterPenalty.declared(by: layers) == [ParameterPenalty(layer: "hidden", regularizer: .l2(0.25))])
        #expect(layers.map(\.hasKernel) == [false, true, true])
    }
}

/// A dense layer that holds a kernel_regularizer, as a conv layer's Config would.
final class RegularizedDense: RegularizedLayer {
    let inner: Dense
    let kernelRegularizer: Regularizer?
    init(units: Int, input: Int, name: String, regularizer: Regularizer) throws {
        inner = try Dense(.init(units: units, activation: .relu), inputShape: Shape([input]), name: name)
        kernelRegularizer = regularizer
    }
    var kind: String { "Dense" }
    var name: String {
        get { inner.name }
        set { inner.name = newValue }
    }
    var inputShape: Shape { inner.inputShape }
    var outputShape: Shape { inner.outputShape }
    var configuration: any Encodable & Sendable { inner.configuration }
    var parameterSpecs: [ParameterSpec] { inner.parameterSpecs }
    func bind(parameters: [FloatView], gradients: [FloatView]) { inner.bind(parameters: parameters, gradients: gradients) }
    var scratchPerSample: Int { inner.scratchPerSample }
    var scratchFixed: Int { inner.scratchFixed }
    func bind(scratch: FloatView) { inner.bind(scratch: scratch) }
    func forward(x: FloatView, y: FloatView, batch: Int, context: PassContext) {
        inner.forward(x: x, y: y, batch: batch, context: context)
    }
    func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch: Int, context: PassContext) {
        inner.backward(x: x, y: y, dy: dy, dx: dx, batch: batch, context: context)
    }
}
