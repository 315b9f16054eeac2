// Convolution, pooling and reshape layers: finite-difference gradient checks, PyTorch golden
// values (Golden/make_conv_golden.py), Keras's parameter counts, thread-count independence and
// the build-time errors a user sees.
import Foundation
import Kernels
import NeuralNetwork
import Testing

// MARK: - Building layers the way an experiment file does

private let typeKey = CodingUserInfoKey(rawValue: "layerType")!
private let shapeKey = CodingUserInfoKey(rawValue: "inputShape")!
private let nameKey = CodingUserInfoKey(rawValue: "layerName")!

/// Decodes the parameters through the layer registry, as `- type: <type>` with `json` would.
private struct Built: Decodable {
    let layer: any Layer
    init(from decoder: Decoder) throws {
        let type = decoder.userInfo[typeKey] as! String
        let construct = try Layers.registry.lookup(type)
        layer = try construct(decoder, Shape(decoder.userInfo[shapeKey] as! [Int]),
                              decoder.userInfo[nameKey] as? String ?? type)
    }
}

func buildLayer(_ type: String, _ json: String = "{}", input: [Int], name: String? = nil) throws -> any Layer {
    let decoder = JSONDecoder()
    decoder.userInfo[typeKey] = type
    decoder.userInfo[shapeKey] = input
    if let name { decoder.userInfo[nameKey] = name }
    return try decoder.decode(Built.self, from: Data(json.utf8)).layer
}

/// Layers given as (type, parameters), chained from `input` with Keras's automatic names.
func buildModel(_ specs: [(String, String)], input: [Int], maxBatch: Int = 4, seed: UInt64 = 42,
                fuse: Bool = true) throws -> Sequential {
    var layers: [any Layer] = [], shape = input, counts: [String: Int] = [:]
    for (type, json) in specs {
        let n = counts[type, default: 0]
        counts[type] = n + 1
        let layer = try buildLayer(type, json, input: shape, name: n == 0 ? type : "\(type)_\(n)")
        layers.append(layer)
        shape = layer.outputShape.dims
    }
    return try Sequential(name: "m", inputShape: Shape(input), layers: layers, maxBatch: maxBatch, seed: seed,
                          fuse: fuse)
}

let mnistConvnet: [(String, String)] = [
    ("conv2d", #"{"filters": 32, "kernel_size": [3, 3], "activation": "relu"}"#),
    ("max_pooling2d", #"{"pool_size": [2, 2]}"#),
    ("conv2d", #"{"filters": 64, "kernel_size": 3, "activation": "relu"}"#),
    ("max_pooling2d", #"{"pool_size": 2}"#),
    ("flatten", "{}"),
    ("dropout", #"{"rate": 0.5}"#),
    ("dense", #"{"units": 10, "activation": "softmax"}"#),
]

// MARK: - Gradient checks

/// Values 0.05 apart (much more than 2h) in a scrambled order: no ties, no maximum changes.
func distinctValues(_ count: Int) -> [Float] {
    var stream = RandomStream(seed: 3, name: "distinct")
    return stream.permutation(count).map { Float($0) * 0.05 - Float(count) * 0.025 }
}

struct ConvCase: CustomTestStringConvertible, Sendable {
    let input: [Int], json: String
    var testDescription: String { "\(input) \(json)" }
}

@Suite("Convolution and pooling gradients")
struct ConvolutionGradientChecks {
    @Test("conv2d: strides, padding, bias, activations, several channels and filters", arguments: [
        ConvCase(input: [5, 5, 2], json: #"{"filters": 3, "kernel_size": 3}"#),
        ConvCase(input: [5, 6, 3], json: #"{"filters": 2, "kernel_size": 3, "padding": "same", "activation": "relu"}"#),
        ConvCase(input: [7, 6, 2], json: #"{"filters": 3, "kernel_size": [3, 2], "strides": 2, "use_bias": false, "activation": "tanh"}"#),
        ConvCase(input: [6, 5, 2], json: #"{"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}"#),
        ConvCase(input: [5, 7, 3], json: #"{"filters": 2, "kernel_size": [2, 3], "strides": [1, 2], "padding": "same", "use_bias": false}"#),
        ConvCase(input: [4, 4, 1], json: #"{"filters": 3, "kernel_size": 5, "padding": "same", "activation": "sigmoid"}"#),
        ConvCase(input: [3, 3, 2], json: #"{"filters": 4, "kernel_size": 1, "activation": "softmax"}"#),
        // 3×3 stride 1 over ≥ 8 channels: the Winograd path, valid and same, several tiles.
        ConvCase(input: [6, 7, 8], json: #"{"filters": 3, "kernel_size": 3}"#),
        ConvCase(input: [5, 9, 8], json: #"{"filters": 2, "kernel_size": 3, "padding": "same", "activation": "relu"}"#),
        // Winograd with channels and filters beyond one vector of 8, and an activation that is
        // not fused into the transforms.
        ConvCase(input: [6, 9, 9], json: #"{"filters": 10, "kernel_size": 3, "activation": "relu"}"#),
        ConvCase(input: [7, 5, 9], json: #"{"filters": 10, "kernel_size": 3, "padding": "same", "activation": "tanh"}"#),
        // One channel, no pooling: the direct path on AVX-512 (the [4, 4, 1] case above too), two
        // vectors of filters, strided with padding, and a kernel wider than it is tall.
        ConvCase(input: [9, 8, 1], json: #"{"filters": 20, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "tanh"}"#),
        ConvCase(input: [6, 6, 1], json: #"{"filters": 3, "kernel_size": [2, 3], "strides": [1, 2], "activation": "relu"}"#),
        // 3×3 stride 2 over ≥ 8 channels: the stride-2 Winograd path (AVX2), same (padding above
        // and left; a 5×5 output, one 7×7 tile) and valid (4×5, two 4×4 tiles), a partial vector,
        // an activation outside the transforms.
        ConvCase(input: [9, 9, 8], json: #"{"filters": 5, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}"#),
        ConvCase(input: [10, 11, 9], json: #"{"filters": 3, "kernel_size": 3, "strides": 2, "activation": "tanh"}"#),
    ])
    func conv2d(_ c: ConvCase) throws {
        let layer = try buildLayer("conv2d", c.json, input: c.input)
        checkGradients(layer, batch: 2, kinks: c.json.contains("relu"))
    }

    @Test("max pooling: valid, same, overlapping windows (distinct inputs, no ties)", arguments: [
        ConvCase(input: [4, 5, 2], json: "{}"),
        ConvCase(input: [5, 5, 3], json: #"{"pool_size": 3, "strides": 2, "padding": "same"}"#),
        ConvCase(input: [5, 4, 2], json: #"{"pool_size": [3, 2], "strides": 1}"#),
        // Disjoint windows over a multiple of 8 channels (the vector backward), an odd height
        // and width leaving a row and a column no window covers.
        ConvCase(input: [5, 7, 16], json: "{}"),
        ConvCase(input: [7, 6, 8], json: #"{"pool_size": 3}"#),
    ])
    func maxPooling(_ c: ConvCase) throws {
        let layer = try buildLayer("max_pooling2d", c.json, input: c.input)
        checkGradients(layer, batch: 2, input: distinctValues(2 * layer.inputShape.count))
    }

    @Test("average pooling: valid, same (padding not counted), overlapping windows", arguments: [
        ConvCase(input: [4, 5, 2], json: "{}"),
        ConvCase(input: [5, 4, 3], json: #"{"pool_size": 3, "strides": 2, "padding": "same"}"#),
        ConvCase(input: [5, 5, 2], json: #"{"pool_size": 2, "strides": 1, "padding": "same"}"#),
    ])
    func averagePooling(_ c: ConvCase) throws {
        checkGradients(try buildLayer("average_pooling2d", c.json, input: c.input))
    }

    @Test("global average pooling")
    func globalAveragePooling() throws {
        let layer = try buildLayer("global_average_pooling2d", input: [3, 4, 5])
        #expect(layer.outputShape == Shape([5]))
        checkGradients(layer)
    }
}

// MARK: - Forward values against PyTorch

@Suite("Convolution and pooling against PyTorch (Golden/ConvGolden.swift)")
struct ConvolutionGoldenTests {
    @discardableResult
    func run(_ layer: any Layer, _ expected: [Float], parameters: [[Float]] = []) -> [Float] {
        let storages = parameters.map(FloatStorage.init)
        layer.bind(parameters: storages.map(\.view), gradients: storages.map { FloatStorage(count: $0.count).view })
        let scratch = FloatStorage(count: layer.scratchCount(batch: ConvGolden.batch))
        if layer.scratchCount(batch: 1) > 0 { layer.bind(scratch: scratch.view) }
        let y = FloatStorage(count: ConvGolden.batch * layer.outputShape.count)
        layer.forward(x: FloatStorage(ConvGolden.x).view, y: y.view, batch: ConvGolden.batch,
                      context: PassContext(training: false, pool: ThreadPool(threadCount: 2)))
        #expect(y.count == expected.count)
        let worst = zip(y.array, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "\(layer.name): worst difference \(worst)")
        return y.array
    }

    @Test("conv2d: 3×3, stride 1 same; stride 2 valid with relu; stride 2 same")
    func conv() throws {
        let p = [ConvGolden.kernel, ConvGolden.bias]
        let same = try buildLayer("conv2d", #"{"filters": 3, "kernel_size": 3, "padding": "same"}"#,
                                  input: ConvGolden.inputShape)
        #expect(same.outputShape == Shape([5, 5, 3]))
        run(same, ConvGolden.conv3x3Stride1Same, parameters: p)
        let valid = try buildLayer("conv2d", #"{"filters": 3, "kernel_size": 3, "strides": 2, "activation": "relu"}"#,
                                   input: ConvGolden.inputShape)
        #expect(valid.outputShape == Shape([2, 2, 3]))
        let out = run(valid, ConvGolden.conv3x3Stride2ValidRelu, parameters: p)
        #expect(out.contains(0) && out.contains { $0 > 0 }, "the case should exercise relu")
        let strided = try buildLayer("conv2d", #"{"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}"#,
                                     input: ConvGolden.inputShape)
        #expect(strided.outputShape == Shape([3, 3, 3]))
        run(strided, ConvGolden.conv3x3Stride2Same, parameters: p)
    }

    @Test("conv2d backward: dx, dK and db of Σ r·y")
    func convBackward() throws {
        let layer = try buildLayer("conv2d", #"{"filters": 3, "kernel_size": 3, "padding": "same"}"#,
                                   input: ConvGolden.inputShape)
        let k = FloatStorage(ConvGolden.kernel), b = FloatStorage(ConvGolden.bias)
        let dk = FloatStorage(count: k.count), db = FloatStorage(count: b.count)
        dk.view.fill(1)   // backward adds into the gradients
        layer.bind(parameters: [k.view, b.view], gradients: [dk.view, db.view])
        let scratch = FloatStorage(count: layer.scratchCount(batch: ConvGolden.batch))
        layer.bind(scratch: scratch.view)
        let x = FloatStorage(ConvGolden.x), y = FloatStorage(count: ConvGolden.r.count)
        let dy = FloatStorage(ConvGolden.r), dx = FloatStorage(count: x.count)
        let context = PassContext(training: true, pool: ThreadPool(threadCount: 2))
        layer.forward(x: x.view, y: y.view, batch: ConvGolden.batch, context: context)
        layer.backward(x: x.view, y: y.view, dy: dy.view, dx: dx.view, batch: ConvGolden.batch, context: context)
        func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }
        #expect(worst(dx.array, ConvGolden.dx) <= 1e-5)
        #expect(worst(dk.array, ConvGolden.dKernel.map { $0 + 1 }) <= 1e-5)
        #expect(worst(db.array, ConvGolden.dBias) <= 1e-5)
    }

    @Test("max and average pooling, valid and same")
    func pooling() throws {
        let shape = ConvGolden.inputShape
        run(try buildLayer("max_pooling2d", input: shape), ConvGolden.maxPool2Valid)
        run(try buildLayer("max_pooling2d", #"{"pool_size": 3, "strides": 2, "padding": "same"}"#, input: shape),
            ConvGolden.maxPool3Stride2Same)
        run(try buildLayer("average_pooling2d", input: shape), ConvGolden.averagePool2Valid)
        run(try buildLayer("average_pooling2d", #"{"pool_size": 3, "strides": 2, "padding": "same"}"#, input: shape),
            ConvGolden.averagePool3Stride2Same)
        run(try buildLayer("average_pooling2d", #"{"pool_size": 2, "strides": 1, "padding": "same"}"#, input: shape),
            ConvGolden.averagePool2Stride1Same)
    }
}

// MARK: - Small cases by hand

@Suite("Pooling and reshape by hand")
struct PoolingByHandTests {
    @Test("max pooling: a tie sends the gradient to the first element in scan order")
    func maxPoolingTies() throws {
        let layer = try buildLayer("max_pooling2d", input: [2, 2, 1])
        let h = Harness(layer, batch: 1)
        let (dx, _) = h.analytic([5, 5, 5, 5], [2])
        #expect(h.y.array == [5])
        #expect(dx == [2, 0, 0, 0])
        let (dx2, _) = h.analytic([1, 7, 3, 7], [2])
        #expect(dx2 == [0, 2, 0, 0])
    }

    @Test("max pooling ties with many channels (the vector path and its scalar tail)")
    func maxPoolingTiesManyChannels() throws {
        let c = 19
        let layer = try buildLayer("max_pooling2d", input: [2, 2, c])
        let h = Harness(layer, batch: 1)
        // Channel k: all four equal for even k; for odd k the maximum sits at position k % 4 and
        // again at position 3 (a later tie).
        var x = [Float](repeating: 0, count: 4 * c)
        for k in 0..<c {
            for p in 0..<4 { x[p * c + k] = k % 2 == 0 ? 1 : (p == k % 4 || p == 3 ? 2 : -1) }
        }
        let (dx, _) = h.analytic(x, (0..<c).map { Float($0 + 1) })
        for k in 0..<c {
            let first = k % 2 == 0 ? 0 : k % 4
            for p in 0..<4 {
                #expect(dx[p * c + k] == (p == first ? Float(k + 1) : 0), "channel \(k), position \(p)")
            }
        }
    }

    @Test("max pooling's backward passes dy's own bits (−0 too) for 8 channels and for 3")
    func maxPoolingNegativeZero() throws {
        // Non-overlapping windows, with and without a partial vector of channels: the same path,
        // so a fused layer (batch norm with its ReLU and pooling) can match it bit for bit.
        for c in [8, 3] {
            let layer = try buildLayer("max_pooling2d", input: [2, 2, c])
            let h = Harness(layer, batch: 1)
            let x = (0..<4 * c).map { Float($0 / c == 2 ? 1 : 0) }        // position 2 wins everywhere
            let (dx, _) = h.analytic(x, [Float](repeating: -0.0, count: c))
            #expect((0..<4 * c).allSatisfy { dx[$0].bitPattern == (($0 / c == 2 ? -0.0 : 0) as Float).bitPattern },
                    "\(c) channels: \(dx.map(\.bitPattern))")
        }
    }

    @Test("max pooling with same padding ignores the padding (negative inputs stay negative)")
    func maxPoolingSamePadding() throws {
        let layer = try buildLayer("max_pooling2d", #"{"padding": "same"}"#, input: [3, 3, 1])
        #expect(layer.outputShape == Shape([2, 2, 1]))
        let h = Harness(layer, batch: 1)
        _ = h.loss([-1, -2, -3, -4, -5, -6, -7, -8, -9], [0, 0, 0, 0])
        // Windows: rows 0–1 × cols 0–1, rows 0–1 × col 2, row 2 × cols 0–1, row 2 × col 2.
        #expect(h.y.array == [-1, -3, -7, -9])
    }

    @Test("average pooling with same padding divides by the real elements only")
    func averagePoolingSamePadding() throws {
        let layer = try buildLayer("average_pooling2d", #"{"padding": "same"}"#, input: [3, 3, 1])
        let h = Harness(layer, batch: 1)
        _ = h.loss([1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 0, 0, 0])
        #expect(h.y.array == [3, 4.5, 7.5, 9])
    }

    @Test("global average pooling: the mean of each channel")
    func globalAverage() throws {
        let layer = try buildLayer("global_average_pooling2d", input: [2, 2, 2])
        let h = Harness(layer, batch: 1)
        _ = h.loss([1, 10, 2, 20, 3, 30, 4, 40], [0, 0])
        #expect(h.y.array == [2.5, 25])
    }

    @Test("reshape infers -1, aliases its input, and keeps the order of the values")
    func reshape() throws {
        let layer = try buildLayer("reshape", #"{"target_shape": [-1, 28, 1]}"#, input: [784])
        #expect(layer.outputShape == Shape([28, 28, 1]))
        #expect(layer.aliasesInput)
        #expect(layer.kind == "Reshape" && layer.name == "reshape")
        let flat = try buildLayer("reshape", #"{"target_shape": [12]}"#, input: [2, 3, 2])
        #expect(flat.outputShape == Shape([12]))
    }

    @Test("strides default to pool_size; kernel_size and strides take an int or a pair")
    func defaults() throws {
        let pool = try buildLayer("max_pooling2d", #"{"pool_size": [3, 2]}"#, input: [9, 8, 1])
        #expect(pool.outputShape == Shape([3, 4, 1]))
        let config = (pool as! Pooling2D).config
        #expect(config.strides == HeightWidth(3, 2))
        let conv = try buildLayer("conv2d", #"{"filters": 4, "kernel_size": [3, 1], "strides": [2, 1]}"#,
                                  input: [9, 8, 2]) as! Conv2D
        #expect(conv.outputShape == Shape([4, 8, 4]))
        #expect(conv.config.padding == .valid && conv.config.activation == .linear && conv.config.useBias)
        #expect(conv.config.kernelInitializer == .glorotUniform && conv.config.biasInitializer == .zeros)
        // Written back as pairs, as the resolved experiment shows them.
        let json = String(decoding: try JSONEncoder().encode(conv.config), as: UTF8.self)
        #expect(json.contains(#""kernel_size":[3,1]"#) && json.contains(#""strides":[2,1]"#))
    }
}

// MARK: - Keras's models

@Suite("Keras's convolutional models")
struct ConvModelTests {
    @Test("keras.io mnist_convnet: 34,826 parameters and Keras's output shapes")
    func mnistConvnetShapes() throws {
        let model = try buildModel(mnistConvnet, input: [28, 28, 1])
        #expect(model.layers.map(\.outputShape.dims) == [[26, 26, 32], [13, 13, 32], [11, 11, 64], [5, 5, 64],
                                                        [1600], [1600], [10]])
        #expect(model.layers.map(\.parameterCount) == [320, 0, 18_496, 0, 0, 0, 16_010])
        #expect(model.parameterCount == 34_826)
        #expect(model.layers.map(\.kind) == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten",
                                             "Dropout", "Dense"])
        let summary = model.summary()
        #expect(summary.contains("conv2d (Conv2D)") && summary.contains("conv2d_1 (Conv2D)"))
        #expect(summary.contains("max_pooling2d (MaxPooling2D)") && summary.contains("(None, 26, 26, 32)"))
        #expect(summary.contains(" Total params: 34,826 (136.04 KB)"))
    }

    @Test("LeNet-5: output shapes and 61,706 parameters", arguments: ["tanh", "relu"])
    func leNet(_ activation: String) throws {
        let model = try buildModel([
            ("conv2d", #"{"filters": 6, "kernel_size": 5, "padding": "same", "activation": "\#(activation)"}"#),
            ("average_pooling2d", #"{"pool_size": 2}"#),
            ("conv2d", #"{"filters": 16, "kernel_size": 5, "activation": "\#(activation)"}"#),
            ("max_pooling2d", #"{"pool_size": 2}"#),
            ("flatten", "{}"),
            ("dense", #"{"units": 120, "activation": "\#(activation)"}"#),
            ("dense", #"{"units": 84, "activation": "\#(activation)"}"#),
            ("dense", #"{"units": 10, "activation": "softmax"}"#),
        ], input: [28, 28, 1])
        #expect(model.layers.prefix(5).map(\.outputShape.dims) == [[28, 28, 6], [14, 14, 6], [10, 10, 16],
                                                                   [5, 5, 16], [400]])
        #expect(model.parameterCount == 61_706)
    }

    @Test("each convolution's path follows from its shape, the pooling after it and the CPU")
    func paths() throws {
        func paths(_ model: Sequential) -> [String] { model.layers.compactMap { ($0 as? Conv2D)?.pathName } }
        let avx2 = WinogradConvolution.avx2Available, avx512 = VectorCode.avx512.isAvailable
        let firstAlone = avx512 ? "direct" : "im2col"      // one channel, nothing after it to fuse
        #expect(paths(try buildModel(mnistConvnet, input: [28, 28, 1]))
                == (avx2 ? ["direct-pooled", "winograd-f5x5-pooled"]
                         : ["im2col-pooled-portable", "winograd-f4x4-pooled-portable"]))
        #expect(paths(try buildModel(mnistConvnet, input: [28, 28, 1], fuse: false))
                == [firstAlone, avx2 ? "winograd-f4x4" : "winograd-f4x4-portable"])
        let leNet = try buildModel([
            ("conv2d", #"{"filters": 6, "kernel_size": 5, "padding": "same", "activation": "relu"}"#),
            ("max_pooling2d", #"{"pool_size": 2}"#),
            ("conv2d", #"{"filters": 16, "kernel_size": 5, "activation": "relu"}"#),
            ("max_pooling2d", #"{"pool_size": 2}"#),
            ("conv2d", #"{"filters": 8, "kernel_size": 2, "activation": "relu"}"#),     // no pooling after it
        ], input: [28, 28, 1])
        #expect(paths(leNet) == (avx2 ? ["direct-pooled", "direct-pooled-sparse", "im2col"]
                                      : ["im2col-pooled-portable", "im2col-pooled-portable", "im2col"]))
        // Caffe's LeNet (no activation; 50 filters of 5×5 over 20 channels: F(4×4, 5×5)).
        let caffe = try buildModel([
            ("conv2d", #"{"filters": 20, "kernel_size": 5}"#), ("max_pooling2d", #"{"pool_size": 2}"#),
            ("conv2d", #"{"filters": 50, "kernel_size": 5}"#), ("max_pooling2d", #"{"pool_size": 2}"#),
        ], input: [28, 28, 1])
        #expect(paths(caffe) == (avx2 ? ["direct-pooled", "winograd-f4x4-k5x5-pooled"]
                                      : ["im2col-pooled-portable", "im2col-pooled-portable"]))
        // tanh cannot run inside the pooling; a 4×4 kernel has no direct forward.
        let other = try buildModel([
            ("conv2d", #"{"filters": 12, "kernel_size": 3, "activation": "tanh"}"#),
            ("max_pooling2d", #"{"pool_size": 2}"#),
            ("conv2d", #"{"filters": 8, "kernel_size": 4, "activation": "relu"}"#),
            ("max_pooling2d", #"{"pool_size": 2}"#),
        ], input: [20, 20, 1])
        #expect(paths(other) == [firstAlone, avx2 ? "im2col-pooled-sparse" : "im2col-pooled-portable"])
        // Stride 2: the stride-2 Winograd transforms over ≥ 8 channels with as much padding above as
        // left (AVX2); not over 4 channels, not when "same" pads a 14 × 13 image's left and not its top.
        let strided = try buildModel([
            ("conv2d", #"{"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}"#),
            ("conv2d", #"{"filters": 16, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}"#),
            ("conv2d", #"{"filters": 4, "kernel_size": 3, "strides": 2}"#),
        ], input: [28, 28, 1])
        // A 7×7 output in one 7×7 tile, a 3×3 one in a 4×4 tile.
        #expect(paths(strided) == [firstAlone, avx2 ? "winograd-s2-f7x7" : "im2col",
                                   avx2 ? "winograd-s2-f4x4" : "im2col"])
        let narrow = try buildModel([("conv2d", #"{"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}"#)],
                                    input: [14, 14, 4])
        let uneven = try buildModel([("conv2d", #"{"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}"#)],
                                    input: [14, 13, 8])
        #expect(paths(narrow) == ["im2col"] && paths(uneven) == ["im2col"])
    }

    @Test("conv kernels start as Keras's glorot_uniform with fans kh·kw·C and kh·kw·F")
    func initialisation() throws {
        let model = try buildModel(mnistConvnet, input: [28, 28, 1])
        let entry = model.parameterTable.first { $0.layer == "conv2d_1" && $0.name == "kernel" }!
        #expect(entry.shape == [3, 3, 32, 64])
        let limit = Float((6.0 / Double(9 * 32 + 9 * 64)).squareRoot())
        let kernel = model.parameters.view(offset: entry.offset, count: entry.count).array
        #expect(kernel.allSatisfy { abs($0) <= limit } && kernel.contains { abs($0) > limit * 0.99 })
    }
}

// MARK: - Fusion

@Suite("A convolution computes the 2×2 max pooling after it")
struct ConvPoolFusionTests {
    /// Output and parameter gradients of one training step (as `ConvolutionDeterminismTests.step`).
    func step(_ model: Sequential, batch: Int, threads: Int) -> (output: [Float], gradients: [Float]) {
        BLAS.configure()
        let context = PassContext(training: true, seed: 9, step: 1, pool: ThreadPool(threadCount: threads))
        let input = model.input.view
        for i in 0..<batch * model.inputShape.count { input[i] = Float(sin(Double(i) * 0.37)) }
        let output = model.forward(batch: batch, context: context).array
        let gradient = model.outputGradient
        for i in 0..<batch * model.outputCount { gradient[i] = Float(cos(Double(i) * 0.13)) }
        model.zeroGradients(pool: context.pool)
        model.backward(batch: batch, context: context)
        return (output, model.gradients.array)
    }

    @Test("fused and separate layers agree (im2col and Winograd, ReLU and linear, odd sizes, a fused layer inside)",
          arguments: [
        [("conv2d", #"{"filters": 10, "kernel_size": 3, "activation": "relu"}"#), ("max_pooling2d", "{}"),
         ("conv2d", #"{"filters": 12, "kernel_size": 3, "activation": "relu"}"#), ("max_pooling2d", "{}"),
         ("flatten", "{}"), ("dense", #"{"units": 5}"#)],
        [("conv2d", #"{"filters": 9, "kernel_size": 5, "padding": "same"}"#), ("max_pooling2d", "{}"),
         ("conv2d", #"{"filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"}"#),
         ("max_pooling2d", #"{"pool_size": 2}"#), ("flatten", "{}"), ("dense", #"{"units": 3}"#)],
        // As Caffe's LeNet: no activation, then more than 32 filters over kernel rows past 32 floats.
        [("conv2d", #"{"filters": 20, "kernel_size": 3}"#), ("max_pooling2d", "{}"),
         ("conv2d", #"{"filters": 40, "kernel_size": 3}"#), ("max_pooling2d", "{}"),
         ("flatten", "{}"), ("dense", #"{"units": 3}"#)],
        // 5×5 over 12 channels, pooled (F(4×4, 5×5) on AVX2): "same" with ReLU, then "valid" linear.
        [("conv2d", #"{"filters": 12, "kernel_size": 3, "padding": "same", "activation": "relu"}"#),
         ("max_pooling2d", "{}"),
         ("conv2d", #"{"filters": 40, "kernel_size": 5, "padding": "same", "activation": "relu"}"#),
         ("max_pooling2d", "{}"), ("flatten", "{}"), ("dense", #"{"units": 3}"#)],
        [("conv2d", #"{"filters": 12, "kernel_size": 3, "padding": "same", "activation": "relu"}"#),
         ("max_pooling2d", "{}"), ("conv2d", #"{"filters": 19, "kernel_size": 5}"#),
         ("max_pooling2d", "{}"), ("flatten", "{}"), ("dense", #"{"units": 3}"#)],
    ])
    func agree(_ specs: [(String, String)]) throws {
        for batch in [3, 11] {
            let fused = try buildModel(specs, input: [15, 13, 2], maxBatch: 11)
            let separate = try buildModel(specs, input: [15, 13, 2], maxBatch: 11, fuse: false)
            let pools = fused.layers.compactMap { $0 as? Pooling2D }
            #expect(pools.count == 2 && pools.allSatisfy { $0.fusedIntoPrevious })
            #expect(!separate.layers.contains { ($0 as? Pooling2D)?.fusedIntoPrevious == true })
            let a = step(fused, batch: batch, threads: 2), b = step(separate, batch: batch, threads: 1)
            func worst(_ x: [Float], _ y: [Float]) -> Float {
                zip(x, y).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            }
            #expect(a.output.count == b.output.count && worst(a.output, b.output) < 1e-5)
            #expect(worst(a.gradients, b.gradients) < 1e-4)
            #expect(a.gradients.contains { $0 != 0 })
            #expect(step(fused, batch: batch, threads: 3).gradients == a.gradients)
        }
    }

    @Test("only 2×2 max pooling with stride 2 and valid padding after ReLU or no activation is fused")
    func fusable() throws {
        let cases: [([(String, String)], Bool)] = [
            ([("conv2d", #"{"filters": 4, "kernel_size": 3, "activation": "relu"}"#), ("max_pooling2d", "{}")], true),
            ([("conv2d", #"{"filters": 4, "kernel_size": 3, "activation": "tanh"}"#), ("max_pooling2d", "{}")], false),
            ([("conv2d", #"{"filters": 4, "kernel_size": 3}"#), ("average_pooling2d", "{}")], false),
            ([("conv2d", #"{"filters": 4, "kernel_size": 3}"#), ("max_pooling2d", #"{"pool_size": 3}"#)], false),
            ([("conv2d", #"{"filters": 4, "kernel_size": 3}"#), ("max_pooling2d", #"{"strides": 1}"#)], false),
            ([("conv2d", #"{"filters": 4, "kernel_size": 3}"#), ("max_pooling2d", #"{"padding": "same"}"#)], false),
        ]
        for (specs, expected) in cases {
            let model = try buildModel(specs, input: [9, 9, 2])
            #expect(model.layers[1].aliasesInput == expected, "\(specs)")
        }
    }
}

// MARK: - Determinism

@Suite("Convolutions give the same bits on any number of threads")
struct ConvolutionDeterminismTests {
    /// Forward and backward of one batch of `model`: (output, parameter gradients).
    func step(_ model: Sequential, batch: Int, threads: Int) -> [Float] {
        BLAS.configure()   // as the runner does: one OpenBLAS thread per call, our chunks above it
        let context = PassContext(training: true, seed: 9, step: 1, pool: ThreadPool(threadCount: threads))
        let input = model.input.view
        for i in 0..<batch * model.inputShape.count { input[i] = Float(sin(Double(i) * 0.011)) }
        let output = model.forward(batch: batch, context: context).array
        let gradient = model.outputGradient
        for i in 0..<batch * model.outputCount { gradient[i] = Float(cos(Double(i) * 0.37)) / Float(batch) }
        model.zeroGradients(pool: context.pool)
        model.backward(batch: batch, context: context)
        return output + model.gradients.array
    }

    @Test("mnist_convnet forward and backward with 1, 2 and 3 threads (full and partial batch)",
          arguments: [32, 37])
    func convnet(batch: Int) throws {
        let specs = [("reshape", #"{"target_shape": [28, 28, 1]}"#)] + mnistConvnet
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let model = try buildModel(specs, input: [28, 28], maxBatch: 40)
            results.append(step(model, batch: batch, threads: threads))
        }
        #expect(results[0].contains { $0 != 0 })
        #expect(results[0] == results[1])
        #expect(results[0] == results[2])
    }

    @Test("strided same convolution, average pooling and global pooling with 1, 2 and 3 threads")
    func otherLayers() throws {
        let specs: [(String, String)] = [
            ("conv2d", #"{"filters": 16, "kernel_size": 5, "strides": 2, "padding": "same", "activation": "tanh"}"#),
            ("average_pooling2d", #"{"pool_size": 3, "strides": 1, "padding": "same"}"#),
            ("conv2d", #"{"filters": 24, "kernel_size": 3, "activation": "relu"}"#),
            ("global_average_pooling2d", "{}"),
            ("dense", #"{"units": 10}"#),
        ]
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            results.append(step(try buildModel(specs, input: [28, 28, 1], maxBatch: 48), batch: 48, threads: threads))
        }
        #expect(results[0].contains { $0 != 0 })
        #expect(results[0] == results[1])
        #expect(results[0] == results[2])
    }
}

// MARK: - Errors

@Suite("Shape and parameter errors of convolution, pooling and reshape")
struct ConvolutionErrorTests {
    @Test("conv2d on a 2-D input suggests input_shape [28, 28, 1] or a reshape")
    func missingChannels() {
        let error = #expect(throws: ModelError.self) {
            try buildLayer("conv2d", #"{"filters": 8, "kernel_size": 3}"#, input: [28, 28])
        }
        #expect(error?.message.contains("(None, 28, 28)") == true)
        #expect(error?.message.contains("(None, height, width, channels)") == true)
        #expect(error?.hint?.contains("use input_shape: [28, 28, 1]") == true)
        #expect(error?.hint?.contains("`- type: reshape` with `target_shape: [28, 28, 1]`") == true)
    }

    @Test("conv2d and pooling after flatten are refused, naming the flat shape", arguments: [
        "conv2d", "max_pooling2d", "average_pooling2d", "global_average_pooling2d",
    ])
    func flatInput(_ type: String) {
        let json = type == "conv2d" ? #"{"filters": 8, "kernel_size": 3}"# : "{}"
        let error = #expect(throws: ModelError.self) { try buildLayer(type, json, input: [784]) }
        #expect(error?.message.contains(type) == true)
        #expect(error?.message.contains("(None, 784)") == true)
        #expect(error?.hint?.contains("target_shape: [28, 28, 1]") == true)
    }

    @Test("a kernel or pool larger than the input with valid padding: negative output size")
    func tooLarge() throws {
        let conv = #expect(throws: ModelError.self) {
            try buildLayer("conv2d", #"{"filters": 8, "kernel_size": 5}"#, input: [4, 4, 1])
        }
        #expect(conv?.message.contains("negative output size") == true)
        #expect(conv?.message.contains("5×5 kernel") == true && conv?.message.contains("(None, 4, 4, 1)") == true)
        #expect(conv?.hint?.contains("padding: same") == true)
        let pool = #expect(throws: ModelError.self) {
            try buildLayer("max_pooling2d", #"{"pool_size": [1, 3]}"#, input: [4, 2, 3])
        }
        #expect(pool?.message.contains("negative output size") == true)
        // With same padding the window may be larger than the image, as in Keras.
        let same = try buildLayer("conv2d", #"{"filters": 8, "kernel_size": 5, "padding": "same"}"#, input: [4, 4, 1])
        #expect(same.outputShape == Shape([4, 4, 8]))
        // Exactly fitting is fine.
        #expect(try buildLayer("conv2d", #"{"filters": 2, "kernel_size": 4}"#, input: [4, 4, 1]).outputShape
                == Shape([1, 1, 2]))
    }

    @Test("bad parameters are ConfigErrors at their key", arguments: [
        ("conv2d", #"{"filters": 8, "kernel_size": 3, "strides": 0}"#, "strides", "'strides' must be positive"),
        ("conv2d", #"{"filters": 8, "kernel_size": 3, "strides": [1, -2]}"#, "strides", "found [1, -2]"),
        ("conv2d", #"{"filters": 0, "kernel_size": 3}"#, "filters", "'filters' must be a positive integer"),
        ("conv2d", #"{"filters": 70000, "kernel_size": 3}"#, "filters", "up to 65,536"),
        ("conv2d", #"{"filters": 8, "kernel_size": [3, 3, 3]}"#, "kernel_size", "a list of two integers"),
        ("conv2d", #"{"filters": 8, "kernel_size": "big"}"#, "kernel_size", "found big"),
        ("conv2d", #"{"filters": 8, "kernel_size": 3, "padding": "sam"}"#, "padding", "unknown padding 'sam'"),
        ("max_pooling2d", #"{"pool_size": 0}"#, "pool_size", "'pool_size' must be positive"),
        ("average_pooling2d", #"{"strides": [2, 0]}"#, "strides", "'strides' must be positive"),
        ("reshape", #"{"target_shape": [-1, -1]}"#, "target_shape", "at most one of them -1"),
        ("reshape", #"{"target_shape": [0, 28]}"#, "target_shape", "positive sizes"),
    ])
    func configErrors(_ type: String, _ json: String, _ key: String, _ fragment: String) {
        let error = #expect(throws: ConfigError.self) { try buildLayer(type, json, input: [28, 28, 1]) }
        #expect(error?.codingPath.last == key)
        #expect(error?.description.contains(fragment) == true, "\(error?.description ?? "no error")")
    }

    @Test("a padding typo suggests the nearest value")
    func paddingTypo() {
        let error = #expect(throws: ConfigError.self) {
            try buildLayer("conv2d", #"{"filters": 8, "kernel_size": 3, "padding": "sam"}"#, input: [28, 28, 1])
        }
        #expect(error?.hint?.contains("did you mean 'same'?") == true)
    }

    @Test("reshape: element counts must match, -1 must divide")
    func reshapeCounts() {
        let wrong = #expect(throws: ModelError.self) {
            try buildLayer("reshape", #"{"target_shape": [28, 28, 2]}"#, input: [784])
        }
        #expect(wrong?.message.contains("[28, 28, 2] holds 1,568 values") == true)
        #expect(wrong?.message.contains("(None, 784) holds 784") == true)
        let inferred = #expect(throws: ModelError.self) {
            try buildLayer("reshape", #"{"target_shape": [-1, 5]}"#, input: [28, 28])
        }
        #expect(inferred?.message.contains("not a multiple of 5") == true)
        #expect(inferred?.hint?.contains("784") == true)
    }

    @Test("dense after a convolution still needs flatten")
    func denseAfterConv() {
        let error = #expect(throws: ModelError.self) {
            try buildModel([("conv2d", #"{"filters": 4, "kernel_size": 3}"#), ("dense", #"{"units": 10}"#)],
                           input: [28, 28, 1])
        }
        #expect(error?.message.contains("(None, 26, 26, 4)") == true)
        #expect(error?.hint?.contains("flatten") == true)
    }

    @Test("the registry knows the convolutional layer types")
    func registry() {
        #expect(Set(Layers.registry.names).isSuperset(of: ["conv2d", "max_pooling2d", "average_pooling2d",
                                                           "global_average_pooling2d", "reshape"]))
        let error = #expect(throws: ConfigError.self) { try Layers.registry.lookup("conv2") }
        #expect(error?.hint?.contains("did you mean 'conv2d'") == true)
    }
}
