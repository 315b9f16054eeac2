// report.html and report.ipynb as a new user gets them, on real MNIST: the seed MLP's report has
// every picture and report.json's numbers, renders offline, and `runner report` makes the same
// bytes; interrupted (CheckpointRunTests), failed and diverged runs write reports that say so;
// an exploding but finite run is flagged at chance level.
import Charts
import Experiments
import Foundation
import Testing
import TestSupport

@Suite("Run reports: report.html and report.ipynb", .serialized)
struct ReportTests {
    init() throws {
        try #require(TestPaths.hasMNIST, "the MNIST .gz files are not in \(TestPaths.mnist) (set MNIST_DIR)")
    }

    /// The run folder the closing line names ("Report: <folder>/report.html", the last line).
    func reportFolder(_ run: Outcome, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
        let last = try #require(run.stdout.split(separator: "\n").last, sourceLocation: sourceLocation)
        #expect(last.hasPrefix("Report: ") && last.hasSuffix("/report.html"), "\(run)", sourceLocation: sourceLocation)
        return String(last.dropFirst("Report: ".count).dropLast("/report.html".count))
    }

    /// experiments/mlp.yaml trained by plain SGD at `learningRate`, written into `scratch`.
    func sgdMLP(learningRate: String, in scratch: TemporaryDirectory) throws -> String {
        try scratch.write(try TestPaths.experiment("mlp.yaml").text.replacingOccurrences(of: "type: adam", with: "type: sgd")
            .replacingOccurrences(of: "learning_rate: 0.001", with: "learning_rate: \(learningRate)"), to: "mlp.yaml")
    }

    /// The texts of the `<td class="num">` cells of the table whose caption starts with `caption`.
    func numericCells(_ html: String, caption: String) throws -> [String] {
        let start = try #require(html.range(of: "<caption>" + caption))
        let table = html[start.upperBound...]
        let end = try #require(table.range(of: "</table>"))
        return String(table[..<end.lowerBound]).captures(between: "<td class=\"num\">", and: "</td>")
    }

    @Test("the seed MLP (2 epochs): report.html holds the curves, heat map, layer diagram, LR plot and captioned digits with report.json's numbers, offline; the notebook is valid; `runner report` gives the same bytes")
    func seedMLP() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let run = try runner([try TestPaths.experiment("mlp.yaml").path, "--epochs", "2", "--data-dir", TestPaths.mnist,
                              "--results-dir", scratch("results")], scratch: scratch)
        try #require(run.exited(0), "\(run)")
        let folder = try reportFolder(run)
        let report = try RunReport.read(runDirectory: folder)
        let test = try #require(report.test)
        #expect(report.status == RunStatus.finished && report.error == nil)
        let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        PageChecks.selfContained(html)

        // The pictures: curves, confusion heat map, layer diagram, learning-rate plot, ≥ 20 captioned digits.
        #expect(html.contains("<title>Loss</title>") && html.contains("<title>Accuracy</title>"))
        #expect(html.occurrences(of: "class=\"series\"") >= 5)
        #expect(html.contains("<title>Confusion matrix (test set)</title>") && html.occurrences(of: "class=\"cell\"") == 100)
        #expect(html.occurrences(of: "<g class=\"layer\">") == report.layers.count + 1)
        #expect(html.contains("<title>Learning rate at every step</title>"))
        #expect(html.occurrences(of: ">Model predicts: ") >= 20 + 1)
        #expect(html.occurrences(of: ">Actual label: ") >= 20)
        #expect(html.occurrences(of: ">Correct prediction<") >= 15 && html.contains(">Wrong prediction<"))
        #expect(html.occurrences(of: "class=\"probability\"") >= 60)
        #expect(html.contains("Training digits, 10 per class") && html.contains("The most confident mistakes"))

        // Every number is report.json's: headline, epochs table, confusion counts.
        let headline = html.captures(between: "<span class=\"value\">", and: "</span>")
        #expect(Array(headline.prefix(2)) == [Charts.Format.percent(test.accuracy, decimals: 2),
                                              Charts.Format.fixed(test.loss, decimals: 4)])
        let cells = try numericCells(html, caption: "Per epoch")
        let expected = report.epochs.flatMap { e in
            [String(e.epoch), Charts.Format.fixed(e.loss, decimals: 4), Charts.Format.fixed(e.accuracy, decimals: 4),
             Charts.Format.fixed(e.valLoss!, decimals: 4), Charts.Format.fixed(e.valAccuracy!, decimals: 4),
             Charts.Format.fixed(e.seconds, decimals: 2), Charts.Format.grouped(Int(e.imagesPerSecond.rounded()))]
        }
        #expect(cells == expected)
        let heatMap = try #require(html.range(of: "<title>Confusion matrix (test set)</title>"))
        let heatMapSVG = String(html[heatMap.upperBound...]).components(separatedBy: "</svg>")[0]
        let counts = heatMapSVG.captures(between: "<text class=\"value\"", and: "</text>").map { $0.split(separator: ">").last.map(String.init) ?? "" }
        #expect(counts == test.confusionMatrix.flatMap { $0 }.map(String.init))
        let perClass = try numericCells(html, caption: "Per class")
        #expect(stride(from: 3, to: perClass.count, by: 4).map { perClass[$0] }
                == test.confusionMatrix.map { Charts.Format.grouped($0.reduce(0, +)) })

        // A browser shows it offline, wide and narrow; the README's picture when asked.
        try PageChecks.renders(html, scratch: scratch)
        try PageChecks.renders(html, width: 600, height: 4000, scratch: scratch)
        if ProcessInfo.processInfo.environment["RUNNER_README_SCREENSHOT"] == "1" {
            let shot = try Chromium.render(html, width: 1200, height: 2100, scratch: scratch).screenshot
            try Data(shot).write(to: TestPaths.root.appendingPathComponent("docs/images/report-mlp.png"))
        }
        try PageChecks.validNotebook(folder + "/report.ipynb", scratch: scratch)
        let notebook = try String(contentsOfFile: folder + "/report.ipynb", encoding: .utf8)
        #expect(notebook.contains("image/svg+xml") && notebook.contains("## Sample output"))
        try PageChecks.reproduced(folder, ["report.html", "report.ipynb"], scratch: scratch)

        // A run folder from before report-data.bin and statuses: the page says what it cannot show
        // and how to get it; --evaluate makes the file from final.ckpt, and the page is the run's again.
        let original = try Data(contentsOf: URL(fileURLWithPath: folder + "/report.html"))
        try FileManager.default.removeItem(atPath: folder + "/report-data.bin")
        let json = try String(contentsOfFile: folder + "/report.json", encoding: .utf8)
        try json.replacingOccurrences(of: "  \"status\": \"finished\",\n  \"error\": null,\n", with: "")
            .write(toFile: folder + "/report.json", atomically: true, encoding: .utf8)
        #expect(try RunReport.read(runDirectory: folder).status == RunStatus.finished)
        let old = try runner(["report", folder], scratch: scratch)
        #expect(old.exited(0) && old.stdout.contains("--evaluate"), "\(old)")
        let partial = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        #expect(partial.contains("Not shown: this run folder has no report-data.bin") && partial.contains("runner report --evaluate"))
        #expect(partial.contains("<title>Confusion matrix (test set)</title>") && !partial.contains(">Model predicts: "))
        let evaluated = try runner(["report", "--evaluate", folder, "--data-dir", TestPaths.mnist], scratch: scratch)
        #expect(evaluated.exited(0), "\(evaluated)")
        try json.write(toFile: folder + "/report.json", atomically: true, encoding: .utf8)
        #expect(try runner(["report", folder], scratch: scratch).exited(0))
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/report.html")) == original,
                "report-data.bin made by --evaluate does not give the run's page")
    }

    @Test("a run whose data is missing fails (exit 1) with a report that says so and where to point the runner at data")
    func failedRun() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let run = try runner([try TestPaths.experiment("mlp.yaml").path, "--data-dir", scratch("no-data-here"),
                              "--results-dir", scratch("results")], scratch: scratch)
        #expect(run.exited(1) && run.stderr.contains("does not exist"), "\(run)")
        let folder = try reportFolder(run)
        let report = try RunReport.read(runDirectory: folder)
        #expect(report.status == RunStatus.failed && report.epochs.isEmpty && report.test == nil && report.dataset == nil)
        let error = try #require(report.error)
        #expect(error.contains("does not exist") && error.contains("--data-dir") && error.contains("RUNNER_DATA_DIR"), "\(error)")
        let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        #expect(html.contains("Failed: ") && html.contains("RUNNER_DATA_DIR"))
        PageChecks.selfContained(html)
        try PageChecks.renders(html, height: 1500, scratch: scratch)
        try PageChecks.validNotebook(folder + "/report.ipynb", scratch: scratch)
        // Nothing to resume: `runner FILE --resume` starts a new run instead of taking this one.
        #expect(!FileManager.default.fileExists(atPath: folder + "/checkpoints/final.ckpt"))
    }

    @Test("SGD at learning rate 1e30 on the seed MLP: exit 1 at the step, status diverged, the last good checkpoint loads; compare shows it diverged")
    func divergedRun() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let file = try sgdMLP(learningRate: "1.0e+30", in: scratch)
        let results = scratch("results")
        let run = try runner([file, "--data-dir", TestPaths.mnist, "--results-dir", results], scratch: scratch)
        #expect(run.exited(1), "\(run)")
        #expect(run.stderr.contains("error: training diverged at epoch 1, step 2: the training loss is nan"), "\(run)")
        let folder = try reportFolder(run)
        let report = try RunReport.read(runDirectory: folder)
        let divergence = try #require(report.divergence)
        #expect(report.status == RunStatus.diverged && divergence.step == 2 && divergence.epoch == 1 && divergence.value == "nan")
        let good = try #require(divergence.lastGoodCheckpoint)
        #expect(run.stderr.contains("Last good checkpoint: \(good)") && report.checkpoint == good)
        let evaluated = try runner(["evaluate", good, "--data-dir", TestPaths.mnist, "--quiet"], scratch: scratch)
        #expect(evaluated.exited(0) && evaluated.stdout.contains("Test accuracy: "), "\(evaluated)")
        let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        #expect(html.contains("Diverged: training diverged at epoch 1, step 2"))
        try PageChecks.validNotebook(folder + "/report.ipynb", scratch: scratch)

        // Compared, the run is shown as diverged (found by its hash, not run again) and the batch fails.
        let compared = try runner(["compare", file, "--results-dir", results, "--data-dir", TestPaths.mnist], scratch: scratch)
        #expect(compared.exited(1), "\(compared)")
        let comparison = try decoded(ComparisonFile.self, results + "/comparisons/mlp/comparison.json")
        #expect(comparison.runs.map(\.status) == ["diverged"])
        #expect(try runFolders(results + "/mlp").count == 1)
        let page = try String(contentsOfFile: results + "/comparisons/mlp/comparison.html", encoding: .utf8)
        #expect(page.contains("diverged") && page.contains("Problems"))
    }

    @Test("an exploding but finite run (SGD at learning rate 10) is not stopped; its report says the accuracy is at chance level")
    func chanceLevel() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let file = try sgdMLP(learningRate: "10.0", in: scratch)
        let run = try runner([file, "--epochs", "1", "--data-dir", TestPaths.mnist, "--results-dir", scratch("results")],
                             scratch: scratch)
        #expect(run.exited(0), "\(run)")
        let report = try RunReport.read(runDirectory: try reportFolder(run))
        #expect(report.status == RunStatus.finished && (report.test?.accuracy ?? 1) < 0.2)
        let html = try String(contentsOfFile: try reportFolder(run) + "/report.html", encoding: .utf8)
        #expect(html.contains("is at chance level"))
    }
}
