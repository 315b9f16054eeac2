// Your own digit images, made to look like MNIST's: read a PNG (through libpng) or a PGM, then
// do what LeCun et al. did to NIST's digits — grayscale, light digit on a dark ground, cropped to
// the digit, fitted into 20×20 keeping its aspect ratio (anti-aliased), and placed in a 28×28
// field so that its centre of mass is at the centre.
import CPNG
import Foundation

/// An 8-bit grayscale image, row-major.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }
}

/// An image file that cannot be used, and why.
public struct ImageError: Error, Sendable, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "error: \(path): \(reason)" }
}

// MARK: - Files

extension GrayImage {
    /// Reads a PNG (any colour type or depth; colour is converted to gray, transparency is laid
    /// on a ground that contrasts with the strokes) or a binary/plain PGM (P5/P2).
    public init(contentsOf path: String) throws(ImageError) {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch {
            if case .unreadable(_, let reason) = error { throw ImageError(path: path, reason: "cannot read: \(reason)") }
            throw ImageError(path: path, reason: "\(error)")
        }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            self = try Self.decodePNG(bytes, path: path)
        } else if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "2")) {
            self = try Self.decodePGM(bytes, path: path)
        } else {
            throw ImageError(path: path, reason: "not a PNG or PGM image (PNG files start with \\x89PNG, PGM with P5 or P2)")
        }
    }

    private static func decodePNG(_ bytes: [UInt8], path: String) throws(ImageError) -> GrayImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        func failure() -> ImageError {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            return ImageError(path: path, reason: "not a readable PNG: \(message.isEmpty ? "libpng failed" : message)")
        }
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw failure() }
        guard image.width > 0, image.height > 0, image.width <= 20_000, image.height <= 20_000 else {
            png_image_free(&image)
            throw ImageError(path: path, reason: "\(image.width)×\(image.height) pixels is not a size this reads (at most 20000×20000)")
        }
        image.format = png_uint_32(PNG_FORMAT_GA)
        let width = Int(image.width), height = Int(image.height)
        var ga = [UInt8](repeating: 0, count: width * height * 2)
        let finished = ga.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(width * 2), nil)
        }
        guard finished != 0 else { throw failure() }
        png_image_free(&image)
        // Lay transparent parts on white when the opaque strokes are dark, on black otherwise.
        var inkSum = 0, inkCount = 0
        for i in 0..<(width * height) where ga[2 * i + 1] > 127 {
            inkSum += Int(ga[2 * i])
            inkCount += 1
        }
        let ground = inkCount > 0 && inkSum / inkCount < 128 ? 255 : 0
        var gray = [UInt8](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            let g = Int(ga[2 * i]), a = Int(ga[2 * i + 1])
            gray[i] = UInt8((g * a + ground * (255 - a) + 127) / 255)
        }
        return GrayImage(width: width, height: height, pixels: gray)
    }

    /// Netpbm's PGM: "P5" or "P2", width, height, maxval (comments allowed), then the samples.
    private static func decodePGM(_ bytes: [UInt8], path: String) throws(ImageError) -> GrayImage {
        var index = 2
        func fail(_ reason: String) -> ImageError { ImageError(path: path, reason: "not a readable PGM: \(reason)") }
        func skipSpace() {
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count && bytes[index] != 10 { index += 1 }
                } else if [9, 10, 13, 32].contains(bytes[index]) {
                    index += 1
                } else { return }
            }
        }
        func number(_ what: String) throws(ImageError) -> Int {
            skipSpace()
            var value = 0, digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57, digits < 9 {
                value = value * 10 + Int(bytes[index] - 48)
                index += 1
                digits += 1
            }
            guard digits > 0 else { throw fail("expected the \(what)") }
            return value
        }
        let plain = bytes[1] == UInt8(ascii: "2")
        let width = try number("width"), height = try number("height"), maxval = try number("maximum value")
        guard width > 0, height > 0, width <= 20_000, height <= 20_000 else { throw fail("size \(width)×\(height)") }
        guard maxval > 0, maxval < 65536 else { throw fail("maximum value \(maxval) (must be 1…65535)") }
        var pixels = [UInt8](repeating: 0, count: width * height)
        func scaled(_ v: Int) -> UInt8 { UInt8((min(v, maxval) * 255 + maxval / 2) / maxval) }
        if plain {
            for i in 0..<pixels.count { pixels[i] = scaled(try number("pixel \(i + 1) of \(pixels.count)")) }
        } else {
            index += 1  // the single whitespace after maxval
            let size = maxval < 256 ? 1 : 2
            guard bytes.count - index >= pixels.count * size else {
                throw fail("truncated: \(bytes.count - index) bytes of pixels, \(pixels.count * size) needed")
            }
            for i in 0..<pixels.count {
                let v = size == 1 ? Int(bytes[index + i]) : Int(bytes[index + 2 * i]) << 8 | Int(bytes[index + 2 * i + 1])
                pixels[i] = scaled(v)
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Writes the image as an 8-bit grayscale PNG (through libpng).
    public func writePNG(to path: String) throws(ImageError) {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        let written = pixels.withUnsafeBytes {
            png_image_write_to_file(&image, path, 0, $0.baseAddress, png_int_32(width), nil)
        }
        let message = withUnsafeBytes(of: image.message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        png_image_free(&image)
        guard written != 0 else { throw ImageError(path: path, reason: "cannot write PNG: \(message)") }
    }
}

// MARK: - MNIST's normalisation

extension GrayImage {
    /// The image as MNIST would have it: 28×28, a light digit on black, fitted into 20×20 and
    /// centred by its centre of mass. Throws when there is no digit to see (a blank image).
    public func mnistStyle(path: String = "image") throws(ImageError) -> GrayImage {
        // 1. Light on dark: the border is the ground; invert when it is lighter than mid-gray.
        var border: [Int] = []
        for x in 0..<width { border.append(Int(self[x, 0])); border.append(Int(self[x, height - 1])) }
        for y in 0..<height { border.append(Int(self[0, y])); border.append(Int(self[width - 1, y])) }
        border.sort()
        let invert = border[border.count / 2] > 127
        var values = pixels.map { invert ? 255 - Float($0) : Float($0) }
        // 2. Ground to 0, strongest ink to 255 (paper is rarely pure white, pens rarely black).
        let ground = invert ? 255 - Float(border[border.count / 2]) : Float(border[border.count / 2])
        let peak = values.max() ?? 0
        guard peak - ground >= 16 else {
            throw ImageError(path: path, reason: "no digit found: the image is nearly uniform (contrast \(Int(peak - ground)) of 255)")
        }
        for i in values.indices { values[i] = max(0, values[i] - ground) * 255 / (peak - ground) }
        // 3. Crop to the ink (pixels above 10% of full strength).
        var x0 = width, x1 = -1, y0 = height, y1 = -1
        for y in 0..<height {
            for x in 0..<width where values[y * width + x] > 25.5 {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        let cropW = x1 - x0 + 1, cropH = y1 - y0 + 1
        var crop = [Float](repeating: 0, count: cropW * cropH)
        for y in 0..<cropH {
            for x in 0..<cropW { crop[y * cropW + x] = values[(y + y0) * width + x + x0] }
        }
        // 4. Fit into 20×20, aspect kept, by area averaging; then full strength again.
        let scale = 20 / Float(max(cropW, cropH))
        let boxW = max(1, Int((Float(cropW) * scale).rounded())), boxH = max(1, Int((Float(cropH) * scale).rounded()))
        var box = Self.resample(crop, width: cropW, height: cropH, toWidth: boxW, height: boxH)
        if let top = box.max(), top > 0 { for i in box.indices { box[i] = box[i] * 255 / top } }
        // 5. Centre of mass to the centre of 28×28.
        var mass: Float = 0, mx: Float = 0, my: Float = 0
        for y in 0..<boxH {
            for x in 0..<boxW {
                let v = box[y * boxW + x]
                mass += v; mx += v * (Float(x) + 0.5); my += v * (Float(y) + 0.5)
            }
        }
        let dx = Int((14 - mx / mass).rounded()), dy = Int((14 - my / mass).rounded())
        var out = [UInt8](repeating: 0, count: 28 * 28)
        for y in 0..<boxH {
            for x in 0..<boxW {
                let tx = x + dx, ty = y + dy
                guard tx >= 0, tx < 28, ty >= 0, ty < 28 else { continue }
                out[ty * 28 + tx] = UInt8(min(255, box[y * boxW + x].rounded()))
            }
        }
        return GrayImage(width: 28, height: 28, pixels: out)
    }

    /// Area-average resampling: each output pixel is the mean of the input area it covers
    /// (fractional pixels weighted by their covered part), rows then columns.
    static func resample(_ input: [Float], width: Int, height: Int, toWidth w2: Int, height h2: Int) -> [Float] {
        func weights(from n: Int, to m: Int) -> [[(Int, Float)]] {
            let step = Float(n) / Float(m)
            return (0..<m).map { i in
                let a = Float(i) * step, b = Float(i + 1) * step
                var list: [(Int, Float)] = []
                var j = Int(a)
                while Float(j) < b && j < n {
                    let overlap = min(b, Float(j + 1)) - max(a, Float(j))
                    if overlap > 0 { list.append((j, overlap / step)) }
                    j += 1
                }
                return list
            }
        }
        let wx = weights(from: width, to: w2), wy = weights(from: height, to: h2)
        var rows = [Float](repeating: 0, count: w2 * height)
        for y in 0..<height {
            for x in 0..<w2 {
                var s: Float = 0
                for (j, w) in wx[x] { s += input[y * width + j] * w }
                rows[y * w2 + x] = s
            }
        }
        var out = [Float](repeating: 0, count: w2 * h2)
        for y in 0..<h2 {
            for (j, w) in wy[y] {
                for x in 0..<w2 { out[y * w2 + x] += rows[j * w2 + x] * w }
            }
        }
        return out
    }

    /// The image as text, two characters per pixel from ' ' to '@' (for `runner predict --show`).
    public var asciiArt: String {
        let ramp = Array(" .:-=+*#%@")
        var lines: [String] = []
        for y in 0..<height {
            var line = ""
            for x in 0..<width {
                let c = ramp[Int(self[x, y]) * (ramp.count - 1) / 255]
                line.append(c); line.append(c)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
