// Finding a dataset's files the way Keras and torchvision do — the user's directory, then the
// cache, then a system-wide install, then a download into the cache — and verifying whatever is
// found against the catalog before anything uses it.
import Foundation

/// Finds, verifies and loads catalog datasets.
///
/// Search order; the first directory holding all four files (each as `<file>.gz` or `<file>`) wins:
/// 1. `explicitDirectory` itself, then `explicitDirectory/<name>/` (if set, it must exist);
/// 2. `cacheDirectory/datasets/<name>/`;
/// 3. `systemRoot/<name>/` (Debian's `dataset-fashion-mnist` installs `/usr/share/datasets/fashion-mnist/`);
/// 4. a download from the mirrors into `cacheDirectory/datasets/<name>/`, if `allowDownload`.
/// The files found are always checked against the catalog's SHA-256; a mismatch is an error, never
/// a reason to look further.
public struct DatasetLocator: Sendable {
    /// The user's data directory (`--data-dir`); nil to skip that step.
    public var explicitDirectory: String?
    /// The runner's cache root; datasets live in `<cacheDirectory>/datasets/<name>/`.
    public var cacheDirectory: String
    /// Root of system-wide installs, searched as `<systemRoot>/<name>/`.
    public var systemRoot: String
    /// Base URLs to download from, in order; nil uses the catalog's mirrors.
    public var mirrors: [String]?
    /// When false, a dataset found nowhere is an error instead of a download.
    public var allowDownload: Bool
    /// Seconds without progress before a download is abandoned (the whole transfer gets 10×).
    public var downloadTimeout: Double
    /// Receives progress lines: where the data was found, downloads, verification.
    public var log: @Sendable (String) -> Void

    public init(explicitDirectory: String? = nil,
                cacheDirectory: String = DatasetLocator.defaultCacheDirectory(),
                systemRoot: String = "/usr/share/datasets",
                mirrors: [String]? = nil,
                allowDownload: Bool = true,
                downloadTimeout: Double = 60,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.explicitDirectory = explicitDirectory
        self.cacheDirectory = cacheDirectory
        self.systemRoot = systemRoot
        self.mirrors = mirrors
        self.allowDownload = allowDownload
        self.downloadTimeout = downloadTimeout
        self.log = log
    }

    /// `$RUNNER_CACHE_DIR`, else `$XDG_CACHE_HOME/mnist-runner`, else `~/.cache/mnist-runner`.
    /// Empty variables count as unset, and a relative `XDG_CACHE_HOME` is ignored (XDG spec).
    public static func defaultCacheDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let dir = environment["RUNNER_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/mnist-runner" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/mnist-runner"
    }

    /// The mirror list from `$RUNNER_DATASET_MIRRORS` (base URLs separated by spaces or commas),
    /// or nil when it is unset or empty, meaning "use the catalog's".
    public static func mirrors(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String]? {
        guard let value = environment["RUNNER_DATASET_MIRRORS"] else { return nil }
        let urls = value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" }).map(String.init)
        return urls.isEmpty ? nil : urls
    }

    /// Where downloads of `name` go and where step 2 looks.
    public func cacheDirectory(for name: String) -> String {
        cacheDirectory + "/datasets/" + name
    }

    /// Finds the dataset's directory (downloading if needed and allowed) without reading the files.
    public func locate(_ name: String) throws(DatasetError) -> DataSource {
        try locate(Catalog.entry(named: name))
    }

    /// Finds, verifies and loads the dataset called `name`.
    public func load(_ name: String) throws(DatasetError) -> Dataset {
        let entry = try Catalog.entry(named: name)
        let source = try locate(entry)
        log("\(entry.name): using \(source.directory) (\(source.origin.rawValue))")
        return try Self.load(entry, from: source, log: log)
    }

    func locate(_ entry: CatalogEntry) throws(DatasetError) -> DataSource {
        var searched: [String] = []
        if let explicit = explicitDirectory {
            guard FileIO.isDirectory(explicit) else { throw .directoryNotFound(path: explicit) }
            for candidate in [explicit, explicit + "/" + entry.name] {
                if Self.holdsAllFiles(entry, candidate) { return DataSource(directory: candidate, origin: .explicit) }
                searched.append(candidate)
            }
            log("\(entry.name): not in \(explicit) or \(explicit)/\(entry.name); looking further")
        }
        let cache = cacheDirectory(for: entry.name)
        if Self.holdsAllFiles(entry, cache) { return DataSource(directory: cache, origin: .cache) }
        searched.append(cache)
        let system = systemRoot + "/" + entry.name
        if Self.holdsAllFiles(entry, system) { return DataSource(directory: system, origin: .system) }
        searched.append(system)

        guard allowDownload else { throw .notFound(name: entry.name, searched: searched) }
        let mirrors = self.mirrors ?? entry.mirrors
        // Files already in the cache (from an interrupted earlier download) are kept; they are
        // verified with the rest when loading.
        for file in entry.files where Self.path(of: file, in: cache) == nil {
            _ = try Download.fetch(file, mirrors: mirrors, into: cache, timeout: downloadTimeout, log: log)
        }
        return DataSource(directory: cache, origin: .downloaded)
    }

    /// `<directory>/<file>.gz` or `<directory>/<file>`, whichever exists (the .gz first).
    static func path(of file: CatalogFile, in directory: String) -> String? {
        let base = directory + "/" + file.name
        return [base + ".gz", base].first(where: FileIO.isFile)
    }

    static func holdsAllFiles(_ entry: CatalogEntry, _ directory: String) -> Bool {
        entry.files.allSatisfy { path(of: $0, in: directory) != nil }
    }

    /// Reads the four files from `source.directory`, checks each one's decompressed SHA-256 before
    /// parsing it, and pairs images with labels. The files are read on as many threads as there
    /// are files: the training images (47 MB decompressed, ~0.2 s of inflate) on one while the
    /// other three take their turn on another. A failure is reported for the first failing file in
    /// catalog order, as reading them one after the other would.
    static func load(_ entry: CatalogEntry, from source: DataSource,
                     log: @Sendable (String) -> Void) throws(DatasetError) -> Dataset {
        let started = ContinuousClock.now
        let files = entry.files
        var results = [Result<(IDXArray, VerifiedFile), DatasetError>?](repeating: nil, count: files.count)
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let slots = buffer      // each task writes only its own slot
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                slots[i] = Result { () throws(DatasetError) in try readVerified(files[i], in: source.directory) }
            }
        }
        var arrays: [IDXArray] = []
        var verified: [VerifiedFile] = []
        for result in results {
            let (array, file) = try result!.get()
            arrays.append(array)
            verified.append(file)
        }
        let classes = entry.classNames.count
        let train = try ImageSet(images: arrays[0], labels: arrays[1], classCount: classes)
        let test = try ImageSet(images: arrays[2], labels: arrays[3], classCount: classes)
        let total = verified.reduce(0) { $0 + $1.bytes }
        log("\(entry.name): read and verified sha256 of \(verified.count) files (\(megabytes(total))) in \(seconds(since: started))")
        return Dataset(name: entry.name, classNames: entry.classNames, train: train, test: test,
                       source: source, files: verified)
    }

    /// One catalog file from `directory` (.gz or not), its decompressed SHA-256 checked, parsed.
    static func readVerified(_ file: CatalogFile, in directory: String) throws(DatasetError) -> (IDXArray, VerifiedFile) {
        guard let path = path(of: file, in: directory) else {
            throw .unreadable(path: directory + "/" + file.name + "[.gz]", reason: "no such file")
        }
        let (content, compressed) = try IDX.decompressIfNeeded(FileIO.read(path), name: path)
        let found = Checksum.sha256(content)
        // A matching hash proves the content is the canonical file, so the header checks
        // below can only fail for a wrong catalog entry; a mismatch is reported as such.
        guard found == file.sha256 else {
            throw .checksumMismatch(path: path, expected: file.sha256, found: found)
        }
        return (try IDX.parseDecompressed(content, name: path, sha256: found, compressed: compressed),
                VerifiedFile(name: file.name, path: path, sha256: found, bytes: content.count))
    }
}
