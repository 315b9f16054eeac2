// The default thread count follows what the process may use: affinity and cgroup quotas.
import Foundation
import Kernels
import Testing

@Suite("CPUs the process may use")
struct CPUsTests {
    @Test("the smallest of online CPUs, affinity and quota; what limits it")
    func usable() {
        #expect(CPUAllowance(online: 8, affinity: nil, quota: nil).usable == 8)
        #expect(CPUAllowance(online: 8, affinity: 2, quota: nil).usable == 2)
        #expect(CPUAllowance(online: 8, affinity: 2, quota: nil).limitedBy == "CPU affinity")
        #expect(CPUAllowance(online: 8, affinity: 8, quota: 3).usable == 3)
        #expect(CPUAllowance(online: 8, affinity: 8, quota: 3).limitedBy == "cgroup CPU quota")
        #expect(CPUAllowance(online: 2, affinity: 2, quota: 4).usable == 2)
        #expect(CPUAllowance(online: 2, affinity: 2, quota: 4).limitedBy == nil)
    }

    @Test("cgroup v2 cpu.max and v1 cfs quotas, the tightest along the path, rounded up")
    func cgroupFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        // v2: the job's limit 1.5 CPUs under a parent limited to 4: 2 CPUs.
        try write(root + "/cpu.max", "max 100000\n")
        try write(root + "/kubepods/cpu.max", "400000 100000\n")
        try write(root + "/kubepods/pod1/cpu.max", "150000 100000\n")
        #expect(CgroupQuota.read(root: root, membership: "0::/kubepods/pod1\n") == 2)
        #expect(CgroupQuota.read(root: root, membership: "0::/\n") == nil)
        // v1 (docker --cpus=1): quota 100000 over period 100000; -1 is no limit.
        try write(root + "/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "100000\n")
        try write(root + "/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
        try write(root + "/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
        try write(root + "/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
        #expect(CgroupQuota.read(root: root, membership: "4:cpu,cpuacct:/docker/abc\n1:memory:/x\n") == 1)
        #expect(CgroupQuota.read(root: root, membership: "4:cpu,cpuacct:/\n") == nil)
        // No membership file: no quota.
        #expect(CgroupQuota.read(root: root, membership: nil) == nil)
    }

    @Test("kernel CPU lists are counted: Cpus_allowed_list of a taskset/Slurm-confined process")
    func cpuLists() {
        #expect(CPUAllowance.cpuListCount("0") == 1)
        #expect(CPUAllowance.cpuListCount("0-1\n") == 2)
        #expect(CPUAllowance.cpuListCount("0-3,8,10-11") == 7)
        #expect(CPUAllowance.cpuListCount("") == nil)
        #expect(CPUAllowance.cpuListCount("3-1") == nil)
        #expect(CPUAllowance.cpuListCount("x") == nil)
        // This process's own list is readable and within the online count.
        let own = CPUAllowance.affinityCount()
        #expect(own != nil && own! >= 1 && own! <= CPUAllowance.current().online)
    }
}
