@testable import BridgeRuntime
import Foundation

/// The base configuration every config input is merged into: one carrier, every section present.
let baseConfig = """
[bridge]
instance = "fuzz"
[database]
url_env = "FUZZ_DB_URL"
[metrics]
listen = "127.0.0.1:9464"
[routing]
[[carrier]]
name = "alpha-1"
host = "127.0.0.1"
port = 2775
system_id = "x"
password_env = "FUZZ_PW"
"""

/// Each input is one case. 0x00–0x7F: the rest is an HTTP request head (parsed,
/// then its query checked as /events checks it). 0x80–0xFF: the rest is lines of
/// NAME=VALUE, merged as environment overrides into `baseConfig`. Anything may be
/// refused; nothing may trap, and a refusal must name a field.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    if bytes[0] < 0x80 {
        if case .success(let head) = HTTPRequestHead.parse(text) {
            _ = EventQuery.parse(head.query, ringCapacity: 200)
        }
    } else {
        var env: [String: String] = ["FUZZ_DB_URL": "postgres://localhost/x", "FUZZ_PW": "pw"]
        for line in text.split(separator: "\n").prefix(16) {
            let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env["BRIDGE_" + kv[0].uppercased()] = kv.count == 2 ? String(kv[1]) : ""
        }
        do { _ = try ConfigLoader.parse(baseConfig, file: "fuzz.toml", environment: env) } catch let e as ConfigError {
            precondition(!e.field.isEmpty, "a refusal names its field")
        } catch {
            preconditionFailure("config refused with an error that names no field: \(error)")
        }
    }
    return 0
}

// SwiftPM links an executable's entry point as `<module>_main` (and aliases main to it),
// so libFuzzer's own main is not linked: start its driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzSurface_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var c = argc
    var v: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runDriver(&c, &v) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}
