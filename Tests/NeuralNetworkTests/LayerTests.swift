// Hand-computed forward cases, shapes, summaries and build-time errors.
import Kernels
import NeuralNetwork
import Testing

@Suite("Layers and models")
struct LayerTests {
    @Test("dense forward by hand: y = relu(x·W + b)")
    func denseForward() throws {
        let layer = try Dense(.init(units: 2, activation: .relu), inputShape: Shape([3]))
        let w = FloatStorage([1, -1,
                              2, 0.5,
                              -1, 1])          // W: (3, 2)
        let b = FloatStorage([0.5, -4])
        layer.bind(parameters: [w.view, b.view], gradients: [FloatStorage(count: 6).view, FloatStorage(count: 2).view])
        let x = FloatStorage([1, 2, 3,
                              -1, 0, 1])          // two samples
        let y = FloatStorage(count: 4)
        layer.forward(x: x.view, y: y.view, batch: 2, context: PassContext(training: false))
        // sample 0: [1+4-3, -1+1+3] + b = [2.5, -1] → relu → [2.5, 0]
        // sample 1: [-1+0-1, 1+0+1] + b = [-1.5, -2] → relu → [0, 0]
        #expect(y.array == [2.5, 0, 0, 0])
    }

    @Test("softmax rows sum to one and survive huge logits")
    func softmax() {
        let y = FloatStorage([1000, 1001, 1002, -5, 0, 5])
        Activation.softmax.forward(y.view, rows: 2, cols: 3)
        let v = y.array
        #expect(abs(v[0] + v[1] + v[2] - 1) < 1e-6)
        #expect(v.allSatisfy { $0.isFinite })
        #expect(abs(v[2] - 0.66524096) < 1e-6)   // e²/(1+e+e²)
    }

    @Test("cross-entropy of a confident wrong answer stays finite")
    func crossEntropyStable() {
        let z = FloatStorage([200, -200]), t = FloatStorage([0, 1])
        let p = FloatStorage(count: 2), l = FloatStorage(count: 1)
        CrossEntropy(sparse: false).evaluate(logits: z.view, targets: t.view, batch: 1, classes: 2,
                                             probabilities: p.view, losses: l.view, gradient: nil)
        #expect(abs(l.view[0] - 400) < 1e-3)   // log-softmax, no log(0)
    }

    @Test("the seed MLP has Keras's 101,770 parameters and summary")
    func mlpSummary() throws {
        let model = try mlp()
        #expect(model.parameterCount == 101_770)
        let summary = model.summary()
        #expect(summary.contains("dense (Dense)"))
        #expect(summary.contains("(None, 784)"))
        #expect(summary.contains("100,480"))
        #expect(summary.contains(" Total params: 101,770 (397.54 KB)"))
    }

    @Test("a loss on probabilities takes over the final softmax")
    func fusedSoftmax() throws {
        let model = try mlp()
        try model.prepare(for: CrossEntropy(sparse: false))
        #expect(model.outputIsLogits)
    }

    @Test("a model that does not end in softmax is refused by a loss on probabilities")
    func missingSoftmax() throws {
        let layers: [any Layer] = [Flatten(inputShape: Shape([28, 28])),
                                   try Dense(.init(units: 10), inputShape: Shape([784]), name: "out")]
        let model = try Sequential(name: "m", inputShape: Shape([28, 28]), layers: layers, maxBatch: 4, seed: 1)
        let error = #expect(throws: ModelError.self) { try model.prepare(for: CrossEntropy(sparse: false)) }
        #expect(error?.layerIndex == 1)
        #expect(error?.hint?.contains("from_logits") == true)
        #expect(throws: Never.self) { try model.prepare(for: CrossEntropy(sparse: false, config: .init(fromLogits: true))) }
    }

    @Test("dense refuses an unflattened input, naming the shape")
    func denseNeedsFlatInput() {
        let error = #expect(throws: ModelError.self) { try Dense(.init(units: 3), inputShape: Shape([28, 28])) }
        #expect(error?.message.contains("(None, 28, 28)") == true)
        #expect(error?.hint?.contains("flatten") == true)
    }

    @Test("duplicate layer names are refused")
    func duplicateNames() throws {
        let layers: [any Layer] = [try Dense(.init(units: 3), inputShape: Shape([4]), name: "a"),
                                   try Dense(.init(units: 3), inputShape: Shape([3]), name: "a")]
        let error = #expect(throws: ModelError.self) {
            try Sequential(name: "m", inputShape: Shape([4]), layers: layers, maxBatch: 2, seed: 1)
        }
        #expect(error?.layerIndex == 1)
    }

    @Test("initialisation is a function of the seed and the layer's name only")
    func namedInitialisation() throws {
        let a = try mlp(seed: 5), b = try mlp(seed: 5), c = try mlp(seed: 6)
        #expect(a.parameters.array == b.parameters.array)
        #expect(a.parameters.array != c.parameters.array)
        // glorot_uniform for (784, 128): |w| ≤ √(6 / 912); biases start at zero.
        let limit = (6.0 / 912.0).squareRoot()
        let kernel = a.parameters.view(offset: 0, count: 784 * 128).array
        #expect(kernel.allSatisfy { Double(abs($0)) <= limit })
        #expect(kernel.contains { Double(abs($0)) > limit * 0.99 })
        #expect(a.parameters.view(offset: 784 * 128, count: 128).array.allSatisfy { $0 == 0 })
    }

    @Test("did-you-mean suggests close names only")
    func spelling() {
        #expect(Spelling.nearest(to: "dens", among: ["dense", "dropout", "flatten"]) == "dense")
        #expect(Spelling.nearest(to: "Dense", among: ["dense", "dropout"]) == "dense")
        #expect(Spelling.nearest(to: "convolution", among: ["dense", "dropout"]) == nil)
        let hint = Spelling.hint(for: "adma", among: ["sgd", "adam", "adamw"], kind: "optimizers")
        #expect(hint.hasPrefix("did you mean 'adam'?"))
    }

    @Test("the layer registry knows the foundation's layers and suggests on typos")
    func registry() {
        #expect(Set(Layers.registry.names).isSuperset(of: ["dense", "flatten", "activation", "dropout"]))
        let error = #expect(throws: ConfigError.self) { try Layers.registry.lookup("desne") }
        #expect(error?.hint?.contains("did you mean 'dense'") == true)
    }

    func mlp(seed: UInt64 = 42) throws -> Sequential {
        let layers: [any Layer] = [
            Flatten(inputShape: Shape([28, 28])),
            try Dense(.init(units: 128, activation: .relu), inputShape: Shape([784]), name: "dense"),
            try Dense(.init(units: 10, activation: .softmax), inputShape: Shape([128]), name: "dense_1"),
        ]
        return try Sequential(name: "mlp", inputShape: Shape([28, 28]), layers: layers, maxBatch: 32, seed: seed)
    }
}
