// The command line without training: help, validation, and every kind of bad input, each with
// the exit code (0 ok, 64 usage or experiment file, 1 runtime) and the words a user should see.
import Foundation
import Testing
import TestSupport

@Suite("runner command line")
struct CLITests {
    @Test("runner validate experiments/mlp.yaml prints the Keras-style summary")
    func validateShipped() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let result = try runner(["validate", "experiments/mlp.yaml"], scratch: scratch)
        #expect(result.exited(0), "\(result)")
        for text in ["Model: \"mlp\"", "Layer (type)", "Output Shape", "Param #", "flatten (Flatten)",
                     "(None, 784)", "dense (Dense)", "100,480", "dense_1 (Dense)", "1,290",
                     "Total params: 101,770", "valid — adam, categorical_crossentropy, 5 epochs, batch 32"] {
            #expect(result.stdout.contains(text), "summary lacks '\(text)':\n\(result.stdout)")
        }
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: scratch("cache")), "validate touched the data cache")
    }

    @Test("runner validate applies command-line overrides")
    func validateOverrides() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let result = try runner(["validate", "experiments/mlp.yaml", "--epochs", "2", "--batch-size", "64"],
                                scratch: scratch)
        #expect(result.exited(0), "\(result)")
        #expect(result.stdout.contains("2 epochs, batch 64"), "\(result)")
    }

    @Test("runner --help lists the subcommands", arguments: [["--help"], ["-h"], ["help"]])
    func help(_ arguments: [String]) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let result = try runner(arguments, scratch: scratch)
        #expect(result.exited(0), "\(result)")
        #expect(result.stdout.contains("SUBCOMMANDS"), "\(result)")
        #expect(result.stdout.contains("run (default)"), "\(result)")
        for subcommand in ["validate", "resume", "evaluate", "predict"] {
            #expect(result.stdout.contains("  \(subcommand) "), "no \(subcommand):\n\(result)")
        }
        #expect(result.stdout.contains("USAGE: runner"), "\(result)")
    }

    @Test("runner run --help and runner validate --help describe their options")
    func subcommandHelp() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let run = try runner(["run", "--help"], scratch: scratch)
        #expect(run.exited(0), "\(run)")
        for option in ["--epochs", "--seed", "--batch-size", "--data-dir", "--results-dir", "--threads", "--quiet"] {
            #expect(run.stdout.contains(option), "run --help lacks \(option):\n\(run.stdout)")
        }
        let validate = try runner(["validate", "--help"], scratch: scratch)
        #expect(validate.exited(0), "\(validate)")
        #expect(validate.stdout.contains("--epochs"), "\(validate)")
        #expect(!validate.stdout.contains("--data-dir"), "\(validate)")
        for (subcommand, options) in [("resume", ["--data-dir", "--threads", "--force"]),
                                      ("evaluate", ["--dataset", "--data-dir", "--threads"]),
                                      ("predict", ["--top", "--show"])] {
            let help = try runner([subcommand, "--help"], scratch: scratch)
            #expect(help.exited(0), "\(help)")
            for option in options { #expect(help.stdout.contains(option), "\(subcommand) --help lacks \(option)") }
        }
        let noImage = try runner(["predict", "results/mlp/latest"], scratch: scratch)
        #expect(noImage.exited(64) && noImage.stderr.contains("Missing expected argument '<image> ...'"), "\(noImage)")
        let forceAlone = try runner(["experiments/mlp.yaml", "--force"], scratch: scratch)
        #expect(forceAlone.exited(64) && forceAlone.stderr.contains("--force only applies with --resume"), "\(forceAlone)")
    }

    struct UsageCase: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let message: String
        var testDescription: String { "runner " + arguments.joined(separator: " ") }
    }

    @Test("bad command lines exit 64 and say what is wrong", arguments: [
        UsageCase(arguments: ["experiments/mlp.yaml", "--epochs", "0"], message: "--epochs must be at least 1"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--epochs", "-3"], message: "--epochs"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--epochs", "five"], message: "'five' is invalid"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--bogus"], message: "Unknown option '--bogus'"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--batch-size", "0"], message: "--batch-size must be at least 1"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--threads", "0"],
                  message: "--threads must be between 1 and 256"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--threads", "100000"], message: "--threads"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--seed", "-1"], message: "--seed"),
        UsageCase(arguments: ["experiments/mlp.yaml", "--seed", "18446744073709551616"], message: "--seed"),
        UsageCase(arguments: ["validate"], message: "Missing expected argument '<file>'"),
        UsageCase(arguments: ["validate", "experiments/mlp.yaml", "--threads", "2"],
                  message: "Unknown option '--threads'"),
    ])
    func usage(_ c: UsageCase) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // A data folder that does not exist: should the arguments ever be accepted, the run stops at
        // once (exit 1) instead of training.
        let result = try runner(c.arguments + (c.arguments.first == "validate" ? [] : ["--data-dir", scratch("none")]),
                                scratch: scratch)
        #expect(result.exited(64), "\(result)")
        #expect(result.stderr.contains(c.message), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test("a missing experiment file exits 64 naming the file", arguments: ["run", "validate"])
    func missingFile(_ subcommand: String) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let path = scratch("no-such-experiment.yaml")
        let result = try runner([subcommand, path], scratch: scratch)
        #expect(result.exited(64), "\(result)")
        #expect(result.stderr.contains("cannot read experiment file \(path)"), "\(result)")
        #expect(result.stderr.contains("no such file"), "\(result)")
    }

    struct BadFileCase: CustomTestStringConvertible, Sendable {
        let label: String
        let yaml: String
        let line: Int
        let column: Int
        let message: String
        var testDescription: String { label }
    }

    @Test("a bad experiment file exits 64 with file:line:col, the source line and a caret", arguments: [
        BadFileCase(label: "typo in a section", yaml: validYAML.replacingOccurrences(
                        of: "train:\n  epochs: 1\n  batch_size: 32\n", with: "train: {epochs: 5, epocs: 3}\n"),
                    line: 13, column: 20, message: "unknown key 'epocs'"),
        BadFileCase(label: "wrong type", yaml: validYAML.replacingOccurrences(of: "epochs: 1", with: "epochs: five"),
                    line: 14, column: 11, message: "expected an integer, found string 'five'"),
        BadFileCase(label: "tab indentation", yaml: "model:\n\tlayers: []\n", line: 2, column: 1,
                    message: "YAML syntax"),
        BadFileCase(label: "dense without flatten",
                    yaml: validYAML.replacingOccurrences(of: "    - type: flatten\n", with: ""),
                    line: 3, column: 13, message: "layer 'dense' (dense): dense expects a flat input"),
        BadFileCase(label: "unknown layer type",
                    yaml: validYAML.replacingOccurrences(of: "type: flatten", with: "type: flaten"),
                    line: 3, column: 13, message: "unknown layer type 'flaten'"),
    ], ["run", "validate"])
    func badFile(_ c: BadFileCase, subcommand: String) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let path = try scratch.write(c.yaml, to: "bad.yaml")
        let arguments = subcommand == "run" ? [subcommand, path, "--data-dir", scratch("none")] : [subcommand, path]
        let result = try runner(arguments, scratch: scratch)
        #expect(result.exited(64), "\(result)")
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first?.hasPrefix("\(path):\(c.line):\(c.column): error: ") == true, "\(result)")
        #expect(lines.first?.contains(c.message) == true, "\(result)")
        let source = c.yaml.split(separator: "\n", omittingEmptySubsequences: false)[c.line - 1]
        #expect(lines.count > 2 && lines[1] == "    " + source, "\(result)")
        if lines.count > 2 {
            let caret = lines[2]
            #expect(caret.hasSuffix("^") && caret.count == 4 + c.column, "caret misplaced:\n\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch("results")), "\(result)")
    }

    @Test("a --results-dir that is a file is a runtime error (exit 1) with the system's reason")
    func resultsDirectoryIsAFile() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let file = try scratch.write("not a folder", to: "results")
        for arguments in [["experiments/mlp.yaml"], ["compare", "experiments/mlp.yaml"]] {
            let result = try runner(arguments + ["--data-dir", TestPaths.mnist, "--results-dir", file, "--epochs", "1"],
                                    scratch: scratch)
            #expect(result.exited(1), "\(result)")
            #expect(result.stderr.contains(file + "/") && result.stderr.contains("cannot create directory: Not a directory"),
                    "\(result)")
        }
    }

    @Test("a --data-dir that does not exist is a runtime error (exit 1) naming the folder")
    func missingDataDirectory() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let folder = scratch("no-mnist-here")
        let result = try runner(["experiments/mlp.yaml", "--data-dir", folder, "--results-dir", scratch("results"),
                                 "--quiet"], scratch: scratch)
        #expect(result.exited(1), "\(result)")
        #expect(result.stderr.contains(folder), "\(result)")
        #expect(result.stderr.contains("does not exist"), "\(result)")
        // A mistyped path must not lead to a download into the cache.
        #expect(!FileManager.default.fileExists(atPath: scratch("cache/mnist")), "\(result)")
    }

    struct HostileCase: CustomTestStringConvertible, Sendable {
        let label: String
        /// File content (bytes), or nil for "the path is a directory".
        let content: [UInt8]?
        var extra: [String] = []
        var testDescription: String { label }
    }

    @Test("no bad input makes the program trap: it exits 64 or 1", arguments: [
        HostileCase(label: "empty file", content: []),
        HostileCase(label: "not UTF-8", content: [0xff, 0xfe, 0x00, 0x41]),
        HostileCase(label: "a directory", content: nil),
        HostileCase(label: "a list", content: Array("- 1\n- 2\n".utf8)),
        HostileCase(label: "huge units", content: Array(validYAML.replacingOccurrences(
            of: "units: 128", with: "units: 9223372036854775807").utf8)),
        HostileCase(label: "units beyond memory", content: Array(validYAML.replacingOccurrences(
            of: "units: 128", with: "units: 100000000000").utf8)),
        HostileCase(label: "input_shape overflowing", content: Array(validYAML.replacingOccurrences(
            of: "model:\n", with: "model:\n  input_shape: [4611686018427387904, 4]\n").utf8)),
        HostileCase(label: "batch_size beyond memory", content: Array(validYAML.replacingOccurrences(
            of: "batch_size: 32", with: "batch_size: 9223372036854775807").utf8)),
        HostileCase(label: "--batch-size beyond memory", content: Array(validYAML.utf8),
                    extra: ["--batch-size", "1000000000000"]),
        HostileCase(label: "integer beyond Int64", content: Array(validYAML.replacingOccurrences(
            of: "units: 128", with: "units: 99999999999999999999999").utf8)),
        HostileCase(label: "self-referencing alias", content: Array("a: &x [*x]\n".utf8)),
        HostileCase(label: "deep nesting", content: Array((String(repeating: "[", count: 5000) + "\n").utf8)),
        HostileCase(label: "infinite scale", content: Array((validYAML + "preprocess: {scale: .inf}\n").utf8)),
        HostileCase(label: "NaN learning rate", content: Array(validYAML.replacingOccurrences(
            of: "optimizer: adam", with: "optimizer: {type: adam, learning_rate: .nan}").utf8)),
    ])
    func noTraps(_ c: HostileCase) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let path = scratch("hostile.yaml")
        if let content = c.content {
            try Data(content).write(to: URL(fileURLWithPath: path))
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        for subcommand in ["validate", "run"] {
            let data = subcommand == "run" ? ["--data-dir", scratch("none"), "--results-dir", scratch("results")] : []
            let result = try runner([subcommand, path] + c.extra + data, scratch: scratch)
            #expect(result.reason == .exit, "\(result)")
            #expect(result.status == 64, "\(subcommand): \(result)")
            #expect(result.stderr.contains("error"), "\(result)")
        }
    }
}

/// A valid experiment. Lines: 1 model, 2 layers, 3 flatten, 4–6 dense 128 relu, 7–9 dense 10 softmax,
/// 10 compile, 11 optimizer, 12 loss, 13 train, 14 epochs, 15 batch_size.
let validYAML = ExperimentYAML.mlp(epochs: 1, inputShape: false)
