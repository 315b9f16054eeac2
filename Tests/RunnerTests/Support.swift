// Running the built `runner` the way a user does: find the binary next to the test bundle, run it
// with a private cache and results folder, and collect its exit status and output.
import Foundation
import Testing
import TestSupport

extension TestPaths {
    /// The `runner` built with this test bundle. `swift test` builds every product into the same
    /// folder as the test executable (on Linux `CommandLine.arguments[0]` is that executable,
    /// …/release/<Package>PackageTests.xctest); failing that, the newest `.build*/release/runner`.
    static let runner: String? = {
        let fm = FileManager.default
        var folders: [URL] = []
        if let argument = CommandLine.arguments.first, !argument.isEmpty {
            folders.append(URL(fileURLWithPath: argument).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        folders.append(Bundle.main.bundleURL)
        folders.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for folder in folders {
            let candidate = folder.appendingPathComponent("runner").path
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        let builds = ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix(".build") }
        let found = builds.map { root.appendingPathComponent("\($0)/release/runner").path }
            .filter { fm.isExecutableFile(atPath: $0) }
        func modified(_ path: String) -> Date {
            ((try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
        }
        return found.max { modified($0) < modified($1) }
    }()
}

/// What a run of `runner` left behind.
struct Outcome: CustomStringConvertible {
    let status: Int32
    let reason: Process.TerminationReason
    let stdout: String
    let stderr: String

    /// Exited (not killed by a signal) with `status`.
    func exited(_ code: Int32) -> Bool { reason == .exit && status == code }

    var description: String {
        "\(reason == .exit ? "exit" : "signal") \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }

    /// The 64-hex-digit hash on the "Weight hash:" line.
    var weightHash: String? {
        for line in stdout.split(separator: "\n") where line.hasPrefix("Weight hash: ") {
            let hash = String(line.dropFirst("Weight hash: ".count))
            return hash.count == 64 && hash.allSatisfy(\.isHexDigit) ? hash : nil
        }
        return nil
    }
}

/// A `runner` started in the package root and not yet waited for, set up as `runnerProcess`
/// describes, its output going to files (so a chatty child can never block on a full pipe).
struct RunningRunner {
    let arguments: [String]
    let process: Process
    private let out: FileHandle, err: FileHandle
    private let outPath: String, errPath: String

    init(_ arguments: [String], scratch: TemporaryDirectory, environment extra: [String: String] = [:],
         launcher: [String] = [], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        self.arguments = arguments
        process = try runnerProcess(arguments, scratch: scratch, environment: extra, launcher: launcher,
                                    sourceLocation: sourceLocation)
        let id = UUID().uuidString
        outPath = scratch("stdout-\(id)")
        errPath = scratch("stderr-\(id)")
        // (FileHandle(forWritingTo:) below throws if either was not created.)
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits for the child to end and collects what it printed.
    func wait() throws -> Outcome {
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Outcome(status: process.terminationStatus, reason: process.terminationReason,
                       stdout: try String(contentsOfFile: outPath, encoding: .utf8),
                       stderr: try String(contentsOfFile: errPath, encoding: .utf8))
    }
}

/// Runs `runner arguments…` to its end (see RunningRunner). Any death by signal is recorded as a
/// failure: no input may make the program trap. `environment` adds or replaces variables.
func runner(_ arguments: [String], scratch: TemporaryDirectory, environment extra: [String: String] = [:],
            launcher: [String] = [], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Outcome {
    let outcome = try RunningRunner(arguments, scratch: scratch, environment: extra, launcher: launcher,
                                    sourceLocation: sourceLocation).wait()
    if outcome.reason != .exit {
        Issue.record("runner \(arguments.joined(separator: " ")) was killed by signal \(outcome.status):\n\(outcome)",
                     sourceLocation: sourceLocation)
    }
    return outcome
}

/// A `runner arguments…` process in the package root, not started. The child gets a private
/// RUNNER_CACHE_DIR (inside `scratch`) so nothing touches ~/.cache, and no RUNNER_DATA_DIR, so only
/// --data-dir says where data is; everything else (OPENBLAS_* included) is inherited, then `extra`.
/// A `launcher` (`["/usr/bin/taskset", "-c", "0"]`) runs the runner through that command.
func runnerProcess(_ arguments: [String], scratch: TemporaryDirectory, environment extra: [String: String] = [:],
                   launcher: [String] = [], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Process {
    let binary = try #require(TestPaths.runner, "no built runner next to the tests or in .build*/release",
                              sourceLocation: sourceLocation)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: launcher.first ?? binary)
    process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [binary] + arguments
    process.currentDirectoryURL = TestPaths.root
    var environment = ProcessInfo.processInfo.environment
    environment["RUNNER_CACHE_DIR"] = scratch("cache")
    environment["RUNNER_DATA_DIR"] = nil
    environment.merge(extra) { _, new in new }
    process.environment = environment
    return process
}
