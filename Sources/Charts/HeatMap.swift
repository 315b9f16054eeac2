// Heat maps with the value written in every cell: the confusion matrix (true class down, predicted
// class across). Cells shade along one hue; the text in each is dark or white, whichever contrasts
// more with the cell. The figure's size follows from the cell size and the labels.

import Foundation

/// A matrix of values as shaded cells with their values written in, and a colour bar.
public struct HeatMap: Figure {
    /// How values map to shades.
    public enum Shading: Sendable {
        /// In proportion to the value (0 … the largest).
        case linear
        /// In proportion to log(1 + value): small counts beside large ones stay visible (a
        /// confusion matrix's mistakes next to its diagonal).
        case logarithmic
    }

    public var title: String
    /// One per row, top to bottom.
    public var rowLabels: [String]
    /// One per column, left to right.
    public var columnLabels: [String]
    /// `values[row][column]`, non-negative.
    public var values: [[Double]]
    /// Written left of the rows ("True label").
    public var rowTitle: String
    /// Written under the columns ("Predicted label").
    public var columnTitle: String
    /// Decimals of the numbers in the cells.
    public var decimals: Int
    public var shading: Shading
    /// The smallest side of a cell (grown to fit its number).
    public var cellSize: Double

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Double]],
                rowTitle: String = "", columnTitle: String = "", decimals: Int = 0,
                shading: Shading = .linear, cellSize: Double = 40) {
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.rowTitle = rowTitle
        self.columnTitle = columnTitle
        self.decimals = decimals
        self.shading = shading
        self.cellSize = cellSize
    }

    /// A confusion matrix of counts, `counts[actual][predicted]`, with the same class names on
    /// both axes and logarithmic shading.
    public static func confusion(title: String = "Confusion matrix", classes: [String], counts: [[Int]]) -> HeatMap {
        HeatMap(title: title, rowLabels: classes, columnLabels: classes, values: counts.map { $0.map(Double.init) },
                rowTitle: "True label", columnTitle: "Predicted label", shading: .logarithmic)
    }

    private var maximum: Double { values.flatMap { $0 }.filter(\.isFinite).max() ?? 0 }

    /// Where `value` falls on the colour scale, 0 (lightest) … 1 (the largest value, darkest).
    public func level(_ value: Double) -> Double {
        let top = maximum
        guard top > 0, value.isFinite, value > 0 else { return 0 }
        switch shading {
        case .linear: return value / top
        case .logarithmic: return log1p(value) / log1p(top)
        }
    }

    public func svg() -> String {
        let rows = values.count, columns = values.map(\.count).max() ?? 0
        let cellSize = max(self.cellSize, 8 + (values.flatMap { $0 }.map {
            TextMetrics.width(Format.fixed($0, decimals: decimals), size: TextSize.tick)
        }.max() ?? 0))
        let pad = 10.0
        let rowLabelWidth = rowLabels.map { TextMetrics.width($0, size: TextSize.tick) }.max() ?? 0
        let columnLabelWidth = columnLabels.map { TextMetrics.width($0, size: TextSize.tick) }.max() ?? 0
        let turned = columnLabelWidth > cellSize - 4
        let left = pad + (rowTitle.isEmpty ? 0 : 22) + rowLabelWidth + 8
        let top = pad + (title.isEmpty ? 0 : 26)
        let gridWidth = Double(columns) * cellSize, gridHeight = Double(rows) * cellSize
        let scaleTicks = colorBarTicks()
        let scaleLabelWidth = scaleTicks.map { TextMetrics.width($0.1, size: TextSize.tick) }.max() ?? 0
        let barX = left + gridWidth + 18
        let width = max(barX + 14 + 6 + scaleLabelWidth + pad, left + TextMetrics.width(title, size: TextSize.title, bold: true) + pad)
        let labelRoom = turned ? columnLabelWidth * 0.71 + 12 : 18
        let height = top + gridHeight + labelRoom + (columnTitle.isEmpty ? 0 : 20) + pad
        var canvas = SVGCanvas(width: width, height: height, title: title)
        if !title.isEmpty { canvas.text(title, x: left, y: pad + 15, size: TextSize.title, bold: true, class: "title") }

        canvas.beginGroup("cells")
        for r in 0..<rows {
            for c in 0..<values[r].count {
                let v = values[r][c], x = left + Double(c) * cellSize, y = top + Double(r) * cellSize
                let fill = Palette.sequential(level(v))
                canvas.rect(x: x, y: y, width: cellSize, height: cellSize, fill: fill, stroke: .white, class: "cell")
                let row = r < rowLabels.count ? rowLabels[r] : "\(r)", column = c < columnLabels.count ? columnLabels[c] : "\(c)"
                canvas.tooltip("\(rowTitle.isEmpty ? "row" : rowTitle) \(row), \(columnTitle.isEmpty ? "column" : columnTitle) \(column): \(Format.fixed(v, decimals: decimals))")
                let ink = v == 0 ? Color(0x8A8A8A) : Palette.text(on: fill)
                canvas.text(Format.fixed(v, decimals: decimals), x: x + cellSize / 2, y: y + cellSize / 2 + 4.2,
                            size: TextSize.tick, anchor: .middle, bold: r == c && rows == columns, fill: ink, class: "value")
            }
        }
        canvas.endGroup()
        canvas.rect(x: left, y: top, width: gridWidth, height: gridHeight, fill: nil, stroke: .muted, strokeWidth: 1)

        for (r, label) in rowLabels.prefix(rows).enumerated() {
            canvas.text(label, x: left - 7, y: top + (Double(r) + 0.5) * cellSize + 4.2, size: TextSize.tick, anchor: .end, class: "tick")
        }
        for (c, label) in columnLabels.prefix(columns).enumerated() {
            let cx = left + (Double(c) + 0.5) * cellSize
            if turned {
                canvas.text(label, x: cx + 4, y: top + gridHeight + 12, size: TextSize.tick, anchor: .end, rotate: -45, class: "tick")
            } else {
                canvas.text(label, x: cx, y: top + gridHeight + 17, size: TextSize.tick, anchor: .middle, class: "tick")
            }
        }
        if !rowTitle.isEmpty {
            canvas.text(rowTitle, x: pad + 13, y: top + gridHeight / 2, size: TextSize.axisTitle, anchor: .middle, rotate: -90, class: "axis-title")
        }
        if !columnTitle.isEmpty {
            canvas.text(columnTitle, x: left + gridWidth / 2, y: height - pad - 4, size: TextSize.axisTitle, anchor: .middle, class: "axis-title")
        }
        drawColorBar(on: &canvas, x: barX, top: top, height: gridHeight, ticks: scaleTicks)
        return canvas.render()
    }

    /// The colour bar's labelled values: 0, 1, 10, 100 … for log shading, 1-2-5 steps otherwise,
    /// and the maximum.
    private func colorBarTicks() -> [(Double, String)] {
        let top = maximum
        guard top > 0 else { return [(0, Format.fixed(0, decimals: decimals))] }
        var ticks: [Double]
        switch shading {
        case .logarithmic:
            ticks = [0]
            var p = 1.0
            while p <= top / 1.5 { ticks.append(p); p *= 10 }
        case .linear:
            let step = Axis.niceStep(top / 5)
            ticks = stride(from: 0, through: top / 1.15, by: step).map { $0 }
        }
        ticks.append(top)
        return ticks.map { ($0, Format.fixed($0, decimals: decimals)) }
    }

    private func drawColorBar(on canvas: inout SVGCanvas, x: Double, top: Double, height: Double, ticks: [(Double, String)]) {
        canvas.beginGroup("color-bar")
        let steps = 48
        for i in 0..<steps {
            let t = (Double(i) + 0.5) / Double(steps)
            let y = top + height * (1 - Double(i + 1) / Double(steps))
            canvas.rect(x: x, y: y, width: 14, height: height / Double(steps) + 0.3, fill: Palette.sequential(t))
        }
        canvas.rect(x: x, y: top, width: 14, height: height, fill: nil, stroke: .muted, strokeWidth: 0.8)
        for (value, label) in ticks {
            let y = top + height * (1 - level(value))
            canvas.line(x1: x + 14, y1: y, x2: x + 18, y2: y, stroke: .muted)
            canvas.text(label, x: x + 20, y: y + 4, size: TextSize.tick, fill: .muted, class: "tick")
        }
        canvas.endGroup()
    }
}
