// One experiment from file to reports: parse → build → locate data → train → evaluate → write.
import Crypto
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

    public init() {}
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
        if let epochs = options.epochs { spec.train.epochs = epochs }
        if let seed = options.seed { spec.seed = seed }
        if let batchSize = options.batchSize { spec.train.batchSize = batchSize }
        return spec
    }

    /// `runner validate`: parse, build the model, print the summary; no data, no training.
    public static func validate(_ path: String, options: RunOptions, console: Console) throws {
        let spec = try load(path, options: options)
        let compiled = try spec.compile(maxBatch: spec.maxBatch)
        console.line(compiled.model.summary())
        console.line("\(path): valid — \(compiled.optimizer.name), \(compiled.loss.name), "
                     + "\(spec.train.epochs) epoch\(spec.train.epochs == 1 ? "" : "s"), batch \(spec.train.batchSize)")
    }

    /// `runner FILE.yaml`: the whole run.
    public static func run(_ path: String, options: RunOptions, console: Console) throws -> RunOutcome {
        let started = Date()
        let startSeconds = monotonicSeconds()
        BLAS.configure()
        let spec = try load(path, options: options)
        let threads = max(1, options.threads ?? ThreadPool.availableCores)
        let compiled = try spec.compile(maxBatch: spec.maxBatch)
        let (resolvedYAML, experimentHash) = try spec.resolvedText(compiled)
        let model = compiled.model

        console.line("Experiment \(path) (\(spec.name)): seed \(spec.seed), \(spec.train.epochs) epochs, "
                     + "batch \(spec.train.batchSize), \(threads) thread\(threads == 1 ? "" : "s"), "
                     + "OpenBLAS \(BLAS.coreName) kernel")

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

        // Training.
        let pool = ThreadPool(threadCount: threads)
        let stepsPerEpoch = max(1, (training.count + spec.train.batchSize - 1) / spec.train.batchSize)
        let learningRate = LearningRate(base: compiled.optimizer.learningRate, schedule: spec.train.lrSchedule.schedule,
                                        warmup: spec.train.lrSchedule.warmup, stepsPerEpoch: stepsPerEpoch)
        let trainer = Trainer(model: model, loss: compiled.loss, optimizer: compiled.optimizer, transform: transform,
                              classes: dataset.classNames.count, seed: spec.seed, pool: pool,
                              learningRate: learningRate, penalties: compiled.penalties,
                              augmentation: spec.preprocess.augment)
        var last: BatchProgress?
        var records: [EpochRecord] = []
        let history = trainer.fit(
            training, validation: validation, epochs: spec.train.epochs, batchSize: spec.train.batchSize,
            shuffle: spec.train.shuffle, validationBatchSize: spec.evaluationBatchSize,
            earlyStopping: spec.train.earlyStopping,
            progress: { p in
                if p.batch == 1 && console.mode == .terminal { console.line("Epoch \(p.epoch + 1)/\(spec.train.epochs)") }
                last = p
                console.progress(p)
            },
            epochEnd: { e in
                let imagesPerSecond = Double(training.count) / e.seconds
                if let last {
                    console.epochDone(last, epochs: spec.train.epochs, validation: e.validation,
                                      learningRate: learningRate.isScheduled ? e.learningRate : nil,
                                      imagesPerSecond: imagesPerSecond)
                }
                records.append(EpochRecord(epoch: e.epoch + 1, loss: e.training.loss, accuracy: e.training.accuracy,
                                           valLoss: e.validation?.loss, valAccuracy: e.validation?.accuracy,
                                           learningRate: Double("\(e.learningRate)") ?? Double(e.learningRate),
                                           seconds: e.seconds, imagesPerSecond: imagesPerSecond))
            })
        if let stopped = history.earlyStopping?.stoppedEpoch { console.line("Epoch \(stopped + 1): early stopping") }
        if let restored = history.restoredEpoch {
            console.line("Restoring model weights from the end of the best epoch: \(restored + 1).")
        }

        // Evaluation and reports.
        let test = trainer.evaluate(Subset(dataset.test), batchSize: spec.evaluationBatchSize)
        let weightHash = model.withWeightBytes { parameters, state in
            var hasher = SHA256()
            hasher.update(bufferPointer: parameters)
            hasher.update(bufferPointer: state)
            return hasher.finalize()
        }.map { String(format: "%02x", $0) }.joined()
        let trainSeconds = records.reduce(0) { $0 + $1.seconds }
        let perEpoch = records.map(\.seconds).sorted()
        let timing = TimingRecord(
            trainSeconds: trainSeconds,
            secondsPerEpochMedian: perEpoch.count % 2 == 1 ? perEpoch[perEpoch.count / 2]
                : (perEpoch[perEpoch.count / 2 - 1] + perEpoch[perEpoch.count / 2]) / 2,
            imagesPerSecond: Double(training.count * records.count) / trainSeconds,
            totalSeconds: monotonicSeconds() - startSeconds)

        let resultsRoot = (options.resultsDirectory as NSString).appendingPathComponent(spec.name)
        let (runID, directory) = try makeRunDirectory(in: resultsRoot, started: started)
        let iso = ISO8601DateFormatter()
        let report = RunReport(
            name: spec.name, runID: runID, experimentFile: path, experimentSHA256: experimentHash,
            seed: spec.seed, startedAt: iso.string(from: started), finishedAt: iso.string(from: Date()),
            dataset: DatasetRecord(
                name: dataset.name, directory: dataset.source.directory, origin: dataset.source.origin.rawValue,
                files: dataset.files.map { .init(name: $0.name, path: $0.path, sha256: $0.sha256) },
                trainImages: training.count, validationImages: validation?.count ?? 0,
                testImages: dataset.test.count),
            preprocessing: PreprocessingRecord(
                scale: Double(spec.preprocess.scale), standardize: spec.preprocess.standardize,
                mean: statistics.map { $0.mean(scale: spec.preprocess.scale) },
                std: statistics.map { $0.std(scale: spec.preprocess.scale) },
                inputScale: Double(transform.scale), inputShift: Double(transform.shift)),
            parameters: model.parameterCount,
            layers: model.layers.map { LayerRecord(name: $0.name, type: $0.kind, outputShape: $0.outputShape.dims,
                                                   parameters: $0.parameterCount) },
            epochs: records,
            earlyStopping: history.earlyStopping.map { EarlyStoppingRecord($0, restoredEpoch: history.restoredEpoch) },
            learningRateScheduled: learningRate.isScheduled,
            test: TestRecord(loss: test.loss, accuracy: test.accuracy, images: test.samples,
                             confusionMatrix: test.confusion, classNames: dataset.classNames),
            weightSHA256: weightHash, timing: timing, peakMemoryBytes: peakResidentBytes(),
            versions: Provenance.current(threads: threads),
            configuration: JSONValueBox(value: JSONValue(try spec.resolved(compiled))))
        try write(report: report, resolvedYAML: resolvedYAML, to: directory)
        linkLatest(runID, in: resultsRoot)

        console.line()
        console.result("Test accuracy: \(Console.fixed(test.accuracy * 100, 2))% - loss: \(Console.fixed(test.loss, 4)) "
                       + "(\(Sequential.grouped(test.samples)) images)")
        console.result("Weight hash: \(weightHash)")
        console.line("Time: \(Console.fixed(timing.secondsPerEpochMedian, 2)) s/epoch (median), "
                     + "\(Sequential.grouped(Int(timing.imagesPerSecond.rounded()))) images/s; "
                     + "peak memory \(Sequential.bytes(report.peakMemoryBytes))")
        console.result("Reports: \(directory)/ (report.json, report.md, metrics.csv, experiment.yaml)")
        return RunOutcome(report: report, directory: directory)
    }

    /// results/<name>/<UTC time>[-n]: created atomically, so parallel runs never share a folder.
    static func makeRunDirectory(in root: String, started: Date) throws -> (String, String) {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
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
