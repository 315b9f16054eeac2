// The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a big-endian header —
// two zero bytes, a type code, a dimension count n, then n 32-bit dimensions — followed by the
// values. Like llm.c's dataloader, everything in the header is checked before the data is trusted.

/// The content of one IDX file of unsigned bytes.
public struct IDXArray: Sendable {
    /// The dimensions from the header, outermost first: (count, rows, cols) for images, (count) for labels.
    public let dims: [Int]
    /// product(dims) values, row-major, without the header.
    public let bytes: [UInt8]
    /// SHA-256 (hex) of the whole decompressed file, header included — what the catalog lists.
    public let sha256: String
    /// The path or name the bytes came from, used in error messages.
    public let source: String
    /// Whether the file was gzip-compressed (decided by its magic bytes 1f 8b, not by its name).
    public let wasCompressed: Bool

    /// The IDX magic as a number, e.g. 2051 (0x00000803) for images, 2049 for labels.
    public var magic: Int { 0x0800 + dims.count }
}

/// Reading IDX files.
public enum IDX {
    /// The only supported element type: unsigned byte.
    public static let unsignedByte: UInt8 = 0x08
    /// Magic number of an images file (type 0x08, 3 dimensions).
    public static let imagesMagic = 2051
    /// Magic number of a labels file (type 0x08, 1 dimension).
    public static let labelsMagic = 2049

    /// Reads an IDX file, plain or gzip-compressed. Whether it is compressed is decided by the
    /// gzip magic bytes, so a plain file named `.gz` (or the reverse) is still read correctly.
    public static func read(path: String) throws(DatasetError) -> IDXArray {
        try parse(bytes: FileIO.read(path), name: path)
    }

    /// Parses the bytes of an IDX file, gzip-compressed or not. `name` appears in error messages.
    public static func parse(bytes: [UInt8], name: String) throws(DatasetError) -> IDXArray {
        let (content, compressed) = try decompressIfNeeded(bytes, name: name)
        return try parseDecompressed(content, name: name, sha256: Checksum.sha256(content), compressed: compressed)
    }

    static func decompressIfNeeded(_ bytes: [UInt8], name: String) throws(DatasetError) -> (bytes: [UInt8], compressed: Bool) {
        Gzip.isGzip(bytes) ? (try Gzip.decompress(bytes, name: name), true) : (bytes, false)
    }

    /// Checks the header of decompressed IDX bytes and splits off the values.
    static func parseDecompressed(_ content: [UInt8], name: String, sha256: String,
                                  compressed: Bool) throws(DatasetError) -> IDXArray {
        guard content.count >= 4 else { throw .headerTooShort(path: name, needed: 4, actual: content.count) }
        guard content[0] == 0, content[1] == 0 else { throw .badMagic(path: name, found: Array(content[0..<4])) }
        guard content[2] == unsignedByte else { throw .unsupportedType(path: name, code: content[2]) }
        let rank = Int(content[3])
        guard (1...4).contains(rank) else { throw .badDimensionCount(path: name, count: rank) }
        let headerSize = 4 + 4 * rank
        guard content.count >= headerSize else {
            throw .headerTooShort(path: name, needed: headerSize, actual: content.count)
        }
        var dims: [Int] = []
        for d in 0..<rank {
            let at = 4 + 4 * d
            dims.append(Int(content[at]) << 24 | Int(content[at + 1]) << 16 | Int(content[at + 2]) << 8 | Int(content[at + 3]))
        }
        // Four dimensions of up to 2^32 - 1 each can overflow Int: check rather than trap.
        var expected = headerSize
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .sizeOverflow(path: name, dims: dims) }
            count = product
        }
        let (total, overflow) = expected.addingReportingOverflow(count)
        guard !overflow else { throw .sizeOverflow(path: name, dims: dims) }
        expected = total
        guard content.count >= expected else {
            throw .truncated(path: name, dims: dims, expected: expected, actual: content.count)
        }
        guard content.count == expected else {
            throw .trailingBytes(path: name, dims: dims, expected: expected, actual: content.count)
        }
        return IDXArray(dims: dims, bytes: Array(content[headerSize...]), sha256: sha256, source: name,
                        wasCompressed: compressed)
    }
}
