// The model as a picture, like Keras's plot_model: a column of boxes, input at the top, one box
// per layer with its name, type, output shape and parameter count, joined by arrows. Boxes of the
// same type share a tint, so a reader sees the conv / pool / dense pattern at a glance.

/// A vertical stack of layer boxes joined by arrows.
public struct LayerDiagram: Figure {
    /// One box.
    public struct Layer: Sendable {
        /// The layer's name ("conv2d_1").
        public var name: String
        /// Its type ("Conv2D").
        public var kind: String
        /// Its output shape as the summary writes it ("(None, 26, 26, 32)" or "26×26×32").
        public var outputShape: String
        /// Trainable and non-trainable parameters; nil writes nothing (the input box).
        public var parameters: Int?

        public init(name: String, kind: String, outputShape: String, parameters: Int?) {
            self.name = name
            self.kind = kind
            self.outputShape = outputShape
            self.parameters = parameters
        }
    }

    public var title: String
    /// Top to bottom; the input usually first, with `parameters: nil`.
    public var layers: [Layer]
    /// A closing line under the stack ("Total: 1,199,882 parameters"); empty for none.
    public var footer: String

    public init(title: String, layers: [Layer], footer: String = "") {
        self.title = title
        self.layers = layers
        self.footer = footer
    }

    private static let nameSize = 13.0, detailSize = 12.0
    private static let boxHeight = 44.0, arrowLength = 22.0

    private static func headline(_ layer: Layer) -> String { "\(layer.name) · \(layer.kind)" }

    private static func detail(_ layer: Layer) -> String {
        guard let p = layer.parameters else { return "output \(layer.outputShape)" }
        return "output \(layer.outputShape) · \(Format.grouped(p)) \(p == 1 ? "parameter" : "parameters")"
    }

    public func svg() -> String {
        let pad = 10.0
        let textWidth = layers.map {
            max(TextMetrics.width(Self.headline($0), size: Self.nameSize, bold: true),
                TextMetrics.width(Self.detail($0), size: Self.detailSize))
        }.max() ?? 0
        let boxWidth = max(240, textWidth + 28)
        let footerWidth = TextMetrics.width(footer, size: Self.detailSize, bold: true)
        let titleWidth = TextMetrics.width(title, size: TextSize.title, bold: true)
        let width = max(boxWidth, footerWidth, titleWidth) + 2 * pad
        var y = pad + (title.isEmpty ? 0 : 26)
        let count = Double(layers.count)
        let height = y + count * Self.boxHeight + max(count - 1, 0) * Self.arrowLength + (footer.isEmpty ? 0 : 26) + pad
        var canvas = SVGCanvas(width: width, height: height, title: title)
        if !title.isEmpty { canvas.text(title, x: pad, y: pad + 15, size: TextSize.title, bold: true, class: "title") }

        var kinds: [String] = []
        let x = (width - boxWidth) / 2, cx = width / 2
        for (i, layer) in layers.enumerated() {
            if !kinds.contains(layer.kind) { kinds.append(layer.kind) }
            let accent = Palette.color(kinds.firstIndex(of: layer.kind)!)
            canvas.beginGroup("layer")
            canvas.rect(x: x, y: y, width: boxWidth, height: Self.boxHeight, fill: accent.mixed(with: .white, 0.86),
                        stroke: accent.mixed(with: .ink, 0.25), strokeWidth: 1.2, radius: 5, class: "box")
            canvas.rect(x: x, y: y, width: 6, height: Self.boxHeight, fill: accent.mixed(with: .ink, 0.1), radius: 2)
            canvas.text(Self.headline(layer), x: cx, y: y + 18, size: Self.nameSize, anchor: .middle, bold: true, class: "name")
            canvas.text(Self.detail(layer), x: cx, y: y + 35, size: Self.detailSize, anchor: .middle, fill: .muted, class: "detail")
            canvas.endGroup()
            y += Self.boxHeight
            if i < layers.count - 1 {
                drawArrow(on: &canvas, x: cx, from: y + 2, to: y + Self.arrowLength - 2)
                y += Self.arrowLength
            }
        }
        if !footer.isEmpty {
            canvas.text(footer, x: cx, y: y + 20, size: Self.detailSize, anchor: .middle, bold: true, class: "footer")
        }
        return canvas.render()
    }

    /// A shaft and a filled head (no SVG markers: they need ids, which would clash on a page).
    private func drawArrow(on canvas: inout SVGCanvas, x: Double, from y0: Double, to y1: Double) {
        canvas.line(x1: x, y1: y0, x2: x, y2: y1 - 6, stroke: .muted, width: 1.6, class: "arrow")
        var head = PathData()
        head.move(x - 5, y1 - 7)
        head.line(x + 5, y1 - 7)
        head.line(x, y1)
        head.close()
        canvas.path(head.text, stroke: nil, fill: .muted, class: "arrow")
    }
}
