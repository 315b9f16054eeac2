// The `runner` command line: argument parsing and exit codes only; the work is in Experiments.
//
// Exit codes: 0 success, 64 bad command line or experiment file (EX_USAGE), 1 runtime failure.
import ArgumentParser
import Experiments
import Foundation

@main
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Train and evaluate MNIST models described by YAML experiment files.",
        discussion: """
            Examples:
              runner experiments/mlp.yaml                 train, evaluate, write results/mlp/<run>/
              runner experiments/mlp.yaml --epochs 1      a quick look
              runner validate experiments/cnn.yaml        check the file and print the model summary

            Data is looked for in --data-dir, $RUNNER_DATA_DIR, the file's data.directory, the cache
            ($RUNNER_CACHE_DIR, else ~/.cache/mnist-runner), /usr/share/datasets/<name>/, and is
            otherwise downloaded and verified by SHA-256.
            """,
        subcommands: [Run.self, Validate.self],
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

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    var runOptions: RunOptions {
        var options = RunOptions()
        options.epochs = epochs
        options.seed = seed
        options.batchSize = batchSize
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

    func validate() throws {
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
    }

    func run() throws {
        var options = experiment.runOptions
        options.dataDirectory = dataDir
        options.resultsDirectory = resultsDir
        options.threads = threads
        try reportingErrors {
            _ = try ExperimentRunner.run(experiment.file, options: options, console: Console(mode: quiet ? .quiet : nil))
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

/// Prints an error the way users should see it and maps it to the exit code.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExperimentError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(64)
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data(("error: \(error)\n").utf8))
        throw ExitCode(1)
    }
}
