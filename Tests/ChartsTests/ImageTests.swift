// Digits as PNG data URIs (read back through libpng, pixel for pixel) and the captioned grid.
import Charts
import Foundation
import TestSupport
import Testing

@Suite("Images")
struct ImageTests {
    static func pattern(width: Int, height: Int) -> [UInt8] {
        (0..<(width * height)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / width &* 11) }
    }

    @Test("A grayscale PNG decodes to the same pixels", arguments: [(28, 28), (5, 3), (1, 1), (64, 17)])
    func roundTrip(width: Int, height: Int) throws {
        let pixels = Self.pattern(width: width, height: height)
        let png = PNG.gray(pixels, width: width, height: height)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let decoded = try #require(DecodedImage(png: png))
        #expect(decoded.width == width && decoded.height == height)
        #expect(decoded.grays == pixels)
        #expect(PNG.gray(pixels, width: width, height: height) == png)
    }

    @Test("The data URI holds the PNG in base64")
    func dataURI() throws {
        let digit = Samples.digit(7)
        let png = PNG.gray(digit, width: 28, height: 28)
        let uri = PNG.dataURI(png)
        #expect(uri.hasPrefix("data:image/png;base64,"))
        #expect(!uri.contains("//"))
        let body = try #require(String(uri.dropFirst("data:image/png;base64,".count)).removingPercentEncoding)
        let bytes = try #require(base64Decoded(body))
        #expect(bytes == png)
        #expect(try #require(DecodedImage(png: bytes)).grays == digit)
    }

    @Test("A data URI never holds //, even where the base64 does")
    func noDoubleSlash() throws {
        let png = try #require((0..<200).lazy.map { Samples.digit($0 % 10, variant: $0) }
            .map { PNG.gray($0, width: 28, height: 28) }.first { PNG.base64($0).contains("//") })
        let uri = PNG.dataURI(png)
        #expect(!uri.contains("//") && uri.contains("/%2F"))
        #expect(uri.removingPercentEncoding == "data:image/png;base64," + PNG.base64(png))
    }

    @Test("Base64 as RFC 4648 writes it")
    func base64() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors { #expect(PNG.base64(Array(plain.utf8)) == encoded) }
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 7) }
        #expect(PNG.base64(bytes) == Data(bytes).base64EncodedString())
    }

    @Test("Predictions are captioned like the notebook, green when right and red when wrong")
    func captions() throws {
        let right = ImageGrid.Item.prediction(pixels: Samples.digit(7), predicted: "7", actual: "7")
        let wrong = ImageGrid.Item.prediction(pixels: Samples.digit(4), predicted: "9", actual: "4")
        #expect(right.captions.map(\.text) == ["Model predicts: 7", "Actual label: 7", "Correct prediction"])
        #expect(wrong.captions.map(\.text) == ["Model predicts: 9", "Actual label: 4", "Wrong prediction"])
        let svg = ImageGrid(title: "Test digits", items: [right, wrong]).svg()
        let captions = Array(zip(svg.texts(ofClass: "caption"), svg.elements(ofClass: "caption")))
        let correct = try #require(captions.first { $0.0 == "Correct prediction" })
        let mistaken = try #require(captions.first { $0.0 == "Wrong prediction" })
        #expect(correct.1.contains("fill=\"\(Color.good.hex)\""))
        #expect(mistaken.1.contains("fill=\"\(Color.bad.hex)\""))
        #expect(!captions[0].1.contains("fill="))
    }

    @Test("A grid of inline images, drawn with square pixels, each decoding to its digit")
    func grid() throws {
        let items = (0..<7).map { ImageGrid.Item(pixels: Samples.digit($0), width: 28, height: 28) }
        let svg = ImageGrid(title: "Digits", items: items, columns: 3).svg()
        let hrefs = svg.captures(between: "href=\"data:image/png;base64,", and: "\"")
        #expect(hrefs.count == 7)
        for (href, item) in zip(hrefs, items) {
            let body = try #require(href.removingPercentEncoding)
            let png = try #require(base64Decoded(body))
            #expect(try #require(DecodedImage(png: png)).grays == item.pixels)
        }
        #expect(svg.occurrences(of: "image-rendering=\"pixelated\"") == 7)
        // 7 images in rows of 3: three rows, so the grid is taller than one row of 3.
        let three = ImageGrid(title: "Digits", items: Array(items.prefix(3)), columns: 3).svg()
        func size(_ svg: String) -> [Double] { svg.captures(between: "viewBox=\"0 0 ", and: "\"")[0].split(separator: " ").map { Double($0)! } }
        #expect(size(svg)[0] == size(three)[0] && size(svg)[1] > 2.5 * (size(three)[1] - 36))
    }

    @Test("Cells apart: one small SVG per image, all of one fixed size, titled by their captions")
    func cells() {
        let grid = Samples.predictions()
        let cells = grid.cellSVGs()
        #expect(cells.count == grid.items.count)
        let sizes = Set(cells.map { $0.captures(between: "viewBox=\"0 0 ", and: "\"")[0] })
        #expect(sizes.count == 1)
        let size = sizes.first!.split(separator: " ")
        #expect(cells.allSatisfy { $0.contains(" width=\"\(size[0])\" height=\"\(size[1])\"") && !$0.contains("100%") })
        #expect(cells[0].contains("<title>\(grid.items[0].captions.map(\.text).joined(separator: " / "))</title>"))
        #expect(cells.allSatisfy { $0.occurrences(of: "<image") == 1 })
    }

    @Test("Top probabilities as bars in proportion to their value")
    func probabilities() {
        let item = ImageGrid.Item.prediction(pixels: Samples.digit(3), predicted: "3", actual: "3",
                                             probabilities: [("3", 0.9), ("5", 0.06), ("8", 0.03)])
        let svg = ImageGrid(title: "", items: [item]).svg()
        let widths = svg.elements(ofClass: "probability").map { Double($0.attribute("width")!)! }
        #expect(widths.count == 3)
        #expect(abs(widths[0] / widths[1] - 15) < 0.1)
        #expect(svg.contains(">90.0%</text>") && svg.contains(">6.0%</text>"))
    }
}
