// One process at a time in a run folder. A run holds an exclusive flock(2) on <run>/.lock while
// it trains and writes; the kernel drops it when the process ends, however it ends (kill -9
// included), so a lock never outlives its run. `runner compare` uses it to tell an interrupted
// run (resume it) from one that is still going in another process (wait).
import Foundation

final class RunLock {
    private let fd: Int32

    /// Takes the lock of `directory`, or throws when another process holds it.
    init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(".lock")
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw ExperimentError(message: "run \(directory) is in use by another process"
                                      + (holder.map { $0.isEmpty ? "" : " (pid \($0))" } ?? ""),
                                  hint: "wait for it to finish or stop it (it writes a checkpoint on SIGTERM), then resume")
        }
        let pid = Data("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    deinit { close(fd) }

    /// Whether some process holds the lock of `directory` now.
    static func isHeld(_ directory: String) -> Bool {
        let fd = open((directory as NSString).appendingPathComponent(".lock"), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }
}
