// How a run ends other than by finishing — interrupted (RunInterrupted, Signals.swift), diverged,
// failed — and what it has made by then, from which its reports are still written.
import Datasets
import Foundation
import Training

/// What a run has made so far: a run that stops early writes its reports from this.
struct RunSoFar {
    var data: RunData?
    var setup: TrainingSetup?
    var state = FitState()
    var restoredEpoch: Int?
    var resumes: [RunCheckpoint.Resume] = []
    /// The checkpoint to go on from (interrupted), or the last good one (diverged).
    var checkpoint: String?
}

/// Why training stopped before it finished.
enum TrainingStop {
    case interrupted(RunInterrupted)
    case diverged(RunDiverged)

    var status: RunStatus {
        switch self {
        case .interrupted: .interrupted
        case .diverged: .diverged
        }
    }

    var error: Error {
        switch self {
        case .interrupted(let e): e
        case .diverged(let e): e
        }
    }
}

/// A run stopped because its training loss or a parameter was not finite (exit status 1). The
/// message names the epoch, the step, the value and the last checkpoint with finite weights.
public struct RunDiverged: Error, CustomStringConvertible, Sendable {
    public let record: DivergenceRecord
    public let runDirectory: String

    public var description: String {
        "training diverged at epoch \(record.epoch), step \(record.step): "
            + (record.quantity == "parameter" ? "a parameter is not finite\n" : "the \(record.quantity) is \(record.value)\n")
            + (record.lastGoodCheckpoint.map {
                "Last good checkpoint: \($0) (`runner evaluate \($0)`; to go on from it with a lower learning rate, "
                    + "change the experiment and `runner resume \(runDirectory) --force`)"
            } ?? "No checkpoint with finite weights was written.")
    }
}

extension Divergence {
    /// `value` as report.json and messages write it.
    static func text(_ value: Double) -> String { value.isNaN ? "nan" : value > 0 ? "inf" : "-inf" }
}

/// The text report.json gives a failed run's error, with where to point the runner at data when
/// the data was the problem.
func failureText(_ error: Error) -> String {
    var text = "\(error)"
    if text.hasPrefix("error: ") { text.removeFirst("error: ".count) }
    if error is DatasetError {
        text += "\nhint: point the runner at a folder that holds the dataset's files with --data-dir DIR, "
            + "or set RUNNER_DATA_DIR=DIR"
    }
    return text
}
