// The sample page (every figure kind) as a browser shows it: headless Chromium, network cut off.
// Nothing may be fetched or fail to load, no script error, and the screenshot must show a page
// (many colours, a fair share of non-white pixels). A missing Chromium fails these tests.
import Charts
import Foundation
import TestSupport
import Testing

@Suite("Headless Chromium")
struct BrowserTests {
    /// Keeps the page, screenshots and notebook in $CHARTS_SAMPLE_DIR when it is set.
    static func keep(_ bytes: [UInt8], as name: String) {
        guard let dir = ProcessInfo.processInfo.environment["CHARTS_SAMPLE_DIR"], !dir.isEmpty else { return }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
    }

    func check(width: Int, height: Int) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let html = Samples.page().render()
        let render = try Chromium.render(html, width: width, height: height, scratch: scratch)
        Self.keep(Array(html.utf8), as: "charts-sample.html")
        Self.keep(render.screenshot, as: "charts-sample-\(width).png")
        #expect(render.failures.isEmpty, "\(render.failures.joined(separator: "\n"))")
        #expect(render.loadReport?.contains("broken=0") == true, "no load report: \(render.console)")
        let image = try #require(DecodedImage(png: render.screenshot))
        #expect(image.width == width && image.height == height)
        #expect(image.distinctColors > 300, "\(image.distinctColors) colours: a blank or nearly blank page")
        #expect(image.inkedFraction > 0.08, "only \(image.inkedFraction) of the pixels are not white")
    }

    @Test("The sample page renders offline with no failed load or script error, 1200 px wide")
    func wide() throws { try check(width: 1200, height: 6400) }

    @Test("The sample page renders offline on a 600 px wide screen")
    func narrow() throws { try check(width: 600, height: 7000) }

    @Test("The check notices a fetched file, a broken inline image and a script error")
    func checkCatchesFailures() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let html = """
        <!DOCTYPE html><html><head><title>bad</title><link rel="stylesheet" href="missing.css"></head>
        <body><img src="data:image/png;base64,iVBORw0KGgo="><img src="https://example.com/x.png">
        <svg><image href="missing.png" width="10" height="10"/></svg><script>undefinedFunction()</script></body></html>
        """
        let render = try Chromium.render(html, width: 400, height: 300, scratch: scratch)
        let failures = render.failures.joined(separator: "\n")
        #expect(failures.contains("missing.css"))
        #expect(failures.contains("example.com"))
        #expect(failures.contains("missing.png"))
        #expect(failures.contains("CHECK resource-error IMG data:image/png"))
        #expect(failures.contains("undefinedFunction"))
        #expect(render.loadReport?.contains("images=2 broken=2") == true, "\(render.console)")
    }

    @Test("A blank page fails the screenshot check")
    func blankPageIsBlank() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let render = try Chromium.render("<!DOCTYPE html><html><head></head><body></body></html>", width: 400, height: 300, scratch: scratch)
        let image = try #require(DecodedImage(png: render.screenshot))
        #expect(image.distinctColors < 5)
        #expect(image.inkedFraction < 0.01)
    }

    @Test("The page prints to PDF")
    func prints() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let pdf = try Chromium.printPDF(Samples.page().render(), scratch: scratch)
        Self.keep(pdf, as: "charts-sample.pdf")
        #expect(pdf.starts(with: Array("%PDF-".utf8)))
        // Several pages: "/Type /Page" once per page (and "/Type /Pages" once).
        let text = String(decoding: pdf, as: UTF8.self)
        #expect(text.occurrences(of: "/Type /Page") - text.occurrences(of: "/Type /Pages") >= 3)
    }
}
