// What a run leaves behind in results/<name>/<run-id>/: report.json (everything), metrics.csv
// (Keras CSVLogger columns), report.md (for people), experiment.yaml (the resolved experiment).
import Foundation
import NeuralNetwork
import Training

public struct EpochRecord: Codable, Sendable {
    /// From 1, as progress lines show it (metrics.csv counts from 0, like Keras's CSVLogger).
    public let epoch: Int
    public let loss: Double
    public let accuracy: Double
    public let valLoss: Double?
    public let valAccuracy: Double?
    public let seconds: Double
    public let imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch, loss, accuracy, valLoss = "val_loss", valAccuracy = "val_accuracy", seconds
        case imagesPerSecond = "images_per_second"
    }
}

public struct LayerRecord: Codable, Sendable {
    public let name: String
    public let type: String
    public let outputShape: [Int]
    public let parameters: Int
    enum CodingKeys: String, CodingKey { case name, type, outputShape = "output_shape", parameters }
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
    public let parameters: Int
    public let layers: [LayerRecord]
    public let epochs: [EpochRecord]
    public let test: TestRecord
    /// SHA-256 of the final parameters (little-endian float32, in the model's layer order): two
    /// runs of the same experiment give the same hash.
    public let weightSHA256: String
    public let timing: TimingRecord
    public let peakMemoryBytes: Int
    public let versions: Provenance
    let configuration: JSONValueBox

    enum CodingKeys: String, CodingKey {
        case name, runID = "run_id", experimentFile = "experiment_file"
        case experimentSHA256 = "experiment_sha256", seed, startedAt = "started_at"
        case finishedAt = "finished_at", configuration, dataset, parameters, layers, epochs, test
        case weightSHA256 = "weight_sha256", timing, peakMemoryBytes = "peak_memory_bytes", versions
    }

    /// report.json
    public func json() throws -> Data {
        Data((try OrderedJSONEncoder.encode(self).text() + "\n").utf8)
    }

    /// metrics.csv with Keras CSVLogger's columns (epoch from 0, then the metrics in alphabetical
    /// order), plus the epoch's training seconds.
    public func csv() -> String {
        var out = "epoch,accuracy,loss,val_accuracy,val_loss,seconds\n"
        for e in epochs {
            let fields = [String(e.epoch - 1), number(e.accuracy), number(e.loss),
                          e.valAccuracy.map(number) ?? "", e.valLoss.map(number) ?? "", number(e.seconds)]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    /// report.md: the run at a glance, then the details.
    public func markdown() -> String {
        func pct(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }
        func f(_ x: Double, _ d: Int = 4) -> String { String(format: "%.\(d)f", x) }
        var md = """
        # \(name) — run \(runID)

        | | |
        |---|---|
        | **test accuracy** | **\(pct(test.accuracy))** (\(Sequential.grouped(test.images)) images) |
        | test loss | \(f(test.loss)) |
        | parameters | \(Sequential.grouped(parameters)) |
        | epochs | \(epochs.count) |
        | seconds per epoch (median) | \(f(timing.secondsPerEpochMedian, 2)) |
        | training images per second | \(Sequential.grouped(Int(timing.imagesPerSecond.rounded()))) |
        | peak memory | \(Sequential.bytes(peakMemoryBytes)) |
        | weight hash (SHA-256) | `\(weightSHA256)` |
        | experiment | `\(experimentFile)` (SHA-256 `\(experimentSHA256.prefix(16))…`) |
        | seed | \(seed) |

        ## Epochs

        | epoch | loss | accuracy | val_loss | val_accuracy | seconds | images/s |
        |---:|---:|---:|---:|---:|---:|---:|

        """
        for e in epochs {
            md += "| \(e.epoch) | \(f(e.loss)) | \(f(e.accuracy)) | \(e.valLoss.map { f($0) } ?? "–") | "
                + "\(e.valAccuracy.map { f($0) } ?? "–") | \(f(e.seconds, 2)) | "
                + "\(Sequential.grouped(Int(e.imagesPerSecond.rounded()))) |\n"
        }
        md += "\n## Confusion matrix (test set; rows: true label, columns: predicted)\n\n"
        md += "| | " + test.classNames.joined(separator: " | ") + " | recall |\n"
        md += "|---|" + String(repeating: "---:|", count: test.classNames.count + 1) + "\n"
        for (i, row) in test.confusionMatrix.enumerated() {
            let total = row.reduce(0, +)
            let cells = row.enumerated().map { j, n in j == i ? "**\(n)**" : (n == 0 ? "·" : "\(n)") }
            md += "| **\(test.classNames[i])** | " + cells.joined(separator: " | ")
                + " | \(total == 0 ? "–" : pct(Double(row[i]) / Double(total))) |\n"
        }
        md += """

        ## Model

        | layer | type | output shape | parameters |
        |---|---|---|---:|

        """
        for l in layers {
            md += "| \(l.name) | \(l.type) | \(Shape(l.outputShape)) | \(Sequential.grouped(l.parameters)) |\n"
        }
        md += """

        ## Data and provenance

        - dataset: \(dataset.name) from `\(dataset.directory)` (\(dataset.origin)); \
        \(Sequential.grouped(dataset.trainImages)) training, \(Sequential.grouped(dataset.validationImages)) \
        validation, \(Sequential.grouped(dataset.testImages)) test images; SHA-256 verified
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
