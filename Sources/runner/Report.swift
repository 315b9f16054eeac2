// `runner report`: the command line of rebuilding pages; the work is in
// Experiments/Reports/Rebuild.swift.
import ArgumentParser
import Experiments
import Foundation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw report.html and report.ipynb (or comparison.html and .ipynb) again from a folder's files.",
        discussion: """
            Each FOLDER is a run folder (results/<name>/<run>, with report.json) or a comparison folder \
            (results/comparisons/<name>, with comparison.json). Nothing is trained: the pages are made from \
            report.json, experiment.yaml and report-data.bin (the test set's predictions and the digits shown), \
            and the same folder always gives the same bytes. Runs made before report-data.bin existed get every \
            picture report.json allows; --evaluate makes their report-data.bin first, from the run's final \
            checkpoint and the test set.
            """)

    @Argument(help: ArgumentHelp("Run folders or comparison folders.", valueName: "folder"), completion: .directory)
    var folders: [String]

    @Flag(help: "Make report-data.bin for run folders that lack it (loads final.ckpt and the dataset; no training).")
    var evaluate = false

    @Option(name: .customLong("data-dir"), help: "With --evaluate: the directory holding the dataset (default: the run's).",
            completion: .directory)
    var dataDir: String?

    @Option(help: "With --evaluate: threads to compute with (default: all cores).")
    var threads: Int?

    func validate() throws {
        if folders.isEmpty { throw ValidationError("give at least one run or comparison folder") }
        try validateThreads(threads)
    }

    func run() throws {
        var options = RunOptions()
        options.dataDirectory = dataDir
        options.threads = threads
        let console = Console(mode: .plain)
        try reportingErrors {
            for rebuilt in try ReportRebuilder.rebuild(folders, evaluate: evaluate, options: options, console: console) {
                for file in rebuilt.files { console.result("Wrote \(file)") }
                if let note = rebuilt.note { console.result("Note: \(note)") }
            }
        }
    }
}
