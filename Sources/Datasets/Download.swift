// Fetching missing dataset files from mirrors into the cache. A file enters the cache only once
// its decompressed SHA-256 matches the catalog, so the cache never holds a partial or wrong file.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

enum Download {
    /// Downloads `file` from the first mirror that serves the right content and stores it as
    /// `<directory>/<name>.gz`. Returns that path. Throws `.downloadFailed` listing every mirror's
    /// failure, or `.fileSystem` if the verified file cannot be stored.
    static func fetch(_ file: CatalogFile, mirrors: [String], into directory: String, timeout: Double,
                      log: @Sendable (String) -> Void) throws(DatasetError) -> String {
        var attempts: [DownloadAttempt] = []
        for base in mirrors {
            let url = (base.hasSuffix("/") ? base : base + "/") + file.name + ".gz"
            log("downloading \(url) …")
            let started = ContinuousClock.now
            let compressed: [UInt8]
            do throws(DatasetError) {
                compressed = try get(url, timeout: timeout)
                // Verify the decompressed bytes: each mirror's gzip wrapper differs, the content must not.
                let content = try Gzip.decompress(compressed, name: url)
                let found = Checksum.sha256(content)
                guard found == file.sha256 else {
                    throw DatasetError.checksumMismatch(path: url, expected: file.sha256, found: found)
                }
                log("  \(megabytes(compressed.count)) in \(seconds(since: started)), "
                    + "\(megabytes(content.count)) decompressed; verified sha256 \(found)")
            } catch {
                log("  failed: \(error.reasonAfterLocation(of: url))")
                attempts.append(DownloadAttempt(url: url, error: error))
                continue
            }
            // Storing is not the mirror's fault: a failure here stops instead of trying the next one.
            try FileIO.createDirectories(directory)
            let path = directory + "/" + file.name + ".gz"
            try FileIO.writeAtomically(compressed, to: path)
            return path
        }
        throw .downloadFailed(file: file.name, attempts: attempts)
    }

    /// A synchronous GET: the whole body, or an error for transport failures and non-2xx statuses.
    /// The loader runs before any training starts, so blocking the calling thread is fine.
    static func get(_ urlString: String, timeout: Double) throws(DatasetError) -> [UInt8] {
        guard let url = URL(string: urlString), url.scheme != nil else {
            throw .network(url: urlString, reason: "not a valid URL")
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout       // idle time between bytes
        configuration.timeoutIntervalForResource = timeout * 10 // whole transfer
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }

        let box = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: url) { data, response, error in
            box.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout * 10 + 5) == .timedOut {
            task.cancel()
            throw .network(url: urlString, reason: "timed out")
        }
        let (data, response, error) = box.get()
        if let error { throw .network(url: urlString, reason: error.localizedDescription) }
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            throw .httpStatus(url: urlString, status: http.statusCode)
        }
        guard let data else { throw .network(url: urlString, reason: "no data received") }
        return [UInt8](data)
    }

    /// Hands the completion handler's values to the waiting thread.
    private final class ResponseBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value: (Data?, URLResponse?, (any Error)?) = (nil, nil, nil)

        func set(data: Data?, response: URLResponse?, error: (any Error)?) {
            lock.withLock { value = (data, response, error) }
        }

        func get() -> (Data?, URLResponse?, (any Error)?) {
            lock.withLock { value }
        }
    }
}

func megabytes(_ bytes: Int) -> String {
    let mb = Double(bytes) / 1_000_000
    return mb >= 0.1 ? "\((mb * 10).rounded() / 10) MB" : "\(bytes) bytes"
}

func seconds(since start: ContinuousClock.Instant) -> String {
    let d = ContinuousClock.now - start
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    return "\((s * 100).rounded() / 100) s"
}
