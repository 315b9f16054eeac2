// The real MNIST files (../shared/datasets/mnist, or $MNIST_DIR): sizes, labels, the canonical
// first labels, and hashes that agree with the catalog.
import Datasets
import Foundation
import Testing
import TestSupport

@Suite struct RealMNISTTests {
    @Test func loadsAndVerifiesMNIST() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let log = LogRecorder()
        let locator = DatasetLocator(explicitDirectory: TestPaths.mnist, cacheDirectory: tmp("cache"),
                                     systemRoot: tmp("system"), allowDownload: false, log: log.sink)
        let mnist = try locator.load("mnist")

        #expect(mnist.name == "mnist")
        #expect(mnist.source == DataSource(directory: TestPaths.mnist, origin: .explicit))
        #expect((mnist.train.count, mnist.train.rows, mnist.train.cols) == (60000, 28, 28))
        #expect((mnist.test.count, mnist.test.rows, mnist.test.cols) == (10000, 28, 28))
        #expect([mnist.train.rows, mnist.train.cols] == Catalog.mnist.imageShape, "the catalog's image shape is the files'")
        #expect(mnist.train.pixels.count == 60000 * 784 && mnist.test.pixels.count == 10000 * 784)
        #expect(mnist.train.labels.allSatisfy { $0 < 10 } && mnist.test.labels.allSatisfy { $0 < 10 })
        #expect(Set(mnist.train.labels).count == 10)
        #expect(mnist.train.labels.first == 5)
        #expect(mnist.test.labels.first == 7)
        #expect(mnist.files.map(\.sha256) == Catalog.mnist.files.map(\.sha256))
        #expect(mnist.files.map(\.path) == Fixtures.mnistFiles.map { TestPaths.mnist + "/\($0).gz" })
        #expect(mnist.files.map(\.bytes) == [47_040_016, 60_008, 7_840_016, 10_008])
        #expect(log.text.contains("verified sha256 of 4 files"))
        #expect(listing(tmp.path).isEmpty, "nothing written to the cache")
    }

    @Test func readsTheRealImagesFileDirectly() throws {
        let array = try IDX.read(path: TestPaths.mnist + "/t10k-images-idx3-ubyte.gz")
        #expect(array.dims == [10000, 28, 28])
        #expect(array.magic == 2051)
        #expect(array.wasCompressed)
        #expect(array.sha256 == Catalog.mnist.testImages.sha256)
        // The SHA256SUMS file shipped with the data lists the same decompressed hashes.
        let sums = try String(contentsOfFile: TestPaths.mnist + "/SHA256SUMS", encoding: .utf8)
        for file in Catalog.mnist.files {
            #expect(sums.contains("\(file.sha256)  \(file.name)\n"))
        }
    }

    @Test(.enabled(if: Fixtures.hasSystemFashion, "needs Debian's dataset-fashion-mnist"))
    func loadsFashionMNISTFromTheSystemDirectory() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let locator = DatasetLocator(cacheDirectory: tmp("cache"), allowDownload: false)
        let fashion = try locator.load("fashion-mnist")
        #expect(fashion.source == DataSource(directory: Fixtures.fashionSystemDirectory, origin: .system))
        #expect(fashion.train.count == 60000 && fashion.test.count == 10000)
        #expect(fashion.classNames[Int(fashion.train.labels[0])] == "Ankle boot")
        #expect(fashion.files.map(\.sha256) == Catalog.fashionMNIST.files.map(\.sha256))
    }
}
