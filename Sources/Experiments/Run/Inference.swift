// `runner evaluate` and `runner predict`: a trained model back from a checkpoint, in inference mode.
//
// The model is rebuilt from the resolved experiment stored in the checkpoint (not from the
// experiment file, which may have changed since), its weights and moving statistics loaded after
// the tensor table has been checked against it, and its inputs made with the preprocessing the
// run recorded (scale, and the training split's mean/std when standardizing).
import Crypto
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training

/// A model restored from a checkpoint, ready for inference.
public struct TrainedModel {
    public let checkpointPath: String
    public let header: RunCheckpoint
    public let spec: ExperimentSpec
    public let model: Sequential
    let trainer: Trainer

    /// `target`: a run folder (its final.ckpt, else its newest checkpoint) or a .ckpt file.
    public init(_ target: String, threads: Int? = nil) throws {
        let (_, path) = try ExperimentRunner.locateCheckpoint(target, forResuming: false)
        let file = try CheckpointFile<RunCheckpoint>(path: path)
        header = file.header
        checkpointPath = path
        spec = try ExperimentSpec.parse(header.experiment.resolvedYAML, path: path + " (stored experiment)")
        let compiled = try spec.compile(maxBatch: spec.evaluationBatchSize)
        model = compiled.model
        guard model.outputCount == header.classNames.count else {
            throw CheckpointError(path: path, kind: .mismatch,
                                  reason: "the model has \(model.outputCount) outputs for the checkpoint's "
                                      + "\(header.classNames.count) classes")
        }
        try TrainingTensors(model: model, optimizer: compiled.optimizer, snapshot: nil)
            .load(file, optimizerState: false, snapshotState: false)
        BLAS.configure()
        trainer = Trainer(model: model, loss: compiled.loss, optimizer: compiled.optimizer,
                          transform: header.preprocessing.transform, classes: header.classNames.count,
                          seed: spec.seed, pool: ThreadPool(threadCount: max(1, threads ?? ThreadPool.availableCores)),
                          penalties: compiled.penalties)
    }

    /// SHA-256 of the parameters and batch-norm state (the report's weight_sha256).
    public var weightHash: String { model.weightHash }

    /// Test metrics on `data` (penalties in the loss, as in the run's report).
    public func evaluate(_ data: Subset) -> Evaluation {
        trainer.evaluate(data, batchSize: spec.evaluationBatchSize)
    }

    /// Class probabilities of each image (bytes of the model's input size, light digit on black, as MNIST's).
    public func predict(_ images: [GrayImage]) -> [[Float]] {
        let shape = model.inputShape.dims
        let set = ImageSet(count: images.count, rows: shape[0], cols: shape.count > 1 ? shape[1] : 1,
                           pixels: images.flatMap(\.pixels), labels: [UInt8](repeating: 0, count: images.count))
        return trainer.predict(Subset(set), batchSize: spec.evaluationBatchSize)
    }
}

extension Sequential {
    /// SHA-256 of the parameters and batch-norm state, hex.
    public var weightHash: String {
        withWeightBytes { parameters, state in
            var hasher = SHA256()
            hasher.update(bufferPointer: parameters)
            hasher.update(bufferPointer: state)
            return Checksum.hex(hasher.finalize())
        }
    }
}

/// One image's prediction: the class and the probabilities, highest first.
public struct Prediction: Sendable {
    public let path: String
    public let label: Int
    public let ranked: [(label: Int, probability: Float)]
    /// The image the model saw (made MNIST-like by `GrayImage.mnistStyle`).
    public let input: GrayImage
}

extension ExperimentRunner {
    /// `runner evaluate CHECKPOINT|RUN [--dataset NAME]`: loss, accuracy and confusion matrix on the
    /// test set of the dataset the model was trained on (or `dataset`).
    public static func evaluate(_ target: String, dataset name: String?, options: RunOptions,
                                console: Console) throws -> Evaluation {
        let trained = try TrainedModel(target, threads: options.threads)
        let header = trained.header
        let datasetName = name ?? header.dataset
        console.line("Model \(trained.spec.name) from \(trained.checkpointPath) (\(header.kind.rawValue) checkpoint, "
                     + "epoch \(header.training.epoch), step \(header.training.step)); weight hash \(trained.weightHash)")
        var options = options
        options.dataDirectory = options.dataDirectory ?? header.experiment.dataDirectory
        let dataset = try trained.spec.locator(path: header.experiment.file, options: options, console: console)
            .loadExplaining(datasetName)
        guard dataset.classNames.count == header.classNames.count,
              dataset.test.rows * dataset.test.cols == trained.model.inputShape.count else {
            throw ExperimentError(message: "\(dataset.name) (\(dataset.classNames.count) classes of "
                                      + "\(dataset.test.rows)×\(dataset.test.cols) images) does not fit the model "
                                      + "trained on \(header.dataset)")
        }
        if dataset.name != header.dataset {
            console.line("Note: the model was trained on \(header.dataset); its class \(header.classNames[0]) is "
                         + "\(dataset.name)'s \(dataset.classNames[0]), and so on.")
        }
        let result = trained.evaluate(Subset(dataset.test))
        console.line("Dataset \(dataset.name) from \(dataset.source.directory) (\(dataset.source.origin.rawValue)), "
                     + "SHA-256 verified: \(Format.grouped(dataset.test.count)) test images")
        console.line()
        console.line(confusionTable(result.confusion, classNames: dataset.classNames))
        console.line()
        console.result("Test accuracy: \(Format.fixed(result.accuracy * 100, 2))% - loss: \(Format.fixed(result.loss, 4)) "
                       + "(\(Format.grouped(result.samples)) images)")
        return result
    }

    /// `runner predict CHECKPOINT|RUN IMAGE...`: each PNG/PGM image made MNIST-like, classified.
    public static func predict(_ target: String, images paths: [String], top: Int, show: Bool,
                               options: RunOptions, console: Console) throws -> [Prediction] {
        let trained = try TrainedModel(target, threads: options.threads)
        let shape = trained.model.inputShape.dims
        let image = try Catalog.entry(named: trained.header.dataset).imageShape
        guard shape.count >= 2, Array(shape.prefix(2)) == image, shape.count == 2 || shape[2] == 1 else {
            throw ExperimentError(message: "the model takes inputs of shape \(trained.model.inputShape), "
                                      + "not \(image[0])×\(image[1]) grayscale images")
        }
        let inputs = try paths.map { path throws(ImageError) in
            try GrayImage(contentsOf: path).mnistStyle(path: path)
        }
        let probabilities = trained.predict(inputs)
        let names = trained.header.classNames
        console.line("Model \(trained.spec.name) from \(trained.checkpointPath)")
        var predictions: [Prediction] = []
        for (i, path) in paths.enumerated() {
            let ranked = probabilities[i].enumerated().map { (label: $0.offset, probability: $0.element) }
                .sorted { $0.probability > $1.probability || ($0.probability == $1.probability && $0.label < $1.label) }
            let prediction = Prediction(path: path, label: ranked[0].label, ranked: ranked, input: inputs[i])
            predictions.append(prediction)
            if show { console.line(inputs[i].asciiArt) }
            let alternatives = ranked.prefix(max(1, top)).map { "\(names[$0.label]) \(Format.fixed(Double($0.probability) * 100, 1))%" }
            console.result("\(path): \(names[prediction.label])  (" + alternatives.joined(separator: ", ") + ")")
        }
        return predictions
    }

    /// The confusion matrix as an aligned text table with each class's recall.
    static func confusionTable(_ matrix: [[Int]], classNames: [String]) -> String {
        let labels = classNames.map { $0.count <= 6 ? $0 : String($0.prefix(6)) }
        let width = max(labels.map(\.count).max() ?? 1, String(matrix.flatMap { $0 }.max() ?? 0).count)
        func cell(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        var lines = ["Confusion matrix (rows: true label, columns: predicted)",
                     cell("") + " " + labels.map(cell).joined(separator: " ") + "  recall"]
        for (i, row) in matrix.enumerated() {
            let total = row.reduce(0, +)
            let recall = total == 0 ? "–" : Format.fixed(Double(row[i]) / Double(total) * 100, 1) + "%"
            lines.append(cell(labels[i]) + " " + row.map { cell($0 == 0 ? "·" : String($0)) }.joined(separator: " ")
                         + "  " + recall)
        }
        return lines.joined(separator: "\n")
    }
}
