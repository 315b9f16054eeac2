// When the dataset cannot be had, the error says how to point the runner at files the user has.
import Datasets

/// The dataset was found nowhere and could not be downloaded, or the data directory given does
/// not exist: the locator's error with a hint (exit status 1).
public struct DataUnavailable: Error, CustomStringConvertible, Sendable {
    public let underlying: DatasetError
    public let hint: String
    public var description: String { "\(underlying)\nhint: \(hint)" }
}

extension DatasetLocator {
    /// `load(name)`, with the errors of a dataset that is nowhere explained.
    func loadExplaining(_ name: String) throws -> Dataset {
        do {
            return try load(name)
        } catch let error {
            let pointAt = "point at the folder holding the four IDX files (.gz or not) with --data-dir DIR, "
                + "RUNNER_DATA_DIR=DIR or data.directory in the experiment file"
            switch error {
            case .notFound, .downloadFailed:
                let searched = ([explicitDirectory].compactMap { $0 }
                    + [cacheDirectory + "/datasets/" + name, systemRoot + "/" + name]).joined(separator: ", ")
                throw DataUnavailable(underlying: error, hint: "\(name) is not on disk (looked in \(searched)); \(pointAt)")
            case .directoryNotFound:
                throw DataUnavailable(underlying: error, hint: "the data directory comes from --data-dir, else "
                                      + "RUNNER_DATA_DIR, else data.directory in the experiment file; " + pointAt)
            default:
                throw error
            }
        }
    }
}
