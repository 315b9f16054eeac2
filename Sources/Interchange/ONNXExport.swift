// A trained Sequential as an ONNX graph that gives the model's probabilities for raw pixels.
//
//     pixels (N, input_shape…) float, 0…255, channels last as the model takes them
//       → Mul(input_scale) → Add(input_shift)         the run's preprocessing, as graph nodes
//       → the layers                                  (Dropout: nothing at inference)
//       → Softmax → probabilities (N, classes)
//
// The model is channels last (N, H, W, C) with Keras kernels (kh, kw, C, F); ONNX's Conv and
// pooling work on (N, C, H, W) with kernels (F, C, kh, kw). The graph keeps the model's layout
// and turns an image tensor to channels first (Transpose 0,3,1,2) only before the first layer
// that needs it, and back (0,2,3,1) before a Flatten or Reshape, so the flattened order — and
// so the dense weights after it — stay the model's. Kernels are permuted once, here.
// A layer type or activation the export does not know is refused with its name, never guessed.
import Kernels
import NeuralNetwork

public struct ONNXExportError: Error, CustomStringConvertible, Sendable {
    public let layer: String
    public let kind: String
    public let reason: String
    public var description: String { "cannot export layer '\(layer)' (\(kind)) to ONNX: \(reason)" }
}

public enum ONNXExport {
    /// The model as an ONNX graph: input "pixels", output "probabilities". Inputs become
    /// pixel · `inputScale` + `inputShift` (the run's PixelTransform) inside the graph.
    public static func graph(_ model: Sequential, inputScale: Float, inputShift: Float) throws -> ONNX.Graph {
        var b = Builder(model: model)
        var preprocessed = "pixels"
        if inputScale != 1 {
            preprocessed = b.add("Mul", [preprocessed, b.constant("input_scale", dims: [], [inputScale])], name: "preprocess_scale")
        }
        if inputShift != 0 {
            preprocessed = b.add("Add", [preprocessed, b.constant("input_shift", dims: [], [inputShift])], name: "preprocess_shift")
        }
        b.current = preprocessed
        for (i, layer) in model.layers.enumerated() {
            // The loss took over the final softmax: the last layer's own activation is then linear.
            try b.layer(layer, activation: i == model.layers.count - 1 && model.outputIsLogits ? .linear : nil)
        }
        b.toChannelsLast()
        b.nodes.append(ONNX.Node(op: "Softmax", inputs: [b.current], outputs: ["probabilities"], name: "probabilities",
                                 attributes: [.int("axis", -1)]))
        var graph = ONNX.Graph(name: model.name)
        graph.nodes = b.nodes
        graph.initializers = b.initializers
        graph.inputs = [ONNX.ValueInfo(name: "pixels", dims: [.named("N")] + model.inputShape.dims.map { .size($0) },
                                       doc: "raw pixels, float32 0…255, channels last \(model.inputShape)")]
        graph.outputs = [ONNX.ValueInfo(name: "probabilities", dims: [.named("N"), .size(model.outputCount)],
                                        doc: "class probabilities (softmax)")]
        return graph
    }

    /// Emits the nodes of the layers one after another, keeping track of the running tensor.
    struct Builder {
        let model: Sequential
        var nodes: [ONNX.Node] = []
        var initializers: [ONNX.Tensor] = []
        /// The tensor the next layer reads.
        var current = "pixels"
        /// Whether `current`, an image (N, H, W, C) in the model's terms, is stored (N, C, H, W).
        var channelsFirst = false

        init(model: Sequential) { self.model = model }

        mutating func add(_ op: String, _ inputs: [String], name: String, _ attributes: [ONNX.Attribute] = []) -> String {
            nodes.append(ONNX.Node(op: op, inputs: inputs, outputs: [name], name: name, attributes: attributes))
            return name
        }

        mutating func constant(_ name: String, dims: [Int], _ values: [Float]) -> String {
            initializers.append(.floats(name, dims: dims, values))
            return name
        }

        mutating func toChannelsFirst(_ layer: String) {
            guard !channelsFirst else { return }
            current = add("Transpose", [current], name: layer + "/to_nchw", [.ints("perm", [0, 3, 1, 2])])
            channelsFirst = true
        }

        mutating func toChannelsLast() {
            guard channelsFirst else { return }
            current = add("Transpose", [current], name: current + "/to_nhwc", [.ints("perm", [0, 2, 3, 1])])
            channelsFirst = false
        }

        /// The layer's tensor `name` ("kernel", "moving_mean"), as stored.
        func tensor(_ layer: any Layer, _ name: String) -> [Float]? {
            guard let entry = model.parameterTable.first(where: { $0.layer == layer.name && $0.name == name }) else { return nil }
            return (entry.trainable ? model.parameters : model.state).view(offset: entry.offset, count: entry.count).array
        }

        mutating func layer(_ layer: any Layer, activation override: Activation?) throws {
            func refuse(_ reason: String) -> ONNXExportError { ONNXExportError(layer: layer.name, kind: layer.kind, reason: reason) }
            switch layer {
            case let dense as Dense:
                let inputs = dense.inputShape.count, units = dense.config.units
                let kernel = constant(dense.name + "/kernel", dims: [inputs, units], tensor(dense, "kernel")!)
                if let bias = tensor(dense, "bias") {
                    current = add("Gemm", [current, kernel, constant(dense.name + "/bias", dims: [units], bias)], name: dense.name)
                } else {
                    current = add("MatMul", [current, kernel], name: dense.name)
                }
                try activate(override ?? dense.configuredActivation, layer)
            case let conv as Conv2D:
                let c = conv.config, dims = conv.inputShape.dims
                let (kh, kw, channels, filters) = (c.kernelSize.height, c.kernelSize.width, dims[2], c.filters)
                // Keras (kh, kw, C, F) → ONNX (F, C, kh, kw).
                let keras = tensor(conv, "kernel")!
                var kernel = [Float](repeating: 0, count: keras.count)
                for i in 0..<kh { for j in 0..<kw { for ch in 0..<channels { for f in 0..<filters {
                    kernel[((f * channels + ch) * kh + i) * kw + j] = keras[((i * kw + j) * channels + ch) * filters + f]
                } } } }
                toChannelsFirst(conv.name)
                var inputs = [current, constant(conv.name + "/kernel", dims: [filters, channels, kh, kw], kernel)]
                if let bias = tensor(conv, "bias") { inputs.append(constant(conv.name + "/bias", dims: [filters], bias)) }
                current = add("Conv", inputs, name: conv.name,
                              window(dims, kernel: c.kernelSize, strides: c.strides, padding: c.padding))
                try activate(override ?? conv.configuredActivation, layer)
            case let pool as Pooling2D:
                let c = pool.config
                toChannelsFirst(pool.name)
                var attributes = window(pool.inputShape.dims, kernel: c.poolSize, strides: c.strides, padding: c.padding)
                // Keras averages the real elements of a window only (ONNX's default, stated).
                if pool.reduction == .average { attributes.append(.int("count_include_pad", 0)) }
                current = add(pool.reduction == .max ? "MaxPool" : "AveragePool", [current], name: pool.name, attributes)
            case let pool as GlobalAveragePooling2D:
                toChannelsFirst(pool.name)
                let pooled = add("GlobalAveragePool", [current], name: pool.name + "/pool")
                current = add("Flatten", [pooled], name: pool.name, [.int("axis", 1)])
                channelsFirst = false
            case let flatten as Flatten:
                toChannelsLast()
                current = add("Flatten", [current], name: flatten.name, [.int("axis", 1)])
            case let reshape as Reshape:
                toChannelsLast()
                let shape = reshape.name + "/shape"
                initializers.append(.int64s(shape, dims: [reshape.outputShape.rank + 1], [-1] + reshape.outputShape.dims))
                current = add("Reshape", [current, shape], name: reshape.name)
            case is Dropout:
                break
            case let activation as ActivationLayer:
                try activate(override ?? activation.configuredActivation, layer)
            case let norm as BatchNormalization:
                try batchNormalization(norm)
            default:
                throw refuse("this layer type has no ONNX export yet")
            }
        }

        /// Conv and pooling attributes: window, strides and the padding Keras's `same` puts
        /// before (top, left) and after (bottom, right) the image.
        func window(_ dims: [Int], kernel: HeightWidth, strides: HeightWidth, padding: Padding) -> [ONNX.Attribute] {
            let g = Window2D(height: dims[0], width: dims[1], channels: dims[2], kernel: (kernel.height, kernel.width),
                             stride: (strides.height, strides.width), same: padding == .same)
            let bottom = max(0, (g.outHeight - 1) * g.strideHeight + g.kernelHeight - g.height - g.padTop)
            let right = max(0, (g.outWidth - 1) * g.strideWidth + g.kernelWidth - g.width - g.padLeft)
            return [.ints("kernel_shape", [g.kernelHeight, g.kernelWidth]), .ints("strides", [g.strideHeight, g.strideWidth]),
                    .ints("pads", padding == .same ? [g.padTop, g.padLeft, bottom, right] : [0, 0, 0, 0])]
        }

        mutating func activate(_ activation: Activation, _ layer: any Layer) throws {
            let name = layer.name + "/" + activation.rawValue
            switch activation {
            case .linear: return
            case .relu: current = add("Relu", [current], name: name)
            case .sigmoid: current = add("Sigmoid", [current], name: name)
            case .tanh: current = add("Tanh", [current], name: name)
            case .softmax: current = add("Softmax", [current], name: name, [.int("axis", channelsFirst ? 1 : -1)])
            }
        }

        /// Inference batch normalization along the last axis of the model's tensor: ONNX's
        /// BatchNormalization where that axis is ONNX's axis 1 ((N, C), or an image stored
        /// channels first); elsewhere x·k + b with k = γ/√(σ² + ε), b = β − μ·k along the last axis.
        mutating func batchNormalization(_ norm: BatchNormalization) throws {
            let channels = norm.inputShape.dims.last!, c = norm.config
            let gamma = tensor(norm, "gamma") ?? [Float](repeating: 1, count: channels)
            let beta = tensor(norm, "beta") ?? [Float](repeating: 0, count: channels)
            let mean = tensor(norm, "moving_mean")!, variance = tensor(norm, "moving_variance")!
            if norm.inputShape.rank == 1 || (norm.inputShape.rank == 3 && channelsFirst) {
                current = add("BatchNormalization", [current, constant(norm.name + "/gamma", dims: [channels], gamma),
                                                     constant(norm.name + "/beta", dims: [channels], beta),
                                                     constant(norm.name + "/moving_mean", dims: [channels], mean),
                                                     constant(norm.name + "/moving_variance", dims: [channels], variance)],
                              name: norm.name, [.float("epsilon", c.epsilon)])
            } else {
                let k = (0..<channels).map { gamma[$0] / (variance[$0] + c.epsilon).squareRoot() }
                let b = (0..<channels).map { beta[$0] - mean[$0] * k[$0] }
                let scaled = add("Mul", [current, constant(norm.name + "/k", dims: [channels], k)], name: norm.name + "/scale")
                current = add("Add", [scaled, constant(norm.name + "/b", dims: [channels], b)], name: norm.name)
            }
        }
    }
}
