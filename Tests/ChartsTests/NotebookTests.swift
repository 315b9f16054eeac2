// The notebook's JSON: nbformat 4.5's structure, Jupyter's own layout (sorted keys, one-space
// indent, text as lists of lines), escaping, and the same bytes every time.
import Charts
import Foundation
import TestSupport
import Testing

@Suite("Notebooks")
struct NotebookTests {
    static func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("Cells with ids, code cells numbered in order, outputs of every kind")
    func structure() throws {
        let text = Samples.notebook().render()
        let notebook = try Self.parse(text)
        #expect(notebook["nbformat"] as? Int == 4 && notebook["nbformat_minor"] as? Int == 5)
        let cells = try #require(notebook["cells"] as? [[String: Any]])
        #expect(cells.map { $0["id"] as? String } == (1...6).map { "cell-\($0)" })
        #expect(cells.map { $0["cell_type"] as? String } == ["markdown", "code", "code", "code", "code", "markdown"])
        #expect(cells.compactMap { $0["execution_count"] as? Int } == [1, 2, 3, 4])
        let outputs = cells.compactMap { $0["outputs"] as? [[String: Any]] }.flatMap { $0 }
        #expect(outputs.map { $0["output_type"] as? String } == ["stream", "display_data", "display_data", "display_data", "display_data"])
        let data = outputs.compactMap { $0["data"] as? [String: Any] }
        #expect(data.map { $0.keys.sorted() } == [["image/svg+xml", "text/plain"], ["image/svg+xml", "text/plain"],
                                                  ["text/html", "text/plain"], ["image/png", "text/plain"]])
        // A PNG is one base64 string that decodes to the image; text is stored as lines.
        let base64 = try #require(data[3]["image/png"] as? String)
        let png = try #require(base64Decoded(base64))
        #expect(try #require(DecodedImage(png: png)).grays == Samples.digit(7))
        let svgLines = try #require(data[0]["image/svg+xml"] as? [String])
        #expect(svgLines.joined() == Samples.layers().svg())
        #expect((notebook["metadata"] as? [String: Any])?["language_info"] as? [String: String] == ["name": "yaml"])
    }

    @Test("Jupyter's layout: keys sorted, one-space indent, a final newline")
    func layout() {
        let text = Notebook(cells: [.code("x = 1\n", outputs: [])]).render()
        #expect(text == """
        {
         "cells": [
          {
           "cell_type": "code",
           "execution_count": 1,
           "id": "cell-1",
           "metadata": {},
           "outputs": [],
           "source": [
            "x = 1\\n"
           ]
          }
         ],
         "metadata": {},
         "nbformat": 4,
         "nbformat_minor": 5
        }

        """)
    }

    @Test("Text splits into lines as Python's splitlines(keepends=True) does")
    func lines() throws {
        func split(_ text: String) throws -> [String] {
            let notebook = try Self.parse(Notebook(cells: [.markdown(text)]).render())
            let cells = try #require(notebook["cells"] as? [[String: Any]])
            return try #require(cells[0]["source"] as? [String])
        }
        #expect(try split("") == [])
        #expect(try split("a") == ["a"])
        #expect(try split("a\nb\n") == ["a\n", "b\n"])
        #expect(try split("a\r\nb\rc") == ["a\r\n", "b\r", "c"])
        #expect(try split("a\u{0C}b\u{2028}c") == ["a\u{0C}", "b\u{2028}", "c"])
    }

    @Test("Strings escaped as Python's json.dumps(ensure_ascii=False) writes them")
    func escaping() {
        let text = Notebook(cells: [.markdown("q\" b\\ t\t c\u{01} é ✓ </script>")]).render()
        #expect(text.contains("\"q\\\" b\\\\ t\\t c\\u0001 é ✓ </script>\""))
    }

    @Test("The same notebook gives the same bytes")
    func determinism() {
        #expect(Samples.notebook().render() == Samples.notebook().render())
    }
}
