// Checking notebooks with Jupyter's own `nbformat` package, from the virtual environment that
// .ci/python-env makes (Python.swift finds it). Missing, it is an error, not a reason to skip.
import Foundation

public enum Nbformat {
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
        return try runToCompletion(try Python.executable(), ["-c", script, path], scratch: scratch)
    }
}
