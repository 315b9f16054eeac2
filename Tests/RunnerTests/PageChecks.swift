// Checks every report page gets: self-contained (nothing that leaves the file), rendered offline
// by headless Chromium without a failed load or script error into a screenshot that is not blank,
// its notebook valid for nbformat, and `runner report` drawing the same bytes again.
import Foundation
import Testing
import TestSupport

enum PageChecks {
    /// Every src and href value of `html`.
    static func links(_ html: String) -> [String] {
        html.captures(between: "src=\"", and: "\"") + html.captures(between: "href=\"", and: "\"")
    }

    /// ≤ 3 MB, and no src/href with a scheme other than data: or with "//".
    static func selfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(html.utf8.count <= 3_000_000, "\(html.utf8.count) bytes", sourceLocation: sourceLocation)
        let remote = links(html).filter { $0.contains("//") || $0.hasPrefix("http") || $0.hasPrefix("file:") }
        #expect(remote.isEmpty, "links that leave the page: \(remote.prefix(3))", sourceLocation: sourceLocation)
        #expect(!html.contains("<script") && !html.contains("<link"), sourceLocation: sourceLocation)
    }

    /// Renders `html` at `width` with the network cut off; returns the screenshot, which must show
    /// a page: many colours, and more than `ink` of its pixels not white.
    @discardableResult
    static func renders(_ html: String, width: Int = 1200, height: Int = 3000, ink: Double = 0.05,
                        scratch: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let render = try Chromium.render(html, width: width, height: height, scratch: scratch)
        #expect(render.failures.isEmpty, "\(render.failures.joined(separator: "\n"))", sourceLocation: sourceLocation)
        #expect(render.loadReport?.contains("broken=0") == true, "no load report: \(render.console)", sourceLocation: sourceLocation)
        let image = try #require(DecodedImage(png: render.screenshot), sourceLocation: sourceLocation)
        #expect(image.width == width && image.height == height, sourceLocation: sourceLocation)
        #expect(image.distinctColors > 300, "\(image.distinctColors) colours: a blank page", sourceLocation: sourceLocation)
        #expect(image.inkedFraction > ink, "only \(image.inkedFraction) of the pixels are not white", sourceLocation: sourceLocation)
        return render.screenshot
    }

    /// The notebook at `path` is valid nbformat 4 and exactly what nbformat itself writes.
    static func validNotebook(_ path: String, scratch: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try Nbformat.check(try String(contentsOfFile: path, encoding: .utf8), scratch: scratch)
        #expect(result.status == 0, "\(result.stderr.suffix(1500))", sourceLocation: sourceLocation)
        #expect(result.stdout.hasPrefix("valid ") && result.stdout.hasSuffix("same\n"), "\(result.stdout.prefix(1500))",
                sourceLocation: sourceLocation)
    }

    /// `runner report folder` rewrites `names` with the same bytes.
    static func reproduced(_ folder: String, _ names: [String], scratch: TemporaryDirectory,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try names.map { try Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0)) }
        for name in names { try FileManager.default.removeItem(atPath: folder + "/" + name) }
        let again = try runner(["report", folder], scratch: scratch, sourceLocation: sourceLocation)
        #expect(again.exited(0), "\(again)", sourceLocation: sourceLocation)
        for (name, bytes) in zip(names, before) {
            let after = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
            #expect(after == bytes, "runner report changed \(name) (\(bytes.count) → \(after.count) bytes)",
                    sourceLocation: sourceLocation)
        }
    }
}
