// What a run leaves behind in results/<name>/<run-id>/: report.json (everything), metrics.csv
// (Keras CSVLogger columns), report.md (for people), experiment.yaml (the resolved experiment).
import Foundation
import NeuralNetwork
import Training

/// Without validation an epoch has no val_loss and val_accuracy keys, as in Keras's history.
public struct EpochRecord: Codable, Sendable, OmitsAbsentKeys {
    /// From 1, as progress lines show it (metrics.csv counts from 0, like Keras's CSVLogger).
    public let epoch: Int
    public let loss: Double
    public let accuracy: Double
    public let valLoss: Double?
    public let valAccuracy: Double?
    /// The rate of the epoch's first optimizer step.
    public let learningRate: Double
    public let seconds: Double
    public let imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch, loss, accuracy, valLoss = "val_loss", valAccuracy = "val_accuracy"
        case learningRate = "learning_rate", seconds, imagesPerSecond = "images_per_second"
    }
}

/// How pixels became inputs: input = pixel · input_scale + input_shift (pixel in 0…255).
public struct PreprocessingRecord: Codable, Sendable {
    public let scale: Double
    public let standardize: Bool
    /// Mean and standard deviation of the training split's pixels after / scale (null unless
    /// standardizing).
    public let mean: Double?
    public let std: Double?
    public let inputScale: Double
    public let inputShift: Double
    enum CodingKeys: String, CodingKey {
        case scale, standardize, mean, std, inputScale = "input_scale", inputShift = "input_shift"
    }

    /// mean and std null when absent in checkpoint headers too, which JSONEncoder writes.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(scale, forKey: .scale)
        try c.encode(standardize, forKey: .standardize)
        try c.encode(mean, forKey: .mean)
        try c.encode(std, forKey: .std)
        try c.encode(inputScale, forKey: .inputScale)
        try c.encode(inputShift, forKey: .inputShift)
    }
}

/// What early stopping did. Epochs count from 1, as in `epochs`.
public struct EarlyStoppingRecord: Codable, Sendable {
    public let monitor: String
    /// "min" or "max" (auto resolved).
    public let mode: String
    /// The epoch after which training stopped; null when it ran every epoch.
    public let stoppedEpoch: Int?
    /// The epoch with the best monitored value (null if none was monitored).
    public let bestEpoch: Int?
    public let bestValue: Double?
    /// Epochs without improvement at the end.
    public let wait: Int
    /// Whether the model ended with the best epoch's weights (restore_best_weights).
    public let restoredBestWeights: Bool
    enum CodingKeys: String, CodingKey {
        case monitor, mode, stoppedEpoch = "stopped_epoch", bestEpoch = "best_epoch", bestValue = "best_value"
        case wait, restoredBestWeights = "restored_best_weights"
    }

    public init(_ tracker: EarlyStopping, restoredEpoch: Int?) {
        monitor = tracker.config.monitor.rawValue
        mode = tracker.config.maximizes ? "max" : "min"
        stoppedEpoch = tracker.stoppedEpoch.map { $0 + 1 }
        bestEpoch = tracker.best.isFinite ? tracker.bestEpoch.map { $0 + 1 } : nil
        bestValue = tracker.best.isFinite ? tracker.best : nil
        wait = tracker.wait
        restoredBestWeights = restoredEpoch != nil
    }
}

public struct LayerRecord: Codable, Sendable {
    public let name: String
    public let type: String
    public let outputShape: [Int]
    public let parameters: Int
    /// How the layer computes (`Layer.pathName`: "im2col", "winograd-f4x4", "gemm", …), when it
    /// picks among ways; absent otherwise.
    public var path: String?
    enum CodingKeys: String, CodingKey { case name, type, outputShape = "output_shape", parameters, path }
}

public struct DatasetRecord: Codable, Sendable {
    public let name: String
    public let directory: String
    public let origin: String
    public let files: [FileRecord]
    public let trainImages: Int
    public let validationImages: Int
    public let testImages: Int
    public struct FileRecord: Codable, Sendable {
        public let name: String
        public let path: String
        public let sha256: String
    }
    enum CodingKeys: String, CodingKey {
        case name, directory, origin, files, trainImages = "train_images"
        case validationImages = "validation_images", testImages = "test_images"
    }
}

public struct TestRecord: Codable, Sendable {
    public let loss: Double
    public let accuracy: Double
    public let images: Int
    /// confusion_matrix[true label][predicted label]
    public let confusionMatrix: [[Int]]
    public let classNames: [String]
    enum CodingKeys: String, CodingKey {
        case loss, accuracy, images, confusionMatrix = "confusion_matrix", classNames = "class_names"
    }
}

public struct TimingRecord: Codable, Sendable {
    /// Training only (no evaluation), summed over epochs.
    public let trainSeconds: Double
    /// Median over epochs of the training time of one epoch.
    public let secondsPerEpochMedian: Double
    /// Training images per second over the whole run.
    public let imagesPerSecond: Double
    /// Wall time of the whole run, data loading and evaluation included.
    public let totalSeconds: Double
    enum CodingKeys: String, CodingKey {
        case trainSeconds = "train_seconds", secondsPerEpochMedian = "seconds_per_epoch_median"
        case imagesPerSecond = "images_per_second", totalSeconds = "total_seconds"
    }
}

/// How a run ended: report.json's `status` (absent in reports written before it: finished).
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    /// Trained every epoch (or early stopping ended it) and was evaluated on the test set.
    case finished
    /// Stopped by SIGINT/SIGTERM with a checkpoint to resume from (exit 130).
    case interrupted
    /// A training loss (or a parameter) was not finite: stopped at that step (exit 1).
    case diverged
    /// An error ended it (data not found, a checkpoint that could not be written …).
    case failed
}

/// Where a diverged run stopped, epochs and steps counted from 1.
public struct DivergenceRecord: Codable, Sendable {
    public let epoch: Int
    public let step: Int
    /// The value that was not finite, as text: "nan", "inf", "-inf".
    public let value: String
    /// What was not finite: "training loss" or "parameter".
    public let quantity: String
    /// The newest checkpoint with finite weights, null when there is none.
    public let lastGoodCheckpoint: String?
    enum CodingKeys: String, CodingKey {
        case epoch, step, value, quantity, lastGoodCheckpoint = "last_good_checkpoint"
    }
}

public struct RunReport: Codable, @unchecked Sendable {  // JSONValue is immutable
    public let name: String
    public let runID: String
    /// finished, interrupted, diverged or failed.
    public let status: RunStatus
    /// Why the run did not finish (null when it did).
    public let error: String?
    /// The command line that ran it ("runner experiments/mlp.yaml --epochs 2").
    public let command: String?
    public let experimentFile: String
    public let experimentSHA256: String
    public let seed: UInt64
    public let startedAt: String
    public let finishedAt: String
    /// Null when the run failed before its data was loaded.
    public let dataset: DatasetRecord?
    public let preprocessing: PreprocessingRecord?
    public let parameters: Int
    public let layers: [LayerRecord]
    /// The finished epochs (those before an interruption or divergence).
    public let epochs: [EpochRecord]
    /// Null when the run did not use early stopping.
    public let earlyStopping: EarlyStoppingRecord?
    /// Whether the learning rate follows a schedule (metrics.csv then has a learning_rate column).
    public let learningRateScheduled: Bool
    /// The test-set results; null unless the run finished.
    public let test: TestRecord?
    /// The `expect:` conditions and what the run met (null when the experiment has none).
    public internal(set) var expect: ExpectationResult?
    /// SHA-256 of the final parameters (little-endian float32, in the model's layer order): two
    /// runs of the same experiment give the same hash. Null unless the run finished.
    public let weightSHA256: String?
    public let timing: TimingRecord
    public let peakMemoryBytes: Int
    public let versions: Provenance
    let configuration: JSONValueBox
    /// final.ckpt for a finished run (for `runner evaluate` and `runner predict`); the checkpoint
    /// to resume from for an interrupted one; null when there is none.
    public let checkpoint: String?
    /// Each time the run was resumed from a checkpoint (step and time); empty for a run in one go.
    public let resumes: [RunCheckpoint.Resume]
    /// Where a diverged run stopped (null otherwise).
    public let divergence: DivergenceRecord?

    /// report.json's keys, in this order (learning_rate_scheduled is not one: metrics.csv shows it).
    enum CodingKeys: String, CodingKey {
        case name, runID = "run_id", status, error, command, experimentFile = "experiment_file"
        case experimentSHA256 = "experiment_sha256", seed, startedAt = "started_at"
        case finishedAt = "finished_at", configuration, dataset, preprocessing, parameters, layers, epochs
        case earlyStopping = "early_stopping", test, expect, weightSHA256 = "weight_sha256", checkpoint, resumes
        case divergence, timing, peakMemoryBytes = "peak_memory_bytes", versions
    }

    init(name: String, runID: String, status: RunStatus, error: String?, command: String?, experimentFile: String,
         experimentSHA256: String, seed: UInt64, startedAt: String, finishedAt: String, dataset: DatasetRecord?,
         preprocessing: PreprocessingRecord?, parameters: Int, layers: [LayerRecord], epochs: [EpochRecord],
         earlyStopping: EarlyStoppingRecord?, learningRateScheduled: Bool, test: TestRecord?, weightSHA256: String?,
         timing: TimingRecord, peakMemoryBytes: Int, versions: Provenance, configuration: JSONValueBox,
         checkpoint: String?, resumes: [RunCheckpoint.Resume], divergence: DivergenceRecord?) {
        self.name = name; self.runID = runID; self.status = status; self.error = error; self.command = command
        self.experimentFile = experimentFile; self.experimentSHA256 = experimentSHA256; self.seed = seed
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.dataset = dataset
        self.preprocessing = preprocessing; self.parameters = parameters; self.layers = layers; self.epochs = epochs
        self.earlyStopping = earlyStopping; self.learningRateScheduled = learningRateScheduled; self.test = test
        self.weightSHA256 = weightSHA256; self.timing = timing; self.peakMemoryBytes = peakMemoryBytes
        self.versions = versions; self.configuration = configuration; self.checkpoint = checkpoint
        self.resumes = resumes; self.divergence = divergence
    }

    /// Reads report.json back (for pages and `runner report`): a report written before statuses
    /// existed is a finished run. The configuration is not read back (experiment.yaml holds it).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        runID = try c.decode(String.self, forKey: .runID)
        status = try c.decodeIfPresent(RunStatus.self, forKey: .status) ?? .finished
        error = try c.decodeIfPresent(String.self, forKey: .error)
        command = try c.decodeIfPresent(String.self, forKey: .command)
        experimentFile = try c.decode(String.self, forKey: .experimentFile)
        experimentSHA256 = try c.decode(String.self, forKey: .experimentSHA256)
        seed = try c.decode(UInt64.self, forKey: .seed)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        finishedAt = try c.decode(String.self, forKey: .finishedAt)
        dataset = try c.decodeIfPresent(DatasetRecord.self, forKey: .dataset)
        preprocessing = try c.decodeIfPresent(PreprocessingRecord.self, forKey: .preprocessing)
        parameters = try c.decode(Int.self, forKey: .parameters)
        layers = try c.decode([LayerRecord].self, forKey: .layers)
        epochs = try c.decode([EpochRecord].self, forKey: .epochs)
        earlyStopping = try c.decodeIfPresent(EarlyStoppingRecord.self, forKey: .earlyStopping)
        test = try c.decodeIfPresent(TestRecord.self, forKey: .test)
        expect = try c.decodeIfPresent(ExpectationResult.self, forKey: .expect)
        weightSHA256 = try c.decodeIfPresent(String.self, forKey: .weightSHA256)
        timing = try c.decode(TimingRecord.self, forKey: .timing)
        peakMemoryBytes = try c.decode(Int.self, forKey: .peakMemoryBytes)
        versions = try c.decode(Provenance.self, forKey: .versions)
        checkpoint = try c.decodeIfPresent(String.self, forKey: .checkpoint)
        resumes = try c.decodeIfPresent([RunCheckpoint.Resume].self, forKey: .resumes) ?? []
        divergence = try c.decodeIfPresent(DivergenceRecord.self, forKey: .divergence)
        learningRateScheduled = epochs.count > 1 && Set(epochs.map(\.learningRate)).count > 1
        configuration = JSONValueBox(value: .null)
    }

    /// The report.json of the run in `directory`.
    public static func read(runDirectory directory: String) throws -> RunReport {
        let path = (directory as NSString).appendingPathComponent("report.json")
        // JSONDecoder, not JSONSerialization: on Linux the latter misreads the last digit of some doubles.
        return try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// report.json
    public func json() throws -> Data {
        Data((try OrderedJSONEncoder.encode(self).text() + "\n").utf8)
    }

    /// metrics.csv with Keras CSVLogger's columns (epoch from 0, then the metrics in alphabetical
    /// order), plus the epoch's training seconds, plus — when the rate follows a schedule, as
    /// Keras logs it only under a scheduler — the epoch's learning rate.
    public func csv() -> String {
        var out = "epoch,accuracy,loss,val_accuracy,val_loss,seconds" + (learningRateScheduled ? ",learning_rate" : "") + "\n"
        for e in epochs {
            var fields = [String(e.epoch - 1), number(e.accuracy), number(e.loss),
                          e.valAccuracy.map(number) ?? "", e.valLoss.map(number) ?? "", number(e.seconds)]
            if learningRateScheduled { fields.append(number(e.learningRate)) }
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    /// report.md: the run at a glance, then the details.
    public func markdown() -> String {
        var md = "# \(name) — run \(runID)\n\n"
        if status != .finished { md += "**\(status.rawValue.uppercased())**" + (error.map { ": \($0)" } ?? "") + "\n\n" }
        md += "| | |\n|---|---|\n"
        if let test {
            md += "| **test accuracy** | **\(Format.percent(test.accuracy))** (\(Format.grouped(test.images)) images) |\n"
                + "| test loss | \(Format.fixed(test.loss, 4)) |\n"
        }
        md += """
        | parameters | \(Format.grouped(parameters)) |
        | epochs | \(epochs.count) |
        | seconds per epoch (median) | \(Format.fixed(timing.secondsPerEpochMedian, 2)) |
        | training images per second | \(Format.grouped(Int(timing.imagesPerSecond.rounded()))) |
        | peak memory | \(Format.bytes(peakMemoryBytes)) |
        | weight hash (SHA-256) | \(weightSHA256.map { "`\($0)`" } ?? "–") |
        | experiment | `\(experimentFile)` (SHA-256 `\(experimentSHA256.prefix(16))…`) |
        | seed | \(seed) |

        """
        for check in expect?.checks ?? [] {
            md += "| expect \(check.metric) \(check.condition) | \(check.passed ? "met" : "**MISSED**") "
                + "(\(check.value.map { jsonNumber($0) } ?? "not measured")) |\n"
        }
        if let preprocessing, preprocessing.standardize, let mean = preprocessing.mean, let std = preprocessing.std {
            md += "| standardized with | mean \(Format.fixed(mean, 4)), std \(Format.fixed(std, 4)) (training images) |\n"
        }
        if let stopping = earlyStopping {
            md += "| early stopping (\(stopping.monitor)) | "
                + (stopping.stoppedEpoch.map { "stopped after epoch \($0)" } ?? "ran every epoch")
                + (stopping.bestEpoch.map { "; best epoch \($0)" } ?? "")
                + (stopping.bestValue.map { " (\(Format.fixed($0, 4)))" } ?? "")
                + (stopping.restoredBestWeights ? ", its weights restored" : "") + " |\n"
        }
        let rateHeader = learningRateScheduled ? " learning rate |" : ""
        md += """

        ## Epochs

        | epoch | loss | accuracy | val_loss | val_accuracy |\(rateHeader) seconds | images/s |
        |---:|---:|---:|---:|---:|\(learningRateScheduled ? "---:|" : "")---:|---:|

        """
        for e in epochs {
            md += "| \(e.epoch) | \(Format.fixed(e.loss, 4)) | \(Format.fixed(e.accuracy, 4)) | \(e.valLoss.map { Format.fixed($0, 4) } ?? "–") | "
                + "\(e.valAccuracy.map { Format.fixed($0, 4) } ?? "–") | "
                + (learningRateScheduled ? "\(Format.significant(e.learningRate, 4)) | " : "")
                + "\(Format.fixed(e.seconds, 2)) | \(Format.grouped(Int(e.imagesPerSecond.rounded()))) |\n"
        }
        if let test {
            md += "\n## Confusion matrix (test set; rows: true label, columns: predicted)\n\n"
            md += "| | " + test.classNames.joined(separator: " | ") + " | recall |\n"
            md += "|---|" + String(repeating: "---:|", count: test.classNames.count + 1) + "\n"
            for (i, row) in test.confusionMatrix.enumerated() {
                let total = row.reduce(0, +)
                let cells = row.enumerated().map { j, n in j == i ? "**\(n)**" : (n == 0 ? "·" : "\(n)") }
                md += "| **\(test.classNames[i])** | " + cells.joined(separator: " | ")
                    + " | \(total == 0 ? "–" : Format.percent(Double(row[i]) / Double(total))) |\n"
            }
        }
        md += """

        ## Model

        | layer | type | output shape | parameters |
        |---|---|---|---:|

        """
        for l in layers {
            md += "| \(l.name) | \(l.type) | \(Shape(l.outputShape)) | \(Format.grouped(l.parameters)) |\n"
        }
        md += "\n## Data and provenance\n\n"
        if let dataset {
            md += "- dataset: \(dataset.name) from `\(dataset.directory)` (\(dataset.origin)); "
                + "\(Format.grouped(dataset.trainImages)) training, \(Format.grouped(dataset.validationImages)) "
                + "validation, \(Format.grouped(dataset.testImages)) test images; SHA-256 verified\n"
        }
        md += """
        - runner commit: `\(versions.runnerCommit)`, Swift \(versions.swift)
        - matrix products: \(versions.productsText); OpenBLAS \(versions.openblasConfig)
        - CPU: \(versions.cpu), \(versions.cores) cores, \(versions.threads) threads used
        - started \(startedAt), finished \(finishedAt)

        """
        return md
    }
}

/// CSV cells use report.json's number text, so the two files agree digit for digit.
private func number(_ x: Double) -> String { jsonNumber(x) }
