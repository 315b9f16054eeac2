// Test helpers for what the tests run and read back: programs found on PATH and run to
// completion, PNGs decoded through libpng, substrings of SVG and HTML text.
import CPNG
import Foundation

extension TestPaths {
    /// `name` found on PATH, or nil.
    public static func executable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// A program the tests need is missing or did not do its part.
public struct ToolError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a finished program left: its exit status and output.
public struct Finished: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs `executable` with `arguments` to completion, its output going to files in `scratch` (a
/// chatty program can never block on a full pipe).
public func runToCompletion(_ executable: String, _ arguments: [String], scratch: TemporaryDirectory,
                     environment extra: [String: String] = [:]) throws -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
    let id = UUID().uuidString
    let outPath = scratch("stdout-\(id)"), errPath = scratch("stderr-\(id)")
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return Finished(status: process.terminationStatus,
                    stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                    stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// A PNG decoded by libpng to 8-bit RGBA.
public struct DecodedImage: Sendable {
    public let width: Int
    public let height: Int
    public let rgba: [UInt8]

    /// Decodes `bytes` (any PNG); nil when libpng cannot read them.
    public init?(png bytes: [UInt8]) {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { return nil }
        image.format = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)  // RGBA
        let w = Int(image.width), h = Int(image.height)
        var pixels = [UInt8](repeating: 0, count: w * h * 4)
        let done = pixels.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(w * 4), nil)
        }
        png_image_free(&image)
        guard done != 0 else { return nil }
        width = w
        height = h
        rgba = pixels
    }

    /// The gray level of each pixel (the red channel: the images compared are gray).
    public var grays: [UInt8] { stride(from: 0, to: rgba.count, by: 4).map { rgba[$0] } }

    /// How many different RGBA values the image holds.
    public var distinctColors: Int {
        var seen = Set<UInt32>()
        for i in stride(from: 0, to: rgba.count, by: 4) {
            seen.insert(UInt32(rgba[i]) << 24 | UInt32(rgba[i + 1]) << 16 | UInt32(rgba[i + 2]) << 8 | UInt32(rgba[i + 3]))
        }
        return seen.count
    }

    /// The share of pixels that are not (near) white.
    public var inkedFraction: Double {
        var inked = 0
        for i in stride(from: 0, to: rgba.count, by: 4) where min(rgba[i], rgba[i + 1], rgba[i + 2]) < 240 { inked += 1 }
        return Double(inked) / Double(max(width * height, 1))
    }
}

/// The bytes of a base64 text (standard alphabet, padded), or nil.
public func base64Decoded(_ text: String) -> [UInt8]? {
    Data(base64Encoded: text).map { [UInt8]($0) }
}

extension String {
    /// How many times `needle` occurs (non-overlapping).
    public func occurrences(of needle: String) -> Int {
        components(separatedBy: needle).count - 1
    }

    /// Each text between `open` and the next `close`, in order.
    public func captures(between open: String, and close: String) -> [String] {
        var found: [String] = []
        var rest = self[...]
        while let a = rest.range(of: open), let b = rest[a.upperBound...].range(of: close) {
            found.append(String(rest[a.upperBound..<b.lowerBound]))
            rest = rest[b.upperBound...]
        }
        return found
    }
}
