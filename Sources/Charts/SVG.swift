// The SVG writer every figure draws with: elements appended in order, attributes in a fixed
// order, numbers through `Format.coordinate`, text escaped. No ids except clip paths, whose ids
// come from a hash of the figure's own content, so many figures can share one HTML page.

/// Something that draws itself as a standalone SVG document.
public protocol Figure: Sendable {
    /// The figure as SVG text: `<svg …>…</svg>`, responsive (a viewBox, `width="100%"`, its
    /// natural width as the maximum), in the system sans-serif font; the same value gives the
    /// same bytes.
    func svg() -> String
}

/// How text is anchored horizontally at its x coordinate.
public enum TextAnchor: String, Sendable {
    case start, middle, end
}

/// An SVG document under construction, `width` × `height` user units.
public struct SVGCanvas: Sendable {
    public let width: Double
    public let height: Double
    /// Read by screen readers and shown as a tooltip.
    public let title: String
    private var body: [String] = []
    private var clipCount = 0

    /// The system's sans-serif faces, no web fonts.
    public static let fontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', 'DejaVu Sans', sans-serif"

    public init(width: Double, height: Double, title: String) {
        self.width = width
        self.height = height
        self.title = title
    }

    private static func n(_ v: Double) -> String { Format.coordinate(v) }

    private static func paint(_ name: String, _ color: Color?) -> String {
        " \(name)=\"\(color?.hex ?? "none")\""
    }

    /// A rectangle; `class` names the role for styling and tests.
    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: Color?,
                              stroke: Color? = nil, strokeWidth: Double = 1, opacity: Double? = nil,
                              radius: Double = 0, class role: String? = nil) {
        var e = "<rect"
        if let role { e += " class=\"\(role)\"" }
        e += " x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(max(0, width)))\" height=\"\(Self.n(max(0, height)))\""
        if radius > 0 { e += " rx=\"\(Self.n(radius))\"" }
        e += Self.paint("fill", fill)
        if let opacity { e += " fill-opacity=\"\(Self.n(opacity))\"" }
        if let stroke { e += Self.paint("stroke", stroke) + " stroke-width=\"\(Self.n(strokeWidth))\"" }
        body.append(e + "/>")
    }

    /// A path from its `d` text (see `PathData`).
    public mutating func path(_ d: String, stroke: Color?, width: Double = 1, dash: Dash = .solid,
                              fill: Color? = nil, fillOpacity: Double? = nil, class role: String? = nil,
                              clipped: Bool = false) {
        guard !d.isEmpty else { return }
        var e = "<path"
        if let role { e += " class=\"\(role)\"" }
        e += " d=\"\(d)\"" + Self.paint("fill", fill)
        if let fillOpacity { e += " fill-opacity=\"\(Self.n(fillOpacity))\"" }
        if let stroke {
            e += Self.paint("stroke", stroke) + " stroke-width=\"\(Self.n(width))\""
            if let pattern = dash.pattern(width: width) { e += " stroke-dasharray=\"\(pattern)\"" }
            e += " stroke-linejoin=\"round\" stroke-linecap=\"round\""
        }
        if clipped { e += " clip-path=\"url(#\(Self.clipToken))\"" }
        body.append(e + "/>")
    }

    /// A straight line.
    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: Color,
                              width: Double = 1, dash: Dash = .solid, class role: String? = nil) {
        var d = PathData()
        d.move(x1, y1)
        d.line(x2, y2)
        path(d.text, stroke: stroke, width: width, dash: dash, class: role)
    }

    /// A filled circle.
    public mutating func circle(cx: Double, cy: Double, r: Double, fill: Color, stroke: Color? = nil,
                                class role: String? = nil, clipped: Bool = false) {
        var e = "<circle"
        if let role { e += " class=\"\(role)\"" }
        e += " cx=\"\(Self.n(cx))\" cy=\"\(Self.n(cy))\" r=\"\(Self.n(r))\"" + Self.paint("fill", fill)
        if let stroke { e += Self.paint("stroke", stroke) }
        if clipped { e += " clip-path=\"url(#\(Self.clipToken))\"" }
        body.append(e + "/>")
    }

    /// One line of text with its baseline at `y`; `rotate` turns it (degrees) about (x, y).
    public mutating func text(_ content: String, x: Double, y: Double, size: Double,
                              anchor: TextAnchor = .start, bold: Bool = false, fill: Color = .ink,
                              rotate: Double = 0, class role: String? = nil) {
        var e = "<text"
        if let role { e += " class=\"\(role)\"" }
        e += " x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(Self.n(size))\""
        if anchor != .start { e += " text-anchor=\"\(anchor.rawValue)\"" }
        if bold { e += " font-weight=\"bold\"" }
        if fill != .ink { e += Self.paint("fill", fill) }
        if rotate != 0 { e += " transform=\"rotate(\(Self.n(rotate)) \(Self.n(x)) \(Self.n(y)))\"" }
        body.append(e + ">\(Markup.escape(content))</text>")
    }

    /// An embedded raster image (a data URI), drawn with square pixels when `pixelated`.
    public mutating func image(href: String, x: Double, y: Double, width: Double, height: Double,
                               pixelated: Bool = true, class role: String? = nil) {
        var e = "<image"
        if let role { e += " class=\"\(role)\"" }
        e += " x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\""
        if pixelated { e += " image-rendering=\"pixelated\" style=\"image-rendering:pixelated\"" }
        body.append(e + " href=\"\(Markup.escape(href))\"/>")
    }

    /// A tooltip for the element appended last (a `<title>` child), e.g. a cell's exact value.
    public mutating func tooltip(_ text: String) {
        guard let last = body.popLast(), last.hasSuffix("/>") else { return }
        let name = last.dropFirst().prefix { $0 != " " }
        body.append(last.dropLast(2) + "><title>\(Markup.escape(text))</title></\(name)>")
    }

    /// Starts a group (`<g class="…">`); close it with `endGroup()`.
    public mutating func beginGroup(_ role: String) { body.append("<g class=\"\(Markup.escape(role))\">") }

    /// Ends the group begun last.
    public mutating func endGroup() { body.append("</g>") }

    /// Defines the clip rectangle that elements drawn with `clipped: true` are cut to.
    public mutating func clip(x: Double, y: Double, width: Double, height: Double) {
        clipCount += 1
        body.append("<clipPath id=\"\(Self.clipToken)\"><rect x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\"/></clipPath>")
    }

    private static let clipToken = "@clip@"

    /// The document's text: responsive (`width="100%"`, at most its natural width), or drawn
    /// at exactly its natural size when `fixedSize` (for cells laid out by the page).
    public func render(fixedSize: Bool = false) -> String {
        var inner = body.joined(separator: "\n")
        if clipCount > 0 {
            // An id unique to this content: identical figures share it harmlessly.
            inner = inner.replacingAll(Self.clipToken, with: "clip-" + fnv1a(inner))
        }
        let w = Self.n(width), h = Self.n(height)
        let size = fixedSize ? " width=\"\(w)\" height=\"\(h)\"" : " width=\"100%\" style=\"max-width:\(w)px;height:auto\""
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(w) \(h)\"\(size)"
            + " font-family=\"\(SVGCanvas.fontFamily)\" role=\"img\">\n"
            + "<title>\(Markup.escape(title))</title>\n"
            + "<rect width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>\n"
            + inner + "\n</svg>"
    }
}

/// Path data (`d`) built from absolute moves and lines.
public struct PathData: Sendable {
    public private(set) var text = ""

    public init() {}

    /// Starts a subpath at (x, y).
    public mutating func move(_ x: Double, _ y: Double) {
        text += (text.isEmpty ? "M" : " M") + Format.coordinate(x) + " " + Format.coordinate(y)
    }

    /// A straight segment to (x, y).
    public mutating func line(_ x: Double, _ y: Double) {
        text += " L" + Format.coordinate(x) + " " + Format.coordinate(y)
    }

    /// Closes the subpath.
    public mutating func close() { text += " Z" }
}

/// FNV-1a, 64 bits, as 16 hex digits: a stable short name for a piece of text.
func fnv1a(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    let digits = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
