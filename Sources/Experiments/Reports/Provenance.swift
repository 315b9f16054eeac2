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
        case openblasCore = "openblas_core", cpu, cores, cpusOnline = "cpus_online"
        case cpusLimitedBy = "cpus_limited_by", threads, os
    }

    public static func current(threads: Int) -> Provenance {
        let cpus = CPUAllowance.current()
        return Provenance(runnerCommit: commit, swift: swiftVersion, openblasConfig: BLAS.config,
                          openblasCore: BLAS.coreName, cpu: cpuModel(), cores: cpus.usable,
                          cpusOnline: cpus.online, cpusLimitedBy: cpus.limitedBy,
                          threads: threads, os: ProcessInfo.processInfo.operatingSystemVersionString)
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

/// Peak resident memory of this process so far, in bytes (getrusage's ru_maxrss).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(Linux)
    return Int(usage.ru_maxrss) * 1024
    #else
    return Int(usage.ru_maxrss)
    #endif
}
