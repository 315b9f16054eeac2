// `runner runs` over a results folder of made-up run folders (no training): every status —
// finished (with and without a "status" key), diverged, failed (by report, or with nothing but
// its experiment), interrupted (a checkpoint header), running (a lock held here) — then --where,
// --sort, --name and --json.
import Foundation
import Testing
import TestSupport

@Suite("runner runs")
struct RunsTests {
    /// A report.json as runs write it (only the keys `runner runs` reads, and a few more).
    static func report(name: String, run: String, accuracy: Double?, status: String? = nil, error: String? = nil) -> String {
        var fields = ["\"name\": \"\(name)\"", "\"run_id\": \"\(run)\"", "\"experiment_sha256\": \"\(String(repeating: "e", count: 64))\"",
                      "\"started_at\": \"2026-01-01T10:00:0\(run.suffix(1))Z\"", "\"parameters\": 101770",
                      "\"configuration\": {\"name\": \"\(name)\", \"train\": {\"epochs\": 5, \"batch_size\": 32}}",
                      "\"epochs\": [{\"epoch\": 1, \"loss\": 0.3, \"accuracy\": 0.9}, {\"epoch\": 2, \"loss\": 0.2, \"accuracy\": 0.95}]"]
        if let accuracy {
            fields += ["\"test\": {\"loss\": \(1 - accuracy), \"accuracy\": \(accuracy), \"images\": 10000}",
                       "\"weight_sha256\": \"\(String(repeating: "a", count: 64))\"",
                       "\"timing\": {\"train_seconds\": 9.53, \"seconds_per_epoch_median\": 4.7, \"images_per_second\": 11000, \"total_seconds\": 10.31}",
                       "\"peak_memory_bytes\": 140615680"]
        }
        if let status { fields.append("\"status\": \"\(status)\"") }
        if let error { fields.append("\"error\": \"\(error)\"") }
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
    }

    /// A checkpoint whose prefix and header are real and whose tensors are absent (`runner runs` reads no further).
    static func checkpoint(epoch: Int, yaml: String) -> Data {
        let header = try! JSONSerialization.data(withJSONObject: [
            "kind": "step", "run_id": "x", "experiment": ["sha256": String(repeating: "c", count: 64), "resolved_yaml": yaml],
            "training": ["epoch": epoch, "step": 3376], "tensors": [Any](),
        ])
        var bytes = Data("MNISTCKP".utf8)
        for value in [UInt32(1), UInt32(header.count)] { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        withUnsafeBytes(of: UInt64(0).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + header
    }

    /// results/{mlp,cnn,wide-mlp}/… with one run of every status; returns the results folder.
    static func fixture(_ scratch: TemporaryDirectory) throws -> String {
        let root = scratch("results")
        func folder(_ relative: String) throws -> String {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
        let yaml = "name: mlp\nseed: 42\ntrain:\n  epochs: 5\n  batch_size: 32\n"
        try report(name: "mlp", run: "20260101-100001", accuracy: 0.9781)
            .write(toFile: try folder("mlp/20260101-100001") + "/report.json", atomically: true, encoding: .utf8)
        try report(name: "mlp", run: "20260101-100002", accuracy: 0.9812, status: "finished")
            .write(toFile: try folder("mlp/20260101-100002") + "/report.json", atomically: true, encoding: .utf8)
        try report(name: "cnn", run: "20260101-100003", accuracy: 0.9901)
            .write(toFile: try folder("cnn/20260101-100003") + "/report.json", atomically: true, encoding: .utf8)
        try report(name: "mlp", run: "20260101-100004", accuracy: nil, status: "diverged", error: "loss is NaN at step 12")
            .write(toFile: try folder("mlp/20260101-100004") + "/report.json", atomically: true, encoding: .utf8)
        try report(name: "wide-mlp", run: "20260101-100005", accuracy: nil, status: "failed", error: "no data")
            .write(toFile: try folder("wide-mlp/20260101-100005") + "/report.json", atomically: true, encoding: .utf8)
        let interrupted = try folder("mlp/20260101-100006/checkpoints")
        try checkpoint(epoch: 2, yaml: yaml).write(to: URL(fileURLWithPath: interrupted + "/step-0000003376.ckpt"))
        try yaml.write(toFile: try folder("mlp/20260101-100007") + "/experiment.yaml", atomically: true, encoding: .utf8)
        try yaml.write(toFile: try folder("mlp/20260101-100008") + "/experiment.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/mlp/latest", withDestinationPath: "20260101-100002")
        try FileManager.default.createDirectory(atPath: root + "/comparisons/mlp-vs-cnn/points", withIntermediateDirectories: true)
        return root
    }

    @Test("statuses: finished, diverged, failed (a report or nothing), interrupted (a checkpoint), running (a lock)")
    func statuses() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let root = try Self.fixture(scratch)
        // This process holds the last run's lock, as a training runner does.
        let lock = open(root + "/mlp/20260101-100008/.lock", O_RDWR | O_CREAT, 0o644)
        defer { close(lock) }
        try #require(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)

        let listed = try runner(["runs", root], scratch: scratch)
        #expect(listed.exited(0), "\(listed)")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 + 8 + 1, "\(listed)")
        func line(_ run: String) -> String { lines.first { $0.contains(run) } ?? "" }
        #expect(line("100001").contains("finished") && line("100001").contains("2/5") && line("100001").contains("97.81%"))
        #expect(line("100001").contains("0.0219") && line("100001").contains("9.5 ") && line("100001").contains("aaaaaaaaaaaa"))
        #expect(line("100001").hasSuffix("2026-01-01 10:00"))
        #expect(line("100002").contains("finished"))
        #expect(line("100004").contains("diverged"))
        #expect(line("100005").contains("failed") && line("100005").hasPrefix("wide-mlp"))
        #expect(line("100006").contains("interrupted") && line("100006").contains("2/5"))
        #expect(line("100007").contains("failed") && line("100007").contains("–/5"))
        #expect(line("100008").contains("running"))
        #expect(lines.last == "8 runs (3 finished, 1 interrupted, 1 diverged, 2 failed, 1 running)", "\(listed)")

        let json = try runner(["runs", root, "--json", "--sort", "status"], scratch: scratch)
        #expect(json.exited(0), "\(json)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(entries.compactMap { $0["status"] as? String }
                == ["finished", "finished", "finished", "interrupted", "diverged", "failed", "failed", "running"])
        let diverged = try #require(entries.first { $0["run_id"] as? String == "20260101-100004" })
        #expect(diverged["error"] as? String == "loss is NaN at step 12")
        #expect(diverged["test_accuracy"] is NSNull)
        #expect(entries.allSatisfy { $0.keys.count == 21 })
        // One experiment's folder lists its runs only.
        let one = try runner(["runs", root + "/cnn"], scratch: scratch)
        #expect(one.stdout.split(separator: "\n").count == 4 && one.stdout.contains("20260101-100003"), "\(one)")
    }

    @Test("--where (the expect: grammar), --sort and --name; mistakes exit 64 with did-you-mean")
    func filters() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let root = try Self.fixture(scratch)
        func runIDs(_ arguments: [String]) throws -> [String] {
            let result = try runner(["runs", root, "--json"] + arguments, scratch: scratch)
            #expect(result.exited(0), "\(result)")
            let entries = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
            return entries.compactMap { ($0["run_id"] as? String).map { String($0.suffix(1)) } }
        }
        #expect(try runIDs(["--where", "test_accuracy >= 0.98"]) == ["2", "3"])
        #expect(try runIDs(["--where", "test_accuracy >= 98%", "--where", "test_loss < 0.015"]) == ["3"])
        #expect(try runIDs(["--sort", "test_accuracy", "--where", "parameters == 101770"]).prefix(3) == ["3", "2", "1"])
        #expect(try runIDs(["--sort", "test_loss"]).prefix(3) == ["3", "2", "1"])
        #expect(try runIDs(["--name", "mlp"]) == ["1", "2", "4", "6", "7", "8"])
        #expect(try runIDs(["--name", "*mlp"]) == ["1", "2", "4", "5", "6", "7", "8"])
        let none = try runner(["runs", root, "--where", "test_accuracy > 0.999"], scratch: scratch)
        #expect(none.exited(0) && none.stdout == "No runs in \(root) match\n", "\(none)")
        let typo = try runner(["runs", root, "--where", "test_acuracy > 0.5"], scratch: scratch)
        #expect(typo.exited(64) && typo.stderr.contains("did you mean 'test_accuracy'?"), "\(typo)")
        let bad = try runner(["runs", root, "--where", "test_accuracy about 0.5"], scratch: scratch)
        #expect(bad.exited(64) && bad.stderr.contains("cannot read the condition"), "\(bad)")
        let missing = try runner(["runs", scratch("nowhere")], scratch: scratch)
        #expect(missing.exited(64) && missing.stderr.contains("no results folder"), "\(missing)")
        let sort = try runner(["runs", root, "--sort", "accuracy"], scratch: scratch)
        #expect(sort.exited(64), "\(sort)")
    }
}
