// Checking notebooks with Jupyter's own `nbformat` package, from the virtual environment that
// .ci/python-env makes: $RUNNER_VENV, default .build/venv in the package (a relative path is
// taken from the package root). Missing, it is an error, not a reason to skip.
import Foundation

public enum Nbformat {
    /// The environment's python, or an error saying how to make it.
    public static func python() throws -> String {
        var venv = ProcessInfo.processInfo.environment["RUNNER_VENV"].flatMap { $0.isEmpty ? nil : $0 } ?? ".build/venv"
        if !venv.hasPrefix("/") { venv = TestPaths.root.appendingPathComponent(venv).path }
        let python = venv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ToolError("no Python environment at \(venv): run .ci/python-env (it installs nbformat there)")
        }
        return python
    }

    /// Reads the notebook with nbformat, validates it against the nbformat 4 schema, and writes
    /// it back with nbformat's writer: prints "valid", then "same" when that text equals the
    /// file byte for byte (else a diff).
    static let script = """
    import difflib, sys
    import nbformat
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb, repair_duplicate_cell_ids=False, strip_invalid_metadata=False)
    print("valid", nbformat.__version__, nb.nbformat, nb.nbformat_minor, len(nb.cells))
    again = nbformat.writes(nb)
    if not again.endswith("\\n"):
        again += "\\n"
    if again == text:
        print("same")
    else:
        sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), again.splitlines(True), "ours", "nbformat", n=1))
    """

    /// Runs `script` on `notebook` (its text); the program's outcome.
    public static func check(_ notebook: String, scratch: TemporaryDirectory) throws -> Finished {
        let path = scratch("notebook.ipynb")
        try notebook.write(toFile: path, atomically: true, encoding: .utf8)
        return try runToCompletion(try python(), ["-c", script, path], scratch: scratch)
    }
}
