#if canImport(Glibc)
    import Glibc
#endif
import Dispatch

/// Accepts connections from an SMSC that delivers by outbind (SMPP 3.4 §2.2.1):
/// each one gets its own `ESMESession`, which checks the outbind's credentials
/// (`config.systemID` / `config.password` are what the SMSC must present) and
/// answers with bind_receiver on that connection.
public final class OutbindListener: @unchecked Sendable {
    public let config: SessionConfig
    private weak var handler: (any InboundHandler)?
    private let queue = DispatchQueue(label: "smpp.outbind")
    private var source: (any DispatchSourceRead)?
    private var sessions: [ESMESession] = []
    public private(set) var port = 0
    public var onSession: (@Sendable (ESMESession) -> Void)?

    public init(config: SessionConfig, handler: any InboundHandler) {
        self.config = config
        self.handler = handler
    }

    /// Listens on config.host:config.port (0: a free port). Returns the port.
    @discardableResult
    public func start() throws -> Int {
        let (fd, p) = try Socket.listen(host: config.host, port: config.port)
        port = p
        queue.sync {
            let s = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            s.setEventHandler { [unowned self] in
                while true {
                    let c = accept(fd, nil, nil)
                    if c < 0 { return }
                    Socket.tune(c)
                    var cfg = config
                    cfg.name = "\(config.name)-outbind-\(sessions.count + 1)"
                    let session = ESMESession(config: cfg, handler: handler, viaOutbind: true)
                    sessions.append(session)
                    onSession?(session)
                    session.adopt(fd: c)
                }
            }
            s.setCancelHandler { close(fd) }
            source = s
            s.resume()
        }
        return p
    }

    public var activeSessions: [ESMESession] { queue.sync { sessions } }

    public func stop() {
        queue.sync {
            source?.cancel()
            source = nil
            for s in sessions { s.shutdown(deadline: 1) }
        }
    }
}
