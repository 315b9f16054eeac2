// The HTML page: self-contained (nothing fetched, no script), escaped, with contents, YAML beside
// its output, tables with numbers aligned, and print rules.
import Charts
import TestSupport
import Testing

@Suite("HTML pages and tables")
struct PageTests {
    /// The style sheet inline in every page.
    static let css = HTMLPage(title: "").render().captures(between: "<style>", and: "</style>")[0]

    @Test("Nothing leaves the page: no script, no URL, no // in any src or href")
    func selfContained() {
        let html = Samples.page().render()
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(!html.contains("@import"))
        #expect(html.captures(between: "url(", and: ")").allSatisfy { $0.hasPrefix("#clip-") })
        for attribute in ["src", "href"] {
            for value in html.captures(between: " \(attribute)=\"", and: "\"") {
                #expect(value.hasPrefix("#") || value.hasPrefix("data:image/png;base64,"), "\(attribute)=\(value.prefix(60))")
                #expect(!value.contains("//"))
            }
        }
        #expect(html.occurrences(of: "<svg") == 10 + Samples.predictions().items.count)
    }

    @Test("The same page gives the same bytes")
    func determinism() {
        #expect(Samples.page().render() == Samples.page().render())
    }

    @Test("Every text from data is escaped")
    func escaping() {
        let evil = "</pre><script>x()</script>&"
        let page = HTMLPage(title: evil, header: [.metrics([(evil, evil)]), .facts([(evil, evil)]), .callout(evil, tone: .bad)],
                            sections: [Section(evil, blocks: [
                                .paragraph(evil), .code(evil), .heading(evil),
                                .sideBySide(source: evil, output: [.paragraph(evil)]),
                                .figure(svg: "<svg></svg>", caption: evil),
                                .table(Table(columns: [.init(evil)], rows: [[evil]], caption: evil)),
                            ]), Section("Second", blocks: [])])
        let html = page.render()
        #expect(!html.contains("<script"))
        #expect(html.occurrences(of: "</pre>") == 2)  // the code block and the YAML block, none from the text
        #expect(html.occurrences(of: "&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;&amp;") == 18)
    }

    @Test("Sections get unique anchors and a table of contents")
    func contents() {
        let titles = ["Load data", "Train", "Train", "  Évaluer!  ", "", "3 models"]
        let odd = HTMLPage(title: "", sections: titles.map { Section($0, blocks: []) }).render()
        #expect(odd.captures(between: "<section id=\"", and: "\"") == ["load-data", "train", "train-2", "valuer", "section", "section-3-models"])
        let html = Samples.page().render()
        let links = html.captures(between: "<li><a href=\"#", and: "\"")
        #expect(links == ["load-data", "build-model", "compile", "train", "evaluate", "sample-output", "compare"])
        for id in links { #expect(html.contains("<section id=\"\(id)\">")) }
        let single = HTMLPage(title: "One", sections: [Section("Only", blocks: [])]).render()
        #expect(!single.contains("<nav"))
    }

    @Test("The YAML sits beside its output, in a grid that stacks on narrow screens")
    func sideBySide() {
        let html = Block.sideBySide(source: "seed: 42", output: [.paragraph("out")]).html()
        #expect(html == "<div class=\"side\">\n<div class=\"source\"><pre><code>seed: 42</code></pre></div>\n<div class=\"output\">\n<p>out</p>\n</div>\n</div>")
        let css = Self.css
        #expect(css.contains(".side { display: grid;"))
        #expect(css.contains("@media (max-width: 820px)"))
    }

    @Test("Print rules keep figures whole and print their colours")
    func print() {
        let print = Self.css.captures(between: "@media print {", and: "@page")[0]
        #expect(print.contains("figure, pre, table, dl.facts, .metrics, .callout { break-inside: avoid; }"))
        #expect(print.contains("print-color-adjust: exact"))
        #expect(print.contains("h2, h3 { break-after: avoid; }"))
    }

    @Test("Figures go in without the SVG namespace URL, which HTML does not need")
    func figure() {
        let html = Block.figure(Samples.layers(), caption: "The model").html()
        #expect(html.hasPrefix("<figure>\n<svg viewBox="))
        #expect(html.hasSuffix("</svg>\n<figcaption>The model</figcaption>\n</figure>"))
    }

    @Test("A gallery: cells drawn at their own size in a row that wraps")
    func gallery() {
        let grid = Samples.predictions()
        let html = Block.gallery(grid, caption: "First digits").html()
        #expect(html.hasPrefix("<figure class=\"gallery\">\n<div class=\"gallery-title\">First test digits</div>\n<div class=\"cells\">\n<svg viewBox="))
        #expect(html.hasSuffix("</svg>\n</div>\n<figcaption>First digits</figcaption>\n</figure>"))
        #expect(html.occurrences(of: "<svg") == grid.items.count)
        #expect(Self.css.contains(".gallery .cells { display: flex; flex-wrap: wrap; }"))
    }

    @Test("Tables: numeric columns right-aligned, the same table as aligned text")
    func tables() {
        let table = Table(columns: [.init("Run"), .init("Accuracy", numeric: true), .init("Seconds", numeric: true)],
                          rows: [["mlp", "97.81%", "12.5"], ["lenet5", "98.93%", "212.4"], ["short"]])
        let html = table.html()
        #expect(html.occurrences(of: "<th class=\"num\">") == 2)
        #expect(html.occurrences(of: "<td class=\"num\">") == 6)
        #expect(html.contains("<tr><td>short</td><td class=\"num\"></td><td class=\"num\"></td></tr>"))
        #expect(table.plainText() == """
        Run     Accuracy  Seconds
        ------  --------  -------
        mlp       97.81%     12.5
        lenet5    98.93%    212.4
        short
        """)
        #expect(Self.css.contains(".num { text-align: right;"))
    }
}
