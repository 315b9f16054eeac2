// One experiment from file to reports: parse → build → locate data → train → evaluate → write.
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

    public init() {}

    var overrides: RunCheckpoint.Overrides { .init(epochs: epochs, seed: seed, batchSize: batchSize) }
}

extension RunCheckpoint.Overrides {
    func apply(to spec: inout ExperimentSpec) {
        if let epochs { spec.train.epochs = epochs }
        if let seed { spec.seed = seed }
        if let batchSize { spec.train.batchSize = batchSize }
    }
}

/// A finished run: its report and the folder it was written to.
public struct RunOutcome: Sendable {
    public let report: RunReport
    public let directory: String
}

public enum ExperimentRunner {
    /// Reads the file and applies the overrides; user errors are ExperimentErrors.
    public static func load(_ path: String, options: RunOptions) throws -> ExperimentSpec {
        var spec = try ExperimentSpec.load(path: path)
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
                console.line("  \(point.label): \(Sequential.grouped(model.parameterCount)) parameters, "
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

        let experimentFile = file ?? header.experiment.file
        var spec: ExperimentSpec
        if FileManager.default.fileExists(atPath: experimentFile) {
            spec = try ExperimentSpec.load(path: experimentFile)
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

    /// The newest run folder under `root` that has a checkpoint but no report.json.
    static func unfinishedRun(in root: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var best: (String, Date)?
        for name in names where name != "latest" {
            let directory = (root as NSString).appendingPathComponent(name)
            guard FileIO.isDirectory(directory),
                  !FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("report.json")),
                  let newest = CheckpointFolder(run: directory).newest(),
                  let modified = (try? FileManager.default.attributesOfItem(atPath: newest))?[.modificationDate] as? Date
            else { continue }
            if best == nil || modified > best!.1 { best = (directory, modified) }
        }
        return best?.0
    }

    /// A run folder or a checkpoint file → (run folder, checkpoint to use). A run folder gives its
    /// newest checkpoint; for resuming, a finished run (one with report.json) is an error.
    static func locateCheckpoint(_ target: String, forResuming: Bool) throws -> (directory: String, checkpoint: String) {
        if FileIO.isDirectory(target) {
            let directory = URL(fileURLWithPath: target).standardizedFileURL.resolvingSymlinksInPath().path
            if forResuming, FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("report.json")) {
                throw ExperimentError(message: "run \(target) has finished (it has report.json): nothing to resume",
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

    static func execute(_ launch: Launch, options: RunOptions, console: Console) throws -> RunOutcome {
        let startSeconds = monotonicSeconds()
        BLAS.configure()
        let spec = launch.spec, compiled = launch.compiled, model = compiled.model, path = launch.file
        let threads = max(1, options.threads ?? ThreadPool.availableCores)
        let resumed = launch.checkpoint?.header

        console.line("Experiment \(path) (\(spec.name)): seed \(spec.seed), \(spec.train.epochs) epochs, "
                     + "batch \(spec.train.batchSize), \(threads) thread\(threads == 1 ? "" : "s"), "
                     + "OpenBLAS \(BLAS.coreName) kernel")
        if let resumed, let file = launch.checkpoint?.path {
            console.line("Resuming run \(launch.runID) from \(file): "
                         + (resumed.training.finished ? "training finished"
                            : "epoch \(resumed.training.epoch + 1), batch \(resumed.training.batch), step \(resumed.training.step)"))
        }

        // Data.
        let dataset = try spec.locator(path: path, options: options, console: console).load(spec.data.dataset)
        let (training, validation) = Subset.split(dataset.train, validationFraction: spec.train.validationSplit)
        console.line("Dataset \(dataset.name) from \(dataset.source.directory) (\(dataset.source.origin.rawValue)), "
                     + "SHA-256 verified: \(Sequential.grouped(training.count)) training, "
                     + "\(Sequential.grouped(validation?.count ?? 0)) validation, "
                     + "\(Sequential.grouped(dataset.test.count)) test images of "
                     + "\(dataset.train.rows)×\(dataset.train.cols)")
        console.line()
        console.line(model.summary())
        console.line()

        // Preprocessing: statistics of the training split only, then one scale and shift for all.
        let statistics = spec.preprocess.standardize ? training.pixelStatistics() : nil
        let transform = statistics.map { PixelTransform(scale: spec.preprocess.scale, standardizingWith: $0) }
            ?? PixelTransform(scale: 1 / spec.preprocess.scale)
        if let statistics {
            console.line("Standardized with the training images' mean \(Console.fixed(statistics.mean(scale: spec.preprocess.scale), 4)) "
                         + "and std \(Console.fixed(statistics.std(scale: spec.preprocess.scale), 4)) (after / \(floatText(spec.preprocess.scale)))")
        }
        let preprocessing = PreprocessingRecord(
            scale: Double(spec.preprocess.scale), standardize: spec.preprocess.standardize,
            mean: statistics.map { $0.mean(scale: spec.preprocess.scale) },
            std: statistics.map { $0.std(scale: spec.preprocess.scale) },
            inputScale: Double(transform.scale), inputShift: Double(transform.shift))

        // Training, from the checkpoint's state when resuming.
        let pool = ThreadPool(threadCount: threads)
        let stepsPerEpoch = max(1, (training.count + spec.train.batchSize - 1) / spec.train.batchSize)
        let learningRate = LearningRate(base: compiled.optimizer.learningRate, schedule: spec.train.lrSchedule.schedule,
                                        warmup: spec.train.lrSchedule.warmup, stepsPerEpoch: stepsPerEpoch,
                                        epochs: spec.train.epochs)
        let trainer = Trainer(model: model, loss: compiled.loss, optimizer: compiled.optimizer, transform: transform,
                              classes: dataset.classNames.count, seed: spec.seed, pool: pool,
                              learningRate: learningRate, penalties: compiled.penalties,
                              augmentation: spec.preprocess.augment)
        let snapshot = spec.train.earlyStopping?.restoreBestWeights == true ? WeightSnapshot(of: model) : nil
        let tensors = TrainingTensors(model: model, optimizer: compiled.optimizer, snapshot: snapshot)
        var state = FitState()
        // A fresh run starts early stopping's tracker here: `fit` only makes one when given no state.
        state.tracker = spec.train.earlyStopping.map(EarlyStopping.init)
        var keepBest = spec.train.checkpoint.bestTracker
        var resumes: [RunCheckpoint.Resume] = []
        var restoredEpoch: Int?
        let iso = ISO8601DateFormatter()
        if let checkpoint = launch.checkpoint, let header = resumed {
            try tensors.load(checkpoint, optimizerState: true, snapshotState: snapshot != nil && header.tensors.contains { $0.name == "best/parameters" })
            // The run goes on with this experiment (changed only with --force): say so in its folder.
            try Data(launch.resolvedYAML.utf8).write(
                to: URL(fileURLWithPath: launch.directory).appendingPathComponent("experiment.yaml"), options: .atomic)
            state = header.training
            if let config = spec.train.earlyStopping {
                // Same config: the tracker as stored; a changed one (--force) keeps the history it can.
                if state.tracker?.config != config {
                    state.tracker = state.tracker.map {
                        EarlyStopping(config, best: $0.best, bestEpoch: $0.bestEpoch, wait: $0.wait, stoppedEpoch: $0.stoppedEpoch)
                    } ?? EarlyStopping(config)
                }
            } else {
                state.tracker = nil
            }
            // A finished run given more epochs (--force) trains on, unless early stopping ended it.
            if state.finished && state.epoch < spec.train.epochs && state.tracker?.stoppedEpoch == nil { state.finished = false }
            trainer.resume(atStep: state.step)
            if let stored = header.keepBest, stored.config == keepBest?.config { keepBest = stored }
            restoredEpoch = header.restoredEpoch
            resumes = header.resumes + [RunCheckpoint.Resume(step: state.step, at: iso.string(from: launch.started))]
            let expected = streamPositions(model: model, state: state, batchSize: spec.train.batchSize,
                                           shuffle: spec.train.shuffle, augmented: trainer.augmentation != nil)
            if header.kind != .final && !state.finished && expected != header.streams && launch.experimentHash == header.experiment.sha256 {
                throw CheckpointError(path: checkpoint.path, kind: .corrupt,
                                      reason: "its random-stream positions do not follow from its step and epoch")
            }
        }

        let folder = CheckpointFolder(run: launch.directory)
        try folder.create()
        let policy = spec.train.checkpoint
        func save(_ kind: RunCheckpoint.Kind, _ state: FitState) throws -> String {
            let file = folder.file(kind, step: state.step)
            let includeSnapshot = snapshot != nil && state.tracker?.bestEpoch != nil
            let (table, views) = tensors.table(includeSnapshot: includeSnapshot)
            let header = RunCheckpoint(
                kind: kind, createdAt: iso.string(from: Date()), runnerCommit: Provenance.commit, runID: launch.runID,
                experiment: .init(file: URL(fileURLWithPath: launch.file).standardizedFileURL.path,
                                  sha256: launch.experimentHash, resolvedYAML: launch.resolvedYAML,
                                  overrides: launch.overrides, dataDirectory: options.dataDirectory),
                dataset: dataset.name, classNames: dataset.classNames, preprocessing: preprocessing,
                optimizer: .init(name: compiled.optimizer.name, step: trainer.step),
                nextLearningRate: trainer.nextLearningRate,
                streams: streamPositions(model: model, state: state, batchSize: spec.train.batchSize,
                                         shuffle: spec.train.shuffle, augmented: trainer.augmentation != nil),
                training: state, restoredEpoch: kind == .final ? restoredEpoch : nil, keepBest: keepBest,
                resumes: resumes, tensors: table)
            try CheckpointFile<RunCheckpoint>.write(header: header, tensors: views, to: file)
            if kind == .step { folder.prune(keep: policy.keepLast) }
            return file
        }

        let watcher = InterruptWatcher()
        defer { watcher.stop() }
        var lastSaved: (step: Int, path: String)?
        var saveError: Error?
        var history: FitHistory?
        if !state.finished {
            history = trainer.fit(
                training, validation: validation, epochs: spec.train.epochs, batchSize: spec.train.batchSize,
                shuffle: spec.train.shuffle, validationBatchSize: spec.evaluationBatchSize,
                earlyStopping: spec.train.earlyStopping, from: state, snapshot: snapshot,
                progress: { p in
                    if p.batch == 1 && console.mode == .terminal { console.line("Epoch \(p.epoch + 1)/\(spec.train.epochs)") }
                    console.progress(p)
                },
                afterStep: { s in
                    let periodic = policy.everySteps > 0 && s.step % policy.everySteps == 0
                    let interrupted = watcher.signal != nil
                    if periodic || interrupted {
                        do { lastSaved = (s.step, try save(.step, s)) } catch { saveError = error; return .stop }
                    }
                    return interrupted ? .stop : .proceed
                },
                epochEnd: { e, s in
                    let imagesPerSecond = Double(training.count) / e.seconds
                    // The epoch's time with its validation pass, as Keras's final bar shows it.
                    let shown = BatchProgress(epoch: e.epoch, batch: stepsPerEpoch, batches: stepsPerEpoch,
                                              metrics: e.training, seconds: e.seconds)
                    console.epochDone(shown, epochs: spec.train.epochs, validation: e.validation,
                                      learningRate: learningRate.isScheduled ? e.learningRate : nil,
                                      imagesPerSecond: imagesPerSecond)
                    do {
                        if var tracker = keepBest {
                            let decision = tracker.update(epoch: e.epoch, value: e.value(of: tracker.config.monitor))
                            keepBest = tracker
                            if decision.saveWeights { _ = try save(.best, s) }
                        }
                        if !s.finished && policy.everyEpochs > 0 && s.epoch % policy.everyEpochs == 0 && lastSaved?.step != s.step {
                            lastSaved = (s.step, try save(.step, s))
                        }
                    } catch { saveError = error }
                })
            if let saveError { throw saveError }
            state = history!.state
            restoredEpoch = history!.restoredEpoch
            if history!.interrupted, let signal = watcher.signal {
                throw RunInterrupted(signal: signal, checkpoint: lastSaved?.path ?? "(none)", runDirectory: launch.directory)
            }
            if let stopped = state.tracker?.stoppedEpoch { console.line("Epoch \(stopped + 1): early stopping") }
            if let restored = restoredEpoch {
                console.line("Restoring model weights from the end of the best epoch: \(restored + 1).")
            }
        }
        let finalCheckpoint = folder.file(.final, step: 0)
        if history != nil || launch.checkpoint?.header.kind != .final { _ = try save(.final, state) }
        if let signal = watcher.signal {
            throw RunInterrupted(signal: signal, checkpoint: finalCheckpoint, runDirectory: launch.directory)
        }

        // Evaluation and reports.
        let test = trainer.evaluate(Subset(dataset.test), batchSize: spec.evaluationBatchSize)
        let weightHash = model.weightHash
        let records = state.history.map { e in
            EpochRecord(epoch: e.epoch + 1, loss: e.training.loss, accuracy: e.training.accuracy,
                        valLoss: e.validation?.loss, valAccuracy: e.validation?.accuracy,
                        learningRate: Double("\(e.learningRate)") ?? Double(e.learningRate),
                        seconds: e.seconds, imagesPerSecond: Double(training.count) / e.seconds)
        }
        let trainSeconds = records.reduce(0) { $0 + $1.seconds }
        let perEpoch = records.map(\.seconds).sorted()
        let timing = TimingRecord(
            trainSeconds: trainSeconds,
            secondsPerEpochMedian: perEpoch.isEmpty ? 0 : perEpoch.count % 2 == 1 ? perEpoch[perEpoch.count / 2]
                : (perEpoch[perEpoch.count / 2 - 1] + perEpoch[perEpoch.count / 2]) / 2,
            imagesPerSecond: trainSeconds > 0 ? Double(training.count * records.count) / trainSeconds : 0,
            totalSeconds: monotonicSeconds() - startSeconds)

        var report = RunReport(
            name: spec.name, runID: launch.runID, experimentFile: path, experimentSHA256: launch.experimentHash,
            seed: spec.seed, startedAt: iso.string(from: launch.started), finishedAt: iso.string(from: Date()),
            dataset: DatasetRecord(
                name: dataset.name, directory: dataset.source.directory, origin: dataset.source.origin.rawValue,
                files: dataset.files.map { .init(name: $0.name, path: $0.path, sha256: $0.sha256) },
                trainImages: training.count, validationImages: validation?.count ?? 0,
                testImages: dataset.test.count),
            preprocessing: preprocessing,
            parameters: model.parameterCount,
            layers: model.layers.map { LayerRecord(name: $0.name, type: $0.kind, outputShape: $0.outputShape.dims,
                                                   parameters: $0.parameterCount) },
            epochs: records,
            earlyStopping: state.tracker.map { EarlyStoppingRecord($0, restoredEpoch: restoredEpoch) },
            learningRateScheduled: learningRate.isScheduled,
            test: TestRecord(loss: test.loss, accuracy: test.accuracy, images: test.samples,
                             confusionMatrix: test.confusion, classNames: dataset.classNames),
            weightSHA256: weightHash, timing: timing, peakMemoryBytes: peakResidentBytes(),
            versions: Provenance.current(threads: threads),
            configuration: JSONValueBox(value: JSONValue(try spec.resolved(compiled))),
            checkpoint: finalCheckpoint, resumes: resumes)
        report.expect = ExpectationResult(spec.expect, figures: RunFigures(report))
        try write(report: report, resolvedYAML: launch.resolvedYAML, to: launch.directory)
        linkLatest(launch.runID, in: launch.resultsRoot)

        console.line()
        console.result("Test accuracy: \(Console.fixed(test.accuracy * 100, 2))% - loss: \(Console.fixed(test.loss, 4)) "
                       + "(\(Sequential.grouped(test.samples)) images)")
        console.result("Weight hash: \(weightHash)")
        console.line("Time: \(Console.fixed(timing.secondsPerEpochMedian, 2)) s/epoch (median), "
                     + "\(Sequential.grouped(Int(timing.imagesPerSecond.rounded()))) images/s; "
                     + "peak memory \(Sequential.bytes(report.peakMemoryBytes))")
        for check in report.expect?.checks ?? [] {
            console.result("Expect \(check.metric) \(check.condition): \(check.passed ? "met" : "MISSED") "
                           + "(\(check.value.map { jsonNumber($0) } ?? "not measured"))")
        }
        console.result("Reports: \(launch.directory)/ (report.json, report.md, metrics.csv, experiment.yaml, checkpoints/)")
        return RunOutcome(report: report, directory: launch.directory)
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

    static func write(report: RunReport, resolvedYAML: String, to directory: String) throws {
        func put(_ name: String, _ data: Data) throws {
            try data.write(to: URL(fileURLWithPath: directory).appendingPathComponent(name), options: .atomic)
        }
        try put("experiment.yaml", Data(resolvedYAML.utf8))
        try put("metrics.csv", Data(report.csv().utf8))
        try put("report.json", try report.json())
        try put("report.md", Data(report.markdown().utf8))
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
