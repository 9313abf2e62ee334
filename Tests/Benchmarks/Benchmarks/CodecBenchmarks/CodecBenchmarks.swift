import BenchSamples
import Benchmark
import SMPPWire

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        maxDuration: .seconds(3), maxIterations: 1_000_000)

    // Each iteration does 1000 operations, so throughput × 1000 = operations/s
    // and mallocCountTotal / 1000 = allocations per operation (after the harness's
    // constant per-sample baseline, measured by "baseline: empty").
    let inner = 1000

    Benchmark("baseline: empty") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(inner) }
    }
    for (name, bytes) in [("gsm7", BenchSamples.gsm7), ("ucs2", BenchSamples.ucs2)] {
        // 1024 PDUs framed and decoded from one receive buffer per iteration.
        let stream = BenchSamples.stream(bytes)
        Benchmark("deliver_sm framing+decode \(name) (\(bytes.count) B) x1024") { benchmark in
            stream.withUnsafeBytes { p in
                for _ in benchmark.scaledIterations {
                    blackHole(BenchSamples.decodeStream(p))
                }
            }
        }
    }
    // 1000 responses written one after another into a send buffer, as a session
    // flushing acks does; every one differs (sequence number), so none can be elided.
    Benchmark("deliver_sm_resp encode x1000") { benchmark in
        var buf = [UInt8](repeating: 0, count: ResponseEncoder.deliverSMRespLength * inner)
        buf.withUnsafeMutableBytes { out in
            var seq: UInt32 = 0
            for _ in benchmark.scaledIterations {
                var off = 0
                for _ in 0..<inner {
                    seq &+= 1
                    off += ResponseEncoder.writeMessageIDResp(
                        into: UnsafeMutableRawBufferPointer(rebasing: out[off...]), status: .ok, sequenceNumber: seq)
                }
                blackHole(out[off - 5])
            }
        }
    }
    for (name, bytes) in [("gsm7", BenchSamples.gsm7), ("ucs2", BenchSamples.ucs2)] {
        Benchmark("text decode \(name) x1000") { benchmark in
            bytes.withUnsafeBytes { p in
                let v = try! ShortMessageView(validating: p)
                for _ in benchmark.scaledIterations {
                    var n = 0
                    for _ in 0..<inner { n &+= v.decodeText().text.utf8.count }
                    blackHole(n)
                }
            }
        }
    }
}
