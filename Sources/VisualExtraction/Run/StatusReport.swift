import Foundation

/// The human-readable status table (`vxt status`, and the summary at the end of `vxt run`).
public enum StatusReport {
    static let columns: [TaskState] = [.waiting, .pending, .running, .done, .failed, .skipped]

    /// - Parameter now: the time "ago" is counted to (Unix seconds); tests pass their own.
    public static func text(
        _ s: StatusSummary, configuration: RunConfiguration?, now: Double? = nil
    ) -> String {
        let now = now ?? Date().timeIntervalSince1970
        var lines: [String] = []
        let batched = s.stages.reduce(0) { $0 + ($1.counts[.batched] ?? 0) }
        // The batched column appears only for work directories that use batch files.
        let columns = batched > 0 ? Self.columns + [.batched] : Self.columns
        if let c = configuration {
            lines.append(
                "pipeline \(c.pipelineName) (\(c.pipelineHash.prefix(12))) · input \(c.inputPath) · teacher \(c.teacherModel) at \(c.teacherURL)"
            )
        }
        lines.append("records: \(s.records) · with input problems: \(s.inputProblems)")
        let header = ["stage"] + columns.map(\.rawValue) + ["tokens in/out", "rate/s", "ETA"]
        var rows: [[String]] = [header]
        // No run holds the directory: nothing is being done, so no rate and no ETA, whatever the
        // last minutes of the run before looked like.
        let stopped = s.running == false
        for stage in s.stages {
            let eta =
                stage.remaining == 0
                ? "-"
                : stopped
                    ? "stopped" : (stage.recentRate > 0 ? ProgressMeter.duration(Double(stage.remaining) / stage.recentRate) : "?")
            var row = [stage.stage]
            row += columns.map { String(stage.counts[$0] ?? 0) }
            row += ["\(stage.promptTokens)/\(stage.completionTokens)", stopped ? "-" : String(format: "%.1f", stage.recentRate), eta]
            rows.append(row)
        }
        let widths = (0..<header.count).map { i in rows.map { $0[i].count }.max() ?? 0 }
        for row in rows {
            lines.append(
                row.enumerated().map { i, cell in
                    i == 0
                        ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[i] - cell.count) + cell
                }.joined(separator: "  "))
        }
        let open = s.stages.reduce(0) { $0 + $1.remaining }
        if stopped && open > 0 {
            let last = s.stages.compactMap(\.lastDoneAt).max()
            let since = last.map { " (the last task was done \(ProgressMeter.duration(max(now - $0, 0))) ago)" } ?? ""
            lines.append("")
            lines.append(
                "no vxt run is working on this directory now\(since): \(open) tasks are open; "
                    + "run the same `vxt run` command again to continue where it stopped")
        }
        if !s.endpoints.isEmpty {
            lines.append("")
            var table: [[String]] = [["endpoint", "stage", "model", "requests", "attempts", "tokens in/out", "cost"]]
            for e in s.endpoints {
                table.append([
                    e.endpoint, e.stage, e.model, String(e.requests), String(e.attempts), "\(e.promptTokens)/\(e.completionTokens)",
                    e.cost.map { String(format: "$%.2f", $0) } ?? "-"
                ])
            }
            let widths = (0..<table[0].count).map { i in table.map { $0[i].count }.max() ?? 0 }
            for row in table {
                lines.append(
                    row.enumerated().map { i, cell in
                        i < 3 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) : cell.leftPadded(widths[i])
                    }.joined(separator: "  "))
            }
            let costs = s.endpoints.compactMap(\.cost)
            if !costs.isEmpty {
                lines.append(String(format: "cost so far: $%.2f (teacher.prices in the pipeline file)", costs.reduce(0, +)))
            }
        }
        if batched > 0 {
            lines.append(
                "\(batched) requests are in batch files, waiting for their results: `vxt batch import --work DIR RESULTS…` "
                    + "(an online run does not send them)")
        }
        let mock = s.stages.reduce(0) { $0 + $1.mockOutputs }
        if mock > 0 { lines.append("\(mock) outputs were made by the mock teacher (marked mock in exports)") }
        func section(_ title: String, _ items: [StatusSummary.ReasonCount]) {
            guard !items.isEmpty else { return }
            lines.append("")
            lines.append(title)
            for item in items {
                let reason = item.reason.count > 300 ? String(item.reason.prefix(300)) + "…" : item.reason
                lines.append("  \(String(item.count).leftPadded(6))  \(item.stage): \(reason)")
            }
        }
        if !s.failures.isEmpty {
            lines.append("")
            let total = s.failures.reduce(0) { $0 + $1.count }
            lines.append("failed (\(total) tasks, by stage and kind; `vxt status --failed --kind K --ids` lists the records):")
            for group in s.failures {
                lines.append(
                    "  \(String(group.count).leftPadded(6))  \(group.stage): \(group.kind.rawValue)\(StatusReport.advice(group.kind))")
                for example in group.examples {
                    let shown = example.count > 240 ? String(example.prefix(240)) + "…" : example
                    lines.append("            e.g. \(shown)")
                }
                if !group.folders.isEmpty {
                    let listed = group.folders.reduce(0) { $0 + $1.count }
                    let rest = group.count - listed
                    lines.append(
                        "            by folder: " + group.folders.map { "\($0.folder)/ \($0.count)" }.joined(separator: " · ")
                            + (rest > 0 ? " · elsewhere \(rest)" : ""))
                }
            }
        }
        section("skipped (by reason):", s.skips)
        section("done with notes:", s.notes)
        return lines.joined(separator: "\n")
    }
}

extension StatusReport {
    /// What to do about a kind of failure, in a few words.
    static func advice(_ kind: FailureKind) -> String {
        switch kind {
        case .imageMissing: return " (fix --images and run again, or add the files and `vxt retry --kind image_missing`)"
        case .inputInvalid, .imageRefused, .imageUnreadable: return " (fix the input; not retried)"
        case .teacherUnreachable, .timeout, .httpStatus, .badAnswer: return " (`vxt retry --kind \(kind.rawValue)`, then run again)"
        case .upstreamFailed: return " (retried with the stage it needs)"
        case .statementsUnusable, .promptUnrenderable, .other: return ""
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// The status of a work directory as `vxt status` shows it: one store's, or the sum of its shard
/// stores' while they are not merged (each shard's line kept), read without writing.
public struct WorkStatus: Sendable {
    public var summary: StatusSummary
    public var configuration: RunConfiguration?
    /// One line per shard store, when several were summed.
    public var shardLines: [String] = []
    /// Accepted changes of pipeline or input, one line each.
    public var changes: [String] = []

    /// Where parts of the status came from, when not from a store read here: a snapshot a run on
    /// another machine left, one line each.
    public var sources: [String] = []

    /// The stores a work directory's status is read from: the named shard's, the merged or
    /// unsharded store, or every shard store while there is no merged one.
    public static func storePaths(workDirectory: String, shard: Shard?) throws -> [String] {
        let merged = FileManager.default.fileExists(atPath: (workDirectory as NSString).appendingPathComponent(JobStore.fileName))
        let shards = JobStore.shardStorePaths(workDirectory: workDirectory)
        if shard == nil && !merged && shards.count > 1 { return shards }
        return [try JobStore.storePath(workDirectory: workDirectory, shard: shard)]
    }

    public static func stores(workDirectory: String, shard: Shard?) throws -> [JobStore] {
        try storePaths(workDirectory: workDirectory, shard: shard).map { try JobStore(path: $0, readOnly: true) }
    }

    /// Each store is read here unless a run on another machine is writing it; then the snapshot
    /// that run leaves beside it stands in (`StatusSnapshot`).
    ///
    /// - Parameter now: the time rates and ages are counted to (Unix seconds); tests pass their own.
    public static func read(workDirectory: String, shard: Shard?, now: Double? = nil) throws -> WorkStatus {
        let now = now ?? Date().timeIntervalSince1970
        let paths = try storePaths(workDirectory: workDirectory, shard: shard)
        var status = WorkStatus(summary: StatusSummary(records: 0, inputProblems: 0, stages: [], failures: [], skips: [], notes: []))
        var parts: [StatusSummary] = []
        var snapshots: [StatusSummary.SnapshotSource] = []
        for path in paths {
            let name = (path as NSString).lastPathComponent
            let part: StatusSummary
            if let writer = JobStore.writer(ofStoreAt: path), !writer.isOnThisHost {
                let snapshot = StatusSnapshot.read(storePath: path)
                snapshots.append(
                    StatusSummary.SnapshotSource(
                        store: name, host: snapshot?.host ?? writer.host ?? "", pid: snapshot.map { String($0.pid) } ?? writer.pid,
                        writtenAt: snapshot?.writtenAt))
                guard let snapshot else {
                    status.sources.append(
                        "\(name): a run on another machine (\(writer)) is writing it and has left no snapshot yet; not in the counts below")
                    continue
                }
                part = snapshot.summary
                let age = max(now - snapshot.writtenAt, 0)
                // A run writes one every ten seconds: much older, and its machine may be gone while
                // the network file system still keeps its lock.
                let stale =
                    age > 6 * StatusSnapshot.interval
                    ? "; none newer for a while: is \(snapshot.host) still up? (its lock goes once the file server notices)" : ""
                status.sources.append(
                    "\(name): as of \(ProgressMeter.duration(age)) ago, from the snapshot its run on \(snapshot.host) "
                        + "(pid \(snapshot.pid)) leaves beside it (a store another machine writes is not read from here)\(stale)")
            } else {
                let store = try JobStore(path: path, readOnly: true)
                part = try store.status(now: now)
                status.configuration = try status.configuration ?? store.configuration()
                if paths.count == 1 {
                    status.changes = try store.changes().map { change in
                        "accepted change of \(change.what) (\(change.before.prefix(12)) → \(change.after.prefix(12))): \(change.reason)"
                    }
                }
            }
            parts.append(part)
            if paths.count > 1 {
                let done = part.stages.last?.counts[.done] ?? 0
                let open = part.stages.reduce(0) { $0 + $1.remaining }
                status.shardLines.append("  \(name): \(part.records) records, \(done) described, \(open) tasks open")
            }
        }
        if paths.count == 1, let only = parts.first {
            status.summary = only
        } else if !parts.isEmpty {
            status.summary = StatusSummary.combined(parts)
        }
        status.summary.running = WorkDirectoryLock.isHeld(workDirectory: workDirectory)
        status.summary.fromSnapshots = snapshots.isEmpty ? nil : snapshots
        return status
    }
}
