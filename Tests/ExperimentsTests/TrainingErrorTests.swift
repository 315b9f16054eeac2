// Errors in the experiment-file keys for schedules, early stopping, standardisation, augmentation,
// weight decay and kernel_regularizer, each pinned to its line and column. Appended text starts
// on line 17 of `base` (see Support.swift); indented, it continues the train section.
import Experiments
import Testing

let scheduleErrors: [BadFile] = [
    BadFile(label: "unknown schedule type", yaml: base + "  lr_schedule: {type: cosin}\n", line: 17, column: 23,
            message: ["unknown learning-rate schedule 'cosin'"],
            hint: ["did you mean 'cosine'", "constant, cosine, exponential, inv, multistep, one_cycle, piecewise_constant, poly, step, warmup"],
            keyPath: "train.lr_schedule.type"),
    BadFile(label: "unknown schedule type (short form)", yaml: base + "  lr_schedule: stepp\n", line: 17, column: 16,
            message: ["unknown learning-rate schedule 'stepp'"], hint: ["did you mean 'step'"],
            keyPath: "train.lr_schedule"),
    BadFile(label: "cosine without decay_steps", yaml: base + "  lr_schedule: {type: cosine}\n", line: 17, column: 16,
            message: ["missing required key 'decay_steps'"]),
    BadFile(label: "exponential (short form) needs parameters", yaml: base + "  lr_schedule: exponential\n",
            line: 17, column: 16, message: ["missing required key 'decay_steps'"]),
    BadFile(label: "decay_steps: 0",
            yaml: base + "  lr_schedule: {type: exponential, decay_steps: 0, decay_rate: 0.5}\n", line: 17, column: 49,
            message: ["'decay_steps' must be a positive number of steps, found 0"],
            keyPath: "train.lr_schedule.decay_steps"),
    BadFile(label: "decay_rate: 0",
            yaml: base + "  lr_schedule: {type: exponential, decay_steps: 10, decay_rate: 0}\n", line: 17, column: 65,
            message: ["'decay_rate' must be a positive number"]),
    BadFile(label: "step factor 1.5", yaml: base + "  lr_schedule: {type: step, step_size: 2, factor: 1.5}\n",
            line: 17, column: 51, message: ["'factor' must be in (0, 1], found 1.5"]),
    BadFile(label: "step_size: 0", yaml: base + "  lr_schedule: {type: step, step_size: 0}\n", line: 17, column: 40,
            message: ["'step_size' must be a positive number of epochs, found 0"]),
    BadFile(label: "cosine alpha 2", yaml: base + "  lr_schedule: {type: cosine, decay_steps: 100, alpha: 2}\n",
            line: 17, column: 56, message: ["'alpha' must be in [0, 1]"]),
    BadFile(label: "warmup_steps and warmup_epochs together",
            yaml: base + "  lr_schedule: {type: cosine, decay_steps: 10, warmup_steps: 5, warmup_epochs: 1}\n",
            line: 17, column: 80, message: ["'warmup_steps' or 'warmup_epochs', not both"],
            keyPath: "train.lr_schedule.warmup_epochs"),
    BadFile(label: "warmup without a length", yaml: base + "  lr_schedule: warmup\n", line: 17, column: 16,
            message: ["a 'warmup' schedule needs a warmup length"], hint: ["warmup_steps", "warmup_epochs"]),
    BadFile(label: "negative warmup_steps", yaml: base + "  lr_schedule: {type: warmup, warmup_steps: -3}\n",
            line: 17, column: 45, message: ["'warmup_steps' must be a non-negative integer, found -3"]),
    BadFile(label: "misspelt schedule parameter",
            yaml: base + "  lr_schedule: {type: step, step_size: 2, factr: 0.5}\n", line: 17, column: 43,
            message: ["unknown key 'factr'"], hint: ["did you mean 'factor'", "warmup_epochs"],
            keyPath: "train.lr_schedule"),
]

let earlyStoppingErrors: [BadFile] = [
    BadFile(label: "val_loss (the default monitor) without a validation split",
            yaml: base + "  early_stopping: {patience: 2}\n", line: 17, column: 19,
            message: ["early stopping monitors 'val_loss'", "no validation split"],
            hint: ["validation_split", "monitor loss or accuracy"], keyPath: "train.early_stopping"),
    BadFile(label: "val_accuracy without a validation split",
            yaml: base + "  early_stopping: {monitor: val_accuracy}\n", line: 17, column: 29,
            message: ["early stopping monitors 'val_accuracy'"], keyPath: "train.early_stopping.monitor"),
    BadFile(label: "unknown monitor", yaml: base + "  early_stopping: {monitor: val_los}\n", line: 17, column: 29,
            message: ["unknown monitor 'val_los'"], hint: ["did you mean 'val_loss'", "val_accuracy"]),
    BadFile(label: "unknown mode", yaml: base + "  early_stopping: {monitor: loss, mode: mn}\n", line: 17, column: 41,
            message: ["unknown mode 'mn'"], hint: ["did you mean 'min'", "auto"]),
    BadFile(label: "patience: -1", yaml: base + "  early_stopping: {monitor: loss, patience: -1}\n", line: 17,
            column: 45, message: ["'patience' must be a non-negative integer, found -1"]),
    BadFile(label: "min_delta: -0.1", yaml: base + "  early_stopping: {monitor: loss, min_delta: -0.1}\n", line: 17,
            column: 46, message: ["'min_delta' must be a non-negative number"]),
    BadFile(label: "start_from_epoch: -2", yaml: base + "  early_stopping: {monitor: loss, start_from_epoch: -2}\n",
            line: 17, column: 53, message: ["'start_from_epoch' must be a non-negative integer, found -2"]),
    BadFile(label: "misspelt key", yaml: base + "  early_stopping: {monitor: loss, restore_best_weight: true}\n",
            line: 17, column: 35, message: ["unknown key 'restore_best_weight'"],
            hint: ["did you mean 'restore_best_weights'"], keyPath: "train.early_stopping"),
    BadFile(label: "early_stopping: 3 is not a mapping", yaml: base + "  early_stopping: 3\n", line: 17, column: 19,
            message: ["expected a mapping", "found integer 3"]),
]

let preprocessErrors: [BadFile] = [
    BadFile(label: "standardize: 2", yaml: base + "preprocess: {standardize: 2}\n", line: 17, column: 27,
            message: ["expected true or false", "found integer 2"], keyPath: "preprocess.standardize"),
    BadFile(label: "augment shift 1.5", yaml: base + "preprocess:\n  augment: {shift: 1.5, rotation: 10}\n",
            line: 18, column: 20, message: ["'shift' must be a fraction of the image size in [0, 1], found 1.5"],
            keyPath: "preprocess.augment.shift"),
    BadFile(label: "augment rotation 200", yaml: base + "preprocess:\n  augment: {rotation: 200}\n", line: 18,
            column: 23, message: ["'rotation' must be an angle in degrees in [0, 180]"]),
    BadFile(label: "augment zoom 1.0", yaml: base + "preprocess:\n  augment: {zoom: 1.0}\n", line: 18, column: 19,
            message: ["'zoom' must be in [0, 1)"]),
    BadFile(label: "augment key misspelt", yaml: base + "preprocess:\n  augment: {shift: 0.1, rotaion: 10}\n",
            line: 18, column: 25, message: ["unknown key 'rotaion'"], hint: ["did you mean 'rotation'", "zoom"]),
    BadFile(label: "augment: 0.1 is not a mapping", yaml: base + "preprocess:\n  augment: 0.1\n", line: 18, column: 12,
            message: ["expected a mapping", "found number 0.1"]),
]

let regularizationErrors: [BadFile] = [
    BadFile(label: "negative l2",
            yaml: edit("activation: relu", "activation: relu\n      kernel_regularizer: {l2: -1}"),
            line: 8, column: 32, message: ["'l2' must be a non-negative number"],
            keyPath: "model.layers[1].kernel_regularizer.l2", atCompile: true),
    BadFile(label: "regularizer l1", yaml: edit("activation: relu", "activation: relu\n      kernel_regularizer: l1"),
            line: 8, column: 27, message: ["unknown regularizer 'l1'"], hint: ["did you mean 'l2'"], atCompile: true),
    BadFile(label: "regularizer key l1",
            yaml: edit("activation: relu", "activation: relu\n      kernel_regularizer: {l1: 0.01}"),
            line: 8, column: 28, message: ["unknown key 'l1'"], hint: ["did you mean 'l2'"], atCompile: true),
    BadFile(label: "kernel_regularizer on flatten",
            yaml: edit("    - type: flatten\n", "    - type: flatten\n      kernel_regularizer: l2\n"),
            line: 5, column: 27, message: ["a flatten layer has no kernel to regularize"], hint: ["dense"],
            keyPath: "model.layers[0].kernel_regularizer", atCompile: true),
    BadFile(label: "negative weight_decay", yaml: edit("optimizer: adam", "optimizer: {type: sgd, weight_decay: -0.5}"),
            line: 12, column: 40, message: ["'weight_decay' must be a non-negative number, found -0.5"],
            keyPath: "compile.optimizer.weight_decay", atCompile: true),
]

let checkpointErrors: [BadFile] = [
    BadFile(label: "misspelt checkpoint key", yaml: base + "  checkpoint: {every_step: 100}\n", line: 17, column: 16,
            message: ["unknown key 'every_step'"], hint: ["did you mean 'every_steps'"], keyPath: "train.checkpoint"),
    BadFile(label: "every_steps: -5", yaml: base + "  checkpoint: {every_steps: -5}\n", line: 17, column: 29,
            message: ["'every_steps' must be a non-negative integer, found -5"], keyPath: "train.checkpoint.every_steps"),
    BadFile(label: "every_epochs: 1.5", yaml: base + "  checkpoint: {every_epochs: 1.5}\n", line: 17, column: 30,
            message: ["expected an integer, found number 1.5"], keyPath: "train.checkpoint.every_epochs"),
    BadFile(label: "keep_last: 0", yaml: base + "  checkpoint: {keep_last: 0}\n", line: 17, column: 27,
            message: ["'keep_last' must be a positive integer, found 0"], keyPath: "train.checkpoint.keep_last"),
    BadFile(label: "keep_best on val_accuracy without a validation split",
            yaml: base + "  checkpoint: {keep_best: {monitor: val_accuracy}}\n", line: 17, column: 27,
            message: ["keep_best monitors 'val_accuracy'", "no validation split"], hint: ["validation_split"],
            keyPath: "train.checkpoint.keep_best"),
    BadFile(label: "keep_best with an unknown monitor",
            yaml: base + "  checkpoint: {keep_best: {monitor: acuracy}}\n", line: 17, column: 37,
            message: ["unknown monitor 'acuracy'"], hint: ["did you mean 'accuracy'"],
            keyPath: "train.checkpoint.keep_best.monitor"),
    BadFile(label: "keep_best with an unknown mode", yaml: base + "  checkpoint: {keep_best: {monitor: loss, mode: maxx}}\n",
            line: 17, column: 49, message: ["unknown mode 'maxx'"], hint: ["did you mean 'max'"]),
    BadFile(label: "checkpoint not a mapping", yaml: base + "  checkpoint: 100\n", line: 17, column: 15,
            message: ["expected a mapping", "found integer 100"], keyPath: "train.checkpoint"),
]

@Suite("Experiment file errors: training and preprocessing keys")
struct TrainingErrorTests {
    @Test("lr_schedule", arguments: scheduleErrors) func schedule(_ c: BadFile) { ErrorTests().check(c) }
    @Test("early_stopping", arguments: earlyStoppingErrors) func earlyStopping(_ c: BadFile) { ErrorTests().check(c) }
    @Test("preprocess: standardize and augment", arguments: preprocessErrors) func preprocess(_ c: BadFile) {
        ErrorTests().check(c)
    }
    @Test("train.checkpoint", arguments: checkpointErrors) func checkpoint(_ c: BadFile) { ErrorTests().check(c) }
    @Test("kernel_regularizer and weight_decay", arguments: regularizationErrors) func regularization(_ c: BadFile) {
        ErrorTests().check(c)
    }
}
