// Times framing + full decode over the benchmark inputs with a plain loop, the
// same way baseline/libsmpp34_driver.c times libsmpp34, and writes the inputs
// to baseline/*.bin so both decode identical bytes. Prints PDUs/s per input.
import BenchSamples
import SMPPWire

#if canImport(Glibc)
    import Glibc
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func run(_ name: String, _ bytes: [UInt8], seconds: Double) {
    var best = 0.0
    let stream = BenchSamples.stream(bytes)
    stream.withUnsafeBytes { p in
        for _ in 0..<5 {
            var n = 0
            var sum: UInt64 = 0
            let start = now()
            var elapsed = 0.0
            repeat {
                for _ in 0..<10 {
                    let (k, s) = BenchSamples.decodeStream(p)
                    n += k
                    sum &+= s
                }
                elapsed = now() - start
            } while elapsed < seconds / 5
            if sum == 42 { print("") }
            best = max(best, Double(n) / elapsed)
        }
    }
    print("swift \(name) \(bytes.count) \(Int(best))")
}

let dir = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "."
for (name, bytes) in [("gsm7", BenchSamples.gsm7), ("ucs2", BenchSamples.ucs2)] {
    let f = fopen(dir + "/" + name + ".bin", "wb")!
    _ = BenchSamples.stream(bytes).withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}
for (name, bytes) in [("gsm7", BenchSamples.gsm7), ("ucs2", BenchSamples.ucs2)] { run(name, bytes, seconds: 2) }
