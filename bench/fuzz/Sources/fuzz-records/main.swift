import Foundation
import VisualExtraction

/// One input: the bytes as a corpus file, split into records, each record decoded. Any crash,
/// hang or sanitizer report is a bug; problems reported as problems are the expected outcome.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = "/dev/shm/vxt-fuzz-records-\(getpid())"
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    defer { unlink(path) }
    var splitter = RecordSplitter(path: path)
    splitter.chunkSize = 4096
    splitter.largestRecord = 1 << 20
    _ = try? splitter.forEach { event in
        if case let .record(raw) = event { _ = LLaVARecordDecoder.decode(raw) }
    }
    return 0
}

// SwiftPM links an executable's entry point as `<module>_main`; here it hands over to
// libFuzzer's driver (which would otherwise bring its own `main`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("fuzz_records_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzRecords)
}
