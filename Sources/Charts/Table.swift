// Tables for the HTML page (numbers right-aligned in tabular figures) and the same table as
// aligned plain text (a notebook output's text/plain).

/// A table of text cells with a header row.
public struct Table: Sendable {
    /// A column: its header and whether it holds numbers (right-aligned).
    public struct Column: Sendable {
        public var title: String
        public var numeric: Bool

        public init(_ title: String, numeric: Bool = false) {
            self.title = title
            self.numeric = numeric
        }
    }

    public var columns: [Column]
    /// Cells as text, already formatted; a short row is padded with empty cells.
    public var rows: [[String]]
    /// A line above the table; empty for none.
    public var caption: String

    public init(columns: [Column], rows: [[String]], caption: String = "") {
        self.columns = columns
        self.rows = rows
        self.caption = caption
    }

    /// `<table>` with escaped cells; numeric columns carry `class="num"`.
    public func html() -> String {
        var out = "<table>\n"
        if !caption.isEmpty { out += "<caption>\(Markup.escape(caption))</caption>\n" }
        out += "<thead><tr>"
        for column in columns {
            out += column.numeric ? "<th class=\"num\">" : "<th>"
            out += Markup.escape(column.title) + "</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for row in rows {
            out += "<tr>"
            for (i, column) in columns.enumerated() {
                out += column.numeric ? "<td class=\"num\">" : "<td>"
                out += (i < row.count ? Markup.escape(row[i]) : "") + "</td>"
            }
            out += "</tr>\n"
        }
        return out + "</tbody>\n</table>"
    }

    /// The table as monospaced text: columns padded to their widest cell, numbers right-aligned,
    /// a dashed rule under the header.
    public func plainText() -> String {
        let cells = [columns.map(\.title)] + rows.map { row in columns.indices.map { $0 < row.count ? row[$0] : "" } }
        let widths = columns.indices.map { c in cells.map { $0[c].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            var parts: [String] = []
            for (c, text) in row.enumerated() {
                let fill = String(repeating: " ", count: widths[c] - text.count)
                parts.append(columns[c].numeric ? fill + text : text + fill)
            }
            var joined = parts.joined(separator: "  ")
            while joined.hasSuffix(" ") { joined.removeLast() }
            return joined
        }
        var lines: [String] = []
        if !caption.isEmpty { lines.append(caption) }
        lines.append(line(cells[0]))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        lines += cells.dropFirst().map(line)
        return lines.joined(separator: "\n")
    }
}
