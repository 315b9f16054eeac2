// report-data.bin: what a run's pictures need that report.json does not hold — the test set's
// predicted probabilities and the digits the report shows — so that `runner report` rebuilds
// report.html byte for byte from the run folder alone, and comparison.html can show the digits on
// which two runs disagree (each a mistake of one of them, so in the union of their mistakes).
//
// The file is the checkpoint container (Training/Checkpoint.swift: magic, version, lengths, JSON
// header, tensors, SHA-256; written atomically; wholly trusted or rejected) with the magic
// "MNISTRPD". Its header's keys (format 1):
//     kind                     "report-data"
//     run_id, class_names, image_shape ([rows, cols])
//     train_class_counts       images per class of the training split (validation_class_counts:
//                              of the validation split, null without one)
//     training_samples         indices (in the dataset's training file) of the digits in
//                              "train/images": the first 10 of each class in the training split
//     test_first               how many of the first test digits "test/first" holds
//     mistakes                 test indices of the digits in "test/mistakes": the test mistakes,
//                              most confident first, at most 1,000 (null before the test)
//     mistakes_total           how many mistakes there are in all
//     augmentation             {indices, epochs}: the training digits of "augment/original" and
//                              the epochs whose warps "augment/warped" holds (null without augment)
//     tensors                  train/images, test/labels, test/probabilities (float32, N × classes),
//                              test/first, test/mistakes, augment/original, augment/warped: uint8
//                              images (row-major, MNIST's white on black) unless stated
// For MNIST: 400,000 bytes of probabilities (float32, exact), 10,000 labels, about 0.3 MB of
// digits for a 98% model; 1.2 MB at most.
import Foundation
import Training

public struct ReportData: Sendable {
    public struct Augmented: Codable, Sendable, Equatable {
        /// Indices in the dataset's training file.
        public var indices: [Int]
        /// The epochs (from 0) each digit's warp is shown for.
        public var epochs: [Int]

        public init(indices: [Int], epochs: [Int]) {
            self.indices = indices
            self.epochs = epochs
        }
    }

    public struct Header: CheckpointHeader, Sendable {
        public static var magic: [UInt8] { Array("MNISTRPD".utf8) }
        public static var fileKind: String { "report data" }

        public var kind = "report-data"
        public var runID: String
        public var classNames: [String]
        public var imageShape: [Int]
        public var trainClassCounts: [Int]
        public var validationClassCounts: [Int]?
        public var trainingSamples: [Int]
        public var testFirst: Int
        public var mistakes: [Int]?
        public var mistakesTotal: Int?
        public var augmentation: Augmented?
        public var tensors: [CheckpointTensor] = []

        public init(runID: String, classNames: [String], imageShape: [Int], trainClassCounts: [Int],
                    validationClassCounts: [Int]?, trainingSamples: [Int], testFirst: Int) {
            self.runID = runID
            self.classNames = classNames
            self.imageShape = imageShape
            self.trainClassCounts = trainClassCounts
            self.validationClassCounts = validationClassCounts
            self.trainingSamples = trainingSamples
            self.testFirst = testFirst
        }
        enum CodingKeys: String, CodingKey {
            case kind, runID = "run_id", classNames = "class_names", imageShape = "image_shape"
            case trainClassCounts = "train_class_counts", validationClassCounts = "validation_class_counts"
            case trainingSamples = "training_samples", testFirst = "test_first", mistakes
            case mistakesTotal = "mistakes_total", augmentation, tensors
        }
    }

    public static let fileName = "report-data.bin"
    /// The test mistakes kept, most confident first.
    public static let mistakeLimit = 1000

    public var header: Header
    /// The training digits, `trainingSamples.count` images.
    public var trainImages: [UInt8]
    /// Set when the run was evaluated on the test set.
    public var test: Test?
    /// The augmented digits: originals, then for each original its warp in each epoch listed.
    public var augmentOriginal: [UInt8]?
    public var augmentWarped: [UInt8]?

    public init(header: Header, trainImages: [UInt8]) {
        self.header = header
        self.trainImages = trainImages
    }

    /// The test set's predictions and the digits shown of it.
    public struct Test: Sendable {
        public var labels: [UInt8]
        /// `labels.count × classes`, row after row.
        public var probabilities: [Float]
        public var first: [UInt8]
        public var mistakes: [UInt8]

        public init(labels: [UInt8], probabilities: [Float], first: [UInt8], mistakes: [UInt8]) {
            self.labels = labels
            self.probabilities = probabilities
            self.first = first
            self.mistakes = mistakes
        }
    }

    public var imageSize: Int { header.imageShape.reduce(1, *) }
    public var classes: Int { header.classNames.count }

    /// The `i`-th image of a flat buffer of images.
    public func image(_ buffer: [UInt8], _ i: Int) -> [UInt8] {
        Array(buffer[(i * imageSize)..<((i + 1) * imageSize)])
    }

    /// Test image `index`'s probabilities.
    public func probabilities(of index: Int) -> ArraySlice<Float> {
        test!.probabilities[(index * classes)..<((index + 1) * classes)]
    }

    /// The predicted class of test image `index` (the first of equal maxima, as evaluation counts it).
    public func predicted(_ index: Int) -> Int {
        let p = probabilities(of: index)
        var best = p.startIndex
        for i in p.indices where p[i] > p[best] { best = i }
        return best - p.startIndex
    }

    /// Test image `index`, from the first digits or the mistakes (nil when neither holds it).
    public func testImage(_ index: Int) -> [UInt8]? {
        guard let test else { return nil }
        if index < header.testFirst { return image(test.first, index) }
        if let i = header.mistakes?.firstIndex(of: index) { return image(test.mistakes, i) }
        return nil
    }

    /// Writes the file atomically (the checkpoint container's write).
    public func write(to path: String) throws {
        var header = self.header
        header.tensors = []
        var values: [TensorValues] = []
        func add(_ name: String, _ shape: [Int], _ value: TensorValues) {
            header.tensors.append(CheckpointTensor(name: name, shape: shape, dtype: value.elementType))
            values.append(value)
        }
        let shape = header.imageShape
        add("train/images", [header.trainingSamples.count] + shape, .uint8(trainImages))
        if let test {
            add("test/labels", [test.labels.count], .uint8(test.labels))
            add("test/probabilities", [test.labels.count, classes], .floats(test.probabilities))
            add("test/first", [header.testFirst] + shape, .uint8(test.first))
            add("test/mistakes", [header.mistakes?.count ?? 0] + shape, .uint8(test.mistakes))
        }
        if let original = augmentOriginal, let warped = augmentWarped, let augmented = header.augmentation {
            add("augment/original", [augmented.indices.count] + shape, .uint8(original))
            add("augment/warped", [augmented.indices.count, augmented.epochs.count] + shape, .uint8(warped))
        }
        try CheckpointFile<Header>.write(header: header, values: values, to: path)
    }

    /// Reads and verifies `path`: every check of a checkpoint, then the tensors' shapes against
    /// the header. Throws a CheckpointError ("report data <path>: …").
    public static func read(_ path: String) throws(CheckpointError) -> ReportData {
        let file = try CheckpointFile<Header>(path: path)
        let header = file.header
        func fail(_ reason: String) -> CheckpointError {
            CheckpointError(path: path, kind: .corrupt, reason: reason, file: Header.fileKind)
        }
        guard header.kind == "report-data", header.imageShape.count == 2, !header.classNames.isEmpty else {
            throw fail("its header is not that of report data")
        }
        let shape = header.imageShape
        func images(_ name: String, _ count: Int) throws(CheckpointError) -> [UInt8] {
            guard file.shape(name) == [count] + shape else {
                throw fail("tensor '\(name)' is \(file.shape(name).map { "\($0)" } ?? "missing"), not \([count] + shape)")
            }
            return try file.byteValues(name)
        }
        var data = ReportData(header: header, trainImages: try images("train/images", header.trainingSamples.count))
        if let mistakes = header.mistakes {
            let labels = try file.byteValues("test/labels")
            guard file.shape("test/probabilities") == [labels.count, header.classNames.count],
                  header.testFirst <= labels.count, mistakes.allSatisfy({ $0 >= 0 && $0 < labels.count }) else {
                throw fail("its test tensors do not fit its \(labels.count) labels")
            }
            data.test = Test(labels: labels, probabilities: try file.floatValues("test/probabilities"),
                             first: try images("test/first", header.testFirst),
                             mistakes: try images("test/mistakes", mistakes.count))
        }
        if let augmented = header.augmentation {
            data.augmentOriginal = try images("augment/original", augmented.indices.count)
            guard file.shape("augment/warped") == [augmented.indices.count, augmented.epochs.count] + shape else {
                throw fail("tensor 'augment/warped' does not fit its \(augmented.indices.count) digits")
            }
            data.augmentWarped = try file.byteValues("augment/warped")
        }
        return data
    }
}
