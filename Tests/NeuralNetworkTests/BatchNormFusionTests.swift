// Batch normalization with the ReLU after it in one layer (`BatchNormalization.fuse`), with a 2×2
// max pooling after that too (`fuse(pool:)`), and the AVX-512 build of its passes
// (Sources/CKernels/batch_norm.c): the bits of the separate layers and of the Swift loops, on odd
// shapes and any thread count; finite differences for the fused layer.
import Foundation
import Kernels
import NeuralNetwork
import Testing

@Suite("Batch normalization fused with the ReLU after it")
struct BatchNormFusionTests {
    static let convBNReLU: [(String, String)] = [
        ("conv2d", #"{"filters": 37, "kernel_size": 3, "use_bias": false}"#),
        ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
        ("flatten", "{}"), ("dense", #"{"units": 16, "use_bias": false}"#),
        ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
        ("dense", #"{"units": 3}"#),
    ]

    @Test("fused and separate layers give the same bits, on 1 and 2 threads")
    func sameBits() throws {
        for batch in [5, 8] {
            // A fresh model for each step: a training step moves the moving statistics.
            func model(fuse: Bool) throws -> Sequential {
                try buildModel(Self.convBNReLU, input: [9, 11, 2], maxBatch: 8, fuse: fuse)
            }
            let fused = try model(fuse: true)
            let activations = fused.layers.compactMap { $0 as? ActivationLayer }
            #expect(activations.count == 2 && activations.allSatisfy(\.fusedIntoPrevious))
            #expect(fused.layers.compactMap { ($0 as? BatchNormalization)?.appliesReLU } == [true, true])
            let reference = trainingStepBits(try model(fuse: false), batch: batch, threads: 1)
            #expect(trainingStepBits(fused, batch: batch, threads: 2) == reference)
            #expect(trainingStepBits(try model(fuse: true), batch: batch, threads: 1) == reference)
            #expect(reference[0].contains { Float(bitPattern: $0) != 0 })
        }
    }

    @Test("batch normalization, ReLU and 2×2 max pooling in one layer give the separate layers' bits",
          arguments: [
        // 37 channels (two vectors and a partial one), 7×9 maps (a row and a column no window covers).
        ([9, 11, 2], [("conv2d", #"{"filters": 37, "kernel_size": 3, "use_bias": false}"#)]),
        // 16 channels over 10×10 maps, then a second block at 5×5 → 2×2.
        ([10, 10, 2], [("conv2d", #"{"filters": 16, "kernel_size": 3, "padding": "same", "use_bias": false}"#),
                       ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
                       ("max_pooling2d", #"{"pool_size": 2}"#),
                       ("conv2d", #"{"filters": 24, "kernel_size": 1, "use_bias": false}"#)]),
        // 17×19 maps: 7 images are 2,261 rows, eight row blocks of the sums (statisticBlocks), all
        // but the first starting inside an image.
        ([19, 21, 2], [("conv2d", #"{"filters": 16, "kernel_size": 3, "use_bias": false}"#)]),
    ])
    func pooledSameBits(_ input: [Int], _ head: [(String, String)]) throws {
        let specs = head + [("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
                            ("max_pooling2d", "{}"), ("flatten", "{}"), ("dense", #"{"units": 3}"#)]
        for batch in [3, 7, 8] {
            func model(fuse: Bool) throws -> Sequential { try buildModel(specs, input: input, maxBatch: 8, fuse: fuse) }
            let fused = try model(fuse: true)
            let norms = fused.layers.compactMap { $0 as? BatchNormalization }
            let pools = fused.layers.compactMap { $0 as? Pooling2D }
            let inside = VectorCode.best == .avx512
            #expect(norms.allSatisfy { $0.computesPooling == inside } && pools.allSatisfy { $0.fusedIntoPrevious == inside })
            #expect(norms.map(\.pathName) == norms.map { _ in inside ? "normalize-relu-pooled" : "normalize-relu-portable" })
            #expect(try model(fuse: false).layers.compactMap { ($0 as? BatchNormalization)?.pathName }
                    == norms.map { _ in inside ? "normalize" : "normalize-portable" })
            let reference = trainingStepBits(try model(fuse: false), batch: batch, threads: 1)
            #expect(trainingStepBits(fused, batch: batch, threads: 2) == reference)
            #expect(trainingStepBits(try model(fuse: true), batch: batch, threads: 1) == reference)
            #expect(reference[1].contains { Float(bitPattern: $0) != 0 })
        }
    }

    @Test("a first-layer convolution computes the batch normalization's dx in its kernel gradient: the same bits",
          .enabled(if: VectorCode.avx512.isAvailable, "the direct path is AVX-512 only"), arguments: [
        // cnn-best.yaml's first block at a small size; 37 filters (a partial vector), then pooled.
        ([12, 10, 1], #"{"filters": 37, "kernel_size": 3, "use_bias": false}"#, true),
        ([11, 9, 1], #"{"filters": 16, "kernel_size": 5, "strides": 2, "padding": "same", "use_bias": false}"#,
         false),
    ])
    func gradientInConvolution(_ input: [Int], _ conv: String, _ pooled: Bool) throws {
        let specs = [("conv2d", conv), ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#)]
            + (pooled ? [("max_pooling2d", "{}")] : []) + [("flatten", "{}"), ("dense", #"{"units": 3}"#)]
        for batch in [3, 7, 8] {
            func model(fuse: Bool) throws -> Sequential { try buildModel(specs, input: input, maxBatch: 8, fuse: fuse) }
            let fused = try model(fuse: true)
            let norm = fused.layers.compactMap { $0 as? BatchNormalization }.first!
            #expect(fused.layers[0].pathName == "direct" && norm.inputGradientInPrevious)
            #expect(norm.pathName == (pooled ? "normalize-relu-pooled" : "normalize-relu") + "-dx-in-conv")
            let reference = trainingStepBits(try model(fuse: false), batch: batch, threads: 1)
            #expect(trainingStepBits(fused, batch: batch, threads: 2) == reference)
            #expect(trainingStepBits(try model(fuse: true), batch: batch, threads: 1) == reference)
            #expect(reference[1].contains { Float(bitPattern: $0) != 0 })
        }
        // Not with a bias (its gradient needs dz in memory), nor with an activation before it.
        let biased = try buildModel([("conv2d", #"{"filters": 8, "kernel_size": 3}"#)] + specs.dropFirst(),
                                    input: input, maxBatch: 2)
        #expect(!(biased.layers[1] as! BatchNormalization).inputGradientInPrevious)
        let activated = try buildModel([("conv2d", #"{"filters": 8, "kernel_size": 1, "use_bias": false}"#),
                                        ("conv2d", #"{"filters": 8, "kernel_size": 3, "activation": "relu"}"#)]
                                       + specs.dropFirst(), input: input, maxBatch: 2)
        #expect(activated.layers[1].pathName == "winograd-f4x4"
                && !(activated.layers[2] as! BatchNormalization).inputGradientInPrevious)
    }

    @Test("Winograd convolutions compute the batch normalizations' dx block by block: the same bits",
          .enabled(if: VectorCode.avx512.isAvailable, "the batch normalization's passes are AVX-512 ones"))
    func gradientInWinograd() throws {
        // The second and third layers' dx are needed (they are not first), and the third's
        // normalization is pooled.
        let specs = [("conv2d", #"{"filters": 8, "kernel_size": 3, "activation": "relu"}"#),
                     ("conv2d", #"{"filters": 16, "kernel_size": 3}"#),
                     ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
                     ("conv2d", #"{"filters": 12, "kernel_size": 3, "use_bias": false}"#),
                     ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
                     ("max_pooling2d", "{}"), ("flatten", "{}"), ("dense", #"{"units": 3}"#)]
        for batch in [3, 8] {
            func model(fuse: Bool) throws -> Sequential {
                try buildModel(specs, input: [16, 14, 1], maxBatch: 8, fuse: fuse)
            }
            let fused = try model(fuse: true)
            let convs = fused.layers.compactMap { $0 as? Conv2D }, norms = fused.layers.compactMap { $0 as? BatchNormalization }
            #expect(convs.map(\.pathName) == ["direct", "winograd-f4x4", "winograd-f4x4"])
            // The first normalization's output is applied by the Winograd layer after it.
            #expect(norms.map(\.pathName) == ["normalize-relu-dx-in-conv-y-in-conv", "normalize-relu-pooled-dx-in-conv"])
            let reference = trainingStepBits(try model(fuse: false), batch: batch, threads: 1)
            #expect(trainingStepBits(fused, batch: batch, threads: 2) == reference)
            #expect(trainingStepBits(try model(fuse: true), batch: batch, threads: 1) == reference)
            #expect(reference[1].contains { Float(bitPattern: $0) != 0 })
        }
    }

    @Test("Winograd convolutions apply the batch normalization before them as they read their input: the same bits",
          .enabled(if: VectorCode.avx512.isAvailable, "the batch normalization's pass is an AVX-512 one"))
    func normalizationInWinograd() throws {
        // A normalization without ReLU before a Winograd layer with "same" padding (the padding's
        // zeros are not normalized), then one with ReLU before a stride-2 Winograd layer, then one
        // with ReLU before a 2×2 strided convolution, whose im2col path does not apply it (the
        // stride-2 layer, which has no activation, computes that one's dx). (Not a pooled Winograd
        // layer: without the fusions it would be another algorithm; WinogradTests covers those.)
        let specs = [("conv2d", #"{"filters": 8, "kernel_size": 3, "activation": "relu"}"#),
                     ("batch_normalization", "{}"),
                     ("conv2d", #"{"filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"}"#),
                     ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
                     ("conv2d", #"{"filters": 16, "kernel_size": 3, "strides": 2}"#),
                     ("batch_normalization", "{}"), ("activation", #"{"activation": "relu"}"#),
                     ("conv2d", #"{"filters": 8, "kernel_size": 2, "strides": 2}"#),
                     ("flatten", "{}"), ("dense", #"{"units": 3}"#)]
        // 35 images: two groups of the Winograd passes, the second of 3.
        for batch in [3, 35] {
            func model(fuse: Bool) throws -> Sequential {
                try buildModel(specs, input: [14, 12, 1], maxBatch: 35, fuse: fuse)
            }
            let fused = try model(fuse: true)
            let convs = fused.layers.compactMap { $0 as? Conv2D }, norms = fused.layers.compactMap { $0 as? BatchNormalization }
            #expect(convs.dropFirst().map(\.pathName) == ["winograd-f4x4", "winograd-s2-f4x4", "im2col"])
            #expect(norms.map(\.outputInNext) == [true, true, false])
            #expect(norms.map(\.pathName)
                    == ["normalize-y-in-conv", "normalize-relu-y-in-conv", "normalize-relu-dx-in-conv"])
            let reference = trainingStepBits(try model(fuse: false), batch: batch, threads: 1)
            #expect(trainingStepBits(fused, batch: batch, threads: 2) == reference)
            #expect(trainingStepBits(try model(fuse: true), batch: batch, threads: 1) == reference)
            #expect(reference[1].contains { Float(bitPattern: $0) != 0 })
        }
    }

    /// A batch normalization made to apply the ReLU after it, as a model builds it.
    func fusedLayer(_ shape: [Int]) throws -> BatchNormalization {
        let norm = try BatchNormalization(.init(), inputShape: Shape(shape))
        let relu = ActivationLayer(.init(activation: .relu), inputShape: Shape(shape))
        _ = try Sequential(name: "m", inputShape: Shape(shape), layers: [norm, relu], maxBatch: 1, seed: 1)
        #expect(norm.appliesReLU)
        return norm
    }

    @Test("finite differences of the fused layer, training and inference mode")
    func gradients() throws {
        checkGradients(try fusedLayer([17]), batch: 4, kinks: true)
        checkGradients(try fusedLayer([2, 3, 3]), batch: 2, kinks: true)
        checkGradients(try fusedLayer([2, 3, 3]), batch: 2, training: false, kinks: true)
    }

    @Test("the AVX-512 passes give the Swift loops' bits, on 1 and 2 threads, with and without ReLU",
          .enabled(if: VectorCode.avx512.isAvailable),
          arguments: [false, true], [
        // 37 channels (16, 16, 5) over 106 rows: one row block.
        (106, 37),
        // 70 channels (64 and 6 a pass of the AVX-512 sums; 16, 16, 16, 16, 6 of the Swift loop)
        // over 4,507 rows: sixteen row blocks, the last shorter.
        (4_507, 70),
    ])
    func buildsAgree(_ relu: Bool, _ shape: (rows: Int, channels: Int)) {
        let (m, c) = shape
        #expect(statisticBlocks(rows: m).count == (m < 512 ? 1 : 16))
        var s = RandomStream(seed: 5, name: "bn builds")
        let x = FloatStorage((0..<m * c).map { _ in s.nextNormal() * 3 + 1 })
        let dy = (0..<m * c).map { _ in s.nextNormal() }
        let gamma = FloatStorage((0..<c).map { _ in s.nextNormal() }), beta = FloatStorage((0..<c).map { _ in s.nextNormal() })
        var results: [[Float]] = []
        for (code, threads) in [(VectorCode.portable, 2), (.avx512, 1), (.avx512, 2)] {
            let pool = ThreadPool(threadCount: threads)
            let y = FloatStorage(count: m * c), dx = FloatStorage(count: m * c), g = FloatStorage(dy)
            let mean = FloatStorage(count: c), variance = FloatStorage((0..<c).map { _ in 1 })
            let gradients = FloatStorage(count: 2 * c), scratch = FloatStorage(count: BatchNormScratch.count(channels: c))
            let state = BatchNormScratch(scratch.view, channels: c)
            batchNormTrainingForward(x: x.view, y: y.view, rows: m, channels: c, epsilon: 1e-3, momentum: 0.9,
                                     gamma: gamma.view, beta: beta.view, movingMean: mean.view,
                                     movingVariance: variance.view, scratch: state, relu: relu, pool: pool, code: code)
            // The statistics against a plain two-pass computation in Double.
            for ch in 0..<c {
                let values = (0..<m).map { Double(x.view[$0 * c + ch]) }
                let mu = values.reduce(0, +) / Double(m)
                let sigma2 = values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(m)
                #expect(abs(Double(mean.view[ch]) - 0.1 * mu) <= 1e-6 * max(1, abs(mu)))
                #expect(abs(Double(variance.view[ch]) - (0.9 + 0.1 * sigma2)) <= 1e-6 * (0.9 + 0.1 * sigma2))
            }
            batchNormBackward(x: x.view, dy: g.view, dx: dx.view, rows: m, channels: c, gamma: gamma.view,
                              gammaGradient: gradients.view.slice(0, c), betaGradient: gradients.view.slice(c, c),
                              batchStatistics: true, scratch: state, relu: relu ? y.view : nil, pool: pool, code: code)
            let training = y.array + dx.array + gradients.array + mean.array + variance.array
            let yInference = FloatStorage(count: m * c), dxInference = FloatStorage(count: m * c), g2 = FloatStorage(dy)
            batchNormInferenceForward(x: x.view, y: yInference.view, rows: m, channels: c, epsilon: 1e-3,
                                      gamma: gamma.view, beta: beta.view, movingMean: mean.view,
                                      movingVariance: variance.view, scratch: state, relu: relu, pool: pool, code: code)
            batchNormBackward(x: x.view, dy: g2.view, dx: dxInference.view, rows: m, channels: c, gamma: gamma.view,
                              gammaGradient: nil, betaGradient: nil, batchStatistics: false, scratch: state,
                              relu: relu ? yInference.view : nil, pool: pool, code: code)
            results.append(training + yInference.array + dxInference.array)
        }
        let same = results.dropFirst().allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) }
        #expect(same)
        #expect(results[0].prefix(m * c).contains { $0 == 0 } == relu)
    }
}
