// A grid of small grayscale images (digits) as inline PNGs, each optionally captioned the way the
// notebook does it ("Model predicts: 7" / "Actual label: 7" / "Correct prediction", green or red)
// and with its top probabilities as small bars. Pixels are drawn square (no smoothing).

/// Images in rows, with captions and probability bars under each.
public struct ImageGrid: Figure {
    /// How a caption line is coloured.
    public enum Tone: Sendable {
        case plain, good, bad
    }

    /// One line under an image.
    public struct Caption: Sendable {
        public var text: String
        public var tone: Tone

        public init(_ text: String, tone: Tone = .plain) {
            self.text = text
            self.tone = tone
        }
    }

    /// One image with what is written under it.
    public struct Item: Sendable {
        /// Row-major grayscale, `width × height` bytes, drawn as given (MNIST: white on black).
        public var pixels: [UInt8]
        public var width: Int
        public var height: Int
        public var captions: [Caption]
        /// Shown as bars under the captions, in the given order (say the top 3): (class, 0…1).
        public var probabilities: [(label: String, value: Double)]

        public init(pixels: [UInt8], width: Int, height: Int, captions: [Caption] = [],
                    probabilities: [(label: String, value: Double)] = []) {
            precondition(width > 0 && height > 0 && pixels.count == width * height)
            self.pixels = pixels
            self.width = width
            self.height = height
            self.captions = captions
            self.probabilities = probabilities
        }

        /// A test digit captioned like the notebook: "Model predicts: P", "Actual label: A",
        /// then "Correct prediction" in green or "Wrong prediction" in red.
        public static func prediction(pixels: [UInt8], width: Int = 28, height: Int = 28, predicted: String,
                                      actual: String, probabilities: [(label: String, value: Double)] = []) -> Item {
            let correct = predicted == actual
            return Item(pixels: pixels, width: width, height: height, captions: [
                Caption("Model predicts: \(predicted)"),
                Caption("Actual label: \(actual)"),
                Caption(correct ? "Correct prediction" : "Wrong prediction", tone: correct ? .good : .bad),
            ], probabilities: probabilities)
        }
    }

    public var title: String
    public var items: [Item]
    /// Images per row.
    public var columns: Int
    /// User units per image pixel (3: a 28×28 digit is drawn 84 units wide).
    public var scale: Double
    /// Written left of each row (say the class of a row of training digits); empty for none.
    public var rowLabels: [String]

    public init(title: String, items: [Item], columns: Int = 6, scale: Double = 3, rowLabels: [String] = []) {
        self.title = title
        self.items = items
        self.columns = max(1, columns)
        self.scale = scale
        self.rowLabels = rowLabels
    }

    private static let captionSize = 11.5, captionLine = 14.5, barSize = 10.5, barLine = 13.0
    /// Sizes shared by every cell, so that cells line up whether drawn in one SVG or apart.
    private struct Layout {
        let imageWidth: Double, imageHeight: Double
        let cellWidth: Double, cellHeight: Double
        let labelWidth: Double, percentWidth: Double, barsWidth: Double
    }

    private var layout: Layout {
        let imageWidth = Double(items.map(\.width).max() ?? 28) * scale
        let imageHeight = Double(items.map(\.height).max() ?? 28) * scale
        let captionWidth = items.flatMap(\.captions).map { TextMetrics.width($0.text, size: Self.captionSize, bold: $0.tone != .plain) }.max() ?? 0
        let labelWidth = items.flatMap(\.probabilities).map { TextMetrics.width($0.label, size: Self.barSize) }.max() ?? 0
        let percentWidth = TextMetrics.width("100.0%", size: Self.barSize)
        let hasBars = items.contains { !$0.probabilities.isEmpty }
        let barsWidth = hasBars ? labelWidth + percentWidth + 60 : 0
        let captionLines = items.map(\.captions.count).max() ?? 0
        let barLines = items.map(\.probabilities.count).max() ?? 0
        return Layout(imageWidth: imageWidth, imageHeight: imageHeight,
                      cellWidth: max(imageWidth, captionWidth, barsWidth) + (captionWidth > 0 || hasBars ? 20 : 4),
                      cellHeight: imageHeight + (captionLines > 0 ? 6 + Double(captionLines) * Self.captionLine : 0)
                          + (barLines > 0 ? 4 + Double(barLines) * Self.barLine : 0) + (captionLines + barLines > 0 ? 12 : 4),
                      labelWidth: labelWidth, percentWidth: percentWidth, barsWidth: barsWidth)
    }

    public func svg() -> String {
        let pad = 10.0, layout = self.layout
        let columns = min(self.columns, max(items.count, 1))
        let rows = (items.count + columns - 1) / columns
        let labelWidth = rowLabels.isEmpty ? 0 : (rowLabels.map { TextMetrics.width($0, size: TextSize.tick) }.max() ?? 0) + 10
        let top = pad + (title.isEmpty ? 0 : 26)
        let width = max(2 * pad + labelWidth + Double(columns) * layout.cellWidth,
                        2 * pad + TextMetrics.width(title, size: TextSize.title, bold: true))
        let height = top + Double(rows) * layout.cellHeight + pad
        var canvas = SVGCanvas(width: width, height: height, title: title)
        if !title.isEmpty { canvas.text(title, x: pad, y: pad + 15, size: TextSize.title, bold: true, class: "title") }
        for (r, label) in rowLabels.prefix(rows).enumerated() {
            canvas.text(label, x: pad + labelWidth - 10, y: top + Double(r) * layout.cellHeight + layout.imageHeight / 2 + 4,
                        size: TextSize.tick, anchor: .end, fill: .muted, class: "row-label")
        }
        for (i, item) in items.enumerated() {
            draw(item, x: pad + labelWidth + Double(i % columns) * layout.cellWidth,
                 y: top + Double(i / columns) * layout.cellHeight, layout, on: &canvas)
        }
        return canvas.render()
    }

    /// Each image with its captions as its own small SVG, all the same size (drawn at that
    /// size, not scaled): a page lays them out in rows that wrap to the screen's width
    /// (`Block.gallery`). Row labels and the title are not drawn.
    public func cellSVGs() -> [String] {
        let layout = self.layout
        return items.map { item in
            var canvas = SVGCanvas(width: layout.cellWidth, height: layout.cellHeight,
                                   title: item.captions.map(\.text).joined(separator: " / "))
            draw(item, x: 0, y: 0, layout, on: &canvas)
            return canvas.render(fixedSize: true)
        }
    }

    /// One cell with its top-left corner at (x0, y0).
    private func draw(_ item: Item, x x0: Double, y y0: Double, _ layout: Layout, on canvas: inout SVGCanvas) {
        let cx = x0 + layout.cellWidth / 2
        canvas.beginGroup("digit")
        let w = Double(item.width) * scale, h = Double(item.height) * scale
        canvas.image(href: PNG.dataURI(PNG.gray(item.pixels, width: item.width, height: item.height)),
                     x: cx - w / 2, y: y0, width: w, height: h)
        canvas.rect(x: cx - w / 2, y: y0, width: w, height: h, fill: nil, stroke: Color(0xBBBBBB), strokeWidth: 0.6)
        var y = y0 + layout.imageHeight + 6
        for caption in item.captions {
            y += Self.captionLine
            let color: Color = caption.tone == .good ? .good : caption.tone == .bad ? .bad : .ink
            canvas.text(caption.text, x: cx, y: y - 3.5, size: Self.captionSize, anchor: .middle,
                        bold: caption.tone != .plain, fill: color, class: "caption")
        }
        if !item.probabilities.isEmpty {
            y += 4
            let left = cx - layout.barsWidth / 2, barStart = left + layout.labelWidth + 4
            let barMax = layout.barsWidth - layout.labelWidth - layout.percentWidth - 10
            for p in item.probabilities {
                let v = min(max(p.value.isFinite ? p.value : 0, 0), 1)
                canvas.text(p.label, x: barStart - 3, y: y + 9, size: Self.barSize, anchor: .end, fill: .muted)
                canvas.rect(x: barStart, y: y + 2, width: barMax, height: 8, fill: Color(0xEEEEEE))
                canvas.rect(x: barStart, y: y + 2, width: barMax * v, height: 8, fill: Palette.color(0), class: "probability")
                canvas.text(Format.percent(v, decimals: 1), x: left + layout.barsWidth, y: y + 9, size: Self.barSize,
                            anchor: .end, fill: .muted)
                y += Self.barLine
            }
        }
        canvas.endGroup()
    }
}
