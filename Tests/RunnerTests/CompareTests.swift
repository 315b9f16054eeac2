// `runner compare` end to end on real MNIST, with small models and one or a few epochs: the table
// and its three files against the runs' report.json, a seed × learning-rate sweep killed with -9
// and finished by running it again, -j 2 against -j 1, shards merged against one batch, and
// failures (invalid file, missed gate, crashing run) reported with their logs and exit codes.
// Serialized: the batches use every core.
import Experiments
import Foundation
import Testing
import TestSupport

@Suite("runner compare: batches, sweeps, shards", .serialized)
struct CompareTests {
    init() throws {
        try #require(TestPaths.hasMNIST, "the MNIST .gz files are not in \(TestPaths.mnist) (set MNIST_DIR)")
    }

    @Test("two experiments: the table and comparison.json/.csv/.md carry each run's report.json figures; a second run reuses them")
    func compareTwo() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let mlp = try scratch.write(Fixture.mlp(name: "small-mlp"), to: "small-mlp.yaml")
        let cnn = try scratch.write(Fixture.cnn(name: "small-cnn"), to: "small-cnn.yaml")
        let results = scratch("results")
        let run = try runner(["compare", mlp, cnn, "--results-dir", results, "--data-dir", TestPaths.mnist], scratch: scratch)
        try #require(run.exited(0), "\(run)")
        let folder = results + "/comparisons/small-mlp-vs-small-cnn"
        let comparison = try decoded(ComparisonFile.self, folder + "/comparison.json")
        #expect(comparison.runs.map(\.label) == ["small-mlp", "small-cnn"])
        #expect(comparison.runs.map(\.status) == ["trained", "trained"])

        let csv = try CSV(path: folder + "/comparison.csv")
        let markdown = try String(contentsOfFile: folder + "/comparison.md", encoding: .utf8)
        for row in comparison.runs {
            let directory = try #require(row.run_directory)
            let report = try decoded(ReportFile.self, directory + "/report.json")
            let results = try #require(row.results, "\(row.label) has no results")
            // comparison.json: the report's numbers, exactly.
            #expect(results.parameters == report.parameters)
            #expect(results.epochs == report.epochs.count)
            #expect(results.test_accuracy == report.test.accuracy)
            #expect(results.test_loss == report.test.loss)
            #expect(results.train_seconds == report.timing.train_seconds)
            #expect(results.seconds_per_epoch == report.timing.seconds_per_epoch_median)
            #expect(results.images_per_second == report.timing.images_per_second)
            #expect(results.peak_memory_bytes == report.peak_memory_bytes)
            #expect(results.weight_sha256 == report.weight_sha256)
            #expect(row.experiment_sha256 == report.experiment_sha256)

            // comparison.csv: the same numbers, digit for digit.
            let line = try #require(csv.row(label: row.label), "no CSV line for \(row.label)")
            #expect(line["parameters"] == String(report.parameters))
            #expect(line["epochs"] == String(report.epochs.count))
            #expect(Double(line["test_accuracy"] ?? "") == report.test.accuracy)
            #expect(Double(line["test_loss"] ?? "") == report.test.loss)
            #expect(Double(line["train_seconds"] ?? "") == report.timing.train_seconds)
            #expect(Double(line["seconds_per_epoch"] ?? "") == report.timing.seconds_per_epoch_median)
            #expect(Double(line["images_per_second"] ?? "") == report.timing.images_per_second)
            #expect(line["peak_memory_bytes"] == String(report.peak_memory_bytes))
            #expect(line["weight_sha256"] == report.weight_sha256)

            // comparison.md and the console: the report's numbers as the table formats them.
            let cells = [row.label, "trained", grouped(report.parameters), String(report.epochs.count),
                         String(format: "%.2f%%", report.test.accuracy * 100), String(format: "%.4f", report.test.loss),
                         String(format: "%.2f", report.timing.train_seconds),
                         String(format: "%.2f", report.timing.seconds_per_epoch_median),
                         grouped(Int(report.timing.images_per_second.rounded())), bytes(report.peak_memory_bytes)]
            #expect(markdown.contains("| " + (cells + [report.weight_sha256]).joined(separator: " | ") + " |"),
                    "comparison.md lacks the row of \(row.label):\n\(markdown)")
            let consoleLine = run.stdout.split(separator: "\n").first { $0.hasPrefix(row.label + " ") }
            let consoleWords: [String]? = consoleLine.map { $0.split(separator: " ").map(String.init) }
            let expectedWords: [String] = cells.flatMap { $0.split(separator: " ").map(String.init) }
                + [String(report.weight_sha256.prefix(16))]
            #expect(consoleWords == expectedWords, "console:\n\(run.stdout)")
        }
        // comparison.html: both runs' curves overlaid on shared axes, accuracy against size and time,
        // recall per class, the digits the two disagree on; offline, a valid notebook, rebuilt exactly.
        let html = try String(contentsOfFile: folder + "/comparison.html", encoding: .utf8)
        PageChecks.selfContained(html)
        // Four charts (accuracy and loss, by epoch and by time), each with both runs (the CNN has no validation split).
        #expect(html.occurrences(of: ">small-mlp training<") == 4 && html.occurrences(of: ">small-cnn training<") == 4)
        #expect(html.occurrences(of: ">small-mlp validation<") == 4)
        #expect(html.contains("<title>Test accuracy against parameters</title>") && html.contains("<title>Recall per class</title>"))
        #expect(html.contains("Where the models disagree") && html.occurrences(of: ">Actual label: ") >= 10)
        #expect(html.contains(">small-mlp: ") && html.contains(">small-cnn: "))
        try PageChecks.renders(html, ink: 0.02, scratch: scratch)
        try PageChecks.validNotebook(folder + "/comparison.ipynb", scratch: scratch)
        try PageChecks.reproduced(folder, ["comparison.html", "comparison.ipynb"], scratch: scratch)
        #expect(run.stdout.hasSuffix("Report: \(folder)/comparison.html\n"), "\(run)")

        // The two models differ in their layers: a key that differs, with --only-changed.
        let again = try runner(["compare", mlp, cnn, "--results-dir", results, "--only-changed"], scratch: scratch)
        #expect(again.exited(0), "\(again)")
        let reused = try decoded(ComparisonFile.self, folder + "/comparison.json")
        #expect(reused.runs.map(\.status) == ["reused", "reused"], "\(again)")
        #expect(reused.runs.map(\.run_directory) == comparison.runs.map(\.run_directory))
        #expect(again.stdout.contains("Experiment keys that differ between the runs:"), "\(again)")
        #expect(again.stdout.contains("model.layers[0].type"), "\(again)")
        #expect(!again.stdout.contains("compile.optimizer.beta_1"), "an unchanged key is listed:\n\(again)")
        #expect(try runFolders(results + "/small-mlp").count == 1 && runFolders(results + "/small-cnn").count == 1)
    }

    @Test("a 3 seeds × 2 learning rates sweep: 6 runs, 2 rows of mean ± std; killed with -9 and run again, it finishes without redoing a run")
    func sweepKilledAndFinished() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let sweep = try scratch.write(Fixture.mlp(name: "sweep", epochs: 5, extra: """
              checkpoint: {every_steps: 100}
            sweep:
              grid:
                compile.optimizer.learning_rate: [0.001, 0.002]
              seeds: [1, 2, 3]

            """), to: "sweep.yaml")
        let results = scratch("results")
        let arguments = ["compare", sweep, "--results-dir", results, "--data-dir", TestPaths.mnist, "-j", "1"]

        // Kill the batch once two runs are done and a third has written a checkpoint early in its
        // training (no final.ckpt): it notices within 0.1 s that the batch is gone, long before
        // it would finish, checkpoints and stops.
        let batch = try runnerProcess(arguments, scratch: scratch)
        batch.standardOutput = FileHandle.nullDevice
        batch.standardError = FileHandle.nullDevice
        batch.standardInput = FileHandle.nullDevice
        try batch.run()
        var finishedBefore: Set<String> = [], interruptedBefore: String?
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let folders = try runFolders(results + "/sweep")
            finishedBefore = Set(folders.filter { runStatus(runDirectory: $0) == .finished })
            interruptedBefore = folders.first { folder in
                let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/checkpoints")) ?? []
                return runStatus(runDirectory: folder) != .finished
                    && checkpoints.contains { $0.hasPrefix("step-") } && !checkpoints.contains("final.ckpt")
            }
            if finishedBefore.count >= 2 && interruptedBefore != nil { break }
            usleep(20_000)
        }
        kill(batch.processIdentifier, SIGKILL)
        batch.waitUntilExit()
        let interrupted = try #require(interruptedBefore, "never saw two finished runs and a checkpointed third")
        #expect(finishedBefore.count >= 2 && finishedBefore.count < 6)

        let rerun = try runner(arguments, scratch: scratch)
        try #require(rerun.exited(0), "\(rerun)")
        let comparison = try decoded(ComparisonFile.self, results + "/comparisons/sweep/comparison.json")
        #expect(comparison.runs.count == 6)
        #expect(comparison.runs.map(\.label) == [
            "sweep[learning_rate=0.001, seed=1]", "sweep[learning_rate=0.001, seed=2]", "sweep[learning_rate=0.001, seed=3]",
            "sweep[learning_rate=0.002, seed=1]", "sweep[learning_rate=0.002, seed=2]", "sweep[learning_rate=0.002, seed=3]",
        ])
        #expect(Set(comparison.runs.compactMap(\.experiment_sha256)).count == 6)
        // Finished runs were reused as they were, the interrupted one resumed in its own folder,
        // and no run was started twice: one folder per point.
        let byFolder = Dictionary(comparison.runs.compactMap { row in row.run_directory.map { (standard($0), row) } },
                                  uniquingKeysWith: { a, _ in a })
        for folder in finishedBefore { #expect(byFolder[standard(folder)]?.status == "reused", "\(folder):\n\(rerun)") }
        let resumed = try #require(byFolder[standard(interrupted)], "the interrupted run \(interrupted) is not in the comparison")
        #expect(resumed.status == "resumed", "\(rerun)")
        #expect(try runFolders(results + "/sweep").count == 6)
        let resumedReport = try decoded(ReportFile.self, interrupted + "/report.json")
        #expect(resumedReport.resumes.count == 1)

        // Two groups of three seeds: mean and sample standard deviation of the rows' figures.
        #expect(comparison.seed_groups.map(\.label) == ["sweep[learning_rate=0.001]", "sweep[learning_rate=0.002]"])
        for group in comparison.seed_groups {
            let accuracies = comparison.runs.filter { $0.group == group.label }.compactMap { $0.results?.test_accuracy }
            #expect(accuracies.count == 3 && group.runs == 3 && group.completed == 3)
            let mean = accuracies.reduce(0, +) / 3
            let std = (accuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
            #expect(abs((group.test_accuracy?.mean ?? -1) - mean) < 1e-12)
            #expect(abs((group.test_accuracy?.std ?? -1) - std) < 1e-12)
        }
        #expect(rerun.stdout.contains("Across seeds (mean ± sample standard deviation):"), "\(rerun)")
        let markdown = try String(contentsOfFile: results + "/comparisons/sweep/comparison.md", encoding: .utf8)
        #expect(markdown.contains("## Across seeds"))
        // comparison.html draws each group's mean ± std as bands, by epoch and by time, for both metrics.
        let page = try String(contentsOfFile: results + "/comparisons/sweep/comparison.html", encoding: .utf8)
        #expect(page.occurrences(of: "class=\"band\"") == 2 * 2 * 4, "groups × {train, val} × charts")
        #expect(page.contains(">sweep[learning_rate=0.001] validation (3 seeds)<"))
        try PageChecks.renders(page, ink: 0.02, scratch: scratch)
        #expect(markdown.contains("| sweep[learning_rate=0.001] | 3 |"), "\(markdown)")

        // The resumed run ends where an uninterrupted one does.
        let alone = try runner(["run", resumedReport.experiment_file, "--results-dir", scratch("alone"),
                                "--data-dir", TestPaths.mnist, "--quiet"], scratch: scratch)
        #expect(alone.exited(0), "\(alone)")
        #expect(alone.weightHash == resumed.results?.weight_sha256, "the resumed run's weights differ from a run in one go")
    }

    @Test("-j 2 gives the same weights as -j 1, each run with half the cores")
    func parallelRuns() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let files = try [
            scratch.write(Fixture.mlp(name: "a", units: 16), to: "a.yaml"),
            scratch.write(Fixture.mlp(name: "b", units: 24, seed: 7), to: "b.yaml"),
            scratch.write(Fixture.cnn(name: "c"), to: "c.yaml"),
            scratch.write(Fixture.mlp(name: "d", units: 16, optimizer: "sgd"), to: "d.yaml"),
        ]
        var hashes: [String: [String: String]] = [:]
        for jobs in ["1", "2"] {
            let results = scratch("results-\(jobs)")
            let run = try runner(["compare"] + files + ["-j", jobs, "--results-dir", results, "--data-dir", TestPaths.mnist],
                                 scratch: scratch)
            #expect(run.exited(0), "\(run)")
            let comparison = try decoded(ComparisonFile.self, results + "/comparisons/a-vs-b-and-2-more/comparison.json")
            #expect(comparison.runs.map(\.label) == ["a", "b", "c", "d"])
            hashes[jobs] = Dictionary(uniqueKeysWithValues: comparison.runs.compactMap { row in
                row.results.map { (row.label, $0.weight_sha256) }
            })
            // Each child gets cores / jobs threads.
            let threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) / Int(jobs)!)
            for row in comparison.runs {
                let log = try String(contentsOfFile: try #require(row.log), encoding: .utf8)
                #expect(log.contains(", \(threads) thread\(threads == 1 ? "" : "s"), "), "\(row.label) -j \(jobs):\n\(log)")
            }
        }
        #expect(hashes["1"]?.count == 4)
        #expect(hashes["1"] == hashes["2"])
    }

    @Test("--shard 1/3, 2/3, 3/3 merged with --from equal one unsharded batch; the shard also comes from Slurm and Kubernetes variables")
    func shards() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let sweep = try scratch.write(Fixture.mlp(name: "sweep", extra: """
            sweep:
              grid:
                model.layers[1].units: [8, 16]
              seeds: [1, 2]

            """), to: "sweep.yaml")
        let other = try scratch.write(Fixture.mlp(name: "other", units: 12), to: "other.yaml")
        let common = [sweep, other, "--data-dir", TestPaths.mnist]
        let whole = try runner(["compare"] + common + ["--results-dir", scratch("whole"), "-o", scratch("whole-cmp")],
                               scratch: scratch)
        try #require(whole.exited(0), "\(whole)")
        var folders: [String] = []
        for i in 1...3 {
            let run = try runner(["compare"] + common + ["--shard", "\(i)/3", "--results-dir", scratch("r\(i)"),
                                                       "-o", scratch("shard\(i)")], scratch: scratch)
            #expect(run.exited(0), "\(run)")
            folders.append(scratch("shard\(i)"))
        }
        // Point i goes to shard (i mod 3) + 1.
        let parts = try folders.map { try decoded(ComparisonFile.self, $0 + "/comparison.json") }
        #expect(parts.map { $0.runs.map(\.index) } == [[0, 3], [1, 4], [2]])
        #expect(parts.map(\.batch.shard) == ["1/3", "2/3", "3/3"])

        let merge = try runner(["compare", "--from"] + folders + ["-o", scratch("merged")], scratch: scratch)
        #expect(merge.exited(0), "\(merge)")
        let merged = try decoded(ComparisonFile.self, scratch("merged") + "/comparison.json")
        let reference = try decoded(ComparisonFile.self, scratch("whole-cmp") + "/comparison.json")
        #expect(merged.runs.count == 5)
        #expect(merged.batch.sha256 == reference.batch.sha256)
        #expect(merged.runs.map(\.label) == reference.runs.map(\.label))
        #expect(merged.runs.map(\.experiment_sha256) == reference.runs.map(\.experiment_sha256))
        #expect(merged.runs.map { $0.results?.weight_sha256 } == reference.runs.map { $0.results?.weight_sha256 })
        #expect(merged.runs.map { $0.results?.test_accuracy } == reference.runs.map { $0.results?.test_accuracy })
        #expect(merged.runs.map { $0.results?.test_loss } == reference.runs.map { $0.results?.test_loss })
        #expect(merged.runs.map { $0.results?.parameters } == reference.runs.map { $0.results?.parameters })
        #expect(merged.seed_groups.map(\.label) == reference.seed_groups.map(\.label))
        #expect(merged.seed_groups.map { $0.test_accuracy?.mean } == reference.seed_groups.map { $0.test_accuracy?.mean })
        #expect(merged.seed_groups.map { $0.test_accuracy?.std } == reference.seed_groups.map { $0.test_accuracy?.std })
        #expect(merged.changed_keys == reference.changed_keys)
        #expect(merged.runs.allSatisfy { $0.results != nil })

        // A merge without the third shard says what is missing and fails.
        let partial = try runner(["compare", "--from", folders[0], folders[1], "-o", scratch("partial")], scratch: scratch)
        #expect(partial.exited(1), "\(partial)")
        let incomplete = try decoded(ComparisonFile.self, scratch("partial") + "/comparison.json")
        #expect(incomplete.runs.map(\.status) == ["reused", "reused", "missing", "reused", "reused"]
                    || incomplete.runs.map(\.status) == ["trained", "trained", "missing", "trained", "trained"], "\(partial)")

        // The shard from a job array's environment (the runs are reused from the shards above).
        let slurm = try runner(["compare"] + common + ["--results-dir", scratch("r2"), "-o", scratch("slurm")], scratch: scratch,
                               environment: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "3"])
        #expect(slurm.exited(0), "\(slurm)")
        let fromSlurm = try decoded(ComparisonFile.self, scratch("slurm") + "/comparison.json")
        #expect(fromSlurm.batch.shard == "2/3" && fromSlurm.runs.map(\.index) == [1, 4])
        #expect(fromSlurm.runs.map(\.status) == ["reused", "reused"])
        #expect(slurm.stdout.contains("shard 2/3 (SLURM_ARRAY_TASK_ID=1)"), "\(slurm)")
        let kubernetes = try runner(["compare"] + common + ["--results-dir", scratch("r3"), "-o", scratch("k8s")],
                                    scratch: scratch, environment: ["JOB_COMPLETION_INDEX": "2", "RUNNER_SHARD_COUNT": "3"])
        #expect(kubernetes.exited(0), "\(kubernetes)")
        let fromKubernetes = try decoded(ComparisonFile.self, scratch("k8s") + "/comparison.json")
        #expect(fromKubernetes.batch.shard == "3/3" && fromKubernetes.runs.map(\.index) == [2])
        let noCount = try runner(["compare"] + common + ["--results-dir", scratch("r3")], scratch: scratch,
                                 environment: ["JOB_COMPLETION_INDEX": "0"])
        #expect(noCount.exited(64), "\(noCount)")
        #expect(noCount.stderr.contains("--shard-count"), "\(noCount)")
    }

    @Test("failures: an invalid file, a missed gate and a crashing run are reported with their logs, the others finish, the exit code says so")
    func failures() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let good = try scratch.write(Fixture.mlp(name: "good"), to: "good.yaml")
        let gated = try scratch.write(Fixture.mlp(name: "gated") + "expect:\n  test_accuracy: \">= 0.999\"\n", to: "gated.yaml")
        let invalid = try scratch.write(Fixture.mlp(name: "invalid").replacingOccurrences(of: "units: 32", with: "unit: 32"),
                                        to: "invalid.yaml")
        let crashing = try scratch.write(Fixture.mlp(name: "crashing"), to: "crashing.yaml")
        let results = scratch("results")
        // A file where the run's results folder should be: the run fails when it starts (exit 1).
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        _ = try scratch.write("in the way", to: "results/crashing")
        let data = ["--data-dir", TestPaths.mnist]
        let run = try runner(["compare", good, gated, invalid, crashing, "--results-dir", results, "-j", "2"] + data,
                             scratch: scratch)
        #expect(run.exited(1), "\(run)")
        let folder = results + "/comparisons/good-vs-gated-and-2-more"
        let comparison = try decoded(ComparisonFile.self, folder + "/comparison.json")
        let rows = Dictionary(uniqueKeysWithValues: comparison.runs.map { ($0.name, $0) })
        #expect(rows["good"]?.status == "trained")
        #expect(rows["gated"]?.status == "trained")
        #expect(rows["gated"]?.expect?.passed == false)
        #expect(rows["invalid"]?.status == "invalid")
        #expect(rows["crashing"]?.status == "failed")
        // Each failure is shown as it happens, with its log, which holds the reason.
        for (name, reason) in [("invalid", "unknown key 'unit'"), ("crashing", "error")] {
            let log = try #require(rows[name]?.log)
            let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("✗") && $0.contains(name) && $0.contains(log) }
            #expect(line != nil, "no ✗ line with the log of \(name):\n\(run)")
            #expect(try String(contentsOfFile: log, encoding: .utf8).contains(reason), "\(log)")
            #expect(rows[name]?.error?.contains(reason) == true, "\(String(describing: rows[name]?.error))")
        }
        #expect(run.stdout.split(separator: "\n").contains { $0.hasPrefix("✗") && $0.contains("gated") && $0.contains("MISSED") },
                "\(run)")
        let csv = try CSV(path: folder + "/comparison.csv")
        #expect(csv.row(label: "gated")?["expect_passed"] == "false")
        #expect(csv.row(label: "good")?["expect_passed"] == "")
        let markdown = try String(contentsOfFile: folder + "/comparison.md", encoding: .utf8)
        #expect(markdown.contains("MISSED test_accuracy >= 0.999"), "\(markdown)")
        #expect(markdown.contains("## Problems"))

        // Only a missed gate: exit 3 (both runs reused).
        let gateOnly = try runner(["compare", good, gated, "--results-dir", results] + data, scratch: scratch)
        #expect(gateOnly.exited(3), "\(gateOnly)")
        // --fail-fast: the gate is missed first, so the good run is not started.
        let fast = try runner(["compare", gated, good, "--fail-fast", "--results-dir", scratch("fast")] + data,
                              scratch: scratch)
        #expect(fast.exited(1), "\(fast)")
        let stopped = try decoded(ComparisonFile.self, scratch("fast") + "/comparisons/gated-vs-good/comparison.json")
        #expect(stopped.runs.map(\.status) == ["trained", "not run"], "\(fast)")
    }

    @Test("a single run honours expect: report.json records it, a missed gate exits 3")
    func singleRunGate() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        for (condition, status) in [("\">= 0.5\"", Int32(0)), ("\">= 99.9%\"", Int32(3))] {
            let file = try scratch.write(Fixture.mlp(name: "gate") + "expect:\n  test_accuracy: \(condition)\n  test_loss: \"< 10\"\n",
                                         to: "gate.yaml")
            let run = try runner(["run", file, "--data-dir", TestPaths.mnist, "--results-dir", scratch("results"), "--quiet"],
                                 scratch: scratch)
            #expect(run.exited(status), "\(run)")
            let folder = run.stdout.split(separator: "\n").first { $0.hasPrefix("Reports: ") }
                .map { String($0.dropFirst("Reports: ".count).prefix { $0 != " " }) }
            let report = try decoded(ReportFile.self, try #require(folder) + "report.json")
            #expect(report.expect?.passed == (status == 0))
            #expect(report.expect?.checks.map(\.metric) == ["test_accuracy", "test_loss"])
            #expect(report.expect?.checks.first?.value == report.test.accuracy)
            if status == 3 {
                #expect(run.stderr.contains("error: missed expectation: test_accuracy = \(report.test.accuracy), expected >= 99.9%"),
                        "\(run)")
            }
        }
    }
}

@Suite("runner compare: command line")
struct CompareCLITests {
    @Test("runner compare --help describes the options; runner --help lists compare")
    func help() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let help = try runner(["compare", "--help"], scratch: scratch)
        #expect(help.exited(0), "\(help)")
        for option in ["--from", "--jobs", "--threads", "--keep-going/--fail-fast", "--sort", "--only-changed", "--shard",
                       "--shard-count", "--output", "--results-dir", "--data-dir", "--epochs", "SLURM_ARRAY_TASK_ID",
                       "JOB_COMPLETION_INDEX", "Exit status"] {
            #expect(help.stdout.contains(option), "compare --help lacks \(option):\n\(help.stdout)")
        }
        let top = try runner(["--help"], scratch: scratch)
        #expect(top.stdout.contains("compare"), "\(top)")
    }

    @Test("bad compare command lines exit 64 and say what is wrong", arguments: [
        (["compare"], "give experiment files to run, or --from"),
        (["compare", "experiments/mlp.yaml", "--from", "x"], "not both"),
        (["compare", "experiments/mlp.yaml", "-j", "0"], "-j must be between 1 and 256"),
        (["compare", "experiments/mlp.yaml", "--shard", "0/2"], "--shard must be I/N"),
        (["compare", "experiments/mlp.yaml", "--shard", "3"], "--shard must be I/N"),
        (["compare", "experiments/mlp.yaml", "--sort", "best"], "--sort"),
        (["compare", "experiments/mlp.yaml", "--shard-count", "3"], "needs a shard index from the environment"),
        (["compare", "--from", "no-such-folder"], "cannot read no-such-folder/comparison.json"),
        (["compare", "experiments/*.yml"], "no experiment file matches"),
    ])
    func usage(_ arguments: [String], _ message: String) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let result = try runner(arguments + ["--results-dir", scratch("results")], scratch: scratch)
        #expect(result.exited(64), "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: scratch("results/comparisons")), "\(result)")
    }

    @Test("runner validate checks every point of experiments/sweep-mlp.yaml; runner run refuses a sweep")
    func sweepFile() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let validate = try runner(["validate", "experiments/sweep-mlp.yaml"], scratch: scratch)
        #expect(validate.exited(0), "\(validate)")
        #expect(validate.stdout.contains("sweep: 6 runs (2 values of compile.optimizer.learning_rate × 3 seeds), each valid:"))
        #expect(validate.stdout.contains("sweep-mlp[learning_rate=0.0005, seed=3]: 101,770 parameters, 5 epochs, batch 32"),
                "\(validate)")
        let run = try runner(["experiments/sweep-mlp.yaml", "--data-dir", scratch("none"), "--results-dir", scratch("results")],
                             scratch: scratch)
        #expect(run.exited(64), "\(run)")
        #expect(run.stderr.contains("this file is a sweep of 6 runs"), "\(run)")
        #expect(run.stderr.contains("runner compare experiments/sweep-mlp.yaml"), "\(run)")
    }
}

// MARK: - Fixtures and readers

enum Fixture {
    /// A small MLP (1 epoch of batches of 64, validation split 0.1): about a second of training.
    static func mlp(name: String, units: Int = 32, seed: Int = 42, epochs: Int = 1, optimizer: String = "adam",
                    extra: String = "") -> String {
        "name: \(name)\nseed: \(seed)\n"
            + ExperimentYAML.mlp(units: units, optimizer: optimizer, epochs: epochs, batchSize: 64)
            + "  validation_split: 0.1\n" + extra
    }

    /// A small convolutional net: 4 filters of 3×3, max pooling, softmax.
    static func cnn(name: String) -> String {
        """
        name: \(name)
        model:
          input_shape: [28, 28, 1]
          layers:
            - type: conv2d
              filters: 4
              kernel_size: 3
              activation: relu
            - type: max_pooling2d
            - type: flatten
            - type: dense
              units: 10
              activation: softmax
        compile:
          optimizer: adam
          loss: categorical_crossentropy
        train:
          epochs: 1
          batch_size: 128

        """
    }
}

/// The parts of comparison.json the tests read.
struct ComparisonFile: Decodable {
    struct Results: Decodable {
        let parameters, epochs, peak_memory_bytes: Int
        let test_accuracy, test_loss, train_seconds, seconds_per_epoch, images_per_second: Double
        let weight_sha256: String
    }
    struct Expect: Decodable {
        struct Check: Decodable { let metric: String; let value: Double?; let passed: Bool }
        let passed: Bool
        let checks: [Check]
    }
    struct Row: Decodable {
        let index: Int
        let label, group, name, status: String
        let experiment_sha256, run_directory, log, error: String?
        let results: Results?
        let expect: Expect?
    }
    struct Statistic: Decodable { let mean: Double; let std: Double? }
    struct Group: Decodable {
        let label: String
        let runs, completed: Int
        let test_accuracy: Statistic?
    }
    struct Batch: Decodable { let sha256: String; let shard: String? }
    let batch: Batch
    let runs: [Row]
    let seed_groups: [Group]
    let changed_keys: [String]
}

/// The parts of report.json the tests read.
struct ReportFile: Decodable {
    struct Test: Decodable { let accuracy, loss: Double }
    struct Timing: Decodable { let train_seconds, seconds_per_epoch_median, images_per_second: Double }
    struct Epoch: Decodable { let epoch: Int }
    struct Resume: Decodable { let step: Int }
    let experiment_file, experiment_sha256, weight_sha256: String
    let parameters, peak_memory_bytes: Int
    let test: Test
    let timing: Timing
    let epochs: [Epoch]
    let resumes: [Resume]
    let expect: ComparisonFile.Expect?
}

/// JSONDecoder, not JSONSerialization: on Linux the latter misreads the last digit of some doubles.
func decoded<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A CSV file with a header line (RFC 4180 quoting).
struct CSV {
    let header: [String]
    let rows: [[String]]

    init(path: String) throws {
        var records: [[String]] = [], field = "", record: [String] = [], quoted = false
        var characters = try String(contentsOfFile: path, encoding: .utf8).makeIterator()
        while let c = characters.next() {
            if quoted {
                if c == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { field.append("\"") } else {
                            quoted = false
                            if next == "," { record.append(field); field = "" }
                            else if next == "\n" { record.append(field); records.append(record); field = ""; record = [] }
                        }
                    } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { record.append(field); field = "" }
            else if c == "\n" { record.append(field); records.append(record); field = ""; record = [] }
            else { field.append(c) }
        }
        header = records.first ?? []
        rows = Array(records.dropFirst())
    }

    func row(label: String) -> [String: String]? {
        guard let column = header.firstIndex(of: "label"), let row = rows.first(where: { $0[column] == label }) else { return nil }
        return Dictionary(zip(header, row).map { ($0, $1) }, uniquingKeysWith: { a, _ in a })
    }
}

/// The run folders under results/<name> (not `latest`), as absolute paths.
func runFolders(_ root: String) throws -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    return names.filter { $0 != "latest" }.sorted().map { root + "/" + $0 }
}

func standard(_ path: String) -> String {
    URL(fileURLWithPath: path, relativeTo: TestPaths.root).standardizedFileURL.resolvingSymlinksInPath().path
}

/// 101770 → "101,770", as the tables write counts.
func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    return String(digits.enumerated().flatMap { i, d in i > 0 && (digits.count - i) % 3 == 0 ? [",", d] : [d] })
}

/// Bytes as the tables write them: 1024-based, two decimals ("129.87 MB").
func bytes(_ n: Int) -> String {
    var value = Double(n), unit = 0
    let units = ["B", "KB", "MB", "GB"]
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100)." + String(format: "%02d", hundredths % 100) + " " + units[unit]
}
