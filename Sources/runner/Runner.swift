// The `runner` command line: argument parsing and exit codes only; the work is in Experiments.
//
// Exit codes: 0 success, 64 bad command line or experiment file (EX_USAGE), 65 unusable
// checkpoint (EX_DATAERR), 130 stopped by SIGINT/SIGTERM after writing a checkpoint, 3 finished
// but missed an `expect:` condition, 1 runtime failure (a checkpoint that cannot be written too).
import ArgumentParser
import Datasets
import Experiments
import Foundation
import Training

@main
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Train and evaluate MNIST models described by YAML experiment files.",
        discussion: """
            Examples:
              runner experiments/mlp.yaml            train, test, write results/mlp/<run>/
              runner experiments/mlp.yaml --epochs 1 a quick look
              runner experiments/mlp.yaml --set model.layers[1].units=256 --tensorboard
                                                     a variant, with TensorBoard logs
              runner validate experiments/cnn.yaml   check it, print the model summary
              runner resume results/mlp/<run>        continue an interrupted run
              runner experiments/mlp.yaml --resume   resume its newest unfinished run
              runner evaluate results/mlp/latest     test metrics and confusion matrix
              runner predict results/mlp/latest my-digit.png
                                                     classify your own digits (PNG or PGM)
              runner export results/mlp/latest       the model as ONNX (model.onnx)
              runner report results/mlp/latest       draw its report.html and .ipynb again
              runner compare experiments/mlp.yaml experiments/cnn.yaml -j 2
                                                     run both, compare them in one table
              runner compare experiments/sweep-mlp.yaml
                                                     each sweep point, seeds averaged
              runner runs --where 'test_accuracy >= 0.98' --sort test_accuracy
                                                     the runs in results/, one line each

            Data is looked for in --data-dir, $RUNNER_DATA_DIR, the file's data.directory, the \
            cache ($RUNNER_CACHE_DIR, else ~/.cache/mnist-runner), /usr/share/datasets/<name>/, \
            and is otherwise downloaded and verified by SHA-256.

            Ctrl-C (SIGINT) or SIGTERM stops a run after the current step, writes a checkpoint and \
            exits with status 130. Exit status: 0 success, 3 the run missed its `expect:` \
            conditions, 64 bad command line or experiment file, 65 unusable checkpoint or image, \
            130 interrupted, 1 other failures.
            """,
        subcommands: [Run.self, Validate.self, Resume.self, Evaluate.self, Predict.self, Compare.self, Report.self,
                      Export.self, Runs.self],
        defaultSubcommand: Run.self)
}

/// Options every subcommand that reads an experiment file takes.
struct ExperimentOptions: ParsableArguments {
    @Argument(help: "The experiment file (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var file: String

    @Option(help: "Override train.epochs.")
    var epochs: Int?

    @Option(help: "Override the experiment's seed.")
    var seed: UInt64?

    @Option(name: .customLong("batch-size"), help: "Override train.batch_size.")
    var batchSize: Int?

    @Option(name: .customLong("set"),
            help: ArgumentHelp("Set a key of the experiment (repeatable), e.g. --set compile.optimizer.learning_rate=3e-4 "
                               + "--set model.layers[1].units=256; the value is YAML.", valueName: "key.path=value"))
    var settings: [String] = []

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    var runOptions: RunOptions {
        var options = RunOptions()
        options.epochs = epochs
        options.seed = seed
        options.batchSize = batchSize
        options.settings = settings
        return options
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the experiment, evaluate it on the test set and write its reports (the default).")

    @OptionGroup var experiment: ExperimentOptions

    @Option(name: .customLong("data-dir"), help: "Directory holding the dataset's IDX files.",
            completion: .directory)
    var dataDir: String?

    @Option(name: .customLong("results-dir"), help: "Where run folders are written.", completion: .directory)
    var resultsDir = "results"

    @Option(help: "Threads to compute with (default: all cores). The weights do not depend on it.")
    var threads: Int?

    @Flag(help: "Print only the final results.")
    var quiet = false

    @Flag(help: "Write TensorBoard event files into the run folder's tensorboard/ (train.tensorboard: true).")
    var tensorboard = false

    @Flag(help: "Continue the newest unfinished run of this experiment from its checkpoint (a new run if there is none).")
    var resume = false

    @Flag(help: "With --resume: continue even though the experiment changed since the run started.")
    var force = false

    func validate() throws {
        try validateThreads(threads)
        if force && !resume { throw ValidationError("--force only applies with --resume") }
    }

    func run() throws {
        var options = experiment.runOptions
        options.dataDirectory = dataDir
        options.resultsDirectory = resultsDir
        options.threads = threads
        options.resume = resume
        options.force = force
        options.tensorboard = tensorboard
        try reportingErrors {
            try gate(try ExperimentRunner.run(experiment.file, options: options, console: Console(mode: quiet ? .quiet : nil)))
        }
    }
}

func validateThreads(_ threads: Int?) throws {
    if let threads, threads < 1 || threads > 256 {
        throw ValidationError("--threads must be between 1 and 256, got \(threads)")
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue an interrupted run from its newest checkpoint, to the result it would have had.",
        discussion: """
            RUN is a run folder (results/<name>/<run>) or one of its checkpoints/*.ckpt. The run goes on in
            the same folder with the experiment it started with; if the experiment file changed since,
            the keys that differ are listed and nothing runs unless --force is given.
            """)

    @Argument(help: ArgumentHelp("A run folder or a checkpoint file.", valueName: "run"), completion: .directory)
    var target: String

    @Option(name: .customLong("data-dir"), help: "Directory holding the dataset's IDX files (default: the run's).",
            completion: .directory)
    var dataDir: String?

    @Option(help: "Threads to compute with (default: all cores). The weights do not depend on it.")
    var threads: Int?

    @Flag(help: "Print only the final results.")
    var quiet = false

    @Flag(help: "Continue even though the experiment file changed since the run started.")
    var force = false

    @Flag(help: "Write TensorBoard event files into the run folder's tensorboard/ from here on.")
    var tensorboard = false

    @Option(help: "Continue with this experiment file instead of the one the run started from (it must resolve to the same experiment unless --force).",
            completion: .file(extensions: ["yaml", "yml"]))
    var experiment: String?

    func validate() throws { try validateThreads(threads) }

    func run() throws {
        var options = RunOptions()
        options.dataDirectory = dataDir
        options.threads = threads
        options.force = force
        options.tensorboard = tensorboard
        try reportingErrors {
            try gate(try ExperimentRunner.resume(target, file: experiment, options: options,
                                                 console: Console(mode: quiet ? .quiet : nil)))
        }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test loss, accuracy and confusion matrix of a trained model.",
        discussion: """
            CHECKPOINT is a .ckpt file or a run folder (its final.ckpt, else its newest checkpoint). The
            model is rebuilt from the experiment stored in the checkpoint and fed the test images with the
            run's preprocessing, so a finished run gives the figures of its report.json.
            """)

    @Argument(help: ArgumentHelp("A checkpoint file or a run folder.", valueName: "checkpoint"), completion: .file())
    var target: String

    @Option(help: "The dataset whose test set to use: mnist or fashion-mnist (default: the one the model was trained on).")
    var dataset: String?

    @Option(name: .customLong("data-dir"), help: "Directory holding the dataset's IDX files (default: the run's).",
            completion: .directory)
    var dataDir: String?

    @Option(help: "Threads to compute with (default: all cores).")
    var threads: Int?

    @Flag(help: "Print only the final result.")
    var quiet = false

    func validate() throws { try validateThreads(threads) }

    func run() throws {
        var options = RunOptions()
        options.dataDirectory = dataDir
        options.threads = threads
        try reportingErrors {
            _ = try ExperimentRunner.evaluate(target, dataset: dataset, options: options,
                                              console: Console(mode: quiet ? .quiet : .plain))
        }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify your own digit images (PNG or PGM) with a trained model.",
        discussion: """
            Each image may be any size, dark ink on light paper or light on dark, color or gray. It is made
            the way MNIST's digits were: grayscale, inverted if its background is light, cropped to the
            digit, fitted into 20×20 keeping its aspect, and centred by its centre of mass in 28×28
            (--show prints that 28×28 image). Prints the predicted class and the top probabilities.
            """)

    @Argument(help: ArgumentHelp("A checkpoint file or a run folder.", valueName: "checkpoint"), completion: .file())
    var target: String

    @Argument(help: ArgumentHelp("PNG or PGM images of one digit each.", valueName: "image"),
              completion: .file(extensions: ["png", "pgm"]))
    var images: [String]

    @Option(help: "How many of the most probable classes to print.")
    var top = 3

    @Flag(help: "Print each image as the model sees it (28×28, as text).")
    var show = false

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        try reportingErrors {
            _ = try ExperimentRunner.predict(target, images: images, top: top, show: show, options: RunOptions(),
                                             console: Console(mode: .plain))
        }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an experiment file and print the model summary, without data or training.")

    @OptionGroup var experiment: ExperimentOptions

    func run() throws {
        try reportingErrors {
            try ExperimentRunner.validate(experiment.file, options: experiment.runOptions, console: Console(mode: .plain))
        }
    }
}

/// A finished run that missed an `expect:` condition exits with status 3 (its reports are written).
func gate(_ outcome: RunOutcome) throws {
    guard let result = outcome.report.expect, !result.passed else { return }
    let lines = result.missed.map { "error: missed expectation: \($0.description)" }
    FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    throw ExitCode(3)
}

/// Prints an error the way users should see it and maps it to the exit code.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExperimentError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(64)
    } catch let error as CheckpointError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(error.kind == .changedExperiment ? 64 : error.kind == .unwritable ? 1 : 65)
    } catch let error as ImageError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(65)
    } catch let error as RunInterrupted {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(130)
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data(("error: \(error)\n").utf8))
        throw ExitCode(1)
    }
}
