// report-data.bin: an exact round trip (probabilities bit for bit, digits byte for byte), and every
// way a file can be unusable rejected with the file and the reason — truncated, a changed byte, a
// checkpoint passed instead, a newer format, tensors that do not fit the header — like checkpoints.
// Checkpoints themselves keep their bytes: no "dtype" key for Float32 tensors.
import Datasets
import Experiments
import Foundation
import Testing
import TestSupport
import Training

@Suite("report-data.bin")
struct ReportDataTests {
    /// Three 2×2 training digits, 5 test images of 3 classes, 2 mistakes, one augmented digit.
    func sample() -> ReportData {
        var data = ReportData(header: .init(runID: "run-1", classNames: ["a", "b", "c"], imageShape: [2, 2],
                                            trainClassCounts: [4, 5, 6], validationClassCounts: nil,
                                            trainingSamples: [0, 3, 7], testFirst: 2),
                              trainImages: (0..<12).map { UInt8($0 * 20) })
        let probabilities: [Float] = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4, 0.5, 0.25, 0.25, .ulpOfOne, 1 - .ulpOfOne, 0]
        data.test = ReportData.Test(labels: [0, 1, 2, 1, 0], probabilities: probabilities,
                                    first: [1, 2, 3, 4, 5, 6, 7, 8], mistakes: [9, 9, 9, 9, 255, 0, 255, 0])
        data.header.mistakes = [3, 4]
        data.header.mistakesTotal = 2
        data.header.augmentation = .init(indices: [3], epochs: [0, 1])
        data.augmentOriginal = [10, 20, 30, 40]
        data.augmentWarped = [1, 2, 3, 4, 5, 6, 7, 8]
        return data
    }

    @Test("a written file reads back exactly, and names its predictions and digits")
    func roundTrip() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let data = sample(), path = scratch("report-data.bin")
        try data.write(to: path)
        let read = try ReportData.read(path)
        #expect(read.header.trainingSamples == [0, 3, 7] && read.header.mistakes == [3, 4])
        #expect(read.trainImages == data.trainImages)
        #expect(read.test?.labels == data.test?.labels)
        #expect(read.test?.probabilities.map(\.bitPattern) == data.test?.probabilities.map(\.bitPattern))
        #expect(read.test?.first == data.test?.first && read.test?.mistakes == data.test?.mistakes)
        #expect(read.augmentOriginal == data.augmentOriginal && read.augmentWarped == data.augmentWarped)
        #expect(read.predicted(0) == 0 && read.predicted(3) == 0 && read.predicted(4) == 1)
        #expect(read.testImage(1) == [5, 6, 7, 8])
        #expect(read.testImage(4) == [255, 0, 255, 0])
        #expect(read.testImage(2) == nil)
        // The same data gives the same bytes.
        try data.write(to: scratch("again.bin"))
        #expect(try FileIO.read(path) == FileIO.read(scratch("again.bin")))
        let bytes = try FileIO.read(path)
        #expect(Array(bytes.prefix(8)) == Array("MNISTRPD".utf8))
    }

    /// Reading `bytes` fails with a report-data error of `kind` whose text holds `words`.
    func rejects(_ bytes: [UInt8], _ kind: CheckpointError.Kind, _ words: String, scratch: TemporaryDirectory,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let path = scratch("bad-\(UUID().uuidString).bin")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ReportData.read(path)
            Issue.record("read a bad file", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("error: report data \(path): "), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(words), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("truncated, changed, foreign, future and ill-fitting files are rejected with the reason")
    func corrupt() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let path = scratch("report-data.bin")
        try sample().write(to: path)
        let bytes = try FileIO.read(path)
        try rejects([], .notACheckpoint, "empty", scratch: scratch)
        try rejects(Array(bytes.prefix(bytes.count - 40)), .truncated, "bytes where its lengths say", scratch: scratch)
        try rejects(Array(bytes.prefix(20)), .truncated, "shorter than the 24-byte prefix", scratch: scratch)
        try rejects(bytes + [0], .corrupt, "1 bytes after the end", scratch: scratch)
        var flipped = bytes
        flipped[bytes.count - 60] ^= 0x01
        try rejects(flipped, .corrupt, "SHA-256 mismatch", scratch: scratch)
        var future = bytes
        future[8] = 9
        try rejects(future, .futureVersion, "format 9", scratch: scratch)
        var checkpoint = bytes
        checkpoint.replaceSubrange(0..<8, with: Array("MNISTCKP".utf8))
        try rejects(checkpoint, .notACheckpoint, "does not start with \"MNISTRPD\"", scratch: scratch)

        // A well-sealed file whose tensors do not fit its header: 3 training samples, 2 images.
        var header = sample().header
        header.mistakes = nil
        header.augmentation = nil
        header.tensors = [CheckpointTensor(name: "train/images", shape: [2, 2, 2], dtype: .uint8)]
        let misfit = scratch("misfit.bin")
        try CheckpointFile<ReportData.Header>.write(header: header, values: [.uint8([UInt8](repeating: 1, count: 8))], to: misfit)
        try rejects(try FileIO.read(misfit), .corrupt, "tensor 'train/images' is [2, 2, 2], not [3, 2, 2]", scratch: scratch)
        // The right tensor, read as the wrong type.
        let file = try CheckpointFile<ReportData.Header>(path: path)
        #expect(throws: CheckpointError.self) { try file.floatValues("train/images") }
        #expect(throws: CheckpointError.self) { try file.byteValues("no/such/tensor") }
    }

    @Test("Float32 tensors add no dtype key: checkpoints keep the bytes they had")
    func checkpointBytes() throws {
        let float = try JSONEncoder().encode(CheckpointTensor(name: "parameters/dense/kernel", shape: [2, 3]))
        #expect(String(decoding: float, as: UTF8.self).contains("dtype") == false)
        let explicit = CheckpointTensor(name: "x", shape: [1], dtype: .float32)
        #expect(explicit.dtype == nil && explicit.elementType == .float32)
        let bytes = try JSONEncoder().encode(CheckpointTensor(name: "images", shape: [1], dtype: .uint8))
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"dtype\":\"uint8\""))
    }
}
