// Jupyter notebooks (nbformat 4.5) with their outputs stored, so they show their pictures in
// Jupyter, VS Code or on a Git host without being run. The text is exactly what Jupyter itself
// saves (nbformat's writer: keys sorted, one-space indent, multi-line strings as lists of lines,
// a final newline), so opening and saving the file in Jupyter changes no byte.

/// A notebook of markdown and code cells.
public struct Notebook: Sendable {
    /// One cell.
    public enum Cell: Sendable {
        case markdown(String)
        /// Source code with the outputs it produced, shown without running it.
        case code(String, outputs: [Output])
    }

    /// One stored output of a code cell (a `display_data`, or a `stream` for `.stdout`).
    public enum Output: Sendable {
        /// An SVG figure (from `Figure.svg()`); `text` is the plain-text stand-in.
        case svg(String, text: String)
        /// PNG bytes; `text` is the plain-text stand-in.
        case png([UInt8], text: String)
        /// HTML (a `Table.html()`) with its plain-text equivalent.
        case html(String, text: String)
        /// Printed text.
        case stdout(String)
        /// Markdown (a note between figures), with itself as the plain-text twin.
        case markdown(String)
    }

    public var cells: [Cell]
    /// The language of the code cells, for highlighting (`metadata.language_info.name`); nil
    /// writes no metadata.
    public var language: String?

    public init(cells: [Cell], language: String? = nil) {
        self.cells = cells
        self.language = language
    }

    /// The notebook's JSON text. Cell ids are "cell-1", "cell-2", …; code cells are numbered
    /// as if run in order.
    public func render() -> String {
        var count = 0
        let cellValues: [JSON] = cells.enumerated().map { index, cell in
            let id = JSON.string("cell-\(index + 1)")
            switch cell {
            case .markdown(let text):
                return .object(["cell_type": .string("markdown"), "id": id, "metadata": .object([:]),
                                "source": Self.lines(text)])
            case .code(let source, let outputs):
                count += 1
                return .object(["cell_type": .string("code"), "execution_count": .int(count), "id": id,
                                "metadata": .object([:]), "outputs": .array(outputs.map(Self.output)),
                                "source": Self.lines(source)])
            }
        }
        var metadata: [String: JSON] = [:]
        if let language { metadata["language_info"] = .object(["name": .string(language)]) }
        let notebook = JSON.object(["cells": .array(cellValues), "metadata": .object(metadata),
                                    "nbformat": .int(4), "nbformat_minor": .int(5)])
        var out = ""
        notebook.write(to: &out, indent: 0)
        return out + "\n"
    }

    private static func output(_ output: Output) -> JSON {
        func display(_ data: [String: JSON]) -> JSON {
            .object(["data": .object(data), "metadata": .object([:]), "output_type": .string("display_data")])
        }
        switch output {
        case .svg(let svg, let text):
            return display(["image/svg+xml": lines(svg), "text/plain": lines(text)])
        case .png(let bytes, let text):
            return display(["image/png": .string(PNG.base64(bytes)), "text/plain": lines(text)])
        case .html(let html, let text):
            return display(["text/html": lines(html), "text/plain": lines(text)])
        case .markdown(let text):
            return display(["text/markdown": lines(text), "text/plain": lines(text)])
        case .stdout(let text):
            return .object(["name": .string("stdout"), "output_type": .string("stream"), "text": lines(text)])
        }
    }

    /// Python's `str.splitlines(keepends=True)`, as nbformat stores multi-line text.
    static func lines(_ text: String) -> JSON {
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        var pending = scalars.next()
        while let s = pending {
            pending = scalars.next()
            current.append(s)
            switch s.value {
            case 0x0D:
                if pending == "\n" { current.append("\n"); pending = scalars.next() }
                fallthrough
            case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                parts.append(String(current))
                current = String.UnicodeScalarView()
            default:
                break
            }
        }
        if !current.isEmpty { parts.append(String(current)) }
        return .array(parts.map { .string($0) })
    }
}

/// The JSON values a notebook holds, written like Python's `json.dumps(indent=1,
/// sort_keys=True, ensure_ascii=False)`.
enum JSON: Sendable {
    case string(String)
    case int(Int)
    case array([JSON])
    case object([String: JSON])

    func write(to out: inout String, indent: Int) {
        switch self {
        case .string(let s): Self.quote(s, to: &out)
        case .int(let n): out += String(n)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += String(repeating: " ", count: indent + 1)
                item.write(to: &out, indent: indent + 1)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{\n"
            // Python sorts keys by code point.
            let keys = members.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            for (i, key) in keys.enumerated() {
                out += String(repeating: " ", count: indent + 1)
                Self.quote(key, to: &out)
                out += ": "
                members[key]!.write(to: &out, indent: indent + 1)
                out += i == keys.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }

    /// A JSON string: quote, backslash and control characters escaped, everything else as is.
    static func quote(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
