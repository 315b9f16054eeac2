// Where a result came from: the runner's git commit, the Swift compiler, OpenBLAS's build and
// chosen kernel, the CPU, and the peak memory the run used.
import Foundation
import Kernels

public struct Provenance: Codable, Sendable {
    /// `git rev-parse HEAD` of the runner's source tree, with "-dirty" when it had uncommitted
    /// changes; "unknown" when the source tree is not a git checkout.
    public let runnerCommit: String
    public let swift: String
    public let openblasConfig: String
    public let openblasCore: String
    /// What computes the matrix products (`ProductKernel`): "avx512" or "avx2" (the runner's own
    /// kernels, OpenBLAS unused) or "openblas"; null in reports written before it was recorded.
    public let matrixProducts: String?
    public let cpu: String
    /// CPUs this process may use (affinity mask and cgroup quota: `CPUAllowance`), the default
    /// thread count.
    public let cores: Int
    /// CPUs online on the machine (null in reports written before it was recorded).
    public let cpusOnline: Int?
    /// What makes `cores` smaller than `cpusOnline` ("CPU affinity", "cgroup CPU quota"), or null.
    public let cpusLimitedBy: String?
    public let threads: Int
    public let os: String

    enum CodingKeys: String, CodingKey {
        case runnerCommit = "runner_commit", swift, openblasConfig = "openblas_config"
        case openblasCore = "openblas_core", matrixProducts = "matrix_products", cpu, cores, cpusOnline = "cpus_online"
        case cpusLimitedBy = "cpus_limited_by", threads, os
    }

    public static func current(threads: Int) -> Provenance {
        let cpus = CPUAllowance.current()
        return Provenance(runnerCommit: commit, swift: swiftVersion, openblasConfig: BLAS.config,
                          openblasCore: BLAS.coreName, matrixProducts: ProductKernel.best.rawValue, cpu: cpuModel(), cores: cpus.usable,
                          cpusOnline: cpus.online, cpusLimitedBy: cpus.limitedBy,
                          threads: threads, os: ProcessInfo.processInfo.operatingSystemVersionString)
    }

    /// What computed the products, in words: "own AVX-512 kernels (OpenBLAS's Prescott kernel
    /// unused)", or "OpenBLAS, Prescott kernel".
    public var productsText: String {
        Self.productsText(matrixProducts.flatMap(ProductKernel.init(rawValue:)), openblasCore: openblasCore)
    }

    static func productsText(_ kernel: ProductKernel?, openblasCore: String) -> String {
        switch kernel {
        case .avx512?: "own AVX-512 kernels (OpenBLAS's \(openblasCore) kernel unused)"
        case .avx2?: "own AVX2 kernels (OpenBLAS's \(openblasCore) kernel unused)"
        case .openBLAS?, nil: "OpenBLAS, \(openblasCore) kernel"
        }
    }

    static var swiftVersion: String {
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    /// `runnerCommit()`, asked once.
    static let commit = runnerCommit()

    /// Starts asking git for `commit` on a thread of its own, so the two git processes (~0.1 s
    /// with their start-up) run while the data loads instead of before the first checkpoint.
    /// Whoever reads `commit` first waits for the answer (a static `let` is initialised once).
    static func prefetchCommit() {
        Thread.detachNewThread { _ = commit }
    }

    /// The commit of the source tree this binary was built from (found through #filePath).
    static func runnerCommit() -> String {
        let sourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        guard let head = git(["rev-parse", "HEAD"], in: sourceDirectory), !head.isEmpty else { return "unknown" }
        let status = git(["status", "--porcelain", "--untracked-files=no"], in: sourceDirectory) ?? ""
        return head + (status.isEmpty ? "" : "-dirty")
    }

    private static func git(_ arguments: [String], in directory: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func cpuModel() -> String {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        #endif
        return "unknown"
    }
}

/// Peak resident memory of this process so far, in bytes: on Linux the VmHWM of
/// /proc/self/status, the high-water mark of this program's own memory. getrusage's ru_maxrss is
/// not that: Linux carries it across exec, so a run started by `runner compare` (spawned with
/// vfork) reported at least the batch process's peak — 1.16 GB for every run of the
/// reproductions batch, 134 MB for the same MLP run alone. ru_maxrss where there is no /proc.
public func peakResidentBytes() -> Int {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
        return kilobytes * 1024
    }
    #endif
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}
