// `runner runs`: one line per run folder under a results folder, from report.json or — for a run
// without one — its lock and the header of its newest checkpoint (never the tensors), so a
// thousand runs list in well under a second. A run's status:
//
//     report.json  "status": finished | interrupted | diverged | failed ("finished" when absent)
//     no report    running      another process holds the lock on <run>/.lock (RunLock.swift)
//                  interrupted  it has a checkpoint to resume from
//                  failed       neither
import Foundation
import NeuralNetwork
import Training

/// One run folder at a glance; absent figures are nil (an interrupted run has no test figures).
public struct RunEntry: Sendable, Encodable {
    public enum Status: String, Sendable, Encodable, CaseIterable {
        case finished, interrupted, diverged, failed, running
    }

    public var name: String
    public var runID: String
    public var directory: String
    public var status: Status
    public var error: String?
    /// Epochs trained, and those the experiment asked for.
    public var epochs: Int?
    public var epochsAsked: Int?
    public var testAccuracy: Double?
    public var testLoss: Double?
    /// The last epoch's figures.
    public var accuracy: Double?
    public var loss: Double?
    public var valAccuracy: Double?
    public var valLoss: Double?
    /// Training time, every epoch of every process of the run (report.json's timing.train_seconds).
    public var seconds: Double?
    public var secondsPerEpoch: Double?
    public var imagesPerSecond: Double?
    public var parameters: Int?
    public var peakMemoryBytes: Int?
    public var weightSHA256: String?
    public var experimentSHA256: String?
    public var startedAt: String?

    enum CodingKeys: String, CodingKey {
        case name, runID = "run_id", directory, status, error, epochs, epochsAsked = "epochs_asked"
        case testAccuracy = "test_accuracy", testLoss = "test_loss", accuracy, loss, valAccuracy = "val_accuracy"
        case valLoss = "val_loss", seconds, secondsPerEpoch = "seconds_per_epoch", imagesPerSecond = "images_per_second"
        case parameters, peakMemoryBytes = "peak_memory_bytes", weightSHA256 = "weight_sha256"
        case experimentSHA256 = "experiment_sha256", startedAt = "started_at"
    }

    /// The figure an `expect:`-style condition is about (nil: the run has none).
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
        case .parameters: parameters.map(Double.init)
        }
    }
}

/// The orders `runner runs --sort` knows.
public enum RunSort: String, CaseIterable, Sendable {
    case started, name, status
    /// Best first.
    case testAccuracy = "test_accuracy", testLoss = "test_loss"
    /// Shortest, smallest first.
    case seconds, memory

    func ordered(_ a: RunEntry, _ b: RunEntry) -> Bool {
        func by<T: Comparable>(_ x: T?, _ y: T?, descending: Bool = false) -> Bool? {
            switch (x, y) {
            case let (x?, y?) where x != y: return descending ? x > y : x < y
            case (.some, nil): return true   // runs without the figure last
            case (nil, .some): return false
            default: return nil
            }
        }
        let decided: Bool? = switch self {
        case .started: by(a.startedAt, b.startedAt)
        case .name: by(a.name, b.name)
        case .status: by(RunEntry.Status.allCases.firstIndex(of: a.status), RunEntry.Status.allCases.firstIndex(of: b.status))
        case .testAccuracy: by(a.testAccuracy, b.testAccuracy, descending: true)
        case .testLoss: by(a.testLoss, b.testLoss)
        case .seconds: by(a.seconds, b.seconds)
        case .memory: by(a.peakMemoryBytes, b.peakMemoryBytes)
        }
        return decided ?? (by(a.startedAt, b.startedAt) ?? (a.directory < b.directory))
    }
}

public enum RunListing {
    /// Every run folder in `root`: `root/<name>/<run>` (a results folder) or `root/<run>` (one
    /// experiment's folder). Symlinks (`latest`) are passed over.
    public static func scan(_ root: String) -> [RunEntry] {
        var entries: [RunEntry] = []
        for child in subdirectories(root) {
            if isRunFolder(child) {
                entries.append(entry(child))
            } else {
                for run in subdirectories(child) where isRunFolder(run) { entries.append(entry(run)) }
            }
        }
        return entries
    }

    static func subdirectories(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().compactMap { name in
            let full = (path as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
            return full
        }
    }

    /// A folder a run writes: its experiment, report, checkpoints or lock.
    static func isRunFolder(_ path: String) -> Bool {
        ["experiment.yaml", "report.json", "checkpoints", ".lock"].contains {
            access((path as NSString).appendingPathComponent($0), F_OK) == 0
        }
    }

    /// The run in `directory`, from its report, else its lock and newest checkpoint.
    static func entry(_ directory: String) -> RunEntry {
        let runID = (directory as NSString).lastPathComponent
        var entry = RunEntry(name: ((directory as NSString).deletingLastPathComponent as NSString).lastPathComponent,
                             runID: runID, directory: directory, status: .failed, startedAt: startTime(runID: runID))
        let report = (directory as NSString).appendingPathComponent("report.json")
        if let data = FileManager.default.contents(atPath: report) {
            guard let stored = try? JSONDecoder().decode(StoredRun.self, from: data) else {
                entry.error = "report.json cannot be read"
                return entry
            }
            stored.fill(&entry)
            return entry
        }
        let newest = CheckpointFolder(run: directory).newest()
        entry.status = RunLock.isHeld(directory) ? .running : newest != nil ? .interrupted : .failed
        if let newest, let json = try? CheckpointFile<RunCheckpoint>.headerJSON(path: newest),
           let header = try? JSONDecoder().decode(CheckpointGlance.self, from: json) {
            entry.epochs = header.training.epoch
            entry.experimentSHA256 = header.experiment.sha256
            entry.read(experiment: header.experiment.resolvedYAML)
        } else if let text = try? String(contentsOfFile: (directory as NSString).appendingPathComponent("experiment.yaml"),
                                         encoding: .utf8) {
            entry.read(experiment: text)
        }
        return entry
    }

    /// "20261206-180146[-2]" → "2026-12-06T18:01:46Z" (run ids are UTC start times).
    static func startTime(runID: String) -> String? {
        let digits = Array(runID.prefix(15))
        guard digits.count == 15, digits[8] == "-", digits.enumerated().allSatisfy({ $0.offset == 8 || $0.element.isNumber })
        else { return nil }
        let s = String(digits)
        func part(_ from: Int, _ count: Int) -> Substring { s.dropFirst(from).prefix(count) }
        return "\(part(0, 4))-\(part(4, 2))-\(part(6, 2))T\(part(9, 2)):\(part(11, 2)):\(part(13, 2))Z"
    }
}

extension RunEntry {
    /// The name and the epochs asked for, from a resolved experiment (the runner writes `name:` on
    /// the first line and `epochs:` first under `train:`): read line by line, not parsed.
    mutating func read(experiment text: String) {
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if !line.hasPrefix(" ") {
                section = String(line.prefix { $0 != ":" })
                if line.hasPrefix("name: ") { name = String(line.dropFirst(6)) }
            } else if section == "train", line.hasPrefix("  epochs: ") {
                epochsAsked = Int(line.dropFirst(10))
                return
            }
        }
    }
}

/// What `runner runs` reads of report.json; every key optional, so that reports of every version
/// and status (a failed run's has no test figures) are read.
private struct StoredRun: Decodable {
    struct Epoch: Decodable { let accuracy, loss, val_accuracy, val_loss: Double? }
    struct Test: Decodable { let accuracy, loss: Double? }
    struct Timing: Decodable { let train_seconds, seconds_per_epoch_median, images_per_second: Double? }
    struct Configuration: Decodable {
        struct Train: Decodable { let epochs: Int? }
        let train: Train?
    }
    let name, run_id, status, experiment_sha256, weight_sha256, started_at: String?
    let error: String?
    let parameters, peak_memory_bytes: Int?
    let epochs: [Epoch]?
    let test: Test?
    let timing: Timing?
    let configuration: Configuration?

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        func value<T: Decodable>(_ key: String) -> T? { try? c.decodeIfPresent(T.self, forKey: Key(key)) }
        name = value("name"); run_id = value("run_id"); status = value("status"); error = value("error")
        experiment_sha256 = value("experiment_sha256"); weight_sha256 = value("weight_sha256")
        started_at = value("started_at"); parameters = value("parameters"); peak_memory_bytes = value("peak_memory_bytes")
        epochs = value("epochs"); test = value("test"); timing = value("timing"); configuration = value("configuration")
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func fill(_ entry: inout RunEntry) {
        entry.name = name ?? entry.name
        entry.runID = run_id ?? entry.runID
        entry.status = status.flatMap(RunEntry.Status.init(rawValue:)) ?? (status == nil ? .finished : .failed)
        entry.error = error
        entry.epochs = epochs?.count
        entry.epochsAsked = configuration?.train?.epochs
        entry.testAccuracy = test?.accuracy
        entry.testLoss = test?.loss
        entry.accuracy = epochs?.last?.accuracy
        entry.loss = epochs?.last?.loss
        entry.valAccuracy = epochs?.last?.val_accuracy
        entry.valLoss = epochs?.last?.val_loss
        entry.seconds = timing?.train_seconds
        entry.secondsPerEpoch = timing?.seconds_per_epoch_median
        entry.imagesPerSecond = timing?.images_per_second
        entry.parameters = parameters
        entry.peakMemoryBytes = peak_memory_bytes
        entry.weightSHA256 = weight_sha256
        entry.experimentSHA256 = experiment_sha256
        entry.startedAt = started_at ?? entry.startedAt
    }
}

/// What `runner runs` reads of a checkpoint header.
private struct CheckpointGlance: Decodable {
    struct Experiment: Decodable {
        let sha256: String
        let resolvedYAML: String
        enum CodingKeys: String, CodingKey { case sha256, resolvedYAML = "resolved_yaml" }
    }
    struct Training: Decodable { let epoch: Int }
    let experiment: Experiment
    let training: Training
}
