// The search order (explicit → cache → system → download) and the rule that whatever is found is
// verified: a wrong file is an error naming both hashes, never a reason to look elsewhere.
import Datasets
import Foundation
import Testing
import TestSupport

@Suite struct LocatorTests {
    /// A locator confined to `tmp`: no real cache, no real system directory, no downloads.
    func locator(_ tmp: TemporaryDirectory, explicit: String? = nil) -> DatasetLocator {
        DatasetLocator(explicitDirectory: explicit, cacheDirectory: tmp("cache"), systemRoot: tmp("system"),
                       mirrors: ["http://127.0.0.1:1/"], allowDownload: false)
    }

    @Test func missingExplicitDirectoryIsAnErrorNotADownload() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        var locator = locator(tmp, explicit: tmp("typo"))
        locator.allowDownload = true
        let error = #expect(throws: DatasetError.self) { try locator.load("mnist") }
        #expect(error == .directoryNotFound(path: tmp("typo")))
        #expect(error?.description.contains(tmp("typo")) == true)
        #expect(listing(tmp.path).isEmpty)
    }

    @Test func explicitDirectoryMayHoldADatasetSubdirectory() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try Fixtures.linkMNIST(into: tmp("data/mnist"))
        try Fixtures.linkMNIST(into: tmp("cache/datasets/mnist"))
        let source = try locator(tmp, explicit: tmp("data")).locate("mnist")
        #expect(source == DataSource(directory: tmp("data/mnist"), origin: .explicit))
    }

    @Test func cacheIsUsedWithoutAnExplicitDirectory() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try Fixtures.linkMNIST(into: tmp("cache/datasets/mnist"))
        try Fixtures.linkMNIST(into: tmp("system/mnist"))  // the cache comes first
        let mnist = try locator(tmp).load("mnist")
        #expect(mnist.source == DataSource(directory: tmp("cache/datasets/mnist"), origin: .cache))
        #expect(mnist.train.count == 60000)
    }

    @Test func explicitDirectoryWithoutTheFilesFallsThroughToTheCache() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try FileManager.default.createDirectory(atPath: tmp("empty"), withIntermediateDirectories: true)
        try Fixtures.linkMNIST(into: tmp("cache/datasets/mnist"))
        let source = try locator(tmp, explicit: tmp("empty")).locate("mnist")
        #expect(source.origin == .cache)
    }

    @Test func systemRootIsUsedWhenNothingElseHasTheData() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try Fixtures.linkMNIST(into: tmp("system/mnist"))
        // Three of four files in the cache do not count as having the dataset.
        try Fixtures.linkMNIST(into: tmp("cache/datasets/mnist"), skipping: ["t10k-labels-idx1-ubyte"])
        let mnist = try locator(tmp).load("mnist")
        #expect(mnist.source == DataSource(directory: tmp("system/mnist"), origin: .system))
        #expect(mnist.test.labels.first == 7)
    }

    @Test func notFoundAnywhereWithDownloadsOff() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let error = #expect(throws: DatasetError.self) { try locator(tmp).load("mnist") }
        #expect(error == .notFound(name: "mnist", searched: [tmp("cache/datasets/mnist"), tmp("system/mnist")]))
        #expect(error?.description.contains("downloading is disabled") == true)
    }

    @Test func modifiedCopyIsAChecksumErrorNamingBothHashes() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let directory = tmp("cache/datasets/mnist")
        try Fixtures.linkMNIST(into: directory, skipping: ["t10k-labels-idx1-ubyte"])
        // A well-formed labels file with one label changed, stored uncompressed.
        var labels = try Fixtures.mnistContent("t10k-labels-idx1-ubyte")
        labels[8] = 3
        try write(labels, to: directory + "/t10k-labels-idx1-ubyte")
        var locator = locator(tmp)
        locator.systemRoot = tmp("system-with-good-copy")
        try Fixtures.linkMNIST(into: tmp("system-with-good-copy/mnist"))

        let error = #expect(throws: DatasetError.self) { try locator.load("mnist") }
        let expected = Catalog.mnist.testLabels.sha256
        let found = Checksum.sha256(labels)
        #expect(error == .checksumMismatch(path: directory + "/t10k-labels-idx1-ubyte", expected: expected, found: found))
        let message = error?.description ?? ""
        #expect(message.contains(directory + "/t10k-labels-idx1-ubyte") && message.contains(expected) && message.contains(found))
    }

    @Test(.enabled(if: Fixtures.hasSystemFashion, "needs Debian's dataset-fashion-mnist"))
    func fashionFilesPresentedAsMNISTAreRejected() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let directory = tmp("data")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in Fixtures.mnistFiles {
            try FileManager.default.createSymbolicLink(atPath: directory + "/\(name).gz",
                                                       withDestinationPath: Fixtures.fashionSystemDirectory + "/\(name).gz")
        }
        let error = #expect(throws: DatasetError.self) { try locator(tmp, explicit: directory).load("mnist") }
        #expect(error == .checksumMismatch(path: directory + "/train-images-idx3-ubyte.gz",
                                           expected: Catalog.mnist.trainImages.sha256,
                                           found: Catalog.fashionMNIST.trainImages.sha256))
    }
}
