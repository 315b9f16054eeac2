// `runner runs`: the command line of run listings; the work is in Experiments/Listing/.
import ArgumentParser
import Experiments

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the runs in a results folder: status, epochs, test figures, time, memory.",
        discussion: """
            One line per run folder (results/<name>/<run>), read from its report.json — or, for a run \
            without one, its lock and newest checkpoint header. Status: finished, interrupted (a \
            checkpoint to resume), diverged, failed, running (another process holds the run's lock).

            --where takes the conditions of `expect:`, on test_accuracy, test_loss, accuracy, loss, \
            val_accuracy, val_loss, seconds_per_epoch, images_per_second or parameters: \
            --where 'test_accuracy >= 0.98' (repeatable; a run without the figure does not match).
            """)

    @Argument(help: ArgumentHelp("The results folder, or one experiment's folder in it.", valueName: "results-dir"),
              completion: .directory)
    var resultsDir = "results"

    @Option(name: .customLong("where"),
            help: ArgumentHelp("Only runs meeting this condition, e.g. 'test_accuracy >= 0.98' (repeatable).",
                               valueName: "condition"))
    var conditions: [String] = []

    @Option(help: ArgumentHelp("Order: when started (the default), name, status, best test accuracy or loss first, "
                               + "shortest, least memory.", valueName: "key"))
    var sort: RunSort = .started

    @Option(help: ArgumentHelp("Only the runs of this experiment (a shell pattern: 'mlp*').", valueName: "name"))
    var name: String?

    @Flag(help: "Print the runs as a JSON array (every figure, null where a run has none).")
    var json = false

    func run() throws {
        var query = RunQuery()
        query.conditions = conditions
        query.sort = sort
        query.name = name
        query.json = json
        try reportingErrors {
            try RunListing.list(resultsDir, query, console: Console(mode: .plain))
        }
    }
}

extension RunSort: ExpressibleByArgument {}
