// The datasets the runner knows: file names, the SHA-256 of each decompressed file, class names
// and download mirrors. The checksums are of decompressed bytes because mirrors re-compress.

/// One file of a catalog dataset.
public struct CatalogFile: Sendable, Equatable {
    /// Name without extension; on disk it is `<name>.gz` or `<name>`.
    public let name: String
    /// SHA-256 (hex) of the decompressed file.
    public let sha256: String

    public init(name: String, sha256: String) {
        self.name = name
        self.sha256 = sha256
    }
}

/// A dataset in the catalog.
public struct CatalogEntry: Sendable {
    public let name: String
    public let classNames: [String]
    /// Rows and columns of every image (one channel).
    public let imageShape: [Int]
    public let trainImages: CatalogFile
    public let trainLabels: CatalogFile
    public let testImages: CatalogFile
    public let testLabels: CatalogFile
    /// Base URLs, tried in order; a file's URL is base + name + ".gz".
    public let mirrors: [String]

    /// The four files in load order: train images, train labels, test images, test labels.
    public var files: [CatalogFile] { [trainImages, trainLabels, testImages, testLabels] }
}

/// The known datasets.
public enum Catalog {
    /// MNIST handwritten digits. Mirrors in torchvision's order.
    public static let mnist = CatalogEntry(
        name: "mnist",
        classNames: (0...9).map(String.init),
        imageShape: [28, 28],
        trainImages: CatalogFile(name: "train-images-idx3-ubyte",
                                 sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        trainLabels: CatalogFile(name: "train-labels-idx1-ubyte",
                                 sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        testImages: CatalogFile(name: "t10k-images-idx3-ubyte",
                                sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        testLabels: CatalogFile(name: "t10k-labels-idx1-ubyte",
                                sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        mirrors: [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ])

    /// Zalando's Fashion-MNIST: same format and sizes as MNIST, ten kinds of clothing.
    public static let fashionMNIST = CatalogEntry(
        name: "fashion-mnist",
        classNames: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        imageShape: [28, 28],
        trainImages: CatalogFile(name: "train-images-idx3-ubyte",
                                 sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        trainLabels: CatalogFile(name: "train-labels-idx1-ubyte",
                                 sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        testImages: CatalogFile(name: "t10k-images-idx3-ubyte",
                                sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        testLabels: CatalogFile(name: "t10k-labels-idx1-ubyte",
                                sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        mirrors: [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ])

    public static let entries: [CatalogEntry] = [mnist, fashionMNIST]

    /// The names accepted by `entry(named:)`, for help texts and error messages.
    public static let knownNames: [String] = entries.map(\.name)

    /// The entry called `name` (exact match); otherwise an error listing the known names and,
    /// when one is close, suggesting it.
    public static func entry(named name: String) throws(DatasetError) -> CatalogEntry {
        if let entry = entries.first(where: { $0.name == name }) { return entry }
        throw .unknownDataset(name: name, known: knownNames, suggestion: nearest(to: name, in: knownNames))
    }

    /// The candidate with the smallest edit distance to `name` (case-insensitive), if that
    /// distance is small enough to be a typo: at most 2, or a third of the name's length.
    static func nearest(to name: String, in candidates: [String]) -> String? {
        let lowered = name.lowercased()
        let scored = candidates.map { (name: $0, distance: levenshtein(lowered, $0.lowercased())) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        return best.distance <= max(2, name.count / 3) ? best.name : nil
    }

    /// Edit distance (insertions, deletions, substitutions), one row at a time.
    static func levenshtein(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
