// The entry points of a run: `runner FILE` (a new run folder, or `--resume`), `runner resume`,
// `runner validate`; they resolve the experiment and the run folder into a `Launch`, which
// `execute` (RunStages.swift) takes from data to reports.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training

/// Command-line settings that override the experiment file or say where things go.
public struct RunOptions: Sendable {
    public var epochs: Int?
    public var seed: UInt64?
    public var batchSize: Int?
    /// Explicit data directory (beats RUNNER_DATA_DIR, which beats the file's data.directory).
    public var dataDirectory: String?
    public var resultsDirectory = "results"
    /// Threads to compute with (default: all cores). Results do not depend on it.
    public var threads: Int?
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Continue the newest unfinished run of the experiment, if there is one (`--resume`).
    public var resume = false
    /// Resume even though the experiment changed since the run started (`--force`).
    public var force = false
    /// `--set key.path=value` arguments, in order (applied before the options above).
    public var settings: [String] = []
    /// Write TensorBoard event files (`--tensorboard`, the same as train.tensorboard: true).
    public var tensorboard = false

    public init() {}

    var overrides: RunCheckpoint.Overrides {
        .init(epochs: epochs, seed: seed, batchSize: batchSize, settings: settings.isEmpty ? nil : settings,
              tensorboard: tensorboard ? true : nil)
    }
}

extension RunCheckpoint.Overrides {
    /// The options after `--set` (which `ExperimentSpec.load` puts into the file's tree).
    func apply(to spec: inout ExperimentSpec) {
        if let epochs { spec.train.epochs = epochs }
        if let seed { spec.seed = seed }
        if let batchSize { spec.train.batchSize = batchSize }
        if tensorboard == true { spec.train.tensorboard = true }
    }
}

/// A run that ended (finished, or with its reports written for how it stopped): its report and folder.
public struct RunOutcome: Sendable {
    public let report: RunReport
    public let directory: String
}

public enum ExperimentRunner {
    /// Reads the file and applies the overrides; user errors are ExperimentErrors.
    public static func load(_ path: String, options: RunOptions) throws -> ExperimentSpec {
        var spec = try ExperimentSpec.load(path: path, settings: options.settings)
        options.overrides.apply(to: &spec)
        return spec
    }

    /// `runner validate`: parse, build the model, print the summary; no data, no training.
    public static func validate(_ path: String, options: RunOptions, console: Console) throws {
        let spec = try load(path, options: options)
        let compiled = try spec.compile(maxBatch: spec.maxBatch)
        console.line(compiled.model.summary())
        console.line("\(path): valid — \(compiled.optimizer.name), \(compiled.loss.name), "
                     + "\(spec.train.epochs) epoch\(spec.train.epochs == 1 ? "" : "s"), batch \(spec.train.batchSize)")
        if let sweep = spec.sweep {
            // Every point is an experiment of its own: each must build.
            let points = try spec.points()
            console.line("sweep: \(points.count) run\(points.count == 1 ? "" : "s") (\(sweep.summary)), each valid:")
            for var point in points {
                options.overrides.apply(to: &point)
                let model = try point.compile(maxBatch: point.maxBatch).model
                console.line("  \(point.label): \(Format.grouped(model.parameterCount)) parameters, "
                             + "\(point.train.epochs) epoch\(point.train.epochs == 1 ? "" : "s"), batch \(point.train.batchSize)")
            }
        }
    }

    /// `runner FILE.yaml`: the whole run, in a new run folder — or, with `options.resume`, the
    /// continuation of the newest unfinished run of this experiment when there is one.
    public static func run(_ path: String, options: RunOptions, console: Console) throws -> RunOutcome {
        let started = Date()
        let spec = try load(path, options: options)
        if spec.sweep != nil { throw spec.sweepNeedsCompare() }
        let resultsRoot = (options.resultsDirectory as NSString).appendingPathComponent(spec.name)
        if options.resume {
            if let directory = unfinishedRun(in: resultsRoot) {
                return try resume(directory, file: path, options: options, console: console)
            }
            console.line("No unfinished run of \(spec.name) in \(resultsRoot): starting a new one.")
        }
        let compiled = try spec.compile(maxBatch: spec.maxBatch)
        let (resolvedYAML, experimentHash) = try spec.resolvedText(compiled)
        let (runID, directory) = try makeRunDirectory(in: resultsRoot, started: started)
        let lock = try RunLock(directory: directory)
        try Data(resolvedYAML.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("experiment.yaml"),
                                          options: .atomic)
        let launch = Launch(spec: spec, compiled: compiled, resolvedYAML: resolvedYAML, experimentHash: experimentHash,
                            file: path, overrides: options.overrides, runID: runID, directory: directory,
                            resultsRoot: resultsRoot, started: started, checkpoint: nil, lock: lock)
        return try execute(launch, options: options, console: console)
    }

    /// `runner resume RUN_DIR|CHECKPOINT` (`file` nil), or `runner FILE --resume` (`file` given):
    /// continues the run from its newest checkpoint. When the experiment file no longer resolves
    /// to the experiment the run started with, refuses (listing the keys that differ) unless
    /// `options.force`.
    public static func resume(_ target: String, file: String? = nil, options: RunOptions,
                              console: Console) throws -> RunOutcome {
        let started = Date()
        let (directory, checkpointPath) = try locateCheckpoint(target, forResuming: true)
        let lock = try RunLock(directory: directory)
        let checkpoint = try CheckpointFile<RunCheckpoint>(path: checkpointPath)
        let header = checkpoint.header
        var options = options
        options.dataDirectory = options.dataDirectory ?? header.experiment.dataDirectory
        // Overrides given now beat those the run started with.
        var overrides = header.experiment.overrides
        if let epochs = options.epochs { overrides.epochs = epochs }
        if let seed = options.seed { overrides.seed = seed }
        if let batchSize = options.batchSize { overrides.batchSize = batchSize }
        if !options.settings.isEmpty { overrides.settings = options.settings }
        if options.tensorboard { overrides.tensorboard = true }

        let experimentFile = file ?? header.experiment.file
        var spec: ExperimentSpec
        if FileManager.default.fileExists(atPath: experimentFile) {
            spec = try ExperimentSpec.load(path: experimentFile, settings: overrides.settings ?? [])
        } else {
            console.line("Experiment file \(experimentFile) is gone: continuing with the resolved experiment stored in the checkpoint.")
            spec = try ExperimentSpec.parse(header.experiment.resolvedYAML, path: checkpointPath + " (stored experiment)")
        }
        overrides.apply(to: &spec)
        let compiled = try spec.compile(maxBatch: spec.maxBatch)
        let (resolvedYAML, experimentHash) = try spec.resolvedText(compiled)
        if experimentHash != header.experiment.sha256 {
            let differences = experimentDifferences(header.experiment.resolvedYAML, resolvedYAML)
            let list = differences.prefix(20).map { "\n    " + $0 }.joined() + (differences.count > 20 ? "\n    …" : "")
            guard options.force else {
                throw CheckpointError(path: checkpointPath, kind: .changedExperiment,
                                      reason: "\(experimentFile) no longer resolves to the experiment this run started with; "
                                          + "differences (checkpoint → now):" + list,
                                      hint: "put the file back, or pass --force to continue with the changed experiment")
            }
            console.line("Continuing with a changed experiment (--force):" + list)
        }
        let launch = Launch(spec: spec, compiled: compiled, resolvedYAML: resolvedYAML, experimentHash: experimentHash,
                            file: experimentFile, overrides: overrides, runID: header.runID, directory: directory,
                            resultsRoot: (directory as NSString).deletingLastPathComponent, started: started,
                            checkpoint: checkpoint, lock: lock)
        return try execute(launch, options: options, console: console)
    }

    /// The newest run folder under `root` that has a checkpoint and whose report.json is missing
    /// or says interrupted or failed (a diverged run would diverge again at the same step).
    static func unfinishedRun(in root: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var best: (String, Date)?
        for name in names where name != "latest" {
            let directory = (root as NSString).appendingPathComponent(name)
            let status = runStatus(runDirectory: directory)
            guard FileIO.isDirectory(directory), status != .finished, status != .diverged,
                  let newest = CheckpointFolder(run: directory).newest(),
                  let modified = (try? FileManager.default.attributesOfItem(atPath: newest))?[.modificationDate] as? Date
            else { continue }
            if best == nil || modified > best!.1 { best = (directory, modified) }
        }
        return best?.0
    }

    /// A run folder or a checkpoint file → (run folder, checkpoint to use). A run folder gives its
    /// newest checkpoint; for resuming, a finished run (report.json's status) is an error.
    static func locateCheckpoint(_ target: String, forResuming: Bool) throws -> (directory: String, checkpoint: String) {
        if FileIO.isDirectory(target) {
            let directory = URL(fileURLWithPath: target).standardizedFileURL.resolvingSymlinksInPath().path
            if forResuming, runStatus(runDirectory: directory) == .finished {
                throw ExperimentError(message: "run \(target) has finished (its report.json says so): nothing to resume",
                                      hint: "start a new run with `runner <experiment>.yaml`")
            }
            let folder = CheckpointFolder(run: directory)
            guard let newest = forResuming ? folder.newest() : (FileManager.default.fileExists(atPath: folder.file(.final, step: 0))
                ? folder.file(.final, step: 0) : folder.newest()) else {
                throw ExperimentError(message: "\(target) holds no checkpoint (\(folder.path) is empty or missing)",
                                      hint: "pass a run folder (results/<name>/<run>) or a .ckpt file")
            }
            return (directory, newest)
        }
        guard FileManager.default.fileExists(atPath: target) else {
            throw CheckpointError(path: target, kind: .unreadable, reason: "no such file or directory")
        }
        let file = URL(fileURLWithPath: target).standardizedFileURL.resolvingSymlinksInPath()
        // <run>/checkpoints/<file>.ckpt
        return (file.deletingLastPathComponent().deletingLastPathComponent().path, file.path)
    }

    /// One run, fresh or resumed, from its folder to its reports.
    struct Launch {
        let spec: ExperimentSpec
        let compiled: CompiledModel
        let resolvedYAML: String
        let experimentHash: String
        let file: String
        let overrides: RunCheckpoint.Overrides
        let runID: String
        let directory: String
        let resultsRoot: String
        let started: Date
        let checkpoint: CheckpointFile<RunCheckpoint>?
        /// Held until the run is done: no other process may write the folder meanwhile.
        let lock: RunLock
    }

    /// results/<name>/<UTC time>[-n]: created atomically, so parallel runs never share a folder.
    static func makeRunDirectory(in root: String, started: Date) throws -> (String, String) {
        try FileIO.createDirectories(root)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: started)
        for n in 1...1000 {
            let id = n == 1 ? stamp : "\(stamp)-\(n)"
            let path = (root as NSString).appendingPathComponent(id)
            if mkdir(path, 0o755) == 0 { return (id, path) }
            if errno != EEXIST { break }
        }
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: root])
    }

    /// results/<name>/latest → the newest run (replaced atomically; best effort).
    static func linkLatest(_ runID: String, in root: String) {
        let link = (root as NSString).appendingPathComponent("latest")
        let temporary = link + ".\(getpid())"
        unlink(temporary)
        if symlink(runID, temporary) == 0, rename(temporary, link) != 0 { unlink(temporary) }
    }
}

extension ExperimentSpec {
    /// Batches are allocated for the larger of the training and evaluation batch sizes.
    var maxBatch: Int { max(train.batchSize, evaluationBatchSize) }
    var evaluationBatchSize: Int { evaluate.batchSize ?? train.batchSize }

    /// The data search path for this run: --data-dir, then RUNNER_DATA_DIR, then data.directory
    /// (relative to the experiment file); mirrors from the file, then RUNNER_DATASET_MIRRORS.
    func locator(path: String, options: RunOptions, console: Console) -> DatasetLocator {
        let fileDirectory = (path as NSString).deletingLastPathComponent
        let fromFile = data.directory.map { $0.hasPrefix("/") ? $0 : (fileDirectory as NSString).appendingPathComponent($0) }
        let explicit = (options.dataDirectory ?? options.environment["RUNNER_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? fromFile).map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        return DatasetLocator(explicitDirectory: explicit,
                              cacheDirectory: DatasetLocator.defaultCacheDirectory(environment: options.environment),
                              mirrors: data.mirrors ?? DatasetLocator.mirrors(environment: options.environment),
                              log: { [console] message in console.line(message) })
    }
}
