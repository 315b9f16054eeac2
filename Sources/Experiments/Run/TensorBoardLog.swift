// `train.tensorboard: true` (or --tensorboard): TensorBoard event files in the run folder, laid
// out as Keras's TensorBoard callback lays them out, so `tensorboard --logdir results/` shows the
// runs side by side and training next to validation:
//
//     tensorboard/train/       batch_loss (every step, the batch's loss), epoch_loss, epoch_accuracy,
//                              epoch_learning_rate (step: the epoch, from 1, as report.json counts);
//                              at the end test/loss, test/accuracy, the confusion matrix image,
//                              test samples with their predictions, the model summary and the
//                              resolved experiment as text
//     tensorboard/validation/  epoch_loss, epoch_accuracy (with a validation split)
//
// Each process of a run (a resume) adds its own files. Logging never stops training: a failed
// write is reported once, and logging ends.
import Datasets
import Foundation
import Interchange
import NeuralNetwork
import Training

final class TensorBoardLog {
    let train: EventFileWriter
    let validation: EventFileWriter?
    let console: Console
    /// The epoch of the last step seen and its running metrics, to take one batch's loss out of them.
    private var epoch: Int
    private var previous: RunningMetrics
    private var warned = false

    /// nil unless the experiment asks for logs; `state` is where training starts (a resume's).
    init?(_ launch: ExperimentRunner.Launch, from state: FitState, console: Console) throws {
        guard launch.spec.train.tensorboard else { return nil }
        let root = (launch.directory as NSString).appendingPathComponent("tensorboard")
        train = try EventFileWriter(directory: (root as NSString).appendingPathComponent("train"))
        validation = launch.spec.train.validationSplit > 0
            ? try EventFileWriter(directory: (root as NSString).appendingPathComponent("validation")) : nil
        self.console = console
        epoch = state.epoch
        previous = state.metrics
    }

    /// After every optimizer step: that batch's mean loss (penalties included, as trained on).
    func step(_ state: FitState) {
        if state.epoch != epoch {
            epoch = state.epoch
            previous = FitState().metrics  // none yet
        }
        let samples = state.metrics.samples - previous.samples
        if samples > 0 {
            train.scalar("batch_loss", (state.metrics.lossSum - previous.lossSum) / Double(samples), step: state.step)
        }
        previous = state.metrics
    }

    /// After every epoch: the figures report.json records for it.
    func epochEnd(_ summary: EpochSummary) {
        let step = summary.epoch + 1
        train.scalar("epoch_loss", summary.training.loss, step: step)
        train.scalar("epoch_accuracy", summary.training.accuracy, step: step)
        train.scalar("epoch_learning_rate", Double(summary.learningRate), step: step)
        if let val = summary.validation, let validation {
            validation.scalar("epoch_loss", val.loss, step: step)
            validation.scalar("epoch_accuracy", val.accuracy, step: step)
        }
        flush()
    }

    /// The end of the run: test figures, the confusion matrix, the first test images with what
    /// the model says of them (`probabilities`: the test pass's, `classes` per image), the model
    /// summary and the resolved experiment.
    func finish(_ launch: ExperimentRunner.Launch, data: RunData, setup: TrainingSetup, test: Evaluation,
                probabilities: [Float], epochs: Int) {
        let step = max(epochs, 1)
        train.scalar("test/loss", test.loss, step: step)
        train.scalar("test/accuracy", test.accuracy, step: step)
        let matrix = GrayPicture.confusionMatrix(test.confusion)
        train.image("test/confusion_matrix", png: matrix.png, width: matrix.width, height: matrix.height, step: step)
        let names = data.dataset.classNames
        train.text("test/confusion_matrix", confusionMarkdown(test.confusion, names: names), step: step)
        let images = data.dataset.test
        let classes = setup.trainer.classes
        for index in 0..<min(12, images.count) {
            let row = Array(probabilities[(index * classes)..<((index + 1) * classes)])
            let predicted = row.indices.max { row[$0] < row[$1] }!
            let label = Int(images.labels[index])
            let picture = GrayPicture(width: images.cols, height: images.rows,
                                      pixels: Array(images.pixels[(index * images.imageSize)..<((index + 1) * images.imageSize)]))
                .enlarged(2)
            let tag = "test/samples/" + (index < 10 ? "0" : "") + "\(index): \(names[label]) → \(names[predicted]) "
                + Format.fixed(Double(row[predicted]) * 100, 1) + "%" + (predicted == label ? "" : " (wrong)")
            train.image(tag, png: picture.png, width: picture.width, height: picture.height, step: step)
        }
        train.text("model/summary", "```\n" + setup.model.summary() + "\n```", step: step)
        train.text("model/experiment", "```yaml\n" + launch.resolvedYAML + "```", step: step)
        flush()
    }

    private func flush() {
        for writer in [train, validation].compactMap({ $0 }) {
            writer.flush()
            if let failure = writer.failure, !warned {
                warned = true
                console.line("Warning: \(failure); TensorBoard logging stops here (training goes on).")
            }
        }
    }

    private func confusionMarkdown(_ matrix: [[Int]], names: [String]) -> String {
        var text = "rows: true label, columns: predicted\n\n| | " + names.joined(separator: " | ") + " |\n|---|"
            + String(repeating: "---:|", count: names.count) + "\n"
        for (i, row) in matrix.enumerated() {
            text += "| **\(names[i])** | " + row.map(String.init).joined(separator: " | ") + " |\n"
        }
        return text
    }
}

extension FitCallbacks {
    /// These callbacks, with `log` hearing of every step and epoch first (nil: unchanged).
    func logging(to log: TensorBoardLog?) -> FitCallbacks {
        guard let log else { return self }
        var callbacks = self
        let afterStep = self.afterStep, epochEnd = self.epochEnd
        callbacks.afterStep = { state in
            log.step(state)
            return afterStep?(state) ?? .proceed
        }
        callbacks.epochEnd = { summary, state in
            log.epochEnd(summary)
            epochEnd?(summary, state)
        }
        return callbacks
    }
}
