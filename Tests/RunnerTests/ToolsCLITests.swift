// The command line of the tools around runs, without training: the overview fits 80 columns,
// --set on validate (and its errors), the no-data hint, the default thread count under a CPU
// affinity limit.
import Foundation
import Testing
import TestSupport

@Suite("runner --help, --set, data hints and threads")
struct ToolsCLITests {
    @Test("runner --help at 80 columns: no line wraps, the examples stay one per line")
    func overview() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let help = try runner(["--help"], scratch: scratch, environment: ["COLUMNS": "80"])
        #expect(help.exited(0), "\(help)")
        let overview = try #require(help.stdout.components(separatedBy: "USAGE:").first)
        for line in overview.split(separator: "\n") { #expect(line.count < 80, "\(line)") }
        let description = String(repeating: " ", count: 41)
        for example in ["  runner experiments/mlp.yaml            train, test, write results/mlp/<run>/\n",
                        "  runner predict results/mlp/latest my-digit.png\n" + description + "classify your own digits",
                        "  runner export results/mlp/latest       the model as ONNX (model.onnx)\n",
                        "  runner runs --where 'test_accuracy >= 0.98' --sort test_accuracy\n"] {
            #expect(overview.contains(example), "\(example)\n\(overview)")
        }
        // The paragraphs are wrapped by the parser, not by hand: no line ends mid-sentence on a short word.
        #expect(overview.contains("Data is looked for in --data-dir, $RUNNER_DATA_DIR, the file's data.directory,\n"))
    }

    @Test("runner validate --set: the model built with the value; a bad value points at the argument")
    func validateSet() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let wide = try runner(["validate", "experiments/mlp.yaml", "--set", "model.layers[1].units=256",
                               "--set", "train.batch_size=64"], scratch: scratch)
        #expect(wide.exited(0), "\(wide)")
        #expect(wide.stdout.contains("203,530"), "\(wide)")
        #expect(wide.stdout.contains("batch 64"), "\(wide)")
        let bad = try runner(["validate", "experiments/mlp.yaml", "--set", "model.layers[1].unit=256"], scratch: scratch)
        #expect(bad.exited(64), "\(bad)")
        #expect(bad.stderr.hasPrefix("--set:1:1: error: unknown key path 'model.layers[1].unit'\n"
                                     + "    model.layers[1].unit=256\n    ^\nhint: did you mean 'model.layers[1].units'?"), "\(bad)")
    }

    @Test("no data: the error says how to point at files you have (--data-dir, RUNNER_DATA_DIR)")
    func noData() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // Nothing listens on port 9 of this machine: every mirror fails at once.
        let nowhere = try runner(["experiments/mlp.yaml", "--results-dir", scratch("results")], scratch: scratch,
                                 environment: ["RUNNER_DATASET_MIRRORS": "http://127.0.0.1:9/"])
        #expect(nowhere.exited(1), "\(nowhere)")
        #expect(nowhere.stderr.contains("hint: mnist is not on disk (looked in \(scratch("cache"))/datasets/mnist, "
                                        + "/usr/share/datasets/mnist); point at the folder holding the four IDX files "
                                        + "(.gz or not) with --data-dir DIR, RUNNER_DATA_DIR=DIR or data.directory"), "\(nowhere)")
        let mistyped = try runner(["experiments/mlp.yaml", "--data-dir", scratch("nope"), "--results-dir", scratch("results")],
                                  scratch: scratch)
        #expect(mistyped.exited(1), "\(mistyped)")
        #expect(mistyped.stderr.contains("does not exist") && mistyped.stderr.contains("hint: the data directory comes from --data-dir"),
                "\(mistyped)")
    }

    @Test("a run's peak memory is its own, not that of the process that started it (ru_maxrss survives exec)")
    func peakMemoryIsTheRunsOwn() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // This process holds 768 MB, touched, while it starts the run: as `runner compare` does.
        let size = 768 << 20
        let held = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { held.deallocate() }
        for page in stride(from: 0, to: size, by: 4096) { held.storeBytes(of: 1, toByteOffset: page, as: UInt8.self) }
        let run = try runner(["experiments/mlp.yaml", "--epochs", "1", "--data-dir", TestPaths.mnist,
                              "--results-dir", scratch("results"), "--quiet"], scratch: scratch)
        try #require(run.exited(0), "\(run)")
        let data = try Data(contentsOf: URL(fileURLWithPath: scratch("results") + "/mlp/latest/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let peak = try #require(report["peak_memory_bytes"] as? Int)
        // The seed MLP alone peaks near 135 MB.
        #expect(peak > 50 << 20 && peak < 400 << 20, "\(peak)")
    }
}
