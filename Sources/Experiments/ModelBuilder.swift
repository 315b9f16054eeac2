// From the model and compile sections to a built model, loss and optimizer: every name goes
// through its registry, every shape is checked here, before any data is loaded or trained on.
// Each failure points at the layer (or key) in the file that caused it.
import Datasets
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
}

extension ExperimentSpec {
    /// Image shape and class count of the dataset the spec names (known without loading it).
    var datasetShape: (image: [Int], classes: Int) {
        let entry = Catalog.entries.first { $0.name == data.dataset } ?? Catalog.mnist
        return ([28, 28], entry.classNames.count)
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
        if input.count != image.reduce(1, *) {
            throw ConfigError(codingPath: model.inputShapePath, message:
                "input_shape \(input.dims) holds \(input.count) values, but \(data.dataset) images have "
                + "\(image.reduce(1, *)) (\(image.map(String.init).joined(separator: "×")))",
                hint: "use [28, 28], or [28, 28, 1] for convolutions")
        }

        var layers: [any Layer] = []
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

        let sequential: Sequential
        do {
            sequential = try Sequential(name: model.name ?? name, inputShape: input, layers: layers,
                                        maxBatch: maxBatch, seed: seed)
            try sequential.prepare(for: loss)
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
                             layerTypes: model.layers.map(\.type))
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

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
