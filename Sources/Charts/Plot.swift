// What the x-y charts share: the title, a legend in rows above the plot (it never covers data),
// margins sized from the tick labels actually drawn, gridlines, axis lines and titles.

/// Sizes of text, in user units of a chart's viewBox (640 wide by default, so 12 reads as
/// about 11 px on a 600 px phone and on A4 paper).
enum TextSize {
    static let title = 15.5
    static let axisTitle = 13.5
    static let tick = 12.5
    static let legend = 12.5
    static let note = 12.0
}

/// One entry of a legend: a line sample (with its dash and marker) or a filled patch.
struct LegendEntry {
    enum Swatch {
        case line(Color, Dash, marker: Bool)
        case patch(Color)
    }

    let name: String
    let swatch: Swatch

    var width: Double { 38 + TextMetrics.width(name, size: TextSize.legend) + 18 }
}

/// Legend rows laid out left to right, wrapping at `width`.
struct Legend {
    static let rowHeight = 18.0
    let rows: [[LegendEntry]]

    init(_ entries: [LegendEntry], width: Double) {
        var rows: [[LegendEntry]] = []
        var row: [LegendEntry] = [], used = 0.0
        for entry in entries {
            if !row.isEmpty && used + entry.width > width {
                rows.append(row)
                row = []
                used = 0
            }
            row.append(entry)
            used += entry.width
        }
        if !row.isEmpty { rows.append(row) }
        self.rows = rows
    }

    var height: Double { rows.isEmpty ? 0 : Double(rows.count) * Self.rowHeight + 4 }

    /// Draws the rows with the first one's top at `y`.
    func draw(on canvas: inout SVGCanvas, x: Double, y: Double) {
        guard !rows.isEmpty else { return }
        canvas.beginGroup("legend")
        for (r, row) in rows.enumerated() {
            var cx = x
            let mid = y + Double(r) * Self.rowHeight + Self.rowHeight / 2
            for entry in row {
                switch entry.swatch {
                case .line(let color, let dash, let marker):
                    canvas.line(x1: cx, y1: mid, x2: cx + 32, y2: mid, stroke: color, width: 2, dash: dash)
                    if marker { canvas.circle(cx: cx + 16, cy: mid, r: 3, fill: color, stroke: .white) }
                case .patch(let color):
                    canvas.rect(x: cx + 9, y: mid - 6, width: 14, height: 12, fill: color)
                }
                canvas.text(entry.name, x: cx + 38, y: mid + 4, size: TextSize.legend)
                cx += entry.width
            }
        }
        canvas.endGroup()
    }
}

/// A chart's plotting rectangle with its two axes resolved: maps data to positions and draws
/// the frame around the data.
struct Cartesian {
    let left: Double, top: Double, right: Double, bottom: Double
    let x: Ticks, y: Ticks
    let xAxis: Axis, yAxis: Axis

    /// Lays out a chart `width` × `height` with `title` and `legend` above the plot.
    /// `xLabelRoom` is the height the x tick labels need (more when they are turned).
    static func layout(width: Double, height: Double, title: String, legend: [LegendEntry],
                       x: Ticks, y: Ticks, xAxis: Axis, yAxis: Axis, xLabelRoom: Double = 18)
        -> (Cartesian, Legend, legendTop: Double) {
        let pad = 10.0
        let yLabelWidth = y.labels.map { TextMetrics.width($0, size: TextSize.tick) }.max() ?? 0
        let left = pad + (yAxis.label.isEmpty ? 0 : 22) + yLabelWidth + 8
        let lastX = x.labels.last.map { TextMetrics.width($0, size: TextSize.tick) } ?? 0
        let right = width - max(pad + 6, lastX / 2 + 4)
        var top = pad
        if !title.isEmpty { top += 24 }
        let legendTop = top
        let key = Legend(legend, width: right - left)
        top += key.height + 8
        let bottom = height - pad - xLabelRoom - (xAxis.label.isEmpty ? 0 : 20)
        let plot = Cartesian(left: left, top: top, right: right, bottom: bottom, x: x, y: y, xAxis: xAxis, yAxis: yAxis)
        return (plot, key, legendTop)
    }

    func px(_ v: Double) -> Double? { x.position(v, start: left, end: right) }
    func py(_ v: Double) -> Double? { y.position(v, start: bottom, end: top) }

    /// Gridlines, axis lines, tick labels and axis titles; `xTicks: false` leaves the x tick
    /// labels to the caller (category axes).
    func drawFrame(on canvas: inout SVGCanvas, title: String, xTicks: Bool = true, xGrid: Bool = true) {
        if !title.isEmpty {
            canvas.text(title, x: left, y: 10 + 15, size: TextSize.title, bold: true, class: "title")
        }
        var grid = PathData()
        for v in y.values { if let p = py(v) { grid.move(left, p); grid.line(right, p) } }
        if xGrid { for v in x.values { if let p = px(v) { grid.move(p, top); grid.line(p, bottom) } } }
        canvas.path(grid.text, stroke: .grid, width: 1, class: "grid")
        var axes = PathData()
        axes.move(left, top)
        axes.line(left, bottom)
        axes.line(right, bottom)
        for v in y.values { if let p = py(v) { axes.move(left - 4, p); axes.line(left, p) } }
        if xTicks { for v in x.values { if let p = px(v) { axes.move(p, bottom); axes.line(p, bottom + 4) } } }
        canvas.path(axes.text, stroke: .ink, width: 1, class: "axis")
        for (v, label) in zip(y.values, y.labels) {
            if let p = py(v) { canvas.text(label, x: left - 7, y: p + 4, size: TextSize.tick, anchor: .end, fill: .muted, class: "tick") }
        }
        if xTicks {
            for (v, label) in zip(x.values, x.labels) {
                if let p = px(v) { canvas.text(label, x: p, y: bottom + 17, size: TextSize.tick, anchor: .middle, fill: .muted, class: "tick") }
            }
        }
        if !yAxis.label.isEmpty {
            let cy = (top + bottom) / 2
            canvas.text(yAxis.label, x: 10 + 13, y: cy, size: TextSize.axisTitle, anchor: .middle, rotate: -90, class: "axis-title")
        }
        if !xAxis.label.isEmpty {
            canvas.text(xAxis.label, x: (left + right) / 2, y: canvas.height - 10 - 4, size: TextSize.axisTitle, anchor: .middle, class: "axis-title")
        }
    }
}

/// The smallest and largest finite values (positive only when `positive`), or (∞, -∞) for none.
func extent(_ values: some Sequence<Double>, positive: Bool = false) -> (Double, Double) {
    var lo = Double.infinity, hi = -Double.infinity
    for v in values where v.isFinite && (!positive || v > 0) {
        lo = min(lo, v)
        hi = max(hi, v)
    }
    return (lo, hi)
}
