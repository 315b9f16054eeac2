// Every way an experiment file can be wrong, each pinned to the line and column the user is sent
// to and to the words of the message or hint. The files are variations of `base` (see Support.swift),
// so the line numbers below can be read off it.
import Experiments
import Testing

/// One bad experiment file and what its error must say.
struct BadFile: CustomTestStringConvertible, Sendable {
    let label: String
    let yaml: String
    let line: Int
    let column: Int
    /// Fragments the message must contain.
    let message: [String]
    /// Fragments the hint must contain (none: the hint is not checked).
    var hint: [String] = []
    var keyPath: String?
    /// The error comes from building the model, not from reading the file.
    var atCompile = false

    var testDescription: String { label }
}

// MARK: - Reading the file

let syntaxErrors: [BadFile] = [
    BadFile(label: "tab used for indentation", yaml: "model:\n  layers:\n\t- type: flatten\n",
            line: 3, column: 1, message: ["YAML syntax", "cannot start any token"], hint: ["indentation"]),
    BadFile(label: "key indented less than its siblings",
            yaml: edit("      activation: relu", "     activation: relu"),
            line: 7, column: 6, message: ["YAML syntax", "did not find expected '-' indicator"], hint: ["indentation"]),
    BadFile(label: "key indented more than its siblings", yaml: edit("  batch_size: 32", "   batch_size: 32"),
            line: 16, column: 14, message: ["YAML syntax", "mapping values are not allowed"]),
    BadFile(label: "unclosed bracket", yaml: edit("input_shape: [28, 28]", "input_shape: [28, 28"),
            line: 3, column: 9, message: ["YAML syntax", "did not find expected ',' or ']'"]),
    BadFile(label: "undefined alias", yaml: base + "description: *nothing\n",
            line: 17, column: 14, message: ["YAML syntax", "undefined alias"]),
]

let unknownKeys: [BadFile] = [
    BadFile(label: "top level", yaml: base + "trian: {epochs: 1}\n", line: 17, column: 1,
            message: ["unknown key 'trian'"], hint: ["did you mean 'train'", "known keys here:", "compile"]),
    BadFile(label: "in a section", yaml: replacingTrain(with: "train: {epochs: 5, epocs: 3}\n"),
            line: 14, column: 20, message: ["unknown key 'epocs'"], hint: ["did you mean 'epochs'"],
            keyPath: "train"),
    BadFile(label: "required key misspelt in a layer", yaml: edit("units: 128", "unit: 128"),
            line: 6, column: 7, message: ["unknown key 'unit'"], hint: ["did you mean 'units'"],
            keyPath: "model.layers[1]", atCompile: true),
    BadFile(label: "optional key misspelt in a layer", yaml: edit("activation: relu", "activaton: relu"),
            line: 7, column: 7, message: ["unknown key 'activaton'"],
            hint: ["did you mean 'activation'", "kernel_initializer"], keyPath: "model.layers[1]", atCompile: true),
    BadFile(label: "in the optimizer", yaml: edit("optimizer: adam", "optimizer: {type: adam, learning_rat: 0.1}"),
            line: 12, column: 27, message: ["unknown key 'learning_rat'"], hint: ["did you mean 'learning_rate'"],
            atCompile: true),
]

let unknownNames: [BadFile] = [
    BadFile(label: "layer type dense2",
            yaml: edit("    - type: dense\n      units: 128", "    - type: dense2\n      units: 128"),
            line: 5, column: 13, message: ["unknown layer type 'dense2'"],
            hint: ["did you mean 'dense'", "flatten"], keyPath: "model.layers[1].type", atCompile: true),
    BadFile(label: "layer type dens",
            yaml: edit("    - type: dense\n      units: 10", "    - type: dens\n      units: 10"),
            line: 8, column: 13, message: ["unknown layer type 'dens'"], hint: ["did you mean 'dense'"],
            keyPath: "model.layers[2].type", atCompile: true),
    BadFile(label: "optimizer (short form)", yaml: edit("optimizer: adam", "optimizer: adma"),
            line: 12, column: 14, message: ["unknown optimizer 'adma'"], hint: ["did you mean 'adam'", "sgd"],
            atCompile: true),
    BadFile(label: "optimizer (mapping form)", yaml: edit("optimizer: adam", "optimizer: {type: rmsprp}"),
            line: 12, column: 21, message: ["unknown optimizer 'rmsprp'"], hint: ["did you mean 'rmsprop'"],
            keyPath: "compile.optimizer.type", atCompile: true),
    BadFile(label: "loss", yaml: edit("loss: categorical_crossentropy", "loss: categorical_crossentrop"),
            line: 13, column: 9, message: ["unknown loss 'categorical_crossentrop'"],
            hint: ["did you mean 'categorical_crossentropy'"], atCompile: true),
    BadFile(label: "initializer",
            yaml: edit("activation: relu", "activation: relu\n      kernel_initializer: glorot_unifrom"),
            line: 8, column: 27, message: ["unknown kernel_initializer 'glorot_unifrom'"],
            hint: ["did you mean 'glorot_uniform'", "he_normal"], keyPath: "model.layers[1].kernel_initializer",
            atCompile: true),
    BadFile(label: "activation", yaml: edit("activation: relu", "activation: reul"),
            line: 7, column: 19, message: ["unknown activation 'reul'"], hint: ["did you mean 'relu'"],
            keyPath: "model.layers[1].activation", atCompile: true),
    BadFile(label: "dataset", yaml: base + "data: {dataset: mnsit}\n", line: 17, column: 17,
            message: ["unknown dataset 'mnsit'"], hint: ["did you mean 'mnist'", "fashion-mnist"],
            keyPath: "data.dataset"),
    BadFile(label: "metric",
            yaml: edit("loss: categorical_crossentropy", "loss: categorical_crossentropy\n  metrics: [acuracy]"),
            line: 14, column: 13, message: ["unknown metric 'acuracy'"], hint: ["did you mean 'accuracy'"]),
]

let wrongTypes: [BadFile] = [
    BadFile(label: "epochs: five", yaml: edit("epochs: 5", "epochs: five"), line: 15, column: 11,
            message: ["expected an integer", "found string 'five'"], keyPath: "train.epochs"),
    BadFile(label: "units quoted is a string", yaml: edit("units: 128", "units: \"128\""), line: 6, column: 14,
            message: ["expected an integer", "found string '128'"], keyPath: "model.layers[1].units", atCompile: true),
    BadFile(label: "shuffle: 3", yaml: base + "  shuffle: 3\n", line: 17, column: 12,
            message: ["expected true or false", "found integer 3"], keyPath: "train.shuffle"),
    BadFile(label: "layers: dense is not a list", yaml: edit(layersBlock, "  layers: dense\n"), line: 3, column: 11,
            message: ["expected a list", "found string 'dense'"], keyPath: "model.layers"),
    BadFile(label: "a section that is a scalar", yaml: replacingTrain(with: "train: 5\n"), line: 14, column: 8,
            message: ["expected a mapping", "found integer 5"], keyPath: "train"),
    BadFile(label: "learning_rate quoted is a string",
            yaml: edit("optimizer: adam", "optimizer: {type: adam, learning_rate: \"1e-3\"}"),
            line: 12, column: 42, message: ["expected a number", "found string '1e-3'"], atCompile: true),
]

let outOfRange: [BadFile] = [
    BadFile(label: "epochs: 0", yaml: edit("epochs: 5", "epochs: 0"), line: 15, column: 11,
            message: ["'epochs' must be a positive integer, found 0"], keyPath: "train.epochs"),
    BadFile(label: "batch_size: -1", yaml: edit("batch_size: 32", "batch_size: -1"), line: 16, column: 15,
            message: ["'batch_size' must be a positive integer, found -1"], keyPath: "train.batch_size"),
    BadFile(label: "units: 0", yaml: edit("units: 128", "units: 0"), line: 6, column: 14,
            message: ["'units' must be a positive integer up to 16,777,216, found 0"], atCompile: true),
    BadFile(label: "units: 2^63 - 1", yaml: edit("units: 128", "units: 9223372036854775807"), line: 6, column: 14,
            message: ["'units' must be a positive integer up to 16,777,216"], atCompile: true),
    BadFile(label: "dropout rate 1.5",
            yaml: edit("    - type: flatten\n", "    - type: flatten\n    - type: dropout\n      rate: 1.5\n"),
            line: 6, column: 13, message: ["'rate' must be in [0, 1), found 1.5"],
            keyPath: "model.layers[1].rate", atCompile: true),
    BadFile(label: "validation_split: 1.0", yaml: base + "  validation_split: 1.0\n", line: 17, column: 21,
            message: ["'validation_split' must be in [0, 1), found 1.0"]),
    BadFile(label: "learning_rate: -0.1", yaml: edit("optimizer: adam", "optimizer: {type: adam, learning_rate: -0.1}"),
            line: 12, column: 42, message: ["'learning_rate' must be a positive number", "-0.1"],
            keyPath: "compile.optimizer.learning_rate", atCompile: true),
    BadFile(label: "negative seed", yaml: "seed: -1\n" + base, line: 1, column: 7,
            message: ["-1 is out of range", "non-negative"], keyPath: "seed"),
    BadFile(label: "seed beyond UInt64", yaml: "seed: 18446744073709551616\n" + base, line: 1, column: 7,
            message: ["non-negative integer"], keyPath: "seed"),
    BadFile(label: "scale: 0", yaml: base + "preprocess: {scale: 0}\n", line: 17, column: 21,
            message: ["'scale' must be a positive number"]),
    BadFile(label: "input_shape with a zero", yaml: edit("[28, 28]", "[28, 0]"), line: 2, column: 16,
            message: ["'input_shape' must be a list of positive sizes"], hint: ["[28, 28]"]),
    BadFile(label: "empty layer list", yaml: edit(layersBlock, "  layers: []\n"), line: 3, column: 11,
            message: ["the model has no layers"]),
]

let missingKeys: [BadFile] = [
    BadFile(label: "model", yaml: String(base.split(separator: "\n", omittingEmptySubsequences: false)[10...]
            .joined(separator: "\n")), line: 1, column: 1, message: ["missing required key 'model'"]),
    BadFile(label: "compile", yaml: edit("compile:\n  optimizer: adam\n  loss: categorical_crossentropy\n", ""),
            line: 1, column: 1, message: ["missing required key 'compile'"]),
    BadFile(label: "units", yaml: edit("      units: 10\n", ""), line: 8, column: 7,
            message: ["missing required key 'units'"], keyPath: "model.layers[2]", atCompile: true),
    BadFile(label: "loss", yaml: edit("  loss: categorical_crossentropy\n", ""), line: 12, column: 3,
            message: ["missing required key 'loss'"], keyPath: "compile"),
    BadFile(label: "layer type", yaml: edit("    - type: flatten\n", "    - name: first\n"), line: 4, column: 7,
            message: ["missing required key 'type'"]),
]

let duplicateKeys: [BadFile] = [
    BadFile(label: "top-level section", yaml: base + "model: {}\n", line: 17, column: 1,
            message: ["duplicate key 'model'"], hint: ["first given at line 1"]),
    BadFile(label: "in a layer", yaml: edit("units: 128", "units: 128\n      # again:\n\n      units: 64"),
            line: 9, column: 7, message: ["duplicate key 'units'"], hint: ["first given at line 6"]),
    BadFile(label: "in a flow mapping", yaml: replacingTrain(with: "train: {epochs: 5, batch_size: 3, epochs: 3}\n"),
            line: 14, column: 35, message: ["duplicate key 'epochs'"]),
]

// MARK: - Building the model

let modelErrors: [BadFile] = [
    BadFile(label: "dense fed [28, 28] without flatten", yaml: edit("    - type: flatten\n", ""),
            line: 4, column: 13, message: ["layer 'dense'", "(None, 28, 28)"], hint: ["flatten"],
            keyPath: "model.layers[0]", atCompile: true),
    BadFile(label: "last layer has 12 units", yaml: edit("units: 10\n", "units: 12\n"), line: 8, column: 13,
            message: ["layer 'dense_1'", "(None, 12)", "10 classes"], hint: ["units: 10"], atCompile: true),
    BadFile(label: "categorical_crossentropy after relu", yaml: edit("activation: softmax", "activation: relu"),
            line: 8, column: 13, message: ["layer 'dense_1'", "expects probabilities", "relu"], hint: ["softmax"],
            atCompile: true),
    BadFile(label: "softmax with from_logits: true",
            yaml: edit("loss: categorical_crossentropy", "loss: {type: categorical_crossentropy, from_logits: true}"),
            line: 8, column: 13, message: ["layer 'dense_1'", "from_logits: true", "softmax"],
            hint: ["remove the softmax"], atCompile: true),
    BadFile(label: "input_shape of 756 values", yaml: edit("[28, 28]", "[28, 27]"), line: 2, column: 16,
            message: ["input_shape [28, 27] holds 756 values", "784"], keyPath: "model.input_shape", atCompile: true),
    BadFile(label: "input_shape whose count overflows", yaml: edit("[28, 28]", "[9223372036854775807, 4]"),
            line: 2, column: 16, message: ["784"], atCompile: true),
    BadFile(label: "duplicate layer names",
            yaml: edit("units: 128\n", "units: 128\n      name: hidden\n").replacingOccurrences(
                of: "units: 10\n", with: "units: 10\n      name: hidden\n"),
            line: 9, column: 13, message: ["layer 'hidden'", "two layers are named 'hidden'"], hint: ["unique"],
            atCompile: true),
    BadFile(label: "sparse loss with one-hot labels", yaml: base.replacingOccurrences(
                of: "loss: categorical_crossentropy", with: "loss: sparse_categorical_crossentropy")
                + "preprocess: {one_hot: true}\n",
            line: 13, column: 9, message: ["sparse_categorical_crossentropy expects integer labels", "one_hot is true"],
            hint: ["one_hot: false"], atCompile: true),
    BadFile(label: "categorical loss with integer labels", yaml: base + "preprocess: {one_hot: false}\n",
            line: 13, column: 9, message: ["expects one-hot labels"], hint: ["sparse_categorical_crossentropy"],
            atCompile: true),
    BadFile(label: "more units than memory", yaml: edit("units: 128", "units: 16000000"),
            line: 5, column: 13, message: ["layer 'dense'", "parameters need", "memory"], hint: ["fewer units"],
            atCompile: true),
    // 784·16,000,000 + 16,000,000 parameters: value and gradient only (8 bytes each) with plain SGD,
    // three more values with centered RMSprop with momentum (20 bytes).
    BadFile(label: "plain SGD keeps no state per parameter",
            yaml: edit("units: 128", "units: 16000000").replacingOccurrences(of: "optimizer: adam", with: "optimizer: sgd"),
            line: 5, column: 13, message: ["12,560,000,000 parameters need 100 GB"], atCompile: true),
    BadFile(label: "centered RMSprop with momentum keeps three values per parameter",
            yaml: edit("units: 128", "units: 16000000").replacingOccurrences(
                of: "optimizer: adam", with: "optimizer: {type: rmsprop, centered: true, momentum: 0.5}"),
            line: 5, column: 13, message: ["12,560,000,000 parameters need 251 GB"], atCompile: true),
    BadFile(label: "larger batches than memory", yaml: edit("batch_size: 32", "batch_size: 9223372036854775807"),
            line: 16, column: 15, message: ["batches of", "memory"], hint: ["smaller batch_size"],
            keyPath: "train.batch_size", atCompile: true),
]

// MARK: - Whole-file shapes

let wholeFile: [BadFile] = [
    BadFile(label: "empty file", yaml: "", line: 1, column: 1, message: ["empty"], hint: ["experiments/mlp.yaml"]),
    BadFile(label: "comments only", yaml: "# nothing yet\n", line: 1, column: 1, message: ["empty"]),
    BadFile(label: "a list at the top", yaml: "- type: dense\n- type: flatten\n", line: 1, column: 1,
            message: ["expected a mapping of sections", "found a list"]),
    BadFile(label: "a scalar at the top", yaml: "mlp\n", line: 1, column: 1,
            message: ["expected a mapping of sections", "found string 'mlp'"]),
]

@Suite("Experiment file errors")
struct ErrorTests {
    @Test("YAML syntax errors", arguments: syntaxErrors) func syntax(_ c: BadFile) { check(c) }
    @Test("unknown keys", arguments: unknownKeys) func unknownKey(_ c: BadFile) { check(c) }
    @Test("unknown names, with did-you-mean", arguments: unknownNames) func unknownName(_ c: BadFile) { check(c) }
    @Test("values of the wrong type", arguments: wrongTypes) func wrongType(_ c: BadFile) { check(c) }
    @Test("values out of range", arguments: outOfRange) func range(_ c: BadFile) { check(c) }
    @Test("missing required keys", arguments: missingKeys) func missing(_ c: BadFile) { check(c) }
    @Test("duplicate keys", arguments: duplicateKeys) func duplicate(_ c: BadFile) { check(c) }
    @Test("models that cannot be built", arguments: modelErrors) func model(_ c: BadFile) { check(c) }
    @Test("files that are not a mapping", arguments: wholeFile) func whole(_ c: BadFile) { check(c) }

    /// Reads `c.yaml` (and builds it when the error is a model error) and checks the error.
    func check(_ c: BadFile, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let path = "experiments/bad.yaml"
        var parsed: ExperimentSpec?
        let error = #expect(throws: ExperimentError.self) {
            let spec = try ExperimentSpec.parse(c.yaml, path: path)
            parsed = spec
            _ = try spec.compile(maxBatch: max(spec.train.batchSize, spec.evaluate.batchSize ?? 0))
        }
        guard let error else {
            Issue.record("no error for:\n\(c.yaml)", sourceLocation: sourceLocation)
            return
        }
        // Reading must succeed exactly when the error belongs to building the model.
        #expect((parsed != nil) == c.atCompile, "error raised at the wrong stage: \(error)",
                sourceLocation: sourceLocation)
        #expect(error.location?.file == path, sourceLocation: sourceLocation)
        #expect(error.location?.line == c.line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.location?.column == c.column, "\(error)", sourceLocation: sourceLocation)
        for fragment in c.message {
            #expect(error.message.contains(fragment), "message lacks '\(fragment)': \(error)",
                    sourceLocation: sourceLocation)
        }
        for fragment in c.hint {
            #expect(error.hint?.contains(fragment) == true, "hint lacks '\(fragment)': \(error)",
                    sourceLocation: sourceLocation)
        }
        if let keyPath = c.keyPath {
            #expect(error.keyPath == keyPath, "\(error)", sourceLocation: sourceLocation)
        }
        // The printed form leads with file:line:col and, when a line is known, shows it with a caret.
        let header = "\(path):\(c.line):\(c.column): error: "
        #expect(error.description.hasPrefix(header), "\(error)", sourceLocation: sourceLocation)
        if let source = error.sourceLine {
            let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count >= 3 && lines[1] == "    " + source, "\(error)", sourceLocation: sourceLocation)
            if lines.count >= 3 {
                #expect(lines[2].hasSuffix("^") && lines[2].count == 4 + c.column, "caret misplaced: \(error)",
                        sourceLocation: sourceLocation)
            }
        }
    }
}
