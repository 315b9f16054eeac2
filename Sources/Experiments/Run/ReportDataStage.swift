// What a run keeps for its pictures (report-data.bin, see Reports/ReportData.swift): training
// digits of every class, the augmented versions of a few as the trainer draws them, and — once
// the model was evaluated — the test set's probabilities, its first digits and its mistakes.
import Datasets
import Foundation
import Kernels
import Training

extension ReportData {
    /// Training digits per class, first test digits shown, augmented digits and epochs shown.
    static let samplesPerClass = 10, firstTestDigits = 24, augmentedDigits = 8, augmentedEpochs = 3

    /// The report data of a run: `training` the training split (its statistics and digits),
    /// `test` the test set with the model's probabilities for it (nil before evaluation).
    static func make(runID: String, dataset: Dataset, training: Subset, validation: Subset?,
                     augmentation: AugmentationSource?, test probabilities: [Float]?) -> ReportData {
        let images = dataset.train, classes = dataset.classNames.count
        func counts(_ subset: Subset?) -> [Int]? {
            subset.map { s in s.indices.reduce(into: [Int](repeating: 0, count: classes)) { $0[Int(images.labels[$1])] += 1 } }
        }
        var perClass = [[Int]](repeating: [], count: classes)
        for index in training.indices where perClass[Int(images.labels[index])].count < samplesPerClass {
            perClass[Int(images.labels[index])].append(index)
        }
        let samples = perClass.flatMap { $0 }
        func gather(_ set: ImageSet, _ indices: [Int]) -> [UInt8] {
            indices.flatMap { set.pixels[($0 * set.imageSize)..<(($0 + 1) * set.imageSize)] }
        }
        var data = ReportData(header: Header(runID: runID, classNames: dataset.classNames,
                                             imageShape: [images.rows, images.cols],
                                             trainClassCounts: counts(training)!, validationClassCounts: counts(validation),
                                             trainingSamples: samples, testFirst: 0),
                              trainImages: gather(images, samples))
        if let probabilities {
            let set = dataset.test
            let first = Array(0..<min(firstTestDigits, set.count))
            data.header.testFirst = first.count
            data.test = Test(labels: set.labels, probabilities: probabilities, first: gather(set, first), mistakes: [])
            let wrong = (0..<set.count).filter { data.predicted($0) != Int(set.labels[$0]) }
            // Most confident first; ties in index order.
            let ranked = wrong.map { ($0, data.probabilities(of: $0).max() ?? 0) }
                .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(mistakeLimit).map(\.0)
            data.header.mistakes = ranked
            data.header.mistakesTotal = wrong.count
            data.test!.mistakes = gather(set, ranked)
        }
        if let augmentation {
            let order = augmentation.trainer.epochOrder(training, epoch: 0, shuffle: augmentation.shuffle)
            let shown = Array(order.prefix(augmentedDigits))
            let epochs = Array(0..<min(augmentedEpochs, augmentation.epochs))
            let orders = epochs.map { augmentation.trainer.epochOrder(training, epoch: $0, shuffle: augmentation.shuffle) }
            let inputs = FloatStorage(count: images.imageSize)
            var warped: [UInt8] = []
            for index in shown {
                for (e, epoch) in epochs.enumerated() {
                    // The image's place in that epoch's order decides its warp.
                    let position = orders[e].firstIndex(of: index)!
                    images.fillAugmentedInputs([index][...], augmentation: augmentation.settings, seed: augmentation.trainer.seed,
                                               epoch: epoch, firstPosition: position,
                                               transform: PixelTransform(scale: 1, shift: 0), into: inputs.view)
                    for i in 0..<images.imageSize {
                        warped.append(UInt8(min(max(inputs.view[i].rounded(), 0), 255)))
                    }
                }
            }
            data.header.augmentation = Augmented(indices: shown, epochs: epochs)
            data.augmentOriginal = gather(images, shown)
            data.augmentWarped = warped
        }
        return data
    }

    /// How the trainer warps training images: what `make` needs to draw the same warps.
    struct AugmentationSource {
        let trainer: Trainer
        let settings: Augmentation
        let shuffle: Bool
        let epochs: Int
    }
}

extension ExperimentRunner {
    /// The report data of this run; `probabilities` once the model was evaluated on the test set.
    static func reportData(_ launch: Launch, data: RunData, setup: TrainingSetup, probabilities: [Float]?) -> ReportData {
        let augmentation = setup.trainer.augmentation.map {
            ReportData.AugmentationSource(trainer: setup.trainer, settings: $0, shuffle: launch.spec.train.shuffle,
                                          epochs: launch.spec.train.epochs)
        }
        return ReportData.make(runID: launch.runID, dataset: data.dataset, training: data.training,
                               validation: data.validation, augmentation: augmentation, test: probabilities)
    }
}
