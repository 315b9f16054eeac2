// Errors in the keys the reproductions added last — train.reduce_on_plateau, train.max_steps,
// `published:` and the pytorch_default initializer — each pinned to the token it is about, with a
// did-you-mean hint for a misspelling; the keys resolved to a fixed point, and `published:` kept
// out of the experiment's hash.
import Experiments
import Foundation
import NeuralNetwork
import Testing
import Training

let plateauKeyErrors: [BadFile] = [
    bad("reduce_on_plateau key misspelt", base + "  reduce_on_plateau: {monitor: loss, patiance: 3}\n", at: "patiance",
        message: ["unknown key 'patiance'"], hint: ["did you mean 'patience'", "cooldown", "min_lr"],
        keyPath: "train.reduce_on_plateau"),
    bad("reduce_on_plateau min_lr misspelt", base + "  reduce_on_plateau: {monitor: loss, minlr: 0.0001}\n",
        at: "minlr", message: ["unknown key 'minlr'"], hint: ["did you mean 'min_lr'"]),
    bad("reduce_on_plateau factor 1", base + "  reduce_on_plateau: {monitor: loss, factor: 1}\n", at: "1}",
        message: ["'factor' must be in (0, 1) (Keras refuses a factor >= 1), found 1"],
        keyPath: "train.reduce_on_plateau.factor"),
    bad("reduce_on_plateau cooldown -1", base + "  reduce_on_plateau: {monitor: loss, cooldown: -1}\n", at: "-1",
        message: ["'cooldown' must be a non-negative integer, found -1"]),
    bad("reduce_on_plateau min_lr negative", base + "  reduce_on_plateau: {monitor: loss, min_lr: -0.1}\n", at: "-0.1",
        message: ["'min_lr' must be a non-negative number"]),
    bad("reduce_on_plateau monitor misspelt", base + "  reduce_on_plateau: {monitor: val_acuracy}\n", at: "val_acuracy",
        message: ["unknown monitor 'val_acuracy'"], hint: ["did you mean 'val_accuracy'"]),
    bad("reduce_on_plateau mode misspelt", base + "  reduce_on_plateau: {monitor: loss, mode: mx}\n", at: "mx",
        message: ["unknown mode 'mx'"], hint: ["did you mean 'max'"]),
    bad("reduce_on_plateau on val_loss without a validation split", base + "  reduce_on_plateau: {patience: 2}\n",
        at: "{patience", message: ["reduce_on_plateau monitors 'val_loss'", "no validation split"],
        hint: ["validation_split"], keyPath: "train.reduce_on_plateau"),
    bad("reduce_on_plateau misspelt in train", base + "  reduce_on_plateu: {monitor: loss}\n", at: "reduce_on_plateu",
        message: ["unknown key 'reduce_on_plateu'"], hint: ["did you mean 'reduce_on_plateau'"], keyPath: "train"),
    bad("reduce_on_plateau as a schedule type", base + "  lr_schedule: {type: reduce_on_plateau}\n", at: "reduce_on_plateau",
        message: ["reduce_on_plateau is not a schedule type: it is train.reduce_on_plateau"],
        hint: ["under train:"], keyPath: "train.lr_schedule.type"),
    bad("max_steps 0", base + "  max_steps: 0\n", at: "max_steps: ", behind: true, message: ["'max_steps' must be a positive number of steps, found 0"],
        keyPath: "train.max_steps"),
    bad("max_steps misspelt", base + "  max_step: 10000\n", at: "max_step", message: ["unknown key 'max_step'"],
        hint: ["did you mean 'max_steps'"]),
    bad("max_steps not a number", base + "  max_steps: many\n", at: "many", message: ["expected an integer, found string 'many'"],
        keyPath: "train.max_steps"),
    bad("published key misspelt", base + "published: {test_acurracy: 0.99, source: x}\n", at: "test_acurracy",
        message: ["unknown key 'test_acurracy'"], hint: ["did you mean 'test_accuracy'"], keyPath: "published"),
    bad("published source misspelt", base + "published: {test_accuracy: 0.99, sorce: x}\n", at: "sorce",
        message: ["unknown key 'sorce'"], hint: ["did you mean 'source'"]),
    bad("published without a source", base + "published: {test_accuracy: 0.99}\n", at: "{test",
        message: ["missing required key 'source'"]),
    bad("published without a figure", base + "published: {source: somewhere}\n", at: "{source",
        message: ["'published' names no figure"], hint: ["test_accuracy"]),
    bad("published accuracy 99.25 (a percentage without %)", base + "published: {test_accuracy: 99.25, source: x}\n",
        at: "99.25", message: ["'test_accuracy' must be a fraction in [0, 1] or a percentage"]),
    bad("published accuracy 101%", base + "published: {test_accuracy: 101%, source: x}\n", at: "101%",
        message: ["found '101%'"]),
    bad("published misspelt at the top", base + "publshed: {test_accuracy: 0.99, source: x}\n", at: "publshed",
        message: ["unknown key 'publshed'"], hint: ["did you mean 'published'"]),
    bad("pytorch_default misspelt", withHidden("kernel_initializer: pytorch_defualt"), at: "pytorch_defualt",
        message: ["unknown kernel_initializer 'pytorch_defualt'"], hint: ["did you mean 'pytorch_default'"], atCompile: true),
]

@Suite("Experiment file: reduce_on_plateau, max_steps, published")
struct PlateauKeyTests {
    @Test("errors", arguments: plateauKeyErrors) func errors(_ c: BadFile) { ErrorTests().check(c) }

    @Test("every key set: read, resolved to a fixed point; unset, they resolve to null")
    func resolved() throws {
        let yaml = withHidden("kernel_initializer: pytorch_default\n      bias_initializer: pytorch_default")
            .replacingOccurrences(of: "batch_size: 32\n", with: "batch_size: 32\n  validation_split: 0.1\n")
            + "  max_steps: 10000\n  reduce_on_plateau: {factor: 0.5, patience: 3, cooldown: 1, min_lr: 0.00001}\n"
            + "published: {test_accuracy: 98.40%, source: \"keras-team/keras 2.2.4, examples/mnist_mlp.py\"}\n"
        let spec = try ExperimentSpec.parse(yaml, path: "r.yaml")
        #expect(spec.train.maxSteps == 10000)
        #expect(spec.train.reduceOnPlateau == ReduceLROnPlateau.Config(factor: 0.5, patience: 3, cooldown: 1, minLR: 0.00001))
        #expect(spec.published == Published(testAccuracy: 0.984, source: "keras-team/keras 2.2.4, examples/mnist_mlp.py"))
        let first = try spec.resolvedText(try spec.compile(maxBatch: 32))
        for line in ["  max_steps: 10000", "  reduce_on_plateau:\n    monitor: val_loss\n    factor: 0.5\n    patience: 3\n"
                     + "    mode: auto\n    min_delta: 0.0001\n    cooldown: 1\n    min_lr: 1.0e-05",
                     "    kernel_initializer: pytorch_default", "    bias_initializer: pytorch_default",
                     "published:\n  test_accuracy: 0.984\n  source: keras-team/keras 2.2.4, examples/mnist_mlp.py"] {
            #expect(first.yaml.contains(line), "resolved experiment lacks '\(line)':\n\(first.yaml)")
        }
        let again = try ExperimentSpec.parse(first.yaml, path: "results/r/run/experiment.yaml")
        let second = try again.resolvedText(try again.compile(maxBatch: 32))
        #expect(second.yaml == first.yaml && second.sha256 == first.sha256)

        let plain = try ExperimentSpec.parse(base, path: "d.yaml")
        let resolved = try plain.resolvedText(try plain.compile(maxBatch: 32)).yaml
        #expect(resolved.contains("  max_steps: null") && resolved.contains("  reduce_on_plateau: null"))
        #expect(!resolved.contains("published"))
    }

    @Test("published: not part of the hash; 0.9925 and \"99.25%\" are the same figure")
    func publishedHash() throws {
        func hash(_ yaml: String) throws -> String {
            let spec = try ExperimentSpec.parse(yaml, path: "p.yaml")
            return try spec.resolvedText(try spec.compile(maxBatch: 32)).sha256
        }
        let plain = try hash(base)
        #expect(try hash(base + "published: {test_accuracy: 0.9925, source: a}\n") == plain)
        #expect(try hash(base + "published: {test_accuracy: 0.5, test_loss: 0.03, source: b}\n"
                         + "expect: {test_accuracy: \">= 0.5\"}\n") == plain)
        let percent = try ExperimentSpec.parse(base + "published: {test_accuracy: \"99.25%\", source: a}\n", path: "p.yaml")
        #expect(percent.published?.testAccuracy == 0.9925)
        // The training keys are in the hash.
        #expect(try hash(base + "  max_steps: 100\n") != plain)
        #expect(try hash(base + "  reduce_on_plateau: {monitor: loss}\n") != plain)
    }
}
