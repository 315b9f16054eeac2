// SIGINT and SIGTERM during training: the first one asks the trainer to stop after the step in
// progress (a checkpoint is then written and the run exits with 130); a second one exits at once,
// which loses nothing either, since checkpoints are only ever replaced atomically.
//
// A run started by `runner compare` also stops that way when the batch process is gone (killed
// with -9, say): $RUNNER_BATCH_PARENT names the batch's pid, and when this process's parent is no
// longer that pid, the run checkpoints and exits as if it had received SIGTERM, so that running
// the batch again resumes it instead of finding it still at work.
import Dispatch
import Foundation

final class InterruptWatcher: @unchecked Sendable {  // `received` is guarded by `lock`
    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []
    private var parentWatch: DispatchSourceTimer?

    /// The signal that asked to stop, if one did.
    var signal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Starts catching SIGINT and SIGTERM (until `stop()`).
    init() {
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)  // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.receive(number) }
            source.resume()
            sources.append(source)
        }
        if let text = ProcessInfo.processInfo.environment["RUNNER_BATCH_PARENT"], let batch = Int32(text) {
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now(), repeating: .milliseconds(100))
            timer.setEventHandler { [weak self] in
                guard let self, getppid() != batch, self.signal == nil else { return }
                self.receive(SIGTERM, why: "the batch (pid \(batch)) that started this run is gone")
            }
            timer.resume()
            parentWatch = timer
        }
    }

    private func receive(_ number: Int32, why: String? = nil) {
        lock.lock()
        let first = received == nil
        if first { received = number }
        lock.unlock()
        if first {
            let name = why ?? (number == SIGINT ? "SIGINT" : "SIGTERM")
            let message = "\n\(name): stopping after this step to write a checkpoint (again to quit at once)\n"
            FileHandle.standardError.write(Data(message.utf8))
        } else {
            FileHandle.standardError.write(Data("\ninterrupted again: quitting without a new checkpoint\n".utf8))
            exit(130)
        }
    }

    /// Gives SIGINT and SIGTERM their default behaviour back.
    func stop() {
        for source in sources { source.cancel() }
        sources = []
        parentWatch?.cancel()
        parentWatch = nil
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }
}

/// A run stopped by SIGINT/SIGTERM after writing its checkpoint (exit status 130).
public struct RunInterrupted: Error, CustomStringConvertible, Sendable {
    public let signal: Int32
    public let checkpoint: String
    public let runDirectory: String
    public var description: String {
        "Interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM"): checkpoint written to \(checkpoint)\n"
            + "Resume with: runner resume \(runDirectory)"
    }
}
