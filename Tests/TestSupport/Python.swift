// The Python environment `.ci/python-env` makes (numpy, onnxruntime, tensorboard, nbformat): its
// programs check what the runner writes with the readers other tools use. Missing, it is an
// error saying how to make it, not a reason to skip.
import Foundation

public enum Python {
    /// The environment's python: $RUNNER_VENV (relative to the package root), else .build/venv.
    public static func executable() throws -> String {
        var venv = ProcessInfo.processInfo.environment["RUNNER_VENV"].flatMap { $0.isEmpty ? nil : $0 } ?? ".build/venv"
        if !venv.hasPrefix("/") { venv = TestPaths.root.appendingPathComponent(venv).path }
        let python = venv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PythonError(description: "no Python environment at \(venv): run .ci/python-env")
        }
        return python
    }

    /// Runs `script` with `arguments` to its end; its standard output, or an error with both outputs
    /// when it exits non-zero.
    public static func run(_ script: String, _ arguments: [String], scratch: TemporaryDirectory) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.arguments = ["-c", script] + arguments
        let id = UUID().uuidString
        let outPath = scratch("python-out-\(id)"), errPath = scratch("python-err-\(id)")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw PythonError(description: "python exited \(process.terminationStatus)\n\(stdout)\n\(stderr)")
        }
        return stdout
    }
}

public struct PythonError: Error, CustomStringConvertible {
    public let description: String
}
