// Downloads against a local mirror (python3 -m http.server on 127.0.0.1): success and reuse of the
// cache, fallback between mirrors, and failures that must leave nothing behind in the cache.
import Datasets
import Foundation
import Testing
import TestSupport

@Suite struct DownloadTests {
    /// A locator whose only possible source is a download into `tmp/cache`.
    func locator(_ tmp: TemporaryDirectory, mirrors: [String], log: LogRecorder = LogRecorder()) -> DatasetLocator {
        DatasetLocator(cacheDirectory: tmp("cache"), systemRoot: tmp("system"), mirrors: mirrors,
                       allowDownload: true, downloadTimeout: 30, log: log.sink)
    }

    @Test func downloadsVerifiesAndThenUsesTheCache() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try Fixtures.linkMNIST(into: tmp("www/mnist"))
        let server = try LocalHTTPServer(directory: tmp("www"))
        let log = LogRecorder()
        let mnist: Dataset
        do {
            defer { server.stop() }
            mnist = try locator(tmp, mirrors: [server.baseURL + "mnist/"], log: log).load("mnist")
        }
        let cache = tmp("cache/datasets/mnist")
        #expect(mnist.source == DataSource(directory: cache, origin: .downloaded))
        #expect(mnist.train.count == 60000 && mnist.test.labels.first == 7)
        #expect(listing(cache) == Fixtures.mnistFiles.map { "\($0).gz" }.sorted())
        #expect(log.lines.filter { $0.hasPrefix("downloading \(server.baseURL)mnist/") }.count == 4)
        #expect(log.text.contains("verified sha256 \(Catalog.mnist.trainImages.sha256)"))

        // The server is gone: a second load must come from the cache.
        let again = try locator(tmp, mirrors: [server.baseURL + "mnist/"]).load("mnist")
        #expect(again.source == DataSource(directory: cache, origin: .cache))
        #expect(again.files.map(\.sha256) == Catalog.mnist.files.map(\.sha256))
    }

    @Test func fallsBackToTheNextMirrorAfterA404() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try Fixtures.linkMNIST(into: tmp("www/good"))
        let server = try LocalHTTPServer(directory: tmp("www"))
        defer { server.stop() }
        let log = LogRecorder()
        let mnist = try locator(tmp, mirrors: [server.baseURL + "missing/", server.baseURL + "good/"], log: log).load("mnist")
        #expect(mnist.source.origin == .downloaded)
        #expect(log.lines.filter { $0.contains("failed: HTTP status 404") }.count == 4)
        #expect(listing(tmp("cache/datasets/mnist")).count == 4)
    }

    @Test func resumesAPartiallyFilledCache() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try Fixtures.linkMNIST(into: tmp("cache/datasets/mnist"), skipping: ["train-labels-idx1-ubyte"])
        try Fixtures.linkMNIST(into: tmp("www"), skipping: Set(Fixtures.mnistFiles).subtracting(["train-labels-idx1-ubyte"]))
        let server = try LocalHTTPServer(directory: tmp("www"))
        defer { server.stop() }
        let log = LogRecorder()
        let mnist = try locator(tmp, mirrors: [server.baseURL], log: log).load("mnist")
        #expect(mnist.source.origin == .downloaded)
        #expect(log.lines.filter { $0.hasPrefix("downloading") } == ["downloading \(server.baseURL)train-labels-idx1-ubyte.gz …"])
        #expect(mnist.train.labels.first == 5)
    }

    @Test func wrongContentIsRejectedAndLeavesNothingInTheCache() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        // A valid gzip of a valid labels file, just not MNIST's.
        let impostor = Fixtures.idx(dims: [60000], values: [UInt8](repeating: 1, count: 60000))
        try Fixtures.linkMNIST(into: tmp("www"), skipping: ["train-labels-idx1-ubyte"])
        try write(Gzip.compress(impostor), to: tmp("www/train-labels-idx1-ubyte.gz"))
        let server = try LocalHTTPServer(directory: tmp("www"))
        defer { server.stop() }

        let error = #expect(throws: DatasetError.self) { try locator(tmp, mirrors: [server.baseURL]).load("mnist") }
        let url = server.baseURL + "train-labels-idx1-ubyte.gz"
        let expected = Catalog.mnist.trainLabels.sha256
        let found = Checksum.sha256(impostor)
        #expect(error == .downloadFailed(file: "train-labels-idx1-ubyte", attempts: [
            DownloadAttempt(url: url, error: .checksumMismatch(path: url, expected: expected, found: found)),
        ]))
        let message = error?.description ?? ""
        #expect(message.contains("train-labels-idx1-ubyte") && message.contains(expected) && message.contains(found))
        // Only the file downloaded before the failure, verified; no temporary or partial files.
        #expect(listing(tmp("cache/datasets/mnist")) == ["train-images-idx3-ubyte.gz"])
    }

    @Test func everyMirrorFailingIsReportedPerURL() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let file = "train-images-idx3-ubyte.gz"
        try write(Array("<html>maintenance</html>".utf8), to: tmp("www/html/" + file))
        try write(Gzip.compress(Fixtures.idx(dims: [1, 28, 28])), to: tmp("www/wrong/" + file))
        let server = try LocalHTTPServer(directory: tmp("www"))
        defer { server.stop() }
        let mirrors = ["http://127.0.0.1:1/", server.baseURL + "missing/", server.baseURL + "html/", server.baseURL + "wrong/"]

        let error = #expect(throws: DatasetError.self) { try locator(tmp, mirrors: mirrors).load("mnist") }
        guard case .downloadFailed(let name, let attempts) = error, attempts.count == 4 else {
            Issue.record("expected 4 failed attempts, got \(String(describing: error))")
            return
        }
        #expect(name == "train-images-idx3-ubyte")
        #expect(attempts.map(\.url) == mirrors.map { $0 + file })
        if case .network = attempts[0].error {} else { Issue.record("refused connection: \(attempts[0].error)") }
        #expect(attempts[1].error == .httpStatus(url: mirrors[1] + file, status: 404))
        if case .corruptGzip = attempts[2].error {} else { Issue.record("HTML page: \(attempts[2].error)") }
        #expect(attempts[3].error == .checksumMismatch(path: mirrors[3] + file, expected: Catalog.mnist.trainImages.sha256,
                                                       found: Checksum.sha256(Fixtures.idx(dims: [1, 28, 28]))))
        let message = error?.description ?? ""
        #expect(mirrors.allSatisfy { message.contains($0 + file) })
        #expect(listing(tmp("cache")).isEmpty)
    }
}
