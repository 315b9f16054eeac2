// Errors in the keys added for the published reproductions — optimizers adadelta, adagrad, adamax,
// nadam; clipnorm, global_clipnorm, clipvalue; schedules inv, poly, multistep,
// piecewise_constant, one_cycle; bias_regularizer, kernel_lr_multiplier, bias_lr_multiplier;
// label_smoothing; the caffe_* initializers — each pinned to the token it is about, with a
// did-you-mean hint for a misspelling. And every key set at once resolves to a fixed point.
import Experiments
import Foundation
import NeuralNetwork
import Testing
import Training

/// A BadFile whose error must point at the first occurrence of `marker` in `yaml` (at its
/// `occurrence`-th occurrence when the marker repeats; just behind it with `behind`).
func bad(_ label: String, _ yaml: String, at marker: String, occurrence: Int = 1, behind: Bool = false,
         message: [String], hint: [String] = [], keyPath: String? = nil, atCompile: Bool = false) -> BadFile {
    var searchFrom = yaml.startIndex
    var found: Range<String.Index>?
    for _ in 0..<occurrence {
        found = yaml.range(of: marker, range: searchFrom..<yaml.endIndex)
        searchFrom = found.map { $0.upperBound } ?? yaml.endIndex
    }
    guard let found else { preconditionFailure("'\(marker)' is not in the file") }
    let before = yaml[..<(behind ? found.upperBound : found.lowerBound)]
    let line = before.filter { $0 == "\n" }.count + 1
    let column = before.count - (before.lastIndex(of: "\n").map { before.distance(from: before.startIndex, to: $0) + 1 } ?? 0) + 1
    return BadFile(label: label, yaml: yaml, line: line, column: column, message: message, hint: hint,
                   keyPath: keyPath, atCompile: atCompile)
}

func withOptimizer(_ text: String) -> String { edit("optimizer: adam", "optimizer: " + text) }
func withSchedule(_ text: String) -> String { base + "  lr_schedule: " + text + "\n" }
/// `base` with `text` added to the hidden dense layer (after `activation: relu`).
func withHidden(_ text: String) -> String { edit("activation: relu", "activation: relu\n      " + text) }

let optimizerKeyErrors: [BadFile] = [
    bad("unknown optimizer adadelt", withOptimizer("adadelt"), at: "adadelt", message: ["unknown optimizer 'adadelt'"],
        hint: ["did you mean 'adadelta'", "adadelta, adagrad, adam, adamax, adamw, nadam, rmsprop, sgd"],
        keyPath: "compile.optimizer", atCompile: true),
    bad("unknown optimizer nadm", withOptimizer("{type: nadm}"), at: "nadm", message: ["unknown optimizer 'nadm'"],
        hint: ["did you mean 'nadam'"], atCompile: true),
    bad("adadelta rho 1.5", withOptimizer("{type: adadelta, rho: 1.5}"), at: "1.5", message: ["'rho' must be in [0, 1)"],
        keyPath: "compile.optimizer.rho", atCompile: true),
    bad("adagrad key misspelt", withOptimizer("{type: adagrad, initial_accumulator: 0.2}"), at: "initial_accumulator",
        message: ["unknown key 'initial_accumulator'"], hint: ["did you mean 'initial_accumulator_value'"], atCompile: true),
    bad("adagrad negative accumulator", withOptimizer("{type: adagrad, initial_accumulator_value: -1}"), at: "-1",
        message: ["'initial_accumulator_value' must be a non-negative number"], atCompile: true),
    bad("adamax beta_2 1", withOptimizer("{type: adamax, beta_2: 1}"), at: "1}", message: ["'beta_2' must be in [0, 1)"],
        atCompile: true),
    bad("nadam momentum_decay misspelt", withOptimizer("{type: nadam, momentum_decy: 0.004}"), at: "momentum_decy",
        message: ["unknown key 'momentum_decy'"], hint: ["did you mean 'momentum_decay'"], atCompile: true),
    bad("nadam momentum_decay 0", withOptimizer("{type: nadam, momentum_decay: 0}"), at: "0}",
        message: ["'momentum_decay' must be a positive number"], atCompile: true),
    bad("clip_norm misspelt", withOptimizer("{type: sgd, clip_norm: 1}"), at: "clip_norm",
        message: ["unknown key 'clip_norm'"], hint: ["did you mean 'clipnorm'"], atCompile: true),
    bad("global_clip_norm misspelt", withOptimizer("{type: adam, global_clip_norm: 1}"), at: "global_clip_norm",
        message: ["unknown key 'global_clip_norm'"], hint: ["did you mean 'global_clipnorm'"], atCompile: true),
    bad("clip_value misspelt", withOptimizer("{type: rmsprop, clip_value: 1}"), at: "clip_value",
        message: ["unknown key 'clip_value'"], hint: ["did you mean 'clipvalue'"], atCompile: true),
    bad("clipnorm and global_clipnorm", withOptimizer("{type: adam, clipnorm: 1, global_clipnorm: 5}"), at: "5}",
        message: ["give one of 'clipnorm', 'global_clipnorm' and 'clipvalue', not 'clipnorm' and 'global_clipnorm'"],
        hint: ["Keras 3"], keyPath: "compile.optimizer.global_clipnorm", atCompile: true),
    bad("clipnorm and clipvalue", withOptimizer("{type: sgd, clipvalue: 0.5, clipnorm: 1}"), at: "0.5",
        message: ["not 'clipnorm' and 'clipvalue'"], keyPath: "compile.optimizer.clipvalue", atCompile: true),
    bad("clipnorm 0", withOptimizer("{type: adam, clipnorm: 0}"), at: "0}",
        message: ["'clipnorm' must be a positive number, found 0.0"], atCompile: true),
    bad("clipvalue negative", withOptimizer("{type: nadam, clipvalue: -2}"), at: "-2",
        message: ["'clipvalue' must be a positive number"], atCompile: true),
]

let newScheduleErrors: [BadFile] = [
    bad("unknown schedule invv", withSchedule("{type: invv, gamma: 0.0001, power: 0.75}"), at: "invv",
        message: ["unknown learning-rate schedule 'invv'"], hint: ["did you mean 'inv'"]),
    bad("inv without power", withSchedule("{type: inv, gamma: 0.0001}"), at: "{type",
        message: ["missing required key 'power'"]),
    bad("inv gamma 0", withSchedule("{type: inv, gamma: 0, power: 0.75}"), at: "0,",
        message: ["'gamma' must be a positive number"], keyPath: "train.lr_schedule.gamma"),
    bad("poly key misspelt", withSchedule("{type: poly, decay_steps: 100, end_learnig_rate: 0}"), at: "end_learnig_rate",
        message: ["unknown key 'end_learnig_rate'"], hint: ["did you mean 'end_learning_rate'"]),
    bad("poly power 0", withSchedule("{type: poly, decay_steps: 100, power: 0}"), at: "0}",
        message: ["'power' must be a positive number"]),
    bad("multistep with both lists", withSchedule("{type: multistep, milestones: [3], milestone_steps: [100]}"),
        at: "[100]", message: ["give 'milestones' (epochs) or 'milestone_steps', not both"],
        keyPath: "train.lr_schedule.milestone_steps"),
    bad("multistep without milestones", withSchedule("{type: multistep, factor: 0.5}"), at: "{type",
        message: ["missing required key 'milestones'"]),
    bad("multistep milestones decreasing", withSchedule("{type: multistep, milestones: [5, 2]}"), at: "[5",
        message: ["'milestones' must be a non-empty list of increasing positive epochs"]),
    bad("multistep key misspelt", withSchedule("{type: multistep, milestone: [5]}"), at: "milestone",
        message: ["unknown key 'milestone'"], hint: ["did you mean 'milestones'"]),
    bad("piecewise_constant values count",
        withSchedule("{type: piecewise_constant, boundaries: [100, 200], values: [0.1, 0.01]}"), at: "[0.1",
        message: ["'values' must hold one rate more than 'boundaries' (3), found 2"],
        keyPath: "train.lr_schedule.values"),
    bad("piecewise_constant boundary misspelt",
        withSchedule("{type: piecewise_constant, boundries: [100], values: [0.1, 0.01]}"), at: "boundries",
        message: ["unknown key 'boundries'"], hint: ["did you mean 'boundaries'"]),
    bad("unknown schedule piecewise", withSchedule("{type: piecewise_constnt}"), at: "piecewise_constnt",
        message: ["unknown learning-rate schedule"], hint: ["did you mean 'piecewise_constant'"]),
    bad("one_cycle anneal_strategy misspelt", withSchedule("{type: one_cycle, anneal_strategy: lnear}"), at: "lnear",
        message: ["unknown anneal_strategy 'lnear'"], hint: ["did you mean 'linear'", "cos, linear"]),
    bad("one_cycle pct_start 1", withSchedule("{type: one_cycle, pct_start: 1}"), at: "1}",
        message: ["'pct_start' must be in (0, 1)"]),
    bad("one_cycle key misspelt", withSchedule("{type: one_cycle, cycle_momentun: false}"), at: "cycle_momentun",
        message: ["unknown key 'cycle_momentun'"], hint: ["did you mean 'cycle_momentum'"]),
    bad("one_cycle max_lr (PyTorch's name)", withSchedule("{type: one_cycle, max_lr: 0.1}"), at: "max_lr",
        message: ["unknown key 'max_lr'"], hint: ["max_learning_rate"]),
    bad("one_cycle with a warmup", withSchedule("{type: one_cycle, warmup_epochs: 1}"), at: "1}",
        message: ["one_cycle warms up by itself"], keyPath: "train.lr_schedule.warmup_epochs"),
    bad("one_cycle cycling momentum adadelta lacks",
        withOptimizer("adadelta") + "  lr_schedule: {type: one_cycle, cycle_momentum: true}\n", at: "true}",
        message: ["one_cycle cycles the optimizer's momentum, but adadelta has none"], hint: ["cycle_momentum: false"],
        keyPath: "train.lr_schedule.cycle_momentum", atCompile: true),
    bad("one_cycle with sgd without momentum", withOptimizer("sgd") + "  lr_schedule: one_cycle\n", at: "one_cycle",
        message: ["sgd with momentum 0 has none"], atCompile: true),
]

let layerAndLossKeyErrors: [BadFile] = [
    bad("bias_regularizer on flatten", edit("    - type: flatten\n", "    - type: flatten\n      bias_regularizer: l2\n"),
        at: "bias_regularizer: ", behind: true, message: ["a flatten layer has no bias to regularize"], hint: ["dense"],
        keyPath: "model.layers[0].bias_regularizer", atCompile: true),
    bad("bias_regularizer without a bias", withHidden("use_bias: false\n      bias_regularizer: {l2: 0.01}"),
        at: "bias_regularizer: ", behind: true, message: ["a dense layer has no bias to regularize (use_bias: false)"],
        atCompile: true),
    bad("bias_regularizer l1", withHidden("bias_regularizer: {l1: 0.01}"), at: "l1",
        message: ["unknown key 'l1'"], hint: ["did you mean 'l2'"], atCompile: true),
    bad("bias_regularizer misspelt", withHidden("bias_regulariser: l2"), at: "bias_regulariser",
        message: ["unknown key 'bias_regulariser'"], hint: ["did you mean 'bias_regularizer'"], atCompile: true),
    bad("bias_lr_multiplier negative", withHidden("bias_lr_multiplier: -2"), at: "-2",
        message: ["'bias_lr_multiplier' must be a non-negative number, found -2.0"], hint: ["lr_mult"],
        keyPath: "model.layers[1].bias_lr_multiplier", atCompile: true),
    bad("bias_lr_multiplier misspelt", withHidden("bias_lr_multiplyer: 2"), at: "bias_lr_multiplyer",
        message: ["unknown key 'bias_lr_multiplyer'"], hint: ["did you mean 'bias_lr_multiplier'"], atCompile: true),
    bad("kernel_lr_multiplier on flatten",
        edit("    - type: flatten\n", "    - type: flatten\n      kernel_lr_multiplier: 2\n"), at: "kernel_lr_multiplier: ",
        behind: true,
        message: ["a flatten layer has no kernel to scale the rate of"], atCompile: true),
    bad("caffe initializer misspelt", withHidden("kernel_initializer: caffe_xavir"), at: "caffe_xavir",
        message: ["unknown kernel_initializer 'caffe_xavir'"], hint: ["did you mean 'caffe_xavier'", "caffe_msra"],
        atCompile: true),
    bad("label_smoothing 1.5", edit("loss: categorical_crossentropy", "loss: {type: categorical_crossentropy, label_smoothing: 1.5}"),
        at: "1.5", message: ["'label_smoothing' must be in [0, 1], found 1.5"], keyPath: "compile.loss.label_smoothing",
        atCompile: true),
    bad("label_smoothing misspelt",
        edit("loss: categorical_crossentropy", "loss: {type: categorical_crossentropy, label_smoothng: 0.1}"),
        at: "label_smoothng", message: ["unknown key 'label_smoothng'"], hint: ["did you mean 'label_smoothing'"],
        atCompile: true),
]

@Suite("Experiment file: the reproductions' keys")
struct ReproductionKeyTests {
    @Test("optimizers and clipping", arguments: optimizerKeyErrors) func optimizers(_ c: BadFile) { ErrorTests().check(c) }
    @Test("schedules", arguments: newScheduleErrors) func schedules(_ c: BadFile) { ErrorTests().check(c) }
    @Test("layer and loss keys", arguments: layerAndLossKeyErrors) func layersAndLoss(_ c: BadFile) { ErrorTests().check(c) }

    @Test("every new key set: read, built, and resolved to a fixed point")
    func everythingSet() throws {
        let yaml = withHidden("kernel_initializer: caffe_msra\n      bias_regularizer: {l2: 0.00025}\n"
                              + "      bias_lr_multiplier: 2")
            .replacingOccurrences(of: "optimizer: adam",
                                  with: "optimizer: {type: nadam, learning_rate: 0.002, global_clipnorm: 5, momentum_decay: 0.004}")
            .replacingOccurrences(of: "loss: categorical_crossentropy",
                                  with: "loss: {type: categorical_crossentropy, label_smoothing: 0.1}")
            + "  lr_schedule: {type: one_cycle, pct_start: 0.25, anneal_strategy: linear}\n"
        let spec = try ExperimentSpec.parse(yaml, path: "r.yaml")
        let compiled = try spec.compile(maxBatch: 32)
        #expect(compiled.penalties == [ParameterPenalty(layer: "dense", parameter: "bias", regularizer: .l2(0.00025))])
        #expect(compiled.model.trainableTensors.map(\.learningRateMultiplier) == [1, 2, 1, 1])
        let nadam = try #require(compiled.optimizer as? Nadam)
        #expect(nadam.config.momentumDecay == 0.004 && nadam.plan.clipping == GradientClipping(globalClipnorm: 5))
        #expect((compiled.loss as? CrossEntropy)?.config.labelSmoothing == 0.1)
        let cycle = try #require(spec.train.lrSchedule.schedule as? OneCycle)
        #expect(cycle.config.pctStart == 0.25 && cycle.config.annealStrategy == .linear)

        let first = try spec.resolvedText(compiled)
        for line in ["    kernel_initializer: caffe_msra", "    bias_regularizer:\n      l2: 0.00025",
                     "    bias_lr_multiplier: 2.0", "    kernel_lr_multiplier: 1.0", "    momentum_decay: 0.004",
                     "    clipnorm: null\n    global_clipnorm: 5.0\n    clipvalue: null", "    label_smoothing: 0.1",
                     "    type: one_cycle\n    max_learning_rate: null\n    total_steps: null\n    pct_start: 0.25"] {
            #expect(first.yaml.contains(line), "resolved experiment lacks '\(line)':\n\(first.yaml)")
        }
        let again = try ExperimentSpec.parse(first.yaml, path: "results/r/run/experiment.yaml")
        let second = try again.resolvedText(try again.compile(maxBatch: 32))
        #expect(second.yaml == first.yaml && second.sha256 == first.sha256)
    }

    @Test("defaults: the new keys appear in the resolved experiment unset")
    func defaults() throws {
        let spec = try ExperimentSpec.parse(base, path: "d.yaml")
        let yaml = try spec.resolvedText(try spec.compile(maxBatch: 32)).yaml
        for line in ["    bias_regularizer: null", "    kernel_lr_multiplier: 1.0\n    bias_regularizer: null\n"
                     + "    bias_lr_multiplier: 1.0", "    clipnorm: null\n    global_clipnorm: null\n    clipvalue: null",
                     "    label_smoothing: 0.0"] {
            #expect(yaml.contains(line), "resolved experiment lacks '\(line)':\n\(yaml)")
        }
    }
}
