// Shared fixtures: a small valid experiment file whose line numbers the error tests refer to,
// ways to vary it, and the package's own experiments/ folder.
import Experiments
import Foundation
import Testing

/// A valid experiment (the seed notebook's MLP in short forms). Line numbers, for the tests:
///
///      1 model:                             9       units: 10
///      2   input_shape: [28, 28]           10       activation: softmax
///      3   layers:                         11 compile:
///      4     - type: flatten               12   optimizer: adam
///      5     - type: dense                 13   loss: categorical_crossentropy
///      6       units: 128                  14 train:
///      7       activation: relu            15   epochs: 5
///      8     - type: dense                 16   batch_size: 32
///
/// Text appended to it starts on line 17 (indented, it continues `train`).
let base = """
    model:
      input_shape: [28, 28]
      layers:
        - type: flatten
        - type: dense
          units: 128
          activation: relu
        - type: dense
          units: 10
          activation: softmax
    compile:
      optimizer: adam
      loss: categorical_crossentropy
    train:
      epochs: 5
      batch_size: 32

    """

/// Lines 3–10 of `base`.
let layersBlock = """
      layers:
        - type: flatten
        - type: dense
          units: 128
          activation: relu
        - type: dense
          units: 10
          activation: softmax

    """

/// `base` with the first occurrence of `old` replaced by `new` (`old` must occur).
func edit(_ old: String, _ new: String) -> String {
    guard let range = base.range(of: old) else { preconditionFailure("'\(old)' is not in the base file") }
    return base.replacingCharacters(in: range, with: new)
}

/// `base` with its train section (lines 14–16) replaced by `section`, which starts on line 14.
func replacingTrain(with section: String) -> String {
    edit("train:\n  epochs: 5\n  batch_size: 32\n", section)
}

/// The ExperimentError `body` throws, or nil if it returns; any other error is a test failure.
func caught(_ body: () throws -> Void, sourceLocation: Testing.SourceLocation = #_sourceLocation)
    -> ExperimentError? {
    do {
        try body()
        return nil
    } catch let error as ExperimentError {
        return error
    } catch {
        Issue.record("expected an ExperimentError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

enum Package {
    /// The package root, three levels above this file (Tests/ExperimentsTests/Support.swift).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func experiment(_ name: String) throws -> (text: String, path: String) {
        let url = root.appendingPathComponent("experiments/\(name)")
        return (try String(contentsOf: url, encoding: .utf8), url.path)
    }
}
