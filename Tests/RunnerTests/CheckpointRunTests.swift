// Checkpoints through the command line on real MNIST: a run killed with SIGKILL at ten random
// moments and resumed each time ends with the uninterrupted run's weights; every checkpoint on
// disk after every kill is whole; SIGINT writes one and exits 130; a changed experiment is refused
// (the keys that differ are listed) and a mismatched model or optimizer is an error, not a load.
import Datasets
import Experiments
import Foundation
import Testing
import TestSupport
import Training

#if canImport(Glibc)
import Glibc
#endif

/// A small MLP with dropout (a random stream), a validation split (best.ckpt), early stopping
/// that keeps the best epoch's weights (its tracker and copy are in every checkpoint) and a
/// checkpoint every 50 steps: 3 epochs of 844 steps (the kill test runs 5).
let killTestYAML = """
    name: kill-test
    seed: 7
    model:
      input_shape: [28, 28]
      layers:
        - {type: flatten}
        - {type: dense, units: 32, activation: relu}
        - {type: dropout, rate: 0.2}
        - {type: dense, units: 10, activation: softmax}
    compile:
      optimizer: adam
      loss: categorical_crossentropy
    train:
      epochs: 3
      batch_size: 64
      validation_split: 0.1
      early_stopping: {monitor: val_loss, patience: 10, restore_best_weights: true}
      checkpoint:
        every_steps: 50
        keep_last: 2
        keep_best: {monitor: val_accuracy, mode: max}

    """

@Suite("runner checkpoints on MNIST", .serialized)
struct CheckpointRunTests {
    init() throws {
        try #require(TestPaths.hasMNIST, "the MNIST .gz files are not in \(TestPaths.mnist) (set MNIST_DIR)")
    }

    /// Every checkpoint file under `results` (all run folders).
    func checkpoints(in results: String) -> [String] {
        let fm = FileManager.default
        let root = results + "/kill-test"
        return ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted().flatMap { run -> [String] in
            let folder = root + "/" + run + "/checkpoints"
            return ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".ckpt") }
                .sorted().map { folder + "/" + $0 }
        }
    }

    /// The newest step checkpoint's step, or -1.
    func newestStep(in results: String) -> Int {
        checkpoints(in: results).compactMap { path -> Int? in
            let name = (path as NSString).lastPathComponent
            return name.hasPrefix("step-") ? Int(name.dropFirst(5).dropLast(5)) : nil
        }.max() ?? -1
    }

    func uninterruptedHash(_ file: String, scratch: TemporaryDirectory) throws -> String {
        let run = try runner([file, "--data-dir", TestPaths.mnist, "--results-dir", scratch("reference"), "--quiet"],
                             scratch: scratch)
        try #require(run.exited(0), "\(run)")
        return try #require(run.weightHash, "\(run)")
    }

    @Test("SIGKILL at 10 random moments, each followed by `runner FILE --resume`: the uninterrupted weights, and no torn file")
    func killTest() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // 5 epochs (4,220 steps) and a kill 0-50 ms after each new checkpoint (every 50 steps):
        // the tenth kill came at step 750-1,050 in six runs here (so across the first epoch's
        // end, a quarter of the way through), leaving room for a machine several times faster.
        // (With 3 epochs and 0-150 ms, the faster steps of this session's build let runs finish
        // after 7-9 kills, 2 times in 5.)
        let yaml = killTestYAML.replacingOccurrences(of: "epochs: 3", with: "epochs: 5")
        let file = try scratch.write(yaml, to: "kill-test.yaml")
        let reference = try uninterruptedHash(file, scratch: scratch)

        let results = scratch("killed")
        let arguments = [file, "--resume", "--data-dir", TestPaths.mnist, "--results-dir", results, "--quiet"]
        var generator = SystemRandomNumberGenerator()
        var log: [String] = []
        var kills = 0, midEpoch = 0
        var finished: Outcome?
        while kills < 10 && finished == nil {
            let child = try RunningRunner(arguments, scratch: scratch)
            // The first kill lands anywhere in the start-up (reading data, building the model);
            // the others after the run has made progress (a new checkpoint), plus a random delay,
            // so that each lands somewhere in training: mid-step, mid-write or between writes.
            let before = newestStep(in: results)
            if kills > 0 {
                let deadline = Date().addingTimeInterval(60)
                while newestStep(in: results) <= before && child.process.isRunning && Date() < deadline {
                    usleep(5_000)
                }
            }
            let delay = Double.random(in: 0...(kills == 0 ? 0.4 : 0.05), using: &generator)
            usleep(UInt32(delay * 1_000_000))
            if child.process.isRunning {
                kill(child.pid, SIGKILL)
                let outcome = try child.wait()
                if outcome.reason == .uncaughtSignal {
                    kills += 1
                } else {
                    finished = outcome
                }
            } else {
                finished = try child.wait()
            }
            // Whatever the moment, every checkpoint on disk reads and verifies.
            let newest = String(format: "step-%010d.ckpt", newestStep(in: results))
            for path in checkpoints(in: results) {
                #expect(throws: Never.self, "after kill \(kills): \(path)") {
                    let checkpoint = try CheckpointFile<RunCheckpoint>(path: path)
                    if path.hasSuffix(newest), checkpoint.header.training.batch != 0 { midEpoch += 1 }
                }
            }
            log.append("kill \(kills) after +\(String(format: "%.3f", delay)) s: newest step \(newestStep(in: results))")
        }
        #expect(kills == 10, "the run finished after only \(kills) kills:\n\(log.joined(separator: "\n"))")
        #expect(midEpoch >= 1, "no kill left a mid-epoch checkpoint:\n\(log.joined(separator: "\n"))")

        let last = try finished ?? runner(arguments, scratch: scratch)
        try #require(last.exited(0), "\(last)\n\(log.joined(separator: "\n"))")
        #expect(last.weightHash == reference, "\(log.joined(separator: "\n"))")
        let report = try json(results + "/kill-test/latest/report.json")
        #expect(report["weight_sha256"] as? String == reference)
        #expect(((report["resumes"] as? [Any])?.count ?? 0) >= 1, "the finished run never resumed:\n\(log.joined(separator: "\n"))")
        // A killed writer's temporary files are gone once the run resumed.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: results + "/kill-test/latest/checkpoints")
            .filter { $0.contains(".partial-") }
        #expect(leftovers.isEmpty)
    }

    @Test("SIGINT: a checkpoint, exit 130 and the command to resume; a changed experiment is refused; resume ends exactly")
    func interruptAndChanges() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let file = try scratch.write(killTestYAML, to: "kill-test.yaml")
        let reference = try uninterruptedHash(file, scratch: scratch)

        let results = scratch("interrupted")
        let child = try RunningRunner([file, "--data-dir", TestPaths.mnist, "--results-dir", results], scratch: scratch)
        let deadline = Date().addingTimeInterval(60)
        while newestStep(in: results) < 200 && child.process.isRunning && Date() < deadline { usleep(5_000) }
        kill(child.pid, SIGINT)
        let interrupted = try child.wait()
        try #require(interrupted.exited(130), "\(interrupted)")
        #expect(interrupted.stderr.contains("Interrupted by SIGINT: checkpoint written to "), "\(interrupted)")
        #expect(interrupted.stderr.contains("Resume with: runner resume "), "\(interrupted)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: results + "/kill-test").filter { $0 != "latest" }
        let run = results + "/kill-test/" + (try #require(runs.first))
        let saved = try #require(checkpoints(in: results).last { $0.contains("/step-") })
        let header = try CheckpointFile<RunCheckpoint>(path: saved).header
        #expect(header.training.step > 200 && !header.training.finished)
        // The reports say so: status interrupted, the checkpoint to go on from, the page names it.
        let stopped = try RunReport.read(runDirectory: run)
        #expect(stopped.status == RunStatus.interrupted && stopped.test == nil && stopped.weightSHA256 == nil)
        #expect(stopped.checkpoint == saved && stopped.error?.contains("Interrupted by SIGINT") == true, "\(String(describing: stopped.error))")
        let page = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        #expect(page.contains("Interrupted: Interrupted by SIGINT") && page.contains("runner resume"))
        #expect(interrupted.stdout.contains("Report: \(run)/report.html"), "\(interrupted)")

        // The file changed: refused with the key that differs, exit 64, nothing touched.
        try killTestYAML.replacingOccurrences(of: "units: 32", with: "units: 33")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try runner([file, "--resume", "--data-dir", TestPaths.mnist, "--results-dir", results], scratch: scratch)
        #expect(refused.exited(64), "\(refused)")
        #expect(refused.stderr.contains("model.layers[1].units: 32 → 33"), "\(refused)")
        #expect(refused.stderr.contains("--force"), "\(refused)")
        // With --force the checkpoint's tensors do not fit the changed model: a mismatch (65), no partial load.
        let forced = try runner(["resume", run, "--force"], scratch: scratch)
        #expect(forced.exited(65), "\(forced)")
        #expect(forced.stderr.contains("does not match the model") && forced.stderr.contains("(784, 32)")
                && forced.stderr.contains("(784, 33)"), "\(forced)")
        // Another optimizer cannot take over Adam's moments.
        try killTestYAML.replacingOccurrences(of: "optimizer: adam", with: "optimizer: sgd")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let otherOptimizer = try runner(["resume", run, "--force"], scratch: scratch)
        #expect(otherOptimizer.exited(65), "\(otherOptimizer)")
        #expect(otherOptimizer.stderr.contains("it holds adam's state, the experiment trains with sgd"), "\(otherOptimizer)")
        // The run folder still says what the run trains.
        let stored = try String(contentsOfFile: run + "/experiment.yaml", encoding: .utf8)
        #expect(stored.contains("type: adam") && stored.contains("units: 32"), "\(stored)")

        // The file back as it was: the run resumes and ends where the uninterrupted one did.
        try killTestYAML.write(toFile: file, atomically: true, encoding: .utf8)
        let resumed = try runner(["resume", run, "--quiet"], scratch: scratch)
        try #require(resumed.exited(0), "\(resumed)")
        #expect(resumed.weightHash == reference)
        let finishedAgain = try runner(["resume", run], scratch: scratch)
        #expect(finishedAgain.exited(64) && finishedAgain.stderr.contains("has finished"), "\(finishedAgain)")
    }

    @Test("SIGTERM (what schedulers and `kill` send) is handled like Ctrl-C")
    func terminate() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let file = try scratch.write(killTestYAML, to: "kill-test.yaml")
        let results = scratch("terminated")
        let child = try RunningRunner([file, "--data-dir", TestPaths.mnist, "--results-dir", results, "--quiet"], scratch: scratch)
        let deadline = Date().addingTimeInterval(60)
        while newestStep(in: results) < 100 && child.process.isRunning && Date() < deadline { usleep(5_000) }
        kill(child.pid, SIGTERM)
        let outcome = try child.wait()
        #expect(outcome.exited(130), "\(outcome)")
        #expect(outcome.stderr.contains("Interrupted by SIGTERM: checkpoint written to "), "\(outcome)")
        let saved = try #require(checkpoints(in: results).last { $0.contains("/step-") })
        #expect(outcome.stderr.contains(saved), "\(outcome)")
        #expect(try CheckpointFile<RunCheckpoint>(path: saved).header.training.step >= 100)
    }

    @Test("bad checkpoints through the command line: exit 65 with the file and the reason")
    func badCheckpoints() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let file = try scratch.write(killTestYAML.replacingOccurrences(of: "epochs: 3", with: "epochs: 1"),
                                     to: "kill-test.yaml")
        let results = scratch("results")
        let run = try runner([file, "--data-dir", TestPaths.mnist, "--results-dir", results, "--quiet"], scratch: scratch)
        try #require(run.exited(0), "\(run)")
        let final = results + "/kill-test/latest/checkpoints/final.ckpt"
        var bytes = try FileIO.read(final)

        let cut = scratch("cut.ckpt")
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: cut))
        let truncated = try runner(["evaluate", cut, "--data-dir", TestPaths.mnist], scratch: scratch)
        #expect(truncated.exited(65) && truncated.stderr.contains(cut) && truncated.stderr.contains("truncated"), "\(truncated)")

        bytes[bytes.count / 2] ^= 0x10
        let flipped = scratch("flipped.ckpt")
        try Data(bytes).write(to: URL(fileURLWithPath: flipped))
        let corrupt = try runner(["evaluate", flipped, "--data-dir", TestPaths.mnist], scratch: scratch)
        #expect(corrupt.exited(65) && corrupt.stderr.contains("corrupt: SHA-256 mismatch"), "\(corrupt)")
        let predictCorrupt = try runner(["predict", flipped, file], scratch: scratch)
        #expect(predictCorrupt.exited(65) && predictCorrupt.stderr.contains("SHA-256 mismatch"), "\(predictCorrupt)")

        bytes[bytes.count / 2] ^= 0x10
        bytes[8] = 7
        let future = scratch("future.ckpt")
        try Data(bytes).write(to: URL(fileURLWithPath: future))
        let newer = try runner(["evaluate", future, "--data-dir", TestPaths.mnist], scratch: scratch)
        #expect(newer.exited(65) && newer.stderr.contains("written by a newer runner: format 7"), "\(newer)")

        let notOne = try runner(["evaluate", file], scratch: scratch)
        #expect(notOne.exited(65) && notOne.stderr.contains("not a checkpoint"), "\(notOne)")
        let missing = try runner(["evaluate", scratch("nothing-here.ckpt")], scratch: scratch)
        #expect(missing.exited(65) && missing.stderr.contains("no such file"), "\(missing)")
        let empty = scratch("empty-run")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let noCheckpoint = try runner(["evaluate", empty], scratch: scratch)
        #expect(noCheckpoint.exited(64) && noCheckpoint.stderr.contains("holds no checkpoint"), "\(noCheckpoint)")
    }
}
