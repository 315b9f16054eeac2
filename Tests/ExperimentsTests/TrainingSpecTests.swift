// The experiment-file keys for schedules, early stopping, weight decay, kernel_regularizer,
// standardisation and augmentation: read with their defaults, written out in full by the resolved
// experiment (a fixed point), and carried through a real run into report.json and metrics.csv.
import Datasets
import Experiments
import Foundation
import NeuralNetwork
import Testing
import TestSupport
import Training

/// `base` with every new key set.
let everything = edit("activation: relu", "activation: relu\n      kernel_regularizer: {l2: 0.001}")
    .replacingOccurrences(of: "optimizer: adam", with: "optimizer: {type: sgd, momentum: 0.9, weight_decay: 0.0005}")
    + """
      validation_split: 0.1
      lr_schedule: {type: cosine, decay_steps: 1000, alpha: 0.05, warmup_epochs: 1}
      early_stopping: {monitor: val_accuracy, patience: 2, min_delta: 0.001, restore_best_weights: true}
    preprocess:
      standardize: true
      augment: {shift: 0.1, rotation: 10, zoom: 0.05}

    """

@Suite("Training and preprocessing keys")
struct TrainingSpecTests {
    @Test("defaults: constant rate, no early stopping, no decay, no penalty, plain pixels")
    func defaults() throws {
        let spec = try ExperimentSpec.parse(base, path: "d.yaml")
        #expect(spec.train.lrSchedule.schedule.name == "constant" && spec.train.lrSchedule.warmup.isNone)
        #expect(spec.train.earlyStopping == nil)
        #expect(!spec.preprocess.standardize && spec.preprocess.augment.isIdentity)
        let compiled = try spec.compile(maxBatch: 32)
        #expect(compiled.penalties.isEmpty)
        #expect((compiled.optimizer as? Adam)?.config.weightDecay == 0)

        // Every new key appears in the resolved experiment with its default.
        let yaml = try spec.resolvedText(compiled).yaml
        for line in ["  standardize: false", "  augment:\n    shift: 0.0\n    rotation: 0.0\n    zoom: 0.0",
                     "    weight_decay: 0.0", "    kernel_regularizer: null",
                     "  lr_schedule:\n    type: constant\n    warmup_steps: 0\n    warmup_epochs: 0",
                     "  early_stopping: null"] {
            #expect(yaml.contains(line), "resolved experiment lacks '\(line)':\n\(yaml)")
        }
    }

    @Test("every key set: read, built, and resolved to a fixed point")
    func everythingSet() throws {
        let spec = try ExperimentSpec.parse(everything, path: "e.yaml")
        let schedule = try #require(spec.train.lrSchedule.schedule as? CosineDecay)
        #expect(schedule.config.decaySteps == 1000 && schedule.config.alpha == 0.05)
        #expect(spec.train.lrSchedule.warmup == Warmup(epochs: 1))
        #expect(spec.train.earlyStopping == EarlyStopping.Config(monitor: .valAccuracy, patience: 2, minDelta: 0.001,
                                                                 restoreBestWeights: true))
        #expect(spec.preprocess.standardize)
        #expect(spec.preprocess.augment == Augmentation(shift: 0.1, rotation: 10, zoom: 0.05))
        let compiled = try spec.compile(maxBatch: 32)
        #expect(compiled.penalties == [ParameterPenalty(layer: "dense", regularizer: .l2(0.001))])
        let sgd = try #require(compiled.optimizer as? SGD)
        #expect(sgd.config.weightDecay == 0.0005 && sgd.config.momentum == 0.9)

        let first = try spec.resolvedText(compiled)
        for line in ["    kernel_regularizer:\n      l2: 0.001", "    weight_decay: 0.0005",
                     "    type: cosine\n    decay_steps: 1000\n    alpha: 0.05\n    warmup_steps: 0\n    warmup_epochs: 1",
                     "    monitor: val_accuracy\n    patience: 2\n    min_delta: 0.001\n    mode: auto\n    baseline: null\n"
                         + "    restore_best_weights: true\n    start_from_epoch: 0",
                     "  standardize: true", "    rotation: 10.0"] {
            #expect(first.yaml.contains(line), "resolved experiment lacks '\(line)':\n\(first.yaml)")
        }
        let again = try ExperimentSpec.parse(first.yaml, path: "results/e/run/experiment.yaml")
        let second = try again.resolvedText(try again.compile(maxBatch: 32))
        #expect(second.yaml == first.yaml && second.sha256 == first.sha256)
    }

    @Test("short forms: `lr_schedule: constant`, `kernel_regularizer: l2`, `early_stopping: {}`")
    func shortForms() throws {
        let yaml = edit("activation: relu", "activation: relu\n      kernel_regularizer: l2")
            + "  validation_split: 0.2\n  lr_schedule: constant\n  early_stopping: {}\n"
        let spec = try ExperimentSpec.parse(yaml, path: "s.yaml")
        #expect(spec.train.lrSchedule.schedule.name == "constant")
        #expect(spec.train.earlyStopping == EarlyStopping.Config())
        #expect(try spec.compile(maxBatch: 32).penalties == [ParameterPenalty(layer: "dense", regularizer: .l2(0.01))])
        // A warmup alone.
        let warm = try ExperimentSpec.parse(base + "  lr_schedule: {type: warmup, warmup_steps: 100}\n", path: "w.yaml")
        #expect(warm.train.lrSchedule.schedule.name == "warmup" && warm.train.lrSchedule.warmup == Warmup(steps: 100))
    }

    @Test("each new value changes the experiment's hash")
    func hashes() throws {
        func hash(_ yaml: String) throws -> String {
            let spec = try ExperimentSpec.parse(yaml, path: "h.yaml")
            return try spec.resolvedText(try spec.compile(maxBatch: 32)).sha256
        }
        let reference = try hash(everything)
        let variants = try [
            everything.replacingOccurrences(of: "alpha: 0.05", with: "alpha: 0.06"),
            everything.replacingOccurrences(of: "warmup_epochs: 1", with: "warmup_epochs: 2"),
            everything.replacingOccurrences(of: "patience: 2", with: "patience: 3"),
            everything.replacingOccurrences(of: "restore_best_weights: true", with: "restore_best_weights: false"),
            everything.replacingOccurrences(of: "l2: 0.001", with: "l2: 0.002"),
            everything.replacingOccurrences(of: "weight_decay: 0.0005", with: "weight_decay: 0.0006"),
            everything.replacingOccurrences(of: "standardize: true", with: "standardize: false"),
            everything.replacingOccurrences(of: "zoom: 0.05", with: "zoom: 0.1"),
        ].map(hash)
        #expect(!variants.contains(reference))
        #expect(Set(variants).count == variants.count)
    }
}

@Suite("Runs with schedules, early stopping and standardisation", .serialized, .enabled(if: TestPaths.hasMNIST))
struct TrainingRunReportTests {
    func run(_ yaml: String) throws -> (report: [String: Any], csv: String, output: String) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write(yaml, to: "small.yaml")
        var options = RunOptions()
        options.dataDirectory = TestPaths.mnist
        options.resultsDirectory = directory("results")
        options.threads = 2
        let output = OutputBox()
        let outcome = try ExperimentRunner.run(file, options: options,
                                               console: Console(mode: .plain, write: { output.append($0) }))
        let data = try Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (report, try String(contentsOfFile: outcome.directory + "/metrics.csv", encoding: .utf8), output.text)
    }

    /// A small, fast model: 16 hidden units, batches of 256.
    let small = edit("units: 128", "units: 16").replacingOccurrences(of: "batch_size: 32", with: "batch_size: 256")

    @Test("a schedule, early stopping and standardisation show up in report.json, metrics.csv and the output")
    func everythingReported() throws {
        let yaml = small.replacingOccurrences(of: "epochs: 5", with: "epochs: 3") + """
              validation_split: 0.1
              lr_schedule: {type: step, step_size: 1, factor: 0.5}
              early_stopping: {monitor: loss, patience: 0, min_delta: 100, restore_best_weights: true}
            preprocess: {standardize: true}

            """
        let (report, csv, output) = try run(yaml)
        let epochs = try #require(report["epochs"] as? [[String: Any]])
        // min_delta 100 on the loss: nothing counts as an improvement after epoch 1, so it stops after epoch 2.
        #expect(epochs.count == 2)
        #expect(epochs.compactMap { $0["learning_rate"] as? Double } == [0.001, 0.0005])
        let stopping = try #require(report["early_stopping"] as? [String: Any])
        #expect(stopping["stopped_epoch"] as? Int == 2 && stopping["best_epoch"] as? Int == 1)
        #expect(stopping["monitor"] as? String == "loss" && stopping["mode"] as? String == "min")
        #expect(stopping["restored_best_weights"] as? Bool == true)
        let preprocessing = try #require(report["preprocessing"] as? [String: Any])
        let mean = try #require(preprocessing["mean"] as? Double), std = try #require(preprocessing["std"] as? Double)
        // The first 54,000 training images: close to the familiar 0.1307 and 0.3081.
        #expect(abs(mean - 0.1307) < 0.001 && abs(std - 0.3081) < 0.001, "\(mean) \(std)")
        #expect(preprocessing["standardize"] as? Bool == true)

        let rows = csv.split(separator: "\n")
        #expect(rows.first == "epoch,accuracy,loss,val_accuracy,val_loss,seconds,learning_rate")
        #expect(rows.dropFirst().map { $0.split(separator: ",").last.map(String.init) } == ["0.001", "0.0005"])
        #expect(output.contains("learning_rate: 1.0000e-03") && output.contains("learning_rate: 5.0000e-04"), "\(output)")
        #expect(output.contains("Epoch 2: early stopping"), "\(output)")
        #expect(output.contains("Restoring model weights from the end of the best epoch: 1."), "\(output)")
    }

    @Test("without a schedule metrics.csv keeps Keras CSVLogger's columns, and early_stopping is null")
    func plainRun() throws {
        let (report, csv, _) = try run(small.replacingOccurrences(of: "epochs: 5", with: "epochs: 1"))
        #expect(csv.split(separator: "\n").first == "epoch,accuracy,loss,val_accuracy,val_loss,seconds")
        #expect(report["early_stopping"] is NSNull)
        let epochs = try #require(report["epochs"] as? [[String: Any]])
        #expect(epochs.first?["learning_rate"] as? Double == 0.001)
        let preprocessing = try #require(report["preprocessing"] as? [String: Any])
        #expect(preprocessing["standardize"] as? Bool == false && preprocessing["mean"] is NSNull)
    }
}

final class OutputBox: @unchecked Sendable {
    private(set) var text = ""
    func append(_ s: String) { text += s }
}
