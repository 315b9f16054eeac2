// Digit images for `runner predict`: PNG through libpng (gray, colour, transparency), PGM (binary,
// plain, 16-bit, comments), unreadable files as errors naming the file, and the MNIST-style
// normalisation (invert light paper, crop, fit 20×20, centre of mass at the centre of 28×28).
import CPNG
import Datasets
import Foundation
import Testing
import TestSupport

/// A 28×28 light "digit" on black: a filled rectangle with a soft edge, at (x, y) of size w×h.
func block(x: Int, y: Int, w: Int, h: Int, size: Int = 28) -> GrayImage {
    var pixels = [UInt8](repeating: 0, count: size * size)
    for r in y..<(y + h) {
        for c in x..<(x + w) { pixels[r * size + c] = (r == y || c == x) ? 128 : 255 }
    }
    return GrayImage(width: size, height: size, pixels: pixels)
}

func centreOfMass(_ image: GrayImage) -> (x: Double, y: Double) {
    var mass = 0.0, mx = 0.0, my = 0.0
    for y in 0..<image.height {
        for x in 0..<image.width {
            let v = Double(image[x, y])
            mass += v; mx += v * (Double(x) + 0.5); my += v * (Double(y) + 0.5)
        }
    }
    return (mx / mass, my / mass)
}

/// The bounding box (width, height) of pixels above `threshold`.
func inkBox(_ image: GrayImage, threshold: UInt8 = 25) -> (Int, Int) {
    var x0 = image.width, x1 = -1, y0 = image.height, y1 = -1
    for y in 0..<image.height {
        for x in 0..<image.width where image[x, y] > threshold {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        }
    }
    return (x1 - x0 + 1, y1 - y0 + 1)
}

@Suite("Digit images")
final class DigitImageTests {
    let scratch: TemporaryDirectory

    init() throws { scratch = try TemporaryDirectory("DigitImageTests") }
    deinit { scratch.remove() }

    func path(_ name: String) -> String { scratch(name) }

    @Test("a gray PNG written and read back is the same image")
    func pngRoundTrip() throws {
        let image = GrayImage(width: 7, height: 3, pixels: (0..<21).map { UInt8($0 * 12) })
        try image.writePNG(to: path("a.png"))
        #expect(try GrayImage(contentsOf: path("a.png")) == image)
    }

    @Test("a colour PNG with transparency: gray values, transparent parts on a ground that contrasts with the ink")
    func rgbaPNG() throws {
        // Dark blue strokes, opaque, on a fully transparent (black) background.
        let width = 4, height = 2
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        for i in [1, 2, 5] { rgba[4 * i + 2] = 60; rgba[4 * i + 3] = 255 }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)  // RGBA
        let ok = rgba.withUnsafeBytes { png_image_write_to_file(&image, path("c.png"), 0, $0.baseAddress, 0, nil) }
        png_image_free(&image)
        try #require(ok != 0)
        let read = try GrayImage(contentsOf: path("c.png"))
        #expect(read.width == 4 && read.height == 2)
        for i in 0..<8 {
            if [1, 2, 5].contains(i) { #expect(read.pixels[i] < 40, "stroke pixel \(i): \(read.pixels[i])") }
            else { #expect(read.pixels[i] == 255, "background pixel \(i): \(read.pixels[i])") }
        }
    }

    @Test("PGM: binary and plain, comments, maxval other than 255, 16-bit samples")
    func pgm() throws {
        try Data("P2\n# made by hand\n3 2\n15\n0 15 7\n1 2 3\n".utf8).write(to: URL(fileURLWithPath: path("p2.pgm")))
        #expect(try GrayImage(contentsOf: path("p2.pgm")).pixels == [0, 255, 119, 17, 34, 51])
        try Data(Array("P5 2 2 255\n".utf8) + [0, 10, 200, 255]).write(to: URL(fileURLWithPath: path("p5.pgm")))
        #expect(try GrayImage(contentsOf: path("p5.pgm")) == GrayImage(width: 2, height: 2, pixels: [0, 10, 200, 255]))
        try Data(Array("P5\n2 1\n65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00]).write(to: URL(fileURLWithPath: path("p16.pgm")))
        #expect(try GrayImage(contentsOf: path("p16.pgm")).pixels == [255, 128])
    }

    struct BadFile: CustomTestStringConvertible, Sendable {
        let label: String
        let bytes: [UInt8]
        let message: String
        var testDescription: String { label }
    }

    @Test("an unreadable image is an ImageError naming the file and the reason", arguments: [
        BadFile(label: "text", bytes: Array("hello".utf8), message: "not a PNG or PGM image"),
        BadFile(label: "empty", bytes: [], message: "not a PNG or PGM image"),
        BadFile(label: "PNG signature only", bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], message: "not a readable PNG"),
        BadFile(label: "PNG with garbage", bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 40),
                message: "not a readable PNG"),
        BadFile(label: "PGM cut short", bytes: Array("P5 4 4 255\n".utf8) + [1, 2, 3], message: "truncated"),
        BadFile(label: "PGM without a size", bytes: Array("P5 x".utf8), message: "expected the width"),
        BadFile(label: "PGM of size 0", bytes: Array("P2 0 3 255\n".utf8), message: "size 0×3"),
        BadFile(label: "PGM maxval 0", bytes: Array("P2 1 1 0\n0".utf8), message: "maximum value 0"),
        BadFile(label: "plain PGM missing samples", bytes: Array("P2 2 2 255\n1 2 3".utf8), message: "pixel 4 of 4"),
    ])
    func bad(_ c: BadFile) throws {
        let file = path("bad-\(c.label.filter(\.isLetter))")
        try Data(c.bytes).write(to: URL(fileURLWithPath: file))
        let error = try #require(throws: ImageError.self) { try GrayImage(contentsOf: file) }
        #expect(error.path == file)
        #expect(error.description.contains(c.message), "\(error)")
    }

    @Test("a missing file is an ImageError")
    func missing() throws {
        let error = try #require(throws: ImageError.self) { try GrayImage(contentsOf: path("none.png")) }
        #expect(error.description.contains("none.png") && error.description.contains("cannot read"))
    }

    @Test("MNIST style: 28×28, light on black, ink fitted into 20×20, centre of mass at (14, 14)")
    func normalisation() throws {
        // A dark 60×150 bar on white paper, far off-centre on a 500×400 canvas.
        var pixels = [UInt8](repeating: 240, count: 500 * 400)
        for y in 30..<180 { for x in 350..<410 { pixels[y * 500 + x] = 20 } }
        let out = try GrayImage(width: 500, height: 400, pixels: pixels).mnistStyle()
        #expect(out.width == 28 && out.height == 28)
        #expect(out[0, 0] == 0 && out.pixels.max() == 255)
        let (w, h) = inkBox(out)
        #expect(h == 20, "height \(h)")
        #expect(w == 8, "width \(w): the aspect ratio 60:150 is kept")
        let c = centreOfMass(out)
        #expect(abs(c.x - 14) <= 0.5 && abs(c.y - 14) <= 0.5, "\(c)")
    }

    @Test("an MNIST-like image (light on black, already 20×20 and centred) comes out the same")
    func alreadyMNIST() throws {
        let image = block(x: 4, y: 4, w: 20, h: 20)
        let out = try image.mnistStyle()
        #expect(out == image)
        // Light paper or dark: the same digit.
        let inverted = GrayImage(width: 28, height: 28, pixels: image.pixels.map { 255 - $0 })
        #expect(try inverted.mnistStyle() == image)
    }

    @Test("an image with no digit is an error, not a guess")
    func blank() throws {
        let flat = GrayImage(width: 30, height: 30, pixels: [UInt8](repeating: 200, count: 900))
        let error = try #require(throws: ImageError.self) { try flat.mnistStyle(path: "flat.png") }
        #expect(error.description.contains("flat.png") && error.description.contains("no digit found"))
    }
}
