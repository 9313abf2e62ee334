/// Evidence that an inbound message is stored durably: the only way to answer it with
/// ESME_ROK (`ESMESession.ack(_:committed:)`). Its initializer is SPI that only the
/// store's writer imports, where COMMIT has returned; everything else can hand a proof
/// on but cannot make one, so "acked means stored" holds by construction, not by review.
public struct CommitProof: Sendable, Hashable {
    @_spi(CommitProof) public init() {}
}
