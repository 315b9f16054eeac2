// From the model and compile sections to a built model, loss and optimizer: every name goes
// through its registry, every shape is checked here, before any data is loaded or trained on.
// Each failure points at the layer (or key) in the file that caused it.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training
import Yams

/// What an experiment trains: the model with its memory allocated, the loss and the optimizer.
public struct CompiledModel {
    public let model: Sequential
    public let loss: any Loss
    public let optimizer: any Optimizer
    /// Layer types as written (`dense`), in order, for the resolved experiment.
    public let layerTypes: [String]
    /// Weight penalties (kernel_regularizer, bias_regularizer), in layer order, for the trainer.
    public let penalties: [ParameterPenalty]
}

extension ExperimentSpec {
    /// Image shape and class count of the dataset the spec names (known without loading it).
    var datasetShape: (image: [Int], classes: Int) {
        let entry = Catalog.entries.first { $0.name == data.dataset } ?? Catalog.mnist
        return (entry.imageShape, entry.classNames.count)
    }

    /// The input shape: `model.input_shape`, or the dataset's image shape.
    var resolvedInputShape: [Int] { model.inputShape ?? datasetShape.image }

    /// Builds the model for batches of up to `maxBatch` images.
    public func compile(maxBatch: Int) throws -> CompiledModel {
        do {
            return try compileUnlocated(maxBatch: maxBatch)
        } catch {
            throw locate(error, root: root, source: source)
        }
    }

    private func compileUnlocated(maxBatch: Int) throws -> CompiledModel {
        let (image, classes) = datasetShape
        let input = Shape(resolvedInputShape)
        // Counted with overflow checks: Shape.count traps on sizes like [2^62, 4].
        let values = checkedProduct(input.dims)
        if values != image.reduce(1, *) {
            throw ConfigError(codingPath: model.inputShapePath, message:
                "input_shape \(input.dims) holds \(values.map(String.init) ?? "more than \(Int.max)") values, "
                + "but \(data.dataset) images have "
                + "\(image.reduce(1, *)) (\(image.map(String.init).joined(separator: "×")))",
                hint: "use \(image), or \(image + [1]) for convolutions")
        }

        var layers: [any Layer] = []
        var penalties: [ParameterPenalty] = []
        var multipliers: [(layer: String, tensor: String, value: Float)] = []
        var shape = input
        var counts: [String: Int] = [:]
        for entry in model.layers {
            let construct = try Layers.registry.lookup(entry.type, codingPath: entry.typePath)
            // Keras's automatic names: dense, dense_1, dense_2, …
            let n = counts[entry.type, default: 0]
            counts[entry.type] = n + 1
            let name = entry.name ?? (n == 0 ? entry.type : "\(entry.type)_\(n)")
            do {
                let layer = try construct(entry.parameters, shape, name)
                for tensor in ["kernel", "bias"] {
                    if let regularizer = try regularizer(of: tensor, in: layer, entry: entry) {
                        penalties.append(ParameterPenalty(layer: name, parameter: tensor, regularizer: regularizer))
                    }
                    if let multiplier = try rateMultiplier(of: tensor, in: layer, entry: entry) {
                        multipliers.append((name, tensor, multiplier))
                    }
                }
                try entry.decoder.checkUnknownKeys()
                layers.append(layer)
                shape = layer.outputShape
            } catch let error as ModelError {
                throw layerError(error, entry: entry, name: name)
            }
        }

        let lossEntry = compile.loss
        let loss = try Losses.registry.lookup(lossEntry.type, codingPath: lossEntry.typePath)(lossEntry.parameters)
        try lossEntry.decoder.checkUnknownKeys()
        if (loss.targetEncoding == .oneHot) != preprocess.oneHot {
            throw ConfigError(codingPath: lossEntry.typePath, message: preprocess.oneHot
                ? "\(loss.name) expects integer labels, but preprocess.one_hot is true"
                : "\(loss.name) expects one-hot labels, but preprocess.one_hot is false",
                hint: preprocess.oneHot
                    ? "use categorical_crossentropy, or set `one_hot: false` under preprocess"
                    : "use sparse_categorical_crossentropy, or set `one_hot: true` under preprocess")
        }

        let optimizerEntry = compile.optimizer
        let optimizer = try Optimizers.registry.lookup(optimizerEntry.type, codingPath: optimizerEntry.typePath)(
            optimizerEntry.parameters)
        try optimizerEntry.decoder.checkUnknownKeys()
        if let conflict = train.lrSchedule.schedule.conflict(with: optimizer) {
            throw ConfigError(codingPath: [NameKey("train"), NameKey("lr_schedule"), NameKey(conflict.key)],
                              message: conflict.message, hint: conflict.hint)
        }

        try checkMemory(layers, input: input, maxBatch: maxBatch, optimizer: optimizer)

        let sequential: Sequential
        do {
            sequential = try Sequential(name: model.name ?? name, inputShape: input, layers: layers,
                                        maxBatch: maxBatch, seed: seed)
            try sequential.prepare(for: loss)
            for m in multipliers { sequential.setLearningRateMultiplier(m.value, layer: m.layer, parameter: m.tensor) }
        } catch let error as ModelError {
            let index = error.layerIndex ?? model.layers.count - 1
            throw layerError(error, entry: model.layers[index], name: layers[safe: index]?.name)
        }
        if sequential.outputShape != Shape([classes]) {
            let last = model.layers.count - 1
            throw layerError(ModelError(layerIndex: last, message:
                "the model outputs \(sequential.outputShape) but \(data.dataset) has \(classes) classes",
                hint: "the last layer should be `- type: dense` with `units: \(classes)` and `activation: softmax`"),
                entry: model.layers[last], name: layers[last].name)
        }
        return CompiledModel(model: sequential, loss: loss, optimizer: optimizer,
                             layerTypes: model.layers.map(\.type), penalties: penalties)
    }

    /// The layer's `kernel_regularizer` / `bias_regularizer`: a `RegularizedLayer`'s own kernel
    /// penalty (read with its Config), or else read here from the layer's entry, for any layer
    /// with that trainable tensor.
    private func regularizer(of tensor: String, in layer: any Layer, entry: TypedEntry) throws -> Regularizer? {
        if tensor == "kernel", let regularized = layer as? any RegularizedLayer { return regularized.kernelRegularizer }
        return try tensorOption(tensor + "_regularizer", of: tensor, in: layer, entry: entry, to: "regularize")
    }

    /// The layer's `kernel_lr_multiplier` / `bias_lr_multiplier` (Caffe's lr_mult), when given.
    private func rateMultiplier(of tensor: String, in layer: any Layer, entry: TypedEntry) throws -> Float? {
        let key = tensor + "_lr_multiplier"
        guard let value: Float = try tensorOption(key, of: tensor, in: layer, entry: entry, to: "scale the rate of") else {
            return nil
        }
        guard value >= 0 && value.isFinite else {
            throw ConfigError(codingPath: entry.decoder.codingPath + [NameKey(key)],
                              message: "'\(key)' must be a non-negative number, found \(value)",
                              hint: "the tensor steps at the rate times this; 0 freezes it (Caffe's lr_mult)")
        }
        return value
    }

    /// The per-tensor option `key` of a layer entry, for a layer with a trainable `tensor`; on a
    /// layer without one (flatten, or use_bias: false) the key is an error.
    private func tensorOption<T: Decodable>(_ key: String, of tensor: String, in layer: any Layer, entry: TypedEntry,
                                            to purpose: String) throws -> T? {
        let name = NameKey(key)
        if layer.parameterSpecs.contains(where: { $0.name == tensor && $0.trainable }) {
            return try entry.parameters.container(keyedBy: NameKey.self).decodeIfPresent(T.self, forKey: name)
        }
        if case .mapping(let m) = entry.decoder.node, m[key] != nil {
            throw ConfigError(codingPath: entry.decoder.codingPath + [name],
                              message: "a \(entry.type) layer has no \(tensor) to \(purpose)"
                                  + (tensor == "bias" && layer.hasKernel ? " (use_bias: false)" : ""),
                              hint: "\(key) belongs on layers with a \(tensor), e.g. dense or conv2d")
        }
        return nil
    }

    /// Refuses models whose buffers could not be allocated (Sequential would trap): parameters with
    /// their gradients and the optimizer's state, and activations with their gradients and scratch
    /// for `maxBatch` samples, against this machine's memory. Counted in Double, which cannot overflow.
    private func checkMemory(_ layers: [any Layer], input: Shape, maxBatch: Int, optimizer: any Optimizer) throws {
        func count(_ dims: [Int]) -> Double { dims.reduce(1) { $0 * Double($1) } }
        func gb(_ bytes: Double) -> String { Format.significant(bytes / 1e9, 3) + " GB" }
        let budget = Double(ProcessInfo.processInfo.physicalMemory)
        let parameters = layers.map { $0.parameterSpecs.reduce(0) { $0 + count($1.shape) } }
        // Value, gradient and the optimizer's state (moments, velocity) per parameter, 4 bytes each.
        let bytesPerParameter = 4 * Double(2 + optimizer.statePerParameter)
        let parameterBytes = bytesPerParameter * parameters.reduce(0, +)
        // Per sample: the input, each output, gradients (two buffers at most) and scratch.
        let perSample = count(input.dims) + layers.reduce(0) {
            $0 + 3 * count($1.outputShape.dims) + Double($1.scratchPerSample) + Double($1.scratchFixed) / Double(max(1, maxBatch))
        }
        let activationBytes = 4 * perSample * Double(maxBatch)
        guard parameterBytes + activationBytes > budget else { return }
        if parameterBytes >= activationBytes,
           let i = parameters.indices.max(by: { parameters[$0] < parameters[$1] }) {
            let n = parameters[i] < 1e15 ? Format.grouped(Int(parameters[i]))
                : Format.significant(parameters[i], 3)
            throw layerError(ModelError(layerIndex: i, message:
                "\(n) parameters need \(gb(bytesPerParameter * parameters[i])) with their gradients and optimizer state, "
                + "more than this machine's \(gb(budget)) of memory", hint: "use fewer units"),
                entry: model.layers[i], name: layers[i].name)
        }
        let section = maxBatch == train.batchSize ? "train" : "evaluate"
        throw ConfigError(codingPath: [NameKey(section), NameKey("batch_size")], message:
            "batches of \(Format.grouped(maxBatch)) images need \(gb(activationBytes)) for activations, "
            + "more than this machine's \(gb(budget)) of memory", hint: "use a smaller batch_size")
    }

    private func layerError(_ error: ModelError, entry: TypedEntry, name: String?) -> ExperimentError {
        let node = entry.decoder.node
        let mark: Mark?
        if case .mapping(let m) = node, let typeNode = m["type"] { mark = typeNode.mark } else { mark = node.mark }
        return entry.decoder.source.error(at: mark, path: entry.decoder.codingPath,
                                          "layer '\(name ?? entry.type)' (\(entry.type)): \(error.message)",
                                          hint: error.hint)
    }
}

/// Product of `values`, nil on overflow.
func checkedProduct(_ values: [Int]) -> Int? {
    var product = 1
    for v in values {
        let (p, overflow) = product.multipliedReportingOverflow(by: v)
        if overflow { return nil }
        product = p
    }
    return product
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
