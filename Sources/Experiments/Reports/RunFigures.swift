// The figures of a finished run that gates and comparisons use, and the one place that reads them
// back from report.json. Also the search of a results folder for the runs of an experiment, by
// its hash and report.json's status: finished ones to reuse, diverged ones to show as such,
// interrupted ones (a checkpoint, and no report or one whose status is not finished) to resume.
import Foundation
import Training

/// A finished run at a glance: what the comparison table shows and what `expect:` can test.
public struct RunFigures: Sendable, Equatable, Codable, OmitsAbsentKeys {
    public var name: String
    public var runID: String
    public var experimentSHA256: String
    public var seed: UInt64
    public var parameters: Int
    /// Epochs trained (fewer than asked for when early stopping ended the run).
    public var epochs: Int
    public var testAccuracy: Double
    public var testLoss: Double
    /// The last epoch's training and validation figures (validation: nil, and no key in
    /// comparison.json, without a split).
    public var accuracy: Double?
    public var loss: Double?
    public var valAccuracy: Double?
    public var valLoss: Double?
    public var trainSeconds: Double
    public var secondsPerEpoch: Double
    public var imagesPerSecond: Double
    public var peakMemoryBytes: Int
    public var weightSHA256: String
    public var finishedAt: String

    /// The figures of the finished run in `directory`, from its report.json (an error when the
    /// report's status is not finished).
    public static func read(runDirectory directory: String) throws -> RunFigures {
        let report = try RunReport.read(runDirectory: directory)
        guard let figures = RunFigures(report) else {
            throw ExperimentError(message: "the run in \(directory) did not finish (its report.json says \(report.status.rawValue))")
        }
        return figures
    }

    public func value(of metric: Expectation.Metric) -> Double? {
        switch metric {
        case .testAccuracy: testAccuracy
        case .testLoss: testLoss
        case .accuracy: accuracy
        case .loss: loss
        case .valAccuracy: valAccuracy
        case .valLoss: valLoss
        case .secondsPerEpoch: secondsPerEpoch
        case .imagesPerSecond: imagesPerSecond
        case .parameters: Double(parameters)
        }
    }
}

extension RunFigures {
    /// nil unless the run finished (has test results).
    init?(_ report: RunReport) {
        guard report.status == .finished, let test = report.test else { return nil }
        name = report.name
        runID = report.runID
        experimentSHA256 = report.experimentSHA256
        seed = report.seed
        parameters = report.parameters
        epochs = report.epochs.count
        testAccuracy = test.accuracy
        testLoss = test.loss
        accuracy = report.epochs.last?.accuracy
        loss = report.epochs.last?.loss
        valAccuracy = report.epochs.last?.valAccuracy
        valLoss = report.epochs.last?.valLoss
        trainSeconds = report.timing.trainSeconds
        secondsPerEpoch = report.timing.secondsPerEpochMedian
        imagesPerSecond = report.timing.imagesPerSecond
        peakMemoryBytes = report.peakMemoryBytes
        weightSHA256 = report.weightSHA256 ?? ""
        finishedAt = report.finishedAt
    }
}

extension RunFigures {
    enum CodingKeys: String, CodingKey {
        case name, runID = "run_id", experimentSHA256 = "experiment_sha256", seed, parameters, epochs
        case testAccuracy = "test_accuracy", testLoss = "test_loss", accuracy, loss
        case valAccuracy = "val_accuracy", valLoss = "val_loss", trainSeconds = "train_seconds"
        case secondsPerEpoch = "seconds_per_epoch", imagesPerSecond = "images_per_second"
        case peakMemoryBytes = "peak_memory_bytes", weightSHA256 = "weight_sha256", finishedAt = "finished_at"
    }
}

/// What report.json says of a run's status (nil: no report.json; a report from before statuses: finished).
public func runStatus(runDirectory directory: String) -> RunStatus? {
    struct Status: Decodable { let status: RunStatus? }
    let path = (directory as NSString).appendingPathComponent("report.json")
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return (try? JSONDecoder().decode(Status.self, from: data))?.status ?? .finished
}

/// The run folders of one experiment name (results/<name>/*), found by experiment hash.
public struct RunFolders {
    public struct Finished: Sendable {
        public let directory: String
        public let figures: RunFigures
    }

    /// A run that stopped because its loss or parameters were not finite.
    public struct Diverged: Sendable {
        public let directory: String
        public let error: String
    }

    public private(set) var finished: [String: Finished] = [:]
    /// Hash → the newest diverged run (run again, it would diverge at the same step).
    public private(set) var diverged: [String: Diverged] = [:]
    /// Hash → run folders with a checkpoint whose report.json is missing or not finished (newest
    /// checkpoint first).
    public private(set) var interrupted: [String: [String]] = [:]
    /// Every finished run read, by folder: a later look at the same root reads only new reports.
    private var reports: [String: RunFigures] = [:]

    /// Reads every run folder under `root` (the reports of finished runs that `earlier` has read
    /// are taken from it). A folder that is being written (no report, no checkpoint yet) or
    /// unreadable is passed over.
    public init(root: String, earlier: RunFolders? = nil) {
        let fm = FileManager.default
        var unfinished: [(hash: String, directory: String, modified: Date)] = []
        for name in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() where name != "latest" {
            let directory = (root as NSString).appendingPathComponent(name)
            let status = runStatus(runDirectory: directory)
            if status == .finished {
                guard let figures = earlier?.reports[directory] ?? (try? RunFigures.read(runDirectory: directory)) else { continue }
                reports[directory] = figures
                // The newest finished run of a hash wins (run ids are UTC times, so they sort).
                if let known = finished[figures.experimentSHA256], known.figures.finishedAt > figures.finishedAt { continue }
                finished[figures.experimentSHA256] = Finished(directory: directory, figures: figures)
            } else if status == .diverged {
                guard let report = try? RunReport.read(runDirectory: directory) else { continue }
                diverged[report.experimentSHA256] = Diverged(directory: directory, error: report.error ?? "diverged")
            } else if let newest = CheckpointFolder(run: directory).newest(),
                      let checkpoint = try? CheckpointFile<RunCheckpoint>(path: newest) {
                let modified = (try? fm.attributesOfItem(atPath: newest))?[.modificationDate] as? Date ?? .distantPast
                unfinished.append((checkpoint.header.experiment.sha256, directory, modified))
            }
        }
        for run in unfinished.sorted(by: { $0.modified > $1.modified }) {
            interrupted[run.hash, default: []].append(run.directory)
        }
    }
}
