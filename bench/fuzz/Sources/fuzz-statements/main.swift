import VisualExtraction

/// One input: the bytes as a model's answer to a statements prompt of one to four pairs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStatements(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let expected = size % 4 + 1
    let reading = StatementParser.read(text, expected: expected)
    precondition(reading.statements.allSatisfy { !$0.isEmpty }, "an empty statement")
    _ = StatementParser.parse(text)
    return 0
}

// SwiftPM links an executable's entry point as `<module>_main`; here it hands over to
// libFuzzer's driver (which would otherwise bring its own `main`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("fuzz_statements_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzStatements)
}
