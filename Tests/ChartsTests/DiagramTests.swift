// The confusion heat map and the layer diagram as SVG text.
import Charts
import TestSupport
import Testing

@Suite("Heat map and layer diagram")
struct DiagramTests {
    @Test("A 10×10 confusion matrix: 100 cells with their counts, class names on both axes")
    func confusion() {
        let map = Samples.confusion()
        let svg = map.svg()
        #expect(svg.elements(ofClass: "cell").count == 100)
        let values = svg.texts(ofClass: "value")
        #expect(values.count == 100)
        #expect(values == map.values.flatMap { $0 }.map { Format.fixed($0, decimals: 0) })
        #expect(svg.texts(ofClass: "tick").prefix(20) == (Samples.classes + Samples.classes)[...])
        #expect(svg.texts(ofClass: "axis-title") == ["True label", "Predicted label"])
        // Every cell says exactly what it holds in its tooltip.
        #expect(svg.contains("<title>True label 3, Predicted label 5: \(Int(map.values[3][5]))</title>"))
    }

    @Test("Cell text is white on dark cells and black on light ones, always readable")
    func contrast() {
        let svg = HeatMap(title: "", rowLabels: ["a", "b"], columnLabels: ["x", "y"], values: [[1000, 3], [0, 500]]).svg()
        let tags = svg.elements(ofClass: "value")
        #expect(tags[0].contains("fill=\"#ffffff\""))  // 1000: the darkest cell
        #expect(tags[1].contains("fill=\"#000000\""))  // 3: nearly white
        #expect(tags[2].contains("fill=\"#8a8a8a\""))  // 0: gray, quieter than the counts
        #expect(tags[3].contains("fill=\"#000000\""))  // 500: mid blue
        func ratio(_ a: Color, _ b: Color) -> Double {
            (max(a.luminance, b.luminance) + 0.05) / (min(a.luminance, b.luminance) + 0.05)
        }
        for step in 0...100 {
            let cell = Palette.sequential(Double(step) / 100)
            #expect(ratio(cell, Palette.text(on: cell)) >= 4.5, "level \(step)%")
        }
    }

    @Test("Logarithmic shading keeps a count of 1 visible beside 1000; the colour bar is labelled")
    func shading() {
        let log = HeatMap(title: "", rowLabels: [], columnLabels: [], values: [[1000, 1]], shading: .logarithmic)
        let linear = HeatMap(title: "", rowLabels: [], columnLabels: [], values: [[1000, 1]])
        #expect(log.level(1) > 0.09 && linear.level(1) < 0.002)
        #expect(log.level(1000) == 1 && log.level(0) == 0)
        let ticks = Samples.confusion().svg().captures(between: "<g class=\"color-bar\">", and: "</g>")[0].texts(ofClass: "tick")
        #expect(ticks.prefix(4) == ["0", "1", "10", "100"])
        #expect(ticks.last == "1121")
    }

    @Test("Long class names turn; the figure grows to hold them")
    func longNames() {
        let names = ["T-shirt/top", "Trouser", "Pullover"]
        let counts = [[900, 10, 5], [3, 980, 2], [20, 1, 850]]
        let svg = HeatMap.confusion(classes: names, counts: counts).svg()
        let turned = svg.elements(ofClass: "tick").filter { $0.contains("rotate(-45") }
        #expect(turned.count == 3)
        let width = Double(svg.captures(between: "viewBox=\"0 0 ", and: " ")[0])!
        let short = HeatMap.confusion(classes: ["0", "1", "2"], counts: counts).svg()
        #expect(width > Double(short.captures(between: "viewBox=\"0 0 ", and: " ")[0])!)
    }

    @Test("Layer diagram: a box per layer with shape and parameters, an arrow between each two")
    func layers() {
        let diagram = Samples.layers()
        let svg = diagram.svg()
        #expect(svg.elements(ofClass: "box").count == diagram.layers.count)
        #expect(svg.elements(ofClass: "arrow").count == 2 * (diagram.layers.count - 1))
        #expect(svg.texts(ofClass: "name").first == "input · Input")
        #expect(svg.texts(ofClass: "detail")[1] == "output 28×28×6 · 156 parameters")
        #expect(svg.texts(ofClass: "detail")[0] == "output 28×28×1")
        #expect(svg.texts(ofClass: "detail").contains("output 120 · 48,120 parameters"))
        #expect(svg.texts(ofClass: "footer") == ["Total: 61,706 parameters (all trainable)"])
        // Layers of one type share a tint: the two Conv2D boxes have the same fill.
        let boxes = svg.elements(ofClass: "box").map { $0.attribute("fill")! }
        #expect(boxes[1] == boxes[3] && boxes[1] != boxes[2])
        // Boxes are as wide as the longest line needs.
        let wide = LayerDiagram(title: "", layers: [.init(name: String(repeating: "w", count: 60), kind: "Dense", outputShape: "10", parameters: 1)]).svg()
        #expect(Double(wide.elements(ofClass: "box")[0].attribute("width")!)! > 500)
    }
}
