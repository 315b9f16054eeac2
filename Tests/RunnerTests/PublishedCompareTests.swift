// The reproductions' machinery end to end on real MNIST with small models: `published:` carried
// from the experiment files into comparison.json/.csv/.md and the console beside the reproduced
// figure (mean ± std over a file's seeds), a symlinked file in the compared folder followed, the
// published figure outside the hash; and reduce_on_plateau and max_steps in a real run.
import Foundation
import Testing
import TestSupport

/// The parts of comparison.json the published figures touch.
struct PublishedComparisonFile: Decodable {
    struct Published: Decodable, Equatable {
        let test_accuracy: Double?
        let test_loss: Double?
        let source: String
    }
    struct Results: Decodable { let test_accuracy: Double }
    struct Row: Decodable {
        let label, file, status: String
        let results: Results?
        let published: Published?
        let run_directory: String?
    }
    struct Statistic: Decodable { let mean: Double; let std: Double? }
    struct Group: Decodable {
        let label: String
        let test_accuracy: Statistic?
        let published: Published?
    }
    let runs: [Row]
    let seed_groups: [Group]
}

@Suite("runner compare: published figures; reduce_on_plateau and max_steps in a run", .serialized)
struct PublishedCompareTests {
    init() throws {
        try #require(TestPaths.hasMNIST, "the MNIST .gz files are not in \(TestPaths.mnist) (set MNIST_DIR)")
    }

    @Test("published beside reproduced (mean ± std over 2 seeds); a symlinked file is followed; the figure is not in the hash")
    func published() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch("repro"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch("elsewhere"), withIntermediateDirectories: true)
        func swept(_ figure: String) -> String {
            Fixture.mlp(name: "pub-mlp", extra: "sweep:\n  seeds: [1, 2]\npublished:\n  test_accuracy: \(figure)\n"
                        + "  source: \"paper A, table 2\"\nexpect:\n  test_accuracy: \">= 0.8\"\n")
        }
        _ = try scratch.write(swept("0.9"), to: "repro/swept.yaml")
        _ = try scratch.write(Fixture.mlp(name: "pub-linked", extra: "published: {test_accuracy: 95%, test_loss: 0.2, source: paper B}\n"),
                              to: "elsewhere/linked.yaml")
        try FileManager.default.createSymbolicLink(atPath: scratch("repro/linked.yaml"), withDestinationPath: "../elsewhere/linked.yaml")
        let results = scratch("results"), folder = scratch("comparison")
        let arguments = ["compare", scratch("repro"), "--results-dir", results, "--data-dir", TestPaths.mnist, "-o", folder]
        let run = try runner(arguments, scratch: scratch)
        try #require(run.exited(0), "\(run)")

        let comparison = try decoded(PublishedComparisonFile.self, folder + "/comparison.json")
        #expect(comparison.runs.map(\.label) == ["pub-linked", "pub-mlp[seed=1]", "pub-mlp[seed=2]"])
        #expect(comparison.runs[0].file == scratch("repro/linked.yaml"), "the symlink is the batch's file")
        let paperA = PublishedComparisonFile.Published(test_accuracy: 0.9, test_loss: nil, source: "paper A, table 2")
        let paperB = PublishedComparisonFile.Published(test_accuracy: 0.95, test_loss: 0.2, source: "paper B")
        #expect(comparison.runs.map(\.published) == [paperB, paperA, paperA])
        let group = try #require(comparison.seed_groups.first { $0.label == "pub-mlp" })
        #expect(group.published == paperA)
        let statistic = try #require(group.test_accuracy)
        let accuracies = comparison.runs.dropFirst().compactMap { $0.results?.test_accuracy }
        #expect(accuracies.count == 2 && statistic.mean == (accuracies[0] + accuracies[1]) / 2)
        let std = try #require(statistic.std)
        // The resolved experiment a run trained from keeps the section.
        let directory = try #require(comparison.runs[1].run_directory)
        let resolved = try String(contentsOfFile: directory + "/experiment.yaml", encoding: .utf8)
        #expect(resolved.contains("published:\n  test_accuracy: 0.9\n  source: paper A, table 2\n"), "\(resolved)")

        // The console and comparison.md: name, metric, published, reproduced mean ± std, difference, runs, gate, met.
        let reproduced = String(format: "%.2f%% ± %.2f%%", statistic.mean * 100, std * 100)
        let difference = String(format: "%+.2f pp", (statistic.mean - 0.9) * 100)
        var words: [String] = ["pub-mlp", "test_accuracy", "90.00%"]
        words += reproduced.split(separator: " ").map(String.init)
        words += difference.split(separator: " ").map(String.init)
        words += ["2", ">=", "0.8", "met"]
        #expect(run.stdout.contains("Published and reproduced"), "\(run)")
        #expect(run.stdout.split(separator: "\n").contains { $0.split(separator: " ").map(String.init) == words },
                "no console line \(words):\n\(run.stdout)")
        let linked = try #require(comparison.runs[0].results?.test_accuracy)
        #expect(run.stdout.contains("pub-linked: paper B") && run.stdout.contains("pub-mlp: paper A, table 2"))
        let markdown = try String(contentsOfFile: folder + "/comparison.md", encoding: .utf8)
        #expect(markdown.contains("## Published and reproduced"))
        #expect(markdown.contains("| pub-mlp | test_accuracy | 90.00% | \(reproduced) | \(difference) | 2 | >= 0.8 | met |"),
                "\(markdown)")
        #expect(markdown.contains(String(format: "| pub-linked | test_accuracy | 95.00%% | %.2f%% | %+.2f pp | 1 | – | – |",
                                         linked * 100, (linked - 0.95) * 100)), "\(markdown)")
        #expect(markdown.contains("| pub-linked | test_loss | 0.2000 |"), "\(markdown)")
        let csv = try CSV(path: folder + "/comparison.csv")
        #expect(csv.row(label: "pub-mlp[seed=2]")?["published_test_accuracy"] == "0.9")
        #expect(csv.row(label: "pub-mlp[seed=2]")?["published_source"] == "paper A, table 2")
        #expect(csv.row(label: "pub-linked")?["published_test_loss"] == "0.2")
        #expect(!csv.header.contains { $0.hasPrefix("published.") })

        // Another published figure is the same experiment: the runs are reused, the table shows it.
        _ = try scratch.write(swept("91%"), to: "repro/swept.yaml")
        let again = try runner(arguments, scratch: scratch)
        #expect(again.exited(0), "\(again)")
        let reused = try decoded(PublishedComparisonFile.self, folder + "/comparison.json")
        #expect(reused.runs.map(\.status) == ["reused", "reused", "reused"])
        #expect(reused.runs[1].published?.test_accuracy == 0.91 && again.stdout.contains("91.00%"))
    }

    @Test("reduce_on_plateau reduces and says so, the epochs record the reduced rate; max_steps ends the run mid-epoch")
    func plateauAndMaxSteps() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // The training loss never improves by 10: a reduction after every epoch from the second on.
        let file = try scratch.write(Fixture.mlp(name: "plateau", epochs: 3, extra: """
              max_steps: 2000
              reduce_on_plateau: {monitor: loss, factor: 0.5, patience: 0, min_delta: 10}

            """), to: "plateau.yaml")
        let run = try runner(["run", file, "--data-dir", TestPaths.mnist, "--results-dir", scratch("results")], scratch: scratch)
        try #require(run.exited(0), "\(run)")
        #expect(run.stdout.contains("3 epochs, at most 2000 steps, batch 64"), "\(run)")
        #expect(run.stdout.contains("Epoch 2: ReduceLROnPlateau reducing learning rate to 0.0005."), "\(run)")
        #expect(!run.stdout.contains("Epoch 1: ReduceLROnPlateau"), "\(run)")
        let metrics = try String(contentsOfFile: scratch("results/plateau/latest/metrics.csv"), encoding: .utf8)
        let lines = metrics.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let rate = try #require(lines.first?.firstIndex(of: "learning_rate"), "\(metrics)")
        // 844 steps an epoch (54,000 images of 64): epochs 1, 2 and 312 steps of the third.
        #expect(lines.dropFirst().map { $0[rate] } == ["0.001", "0.001", "0.0005"], "\(metrics)")
        let report = try decoded(ReportFile.self, scratch("results/plateau/latest/report.json"))
        #expect(report.epochs.count == 3)
        #expect(run.stdout.contains("Epoch 3/3 - 312 steps - "), "the partial epoch's line shows its steps:\n\(run)")
    }
}
