// When a run writes checkpoints (`train.checkpoint`), and what goes into one. The policy decides,
// from fit's callbacks; the writer makes the file: header (the run, its experiment, data,
// preprocessing, optimizer step, stream positions, training state) and tensors, written atomically.
import Foundation
import Training

/// `train.checkpoint` at work: step-N.ckpt every `every_steps` steps, at the end of every
/// `every_epochs`-th epoch, and after the step at which a signal asked to stop, the newest
/// `keep_last` of them kept; best.ckpt whenever the `keep_best` metric improves; final.ckpt when
/// training is over. A failed write is kept in `failure` (fit's callbacks cannot throw): after a
/// step it stops training, after an epoch training goes on; the run throws it once fit returns.
/// No checkpoint is written with a parameter that is not finite: the policy looks before every
/// write and at every epoch's end, and stops training when it finds one (`nonFinite`).
final class CheckpointPolicy {
    let spec: CheckpointSpec
    let writer: RunCheckpointWriter
    /// Decides when best.ckpt is rewritten (nil without keep_best); stored in every checkpoint.
    private(set) var keepBest: EarlyStopping?
    /// The newest step-N.ckpt this process wrote.
    private(set) var lastSaved: (step: Int, path: String)?
    private(set) var failure: Error?
    /// Where a parameter was found not finite (epoch from 1, step), which ends training.
    private(set) var nonFinite: (epoch: Int, step: Int)?

    /// Creates the checkpoints/ folder (clearing what a killed writer left there).
    init(_ spec: CheckpointSpec, keepBest: EarlyStopping?, writer: RunCheckpointWriter) throws {
        self.spec = spec
        self.keepBest = keepBest
        self.writer = writer
        try writer.folder.create()
    }

    /// After every optimizer step: a periodic step-N.ckpt, or one because the run is `stopping`
    /// (a signal), which also ends training here.
    func afterStep(_ state: FitState, stopping: Bool) -> StepDecision {
        if nonFinite != nil { return .stop }
        let periodic = spec.everySteps > 0 && state.step % spec.everySteps == 0
        if periodic || stopping {
            guard writer.setup.trainer.parametersAreFinite else {
                nonFinite = (state.epoch + 1, state.step)
                return .stop
            }
            do { lastSaved = (state.step, try saveStep(state)) } catch { failure = error; return .stop }
        }
        return stopping ? .stop : .proceed
    }

    /// After every epoch: best.ckpt when the monitored metric improved, then the epoch's step-N.ckpt
    /// (unless training is over, or this step's file was just written).
    func epochEnd(_ summary: EpochSummary, _ state: FitState) {
        guard nonFinite == nil, writer.setup.trainer.parametersAreFinite else {
            if nonFinite == nil { nonFinite = (summary.epoch + 1, state.step) }
            return
        }
        do {
            if var tracker = keepBest {
                let decision = tracker.update(epoch: summary.epoch, value: summary.value(of: tracker.config.monitor))
                keepBest = tracker
                if decision.saveWeights { _ = try writer.write(.best, state, keepBest: keepBest) }
            }
            if !state.finished && spec.everyEpochs > 0 && state.epoch % spec.everyEpochs == 0 && lastSaved?.step != state.step {
                lastSaved = (state.step, try saveStep(state))
            }
        } catch { failure = error }
    }

    /// final.ckpt: the trained model and the finished state (what `runner evaluate` loads).
    func saveFinal(_ state: FitState, restoredEpoch: Int?) throws -> String {
        try writer.write(.final, state, keepBest: keepBest, restoredEpoch: restoredEpoch)
    }

    /// The last good checkpoint of a run whose next step's loss was not finite: a step checkpoint
    /// of `state` (unless this step's was just written), or — when its weights are not finite
    /// either — the newest step checkpoint on disk; nil when there is none.
    func saveLastGood(_ state: FitState) -> String? {
        if let last = lastSaved, last.step == state.step { return last.path }
        guard writer.setup.trainer.parametersAreFinite, let path = try? saveStep(state) else {
            return writer.folder.stepFiles().last?.path
        }
        lastSaved = (state.step, path)
        return path
    }

    private func saveStep(_ state: FitState) throws -> String {
        let file = try writer.write(.step, state, keepBest: keepBest)
        writer.folder.prune(keep: spec.keepLast)
        return file
    }
}

/// Writes one run's checkpoints into <run>/checkpoints/.
struct RunCheckpointWriter {
    let launch: ExperimentRunner.Launch
    /// --data-dir as given, so that a resume looks in the same place.
    let dataDirectory: String?
    let data: RunData
    let setup: TrainingSetup
    let resumes: [RunCheckpoint.Resume]
    var folder: CheckpointFolder { CheckpointFolder(run: launch.directory) }

    /// The checkpoint of `kind` at `state`; returns its path. `restoredEpoch` goes into final.ckpt only.
    func write(_ kind: RunCheckpoint.Kind, _ state: FitState, keepBest: EarlyStopping?,
               restoredEpoch: Int? = nil) throws -> String {
        let spec = launch.spec, trainer = setup.trainer
        let file = folder.file(kind, step: state.step)
        let includeSnapshot = setup.snapshot != nil && state.tracker?.bestEpoch != nil
        let (table, views) = setup.tensors.table(includeSnapshot: includeSnapshot)
        let header = RunCheckpoint(
            kind: kind, createdAt: ISO8601DateFormatter().string(from: Date()), runnerCommit: Provenance.commit,
            runID: launch.runID,
            experiment: .init(file: URL(fileURLWithPath: launch.file).standardizedFileURL.path,
                              sha256: launch.experimentHash, resolvedYAML: launch.resolvedYAML,
                              overrides: launch.overrides, dataDirectory: dataDirectory),
            dataset: data.dataset.name, classNames: data.dataset.classNames, preprocessing: data.preprocessing,
            optimizer: .init(name: trainer.optimizer.name, step: trainer.step),
            nextLearningRate: trainer.nextLearningRate,
            streams: streamPositions(model: trainer.model, state: state, batchSize: spec.train.batchSize,
                                     shuffle: spec.train.shuffle, augmented: trainer.augmentation != nil),
            training: state, restoredEpoch: kind == .final ? restoredEpoch : nil, keepBest: keepBest,
            resumes: resumes, tensors: table)
        try CheckpointFile<RunCheckpoint>.write(header: header, tensors: views, to: file)
        return file
    }
}
