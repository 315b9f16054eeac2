// The IDX reader on hand-built files: valid plain and gzip files, and every malformed case the
// header checks exist for. Each error is compared exactly and its message must name the file.
import Datasets
import Foundation
import Testing
import TestSupport

@Suite struct IDXTests {
    let images = Fixtures.idx(dims: [2, 3, 2])  // 16-byte header + 12 pixels

    @Test func parsesPlainImagesFile() throws {
        let array = try IDX.parse(bytes: images, name: "tiny-images")
        #expect(array.dims == [2, 3, 2])
        #expect(array.bytes == Array(images[16...]))
        #expect(array.magic == IDX.imagesMagic)
        #expect(array.wasCompressed == false)
        #expect(array.sha256 == Checksum.sha256(images))
    }

    @Test func gzipAndPlainGiveTheSameContentAndHash() throws {
        let plain = try IDX.parse(bytes: images, name: "tiny")
        let compressed = Gzip.compress(images)
        #expect(Gzip.isGzip(compressed))
        let unzipped = try IDX.parse(bytes: compressed, name: "tiny.gz")
        #expect(unzipped.wasCompressed)
        #expect(unzipped.dims == plain.dims)
        #expect(unzipped.bytes == plain.bytes)
        // The hash is of the decompressed bytes, so it does not depend on the wrapper.
        #expect(unzipped.sha256 == plain.sha256)
    }

    @Test func readsFilesFromDiskPlainAndGzip() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let labels = Fixtures.idx(dims: [5], values: [0, 1, 2, 3, 9])
        try write(labels, to: tmp("labels"))
        try write(Gzip.compress(labels), to: tmp("labels.gz"))
        // Compression is detected by content: a gzip file without .gz is still decompressed.
        try write(Gzip.compress(labels), to: tmp("labels-no-extension"))
        for name in ["labels", "labels.gz", "labels-no-extension"] {
            let array = try IDX.read(path: tmp(name))
            #expect(array.dims == [5])
            #expect(array.bytes == [0, 1, 2, 3, 9])
            #expect(array.magic == IDX.labelsMagic)
            #expect(array.source == tmp(name))
        }
    }

    @Test func concatenatedGzipMembersAreOneStream() throws {
        let half = images.count / 2
        let twoMembers = Gzip.compress(Array(images[..<half])) + Gzip.compress(Array(images[half...]))
        #expect(try Gzip.decompress(twoMembers, name: "two") == images)
    }

    @Test func largeContentRoundTripsThroughGzip() throws {
        // Bigger than the decompressor's first buffer guess when ISIZE is ignored, and incompressible.
        var state: UInt32 = 12345
        let noise = (0..<300_000).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        #expect(try Gzip.decompress(Gzip.compress(noise, level: 1), name: "noise") == noise)
        #expect(try Gzip.decompress(Gzip.compress([]), name: "empty") == [])
    }

    @Test func truncatedFile() {
        let cut = Array(images.prefix(20))
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: cut, name: "tiny-images") }
        #expect(error == .truncated(path: "tiny-images", dims: [2, 3, 2], expected: 28, actual: 20))
        #expect(error?.description.contains("tiny-images") == true)
    }

    @Test func truncatedMessageReadsAsInTheSpecification() throws {
        let header = Fixtures.idx(dims: [60000, 28, 28], values: [])
        let file = Gzip.compress(header + [UInt8](repeating: 0, count: 1000 - header.count))
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: file, name: "train-images-idx3-ubyte.gz") }
        #expect(error?.description == "train-images-idx3-ubyte.gz: truncated: header says 60000×28×28 images = "
            + "47040016 bytes, file has 1000 bytes after decompression")
    }

    @Test func extraBytesAfterTheData() {
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: images + [1, 2, 3], name: "tiny-images") }
        #expect(error == .trailingBytes(path: "tiny-images", dims: [2, 3, 2], expected: 28, actual: 31))
        #expect(error?.description.contains("tiny-images: 3 extra bytes") == true)
    }

    @Test func wrongMagic() {
        var bad = images
        bad[0] = 0x12
        bad[1] = 0x34
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: bad, name: "bad-magic") }
        #expect(error == .badMagic(path: "bad-magic", found: [0x12, 0x34, 0x08, 0x03]))
        #expect(error?.description.contains("bad-magic") == true)
        #expect(error?.description.contains("12 34 08 03") == true)
    }

    @Test func wrongTypeCodeIsNamed() {
        let floats = Fixtures.idx(type: 0x0D, dims: [2, 3, 2])
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: floats, name: "floats.idx") }
        #expect(error == .unsupportedType(path: "floats.idx", code: 0x0D))
        #expect(error?.description.contains("floats.idx") == true)
        #expect(error?.description.contains("0x0D (float)") == true)
    }

    @Test(arguments: [0, 5, 255])
    func dimensionCountOutsideOneToFour(rank: Int) {
        var bytes: [UInt8] = [0, 0, 8, UInt8(rank)]
        bytes += [UInt8](repeating: 1, count: 4 * min(rank, 5) + 1)
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: bytes, name: "rank-\(rank)") }
        #expect(error == .badDimensionCount(path: "rank-\(rank)", count: rank))
        #expect(error?.description.contains("rank-\(rank)") == true)
    }

    @Test func headerCutInsideTheDimensions() {
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: Array(images.prefix(10)), name: "short-header") }
        #expect(error == .headerTooShort(path: "short-header", needed: 16, actual: 10))
        #expect(error?.description.contains("short-header") == true)
    }

    @Test func emptyFile() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        try write([], to: tmp("empty-idx1-ubyte"))
        let error = #expect(throws: DatasetError.self) { try IDX.read(path: tmp("empty-idx1-ubyte")) }
        #expect(error == .headerTooShort(path: tmp("empty-idx1-ubyte"), needed: 4, actual: 0))
        #expect(error?.description.contains("empty-idx1-ubyte: file is empty") == true)
    }

    @Test func hugeDimensionsDoNotOverflow() {
        let header: [UInt8] = [0, 0, 8, 4] + [UInt8](repeating: 0xFF, count: 16)
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: header, name: "huge") }
        let big = Int(UInt32.max)
        #expect(error == .sizeOverflow(path: "huge", dims: [big, big, big, big]))
        #expect(error?.description.contains("huge") == true)
    }

    @Test func corruptGzipStream() {
        var gz = Gzip.compress(Fixtures.idx(dims: [50, 10, 10]))
        for i in 12..<(gz.count - 8) { gz[i] ^= 0x5A }  // damage the deflate data, keep the header
        let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: gz, name: "damaged.gz") }
        guard case .corruptGzip(let path, _) = error else {
            Issue.record("expected corruptGzip, got \(String(describing: error))")
            return
        }
        #expect(path == "damaged.gz")
        #expect(error?.description.contains("damaged.gz: corrupt gzip data") == true)
    }

    @Test func everyPrefixOfAValidFileIsRejected() {
        // No prefix traps or passes: plain prefixes fail the header/size checks, gzip prefixes the
        // gzip checks (a gzip stream is only complete with its 8-byte trailer).
        let gz = Gzip.compress(images)
        for n in 0..<images.count {
            #expect(throws: DatasetError.self, "plain prefix \(n)") { try IDX.parse(bytes: Array(images.prefix(n)), name: "p") }
        }
        for n in 2..<gz.count {
            let error = #expect(throws: DatasetError.self) { try IDX.parse(bytes: Array(gz.prefix(n)), name: "g") }
            guard case .corruptGzip = error else {
                Issue.record("gzip prefix \(n): \(String(describing: error))")
                continue
            }
        }
    }

    @Test func gzipWithTrailingGarbage() {
        let error = #expect(throws: DatasetError.self) { try Gzip.decompress(Gzip.compress(images) + [0x41, 0x42], name: "tail.gz") }
        #expect(error == .corruptGzip(path: "tail.gz", reason: "2 bytes of trailing garbage after the gzip stream"))
    }

    @Test func notGzipAtAll() {
        let error = #expect(throws: DatasetError.self) { try Gzip.decompress(Array("<html>".utf8), name: "page.gz") }
        #expect(error == .corruptGzip(path: "page.gz", reason: "not gzip (starts with 3c 68 74 6d, not 1f 8b)"))
    }

    @Test func missingFile() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let error = #expect(throws: DatasetError.self) { try IDX.read(path: tmp("absent.gz")) }
        guard case .unreadable(let path, _) = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
        #expect(path == tmp("absent.gz"))
        let directory = #expect(throws: DatasetError.self) { try IDX.read(path: tmp.path) }
        #expect(directory == .unreadable(path: tmp.path, reason: "is a directory"))
    }
}

@Suite struct ImageSetTests {
    func array(_ bytes: [UInt8], _ name: String) throws -> IDXArray {
        try IDX.parse(bytes: bytes, name: name)
    }

    @Test func pairsImagesWithLabels() throws {
        let set = try ImageSet(images: array(Fixtures.idx(dims: [3, 2, 2]), "img"),
                               labels: array(Fixtures.idx(dims: [3], values: [4, 0, 9]), "lbl"), classCount: 10)
        #expect(set.count == 3)
        #expect(set.rows == 2 && set.cols == 2 && set.imageSize == 4)
        #expect(set.pixels.count == 12)
        #expect(set.labels == [4, 0, 9])
    }

    @Test func imageAndLabelCountsMustAgree() throws {
        let error = #expect(throws: DatasetError.self) {
            try ImageSet(images: array(Fixtures.idx(dims: [3, 2, 2]), "imgs-idx3"),
                         labels: array(Fixtures.idx(dims: [4], values: [1, 2, 3, 4]), "lbls-idx1"), classCount: 10)
        }
        #expect(error == .countMismatch(imagesPath: "imgs-idx3", images: 3, labelsPath: "lbls-idx1", labels: 4))
        #expect(error?.description == "imgs-idx3 has 3 images but lbls-idx1 has 4 labels")
    }

    @Test func labelsMustBeClassIndices() throws {
        let error = #expect(throws: DatasetError.self) {
            try ImageSet(images: array(Fixtures.idx(dims: [3, 2, 2]), "imgs"),
                         labels: array(Fixtures.idx(dims: [3], values: [1, 10, 2]), "lbls"), classCount: 10)
        }
        #expect(error == .labelOutOfRange(path: "lbls", index: 1, label: 10, classCount: 10))
        #expect(error?.description.contains("lbls") == true)
    }

    @Test func swappedFilesAreRecognised() throws {
        let labels = try array(Fixtures.idx(dims: [3], values: [1, 2, 3]), "lbls")
        let images = try array(Fixtures.idx(dims: [3, 2, 2]), "imgs")
        let error = #expect(throws: DatasetError.self) { try ImageSet(images: labels, labels: images, classCount: 10) }
        guard case .wrongShape(let path, _, let dims) = error else {
            Issue.record("expected wrongShape, got \(String(describing: error))")
            return
        }
        #expect(path == "lbls" && dims == [3])
        #expect(error?.description.contains("lbls") == true)
    }
}
