// The few file-system operations the module needs, with errors as DatasetError: whole-file reads,
// existence checks that follow symlinks, and the durable write-then-rename used for downloads.
import Foundation

public enum FileIO {
    /// The whole file. POSIX rather than `Data(contentsOf:)` so errors carry errno's text.
    public static func read(_ path: String) throws(DatasetError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .unreadable(path: path, reason: errnoText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        var failure: String? = nil
        bytes.withUnsafeMutableBytes { buffer in
            while filled < buffer.count {
                let n = Foundation.read(fd, buffer.baseAddress! + filled, buffer.count - filled)
                if n > 0 { filled += n; continue }
                if n == 0 { break }  // the file shrank since fstat: keep what is there
                if errno == EINTR { continue }
                failure = errnoText()
                break
            }
        }
        if let failure { throw .unreadable(path: path, reason: failure) }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return bytes
    }

    public static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// True for a regular file or a symlink to one.
    public static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// `mkdir -p`, with the system's reason when it fails ("Not a directory", "Permission denied").
    public static func createDirectories(_ path: String) throws(DatasetError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            let underlying = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
            let reason = underlying.flatMap { $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : nil }
                ?? error.localizedDescription
            throw .fileSystem(path: path, reason: "cannot create directory: \(reason)")
        }
    }

    /// Writes `bytes` to `path` so that `path` either does not exist or holds all of them, even
    /// after a crash: write a temporary file in the same directory, fsync it, rename it over
    /// `path`, fsync the directory. The temporary file is removed on every failure.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(DatasetError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".partial-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw .fileSystem(path: temporary, reason: "cannot create: \(errnoText())") }
        var failure: String? = nil
        bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n >= 0 { written += n; continue }
                if errno == EINTR { continue }
                failure = "write failed: \(errnoText())"
                return
            }
            if fsync(fd) != 0 { failure = "fsync failed: \(errnoText())" }
        }
        if close(fd) != 0, failure == nil { failure = "close failed: \(errnoText())" }
        if failure == nil, rename(temporary, path) != 0 { failure = "rename to \(path) failed: \(errnoText())" }
        if let failure {
            unlink(temporary)
            throw .fileSystem(path: temporary, reason: failure)
        }
        // Make the rename itself durable; failing here loses nothing already verified.
        let dirFD = open(directory, O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
