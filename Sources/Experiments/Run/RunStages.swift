// One run, fresh or resumed, as named stages: load the data, build the trainer, restore a
// checkpoint's state, train (checkpoints written by `CheckpointPolicy`), evaluate on the test set,
// report. `execute` calls them in that order, each handing the next the value it made; the report
// stage is in ReportStage.swift, the checkpoint policy in CheckpointPolicy.swift. A run that stops
// early — interrupted, diverged (RunStop.swift) or failed — still writes its reports, from what
// it made by then, with that status.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training

/// The data stage's result: the dataset, its training/validation split and how pixels become inputs.
struct RunData {
    let dataset: Dataset
    let training: Subset
    let validation: Subset?
    let transform: PixelTransform
    let preprocessing: PreprocessingRecord
}

/// The build stage's result: the trainer and what the run keeps beside it.
struct TrainingSetup {
    let trainer: Trainer
    let learningRate: LearningRate
    let stepsPerEpoch: Int
    /// restore_best_weights' copy of the best epoch's weights (nil without it).
    let snapshot: WeightSnapshot?
    /// Every tensor a checkpoint stores.
    let tensors: TrainingTensors
    var model: Sequential { trainer.model }
}

/// The restore stage's result: where training starts (epoch 0, or a checkpoint's state).
struct Restored {
    var state = FitState()
    /// best.ckpt's tracker (train.checkpoint.keep_best), as the checkpoint left it when resuming.
    var keepBest: EarlyStopping?
    /// The epoch whose weights a finished run ended with (restore_best_weights).
    var restoredEpoch: Int?
    /// Each time the run was resumed, this time included.
    var resumes: [RunCheckpoint.Resume] = []
}

/// The training stage's result.
struct Trained {
    let state: FitState
    let restoredEpoch: Int?
    /// Why training stopped before the end (nil: it finished).
    var stop: TrainingStop?
}

extension ExperimentRunner {
    static func execute(_ launch: Launch, options: RunOptions, console: Console) throws -> RunOutcome {
        let startSeconds = monotonicSeconds()
        Provenance.prefetchCommit()
        BLAS.configure()
        let threads = max(1, options.threads ?? ThreadPool.availableCores)
        announce(launch, threads: threads, console: console)
        var soFar = RunSoFar()
        // A resume that fails before it trains (its data gone, a checkpoint that does not fit)
        // leaves the folder's reports as they were: the run is still what they say.
        var reported = false, started = launch.checkpoint == nil
        do {
            let data = try loadData(launch, options: options, console: console)
            soFar.data = data
            let setup = buildTrainer(launch, data: data, threads: threads)
            soFar.setup = setup
            let restored = try restore(launch, setup: setup)
            soFar.state = restored.state
            soFar.resumes = restored.resumes
            started = true
            let checkpoints = try CheckpointPolicy(
                launch.spec.train.checkpoint, keepBest: restored.keepBest,
                writer: RunCheckpointWriter(launch: launch, dataDirectory: options.dataDirectory, data: data,
                                            setup: setup, resumes: restored.resumes))
            // From here on SIGINT/SIGTERM ask for a checkpoint and a stop instead of ending the process.
            let watcher = InterruptWatcher()
            defer { watcher.stop() }
            let tensorboard = try TensorBoardLog(launch, from: restored.state, console: console)
            let trained = try train(launch, data: data, setup: setup, from: restored, checkpoints: checkpoints,
                                    watcher: watcher, tensorboard: tensorboard, console: console)
            soFar.state = trained.state
            soFar.restoredEpoch = trained.restoredEpoch
            if let stop = trained.stop {
                var divergence: DivergenceRecord?
                switch stop {
                case .interrupted(let e): soFar.checkpoint = e.checkpoint
                case .diverged(let e): soFar.checkpoint = e.record.lastGoodCheckpoint; divergence = e.record
                }
                let report = try makeReport(launch, soFar, status: stop.status, error: "\(stop.error)",
                                            divergence: divergence, test: nil, threads: threads, startSeconds: startSeconds)
                reported = true
                let files = try writeReports(report, data: reportData(launch, data: data, setup: setup, probabilities: nil),
                                             launch: launch)
                printReportFiles(files, directory: launch.directory, console: console)
                throw stop.error
            }
            let (test, probabilities) = evaluateOnTestSet(launch, data: data, setup: setup)
            tensorboard?.finish(launch, data: data, setup: setup, test: test, probabilities: probabilities,
                                epochs: trained.state.history.count)
            let report = try makeReport(launch, soFar, status: .finished, error: nil, divergence: nil, test: test,
                                        threads: threads, startSeconds: startSeconds)
            reported = true
            let files = try writeReports(report, data: reportData(launch, data: data, setup: setup,
                                                                  probabilities: probabilities), launch: launch)
            printResults(report, files: files, directory: launch.directory, console: console)
            return RunOutcome(report: report, directory: launch.directory)
        } catch {
            // A run that failed still says so in its folder, with what it has.
            if !reported && started {
                soFar.checkpoint = CheckpointFolder(run: launch.directory).newest()
                if let report = try? makeReport(launch, soFar, status: .failed, error: failureText(error), divergence: nil,
                                                test: nil, threads: threads, startSeconds: startSeconds),
                   let files = try? writeReports(report, data: soFar.data.flatMap { data in
                       soFar.setup.map { reportData(launch, data: data, setup: $0, probabilities: nil) }
                   }, launch: launch) {
                    printReportFiles(files, directory: launch.directory, console: console)
                }
            }
            throw error
        }
    }

    /// The run's first lines: what runs, how, and (resuming) from where.
    static func announce(_ launch: Launch, threads: Int, console: Console) {
        let spec = launch.spec
        let cpus = CPUAllowance.current()
        // A process confined to fewer CPUs than the machine has (taskset, a Slurm cpuset, a
        // container's quota) says so: its default thread count follows the confinement.
        let confined = cpus.limitedBy.map { " (\($0): \(cpus.usable) of \(cpus.online) CPUs)" } ?? ""
        console.line("Experiment \(launch.file) (\(spec.name)): seed \(spec.seed), \(spec.train.epochs) epoch\(spec.train.epochs == 1 ? "" : "s"), "
                     + (spec.train.maxSteps.map { "at most \($0) steps, " } ?? "")
                     + "batch \(spec.train.batchSize), \(threads) thread\(threads == 1 ? "" : "s")\(confined), "
                     + "products: " + Provenance.productsText(.best, openblasCore: BLAS.coreName))
        if let checkpoint = launch.checkpoint {
            let training = checkpoint.header.training
            console.line("Resuming run \(launch.runID) from \(checkpoint.path): "
                         + (training.finished ? "training finished"
                            : "epoch \(training.epoch + 1), batch \(training.batch), step \(training.step)"))
        }
    }

    /// Data: the dataset located and verified, split, and the preprocessing — statistics of the
    /// training split only, then one scale and shift for all images.
    static func loadData(_ launch: Launch, options: RunOptions, console: Console) throws -> RunData {
        let spec = launch.spec
        let dataset = try spec.locator(path: launch.file, options: options, console: console).loadExplaining(spec.data.dataset)
        let (training, validation) = Subset.split(dataset.train, validationFraction: spec.train.validationSplit)
        console.line("Dataset \(dataset.name) from \(dataset.source.directory) (\(dataset.source.origin.rawValue)), "
                     + "SHA-256 verified: \(Format.grouped(training.count)) training, "
                     + "\(Format.grouped(validation?.count ?? 0)) validation, "
                     + "\(Format.grouped(dataset.test.count)) test images of "
                     + "\(dataset.train.rows)×\(dataset.train.cols)")
        console.line()
        console.line(launch.compiled.model.summary())
        console.line()

        let scale = spec.preprocess.scale
        let statistics = spec.preprocess.standardize ? training.pixelStatistics() : nil
        let transform = statistics.map { PixelTransform(scale: scale, standardizingWith: $0) }
            ?? PixelTransform(scale: 1 / scale)
        if let statistics {
            console.line("Standardized with the training images' mean \(Format.fixed(statistics.mean(scale: scale), 4)) "
                         + "and std \(Format.fixed(statistics.std(scale: scale), 4)) (after / \(floatText(scale)))")
        }
        let preprocessing = PreprocessingRecord(
            scale: Double(scale), standardize: spec.preprocess.standardize,
            mean: statistics.map { $0.mean(scale: scale) }, std: statistics.map { $0.std(scale: scale) },
            inputScale: Double(transform.scale), inputShift: Double(transform.shift))
        return RunData(dataset: dataset, training: training, validation: validation, transform: transform,
                       preprocessing: preprocessing)
    }

    /// The trainer: model, loss, optimizer and penalties as compiled, the learning-rate schedule,
    /// `threads` threads; and the tensors a checkpoint holds.
    static func buildTrainer(_ launch: Launch, data: RunData, threads: Int) -> TrainingSetup {
        let spec = launch.spec, compiled = launch.compiled
        let stepsPerEpoch = max(1, (data.training.count + spec.train.batchSize - 1) / spec.train.batchSize)
        let learningRate = LearningRate(base: compiled.optimizer.learningRate, schedule: spec.train.lrSchedule.schedule,
                                        warmup: spec.train.lrSchedule.warmup, stepsPerEpoch: stepsPerEpoch,
                                        epochs: spec.train.epochs, maxSteps: spec.train.maxSteps,
                                        reducedOnPlateau: spec.train.reduceOnPlateau != nil)
        let trainer = Trainer(model: compiled.model, loss: compiled.loss, optimizer: compiled.optimizer,
                              transform: data.transform, classes: data.dataset.classNames.count, seed: spec.seed,
                              pool: ThreadPool(threadCount: threads), learningRate: learningRate,
                              penalties: compiled.penalties, augmentation: spec.preprocess.augment)
        let snapshot = spec.train.earlyStopping?.restoreBestWeights == true ? WeightSnapshot(of: compiled.model) : nil
        return TrainingSetup(trainer: trainer, learningRate: learningRate, stepsPerEpoch: stepsPerEpoch,
                             snapshot: snapshot,
                             tensors: TrainingTensors(model: compiled.model, optimizer: compiled.optimizer,
                                                      snapshot: snapshot))
    }

    /// A fresh run starts at epoch 0; a resumed one loads its checkpoint's tensors and state (the
    /// experiment, changed only with --force, is written into the run folder again), and checks
    /// that the stored random-stream positions follow from that state.
    static func restore(_ launch: Launch, setup: TrainingSetup) throws -> Restored {
        let spec = launch.spec
        var restored = Restored()
        // A fresh run starts early stopping's tracker here: `fit` only makes one when given no state.
        restored.state.tracker = spec.train.earlyStopping.map(EarlyStopping.init)
        restored.keepBest = spec.train.checkpoint.bestTracker
        guard let checkpoint = launch.checkpoint else { return restored }
        let header = checkpoint.header
        try setup.tensors.load(checkpoint, optimizerState: true,
                               snapshotState: setup.snapshot != nil && header.tensors.contains { $0.name == "best/parameters" })
        try Data(launch.resolvedYAML.utf8).write(
            to: URL(fileURLWithPath: launch.directory).appendingPathComponent("experiment.yaml"), options: .atomic)
        var state = header.training
        if let config = spec.train.earlyStopping {
            // Same config: the tracker as stored; a changed one (--force) keeps the history it can.
            if state.tracker?.config != config {
                state.tracker = state.tracker.map {
                    EarlyStopping(config, best: $0.best, bestEpoch: $0.bestEpoch, wait: $0.wait, stoppedEpoch: $0.stoppedEpoch)
                } ?? EarlyStopping(config)
            }
        } else {
            state.tracker = nil
        }
        // ReduceLROnPlateau likewise: a changed config keeps the factor and counts it reached.
        if let config = spec.train.reduceOnPlateau {
            if state.plateau?.config != config { state.plateau = state.plateau.map { $0.with(config) } ?? ReduceLROnPlateau(config) }
        } else {
            state.plateau = nil
        }
        // A finished run given more epochs (--force) trains on, unless early stopping ended it.
        if state.finished && state.epoch < spec.train.epochs && state.tracker?.stoppedEpoch == nil { state.finished = false }
        setup.trainer.resume(atStep: state.step)
        restored.state = state
        if let stored = header.keepBest, stored.config == restored.keepBest?.config { restored.keepBest = stored }
        restored.restoredEpoch = header.restoredEpoch
        restored.resumes = header.resumes + [RunCheckpoint.Resume(step: state.step,
                                                                  at: ISO8601DateFormatter().string(from: launch.started))]
        let expected = streamPositions(model: setup.model, state: state, batchSize: spec.train.batchSize,
                                       shuffle: spec.train.shuffle, augmented: setup.trainer.augmentation != nil)
        if header.kind != .final && !state.finished && expected != header.streams && launch.experimentHash == header.experiment.sha256 {
            throw CheckpointError(path: checkpoint.path, kind: .corrupt,
                                  reason: "its random-stream positions do not follow from its step and epoch")
        }
        return restored
    }

    /// Training, epoch lines on the console and checkpoints as `checkpoints` says; then final.ckpt.
    /// A signal (`watcher`) stops it after the step in progress with a checkpoint: RunInterrupted.
    static func train(_ launch: Launch, data: RunData, setup: TrainingSetup, from restored: Restored,
                      checkpoints: CheckpointPolicy, watcher: InterruptWatcher, tensorboard: TensorBoardLog? = nil,
                      console: Console) throws -> Trained {
        let spec = launch.spec, epochs = spec.train.epochs
        var state = restored.state, restoredEpoch = restored.restoredEpoch
        var fitted = false
        if !state.finished {
            let options = FitOptions(epochs: epochs, batchSize: spec.train.batchSize, shuffle: spec.train.shuffle,
                                     validationBatchSize: spec.evaluationBatchSize,
                                     earlyStopping: spec.train.earlyStopping,
                                     reduceOnPlateau: spec.train.reduceOnPlateau, maxSteps: spec.train.maxSteps,
                                     resumedState: state, resumedSnapshot: setup.snapshot)
            let callbacks = FitCallbacks(
                progress: { p in
                    if p.batch == 1 && console.mode == .terminal { console.line("Epoch \(p.epoch + 1)/\(epochs)") }
                    console.progress(p)
                },
                afterStep: { s in checkpoints.afterStep(s, stopping: watcher.signal != nil) },
                epochEnd: { e, s in
                    // The epoch's time with its validation pass, as Keras's final bar shows it; the
                    // batches it trained (fewer than an epoch's when max_steps ended it).
                    let batches = min(setup.stepsPerEpoch,
                                      (e.training.samples + spec.train.batchSize - 1) / spec.train.batchSize)
                    let shown = BatchProgress(epoch: e.epoch, batch: batches, batches: setup.stepsPerEpoch,
                                              metrics: e.training, seconds: e.seconds)
                    console.epochDone(shown, epochs: epochs, validation: e.validation,
                                      learningRate: setup.learningRate.isScheduled ? e.learningRate : nil,
                                      imagesPerSecond: Double(e.training.samples) / e.seconds)
                    if s.plateau?.reductions.last == e.epoch {
                        console.line("Epoch \(e.epoch + 1): ReduceLROnPlateau reducing learning rate to "
                                     + "\(setup.trainer.nextLearningRate).")      // Keras prints the new rate as a Python float
                    }
                    checkpoints.epochEnd(e, s)
                })
            let history = setup.trainer.fit(data.training, validation: data.validation, options,
                                            callbacks: callbacks.logging(to: tensorboard))
            fitted = true
            if let failure = checkpoints.failure { throw failure }
            state = history.state
            restoredEpoch = history.restoredEpoch
            if let diverged = divergence(launch, setup: setup, state: state, checkpoints: checkpoints) {
                console.line()
                return Trained(state: state, restoredEpoch: nil, stop: .diverged(diverged))
            }
            if history.interrupted, let signal = watcher.signal {
                return Trained(state: state, restoredEpoch: nil, stop: .interrupted(RunInterrupted(
                    signal: signal, checkpoint: checkpoints.lastSaved?.path ?? "(none)", runDirectory: launch.directory)))
            }
            if let stopped = state.tracker?.stoppedEpoch { console.line("Epoch \(stopped + 1): early stopping") }
            if let restoredEpoch {
                console.line("Restoring model weights from the end of the best epoch: \(restoredEpoch + 1).")
            }
        }
        // A run resumed from its final.ckpt has it already.
        if fitted || launch.checkpoint?.header.kind != .final {
            _ = try checkpoints.saveFinal(state, restoredEpoch: restoredEpoch)
        }
        if let signal = watcher.signal {
            return Trained(state: state, restoredEpoch: restoredEpoch, stop: .interrupted(RunInterrupted(
                signal: signal, checkpoint: CheckpointFolder(run: launch.directory).file(.final, step: 0),
                runDirectory: launch.directory)))
        }
        return Trained(state: state, restoredEpoch: restoredEpoch)
    }

    /// Whether training diverged: a step's loss was not finite (the trainer stopped before its
    /// update, so the weights are those of the step before, written as the last good checkpoint
    /// when they are finite), or a parameter was found not finite. Nil when it did not.
    static func divergence(_ launch: Launch, setup: TrainingSetup, state: FitState,
                           checkpoints: CheckpointPolicy) -> RunDiverged? {
        let record: DivergenceRecord
        if let d = setup.trainer.divergence {
            record = DivergenceRecord(epoch: d.epoch + 1, step: d.step, value: Divergence.text(d.loss),
                                      quantity: "training loss", lastGoodCheckpoint: checkpoints.saveLastGood(state))
        } else if let bad = checkpoints.nonFinite {
            record = DivergenceRecord(epoch: bad.epoch, step: bad.step, value: "not finite", quantity: "parameter",
                                      lastGoodCheckpoint: checkpoints.writer.folder.stepFiles().last?.path)
        } else {
            return nil
        }
        return RunDiverged(record: record, runDirectory: launch.directory)
    }

    /// Loss, accuracy and confusion matrix of the trained model on the test set, and its class
    /// probabilities for every test image (from the same pass).
    static func evaluateOnTestSet(_ launch: Launch, data: RunData, setup: TrainingSetup) -> (Evaluation, [Float]) {
        setup.trainer.evaluateWithProbabilities(Subset(data.dataset.test), batchSize: launch.spec.evaluationBatchSize)
    }
}
