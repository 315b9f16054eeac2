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
            throw ToolError("no Python environment at \(venv): run .ci/python-env")
        }
        return python
    }

    /// Runs `script` with `arguments` to its end; its standard output, or an error with both outputs
    /// when it exits non-zero.
    public static func run(_ script: String, _ arguments: [String], scratch: TemporaryDirectory) throws -> String {
        let done = try runToCompletion(try executable(), ["-c", script] + arguments, scratch: scratch)
        guard done.status == 0 else { throw ToolError("python exited \(done.status)\n\(done.stdout)\n\(done.stderr)") }
        return done.stdout
    }
}
