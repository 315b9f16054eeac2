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

public struct RunReport: Encodable, @unchecked Sendable {  // JSONValue is immutable
    public let name: String
    public let runID: String
    public let experimentFile: String
    public let experimentSHA256: String
    public let seed: UInt64
    public let startedAt: String
    public let finishedAt: String
    public let dataset: DatasetRecord
    public let preprocessing: PreprocessingRecord
    public let parameters: Int
    public let layers: [LayerRecord]
    public let epochs: [EpochRecord]
    /// Null when the run did not use early stopping.
    public let earlyStopping: EarlyStoppingRecord?
    /// Whether the learning rate follows a schedule (metrics.csv then has a learning_rate column).
    public let learningRateScheduled: Bool
    public let test: TestRecord
    /// The `expect:` conditions and what the run met (null when the experiment has none).
    public internal(set) var expect: ExpectationResult?
    /// SHA-256 of the final parameters (little-endian float32, in the model's layer order): two
    /// runs of the same experiment give the same hash.
    public let weightSHA256: String
    public let timing: TimingRecord
    public let peakMemoryBytes: Int
    public let versions: Provenance
    let configuration: JSONValueBox
    /// final.ckpt: the trained model, for `runner evaluate` and `runner predict`.
    public let checkpoint: String
    /// Each time the run was resumed from a checkpoint (step and time); empty for a run in one go.
    public let resumes: [RunCheckpoint.Resume]

    /// report.json's keys, in this order (learning_rate_scheduled is not one: metrics.csv shows it).
    enum CodingKeys: String, CodingKey {
        case name, runID = "run_id", experimentFile = "experiment_file"
        case experimentSHA256 = "experiment_sha256", seed, startedAt = "started_at"
        case finishedAt = "finished_at", configuration, dataset, preprocessing, parameters, layers, epochs
        case earlyStopping = "early_stopping", test, expect, weightSHA256 = "weight_sha256", checkpoint, resumes
        case timing, peakMemoryBytes = "peak_memory_bytes", versions
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
        var md = """
        # \(name) — run \(runID)

        | | |
        |---|---|
        | **test accuracy** | **\(Format.percent(test.accuracy))** (\(Format.grouped(test.images)) images) |
        | test loss | \(Format.fixed(test.loss, 4)) |
        | parameters | \(Format.grouped(parameters)) |
        | epochs | \(epochs.count) |
        | seconds per epoch (median) | \(Format.fixed(timing.secondsPerEpochMedian, 2)) |
        | training images per second | \(Format.grouped(Int(timing.imagesPerSecond.rounded()))) |
        | peak memory | \(Format.bytes(peakMemoryBytes)) |
        | weight hash (SHA-256) | `\(weightSHA256)` |
        | experiment | `\(experimentFile)` (SHA-256 `\(experimentSHA256.prefix(16))…`) |
        | seed | \(seed) |

        """
        for check in expect?.checks ?? [] {
            md += "| expect \(check.metric) \(check.condition) | \(check.passed ? "met" : "**MISSED**") "
                + "(\(check.value.map { jsonNumber($0) } ?? "not measured")) |\n"
        }
        if preprocessing.standardize, let mean = preprocessing.mean, let std = preprocessing.std {
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
        md += "\n## Confusion matrix (test set; rows: true label, columns: predicted)\n\n"
        md += "| | " + test.classNames.joined(separator: " | ") + " | recall |\n"
        md += "|---|" + String(repeating: "---:|", count: test.classNames.count + 1) + "\n"
        for (i, row) in test.confusionMatrix.enumerated() {
            let total = row.reduce(0, +)
            let cells = row.enumerated().map { j, n in j == i ? "**\(n)**" : (n == 0 ? "·" : "\(n)") }
            md += "| **\(test.classNames[i])** | " + cells.joined(separator: " | ")
                + " | \(total == 0 ? "–" : Format.percent(Double(row[i]) / Double(total))) |\n"
        }
        md += """

        ## Model

        | layer | type | output shape | parameters |
        |---|---|---|---:|

        """
        for l in layers {
            md += "| \(l.name) | \(l.type) | \(Shape(l.outputShape)) | \(Format.grouped(l.parameters)) |\n"
        }
        md += """

        ## Data and provenance

        - dataset: \(dataset.name) from `\(dataset.directory)` (\(dataset.origin)); \
        \(Format.grouped(dataset.trainImages)) training, \(Format.grouped(dataset.validationImages)) \
        validation, \(Format.grouped(dataset.testImages)) test images; SHA-256 verified
        - runner commit: `\(versions.runnerCommit)`, Swift \(versions.swift)
        - OpenBLAS: \(versions.openblasConfig) — kernel \(versions.openblasCore)
        - CPU: \(versions.cpu), \(versions.cores) cores, \(versions.threads) threads used
        - started \(startedAt), finished \(finishedAt)

        """
        return md
    }
}

/// CSV cells use report.json's number text, so the two files agree digit for digit.
private func number(_ x: Double) -> String { jsonNumber(x) }
