package import SMPPSimulator

/// A simulator on a free port (password "simpass", window 32, 20% multi-part), started.
package func simulator(count: Int, rate: Double = 0, password: String = "simpass", log: String? = nil, seed: UInt64 = 3,
                       _ configure: (inout SimulatorConfig) -> Void = { _ in }) throws -> SMSCSimulator {
    var c = SimulatorConfig()
    c.port = 0
    c.count = count
    c.rate = rate
    c.window = 32
    c.password = password
    c.logPath = log
    c.mix = TrafficMix(multipartRatio: 0.2, seed: seed)
    configure(&c)
    let s = SMSCSimulator(config: c)
    try s.start()
    return s
}
