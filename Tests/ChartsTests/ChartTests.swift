// Line, bar and scatter charts as SVG text: what is drawn (paths, bars, points, labels), the
// ticks chosen, escaping, and the same bytes for the same data.
import Charts
import TestSupport
import Testing

@Suite("Line, bar and scatter charts")
struct ChartTests {
    static let epochs = (1...5).map(Double.init)

    static func chart(name: String = "validation", events: [EventMarker] = []) -> LineChart {
        LineChart(title: "Loss", xAxis: Axis("Epoch", integers: true), yAxis: Axis("Loss"), series: [
            Series("training", x: epochs, y: [0.5, 0.3, 0.2, 0.15, 0.12], dash: .dashed, markers: true),
            Series(name, x: epochs, y: [0.45, 0.32, 0.25, 0.24, 0.26], markers: true),
        ], events: events)
    }

    @Test("A document with a viewBox, full width, system fonts, and no link outside itself")
    func document() {
        let svg = Self.chart().svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 360\" width=\"100%\""))
        #expect(svg.contains("font-family=\"system-ui,"))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.occurrences(of: "http") == 1)
        #expect(svg.contains("<title>Loss</title>"))
    }

    @Test("One path per series, a dot per point, a legend entry per series, ticks from the data")
    func lineStructure() {
        let svg = Self.chart(events: [EventMarker(x: 4, label: "best epoch"), EventMarker(x: 5, label: "early stop")]).svg()
        #expect(svg.elements(ofClass: "series").count == 2)
        #expect(svg.occurrences(of: "<circle") == 10 + 2)  // points + legend samples
        #expect(svg.elements(ofClass: "series").filter { $0.contains("stroke-dasharray") }.count == 1)
        #expect(svg.texts(ofClass: "tick") == ["0.1", "0.2", "0.3", "0.4", "0.5", "1", "2", "3", "4", "5"])
        #expect(svg.texts(ofClass: "axis-title") == ["Loss", "Epoch"])
        #expect(svg.elements(ofClass: "event").count == 2)
        #expect(svg.texts(ofClass: "event-label") == ["best epoch", "early stop"])
        // Both labels are turned to run along their lines, and do not share a place.
        let labels = svg.elements(ofClass: "event-label")
        #expect(labels.allSatisfy { $0.contains("rotate(-90") })
        #expect(labels[0].attribute("x") != labels[1].attribute("x"))
    }

    @Test("A non-finite value breaks the line; a log axis leaves out values ≤ 0")
    func gaps() {
        let broken = LineChart(title: "", xAxis: Axis(), yAxis: Axis(), series: [
            Series("loss", x: [1, 2, 3, 4, 5], y: [1, 0.5, .nan, 0.3, 0.2]),
        ]).svg()
        let d = broken.elements(ofClass: "series")[0].attribute("d")!
        #expect(d.occurrences(of: "M") == 2 && d.occurrences(of: "L") == 2)
        let log = LineChart(title: "", xAxis: Axis(), yAxis: Axis(scale: .log), series: [
            Series("loss", x: [1, 2, 3], y: [0, 0.1, 0.01]),
        ]).svg()
        let logD = log.elements(ofClass: "series")[0].attribute("d")!
        #expect(logD.occurrences(of: "M") == 1 && logD.occurrences(of: "L") == 1)
    }

    @Test("Mean ± std over runs, with the band drawn as one shaded outline")
    func bands() {
        let s = Series.mean("sweep", of: [
            [Point(1, 1), Point(2, 2)], [Point(1, 3), Point(2, 4)], [Point(1, 5)],
        ])
        #expect(s.points == [Point(1, 3), Point(2, 3)])
        #expect(s.band[0].low == 1 && s.band[0].high == 5)  // std of 1, 3, 5 (n − 1) is 2
        #expect(abs(s.band[1].high - 3 - 2.0.squareRoot()) < 1e-12)
        let svg = LineChart(title: "Sweep", xAxis: Axis(), yAxis: Axis(), series: [s]).svg()
        let band = svg.elements(ofClass: "band")
        #expect(band.count == 1)
        #expect(band[0].contains("fill-opacity=\"0.18\"") && band[0].attribute("d")!.hasSuffix("Z"))
    }

    @Test("Data beyond fixed axis ends is clipped to the plot, by an id made from the content")
    func clipping() {
        let a = LineChart(title: "A", xAxis: Axis(), yAxis: Axis(min: 0.9, max: 1), series: [
            Series("acc", x: [1, 2, 3], y: [0.85, 0.95, 0.99]),
        ]).svg()
        let b = LineChart(title: "B", xAxis: Axis(), yAxis: Axis(min: 0.9, max: 1), series: [
            Series("acc", x: [1, 2, 3], y: [0.85, 0.95, 0.99]),
        ]).svg()
        let id = a.captures(between: "<clipPath id=\"", and: "\"")
        #expect(id.count == 1 && id[0].hasPrefix("clip-"))
        #expect(a.elements(ofClass: "series")[0].contains("clip-path=\"url(#\(id[0]))\""))
        #expect(!a.contains("@clip@"))
        #expect(b.captures(between: "<clipPath id=\"", and: "\"") != id)
    }

    @Test("Text from data is escaped everywhere")
    func escaping() {
        let evil = "<script>alert(1)</script> & \"q\""
        let svg = LineChart(title: evil, xAxis: Axis(evil), yAxis: Axis(evil), series: [
            Series(evil, x: [1, 2], y: [1, 2], markers: true),
        ], events: [EventMarker(x: 1, label: evil)]).svg()
        #expect(!svg.contains("<script"))
        #expect(!svg.contains("\"q\""))
        #expect(svg.occurrences(of: "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;") >= 5)
    }

    @Test("The same data gives the same bytes; other data other bytes")
    func determinism() {
        #expect(Self.chart().svg() == Self.chart().svg())
        #expect(Samples.perClass().svg() == Samples.perClass().svg())
        #expect(Self.chart().svg() != Self.chart(name: "validation 2").svg())
    }

    @Test("Bars: one per category and group, values written above, legend for the groups")
    func bars() {
        let counts = Samples.classCounts().svg()
        #expect(counts.elements(ofClass: "bar").count == 10)
        #expect(counts.texts(ofClass: "value").first == "5923")
        #expect(counts.texts(ofClass: "tick").suffix(10) == Samples.classes[...])
        #expect(counts.texts(ofClass: "tick").prefix(5) == ["0", "2000", "4000", "6000", "8000"])
        #expect(!counts.contains("class=\"legend\""))
        let grouped = Samples.perClass().svg()
        #expect(grouped.elements(ofClass: "bar").count == 30)
        #expect(grouped.captures(between: "<g class=\"legend\">", and: "</g>")[0].occurrences(of: "<rect") == 3)
        #expect(grouped.texts(ofClass: "tick").prefix(3) == ["90%", "95%", "100%"])
    }

    @Test("Long category names are turned so they do not collide")
    func turnedLabels() {
        let names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        let svg = BarChart(title: "Counts", categories: names, groups: [.init("", values: Array(repeating: 6000, count: 10))]).svg()
        let ticks = svg.elements(ofClass: "tick").filter { $0.contains("rotate(-40") }
        #expect(ticks.count == 10)
        let level = BarChart(title: "Counts", categories: Samples.classes, groups: [.init("", values: Array(repeating: 1, count: 10))]).svg()
        #expect(!level.contains("rotate(-40"))
    }

    @Test("Scatter points with labels that avoid each other")
    func scatter() {
        let svg = Samples.scatter().svg()
        #expect(svg.elements(ofClass: "point").count == 5)
        #expect(svg.texts(ofClass: "point-label").sorted() == ["cnn", "cnn seed 2", "lenet5", "mlp", "mlp-wide <b>"])
        // Two runs at the same parameter count: their labels take different places.
        let labels = zip(svg.texts(ofClass: "point-label"), svg.elements(ofClass: "point-label"))
        let cnn = labels.filter { $0.0.hasPrefix("cnn") }.map(\.1)
        #expect(cnn.count == 2)
        #expect(cnn[0].attribute("x") != cnn[1].attribute("x") || cnn[0].attribute("y") != cnn[1].attribute("y"))
        #expect(svg.texts(ofClass: "tick").contains("1M"))
    }
}
