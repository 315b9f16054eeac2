// The experiment file, typed. Sections follow the notebook's steps: data, preprocess, model,
// compile, train, evaluate. Every key has a Keras-like name and a default (README "Experiment
// file" lists them); keys the spec does not read are errors.
import Datasets
import Foundation
import NeuralNetwork
import Training
import Yams

/// A `type:`-named entry (a layer, the optimizer, the loss) whose parameters are read later by the
/// constructor its type names. Written either as a mapping with `type:` or, when no parameters
/// are given, as just the name: `optimizer: adam`.
struct TypedEntry: Decodable {
    let type: String
    /// `name:` (layers only).
    let name: String?
    /// The decoder positioned on the entry, for the constructor to read the parameters from.
    let decoder: NodeDecoder

    init(from decoder: Decoder) throws {
        let decoder = decoder as! NodeDecoder
        self.decoder = decoder
        if case .scalar = decoder.node {
            type = try String(from: decoder)
            name = nil
            return
        }
        let c = try decoder.container(keyedBy: NameKey.self)
        type = try c.decode(String.self, forKey: NameKey("type"))
        name = try c.decodeIfPresent(String.self, forKey: NameKey("name"))
        decoder.checkDeferred = true
    }

    /// A decoder for the entry's parameters: the entry itself (mapping form, `type`/`name` already
    /// counted as known) or an empty mapping at the name's position (short form).
    var parameters: NodeDecoder {
        if case .scalar(let s) = decoder.node {
            return NodeDecoder(node: .mapping(Node.Mapping([], .implicit, .block, s.mark)),
                               codingPath: decoder.codingPath, source: decoder.source)
        }
        return decoder
    }

    /// Location of the `type` value, where "unknown layer type" points.
    var typePath: [any CodingKey] {
        if case .scalar = decoder.node { return decoder.codingPath }
        return decoder.codingPath + [NameKey("type")]
    }
}

public struct DataSpec: Sendable {
    /// mnist | fashion-mnist
    public var dataset = "mnist"
    /// Where the IDX files are; relative paths are relative to the experiment file. Overridden by
    /// --data-dir and RUNNER_DATA_DIR.
    public var directory: String?
    /// Base URLs to download from when the data is nowhere on disk (default: the public mirrors).
    public var mirrors: [String]?
}

public struct PreprocessSpec: Sendable, Codable {
    /// Pixels are divided by this: 255 maps 0…255 to [0, 1] (the notebook's `x / 255.0`).
    public var scale: Float = 255
    /// Labels as one-hot rows (to_categorical; for categorical_crossentropy) or as class indices
    /// (for sparse_categorical_crossentropy).
    public var oneHot = true
    /// After scaling, subtract the training split's pixel mean and divide by its standard
    /// deviation (one scalar each, e.g. MNIST's 0.1307 and 0.3081), for every split.
    public var standardize = false
    /// Random shifts, rotations and zooms of training images, per image and epoch (all 0: none).
    public var augment = Augmentation()
    enum CodingKeys: String, CodingKey { case scale, oneHot = "one_hot", standardize, augment }
}

public struct ModelSpec {
    /// The model's name in the summary (default: the experiment's name).
    var name: String?
    /// One sample's shape, channels last (default: the dataset's image shape, [28, 28]).
    var inputShape: [Int]?
    var layers: [TypedEntry]
    var inputShapePath: [any CodingKey] = []
}

public struct CompileSpec {
    var optimizer: TypedEntry
    var loss: TypedEntry
    /// Only `accuracy` so far; loss is always reported.
    var metrics: [String] = ["accuracy"]
}

public struct TrainSpec: Sendable, Encodable {
    /// Passes over the training data.
    public var epochs = 1
    /// Images per optimizer step.
    public var batchSize = 32
    /// Reshuffle the training images every epoch (from the seed's "shuffle" stream).
    public var shuffle = true
    /// Fraction of the training images, taken from the end, held out for val_loss/val_accuracy.
    public var validationSplit = 0.0
    /// How the learning rate changes with the step (default: constant, no warmup).
    public var lrSchedule = ScheduleSpec()
    /// Keras's EarlyStopping callback; nil: train all epochs.
    public var earlyStopping: EarlyStopping.Config?
    /// Keras's ReduceLROnPlateau callback, multiplying the schedule's rate; nil: the schedule alone.
    public var reduceOnPlateau: ReduceLROnPlateau.Config?
    /// Stop after this many optimizer steps in all, mid-epoch if need be (Caffe's max_iter,
    /// Lightning's max_steps); nil: every epoch.
    public var maxSteps: Int?
    /// When checkpoints are written and which are kept.
    public var checkpoint = CheckpointSpec()
    /// Write TensorBoard event files into the run folder's tensorboard/ (not part of the
    /// experiment's hash: it does not change the training).
    public var tensorboard = false
    enum CodingKeys: String, CodingKey {
        case epochs, batchSize = "batch_size", maxSteps = "max_steps", shuffle, validationSplit = "validation_split"
        case lrSchedule = "lr_schedule", earlyStopping = "early_stopping", reduceOnPlateau = "reduce_on_plateau"
        case checkpoint, tensorboard
    }

    /// Every key, `early_stopping: null` included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(maxSteps, forKey: .maxSteps)
        try c.encode(shuffle, forKey: .shuffle)
        try c.encode(validationSplit, forKey: .validationSplit)
        try c.encode(lrSchedule, forKey: .lrSchedule)
        try c.encode(earlyStopping, forKey: .earlyStopping)
        try c.encode(reduceOnPlateau, forKey: .reduceOnPlateau)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(tensorboard, forKey: .tensorboard)
    }
}

/// `train.checkpoint`: what Keras's ModelCheckpoint and BackupAndRestore do between them. A run
/// writes checkpoints into <run folder>/checkpoints/: step-<step>.ckpt periodically (and on
/// SIGINT/SIGTERM), best.ckpt when the monitored metric improves, final.ckpt at the end.
public struct CheckpointSpec: Sendable, Encodable {
    /// Write one after every N epochs (0: not at epoch ends).
    public var everyEpochs = 1
    /// Write one after every N optimizer steps, mid-epoch included (0: not by steps).
    public var everySteps = 0
    /// How many step-*.ckpt to keep (older ones are deleted); best.ckpt and final.ckpt are extra.
    public var keepLast = 2
    /// Keep best.ckpt: the end of the epoch with the best value of this metric (nil: no best.ckpt).
    public var keepBest: KeepBest?

    public struct KeepBest: Sendable, Codable, Equatable {
        /// loss, accuracy, val_loss or val_accuracy.
        public var monitor: EarlyStopping.Monitor = .valLoss
        /// min, max, or auto (from the monitor's name).
        public var mode: EarlyStopping.Mode = .auto
    }

    enum CodingKeys: String, CodingKey {
        case everyEpochs = "every_epochs", everySteps = "every_steps", keepLast = "keep_last", keepBest = "keep_best"
    }

    /// Every key, `keep_best: null` included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(everyEpochs, forKey: .everyEpochs)
        try c.encode(everySteps, forKey: .everySteps)
        try c.encode(keepLast, forKey: .keepLast)
        try c.encode(keepBest, forKey: .keepBest)
    }

    /// The tracker that decides when best.ckpt is rewritten: early stopping's, never stopping.
    public var bestTracker: EarlyStopping? {
        keepBest.map { EarlyStopping(.init(monitor: $0.monitor, patience: .max, mode: $0.mode, restoreBestWeights: true)) }
    }
}

/// `train.lr_schedule`: a schedule from the registry (`type`, then its parameters) and a warmup
/// (`warmup_steps` / `warmup_epochs`, which every type takes). Written as a mapping, or as just
/// the type when it needs no parameters: `lr_schedule: constant`.
public struct ScheduleSpec: Sendable, Encodable {
    public var schedule: any LearningRateSchedule = ConstantRate()
    public var warmup = Warmup()

    public init(schedule: any LearningRateSchedule = ConstantRate(), warmup: Warmup = Warmup()) {
        self.schedule = schedule
        self.warmup = warmup
    }

    /// `type`, the schedule's parameters, then the warmup keys, in one mapping.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: NameKey.self)
        try c.encode(schedule.name, forKey: NameKey("type"))
        try schedule.configuration.encode(to: encoder)
        try warmup.encode(to: encoder)
    }
}

public struct EvaluateSpec: Sendable, Codable {
    /// Images per forward pass when evaluating (default: train.batch_size).
    public var batchSize: Int?
    enum CodingKeys: String, CodingKey { case batchSize = "batch_size" }
}

/// A parsed, validated experiment file.
public struct ExperimentSpec {
    /// Names the results folder and the model (default: the file's name without extension).
    public var name: String
    /// Free text, copied into the reports.
    public var description: String?
    /// The one seed every random stream derives from.
    public var seed: UInt64 = 42
    public var data = DataSpec()
    public var preprocess = PreprocessSpec()
    var model: ModelSpec
    var compile: CompileSpec
    public var train = TrainSpec()
    public var evaluate = EvaluateSpec()
    /// `expect:` — conditions the finished run's results must meet (accuracy gates). Recorded in
    /// report.json; not part of the experiment's hash, since they do not change the training.
    public var expect: [Expectation] = []
    /// `published:` — the published figure this experiment reproduces and its source; shown by
    /// `runner compare` beside the reproduced one, not part of the hash either.
    public var published: Published?
    /// `sweep:` — the grid of values and the seeds that make this file a batch of runs
    /// (`runner compare`); nil for a single experiment, and for each point of a sweep.
    public var sweep: SweepSpec?
    /// For a point of a sweep: the values it was given, in the sweep's order (seed last).
    public var assignments: [SweepAssignment] = []

    /// The file it came from and its YAML tree, for locating errors found later (model building).
    let source: SourceText
    let root: Node
    /// The name when `name:` is absent (the file's name).
    let defaultName: String
}

// MARK: - Decoding

extension ExperimentSpec {
    enum Keys: String, CodingKey {
        case name, description, seed, data, preprocess, model, compile, train, evaluate, published, expect, sweep
        /// Resolved before decoding (FileLayers.swift); asked for so that a misspelling is caught.
        case extends
    }

    init(from decoder: NodeDecoder, defaultName: String) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        _ = c.contains(.extends)
        name = try c.decode(.name, default: defaultName, expected: "a name of letters, digits, '-', '_' or '.'") {
            (s: String) in !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        }
        description = try c.decodeIfPresent(String.self, forKey: .description)
        seed = try c.decode(.seed, default: 42)
        data = try c.decodeIfPresent(DataSpec.self, forKey: .data) ?? DataSpec()
        preprocess = try c.decodeIfPresent(PreprocessSpec.self, forKey: .preprocess) ?? PreprocessSpec()
        model = try c.decode(ModelSpec.self, forKey: .model)
        compile = try c.decode(CompileSpec.self, forKey: .compile)
        train = try c.decodeIfPresent(TrainSpec.self, forKey: .train) ?? TrainSpec()
        evaluate = try c.decodeIfPresent(EvaluateSpec.self, forKey: .evaluate) ?? EvaluateSpec()
        published = try c.decodeIfPresent(Published.self, forKey: .published)
        let expectations = try c.decodeIfPresent(ExpectSpec.self, forKey: .expect)
        expect = expectations?.expectations ?? []
        if train.validationSplit == 0, let i = expect.firstIndex(where: \.metric.needsValidation) {
            throw ConfigError(codingPath: c.codingPath + [Keys.expect, NameKey(expect[i].metric.rawValue)],
                              message: "'\(expect[i].metric.rawValue)' needs a validation split to be measured",
                              hint: "set train.validation_split (e.g. 0.1), or expect test_accuracy / test_loss")
        }
        sweep = try c.decodeIfPresent(SweepSpec.self, forKey: .sweep)
        source = decoder.source
        root = decoder.node
        self.defaultName = defaultName
    }
}

extension DataSpec: Decodable {
    enum CodingKeys: String, CodingKey { case dataset, directory, mirrors }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try c.decode(.dataset, default: "mnist")
        if !Catalog.knownNames.contains(dataset) {
            throw ConfigError(codingPath: c.codingPath + [CodingKeys.dataset], message: "unknown dataset '\(dataset)'",
                              hint: Spelling.hint(for: dataset, among: Catalog.knownNames, kind: "datasets"))
        }
        directory = try c.decodeIfPresent(String.self, forKey: .directory)
        mirrors = try c.decodeIfPresent([String].self, forKey: .mirrors)
    }
}

extension PreprocessSpec {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scale = try c.decode(.scale, default: 255, expected: "a positive number") { (s: Float) in s > 0 && s.isFinite }
        oneHot = try c.decode(.oneHot, default: true)
        standardize = try c.decode(.standardize, default: false)
        augment = try c.decodeIfPresent(AugmentSpec.self, forKey: .augment)?.augmentation ?? Augmentation()
    }
}

/// `preprocess.augment`, read with its ranges checked.
struct AugmentSpec: Decodable {
    let augmentation: Augmentation
    enum CodingKeys: String, CodingKey { case shift, rotation, zoom }
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        augmentation = Augmentation(
            shift: try c.decode(.shift, default: 0, expected: "a fraction of the image size in [0, 1]") {
                (s: Float) in s >= 0 && s <= 1
            },
            rotation: try c.decode(.rotation, default: 0, expected: "an angle in degrees in [0, 180]") {
                (r: Float) in r >= 0 && r <= 180
            },
            zoom: try c.decode(.zoom, default: 0, expected: "in [0, 1)") { (z: Float) in z >= 0 && z < 1 })
    }
}

extension ModelSpec: Decodable {
    enum CodingKeys: String, CodingKey { case name, inputShape = "input_shape", layers }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        inputShape = try c.decodeIfPresent([Int].self, forKey: .inputShape)
        inputShapePath = c.codingPath + [CodingKeys.inputShape]
        if let inputShape, inputShape.isEmpty || inputShape.contains(where: { $0 <= 0 }) {
            throw ConfigError(codingPath: inputShapePath,
                              message: "'input_shape' must be a list of positive sizes, found \(inputShape)",
                              hint: "MNIST images are [28, 28] (or [28, 28, 1] for convolutions)")
        }
        layers = try c.decode([TypedEntry].self, forKey: .layers)
        if layers.isEmpty {
            throw ConfigError(codingPath: c.codingPath + [CodingKeys.layers], message: "the model has no layers",
                              hint: "list at least one layer, e.g. `- type: dense` with `units: 10`")
        }
    }
}

extension CompileSpec: Decodable {
    enum CodingKeys: String, CodingKey { case optimizer, loss, metrics }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        optimizer = try c.decode(TypedEntry.self, forKey: .optimizer)
        loss = try c.decode(TypedEntry.self, forKey: .loss)
        metrics = try c.decode(.metrics, default: ["accuracy"])
        for (i, metric) in metrics.enumerated() where metric != "accuracy" {
            throw ConfigError(codingPath: c.codingPath + [CodingKeys.metrics, IndexKey(i)],
                              message: "unknown metric '\(metric)'",
                              hint: Spelling.hint(for: metric, among: ["accuracy"], kind: "metrics")
                                  + " (loss is always reported)")
        }
    }
}

extension TrainSpec: Decodable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(.epochs, default: 1, expected: "a positive integer") { (e: Int) in e > 0 }
        batchSize = try c.decode(.batchSize, default: 32, expected: "a positive integer") { (b: Int) in b > 0 }
        if c.contains(.maxSteps), try !c.decodeNil(forKey: .maxSteps) {
            maxSteps = try c.decode(.maxSteps, expected: "a positive number of steps") { (s: Int) in s > 0 }
        }
        shuffle = try c.decode(.shuffle, default: true)
        validationSplit = try c.decode(.validationSplit, default: 0, expected: "in [0, 1)") { (v: Double) in
            v >= 0 && v < 1
        }
        lrSchedule = try c.decodeIfPresent(ScheduleSpec.self, forKey: .lrSchedule) ?? ScheduleSpec()
        earlyStopping = try Self.monitored(c, .earlyStopping, "early stopping", validationSplit: validationSplit,
                                           monitor: \EarlyStopping.Config.monitor)
        reduceOnPlateau = try Self.monitored(c, .reduceOnPlateau, "reduce_on_plateau", validationSplit: validationSplit,
                                             monitor: \ReduceLROnPlateau.Config.monitor)
        checkpoint = try c.decodeIfPresent(CheckpointSpec.self, forKey: .checkpoint) ?? CheckpointSpec()
        tensorboard = try c.decode(.tensorboard, default: false)
        if let best = checkpoint.keepBest, best.monitor.isValidation && validationSplit == 0 {
            throw ConfigError(codingPath: c.codingPath + [CodingKeys.checkpoint, CheckpointSpec.CodingKeys.keepBest],
                              message: "keep_best monitors '\(best.monitor.rawValue)', "
                                  + "but there is no validation split to compute it on",
                              hint: "set train.validation_split (e.g. 0.1), or monitor loss or accuracy")
        }
    }
}

extension TrainSpec {
    /// A callback's section (early_stopping, reduce_on_plateau), refused when it watches a val_*
    /// metric without a validation split (the error points at `monitor` when it was written).
    static func monitored<Config: Decodable>(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys, _ what: String,
                                             validationSplit: Double,
                                             monitor: KeyPath<Config, EarlyStopping.Monitor>) throws -> Config? {
        guard let entry = try c.decodeIfPresent(MonitorEntry<Config>.self, forKey: key) else { return nil }
        let watched = entry.config[keyPath: monitor]
        if watched.isValidation && validationSplit == 0 {
            throw ConfigError(codingPath: c.codingPath + [key] + (entry.monitorGiven ? [NameKey("monitor")] : []),
                              message: "\(what) monitors '\(watched.rawValue)', but there is no validation split to compute it on",
                              hint: "set train.validation_split (e.g. 0.1), or monitor loss or accuracy")
        }
        return entry.config
    }
}

extension CheckpointSpec: Decodable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        everyEpochs = try c.decode(.everyEpochs, default: 1, expected: "a non-negative integer") { (n: Int) in n >= 0 }
        everySteps = try c.decode(.everySteps, default: 0, expected: "a non-negative integer") { (n: Int) in n >= 0 }
        keepLast = try c.decode(.keepLast, default: 2, expected: "a positive integer") { (n: Int) in n > 0 }
        keepBest = try c.decodeIfPresent(KeepBest.self, forKey: .keepBest)
    }
}

extension CheckpointSpec.KeepBest {
    enum CodingKeys: String, CodingKey { case monitor, mode }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        monitor = try c.decodeChoice(.monitor, default: .valLoss)
        mode = try c.decodeChoice(.mode, default: .auto)
    }
}

extension ScheduleSpec: Decodable {
    public init(from decoder: Decoder) throws {
        let decoder = decoder as! NodeDecoder
        let type: String, typePath: [any CodingKey], parameters: NodeDecoder
        if case .scalar(let s) = decoder.node {
            type = try String(from: decoder)
            typePath = decoder.codingPath
            parameters = NodeDecoder(node: .mapping(Node.Mapping([], .implicit, .block, s.mark)),
                                     codingPath: decoder.codingPath, source: decoder.source)
        } else {
            let c = try decoder.container(keyedBy: NameKey.self)
            type = try c.decode(String.self, forKey: NameKey("type"))
            typePath = decoder.codingPath + [NameKey("type")]
            parameters = decoder
        }
        if type == "reduce_on_plateau" {
            throw ConfigError(codingPath: typePath,
                              message: "reduce_on_plateau is not a schedule type: it is train.reduce_on_plateau "
                                  + "(Keras's ReduceLROnPlateau callback), which multiplies any schedule's rate",
                              hint: "write `reduce_on_plateau: {monitor: val_loss, factor: 0.1, patience: 10}` under train:")
        }
        schedule = try Schedules.registry.lookup(type, codingPath: typePath)(parameters)
        warmup = try Warmup(from: parameters)
        if type == "warmup" && warmup.isNone {
            throw ConfigError(codingPath: typePath, message: "a 'warmup' schedule needs a warmup length",
                              hint: "add `warmup_steps: N` or `warmup_epochs: N`")
        }
    }
}

/// `train.early_stopping` or `train.reduce_on_plateau`, remembering whether `monitor` was written
/// (errors about it point there).
struct MonitorEntry<Config: Decodable>: Decodable {
    let config: Config
    let monitorGiven: Bool
    init(from decoder: Decoder) throws {
        config = try Config(from: decoder)
        monitorGiven = try decoder.container(keyedBy: NameKey.self).contains(NameKey("monitor"))
    }
}

extension EvaluateSpec {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.batchSize) {
            batchSize = try c.decode(.batchSize, expected: "a positive integer") { (b: Int) in b > 0 }
        }
    }
}

// MARK: - Reading a file

extension ExperimentSpec {
    /// Parses and validates the experiment file at `path` (the model is built separately), with
    /// the files it extends and the `settings` (`--set key.path=value`) put in.
    public static func load(path: String, settings: [String] = []) throws -> ExperimentSpec {
        let text = try readText(path, what: "experiment file")
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try parse(text, path: path, defaultName: name, settings: settings)
    }

    /// The text of the file at `path`; `what` names it in errors ("experiment file").
    static func readText(_ path: String, what: String, at location: SourceLocation? = nil,
                         sourceLine: String? = nil) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw ExperimentError(location: location, message: exists && isDirectory.boolValue
                ? "\(path) is a directory, not an experiment file"
                : "cannot read \(what) \(path): " + (exists ? "permission denied" : "no such file"),
                hint: exists ? nil : location == nil ? "the shipped experiments are in experiments/, e.g. experiments/mlp.yaml"
                    : "the path is relative to the file that names it", sourceLine: sourceLine)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ExperimentError(location: SourceLocation(file: path, line: 1, column: 1),
                                  message: "the file is not UTF-8 text")
        }
        return text
    }

    /// Parses experiment YAML `text`; `path` is used in messages and to resolve relative paths
    /// (`extends:`, `data.directory`). `settings` as in `load`.
    public static func parse(_ text: String, path: String, defaultName: String = "experiment",
                             settings: [String] = []) throws -> ExperimentSpec {
        var source = SourceText(path: path, text: text)
        let root = try resolvingExtends(try topMapping(text, source: source), path: path, source: &source,
                                        chain: [canonicalPath(path)])
        let assignments = try settings.map { try setting($0, source: &source) }
        return try decode(root, source: source, defaultName: defaultName).applying(assignments)
    }

    /// The tree of the last part of `source` (`text`), which must be a mapping of sections.
    static func topMapping(_ text: String, source: SourceText) throws -> Node {
        let part = source.parts[source.parts.count - 1]
        guard let root = try source.composeLast(text) else {
            throw ExperimentError(location: SourceLocation(file: part.path, line: 1, column: 1),
                                  message: "the experiment file is empty",
                                  hint: "start from experiments/mlp.yaml")
        }
        guard case .mapping = root else {
            throw source.error(at: root.mark, path: [], "expected a mapping of sections (data, model, compile, "
                               + "train, …) at the top of the file, found \(describe(root))")
        }
        return root
    }

    /// The experiment a YAML tree of `source` describes (the file's own tree, or a sweep point's:
    /// the file's tree with values put in, which keep their places in the file for errors).
    static func decode(_ root: Node, source: SourceText, defaultName: String) throws -> ExperimentSpec {
        do {
            let decoder = NodeDecoder(node: root, codingPath: [], source: source)
            let spec = try ExperimentSpec(from: decoder, defaultName: defaultName)
            try decoder.checkUnknownKeys()
            return spec
        } catch {
            throw locate(error, root: root, source: source)
        }
    }

    static func syntaxError(_ error: YamlError, source: SourceText) -> ExperimentError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text))" } ?? ""
            return source.error(at: mark, path: [], "YAML syntax: \(problem)\(detail)",
                                hint: "check indentation and that every `key:` has a space after the colon")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams rejects duplicates before the decoder sees them and marks only the first one.
            let name = duplicates.first ?? ""
            let first = SourceLocation(file: source.path, line: context.mark.line, column: context.mark.column)
            let again = source.repeated(key: name, after: first)
            return ExperimentError(location: again ?? first, message: "duplicate key '\(name)'",
                                   hint: (again == nil ? "" : "first given at line \(first.line); ")
                                       + "a key may appear only once in a mapping",
                                   sourceLine: source.line(at: (again ?? first).line))
        case .reader(let problem, let offset, _, _):
            return ExperimentError(location: SourceLocation(file: source.path, line: 1, column: 1),
                                   message: "YAML: \(problem)" + (offset.map { " at byte \($0)" } ?? ""))
        default:
            return ExperimentError(location: SourceLocation(file: source.path, line: 1, column: 1),
                                   message: "YAML: \(error)")
        }
    }
}
