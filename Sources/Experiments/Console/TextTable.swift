// One table, two renderings: aligned columns for a terminal and a pipe table for Markdown. The
// cells are the same strings in both, so the console and comparison.md never disagree.
import Foundation

struct TextTable {
    struct Column {
        let title: String
        /// Numbers are right-aligned.
        var right = false
    }

    var columns: [Column]
    var rows: [[String]] = []

    /// Columns separated by two spaces, a rule under the header.
    func console(indent: String = "") -> String {
        let widths = columns.indices.map { i in
            rows.reduce(columns[i].title.count) { max($0, $1[i].count) }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return columns[i].right ? pad + cell : cell + pad
            }
            return indent + padded.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(columns.map(\.title)), indent + widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")]
            + rows.map(line)).joined(separator: "\n")
    }

    /// A GitHub-flavoured Markdown table (pipes in cells escaped).
    func markdown() -> String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        return ([line(columns.map(\.title)), "|" + columns.map { $0.right ? "---:|" : "---|" }.joined()]
            + rows.map(line)).joined(separator: "\n")
    }
}

/// One CSV line (RFC 4180: fields with commas, quotes or line breaks are quoted).
func csvLine(_ fields: [String]) -> String {
    fields.map { field in
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }.joined(separator: ",")
}
