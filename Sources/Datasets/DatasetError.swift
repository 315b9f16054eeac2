// Every way finding, reading or downloading a dataset can fail, as a value with its context
// (which file or URL, what was expected, what was found), so the CLI can print one precise line
// and the tests can compare errors exactly.

/// A user-facing failure of the Datasets module. Nothing in this module traps on bad data; it
/// throws one of these instead.
public enum DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened or read (missing, a directory, no permission, I/O error).
    case unreadable(path: String, reason: String)
    /// The gzip stream is damaged, cut short, or not gzip at all.
    case corruptGzip(path: String, reason: String)
    /// Fewer bytes than the IDX header needs: 4 bytes of magic, then 4 bytes per dimension.
    case headerTooShort(path: String, needed: Int, actual: Int)
    /// The first two bytes of an IDX file must be zero.
    case badMagic(path: String, found: [UInt8])
    /// The IDX type code (third byte) is not 0x08, unsigned byte.
    case unsupportedType(path: String, code: UInt8)
    /// The IDX dimension count (fourth byte) is outside 1…4.
    case badDimensionCount(path: String, count: Int)
    /// The product of the dimensions does not fit in an Int.
    case sizeOverflow(path: String, dims: [Int])
    /// The file is shorter than its header says: `expected` = header + product(dims) bytes.
    case truncated(path: String, dims: [Int], expected: Int, actual: Int)
    /// The file is longer than its header says: `expected` = header + product(dims) bytes.
    case trailingBytes(path: String, dims: [Int], expected: Int, actual: Int)
    /// A valid IDX file of the wrong kind, e.g. a labels file where images were expected.
    case wrongShape(path: String, expected: String, dims: [Int])
    /// An images file and its labels file disagree on the number of items.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label is not a class index `0..<classCount`.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// The name is not in the catalog; `suggestion` is the nearest known name, if any is close.
    case unknownDataset(name: String, known: [String], suggestion: String?)
    /// The explicitly given data directory does not exist (or is not a directory).
    case directoryNotFound(path: String)
    /// No searched directory holds all four files and downloading is off.
    case notFound(name: String, searched: [String])
    /// The decompressed content's SHA-256 is not the catalog's.
    case checksumMismatch(path: String, expected: String, found: String)
    /// A mirror answered with a non-2xx HTTP status.
    case httpStatus(url: String, status: Int)
    /// The request failed below HTTP: refused, unreachable, timed out, bad URL.
    case network(url: String, reason: String)
    /// Every mirror failed for one file; each attempt says how.
    case downloadFailed(file: String, attempts: [DownloadAttempt])
    /// Creating, writing or renaming something in the cache failed.
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .corruptGzip(path, reason):
            return "\(path): corrupt gzip data: \(reason)"
        case let .headerTooShort(path, needed, actual):
            if actual == 0 { return "\(path): file is empty, expected an IDX header of \(needed) bytes" }
            return "\(path): too short for an IDX header: need \(needed) bytes, file has \(actual)"
                + Self.afterDecompression(path)
        case let .badMagic(path, found):
            return "\(path): not an IDX file: magic must start with 00 00, found "
                + found.map { hex([$0]) }.joined(separator: " ")
        case let .unsupportedType(path, code):
            let name = Self.idxTypeNames[code].map { " (\($0))" } ?? ""
            return "\(path): unsupported IDX type code 0x\(hex([code]).uppercased())\(name); only 0x08 (unsigned byte) is supported"
        case let .badDimensionCount(path, count):
            return "\(path): IDX header declares \(count) dimensions, expected 1…4"
        case let .sizeOverflow(path, dims):
            return "\(path): IDX dimensions \(shape(dims)) are too large to address"
        case let .truncated(path, dims, expected, actual):
            return "\(path): truncated: header says \(shape(dims)) \(Self.noun(dims)) = \(expected) bytes, "
                + "file has \(actual) bytes" + Self.afterDecompression(path)
        case let .trailingBytes(path, dims, expected, actual):
            return "\(path): \(actual - expected) extra bytes: header says \(shape(dims)) \(Self.noun(dims)) = "
                + "\(expected) bytes, file has \(actual) bytes" + Self.afterDecompression(path)
        case let .wrongShape(path, expected, dims):
            return "\(path): expected \(expected), found \(dims.count) dimension\(dims.count == 1 ? "" : "s") \(shape(dims))"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) has \(images) images but \(labelsPath) has \(labels) labels"
        case let .labelOutOfRange(path, index, label, classCount):
            return "\(path): label \(label) at index \(index) is not a class index 0…\(classCount - 1)"
        case let .unknownDataset(name, known, suggestion):
            let list = known.map { "'\($0)'" }.joined(separator: ", ")
            let guess = suggestion.map { "; did you mean '\($0)'?" } ?? ""
            return "unknown dataset '\(name)' (known: \(list))\(guess)"
        case let .directoryNotFound(path):
            return "data directory \(path) does not exist (not downloading: a mistyped path should not fetch data)"
        case let .notFound(name, searched):
            return "dataset '\(name)' not found; looked in " + searched.joined(separator: ", ")
                + "; downloading is disabled (put the four IDX files, .gz or plain, in one of these directories)"
        case let .checksumMismatch(path, expected, found):
            return "\(path): SHA-256 mismatch of the decompressed data: expected \(expected), found \(found)"
        case let .httpStatus(url, status):
            return "\(url): HTTP status \(status)"
        case let .network(url, reason):
            return "\(url): \(reason)"
        case let .downloadFailed(file, attempts):
            let lines = attempts.map { "  \($0.url): \($0.error.reasonAfterLocation(of: $0.url))" }
            return (["could not download \(file) from any mirror:"] + lines).joined(separator: "\n")
        case let .fileSystem(path, reason):
            return "\(path): \(reason)"
        }
    }

    /// A message for an attempt on `url` without repeating the URL when the message starts with it.
    func reasonAfterLocation(of url: String) -> String {
        let text = description
        let prefix = url + ": "
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }

    private static func afterDecompression(_ path: String) -> String {
        path.hasSuffix(".gz") ? " after decompression" : ""
    }

    private static func noun(_ dims: [Int]) -> String {
        switch dims.count {
        case 3: return "images"
        case 1: return "labels"
        default: return "values"
        }
    }

    /// The IDX format's type codes, to name what a rejected file holds.
    private static let idxTypeNames: [UInt8: String] = [
        0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double",
    ]
}

/// One mirror's failure while downloading a file.
public struct DownloadAttempt: Sendable, Equatable {
    public let url: String
    public let error: DatasetError

    public init(url: String, error: DatasetError) {
        self.url = url
        self.error = error
    }
}

/// "60000×28×28"
func shape(_ dims: [Int]) -> String {
    dims.map(String.init).joined(separator: "×")
}

/// Lower-case hex, two digits per byte, no separators.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}
