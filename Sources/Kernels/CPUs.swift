// How many CPUs this process may use: the default thread count follows the machine as the process
// sees it — a Slurm cpuset, `taskset`, `docker --cpus`, a Kubernetes CPU limit — not the count of
// CPUs online, which oversubscribes a process confined to fewer.
import Foundation

public struct CPUAllowance: Sendable, Equatable {
    /// CPUs the kernel reports online (`sysconf(_SC_NPROCESSORS_ONLN)`).
    public var online: Int
    /// CPUs in this process's affinity mask (`sched_getaffinity`), if it could be read.
    public var affinity: Int?
    /// The cgroup CPU quota in CPUs (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`),
    /// rounded up, if one is set on this process's cgroup or an ancestor.
    public var quota: Int?

    /// What the process may use: the smallest of the three, at least 1.
    public var usable: Int { max(1, min(online, affinity ?? online, quota ?? online)) }

    /// What limits `usable`, for messages: "CPU affinity", "cgroup CPU quota" or nil (none).
    public var limitedBy: String? {
        if let quota, quota < min(online, affinity ?? online) { return "cgroup CPU quota" }
        if let affinity, affinity < online { return "CPU affinity" }
        return nil
    }

    public init(online: Int, affinity: Int?, quota: Int?) {
        self.online = online
        self.affinity = affinity
        self.quota = quota
    }

    /// This process, now.
    public static func current() -> CPUAllowance {
        CPUAllowance(online: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))),
                     affinity: affinityCount(), quota: CgroupQuota.read())
    }

    /// The calling thread's affinity mask as the kernel lists it (`Cpus_allowed_list` in
    /// /proc/thread-self/status: what `sched_getaffinity` returns, which Glibc's Swift module does
    /// not export), counted.
    public static func affinityCount() -> Int? {
        for file in ["/proc/thread-self/status", "/proc/self/status"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
                return cpuListCount(String(line.dropFirst("Cpus_allowed_list:".count)))
            }
        }
        return nil
    }

    /// A kernel CPU list ("0-3,8,10-11") → how many CPUs it names; nil if it does not parse.
    public static func cpuListCount(_ list: String) -> Int? {
        var count = 0
        for range in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let ends = range.split(separator: "-").map { Int($0) }
            switch ends.count {
            case 1: guard ends[0] != nil else { return nil }; count += 1
            case 2: guard let a = ends[0], let b = ends[1], b >= a else { return nil }; count += b - a + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }
}

/// The CPU quota of this process's cgroups, v2 and v1: the tightest along the path from the
/// process's cgroup up to the root (a limit on a parent applies to its children).
public enum CgroupQuota {
    public static func read(root: String = "/sys/fs/cgroup",
                     membership: String? = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) -> Int? {
        guard let membership else { return nil }
        var tightest: Double?
        func consider(_ cpus: Double?) {
            if let cpus, cpus > 0 { tightest = min(tightest ?? cpus, cpus) }
        }
        for (controllers, path) in entries(membership) {
            if controllers.isEmpty {
                // v2: one hierarchy, mounted at the root (or at root/unified on hybrid systems).
                for base in [root, root + "/unified"] {
                    for directory in ancestors(base, path) {
                        consider(cpuMaxV2(try? String(contentsOfFile: directory + "/cpu.max", encoding: .utf8)))
                    }
                }
            } else if controllers.contains("cpu") {
                for name in ["cpu", "cpu,cpuacct", "cpuacct,cpu"] {
                    for directory in ancestors(root + "/" + name, path) {
                        consider(cfsV1(quota: try? String(contentsOfFile: directory + "/cpu.cfs_quota_us", encoding: .utf8),
                                       period: try? String(contentsOfFile: directory + "/cpu.cfs_period_us", encoding: .utf8)))
                    }
                }
            }
        }
        return tightest.map { Int($0.rounded(.up)) }
    }

    /// `/proc/self/cgroup` lines `id:controllers:path` → (controllers, path).
    static func entries(_ text: String) -> [(controllers: [String], path: String)] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            let controllers = parts[1].split(separator: ",").map(String.init)
            return (controllers, String(parts[2]))
        }
    }

    /// `base/a/b/c`, `base/a/b`, `base/a`, `base` for the path `/a/b/c`.
    static func ancestors(_ base: String, _ path: String) -> [String] {
        var components = path.split(separator: "/").map(String.init)
        var result: [String] = []
        while true {
            result.append(([base] + components).joined(separator: "/"))
            if components.isEmpty { return result }
            components.removeLast()
        }
    }

    /// cgroup v2 `cpu.max`: "max 100000" (no limit) or "<quota> <period>" → CPUs.
    static func cpuMaxV2(_ text: String?) -> Double? {
        guard let fields = text?.split(whereSeparator: { $0 == " " || $0 == "\n" }), fields.count >= 2,
              let quota = Double(fields[0]), let period = Double(fields[1]), period > 0 else { return nil }
        return quota / period
    }

    /// cgroup v1: `cpu.cfs_quota_us` (-1: no limit) over `cpu.cfs_period_us` → CPUs.
    static func cfsV1(quota: String?, period: String?) -> Double? {
        guard let quota = quota.flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), quota > 0,
              let period = period.flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), period > 0
        else { return nil }
        return quota / period
    }
}
