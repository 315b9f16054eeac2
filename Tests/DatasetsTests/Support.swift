// The Datasets tests' fixtures: hand-built IDX files, links to the real MNIST files, a log
// recorder, and a local HTTP server (python3 -m http.server) standing in for a mirror.
import Datasets
import Foundation
import TestSupport

enum Fixtures {
    static let mnistFiles = Catalog.mnist.files.map(\.name)

    static let fashionSystemDirectory = "/usr/share/datasets/fashion-mnist"
    static let hasSystemFashion = FileManager.default.fileExists(
        atPath: fashionSystemDirectory + "/train-images-idx3-ubyte.gz")

    /// An IDX file: header (0, 0, type, rank, dims big-endian) then `values`, by default
    /// product(dims) bytes of a simple pattern.
    static func idx(type: UInt8 = 0x08, dims: [Int], values: [UInt8]? = nil) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, type, UInt8(dims.count)]
        for d in dims {
            bytes += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                      UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
        }
        let count = dims.reduce(1, *)
        return bytes + (values ?? (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
    }

    /// Symlinks the four real MNIST .gz files into `directory` (created if needed), except `skip`.
    static func linkMNIST(into directory: String, skipping skip: Set<String> = []) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in mnistFiles where !skip.contains(name) {
            try FileManager.default.createSymbolicLink(atPath: directory + "/\(name).gz",
                                                       withDestinationPath: TestPaths.mnist + "/\(name).gz")
        }
    }

    /// The decompressed content of one real MNIST file.
    static func mnistContent(_ name: String) throws -> [UInt8] {
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestPaths.mnist + "/\(name).gz")))
        return try Gzip.decompress(gz, name: name)
    }
}

func write(_ bytes: [UInt8], to path: String) throws {
    try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                            withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Everything in `directory` (hidden files included), sorted; empty if it does not exist.
func listing(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// Collects a locator's log lines from any thread.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    var lines: [String] { lock.withLock { storage } }
    var text: String { lines.joined(separator: "\n") }

    var sink: @Sendable (String) -> Void {
        { [self] line in lock.withLock { storage.append(line) } }
    }
}

/// `python3 -m http.server` on 127.0.0.1 serving `directory`, on a port the OS picks (port 0;
/// the server prints the real one). Call `stop()` in a `defer`.
final class LocalHTTPServer {
    let process = Process()
    private(set) var port = 0
    var baseURL: String { "http://127.0.0.1:\(port)/" }

    /// The interpreter itself, not a launcher script (pyenv shims), so that `terminate()` reaches
    /// the server process.
    static let python: String = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
        let out = Pipe()
        probe.standardOutput = out
        guard (try? probe.run()) != nil else { return "/usr/bin/python3" }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        probe.waitUntilExit()
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? "/usr/bin/python3" : path
    }()

    init(directory: String) throws {
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let printed = LogRecorder()
        let sink = printed.sink
        out.fileHandleForReading.readabilityHandler = { handle in
            sink(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let deadline = Date().addingTimeInterval(30)
        while port == 0, process.isRunning, Date() < deadline {
            let text = printed.text
            if let range = text.range(of: #"port (\d+)"#, options: .regularExpression) {
                port = Int(text[range].dropFirst(5)) ?? 0
            } else {
                usleep(20_000)
            }
        }
        out.fileHandleForReading.readabilityHandler = nil
        guard port != 0 else {
            stop()
            throw ServerError(message: "http.server did not report a port: \(printed.text)")
        }
        // It prints after listen(), but wait until a connection is accepted to be sure.
        while !Self.acceptsConnections(port: port) {
            guard Date() < deadline else {
                stop()
                throw ServerError(message: "http.server on port \(port) does not accept connections")
            }
            usleep(20_000)
        }
    }

    /// SIGKILL, not `terminate()`: the child inherits the test runner's signal mask, in which
    /// SIGTERM is blocked, so a SIGTERM would leave the server running and `waitUntilExit` hanging.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    struct ServerError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    private static func acceptsConnections(port: Int) -> Bool {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}
