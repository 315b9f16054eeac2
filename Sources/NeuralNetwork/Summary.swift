// Keras-style model summary: layer (type), output shape, parameter count, then totals.

extension Sequential {
    /// The table `model.summary()` prints in Keras 3, before any training.
    public func summary() -> String {
        let headers = ["Layer (type)", "Output Shape", "Param #"]
        var rows: [[String]] = []
        for layer in layers {
            rows.append(["\(layer.name) (\(layer.kind))", layer.outputShape.description,
                         Format.grouped(layer.parameterCount)])
        }
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        widths = widths.enumerated().map { i, w in max(w, [31, 22, 13][i]) }

        func line(_ left: String, _ fill: String, _ mid: String, _ right: String) -> String {
            left + widths.map { String(repeating: fill, count: $0 + 2) }.joined(separator: mid) + right
        }
        func cells(_ values: [String], _ bar: String) -> String {
            bar + values.enumerated().map { i, v in
                let pad = String(repeating: " ", count: widths[i] - v.count)
                return " " + (i == 2 ? pad + v : v + pad) + " "
            }.joined(separator: bar) + bar
        }
        var out = ["Model: \"\(name)\"", line("┏", "━", "┳", "┓"), cells(headers, "┃"), line("┡", "━", "╇", "┩")]
        for (i, row) in rows.enumerated() {
            out.append(cells(row, "│"))
            out.append(i == rows.count - 1 ? line("└", "─", "┴", "┘") : line("├", "─", "┼", "┤"))
        }
        if rows.isEmpty { out.append(line("└", "─", "┴", "┘")) }
        let total = parameterCount, trainable = trainableCount, fixed = state.count
        out.append(" Total params: \(Format.grouped(total)) (\(Format.bytes(total * 4)))")
        out.append(" Trainable params: \(Format.grouped(trainable)) (\(Format.bytes(trainable * 4)))")
        out.append(" Non-trainable params: \(Format.grouped(fixed)) (\(Format.bytes(fixed * 4)))")
        return out.joined(separator: "\n")
    }
}
