// Scatter plots with a label at every point: test accuracy against parameter count or training
// time, one point per run. Labels go right of their point, else left, above or below, whichever
// first overlaps no label or point drawn before; else right or left a few lines up or down, with a
// leader line to the point.

/// Labelled points in one or more coloured groups.
public struct ScatterPlot: Figure {
    /// A labelled point.
    public struct Item: Sendable {
        public var x: Double
        public var y: Double
        public var label: String

        public init(x: Double, y: Double, label: String) {
            self.x = x
            self.y = y
            self.label = label
        }
    }

    /// Points drawn in one colour, named in the legend (no legend for one unnamed group).
    public struct Group: Sendable {
        public var name: String
        public var items: [Item]
        public var color: Color?

        public init(_ name: String, items: [Item], color: Color? = nil) {
            self.name = name
            self.items = items
            self.color = color
        }
    }

    public var title: String
    public var xAxis: Axis
    public var yAxis: Axis
    public var groups: [Group]
    public var width: Double
    public var height: Double

    public init(title: String, xAxis: Axis, yAxis: Axis, groups: [Group], width: Double = 640, height: Double = 360) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
        self.groups = groups
        self.width = width
        self.height = height
    }

    public func svg() -> String {
        let all = groups.flatMap(\.items)
        var (x0, x1) = extent(all.map(\.x), positive: xAxis.scale == .log)
        var (y0, y1) = extent(all.map(\.y), positive: yAxis.scale == .log)
        // A margin so that points do not sit on the frame (in log units on a log axis).
        func widen(_ lo: inout Double, _ hi: inout Double, log: Bool) {
            guard lo.isFinite, hi.isFinite else { return }
            if log { lo /= 1.15; hi *= 1.15 } else { let pad = max((hi - lo) * 0.06, abs(hi) * 1e-3); lo -= pad; hi += pad }
        }
        widen(&x0, &x1, log: xAxis.scale == .log)
        widen(&y0, &y1, log: yAxis.scale == .log)
        let xt = xAxis.ticks(dataMin: x0, dataMax: x1, target: max(3, Int(width / 100)))
        let yt = yAxis.ticks(dataMin: y0, dataMax: y1, target: max(3, Int(height / 55)))
        let named = groups.count > 1 || !(groups.first?.name.isEmpty ?? true)
        let entries = named ? groups.indices.map { LegendEntry(name: groups[$0].name, swatch: .line(color($0), .solid, marker: true)) } : []
        let (plot, legend, legendTop) = Cartesian.layout(width: width, height: height, title: title, legend: entries,
                                                         x: xt, y: yt, xAxis: xAxis, yAxis: yAxis)
        var canvas = SVGCanvas(width: width, height: height, title: title)
        plot.drawFrame(on: &canvas, title: title)
        legend.draw(on: &canvas, x: plot.left, y: legendTop)

        typealias Box = (x0: Double, y0: Double, x1: Double, y1: Double)
        func overlaps(_ a: Box, _ b: Box) -> Bool { a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }
        var taken: [Box] = []
        var placed: [(Double, Double, Item, Int)] = []
        for (g, group) in groups.enumerated() {
            for item in group.items {
                guard let x = plot.px(item.x), let y = plot.py(item.y) else { continue }
                taken.append((x - 5, y - 5, x + 5, y + 5))
                placed.append((x, y, item, g))
            }
        }
        canvas.beginGroup("points")
        for (x, y, item, g) in placed {
            canvas.circle(cx: x, cy: y, r: 4.5, fill: color(g), stroke: .white, class: "point")
            canvas.tooltip("\(item.label): \(Format.fixed(item.x, decimals: 4)), \(Format.fixed(item.y, decimals: 4))")
        }
        canvas.endGroup()
        canvas.beginGroup("point-labels")
        let size = TextSize.note
        for (x, y, item, _) in placed where !item.label.isEmpty {
            let w = TextMetrics.width(item.label, size: size)
            // (box, text x, baseline, anchor) for right, left, above, below; then right and left
            // moved up or down a line at a time, for points that crowd one spot (a sweep's seeds
            // share a parameter count), joined to their point by a leader line.
            func beside(_ dy: Double) -> [(Box, Double, Double, TextAnchor)] {
                [((x + 7, y + dy - size / 2 - 1, x + 7 + w, y + dy + size / 2 + 1), x + 7, y + dy + size * 0.35, .start),
                 ((x - 7 - w, y + dy - size / 2 - 1, x - 7, y + dy + size / 2 + 1), x - 7, y + dy + size * 0.35, .end)]
            }
            let near: [(Box, Double, Double, TextAnchor)] = beside(0) + [
                ((x - w / 2, y - 8 - size, x + w / 2, y - 6), x, y - 8, .middle),
                ((x - w / 2, y + 6, x + w / 2, y + 8 + size), x, y + 6 + size, .middle),
            ]
            let moved = (1...8).flatMap { k in [-1.0, 1.0].flatMap { beside($0 * Double(k) * (size + 3)) } }
            let inside = { (b: Box) in b.x0 >= plot.left && b.x1 <= plot.right && b.y0 >= plot.top && b.y1 <= plot.bottom }
            let free = { (o: (Box, Double, Double, TextAnchor)) in inside(o.0) && !taken.contains { overlaps($0, o.0) } }
            let choice = near.first(where: free) ?? moved.first(where: free) ?? near.first { inside($0.0) } ?? near[0]
            taken.append(choice.0)
            let labelY = (choice.0.y0 + choice.0.y1) / 2
            if abs(labelY - y) > size + 2 {     // moved, not simply above or below
                canvas.line(x1: x, y1: y, x2: choice.3 == .start ? choice.0.x0 - 1 : choice.0.x1 + 1, y2: labelY,
                            stroke: .muted, width: 0.75, class: "leader")
            }
            canvas.text(item.label, x: choice.1, y: choice.2, size: size, anchor: choice.3, class: "point-label")
        }
        canvas.endGroup()
        return canvas.render()
    }

    func color(_ index: Int) -> Color { groups[index].color ?? Palette.color(index) }
}
