// `runner export`: the command line of model export; the work is in Experiments/Run/Export.swift.
import ArgumentParser
import Experiments

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a trained model for other tools (ONNX, for onnxruntime and friends).",
        discussion: """
            RUN is a run folder (its final.ckpt) or a .ckpt file. The ONNX graph (opset 13) takes raw \
            pixels — float32 (N, height, width[, 1]), values 0…255, channels last as the model's \
            input_shape — and applies the run's preprocessing itself; its output 'probabilities' is \
            (N, classes), the softmax the runner reports. Written to RUN/model.onnx, or beside a checkpoint \
            file as <checkpoint>.onnx, unless -o says where.
            """)

    @Argument(help: ArgumentHelp("A run folder or a checkpoint file.", valueName: "run"), completion: .file())
    var target: String

    @Option(help: "The file format.")
    var format: ExportFormat = .onnx

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the model.", completion: .file())
    var output: String?

    @Flag(help: "Print only the path written.")
    var quiet = false

    func run() throws {
        try reportingErrors {
            try ExperimentRunner.export(target, format: format, output: output, console: Console(mode: quiet ? .quiet : .plain))
        }
    }
}

extension ExportFormat: ExpressibleByArgument {}
