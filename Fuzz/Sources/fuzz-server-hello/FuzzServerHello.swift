import HALBBalancer

/// libFuzzer's entry point: reads the input as the first bytes a TLS server sent.
///
/// Checks, besides "no crash, no leak, no hang": the answer is final (once a prefix of the bytes gives an answer
/// other than `needMore`, the whole input gives the same one), and ``ServerHello/name(ofCipherSuite:)`` of the
/// suite found does not crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let result = ServerHello.read(bytes)
    if case .cipherSuite(let suite) = result {
        _ = ServerHello.name(ofCipherSuite: suite)
    }
    var cuts: Set<Int> = [max(0, count - 1)]
    if let last = bytes.last, count > 0 { cuts.insert(Int(last) * count / 256) }
    for cut in cuts.sorted() {
        let early = ServerHello.read(Array(bytes[..<cut]))
        guard early == .needMore || early == result else {
            fatalError("the first \(cut) of \(count) bytes read as \(early), all of them as \(result)")
        }
    }
    return 0
}
