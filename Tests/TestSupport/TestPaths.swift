// Where the tests find the package's own files and the real MNIST files.
import Foundation

public enum TestPaths {
    /// The package root, three levels above this file (Tests/TestSupport/TestPaths.swift).
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The real MNIST files: `$MNIST_DIR`, else `../shared/datasets/mnist` next to the package.
    public static let mnist: String = {
        if let dir = ProcessInfo.processInfo.environment["MNIST_DIR"], !dir.isEmpty { return dir }
        return root.appendingPathComponent("../shared/datasets/mnist").standardizedFileURL.path
    }()

    /// Whether the MNIST files are there (tests that train on them are skipped otherwise).
    public static let hasMNIST = FileManager.default.fileExists(atPath: mnist + "/train-images-idx3-ubyte.gz")

    /// The text and path of a file of the package's experiments/ folder ("mlp.yaml").
    public static func experiment(_ name: String) throws -> (text: String, path: String) {
        let url = root.appendingPathComponent("experiments/\(name)")
        return (try String(contentsOf: url, encoding: .utf8), url.path)
    }
}
