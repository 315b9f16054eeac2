// What the rest of the runner sees of a dataset: two splits of UInt8 images with labels, and the
// provenance (where the files were found, their verified hashes) that run records report.

/// Images and labels of one split. Pixels stay UInt8 (one byte per pixel in memory); batches are
/// converted to Float when they are used.
public struct ImageSet: Sendable {
    public let count: Int
    public let rows: Int
    public let cols: Int
    /// count × rows × cols values, row-major, image after image.
    public let pixels: [UInt8]
    /// One class index per image.
    public let labels: [UInt8]
    /// rows × cols, the length of one image in `pixels`.
    public var imageSize: Int { rows * cols }

    /// Wraps arrays whose sizes the caller guarantees; use `init(images:labels:classCount:)` for
    /// data read from files.
    public init(count: Int, rows: Int, cols: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(count >= 0 && rows >= 0 && cols >= 0, "negative ImageSet size")
        precondition(pixels.count == count * rows * cols,
                     "ImageSet: \(pixels.count) pixels for \(count)×\(rows)×\(cols) images")
        precondition(labels.count == count, "ImageSet: \(labels.count) labels for \(count) images")
        self.count = count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
        self.labels = labels
    }

    /// Pairs an images file (3 dimensions) with a labels file (1 dimension), checking that they
    /// have the same count and every label is below `classCount`.
    public init(images: IDXArray, labels: IDXArray, classCount: Int) throws(DatasetError) {
        guard images.dims.count == 3 else {
            throw .wrongShape(path: images.source, expected: "an images file (3 dimensions: count×rows×cols)", dims: images.dims)
        }
        guard labels.dims.count == 1 else {
            throw .wrongShape(path: labels.source, expected: "a labels file (1 dimension: count)", dims: labels.dims)
        }
        guard images.dims[0] == labels.dims[0] else {
            throw .countMismatch(imagesPath: images.source, images: images.dims[0],
                                 labelsPath: labels.source, labels: labels.dims[0])
        }
        if let index = labels.bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw .labelOutOfRange(path: labels.source, index: index, label: Int(labels.bytes[index]), classCount: classCount)
        }
        self.init(count: images.dims[0], rows: images.dims[1], cols: images.dims[2],
                  pixels: images.bytes, labels: labels.bytes)
    }
}

/// A dataset loaded and verified against the catalog.
public struct Dataset: Sendable {
    /// The catalog name: "mnist" or "fashion-mnist".
    public let name: String
    /// Class index → human name ("0"…"9" for MNIST, "T-shirt/top"… for Fashion-MNIST).
    public let classNames: [String]
    public let train: ImageSet
    public let test: ImageSet
    /// Where the files were found.
    public let source: DataSource
    /// The four files in catalog order: train images, train labels, test images, test labels.
    public let files: [VerifiedFile]

    public init(name: String, classNames: [String], train: ImageSet, test: ImageSet, source: DataSource,
                files: [VerifiedFile]) {
        self.name = name
        self.classNames = classNames
        self.train = train
        self.test = test
        self.source = source
        self.files = files
    }
}

/// The directory a dataset was loaded from and how it was found.
public struct DataSource: Sendable, Codable, Equatable {
    /// How the directory was found, in search order. Raw values are what reports print.
    public enum Origin: String, Sendable, Codable, Equatable {
        /// The data directory given by the user.
        case explicit
        /// The runner's cache, `<cache>/datasets/<name>/`.
        case cache
        /// A system-wide install, e.g. Debian's `/usr/share/datasets/<name>/`.
        case system
        /// Downloaded into the cache by this load.
        case downloaded
    }

    public let directory: String
    public let origin: Origin

    public init(directory: String, origin: Origin) {
        self.directory = directory
        self.origin = origin
    }
}

/// One file that matched the catalog's checksum.
public struct VerifiedFile: Sendable, Codable, Equatable {
    /// The catalog name without extension, e.g. "train-images-idx3-ubyte".
    public let name: String
    /// The path actually read (`.gz` or plain).
    public let path: String
    /// SHA-256 (hex) of the decompressed content.
    public let sha256: String
    /// Size of the decompressed content in bytes, header included.
    public let bytes: Int

    public init(name: String, path: String, sha256: String, bytes: Int) {
        self.name = name
        self.path = path
        self.sha256 = sha256
        self.bytes = bytes
    }
}
