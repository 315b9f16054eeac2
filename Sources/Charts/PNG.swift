// Grayscale images as PNG bytes (written by libpng, in memory) and as data URIs for inline
// <img>/<image> elements: the pictures travel inside the report, nothing is fetched.

import CPNG

/// PNG encoding and data URIs.
public enum PNG {
    /// An 8-bit grayscale PNG of `pixels` (row-major, `width × height` bytes, 0 black … 255
    /// white). The same pixels always give the same bytes (no time or text chunks).
    public static func gray(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(width > 0 && height > 0 && pixels.count == width * height,
                     "\(pixels.count) pixels for a \(width)×\(height) image")
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        // First call: the size needed; second: the bytes.
        var size = 0
        var written = pixels.withUnsafeBytes {
            png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, png_int_32(width), nil)
        }
        var bytes = [UInt8](repeating: 0, count: size)
        if written != 0 {
            written = bytes.withUnsafeMutableBytes { out in
                pixels.withUnsafeBytes {
                    png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, png_int_32(width), nil)
                }
            }
        }
        let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        png_image_free(&image)
        // libpng fails here only when memory runs out: nothing a caller could do differently.
        precondition(written != 0, "libpng could not encode a \(width)×\(height) PNG: \(message)")
        return Array(bytes.prefix(size))
    }

    /// `data:image/png;base64,…` for `png`. A `/` right after another is written `%2F` (browsers
    /// percent-decode a data URL before decoding its base64), so no src or href ever holds `//`,
    /// the mark of a link to another host that checks of self-contained pages look for.
    public static func dataURI(_ png: [UInt8]) -> String {
        var uri = "data:image/png;base64,"
        var previous: Character = ","
        for c in base64(png) {
            if c == "/" && previous == "/" {
                uri += "%2F"
                previous = "F"
            } else {
                uri.append(c)
                previous = c
            }
        }
        return uri
    }

    /// Standard base64 (RFC 4648, with `=` padding, no line breaks).
    public static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i])
            let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[(b0 & 3) << 4 | b1 >> 4])
            out.append(i + 1 < bytes.count ? alphabet[(b1 & 15) << 2 | b2 >> 6] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
