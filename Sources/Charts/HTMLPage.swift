// A self-contained HTML page: inline CSS, inline SVG, no scripts, nothing fetched (no src or href
// leaves the page), readable on a phone and on paper. Sections get a table of contents; every
// text that came from data is escaped; only SVG made by this module goes in unescaped.

/// A page of sections, each a list of blocks.
public struct HTMLPage: Sendable {
    public var title: String
    /// Under the page's heading, before the contents (status, headline numbers, facts).
    public var header: [Block]
    public var sections: [Section]
    /// After the last section (provenance, versions).
    public var footer: [Block]

    public init(title: String, header: [Block] = [], sections: [Section] = [], footer: [Block] = []) {
        self.title = title
        self.header = header
        self.sections = sections
        self.footer = footer
    }

    /// The whole document, UTF-8 text; the same page gives the same bytes.
    public func render() -> String {
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Markup.escape(title))</title>
        <style>
        \(PageStyle.css)</style>
        </head>
        <body>
        <main>
        <header>
        <h1>\(Markup.escape(title))</h1>

        """
        for block in header { out += block.html() + "\n" }
        out += "</header>\n"
        let ids = Self.anchors(sections.map(\.title))
        if sections.count > 1 {
            out += "<nav class=\"toc\" aria-label=\"Contents\">\n<h2>Contents</h2>\n<ol>\n"
            for (section, id) in zip(sections, ids) {
                out += "<li><a href=\"#\(id)\">\(Markup.escape(section.title))</a></li>\n"
            }
            out += "</ol>\n</nav>\n"
        }
        for (section, id) in zip(sections, ids) {
            out += "<section id=\"\(id)\">\n<h2>\(Markup.escape(section.title))</h2>\n"
            for block in section.blocks { out += block.html() + "\n" }
            out += "</section>\n"
        }
        if !footer.isEmpty {
            out += "<footer>\n"
            for block in footer { out += block.html() + "\n" }
            out += "</footer>\n"
        }
        return out + "</main>\n</body>\n</html>\n"
    }

    /// Fragment ids from titles: lowercase ASCII letters and digits joined by "-", unique
    /// ("Train", "Train" → "train", "train-2").
    static func anchors(_ titles: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return titles.map { title in
            var slug = ""
            for c in title.lowercased().unicodeScalars {
                if ("a"..."z").contains(c) || ("0"..."9").contains(c) {
                    slug.unicodeScalars.append(c)
                } else if !slug.isEmpty && !slug.hasSuffix("-") {
                    slug += "-"
                }
            }
            while slug.hasSuffix("-") { slug.removeLast() }
            if slug.isEmpty || slug.first!.isNumber { slug = "section-" + slug }
            if slug.hasSuffix("-") { slug.removeLast() }
            let n = seen[slug, default: 0] + 1
            seen[slug] = n
            return n == 1 ? slug : "\(slug)-\(n)"
        }
    }
}

/// One section of a page: a heading in the contents and its blocks.
public struct Section: Sendable {
    public var title: String
    public var blocks: [Block]

    public init(_ title: String, blocks: [Block]) {
        self.title = title
        self.blocks = blocks
    }
}

/// The colour of a callout.
public enum Tone: String, Sendable {
    case info, good, warning, bad
}

/// A piece of a page. Text is escaped; `figure` takes SVG made by this module.
public indirect enum Block: Sendable {
    /// A sub-heading (h3).
    case heading(String)
    /// A paragraph of plain text.
    case paragraph(String)
    /// Preformatted text (YAML, a model summary).
    case code(String)
    /// An SVG figure (from `Figure.svg()`) with an optional caption.
    case figure(svg: String, caption: String)
    case table(Table)
    /// Name–value pairs (seed, hash, machine …) as a two-column list.
    case facts([(name: String, value: String)])
    /// Headline numbers in large type, each with a label under it ("98.21%" / "test accuracy").
    case metrics([(label: String, value: String)])
    /// An image grid's cells (`ImageGrid.cellSVGs()`) wrapping into as many per row as the
    /// screen holds, under the grid's title, so captions stay readable on a phone and on paper
    /// (one wide SVG would shrink them). A notebook shows the grid as one SVG.
    case gallery(ImageGrid, caption: String = "")
    /// A highlighted note (a status: interrupted, diverged, failed).
    case callout(String, tone: Tone)
    /// The experiment's YAML for a step beside that step's output; stacked on narrow screens.
    case sideBySide(source: String, output: [Block])

    /// A figure block from any chart of this module.
    public static func figure(_ figure: any Figure, caption: String = "") -> Block {
        .figure(svg: figure.svg(), caption: caption)
    }

    private static func inline(_ svg: String) -> String {
        svg.replacingAll(" xmlns=\"http://www.w3.org/2000/svg\"", with: "")
    }

    private static func figcaption(_ caption: String) -> String {
        caption.isEmpty ? "" : "\n<figcaption>\(Markup.escape(caption))</figcaption>"
    }

    /// The block's markup.
    public func html() -> String {
        switch self {
        case .heading(let text):
            return "<h3>\(Markup.escape(text))</h3>"
        case .paragraph(let text):
            return "<p>\(Markup.escape(text))</p>"
        case .code(let text):
            return "<pre><code>\(Markup.escape(text))</code></pre>"
        case .figure(let svg, let caption):
            return "<figure>\n\(Self.inline(svg))\(Self.figcaption(caption))\n</figure>"
        case .gallery(let grid, let caption):
            let heading = grid.title.isEmpty ? "" : "<div class=\"gallery-title\">\(Markup.escape(grid.title))</div>\n"
            return "<figure class=\"gallery\">\n\(heading)<div class=\"cells\">\n"
                + grid.cellSVGs().map(Self.inline).joined(separator: "\n") + "\n</div>\(Self.figcaption(caption))\n</figure>"
        case .table(let table):
            return "<div class=\"table-wrap\">\n\(table.html())\n</div>"
        case .facts(let pairs):
            let items = pairs.map { "<dt>\(Markup.escape($0.name))</dt><dd>\(Markup.escape($0.value))</dd>" }
            return "<dl class=\"facts\">\n" + items.joined(separator: "\n") + "\n</dl>"
        case .metrics(let items):
            let parts = items.map {
                "<div class=\"metric\"><span class=\"value\">\(Markup.escape($0.value))</span><span class=\"label\">\(Markup.escape($0.label))</span></div>"
            }
            return "<div class=\"metrics\">\n" + parts.joined(separator: "\n") + "\n</div>"
        case .callout(let text, let tone):
            return "<div class=\"callout \(tone.rawValue)\">\(Markup.escape(text))</div>"
        case .sideBySide(let source, let output):
            return "<div class=\"side\">\n<div class=\"source\"><pre><code>\(Markup.escape(source))</code></pre></div>\n<div class=\"output\">\n"
                + output.map { $0.html() }.joined(separator: "\n") + "\n</div>\n</div>"
        }
    }
}

extension Block {
    /// The block as notebook outputs: figures and grids as SVG, tables, facts and headline
    /// numbers as HTML with a plain-text twin, text as Markdown, code as printed text.
    public var notebookOutputs: [Notebook.Output] {
        switch self {
        case .heading(let text): return [.markdown("### " + text)]
        case .paragraph(let text): return [.markdown(text)]
        case .code(let text): return [.stdout(text.hasSuffix("\n") ? text : text + "\n")]
        case .figure(let svg, let caption):
            // The figure's own <title> is the plain-text stand-in when there is no caption.
            let title = svg.firstRange(of: "<title>").flatMap { open in
                svg[open.upperBound...].firstRange(of: "</title>").map { String(svg[open.upperBound..<$0.lowerBound]) }
            }
            return [.svg(svg, text: caption.isEmpty ? title ?? "figure" : caption)]
        case .gallery(let grid, let caption):
            return [.svg(grid.svg(), text: caption.isEmpty ? grid.title : caption)]
        case .table(let table): return [.html(table.html(), text: table.plainText())]
        case .facts(let pairs):
            return [.html(html(), text: pairs.map { "\($0.name): \($0.value)" }.joined(separator: "\n"))]
        case .metrics(let items):
            return [.html(html(), text: items.map { "\($0.label): \($0.value)" }.joined(separator: "\n"))]
        case .callout(let text, let tone):
            return [.markdown((tone == .info ? "> " : "> **\(tone == .good ? "OK" : tone == .warning ? "Note" : "Problem"):** ") + text)]
        case .sideBySide(let source, let output):
            return [.stdout(source.hasSuffix("\n") ? source : source + "\n")] + output.flatMap(\.notebookOutputs)
        }
    }
}
