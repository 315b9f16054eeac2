// The sample notebook as Jupyter reads it: valid against nbformat's schema, and exactly the text
// nbformat itself would write. A missing Python environment fails these tests.
import Charts
import Foundation
import TestSupport
import Testing

@Suite("nbformat")
struct NbformatTests {
    @Test("The sample notebook is valid nbformat 4.5 and byte for byte what nbformat writes")
    func sample() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let notebook = Samples.notebook().render()
        BrowserTests.keep(Array(notebook.utf8), as: "charts-sample.ipynb")
        let result = try Nbformat.check(notebook, scratch: scratch)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("valid "), "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(" 4 5 6\n"))
        #expect(result.stdout.hasSuffix("same\n"), "\(result.stdout)")
    }

    @Test("The check rejects an invalid notebook")
    func rejects() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let broken = Samples.notebook().render().replacingOccurrences(of: "\"display_data\"", with: "\"picture\"")
        let result = try Nbformat.check(broken, scratch: scratch)
        #expect(result.status != 0)
        #expect(result.stderr.contains("ValidationError") || result.stderr.contains("NotJSONError"), "\(result.stderr.suffix(500))")
    }
}
