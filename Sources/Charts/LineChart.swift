// Line charts: training curves (one run's loss and accuracy per epoch), the learning-rate
// schedule, and many runs overlaid, with shaded mean ± std bands for sweeps and labelled
// vertical markers for events (early stop, best epoch, resumed).

import Foundation

/// A data point.
public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double

    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// The shaded range of a series at one x: `low…high` (for example mean ± std).
public struct BandPoint: Sendable, Equatable {
    public var x: Double
    public var low: Double
    public var high: Double

    public init(x: Double, low: Double, high: Double) {
        self.x = x
        self.low = low
        self.high = high
    }
}

/// One line of a line chart. A non-finite y (a diverged loss) breaks the line there.
public struct Series: Sendable {
    public var name: String
    public var points: [Point]
    /// nil: the palette's colour for the series' position.
    public var color: Color?
    public var dash: Dash
    /// A dot at every point (for a few points, such as epochs).
    public var markers: Bool
    /// A shaded band under the line, in the line's colour; empty for none.
    public var band: [BandPoint]

    public init(_ name: String, points: [Point], color: Color? = nil, dash: Dash = .solid,
                markers: Bool = false, band: [BandPoint] = []) {
        self.name = name
        self.points = points
        self.color = color
        self.dash = dash
        self.markers = markers
        self.band = band
    }

    /// A series from parallel x and y values (the shorter decides the length).
    public init(_ name: String, x: [Double], y: [Double], color: Color? = nil, dash: Dash = .solid,
                markers: Bool = false) {
        self.init(name, points: zip(x, y).map { Point($0, $1) }, color: color, dash: dash, markers: markers)
    }

    /// The mean of several runs' curves with a mean ± std band: at each x that any run has, the
    /// mean of the runs' y there and the sample standard deviation (n − 1; 0 for one run).
    public static func mean(_ name: String, of runs: [[Point]], color: Color? = nil, dash: Dash = .solid,
                            markers: Bool = false) -> Series {
        var xs: [Double] = []
        var byX: [Double: [Double]] = [:]
        for run in runs {
            for p in run where p.x.isFinite && p.y.isFinite {
                if byX[p.x] == nil { xs.append(p.x) }
                byX[p.x, default: []].append(p.y)
            }
        }
        xs.sort()
        var points: [Point] = [], band: [BandPoint] = []
        for x in xs {
            let ys = byX[x]!
            let mean = ys.reduce(0, +) / Double(ys.count)
            let variance = ys.count > 1 ? ys.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(ys.count - 1) : 0
            let std = variance.squareRoot()
            points.append(Point(x, mean))
            band.append(BandPoint(x: x, low: mean - std, high: mean + std))
        }
        return Series(name, points: points, color: color, dash: dash, markers: markers, band: band)
    }
}

/// A labelled vertical line across the plot at `x`: "early stop", "best epoch", "resumed".
public struct EventMarker: Sendable, Equatable {
    public var x: Double
    public var label: String
    public var color: Color

    public init(x: Double, label: String, color: Color = .muted) {
        self.x = x
        self.label = label
        self.color = color
    }
}

/// A line chart of one or more series on shared axes, with a legend above the plot.
public struct LineChart: Figure {
    public var title: String
    public var xAxis: Axis
    public var yAxis: Axis
    public var series: [Series]
    public var events: [EventMarker]
    public var width: Double
    public var height: Double

    public init(title: String, xAxis: Axis, yAxis: Axis, series: [Series], events: [EventMarker] = [],
                width: Double = 640, height: Double = 360) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
        self.series = series
        self.events = events
        self.width = width
        self.height = height
    }

    /// The colour series `index` is drawn in.
    func color(_ index: Int) -> Color { series[index].color ?? Palette.color(index) }

    public func svg() -> String {
        let positive = yAxis.scale == .log
        let xs = series.flatMap { $0.points.map(\.x) + $0.band.map(\.x) } + events.map(\.x)
        let ys = series.flatMap { s in s.points.map(\.y) + s.band.flatMap { [$0.low, $0.high] } }
        let (x0, x1) = extent(xs, positive: xAxis.scale == .log)
        let (y0, y1) = extent(ys, positive: positive)
        let xt = xAxis.ticks(dataMin: x0, dataMax: x1, target: max(3, Int(width / 90)))
        let yt = yAxis.ticks(dataMin: y0, dataMax: y1, target: max(3, Int(height / 55)))
        let entries = series.indices.filter { !series[$0].name.isEmpty }.map {
            LegendEntry(name: series[$0].name, swatch: .line(color($0), series[$0].dash, marker: series[$0].markers))
        }
        let (plot, legend, legendTop) = Cartesian.layout(width: width, height: height, title: title, legend: entries,
                                                         x: xt, y: yt, xAxis: xAxis, yAxis: yAxis)
        var canvas = SVGCanvas(width: width, height: height, title: title)
        plot.drawFrame(on: &canvas, title: title)
        legend.draw(on: &canvas, x: plot.left, y: legendTop)
        canvas.clip(x: plot.left - 5, y: plot.top - 5, width: plot.right - plot.left + 10, height: plot.bottom - plot.top + 10)

        for (i, s) in series.enumerated() where !s.band.isEmpty {
            canvas.path(bandPath(s.band, plot), stroke: nil, fill: color(i), fillOpacity: 0.18, class: "band", clipped: true)
        }
        for event in events {
            guard let x = plot.px(event.x) else { continue }
            canvas.line(x1: x, y1: plot.top, x2: x, y2: plot.bottom, stroke: event.color, width: 1.2, dash: .dashed, class: "event")
        }
        for (i, s) in series.enumerated() {
            canvas.path(linePath(s.points, plot), stroke: color(i), width: 2, dash: s.dash, class: "series", clipped: true)
        }
        for (i, s) in series.enumerated() where s.markers {
            canvas.beginGroup("markers")
            for p in s.points {
                guard let x = plot.px(p.x), let y = plot.py(p.y), p.y.isFinite else { continue }
                canvas.circle(cx: x, cy: y, r: 3, fill: color(i), stroke: .white, clipped: true)
                canvas.tooltip("\(s.name): \(Format.coordinate(p.x)), \(Format.fixed(p.y, decimals: 4))")
            }
            canvas.endGroup()
        }
        drawEventLabels(on: &canvas, plot)
        return canvas.render()
    }

    private func linePath(_ points: [Point], _ plot: Cartesian) -> String {
        var d = PathData()
        var drawing = false
        for p in points {
            guard let x = plot.px(p.x), let y = plot.py(p.y) else { drawing = false; continue }
            if drawing { d.line(x, y) } else { d.move(x, y) }
            drawing = true
        }
        return d.text
    }

    /// The band as one closed outline: along the highs, back along the lows.
    private func bandPath(_ band: [BandPoint], _ plot: Cartesian) -> String {
        let usable = band.compactMap { b -> (Double, Double, Double)? in
            guard let x = plot.px(b.x), let hi = plot.py(b.high), let lo = plot.py(b.low) else { return nil }
            return (x, hi, lo)
        }
        guard usable.count >= 2 else { return "" }
        var d = PathData()
        d.move(usable[0].0, usable[0].1)
        for p in usable.dropFirst() { d.line(p.0, p.1) }
        for p in usable.reversed() { d.line(p.0, p.2) }
        d.close()
        return d.text
    }

    /// Event labels written upward along their lines, from the top of the plot (or from the
    /// bottom when the curves crowd the top, as accuracy curves do): right of the line, or left
    /// of it when a neighbour's label or the plot's edge takes the right side. Beside its own
    /// line a label cannot be read as another line's.
    private func drawEventLabels(on canvas: inout SVGCanvas, _ plot: Cartesian) {
        guard !events.isEmpty else { return }
        let size = TextSize.note, thickness = size + 5
        var nearTop = 0, nearBottom = 0
        let band = (plot.bottom - plot.top) * 0.3
        for s in series {
            for p in s.points {
                guard let y = plot.py(p.y) else { continue }
                if y < plot.top + band { nearTop += 1 }
                if y > plot.bottom - band { nearBottom += 1 }
            }
        }
        let atTop = nearTop <= nearBottom
        var taken: [ClosedRange<Double>] = []
        canvas.beginGroup("event-labels")
        for event in events.sorted(by: { $0.x < $1.x }) {
            guard let x = plot.px(event.x) else { continue }
            let right = (x + 1)...(x + 1 + thickness), left = (x - 1 - thickness)...(x - 1)
            func free(_ span: ClosedRange<Double>) -> Bool {
                span.lowerBound >= plot.left && span.upperBound <= plot.right + 2 && !taken.contains { $0.overlaps(span) }
            }
            let span = free(right) || !free(left) ? right : left
            taken.append(span)
            let length = min(TextMetrics.width(event.label, size: size), plot.bottom - plot.top - 10)
            let top = atTop ? plot.top + 2 : plot.bottom - 2 - length - 8
            canvas.rect(x: span.lowerBound, y: top, width: thickness, height: length + 8, fill: .white, opacity: 0.75)
            // Turned a quarter left about its start, the text reads upward with its glyphs left of x.
            canvas.text(event.label, x: span.lowerBound + thickness / 2 + size * 0.36, y: top + length + 4, size: size,
                        fill: event.color, rotate: -90, class: "event-label")
        }
        canvas.endGroup()
    }
}
