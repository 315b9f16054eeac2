// Valid experiment files: the shipped one, the short forms, YAML 1.1 corner cases, and the resolved
// experiment (every default written out) as a fixed point with a hash that tracks every value.
import Experiments
import Foundation
import NeuralNetwork
import Testing
import TestSupport
import Training

@Suite("Valid experiment files")
struct SpecTests {
    @Test("experiments/mlp.yaml: the seed notebook's model, 101,770 parameters")
    func shippedMLP() throws {
        let (text, path) = try TestPaths.experiment("mlp.yaml")
        let spec = try ExperimentSpec.parse(text, path: path, defaultName: "mlp")
        #expect(spec.name == "mlp")
        #expect(spec.seed == 42)
        #expect(spec.train.epochs == 5)
        #expect(spec.train.batchSize == 32)
        #expect(spec.train.shuffle)
        #expect(spec.train.validationSplit == 0.1)
        #expect(spec.evaluate.batchSize == 256)
        #expect(spec.preprocess.oneHot)
        #expect(spec.preprocess.scale == 255)
        #expect(spec.data.dataset == "mnist")

        let compiled = try spec.compile(maxBatch: 256)
        #expect(compiled.model.parameterCount == 101_770)
        #expect(compiled.model.layers.map(\.name) == ["flatten", "dense", "dense_1"])
        #expect(compiled.model.layers.map(\.outputShape.dims) == [[784], [128], [10]])
        #expect(compiled.layerTypes == ["flatten", "dense", "dense"])
        #expect(compiled.optimizer.name == "adam")
        #expect(compiled.loss.name == "categorical_crossentropy")
        #expect(compiled.model.summary().contains("101,770"))
    }

    @Test("ExperimentSpec.load reads a file and names the experiment after it when `name:` is absent")
    func loadNamesAfterFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write(base, to: "tiny-net.yaml")
        #expect(try ExperimentSpec.load(path: file).name == "tiny-net")

        let missing = #expect(throws: ExperimentError.self) { _ = try ExperimentSpec.load(path: directory("none.yaml")) }
        #expect(missing?.message.contains("none.yaml") == true)
        #expect(missing?.message.contains("no such file") == true)
        let folder = #expect(throws: ExperimentError.self) { _ = try ExperimentSpec.load(path: directory.path) }
        #expect(folder?.message.contains("is a directory") == true)
    }

    @Test("short forms `optimizer: adam` and `loss: categorical_crossentropy` take the defaults")
    func shortForms() throws {
        let spec = try ExperimentSpec.parse(base, path: "short.yaml")
        #expect(spec.name == "experiment")
        let compiled = try spec.compile(maxBatch: 32)
        #expect(compiled.optimizer.name == "adam")
        #expect(compiled.loss.name == "categorical_crossentropy")
        let adam = try #require(compiled.optimizer as? Adam)
        #expect(adam.config.learningRate == 0.001)
        #expect(adam.config.beta1 == 0.9)
        #expect(adam.config.beta2 == 0.999)
        #expect(adam.config.epsilon == 1e-7)
        #expect(compiled.model.parameterCount == 101_770)
    }

    @Test("a plain `learning_rate: 1e-3` (a string to YAML 1.1) is the number 0.001",
          arguments: ["1e-3", "1.0e-3", "0.001", "1E-3"])
    func exponentOnlyFloat(_ written: String) throws {
        let yaml = edit("optimizer: adam", "optimizer:\n    type: adam\n    learning_rate: \(written)")
        let compiled = try ExperimentSpec.parse(yaml, path: "lr.yaml").compile(maxBatch: 32)
        let adam = try #require(compiled.optimizer as? Adam)
        #expect(adam.learningRate == Float(0.001))
    }

    @Test("sparse labels: sparse_categorical_crossentropy with one_hot false")
    func sparseLabels() throws {
        let yaml = edit("loss: categorical_crossentropy", "loss: sparse_categorical_crossentropy")
            + "preprocess:\n  one_hot: false\n"
        let compiled = try ExperimentSpec.parse(yaml, path: "sparse.yaml").compile(maxBatch: 32)
        #expect(compiled.loss.targetEncoding == .sparse)
    }

    @Test("from_logits: true with a linear last layer builds")
    func logits() throws {
        let yaml = edit("activation: softmax", "activation: linear")
            .replacingOccurrences(of: "loss: categorical_crossentropy",
                                  with: "loss: {type: categorical_crossentropy, from_logits: true}")
        let compiled = try ExperimentSpec.parse(yaml, path: "logits.yaml").compile(maxBatch: 32)
        #expect(compiled.loss.expectsProbabilities == false)
    }

    @Test("given layer names replace Keras's automatic ones")
    func layerNames() throws {
        let yaml = edit("units: 128\n", "units: 128\n      name: hidden\n")
        let compiled = try ExperimentSpec.parse(yaml, path: "names.yaml").compile(maxBatch: 32)
        #expect(compiled.model.layers.map(\.name) == ["flatten", "hidden", "dense_1"])
    }

    @Test("the resolved experiment reads back to the same text and hash (a fixed point)")
    func resolvedFixedPoint() throws {
        let (text, path) = try TestPaths.experiment("mlp.yaml")
        let spec = try ExperimentSpec.parse(text, path: path, defaultName: "mlp")
        let first = try spec.resolvedText(try spec.compile(maxBatch: 256))
        #expect(first.sha256.count == 64)
        #expect(first.sha256.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        // Every default is written out.
        for key in ["seed: 42", "learning_rate: 0.001", "beta_1: 0.9", "epsilon: 1.0e-07", "from_logits: false",
                    "kernel_initializer: glorot_uniform", "name: dense_1", "validation_split: 0.1",
                    "batch_size: 256", "one_hot: true"] {
            #expect(first.yaml.contains(key), "resolved experiment lacks '\(key)':\n\(first.yaml)")
        }

        let again = try ExperimentSpec.parse(first.yaml, path: "results/mlp/run/experiment.yaml")
        let second = try again.resolvedText(try again.compile(maxBatch: 256))
        #expect(second.yaml == first.yaml)
        #expect(second.sha256 == first.sha256)
        #expect(again.name == "mlp")
        #expect(try again.compile(maxBatch: 256).model.parameterCount == 101_770)
    }

    @Test("the short-form file and its fully written-out equivalent resolve identically")
    func shortAndLongFormsAgree() throws {
        let short = try ExperimentSpec.parse(base, path: "a.yaml", defaultName: "same")
        let long = try ExperimentSpec.parse("""
            name: same
            seed: 42
            data: {dataset: mnist}
            preprocess: {scale: 255, one_hot: true}
            model:
              input_shape: [28, 28]
              layers:
                - {type: flatten}
                - {type: dense, units: 128, activation: relu, use_bias: true}
                - {type: dense, units: 10, activation: softmax, kernel_initializer: glorot_uniform}
            compile:
              optimizer: {type: adam, learning_rate: 1e-3, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7}
              loss: {type: categorical_crossentropy, from_logits: false}
              metrics: [accuracy]
            train: {epochs: 5, batch_size: 32, shuffle: true, validation_split: 0}
            evaluate: {batch_size: 32}
            """, path: "b.yaml")
        let a = try short.resolvedText(try short.compile(maxBatch: 32))
        let b = try long.resolvedText(try long.compile(maxBatch: 32))
        #expect(a.yaml == b.yaml)
        #expect(a.sha256 == b.sha256)
    }

    @Test("changing any value changes the experiment's hash")
    func hashTracksValues() throws {
        func hash(_ yaml: String, _ change: (inout ExperimentSpec) -> Void = { _ in }) throws -> String {
            var spec = try ExperimentSpec.parse(yaml, path: "h.yaml")
            change(&spec)
            return try spec.resolvedText(try spec.compile(maxBatch: 64)).sha256
        }
        let reference = try hash(base)
        #expect(try hash(base) == reference)
        let variants = [
            try hash(base) { $0.train.epochs = 6 },
            try hash(base) { $0.seed = 43 },
            try hash(base) { $0.train.batchSize = 64 },
            try hash(edit("units: 128", "units: 129")),
            try hash(edit("optimizer: adam", "optimizer: {type: adam, learning_rate: 0.002}")),
            try hash(edit("activation: relu", "activation: tanh")),
            try hash(base + "  shuffle: false\n"),
        ]
        for (i, variant) in variants.enumerated() {
            #expect(variant != reference, "variant \(i) has the reference hash")
        }
        #expect(Set(variants).count == variants.count)
    }

    @Test("error descriptions: location, key path, source line, caret under the column, hint")
    func description() {
        let error = #expect(throws: ExperimentError.self) {
            _ = try ExperimentSpec.parse(replacingTrain(with: "train: {epochs: 5, epocs: 3}\n"), path: "x.yaml")
        }
        #expect(error?.description == """
            x.yaml:14:20: error: unknown key 'epocs' (at train)
                train: {epochs: 5, epocs: 3}
                                   ^
            hint: did you mean 'epochs'? known keys here: batch_size, checkpoint, early_stopping, epochs, lr_schedule, max_steps, reduce_on_plateau, shuffle, tensorboard, validation_split
            """)
    }
}
