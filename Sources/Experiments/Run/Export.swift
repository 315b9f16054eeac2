// `runner export RUN|CHECKPOINT --format onnx [-o FILE]`: a trained model for other tools. The
// graph (Interchange/ONNXExport.swift) takes raw pixels and gives probabilities: the run's
// preprocessing is part of it, so onnxruntime needs nothing from this project to reproduce the
// runner's predictions.
import Datasets
import Foundation
import Interchange
import NeuralNetwork

/// The formats `runner export` writes.
public enum ExportFormat: String, CaseIterable, Sendable {
    case onnx
}

extension ExperimentRunner {
    /// Writes the model of `target` (a run folder: its final.ckpt; or a .ckpt) to `output`,
    /// default <run>/model.onnx for a run folder and <checkpoint>.onnx beside a checkpoint file.
    /// Returns the path written.
    @discardableResult
    public static func export(_ target: String, format: ExportFormat, output: String?, console: Console) throws -> String {
        let trained = try TrainedModel(target, threads: 1)
        let header = trained.header, model = trained.model
        let scale = Float(header.preprocessing.inputScale), shift = Float(header.preprocessing.inputShift)
        let input = "(N, " + model.inputShape.dims.map(String.init).joined(separator: ", ") + ")"
        let classes = header.classNames.count <= 10 ? header.classNames.joined(separator: ", ")
            : "\(header.classNames[0]) … \(header.classNames[header.classNames.count - 1])"
        let inputText = "float32 \(input): raw pixel values 0…255 (light digit on black, as MNIST), channels last; "
            + "the graph computes pixel · \(scale) + \(shift) itself"
        let outputText = "float32 (N, \(model.outputCount)): softmax over the classes \(classes)"
        let description = "input 'pixels': \(inputText). Output 'probabilities': \(outputText)."
        var onnx = ONNX.Model(graph: try ONNXExport.graph(model, inputScale: scale, inputShift: shift))
        onnx.graph.doc = description
        onnx.producerVersion = header.runnerCommit
        onnx.doc = "\(trained.spec.name), run \(header.runID), exported by runner from \(trained.checkpointPath)"
        onnx.metadata = [("class_names", header.classNames.joined(separator: ",")), ("dataset", header.dataset),
                         ("input_scale", "\(scale)"), ("input_shift", "\(shift)"), ("run_id", header.runID),
                         ("experiment_sha256", header.experiment.sha256), ("weight_sha256", trained.weightHash),
                         ("epoch", "\(header.training.epoch)"), ("step", "\(header.training.step)")]
        let path = output ?? defaultExportPath(target, checkpoint: trained.checkpointPath, format: format)
        let bytes = onnx.serialized()
        do {
            try FileIO.writeAtomically(bytes, to: path)
        } catch {
            throw ExportWriteError(path: path, reason: writeFailureReason(error))
        }
        console.line("Model \(trained.spec.name) from \(trained.checkpointPath) (\(header.kind.rawValue) checkpoint, "
                     + "epoch \(header.training.epoch), weight hash \(trained.weightHash.prefix(16))…)")
        console.line("ONNX opset \(ONNX.opsetVersion): \(onnx.graph.nodes.count) nodes, "
                     + "\(Format.grouped(model.parameterCount)) parameters")
        console.line("  input  'pixels'        " + inputText)
        console.line("  output 'probabilities' " + outputText)
        console.result("Wrote \(path) (\(Format.bytes(bytes.count)))")
        return path
    }

    static func defaultExportPath(_ target: String, checkpoint: String, format: ExportFormat) -> String {
        if FileIO.isDirectory(target) { return (target as NSString).appendingPathComponent("model." + format.rawValue) }
        return (checkpoint as NSString).deletingPathExtension + "." + format.rawValue
    }
}

/// The exported file could not be written (exit status 1).
public struct ExportWriteError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "cannot write \(path): \(reason)" }
}

/// A failed write's reason without the path (FileIO's errors name the temporary file).
func writeFailureReason(_ error: any Error) -> String {
    if case .fileSystem(_, let reason)? = error as? DatasetError { return reason }
    return "\(error)"
}
