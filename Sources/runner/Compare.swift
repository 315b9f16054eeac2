// `runner compare`: the command line of batches and comparisons; the work is in
// Experiments/BatchRunner.swift.
import ArgumentParser
import Experiments
import Foundation

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run several experiments (and the points of their sweeps), then compare them in one table.",
        discussion: """
            Each experiment runs as its own `runner` process, N at a time (-j), or is reused when a finished \
            run of the same experiment (same experiment_sha256) is in --results-dir; an interrupted one resumes \
            from its checkpoint. So running the same command again finishes a batch that was stopped.

            Writes comparison.json, comparison.csv and comparison.md into the comparison folder (default \
            <results-dir>/comparisons/<names>), with each run's log in logs/ and the experiment it ran in points/.

            Sharding: --shard I/N runs the points i with i mod N = I-1 (i from 0, in batch order). In a Slurm job \
            array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, \
            with --shard-count or $RUNNER_SHARD_COUNT) the shard comes from the environment. Merge the shards' \
            folders with `runner compare --from DIR…`.

            Exit status: 0 every run finished and met its `expect:`; 3 every run finished, some missed `expect:`; \
            1 some run failed, was interrupted, or (merging) is missing; 64 bad command line; 130 interrupted.
            """)

    @Argument(help: ArgumentHelp("Experiment files, folders of them, or glob patterns.", valueName: "file"),
              completion: .file(extensions: ["yaml", "yml"]))
    var files: [String] = []

    @Option(name: .customLong("from"), parsing: .upToNextOption,
            help: ArgumentHelp("Merge these comparison folders (written by other machines or shards) instead of running.",
                               valueName: "dir"),
            completion: .directory)
    var from: [String] = []

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "Runs at once, each a separate process.")
    var jobs = 1

    @Option(help: "Threads of each run (default: the cores divided by -j, at least 1).")
    var threads: Int?

    @Flag(help: "Keep going after a run fails (the default), or stop at the first failure or missed expectation.")
    var failure: FailurePolicy = .keepGoing

    @Option(help: ArgumentHelp("Order of the tables: the batch's, by name, best test accuracy or loss first, "
                               + "shortest training, fastest, least memory, fewest parameters.", valueName: "key"))
    var sort: ComparisonSort = .order

    @Flag(name: .customLong("only-changed"),
          help: "Show only the experiment keys whose values differ between runs (console and comparison.md).")
    var onlyChanged = false

    @Option(help: ArgumentHelp("Run only the I-th of N slices of the batch (I from 1).", valueName: "I/N"))
    var shard: String?

    @Option(name: .customLong("shard-count"),
            help: "How many shards there are, with the index from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID.")
    var shardCount: Int?

    @Option(name: [.customShort("o"), .customLong("output")], help: "The comparison folder.", completion: .directory)
    var output: String?

    @Option(name: .customLong("results-dir"), help: "Where run folders are written and looked for.", completion: .directory)
    var resultsDir = "results"

    @Option(name: .customLong("data-dir"), help: "Directory holding the dataset's IDX files.", completion: .directory)
    var dataDir: String?

    @Option(help: "Override train.epochs of every run.")
    var epochs: Int?

    @Option(name: .customLong("batch-size"), help: "Override train.batch_size of every run.")
    var batchSize: Int?

    @Option(name: .customLong("set"),
            help: ArgumentHelp("Set a key of every experiment (repeatable), e.g. --set train.epochs=2; the value is YAML.",
                               valueName: "key.path=value"))
    var settings: [String] = []

    @Flag(help: "Print only failures and the comparison.")
    var quiet = false

    enum FailurePolicy: EnumerableFlag {
        case keepGoing, failFast
    }

    func validate() throws {
        if files.isEmpty && from.isEmpty { throw ValidationError("give experiment files to run, or --from DIR… to merge") }
        if !files.isEmpty && !from.isEmpty { throw ValidationError("give experiment files or --from, not both") }
        if jobs < 1 || jobs > 256 { throw ValidationError("-j must be between 1 and 256, got \(jobs)") }
        try validateThreads(threads)
        if let shard, Shard(shard) == nil {
            throw ValidationError("--shard must be I/N with 1 ≤ I ≤ N, got '\(shard)'")
        }
        if let shardCount, shardCount < 1 { throw ValidationError("--shard-count must be at least 1, got \(shardCount)") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        var options = BatchOptions()
        options.jobs = jobs
        options.threads = threads
        options.failFast = failure == .failFast
        options.resultsDirectory = resultsDir
        options.dataDirectory = dataDir
        options.output = output
        options.epochs = epochs
        options.batchSize = batchSize
        options.settings = settings
        options.sort = sort
        options.onlyChanged = onlyChanged
        let console = Console(mode: quiet ? .quiet : .plain)
        var status: BatchStatus = .passed
        try reportingErrors {
            if let shard {
                options.shard = Shard(shard)
                options.shardSource = "--shard"
            } else if from.isEmpty, let (shard, source) = try Shard.fromEnvironment(ProcessInfo.processInfo.environment,
                                                                                   count: shardCount) {
                options.shard = shard
                options.shardSource = source
            } else if let shardCount {
                throw ExperimentError(message: "--shard-count \(shardCount) needs a shard index from the environment "
                                      + "(JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID), and there is none",
                                      hint: "outside a job array, pass --shard I/N")
            }
            status = from.isEmpty ? try BatchRunner.compare(files, options: options, console: console)
                : try BatchRunner.merge(from, options: options, console: console)
        }
        switch status {
        case .passed: return
        case .missedExpectations: throw ExitCode(3)
        case .failed: throw ExitCode(1)
        case .interrupted: throw ExitCode(130)
        }
    }
}

extension ComparisonSort: ExpressibleByArgument {}
