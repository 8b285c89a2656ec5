import Foundation
import Testing
@testable import VisualExtraction

/// `--teacher cmd:'...'`: a model in a local process speaking JSONL. Driven against
/// `vxt mock-teacher --stdio`, a real child process that answers out of order and, when told,
/// crashes with requests still in hand.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.serialized, .timeLimit(.minutes(15))) struct LocalProcessTeacherTests {
    static var mockCommand: String { "'\(TestSupport.vxtBinary.path)' mock-teacher --stdio" }

    static func complete(_ teacher: LocalProcessTeacher, _ range: Range<Int>) async -> [Int: Result<ChatResult, TeacherFailure>] {
        await withTaskGroup(of: (Int, Result<ChatResult, TeacherFailure>).self) { group in
            for n in range { group.addTask { (n, await teacher.complete(TeacherFleetTests.request(n))) } }
            var all: [Int: Result<ChatResult, TeacherFailure>] = [:]
            for await (n, result) in group { all[n] = result }
            return all
        }
    }

    @Test func answersFindTheirRequestsWhenTheyArriveOutOfOrder() async throws {
        let teacher = LocalProcessTeacher(command: Self.mockCommand + " --latency-ms 5 --jitter-ms 60", timeoutSeconds: 30)
        defer { teacher.shutdown() }
        let results = await Self.complete(teacher, 0..<40)
        #expect(results.count == 40)
        for (n, result) in results {
            let answer = try result.get()
            #expect(answer.text == "What color is cup \(n): Red.", "request \(n) got another's answer")
            #expect(answer.mock)
            #expect(answer.endpoint == "cmd:" + Self.mockCommand + " --latency-ms 5 --jitter-ms 60")
            #expect(answer.attempts == 1)
        }
        #expect(teacher.restarts == 0)
    }

    @Test func aProcessThatDiesIsRestartedAndItsRequestsAreRetried() async throws {
        // Dies after every 15 answers with the rest of its 40 requests in hand.
        let teacher = LocalProcessTeacher(
            command: Self.mockCommand + " --latency-ms 20 --exit-after 15", timeoutSeconds: 30, maxAttempts: 6)
        defer { teacher.shutdown() }
        let results = await Self.complete(teacher, 0..<40)
        let answers = results.values.compactMap { try? $0.get() }
        #expect(answers.count == 40, "failures: \(results.values.compactMap { if case let .failure(f) = $0 { f.message } else { nil } })")
        #expect(teacher.restarts >= 2, "restarts: \(teacher.restarts)")
        #expect(answers.contains { $0.attempts > 1 }, "requests held by a dead process went again")
    }

    @Test func aCommandThatCannotServeFailsWithItsExitStatus() async {
        let teacher = LocalProcessTeacher(command: "echo 'loading model...'; exit 7", timeoutSeconds: 30, maxAttempts: 2)
        defer { teacher.shutdown() }
        let start = Date()
        guard case let .failure(failure) = await teacher.complete(TeacherFleetTests.request(1)) else {
            Issue.record("a process that exits cannot answer"); return
        }
        #expect(failure.message.contains("exited with status 7"), "\(failure.message)")
        #expect(failure.message.contains("gave up after 2 attempts"))
        // One pause of a second between the two starts: no spinning. (The exit, not the 30 s
        // timeout, ends each attempt: the message says so; real time is only bounded below.)
        #expect(Date().timeIntervalSince(start) >= 0.9)
        #expect(!failure.message.contains("within"), "\(failure.message)")
    }

    @Test func aRefusalIsRecordedWithTheProcesssMessageAndNotRetried() async {
        // A one-line Python-free "model": answers every request with an error object, in order.
        let teacher = LocalProcessTeacher(
            command: "while read -r line; do echo '{\"error\":{\"message\":\"image too large\"}}'; done",
            timeoutSeconds: 5)
        defer { teacher.shutdown() }
        guard case let .failure(failure) = await teacher.complete(TeacherFleetTests.request(1)) else {
            Issue.record("an error answer is a failure"); return
        }
        #expect(failure.message.contains("image too large"))
        #expect(failure.attempts == 1)
    }

    @Test func anAnswerLineOverTheCapFailsItsRequestAndIsNotHeld() async {
        // A broken model process that answers each request with 40 MB on one line.
        let teacher = LocalProcessTeacher(
            command: "while read -r line; do head -c 40000000 /dev/zero | tr '\\0' x; echo; done", timeoutSeconds: 60)
        defer { teacher.shutdown() }
        guard case let .failure(failure) = await teacher.complete(TeacherFleetTests.request(1)) else {
            Issue.record("a 40 MB line is not an answer"); return
        }
        #expect(failure.message.contains("over 32 MB"), "\(failure.message)")
        #expect(failure.attempts == 1)
    }

    @Test func garbageLinesAndAnswersForUnknownIdsReachNoRequest() async throws {
        // A noisy "model" in sh: for each request it prints a progress line on stdout, an answer
        // for an id vxt never sent, and only then the answer for the request's own id.
        let model = #"""
            while read -r line; do
              id=$(printf '%s' "$line" | sed 's/^{"id":"\([0-9]*\)".*/\1/')
              echo "loading weights... 50%"
              echo '{"id":"not-ours","choices":[{"message":{"content":"WRONG"},"finish_reason":"stop"}]}'
              echo '{"id":"'"$id"'","choices":[{"message":{"content":"answer '"$id"'"},"finish_reason":"stop"}]}'
            done
            """#
        let teacher = LocalProcessTeacher(command: model, timeoutSeconds: 30)
        defer { teacher.shutdown() }
        let results = await Self.complete(teacher, 0..<12)
        let texts = try results.values.map { try $0.get().text }
        #expect(texts.count == 12)
        #expect(!texts.contains("WRONG"), "an answer for an id vxt never sent was given to a request")
        #expect(Set(texts).count == 12, "each request got its own answer: \(texts)")
    }

    @Test func aHungProcessCannotHangARequest() async {
        let teacher = LocalProcessTeacher(command: "sleep 30", timeoutSeconds: 0.5, maxAttempts: 2)
        defer { teacher.shutdown() }
        guard case let .failure(failure) = await teacher.complete(TeacherFleetTests.request(1)) else {
            Issue.record("no answer must fail"); return
        }
        // The timeout, not the process's end after 30 s, ended both attempts.
        #expect(failure.message.contains("no answer from cmd:sleep 30 within"), "\(failure.message)")
        #expect(failure.attempts == 2)
    }

    @Test func aWholeRunThroughACrashingLocalProcessFinishes() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "pipelines/paper.yaml", "--input", TestSupport.sampleCorpus.path, "--images", TestSupport.sampleImages.path,
            "--work", work.path, "--concurrency", "4",
            "--teacher", "cmd:" + Self.mockCommand + " --latency-ms 10 --exit-after 9"
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("the local teacher process was restarted"), "\(run.stderr)")
        let status = try await TestSupport.runVXT(["status", "--work", work.path, "--json"])
        let json = try JSONParser.parse(status.stdout)
        guard case let .array(stages)? = json["stages"] else { Issue.record("no stages in \(status.stdout)"); return }
        for stage in stages {
            #expect(stage["counts"]?["failed"] == nil, "\(stage.jsonText)")
            #expect(stage["counts"]?["done"]?.jsonText == "10", "\(stage.jsonText)")
        }
    }
}
