// A run's checkpoints: what their header holds, where they live in the run folder, how a model,
// its optimizer and the trainer's state go in and come back out.
//
// <run folder>/checkpoints/
//     step-0000001200.ckpt   periodic (train.checkpoint.every_epochs / every_steps) and on SIGINT/SIGTERM;
//                            the newest keep_last are kept
//     best.ckpt              the end of the best epoch by keep_best's metric
//     final.ckpt             the weights the run ended with (after restore_best_weights)
//
// The file layout (magic, version, lengths, JSON header, Float32 tensors, SHA-256) is in
// Training/Checkpoint.swift. The header's keys (format 1):
//     kind                "step" | "best" | "final"
//     created_at          ISO 8601 time of writing
//     runner_commit       the runner's source commit
//     run_id              the run folder's name
//     experiment          file (absolute path), sha256 and resolved_yaml of the resolved experiment,
//                         overrides (epochs, seed, batch_size, set, tensorboard from the command
//                         line), data_directory
//     dataset, class_names
//     preprocessing       scale, standardize, mean, std, input_scale, input_shift (input = pixel·scale + shift)
//     optimizer           name and step (the step count Adam's bias correction uses)
//     next_learning_rate  the rate of the next step (the schedule is a function of the step)
//     streams             every random stream's (name, index, position) for the next step
//     training            the trainer's FitState: epoch, batch (the data-order cursor), step, the
//                         partial epoch's running metrics and seconds, finished epochs' metrics,
//                         early_stopping's tracker (best, best_epoch, wait, stopped_epoch), finished
//     restored_epoch      the epoch whose weights restore_best_weights put back (final.ckpt)
//     keep_best           best.ckpt's tracker (best value and epoch) so a resumed run keeps it
//     resumes             each earlier resume: step and time
//     tensors             parameters/<layer>/<tensor> (trainable), state/<layer>/<tensor> (moving
//                         statistics), optimizer/<name> (flat, one value per trainable parameter),
//                         best/parameters and best/state (restore_best_weights' snapshot)
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training
import Yams

public struct RunCheckpoint: CheckpointHeader, Sendable {
    public enum Kind: String, Codable, Sendable { case step, best, final }

    public struct Experiment: Codable, Sendable, Equatable {
        /// Absolute path of the experiment file the run started from.
        public var file: String
        public var sha256: String
        public var resolvedYAML: String
        public var overrides: Overrides
        /// --data-dir of the run, reused by `runner resume` unless given again.
        public var dataDirectory: String?
        enum CodingKeys: String, CodingKey {
            case file, sha256, resolvedYAML = "resolved_yaml", overrides, dataDirectory = "data_directory"
        }
    }

    /// The command-line overrides of the experiment file (absent keys: none given).
    public struct Overrides: Codable, Sendable, Equatable {
        public var epochs: Int?
        public var seed: UInt64?
        public var batchSize: Int?
        /// `--set key.path=value` arguments, in order.
        public var settings: [String]? = nil
        /// `--tensorboard`.
        public var tensorboard: Bool? = nil
        enum CodingKeys: String, CodingKey { case epochs, seed, batchSize = "batch_size", settings = "set", tensorboard }
    }

    public struct Stream: Codable, Sendable, Equatable {
        public var name: String
        public var index: UInt64
        public var position: UInt64
    }

    public struct Optimizer: Codable, Sendable, Equatable {
        public var name: String
        public var step: Int
    }

    public struct Resume: Codable, Sendable, Equatable {
        public var step: Int
        public var at: String
    }

    public var kind: Kind
    public var createdAt: String
    public var runnerCommit: String
    public var runID: String
    public var experiment: Experiment
    public var dataset: String
    public var classNames: [String]
    public var preprocessing: PreprocessingRecord
    public var optimizer: Optimizer
    public var nextLearningRate: Float
    public var streams: [Stream]
    public var training: FitState
    public var restoredEpoch: Int?
    public var keepBest: EarlyStopping?
    public var resumes: [Resume]
    public var tensors: [CheckpointTensor]

    enum CodingKeys: String, CodingKey {
        case kind, createdAt = "created_at", runnerCommit = "runner_commit", runID = "run_id", experiment, dataset
        case classNames = "class_names", preprocessing, optimizer, nextLearningRate = "next_learning_rate", streams
        case training, restoredEpoch = "restored_epoch", keepBest = "keep_best", resumes, tensors
    }
}

extension PreprocessingRecord {
    /// What the model's inputs are made of: input = pixel · input_scale + input_shift.
    var transform: PixelTransform { PixelTransform(scale: Float(inputScale), shift: Float(inputShift)) }
}

/// The random streams the next step draws from (the trainer derives them; stored to be seen and checked).
func streamPositions(model: Sequential, state: FitState, batchSize: Int, shuffle: Bool,
                     augmented: Bool) -> [RunCheckpoint.Stream] {
    var streams: [RunCheckpoint.Stream] = []
    if shuffle { streams.append(.init(name: "shuffle", index: UInt64(state.epoch), position: 0)) }
    if augmented {
        streams.append(.init(name: "augment", index: UInt64(state.epoch), position: UInt64(state.batch * batchSize)))
    }
    for layer in model.layers where layer.kind == "dropout" {
        streams.append(.init(name: "dropout/" + layer.name, index: UInt64(state.step + 1), position: 0))
    }
    return streams
}

/// Everything of a model and its training that lives in tensors.
struct TrainingTensors {
    let model: Sequential
    let optimizer: any Optimizer
    /// restore_best_weights' copy, when early stopping keeps one.
    let snapshot: WeightSnapshot?

    /// The table and the views, in file order. The snapshot only when it holds weights.
    func table(includeSnapshot: Bool) -> ([CheckpointTensor], [FloatView]) {
        var names: [CheckpointTensor] = [], views: [FloatView] = []
        for entry in model.parameterTable {
            names.append(CheckpointTensor(name: (entry.trainable ? "parameters/" : "state/") + entry.layer + "/" + entry.name,
                                          shape: entry.shape))
            views.append((entry.trainable ? model.parameters : model.state).view(offset: entry.offset, count: entry.count))
        }
        for (name, storage) in optimizer.state {
            names.append(CheckpointTensor(name: "optimizer/" + name, shape: [storage.count]))
            views.append(storage.view)
        }
        if includeSnapshot, let snapshot {
            names.append(CheckpointTensor(name: "best/parameters", shape: [snapshot.parameters.count]))
            views.append(snapshot.parameters.view)
            names.append(CheckpointTensor(name: "best/state", shape: [snapshot.state.count]))
            views.append(snapshot.state.view)
        }
        return (names, views)
    }

    /// Loads `file` into the model (and optimizer and snapshot, when asked) after checking that
    /// every tensor the model has is in the file with the same shape, and nothing else is.
    /// Nothing is copied unless everything matches.
    func load(_ file: CheckpointFile<RunCheckpoint>, optimizerState: Bool, snapshotState: Bool) throws(CheckpointError) {
        let header = file.header
        func mismatch(_ reason: String, _ hint: String? = nil) -> CheckpointError {
            CheckpointError(path: file.path, kind: .mismatch, reason: reason, hint: hint)
        }
        let (expected, views) = table(includeSnapshot: snapshotState)
        let stored = Dictionary(header.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let modelTensors = expected.filter { $0.name.hasPrefix("parameters/") || $0.name.hasPrefix("state/") }
        var problems: [String] = []
        for tensor in modelTensors {
            guard let found = stored[tensor.name] else {
                problems.append("the model's \(tensor.name) \(Self.shape(tensor.shape)) is not in the checkpoint")
                continue
            }
            if found.shape != tensor.shape {
                problems.append("\(tensor.name) is \(Self.shape(found.shape)) in the checkpoint, \(Self.shape(tensor.shape)) in the model")
            }
        }
        let modelNames = Set(modelTensors.map(\.name))
        for tensor in header.tensors where (tensor.name.hasPrefix("parameters/") || tensor.name.hasPrefix("state/"))
            && !modelNames.contains(tensor.name) {
            problems.append("the checkpoint's \(tensor.name) \(Self.shape(tensor.shape)) is not in the model")
        }
        if !problems.isEmpty {
            throw mismatch(problems.prefix(6).joined(separator: "; ") + (problems.count > 6 ? "; …" : ""),
                           "the checkpoint was written for another model (layers, units or names differ)")
        }
        if optimizerState {
            guard header.optimizer.name == optimizer.name else {
                throw mismatch("it holds \(header.optimizer.name)'s state, the experiment trains with \(optimizer.name)",
                               "an optimizer's moments cannot be carried over to another optimizer")
            }
            for tensor in expected where tensor.name.hasPrefix("optimizer/") && stored[tensor.name] == nil {
                throw mismatch("\(header.optimizer.name)'s state '\(tensor.name)' is missing",
                               "the optimizer's settings changed (e.g. momentum turned on)")
            }
        }
        for (tensor, view) in zip(expected, views) {
            if tensor.name.hasPrefix("optimizer/") && !optimizerState { continue }
            if tensor.name.hasPrefix("best/") && !snapshotState { continue }
            try file.copy(tensor.name, into: view)
        }
    }

    static func shape(_ dims: [Int]) -> String { "(" + dims.map(String.init).joined(separator: ", ") + ")" }
}

/// The checkpoints/ folder of a run.
struct CheckpointFolder {
    let path: String

    init(run directory: String) {
        path = (directory as NSString).appendingPathComponent("checkpoints")
    }

    /// Creates the folder, or clears out what a killed writer left in it (its temporary files:
    /// the checkpoints themselves are only ever renamed into place whole).
    func create() throws {
        try FileIO.createDirectories(path)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        where name.hasPrefix(".") && name.contains(".ckpt.partial-") {
            unlink((path as NSString).appendingPathComponent(name))
        }
    }

    func file(_ kind: RunCheckpoint.Kind, step: Int) -> String {
        switch kind {
        case .step: (path as NSString).appendingPathComponent(String(format: "step-%010d.ckpt", step))
        case .best: (path as NSString).appendingPathComponent("best.ckpt")
        case .final: (path as NSString).appendingPathComponent("final.ckpt")
        }
    }

    /// The step-*.ckpt files, oldest first.
    func stepFiles() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".ckpt"),
                  let step = Int(name.dropFirst(5).dropLast(5)) else { return nil }
            return (step, (path as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// The checkpoint a resume continues from: final.ckpt when training finished, else the newest step file.
    func newest() -> String? {
        let final = file(.final, step: 0)
        if FileManager.default.fileExists(atPath: final) { return final }
        return stepFiles().last?.path
    }

    /// Deletes all but the newest `keep` step files.
    func prune(keep: Int) {
        let files = stepFiles()
        for old in files.dropLast(keep) { unlink(old.path) }
    }
}

/// The key paths whose values differ between two resolved experiments, as "path: old → new".
func experimentDifferences(_ old: String, _ new: String) -> [String] {
    guard let a = try? Yams.compose(yaml: old), let b = try? Yams.compose(yaml: new) else {
        return old == new ? [] : ["(the resolved experiments differ)"]
    }
    var out: [String] = []
    func text(_ node: Node?) -> String {
        guard let node else { return "(absent)" }
        if case .scalar(let s) = node { return s.string }
        return ((try? Yams.serialize(node: node)) ?? "…").trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "\n", with: " ")
    }
    func walk(_ x: Node?, _ y: Node?, _ path: String) {
        switch (x, y) {
        case (.mapping(let m)?, .mapping(let n)?):
            var keys: [String] = m.keys.compactMap(\.string)
            for key in n.keys.compactMap(\.string) where !keys.contains(key) { keys.append(key) }
            for key in keys {
                walk(m[Node(key)], n[Node(key)], path.isEmpty ? key : path + "." + key)
            }
        case (.sequence(let s)?, .sequence(let t)?) where s.count == t.count:
            for i in 0..<s.count { walk(s[i], t[i], path + "[\(i)]") }
        default:
            if text(x) != text(y) { out.append("\(path): \(text(x)) → \(text(y))") }
        }
    }
    walk(a, b, "")
    return out
}
