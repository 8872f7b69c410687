import HALBBalancer

/// libFuzzer's entry point: reads the input as the first bytes of a client's TLS connection.
///
/// Checks, besides "no crash, no leak, no hang":
/// - a server name found is lowercase, not empty and has no trailing dot, as documented;
/// - the answer is final: once a prefix of the bytes gives an answer other than `needMore`, the whole input gives
///   the same one (the proxy re-reads the bytes received so far after each read, so how TCP splits the bytes must
///   not change the answer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let result = ClientHello.read(bytes)
    if case .complete(let serverName?) = result {
        guard !serverName.isEmpty, serverName == serverName.lowercased(), !serverName.hasSuffix(".") else {
            fatalError("server name \(serverName.debugDescription) is not lowercase without a trailing dot")
        }
    }
    // Two cut points: one chosen by the input's last byte, and the input less its last byte.
    var cuts: Set<Int> = [max(0, count - 1)]
    if let last = bytes.last, count > 0 { cuts.insert(Int(last) * count / 256) }
    for cut in cuts.sorted() {
        let early = ClientHello.read(Array(bytes[..<cut]))
        guard early == .needMore || early == result else {
            fatalError("the first \(cut) of \(count) bytes read as \(early), all of them as \(result)")
        }
    }
    return 0
}
