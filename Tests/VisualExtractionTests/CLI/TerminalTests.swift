import Foundation
import Testing
@testable import VisualExtraction

/// The progress display as people see it: on a terminal (tmux plays one) the line is redrawn in
/// place; into a file (a Slurm log) each update is a line of its own. Either way the run ends
/// saying where the store is and what to run next.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct TerminalTests {
    static var tmuxInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }

    func runArguments(_ work: URL) -> [String] {
        [
            "run", "paper", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path,
            "--mock-latency-ms", "300", "--concurrency", "2", "--progress-interval", "0.5"
        ]
    }

    @Test(.enabled(if: tmuxInstalled, "SKIPPED: tmux is not installed (scripts/setup --test installs it)"))
    func onATerminalTheProgressLineIsRedrawnInPlace() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let socket = dir.appendingPathComponent("tmux.sock").path
        // Spawned, not run through Foundation's Process: the tmux server is a daemon (see `TestSupport.spawn`).
        func tmux(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await TestSupport.runSpawned("/usr/bin/tmux", ["-S", socket] + arguments, scratch: dir)
        }
        // Failed attempts logged at debug level come between progress updates, as warnings do in
        // real runs: each message takes the progress line's place and the line is drawn below.
        let arguments =
            runArguments(dir.appendingPathComponent("work"))
            + ["--log-level", "debug", "--mock-fail-rate", "0.3", "--mock-faults", "429"]
        let quoted = ([TestSupport.vxtBinary.path] + arguments).map { "'\($0)'" }
            .joined(separator: " ")
        let script = "cd '\(TestSupport.packageRoot.path)' && \(quoted); echo EXIT=$?; sleep 600"
        // 80 columns, narrower than the progress line: redrawn whole, a wrapped line would leave rows behind.
        #expect(try await tmux(["new-session", "-d", "-s", "vxt", "-x", "80", "-y", "60", script]).status == 0)
        defer { _ = try? FileManager.default.removeItem(atPath: socket) }
        var screen = ""
        while !screen.contains("EXIT=") {
            try await Task.sleep(nanoseconds: 200_000_000)
            screen = try await tmux(["capture-pane", "-p", "-t", "vxt"]).output
        }
        // The same screen with wrapped rows joined: the export command is longer than 80 columns
        // wherever the checkout lives, and where it wraps depends on the path.
        let joined = try await tmux(["capture-pane", "-p", "-J", "-t", "vxt"]).output
        _ = try await tmux(["kill-server"])
        // Rows as the terminal shows them: a progress line that had wrapped would have left its
        // first row (with the count) behind at each redraw.
        let lines = screen.split(separator: "\n")
        let progress = lines.filter { $0.contains(" tasks (") }
        #expect(lines.contains { $0.contains("teacher attempt failed") }, "messages came during the run:\n\(screen)")
        #expect(progress.count == 1, "one progress line, redrawn in place:\n\(screen)")
        #expect(progress.first?.contains("20/20 tasks (100.0%)") == true, "it ends at the final count:\n\(screen)")
        #expect(screen.contains("EXIT=0"))
        #expect(joined.contains("job store: ") && joined.contains("export:    ") && joined.contains(" export --work "), "\(joined)")
        #expect(!screen.contains("\u{1b}") && !screen.contains("[2K"), "no escape sequence shows:\n\(screen)")
    }

    @Test func intoAFileEachProgressUpdateIsALine() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await TestSupport.runVXT(runArguments(dir.appendingPathComponent("work")))
        #expect(result.status == 0, "\(result.stderr)")
        let progress = result.stderr.split(separator: "\n").filter { $0.contains(" tasks (") }
        #expect(progress.count >= 2, "a log keeps every update:\n\(result.stderr)")
        #expect(!result.stderr.contains("\u{1b}") && !result.stderr.contains("\r"), "no terminal control in a log")
        #expect(result.stderr.contains("export:    ") && result.stderr.contains("job store: "))
    }
}
