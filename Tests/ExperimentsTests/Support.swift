// The Experiments tests' fixture: a small valid experiment file whose line numbers the error
// tests refer to, and ways to vary it.
import Foundation
import TestSupport

/// A valid experiment: the seed notebook's MLP. ExperimentYAML.mlp lists its line numbers, which
/// the error tests refer to.
let base = ExperimentYAML.mlp()

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
