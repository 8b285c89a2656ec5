import Foundation
import VisualExtraction

/// vxt-bench rules FILE...            (share of QA pairs the statement rules take)
/// vxt-bench jobstore RECORDS BATCH   (see bench/jobstore)
/// vxt-bench teacher URL REQUESTS CONCURRENCY IMAGE   (see bench/teacher)
/// vxt-bench images MODE REPEAT FILE...
///   MODE: exact512 | maxside768. For each file: read, decode, resize, encode JPEG q95, REPEAT
///   times; prints one JSON line per file with the median milliseconds. bench/images compares it
///   with Pillow doing the same in the same run.
@main
struct VXTBench {
    static func main() async throws {
        let args = CommandLine.arguments
        if args.count >= 3, args[1] == "rule-shapes" {
            try RulesMeasurement.shapes(files: Array(args[2...]))
            exit(0)
        }
        if args.count >= 3, args[1] == "rules" {
            try RulesMeasurement.run(files: Array(args[2...]))
            exit(0)
        }
        if args.count == 4, args[1] == "jobstore", let records = Int(args[2]), let batch = Int(args[3]) {
            try await JobStoreBenchmark.run(records: records, batch: batch)
            exit(0)
        }
        if args.count == 6, args[1] == "teacher", let requests = Int(args[3]), let concurrency = Int(args[4]) {
            try await TeacherBenchmark.run(url: args[2], requests: requests, concurrency: concurrency, image: args[5])
            exit(0)
        }
        guard args.count >= 5, args[1] == "images", let repeatCount = Int(args[3]) else {
            FileHandle.standardError.write(Data("usage: vxt-bench images exact512|maxside768 REPEAT FILE...\n".utf8))
            exit(2)
        }
        let settings: ImageSettings
        switch args[2] {
        case "exact512": settings = ImageSettings(mode: .exact, width: 512, height: 512, jpegQuality: 95)
        case "maxside768": settings = ImageSettings(mode: .maxSide, maxSide: 768, jpegQuality: 95)
        default:
            FileHandle.standardError.write(Data("unknown mode \(args[2])\n".utf8))
            exit(2)
        }
        for file in args[4...] {
            let url = URL(fileURLWithPath: file)
            let preparer = ImagePreparer(root: ImageRoot(path: url.deletingLastPathComponent().path), settings: settings)
            var times: [Double] = []
            var size = ""
            for _ in 0..<repeatCount {
                let start = DispatchTime.now().uptimeNanoseconds
                do {
                    let image = try preparer.prepare(url.lastPathComponent)
                    size = "\(image.width)x\(image.height)"
                } catch {
                    FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                    exit(1)
                }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            times.sort()
            print("{\"file\": \"\(url.lastPathComponent)\", \"ms\": \(times[times.count / 2]), \"size\": \"\(size)\"}")
        }
    }
}
