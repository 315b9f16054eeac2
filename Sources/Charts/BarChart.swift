// Bar charts over categories: the class counts of a split (one group), per-class precision,
// recall and F1 side by side (three groups), or each run's per-class recall in a comparison.

/// Vertical bars, one cluster per category and one bar per group within it.
public struct BarChart: Figure {
    /// One bar per category, in one colour, named in the legend.
    public struct Group: Sendable {
        public var name: String
        public var values: [Double]
        public var color: Color?

        public init(_ name: String, values: [Double], color: Color? = nil) {
            self.name = name
            self.values = values
            self.color = color
        }
    }

    public var title: String
    public var categories: [String]
    public var groups: [Group]
    /// The x axis's title (categories are its ticks).
    public var xLabel: String
    /// The value axis; bars start at 0 unless `yAxis.min` is set.
    public var yAxis: Axis
    /// Write each bar's value above it with this many decimals; nil: no values.
    public var valueDecimals: Int?
    public var width: Double
    public var height: Double

    public init(title: String, categories: [String], groups: [Group], xLabel: String = "", yAxis: Axis = Axis(),
                valueDecimals: Int? = nil, width: Double = 640, height: Double = 320) {
        self.title = title
        self.categories = categories
        self.groups = groups
        self.xLabel = xLabel
        self.yAxis = yAxis
        self.valueDecimals = valueDecimals
        self.width = width
        self.height = height
    }

    public func svg() -> String {
        let values = groups.flatMap(\.values)
        var (lo, hi) = extent(values)
        if yAxis.min == nil { lo = min(lo.isFinite ? lo : 0, 0) }
        if yAxis.max == nil { hi = max(hi.isFinite ? hi : 0, 0) }
        let yt = yAxis.ticks(dataMin: lo, dataMax: hi, target: max(3, Int(height / 55)))
        // Category labels: level when they fit their slot, else turned 40° (room below for them).
        let slotGuess = (width - 80) / Double(max(categories.count, 1))
        let longest = categories.map { TextMetrics.width($0, size: TextSize.tick) }.max() ?? 0
        let turned = longest > slotGuess - 6
        let labelRoom = turned ? longest * 0.64 + 14 : 18
        let xt = Ticks(lower: 0, upper: 1, isLog: false, values: [], labels: [])
        let entries = groups.count > 1 || !(groups.first?.name.isEmpty ?? true)
            ? groups.indices.map { LegendEntry(name: groups[$0].name, swatch: .patch(color($0))) } : []
        let (plot, legend, legendTop) = Cartesian.layout(
            width: width, height: height, title: title, legend: entries, x: xt, y: yt,
            xAxis: Axis(xLabel), yAxis: yAxis, xLabelRoom: labelRoom)
        var canvas = SVGCanvas(width: width, height: height, title: title)
        plot.drawFrame(on: &canvas, title: title, xTicks: false, xGrid: false)
        legend.draw(on: &canvas, x: plot.left, y: legendTop)

        let slot = (plot.right - plot.left) / Double(max(categories.count, 1))
        let barWidth = slot * 0.8 / Double(max(groups.count, 1))
        let base = plot.py(max(yt.lower, min(0, yt.upper))) ?? plot.bottom
        canvas.beginGroup("bars")
        for (c, category) in categories.enumerated() {
            let x0 = plot.left + slot * Double(c) + slot * 0.1
            for (g, group) in groups.enumerated() where c < group.values.count {
                let v = group.values[c]
                guard let top = plot.py(min(max(v, yt.lower), yt.upper)) else { continue }
                let x = x0 + barWidth * Double(g)
                canvas.rect(x: x + 0.5, y: min(top, base), width: barWidth - 1, height: abs(base - top),
                            fill: color(g), class: "bar")
                canvas.tooltip("\(group.name.isEmpty ? category : group.name + ", " + category): \(Format.fixed(v, decimals: valueDecimals ?? 4))")
                if let decimals = valueDecimals {
                    let text = Format.fixed(v, decimals: decimals)
                    let size = min(TextSize.note, barWidth / max(0.64 * Double(text.count), 1))
                    canvas.text(text, x: x + barWidth / 2, y: min(top, base) - 4, size: size, anchor: .middle,
                                fill: .muted, class: "value")
                }
            }
            let cx = plot.left + slot * (Double(c) + 0.5)
            if turned {
                canvas.text(category, x: cx + 4, y: plot.bottom + 14, size: TextSize.tick, anchor: .end,
                            fill: .muted, rotate: -40, class: "tick")
            } else {
                canvas.text(category, x: cx, y: plot.bottom + 17, size: TextSize.tick, anchor: .middle,
                            fill: .muted, class: "tick")
            }
        }
        canvas.endGroup()
        return canvas.render()
    }

    func color(_ index: Int) -> Color { groups[index].color ?? Palette.color(index) }
}
