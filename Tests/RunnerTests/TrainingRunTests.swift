// Real training through the command line on the real MNIST files: the seed notebook's 5 epochs
// gated on test accuracy (like tinygrad's TARGET_EVAL_ACC_PCT), the files a run leaves behind, and
// bit-identical weights whatever the thread count. Serialized: the runs use every core.
import Foundation
import Testing

@Suite("runner training runs on MNIST", .serialized)
struct TrainingRunTests {
    init() throws {
        try #require(Paths.hasMNIST, "the MNIST .gz files are not in \(Paths.mnist) (set MNIST_DIR)")
    }

    @Test("runner experiments/mlp.yaml: ≥ 97% test accuracy, and reports that agree with each other")
    func endToEnd() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let results = scratch("results")
        let run = try runner(["experiments/mlp.yaml", "--data-dir", Paths.mnist, "--results-dir", results, "--quiet"],
                             scratch: scratch)
        try #require(run.exited(0), "\(run)")
        // --quiet: only the final results.
        #expect(!run.stdout.contains("Epoch"), "\(run)")
        #expect(run.stdout.contains("Test accuracy: "), "\(run)")
        let printedHash = try #require(run.weightHash, "no 'Weight hash:' line:\n\(run)")

        let folder = results + "/mlp/latest"
        let report = try json(folder + "/report.json")
        let test = try #require(report["test"] as? [String: Any])
        let accuracy = try #require(test["accuracy"] as? Double)
        #expect(accuracy >= 0.97, "test accuracy \(accuracy)")
        #expect(test["images"] as? Int == 10_000)
        #expect(report["name"] as? String == "mlp")
        #expect(report["seed"] as? Int == 42)
        #expect(report["parameters"] as? Int == 101_770)
        let weightHash = try #require(report["weight_sha256"] as? String)
        #expect(weightHash.count == 64 && weightHash.allSatisfy { $0.isHexDigit })
        #expect(weightHash == printedHash)
        #expect((report["experiment_sha256"] as? String)?.count == 64)
        let dataset = try #require(report["dataset"] as? [String: Any])
        #expect(dataset["train_images"] as? Int == 54_000)
        #expect(dataset["validation_images"] as? Int == 6_000)
        #expect(dataset["test_images"] as? Int == 10_000)
        let layers = try #require(report["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["name"] as? String } == ["flatten", "dense", "dense_1"])

        let epochs = try #require(report["epochs"] as? [[String: Any]])
        #expect(epochs.count == 5)
        #expect(epochs.compactMap { $0["epoch"] as? Int } == [1, 2, 3, 4, 5])

        // metrics.csv: Keras CSVLogger columns, epochs from 0, the same numbers as report.json.
        // (Compared through JSONDecoder: JSONSerialization on Linux misreads the last digit of
        // some doubles, e.g. 0.2697114376183008 as 0.26971143761830085.)
        struct Numbers: Decodable {
            struct Epoch: Decodable { let accuracy, loss: Double; let val_accuracy, val_loss: Double? }
            let epochs: [Epoch]
        }
        let exact = try JSONDecoder().decode(
            Numbers.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/report.json")))
        #expect(exact.epochs.count == 5)
        let csv = try String(contentsOfFile: folder + "/metrics.csv", encoding: .utf8)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.first?.joined(separator: ",") == "epoch,accuracy,loss,val_accuracy,val_loss,seconds")
        #expect(rows.count == 6, "\(csv)")
        for (i, row) in rows.dropFirst().enumerated() where i < exact.epochs.count {
            #expect(row.count == 6, "\(row)")
            guard row.count == 6 else { continue }
            let epoch = exact.epochs[i]
            #expect(row[0] == "\(i)")
            #expect(Double(row[1]) == epoch.accuracy, "epoch \(i): \(row[1]) vs \(epoch.accuracy)")
            #expect(Double(row[2]) == epoch.loss, "epoch \(i): \(row[2]) vs \(epoch.loss)")
            #expect(Double(row[3]) == epoch.val_accuracy, "epoch \(i)")
            #expect(Double(row[4]) == epoch.val_loss, "epoch \(i)")
            #expect(Double(row[5]).map { $0 > 0 } == true, "epoch \(i) seconds: \(row[5])")
        }

        // The resolved experiment is a valid experiment file.
        let resolved = folder + "/experiment.yaml"
        #expect(FileManager.default.fileExists(atPath: resolved))
        let validate = try runner(["validate", resolved], scratch: scratch)
        #expect(validate.exited(0), "\(validate)")
        #expect(validate.stdout.contains("Total params: 101,770"), "\(validate)")

        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(markdown.hasPrefix("# mlp — run "))
        #expect(markdown.contains(weightHash))
        #expect(markdown.contains(String(format: "%.2f%%", accuracy * 100)))
    }

    @Test("the weights do not depend on the thread count, and do depend on the seed")
    func determinism() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        func hashes(_ extra: [String]) throws -> (weights: String?, experiment: String?) {
            let run = try runner(["experiments/mlp.yaml", "--epochs", "1", "--data-dir", Paths.mnist,
                                  "--results-dir", scratch("results"), "--quiet"] + extra, scratch: scratch)
            #expect(run.exited(0), "\(run)")
            let folder = run.stdout.split(separator: "\n").first { $0.hasPrefix("Reports: ") }
                .map { String($0.dropFirst("Reports: ".count).prefix { $0 != " " }) }
            let report = try folder.map { try json($0 + "report.json") }
            return (run.weightHash, report?["experiment_sha256"] as? String)
        }
        let one = try hashes(["--threads", "1"])
        let two = try hashes(["--threads", "2"])
        let oneAgain = try hashes(["--threads", "1"])
        let otherSeed = try hashes(["--threads", "2", "--seed", "7"])

        let reference = try #require(one.weights)
        #expect(two.weights == reference, "1 and 2 threads differ")
        #expect(oneAgain.weights == reference, "a repeated run differs")
        #expect(otherSeed.weights != nil)
        #expect(otherSeed.weights != reference, "the seed does not change the weights")
        // The experiment's identity ignores the thread count but not the seed.
        #expect(one.experiment != nil)
        #expect(two.experiment == one.experiment)
        #expect(otherSeed.experiment != one.experiment)
    }

    @Test("runner experiments/cnn.yaml for 3 epochs: ≥ 98.5% test accuracy; 1 and 2 threads agree bit for bit")
    func convnet() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        func run(_ extra: [String]) throws -> (hash: String?, accuracy: Double?) {
            let run = try runner(["experiments/cnn.yaml", "--data-dir", Paths.mnist, "--results-dir",
                                  scratch("results"), "--quiet"] + extra, scratch: scratch)
            #expect(run.exited(0), "\(run)")
            let report = try json(scratch("results") + "/cnn/latest/report.json")
            let test = report["test"] as? [String: Any]
            #expect(report["parameters"] as? Int == 34_826)
            return (run.weightHash, test?["accuracy"] as? Double)
        }
        let two = try run(["--epochs", "3", "--threads", "2"])
        let accuracy = try #require(two.accuracy)
        #expect(accuracy >= 0.985, "test accuracy \(accuracy) after 3 epochs")
        // One epoch each for the thread-count comparison (both convolution paths: im2col for the
        // first layer, Winograd for the second).
        let one = try run(["--epochs", "1", "--threads", "1"])
        let oneOnTwo = try run(["--epochs", "1", "--threads", "2"])
        #expect(one.hash != nil)
        #expect(one.hash == oneOnTwo.hash, "1 and 2 threads differ")
        #expect(one.hash != two.hash)
    }
}

func json(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is not a JSON object")
}
