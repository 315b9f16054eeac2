// Rendering a page the way a person sees it: headless Chromium (Debian's `chromium`, or the
// program named by $CHROMIUM) with the network cut off, its console read from its log.
//
// The page itself carries no script. To learn whether anything failed, Chromium loads a copy
// with two additions at the top of <head>:
//   - a Content-Security-Policy that lets nothing be fetched: every attempt to load a file, a
//     URL, a font or a style sheet is blocked and logged ("violates the following Content
//     Security Policy directive");
//   - a small script that logs each element that fails to load (a broken data: image too) and
//     any script error, and, on load, how many images there are and how many are broken.
// The rest of the copy is byte for byte the page.
import Foundation

public struct ChromiumRender: Sendable {
    /// Console lines (Chromium's `CONSOLE` log entries), in order.
    public let console: [String]
    /// The screenshot's PNG bytes.
    public let screenshot: [UInt8]

    /// Lines that report a blocked or failed load or a script error.
    public var failures: [String] {
        console.filter { line in
            line.contains("violates the following Content Security Policy")
                || line.contains("CHECK resource-error") || line.contains("CHECK script-error")
                || line.contains("Uncaught") || line.contains("Failed to load")
        }
    }

    /// The on-load line: "CHECK loaded images=N broken=M", nil when the page never loaded.
    public var loadReport: String? {
        console.first { $0.contains("CHECK loaded") }
    }
}

public enum Chromium {
    /// $CHROMIUM, else `chromium` on PATH.
    public static var program: String? {
        TestPaths.executable(ProcessInfo.processInfo.environment["CHROMIUM"].flatMap { $0.isEmpty ? nil : $0 } ?? "chromium")
    }

    static let probe = """
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
    <script>
    addEventListener('error', function (e) { var t = e.target; if (t && t !== window) { console.error('CHECK resource-error ' + t.tagName + ' ' + String(t.currentSrc || t.src || t.href || '').slice(0, 80)); } else { console.error('CHECK script-error ' + e.message); } }, true);
    addEventListener('load', function () { var bad = 0; for (var i = 0; i < document.images.length; i++) { var m = document.images[i]; if (!m.complete || m.naturalWidth === 0) bad++; } console.log('CHECK loaded images=' + document.images.length + ' broken=' + bad); });
    </script>
    """

    /// Renders `html` (a page's text) at `width × height` CSS pixels and returns its console and
    /// screenshot. Throws when Chromium is missing or makes no screenshot.
    public static func render(_ html: String, width: Int = 1200, height: Int = 3000, scratch: TemporaryDirectory) throws -> ChromiumRender {
        guard let program else { throw ToolError("no chromium: install Debian's `chromium` package (or set CHROMIUM)") }
        guard let head = html.range(of: "<head>") else { throw ToolError("the page has no <head>") }
        var probed = html
        probed.insert(contentsOf: "\n" + probe, at: head.upperBound)
        let page = scratch("page-\(width)x\(height).html"), shot = scratch("shot-\(width)x\(height).png")
        try probed.write(toFile: page, atomically: true, encoding: .utf8)
        let result = try runToCompletion(program, [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            // No network at all: a proxy that refuses and a resolver that knows no name.
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--user-data-dir=" + scratch("profile-\(width)x\(height)"),
            "--enable-logging=stderr", "--v=0",
            "--window-size=\(width),\(height)", "--screenshot=" + shot,
            URL(fileURLWithPath: page).absoluteString,
        ], scratch: scratch)
        guard let data = FileManager.default.contents(atPath: shot) else {
            throw ToolError("chromium made no screenshot (exit \(result.status)):\n\(result.stderr.suffix(2000))")
        }
        let console = result.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") }
        return ChromiumRender(console: console, screenshot: [UInt8](data))
    }

    /// Prints the page to PDF (for looking at the print layout); the PDF's bytes.
    public static func printPDF(_ html: String, scratch: TemporaryDirectory) throws -> [UInt8] {
        guard let program else { throw ToolError("no chromium") }
        let page = scratch("print.html"), pdf = scratch("print.pdf")
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        _ = try runToCompletion(program, [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--user-data-dir=" + scratch("profile-print"), "--no-pdf-header-footer",
            "--print-to-pdf=" + pdf, URL(fileURLWithPath: page).absoluteString,
        ], scratch: scratch)
        guard let data = FileManager.default.contents(atPath: pdf) else { throw ToolError("chromium made no PDF") }
        return [UInt8](data)
    }
}
