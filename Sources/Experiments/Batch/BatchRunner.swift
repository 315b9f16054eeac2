// `runner compare`: runs a batch — each point a child process of this same executable, N at a
// time, each with its share of the cores — reusing finished runs and resuming interrupted ones
// by experiment hash, then writes and prints the comparison. `--from` merges comparison folders
// written elsewhere (the shards of a batch) into one.
//
// A point is run from its resolved experiment, written to <comparison>/points/<name>-<hash>.yaml,
// so the hash the child records is the one the batch looked for. Its output goes to
// <comparison>/logs/<name>-<hash>.log. Children get their own process group (a Ctrl-C reaches the
// batch, which passes one SIGTERM on: each child checkpoints and exits 130) and
// $RUNNER_BATCH_PARENT, so that they checkpoint and stop if the batch dies without telling them.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training

public struct BatchOptions: Sendable {
    /// Runs at once (`-j`).
    public var jobs = 1
    /// Threads of each run (default: the cores divided among the jobs, at least 1).
    public var threads: Int?
    /// Stop at the first run that fails or misses its expectations (default: keep going).
    public var failFast = false
    public var shard: Shard?
    /// Where the shard came from ("--shard", "SLURM_ARRAY_TASK_ID=2"), for the console.
    public var shardSource: String?
    public var resultsDirectory = "results"
    public var dataDirectory: String?
    /// The comparison folder (default: <results>/comparisons/<slug>[-shard-I-of-N]).
    public var output: String?
    public var epochs: Int?
    public var batchSize: Int?
    /// `--set key.path=value` arguments for every file.
    public var settings: [String] = []
    public var sort: ComparisonSort = .order
    public var onlyChanged = false
    /// The `runner` to start child runs with (default: this executable).
    public var executable: String = BatchRunner.currentExecutable

    public init() {}

    var threadsPerRun: Int { threads ?? max(1, ThreadPool.availableCores / max(1, jobs)) }
}

/// How a batch ended, for the exit status.
public enum BatchStatus: Sendable {
    /// Every run finished and met its expectations.
    case passed
    /// Every run finished; some missed their expectations.
    case missedExpectations
    /// Some run failed, was interrupted, was not run, or (merging) is missing.
    case failed
    /// The batch itself was stopped by SIGINT/SIGTERM.
    case interrupted
}

public enum BatchRunner {
    /// This process's executable.
    public static var currentExecutable: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// `runner compare FILE…`
    public static func compare(_ inputs: [String], options: BatchOptions, console: Console) throws -> BatchStatus {
        let files = try Batch.expand(inputs)
        let batch = Batch(files: files, epochs: options.epochs, batchSize: options.batchSize, settings: options.settings)
        let folder = options.output ?? (options.resultsDirectory as NSString)
            .appendingPathComponent("comparisons/" + batch.slug + (options.shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? ""))
        for sub in ["points", "logs"] {
            try FileIO.createDirectories((folder as NSString).appendingPathComponent(sub))
        }
        let mine = batch.entries.filter { options.shard?.owns($0.index) ?? true }
        let pointCount = batch.entries.count
        console.line("Batch \(batch.slug): \(pointCount) run\(pointCount == 1 ? "" : "s") from \(files.count) file\(files.count == 1 ? "" : "s")"
                     + (options.shard.map { "; shard \($0) (\(options.shardSource ?? "--shard")): \(mine.count) of them" } ?? "")
                     + "; \(options.jobs) at a time, \(options.threadsPerRun) thread\(options.threadsPerRun == 1 ? "" : "s") each")
        console.line("Comparison folder: \(folder)")

        var session = Session(options: options, folder: folder, console: console, total: mine.count)
        for (position, entry) in mine.enumerated() {
            session.prepare(entry, position: position + 1)
        }
        session.runQueue()

        let comparison = Comparison(
            batch: .init(sha256: batch.sha256, slug: batch.slug, files: files,
                         points: batch.entries.map { entry in
                             switch entry {
                             case .point(let p): .init(index: p.index, label: p.label, experimentSHA256: p.hash)
                             case .invalid(let i): .init(index: i.index, label: (i.file as NSString).lastPathComponent,
                                                         experimentSHA256: nil)
                             }
                         },
                         shard: options.shard?.description, mergedFrom: nil),
            rows: session.rows.values.sorted { $0.index < $1.index }, sort: options.sort, onlyChanged: options.onlyChanged)
        try finish(comparison, folder: folder, console: console)
        return session.interrupted ? .interrupted : comparison.status
    }

    /// `runner compare --from DIR…`: one comparison of the runs in comparison folders written by
    /// other machines or shards. Folders of one batch merge in the batch's order, and points that
    /// no folder ran are listed as missing; folders of different batches are put one after another.
    public static func merge(_ folders: [String], options: BatchOptions, console: Console) throws -> BatchStatus {
        let parts = try folders.map(Comparison.read(folder:))
        guard let first = parts.first else { throw ExperimentError(message: "--from needs at least one comparison folder") }
        func key(_ row: ComparisonRow) -> String { row.experimentSHA256 ?? "invalid " + row.file }
        var found: [String: ComparisonRow] = [:]
        var order: [String] = []
        for row in parts.flatMap(\.rows) {
            let k = key(row)
            if let known = found[k] {
                // A run that finished beats one that did not (two shards of overlapping batches).
                if known.status.completed || !row.status.completed { continue }
            } else {
                order.append(k)
            }
            found[k] = row
        }
        let sameBatch = Set(parts.map(\.batch.sha256)).count == 1
        var batch = first.batch
        var rows: [ComparisonRow]
        if sameBatch {
            rows = first.batch.points.map { point in
                if let hash = point.experimentSHA256 { return found[hash] ?? ComparisonRow(missing: point) }
                return parts.flatMap(\.rows).first { $0.index == point.index && $0.experimentSHA256 == nil }
                    ?? ComparisonRow(missing: point)
            }
        } else {
            rows = order.enumerated().map { i, k in
                var row = found[k]!
                row.index = i
                return row
            }
            batch.points = rows.map { .init(index: $0.index, label: $0.label, experimentSHA256: $0.experimentSHA256) }
            batch.slug = Batch.slug(parts.map(\.batch.slug))
            batch.files = parts.flatMap(\.batch.files).reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
            batch.sha256 = experimentHash(batch.points.map { $0.experimentSHA256 ?? $0.label }.joined(separator: "\n"))
        }
        batch.shard = nil
        batch.mergedFrom = folders
        let folder = options.output ?? (options.resultsDirectory as NSString).appendingPathComponent("comparisons/" + batch.slug)
        console.line("Merged \(parts.count) comparison folder\(parts.count == 1 ? "" : "s") "
                     + (sameBatch ? "of batch \(batch.slug) (\(batch.points.count) runs)" : "of different batches"))
        let comparison = Comparison(batch: batch, rows: rows, sort: options.sort, onlyChanged: options.onlyChanged)
        try finish(comparison, folder: folder, console: console)
        return comparison.status
    }

    private static func finish(_ comparison: Comparison, folder: String, console: Console) throws {
        try comparison.write(to: folder)
        console.result(comparison.consoleText())
        console.result("\nComparison: \(folder)/ (comparison.json, comparison.csv, comparison.md, comparison.ipynb)")
        console.result("Report: \((folder as NSString).appendingPathComponent("comparison.html"))")
    }
}

extension Comparison {
    /// failed if any run did not finish; missedExpectations if any finished run missed them.
    var status: BatchStatus {
        if rows.contains(where: { !$0.status.completed }) { return .failed }
        if rows.contains(where: \.missedExpectations) { return .missedExpectations }
        return .passed
    }
}

extension ComparisonRow {
    /// A point of the batch that none of the merged folders has.
    init(missing point: Comparison.BatchInfo.PointInfo) {
        index = point.index
        label = point.label
        group = point.label
        name = point.label
        file = ""
        status = .missing
        experimentSHA256 = point.experimentSHA256
        error = "no merged folder has this run (a shard not merged, or not run yet?)"
        settings = []
    }
}

/// One batch's bookkeeping: which points are reused, which run, the rows so far.
private struct Session {
    enum Start { case fresh, resume(String) }
    struct Task {
        let point: Batch.Point
        let position: Int
        var start: Start
    }

    let options: BatchOptions
    let folder: String
    let console: Console
    let total: Int
    var rows: [Int: ComparisonRow] = [:]
    var queue: [Task] = []
    var interrupted = false
    private var runFolders: [String: RunFolders] = [:]

    init(options: BatchOptions, folder: String, console: Console, total: Int) {
        self.options = options
        self.folder = folder
        self.console = console
        self.total = total
    }

    func resultsRoot(_ point: Batch.Point) -> String {
        (options.resultsDirectory as NSString).appendingPathComponent(point.name)
    }

    func pointFile(_ point: Batch.Point) -> String {
        (folder as NSString).appendingPathComponent("points/\(point.name)-\(point.hash.prefix(12)).yaml")
    }

    func logFile(_ point: Batch.Point) -> String {
        (folder as NSString).appendingPathComponent("logs/\(point.name)-\(point.hash.prefix(12)).log")
    }

    func say(_ position: Int, _ label: String, _ text: String) {
        console.line("[\(position)/\(total)] \(label): \(text)")
    }

    /// Reuses a finished run, queues a resume or a fresh run, or records an invalid file.
    mutating func prepare(_ entry: Batch.Entry, position: Int) {
        switch entry {
        case .invalid(let invalid):
            let base = ((invalid.file as NSString).lastPathComponent as NSString).deletingPathExtension
            let log = (folder as NSString).appendingPathComponent("logs/\(base).log")
            try? Data((invalid.error + "\n").utf8).write(to: URL(fileURLWithPath: log))
            let row = ComparisonRow(invalid, log: log)
            rows[invalid.index] = row
            console.result("✗ [\(position)/\(total)] \(row.label): invalid — \(row.error ?? "") (log: \(log))")
        case .point(let point):
            do {
                try Data(point.yaml.utf8).write(to: URL(fileURLWithPath: pointFile(point)), options: .atomic)
            } catch {
                fail(point, position: position, "cannot write \(pointFile(point)): \(error)")
                return
            }
            let known = folders(point.name)
            if let done = known.finished[point.hash] {
                record(point, position: position, .reused, done)
            } else if let diverged = known.diverged[point.hash] {
                // Run again, the same experiment diverges at the same step.
                recordDiverged(point, position: position, diverged, reused: true)
            } else if let directory = known.interrupted[point.hash]?.first {
                queue.append(Task(point: point, position: position, start: .resume(directory)))
            } else {
                queue.append(Task(point: point, position: position, start: .fresh))
            }
        }
    }

    private mutating func folders(_ name: String, rescan: Bool = false) -> RunFolders {
        if !rescan, let known = runFolders[name] { return known }
        let found = RunFolders(root: (options.resultsDirectory as NSString).appendingPathComponent(name),
                               earlier: runFolders[name])
        runFolders[name] = found
        return found
    }

    private mutating func record(_ point: Batch.Point, position: Int, _ status: ComparisonRow.Status,
                                 _ run: RunFolders.Finished, seconds: Double? = nil) {
        var row = ComparisonRow(point, status: status)
        row.results = run.figures
        row.runDirectory = run.directory
        row.expect = ExpectationResult(point.expect, figures: run.figures)
        if status != .reused { row.log = logFile(point) }
        rows[point.index] = row
        let figures = "test accuracy \(Format.percent(run.figures.testAccuracy)), loss \(Format.fixed(run.figures.testLoss, 4))"
        let verb = status == .reused ? "reused \(run.directory)" : "\(status.rawValue) in \(Format.fixed(seconds ?? 0, 1)) s"
        if row.missedExpectations {
            console.result("✗ [\(position)/\(total)] \(point.label): \(verb) — \(figures) — MISSED "
                           + (row.expect?.missed.map(\.description).joined(separator: "; ") ?? ""))
        } else {
            say(position, point.label, "\(verb) — \(figures)")
        }
    }

    private mutating func recordDiverged(_ point: Batch.Point, position: Int, _ run: RunFolders.Diverged, reused: Bool) {
        var row = ComparisonRow(point, status: .diverged)
        row.runDirectory = run.directory
        row.error = run.error.split(separator: "\n").first.map(String.init)
        if !reused { row.log = logFile(point) }
        rows[point.index] = row
        console.result("✗ [\(position)/\(total)] \(point.label): diverged\(reused ? " (\(run.directory), not run again)" : "")"
                       + " — \(row.error ?? "")")
    }

    private mutating func fail(_ point: Batch.Point, position: Int, _ error: String,
                               status: ComparisonRow.Status = .failed) {
        var row = ComparisonRow(point, status: status)
        row.log = logFile(point)
        row.error = error
        rows[point.index] = row
        console.result("✗ [\(position)/\(total)] \(point.label): \(status.rawValue) — \(error) (log: \(logFile(point)))")
    }

    /// Runs the queue, `options.jobs` at a time, until it is empty or the batch stops.
    mutating func runQueue() {
        let children = Children()
        children.watchSignals()
        defer { children.stopWatchingSignals() }
        var running: [pid_t: (task: Task, started: Double)] = [:]
        var pending = queue[...]
        // An invalid file or a reused run that misses its expectations is already a failure.
        if options.failFast, !pending.isEmpty, rows.values.contains(where: { !$0.status.completed || $0.missedExpectations }) {
            console.result("--fail-fast: not starting any run")
            children.stop()
        }
        while true {
            while running.count < options.jobs, let task = pending.first, !children.stopping {
                pending = pending.dropFirst()
                guard let task = ready(task) else { continue }
                let arguments: [String]
                switch task.start {
                case .fresh:
                    arguments = ["run", pointFile(task.point), "--results-dir", options.resultsDirectory]
                case .resume(let directory):
                    arguments = ["resume", directory, "--experiment", pointFile(task.point)]
                }
                let all = arguments + ["--threads", String(options.threadsPerRun)]
                    + (options.dataDirectory.map { ["--data-dir", $0] } ?? [])
                let log = logFile(task.point)
                let header = "\n=== \(ISO8601DateFormatter().string(from: Date())): runner \(all.joined(separator: " ")) ===\n"
                if let handle = FileHandle(forWritingAtPath: log) ?? (FileManager.default.createFile(atPath: log, contents: nil)
                    ? FileHandle(forWritingAtPath: log) : nil) {
                    handle.seekToEndOfFile()
                    handle.write(Data(header.utf8))
                    try? handle.close()
                }
                do {
                    guard let pid = try children.spawn(options.executable, all, log: log) else {
                        pending = [task] + pending  // the batch is stopping: not started
                        break
                    }
                    running[pid] = (task, monotonicSeconds())
                    if case .resume(let directory) = task.start {
                        say(task.position, task.point.label, "resuming \(directory) from its checkpoint (log: \(log))")
                    } else {
                        say(task.position, task.point.label, "started (log: \(log))")
                    }
                } catch {
                    fail(task.point, position: task.position, "cannot start \(options.executable): \(error)")
                }
            }
            if running.isEmpty { break }
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid == -1 {
                if errno == EINTR { continue }
                break
            }
            guard let (task, started) = running.removeValue(forKey: pid) else { continue }
            children.reaped(pid)
            finished(task, status: status, seconds: monotonicSeconds() - started)
            if options.failFast, let row = rows[task.point.index], !row.status.completed || row.missedExpectations {
                console.result("--fail-fast: stopping the batch (running runs checkpoint and stop; run the batch again to resume them)")
                children.stop()
            }
        }
        interrupted = children.signalled
        for task in pending {
            var row = ComparisonRow(task.point, status: .skipped)
            row.error = interrupted ? "the batch was interrupted first" : "the batch stopped first (--fail-fast)"
            rows[task.point.index] = row
        }
    }

    /// A task whose run folder another process still holds waits for it; if that run has
    /// finished meanwhile, it is reused instead (nil).
    private mutating func ready(_ task: Task) -> Task? {
        guard case .resume(let directory) = task.start else { return task }
        if RunLock.isHeld(directory) {
            say(task.position, task.point.label, "waiting: \(directory) is still in use by another process")
            let deadline = monotonicSeconds() + 120
            while RunLock.isHeld(directory) && monotonicSeconds() < deadline { usleep(200_000) }
            if RunLock.isHeld(directory) {
                fail(task.point, position: task.position, "\(directory) is still in use by another process")
                return nil
            }
        }
        if let done = folders(task.point.name, rescan: true).finished[task.point.hash] {
            record(task.point, position: task.position, .reused, done)
            return nil
        }
        return task
    }

    private mutating func finished(_ task: Task, status: Int32, seconds: Double) {
        let signal = status & 0x7f, code = (status >> 8) & 0xff
        let resumed: Bool
        if case .resume = task.start { resumed = true } else { resumed = false }
        if signal == 0 && (code == 0 || code == 3) {
            if let done = folders(task.point.name, rescan: true).finished[task.point.hash] {
                record(task.point, position: task.position, resumed ? .resumed : .trained, done, seconds: seconds)
            } else {
                fail(task.point, position: task.position, "the run ended without a report.json of experiment \(task.point.hash.prefix(12))")
            }
        } else if (signal == 0 && code == 130) || signal == SIGTERM || signal == SIGINT {
            fail(task.point, position: task.position, "stopped; running the batch again resumes it from its checkpoint",
                 status: .interrupted)
        } else if signal == 0, let diverged = folders(task.point.name, rescan: true).diverged[task.point.hash] {
            recordDiverged(task.point, position: task.position, diverged, reused: false)
        } else {
            let how = signal == 0 ? "exit \(code)" : "killed by signal \(signal)"
            fail(task.point, position: task.position, how + (lastError(logFile(task.point)).map { ": " + $0 } ?? ""))
        }
    }

    /// The last line of a log that says "error", else its last line.
    private func lastError(_ log: String) -> String? {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (lines.last { $0.contains("error") } ?? lines.last).map { String($0.prefix(300)) }
    }
}

/// The batch's child processes: started with posix_spawn (own process group, default signal
/// handling, output to the log), stopped with one SIGTERM each.
private final class Children: @unchecked Sendable {  // all state is guarded by `lock`
    private let lock = NSLock()
    private var pids: Set<pid_t> = []
    private var stopped = false
    private var signal: Int32?
    private var sources: [DispatchSourceSignal] = []

    var stopping: Bool { lock.withLock { stopped } }
    var signalled: Bool { lock.withLock { signal != nil } }

    /// SIGINT/SIGTERM to the batch: stop starting runs, and pass one SIGTERM to each child.
    func watchSignals() {
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                let first = self.lock.withLock { () -> Bool in
                    if self.signal != nil { return false }
                    self.signal = number
                    return true
                }
                if first {
                    let name = number == SIGINT ? "SIGINT" : "SIGTERM"
                    FileHandle.standardError.write(Data(("\n\(name): stopping the batch; running runs write a checkpoint "
                        + "and stop (run the batch again to resume them)\n").utf8))
                    self.stop()
                } else {
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    func stopWatchingSignals() {
        for source in sources { source.cancel() }
        sources = []
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }

    func stop() {
        lock.withLock {
            guard !stopped else { return }
            stopped = true
            for pid in pids { kill(pid, SIGTERM) }
        }
    }

    func reaped(_ pid: pid_t) { lock.withLock { _ = pids.remove(pid) } }

    /// Starts `executable arguments…` with stdout and stderr appended to `log`; nil when the batch
    /// is stopping (checked under the same lock that `stop` sends SIGTERM under).
    func spawn(_ executable: String, _ arguments: [String], log: String) throws -> pid_t? {
        try lock.withLock {
            if stopped { return nil }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var defaults = sigset_t(), mask = sigset_t()
            sigemptyset(&defaults)
            for number in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, number) }
            sigemptyset(&mask)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setsigmask(&attributes, &mask)
            posix_spawnattr_setpgroup(&attributes, 0)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

            var environment = ProcessInfo.processInfo.environment
            environment["RUNNER_BATCH_PARENT"] = String(getpid())
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                for p in argv { free(p) }
                for p in envp { free(p) }
            }
            var pid: pid_t = 0
            let error = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            guard error == 0 else {
                throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(error))])
            }
            pids.insert(pid)
            return pid
        }
    }
}
