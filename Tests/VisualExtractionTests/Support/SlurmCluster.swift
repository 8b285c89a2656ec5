import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A one-node Slurm cluster on this machine, for the tests: its own munged (a private socket and
/// key), slurmctld and slurmd on loopback ports, state and logs in a folder of its own. Debian's
/// packages (`slurmctld slurmd slurm-client munge`, installed by `scripts/setup --test`).
final class SlurmCluster {
    let folder: URL
    let configuration: URL
    /// The daemons, in the foreground (a daemon that forks away keeps the pipe Foundation watches
    /// for its exit, and is never reaped), newest last.
    private var daemons: [pid_t] = []

    static let binaries = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/squeue"]

    /// Whether the Slurm and munge daemons are installed here.
    static var isInstalled: Bool { binaries.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } }

    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// The environment every Slurm command of this cluster runs with.
    var environment: [String: String] { ["SLURM_CONF": configuration.path] }

    init(in folder: URL) throws {
        self.folder = folder
        configuration = folder.appendingPathComponent("slurm.conf")
        for sub in ["munge", "state", "spool", "log"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
    }

    /// A port nothing listens on now (the kernel's pick for an ephemeral bind).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `executable` with this cluster's `SLURM_CONF`, its output in `output`; returns its pid.
    func spawn(_ executable: String, _ arguments: [String], output: URL) throws -> pid_t {
        try TestSupport.spawn(executable, arguments, environment: environment, output: output)
    }

    /// Runs a command to its end; returns its status and output (stdout and stderr together).
    @discardableResult
    func command(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await TestSupport.runSpawned(executable, arguments, environment: environment, scratch: folder)
        return (result.status, result.output)
    }

    /// Writes the key and the configuration, starts the three daemons and waits until the node is
    /// idle. The configuration names this machine as `slurmd -N` would and gives the job all cores.
    func start() async throws {
        let munge = folder.appendingPathComponent("munge")
        var key = [UInt8](repeating: 0, count: 1024)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        let keyFile = munge.appendingPathComponent("munge.key")
        try Data(key).write(to: keyFile)
        chmod(keyFile.path, 0o600)
        let socket = munge.appendingPathComponent("munge.sock").path
        try launch(
            "/usr/sbin/munged",
            [
                "--foreground", "--force", "--socket=\(socket)", "--key-file=\(keyFile.path)",
                "--pid-file=\(munge.path)/munged.pid", "--log-file=\(munge.path)/munged.log", "--seed-file=\(munge.path)/seed"
            ])
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        guard FileManager.default.fileExists(atPath: socket) else { throw StartFailure(description: "munged did not start:\n\(logs())") }

        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let path = folder.path
        let text = """
            ClusterName=vxt-test
            SlurmctldHost=\(host)(127.0.0.1)
            SlurmctldPort=\(Self.freePort())
            SlurmdPort=\(Self.freePort())
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            AuthInfo=socket=\(socket)
            CredType=cred/munge
            StateSaveLocation=\(path)/state
            SlurmdSpoolDir=\(path)/spool
            SlurmctldPidFile=\(path)/slurmctld.pid
            SlurmdPidFile=\(path)/slurmd.pid
            SlurmctldLogFile=\(path)/log/slurmctld.log
            SlurmdLogFile=\(path)/log/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            JobCompType=jobcomp/none
            SchedulerType=sched/backfill
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            MpiDefault=none
            ReturnToService=2
            MinJobAge=3600
            KillWait=5
            NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(cpus) RealMemory=1000 State=UNKNOWN
            PartitionName=test Nodes=\(host) Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4

            """
        try Data(text.utf8).write(to: configuration)
        try launch("/usr/sbin/slurmctld", ["-D", "-f", configuration.path])
        try launch("/usr/sbin/slurmd", ["-D", "-f", configuration.path])
        // The node registers within seconds; a broken setup never does, and says why in its logs.
        for _ in 0..<120 {
            let state = try await command("/usr/bin/sinfo", ["-h", "-o", "%T"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            if state == "idle" { return }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        throw StartFailure(description: "the node never became idle:\n\(logs())")
    }

    func logs() -> String {
        ["log/slurmctld.log", "log/slurmd.log", "munge/munged.log", "log/slurmctld.out", "log/slurmd.out", "log/munged.out"].map { name in
            let text = (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? "(none)"
            return "== \(name)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Job states by array task ("0": "COMPLETED"), as `scontrol` keeps them after the job ends.
    func arrayStates(job: String) async throws -> [String: String] {
        let output = try await command("/usr/bin/scontrol", ["show", "job", job, "-o"]).output
        var states: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let fields = Dictionary(
                line.split(separator: " ").compactMap { field -> (String, String)? in
                    let parts = field.split(separator: "=", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                }, uniquingKeysWith: { first, _ in first })
            if let task = fields["ArrayTaskId"], let state = fields["JobState"] { states[task] = state }
        }
        return states
    }

    /// Waits until no task of `job` is pending or running.
    func waitUntilDone(job: String) async throws {
        while true {
            let queued = try await command("/usr/bin/squeue", ["-h", "-j", job, "-o", "%i %T"]).output
            if queued.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
    }

    /// Cancels every job of the cluster.
    func cancelAll() async {
        _ = try? await command("/usr/bin/scancel", ["--partition=test"])
    }

    /// Starts a daemon in the foreground, its output in `log/<name>.out`.
    private func launch(_ executable: String, _ arguments: [String]) throws {
        let name = (executable as NSString).lastPathComponent
        daemons.append(try spawn(executable, arguments, output: folder.appendingPathComponent("log/\(name).out")))
    }

    /// Stops the daemons, newest first (cancel the jobs first with `cancelAll`), and reaps them.
    func stop() {
        for pid in daemons.reversed() {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            var reaped = false
            for _ in 0..<100 {
                if waitpid(pid, &status, WNOHANG) == pid { reaped = true; break }
                usleep(50_000)
            }
            if !reaped {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
            }
        }
        daemons.removeAll()
    }

    deinit { stop() }
}
