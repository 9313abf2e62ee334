import Primitives

/// A decoded field value for inspection (the `decode` tool, fixtures, logs).
/// Ordered and Foundation-free so the wire module can describe itself.
public indirect enum FieldValue: Hashable, Sendable {
    case int(Int)
    case string(String)
    case hex([UInt8])
    case bool(Bool)
    case null
    case list([FieldValue])
    case object([Inspection.Entry])

    /// Compact JSON, keys in insertion order.
    public var json: String {
        var s = ""
        write(into: &s)
        return s
    }

    func write(into s: inout String) {
        switch self {
        case .int(let i): s += String(i)
        case .string(let t): jsonString(t, into: &s)
        case .hex(let b): s += "\""; s += hexString(b); s += "\""
        case .bool(let b): s += b ? "true" : "false"
        case .null: s += "null"
        case .list(let l):
            s += "["
            for (i, v) in l.enumerated() {
                if i > 0 { s += "," }
                v.write(into: &s)
            }
            s += "]"
        case .object(let entries):
            s += "{"
            for (i, e) in entries.enumerated() {
                if i > 0 { s += "," }
                jsonString(e.key, into: &s)
                s += ":"
                e.value.write(into: &s)
            }
            s += "}"
        }
    }
}

public func hexString(_ b: some Sequence<UInt8>) -> String {
    let d = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for x in b {
        out.append(d[Int(x >> 4)])
        out.append(d[Int(x & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Parses hex (spaces, colons and a 0x prefix tolerated). Nil on a bad digit or odd count.
public func bytesFromHex(_ text: String) -> [UInt8]? {
    var s = Substring(text)
    if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
    var out: [UInt8] = []
    var hi: UInt8?
    for c in s.utf8 {
        if c == 0x20 || c == 0x3A || c == 0x0A || c == 0x0D || c == 0x09 { continue }
        let v: UInt8
        switch c {
        case 0x30...0x39: v = c - 0x30
        case 0x61...0x66: v = c - 0x61 + 10
        case 0x41...0x46: v = c - 0x41 + 10
        default: return nil
        }
        if let h = hi {
            out.append(h << 4 | v)
            hi = nil
        } else {
            hi = v
        }
    }
    return hi == nil ? out : nil
}

func jsonString(_ t: String, into s: inout String) {
    s += "\""
    s += jsonEscaped(t)
    s += "\""
}

/// Describes a PDU, field by field, with the spec's snake_case names.
public enum Inspection {
    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: FieldValue
        public init(_ key: String, _ value: FieldValue) {
            self.key = key
            self.value = value
        }
    }

    /// Options for what to show.
    public struct Options: Sendable {
        public var text: TextOptions = .default
        /// Show decoded text (the decode tool shows it; logs never do).
        public var includeText: Bool = true
        public init(text: TextOptions = .default, includeText: Bool = true) {
            self.text = text
            self.includeText = includeText
        }
    }

    /// Describes one PDU's bytes (exactly one PDU, or a prefix of a stream cut by the framer).
    public static func describe(_ bytes: UnsafeRawBufferPointer, options: Options = Options()) -> [Entry] {
        var e: [Entry] = []
        if bytes.count >= 16 {
            let h = PDUHeader(unchecked: bytes)
            e.append(Entry("command_length", .int(Int(h.commandLength))))
            e.append(Entry("command_id", .string("0x" + hex32(h.commandID.rawValue))))
            e.append(Entry("command", .string(h.commandID.description)))
            e.append(Entry("command_status", .int(Int(h.commandStatus.rawValue))))
            e.append(Entry("command_status_name", .string(h.commandStatus.description)))
            e.append(Entry("sequence_number", .int(Int(h.sequenceNumber))))
        }
        do {
            let frame = try PDUFrame(bytes)
            let pdu = try PDU.decode(frame)
            e += describeBody(pdu, bytes: bytes, options: options)
        } catch let err {
            e.append(Entry("error", describe(error: err)))
        }
        return e
    }

    public static func describe(error: DecodeError) -> FieldValue {
        .object([
            Entry("reason", .string(error.description)),
            Entry("code", .string(error.code)),
            Entry("offset", .int(error.offset)),
            Entry("command_status", .int(Int(error.commandStatus.rawValue))),
            Entry("command_status_name", .string(error.commandStatus.description)),
            Entry("framing_fatal", .bool(error.isFramingFatal)),
        ])
    }

    static func s(_ c: COctetString) -> FieldValue { .string(c.string) }

    static func describeBody(_ pdu: PDU, bytes: UnsafeRawBufferPointer, options: Options) -> [Entry] {
        var e: [Entry] = []
        func add(_ k: String, _ v: FieldValue) { e.append(Entry(k, v)) }
        func addr(_ prefix: String, _ ton: TON, _ npi: NPI, _ a: COctetString, name: String) {
            add(prefix + "_ton", .int(Int(ton.rawValue)))
            add(prefix + "_npi", .int(Int(npi.rawValue)))
            add(name, s(a))
        }
        switch pdu.body {
        case .empty: break
        case .bind(let b):
            add("system_id", s(b.systemID))
            // The password is a secret: shown only as its length.
            add("password", .string(String(repeating: "*", count: b.password.bytes.count)))
            add("system_type", s(b.systemType))
            add("interface_version", .int(Int(b.interfaceVersion)))
            add("addr_ton", .int(Int(b.addrTON.rawValue)))
            add("addr_npi", .int(Int(b.addrNPI.rawValue)))
            add("address_range", s(b.addressRange))
        case .bindResp(let b): add("system_id", s(b.systemID))
        case .outbind(let o):
            add("system_id", s(o.systemID))
            add("password", .string(String(repeating: "*", count: o.password.bytes.count)))
        case .shortMessage(let m):
            add("service_type", s(m.serviceType))
            addr("source_addr", m.sourceAddrTON, m.sourceAddrNPI, m.sourceAddr, name: "source_addr")
            addr("dest_addr", m.destAddrTON, m.destAddrNPI, m.destinationAddr, name: "destination_addr")
            add("esm_class", .int(Int(m.esmClass.rawValue)))
            add("protocol_id", .int(Int(m.protocolID)))
            add("priority_flag", .int(Int(m.priorityFlag)))
            add("schedule_delivery_time", s(m.scheduleDeliveryTime))
            add("validity_period", s(m.validityPeriod))
            add("registered_delivery", .int(Int(m.registeredDelivery.rawValue)))
            add("replace_if_present_flag", .int(Int(m.replaceIfPresentFlag)))
            add("data_coding", .int(Int(m.dataCoding.rawValue)))
            add("sm_default_msg_id", .int(Int(m.smDefaultMsgID)))
            add("sm_length", .int(m.shortMessage.count))
            add("short_message", .hex(m.shortMessage))
            if let v = try? ShortMessageView(validating: bytes) {
                e += content(v.userData, dataCoding: v.dataCoding, esmClass: v.esmClass, tlvs: v.tlvs, options: options)
            }
        case .messageIDResp(let m): add("message_id", s(m.messageID))
        case .dataSM(let d):
            add("service_type", s(d.serviceType))
            addr("source_addr", d.sourceAddrTON, d.sourceAddrNPI, d.sourceAddr, name: "source_addr")
            addr("dest_addr", d.destAddrTON, d.destAddrNPI, d.destinationAddr, name: "destination_addr")
            add("esm_class", .int(Int(d.esmClass.rawValue)))
            add("registered_delivery", .int(Int(d.registeredDelivery.rawValue)))
            add("data_coding", .int(Int(d.dataCoding.rawValue)))
            if let v = try? DataSMView(validating: bytes) {
                e += content(v.userData, dataCoding: v.dataCoding, esmClass: v.esmClass, tlvs: v.tlvs, options: options)
            }
        case .querySM(let q):
            add("message_id", s(q.messageID))
            addr("source_addr", q.sourceAddrTON, q.sourceAddrNPI, q.sourceAddr, name: "source_addr")
        case .querySMResp(let q):
            add("message_id", s(q.messageID))
            add("final_date", s(q.finalDate))
            add("message_state", .int(Int(q.messageState.rawValue)))
            add("error_code", .int(Int(q.errorCode)))
        case .cancelSM(let c):
            add("service_type", s(c.serviceType))
            add("message_id", s(c.messageID))
            addr("source_addr", c.sourceAddrTON, c.sourceAddrNPI, c.sourceAddr, name: "source_addr")
            addr("dest_addr", c.destAddrTON, c.destAddrNPI, c.destinationAddr, name: "destination_addr")
        case .replaceSM(let m):
            add("message_id", s(m.messageID))
            addr("source_addr", m.sourceAddrTON, m.sourceAddrNPI, m.sourceAddr, name: "source_addr")
            add("schedule_delivery_time", s(m.scheduleDeliveryTime))
            add("validity_period", s(m.validityPeriod))
            add("registered_delivery", .int(Int(m.registeredDelivery.rawValue)))
            add("sm_default_msg_id", .int(Int(m.smDefaultMsgID)))
            add("sm_length", .int(m.shortMessage.count))
            add("short_message", .hex(m.shortMessage))
        case .submitMulti(let m):
            add("service_type", s(m.serviceType))
            addr("source_addr", m.sourceAddrTON, m.sourceAddrNPI, m.sourceAddr, name: "source_addr")
            add("number_of_dests", .int(m.destAddresses.count))
            add(
                "dest_address",
                .list(
                    m.destAddresses.map { d in
                        switch d {
                        case .sme(let ton, let npi, let a):
                            .object([
                                Entry("dest_flag", .int(1)), Entry("dest_addr_ton", .int(Int(ton.rawValue))),
                                Entry("dest_addr_npi", .int(Int(npi.rawValue))), Entry("destination_addr", s(a)),
                            ])
                        case .distributionList(let n):
                            .object([Entry("dest_flag", .int(2)), Entry("dl_name", s(n))])
                        }
                    }))
            add("esm_class", .int(Int(m.esmClass.rawValue)))
            add("protocol_id", .int(Int(m.protocolID)))
            add("priority_flag", .int(Int(m.priorityFlag)))
            add("schedule_delivery_time", s(m.scheduleDeliveryTime))
            add("validity_period", s(m.validityPeriod))
            add("registered_delivery", .int(Int(m.registeredDelivery.rawValue)))
            add("replace_if_present_flag", .int(Int(m.replaceIfPresentFlag)))
            add("data_coding", .int(Int(m.dataCoding.rawValue)))
            add("sm_default_msg_id", .int(Int(m.smDefaultMsgID)))
            add("sm_length", .int(m.shortMessage.count))
            add("short_message", .hex(m.shortMessage))
        case .submitMultiResp(let m):
            add("message_id", s(m.messageID))
            add("no_unsuccess", .int(m.unsuccessSMEs.count))
            add(
                "unsuccess_sme",
                .list(
                    m.unsuccessSMEs.map {
                        .object([
                            Entry("dest_addr_ton", .int(Int($0.destAddrTON.rawValue))),
                            Entry("dest_addr_npi", .int(Int($0.destAddrNPI.rawValue))),
                            Entry("destination_addr", s($0.destinationAddr)),
                            Entry("error_status_code", .int(Int($0.errorStatusCode.rawValue))),
                        ])
                    }))
        case .alertNotification(let a):
            addr("source_addr", a.sourceAddrTON, a.sourceAddrNPI, a.sourceAddr, name: "source_addr")
            addr("esme_addr", a.esmeAddrTON, a.esmeAddrNPI, a.esmeAddr, name: "esme_addr")
        }
        add(
            "tlvs",
            .list(
                pdu.tlvs.map { t in
                    var o = [Entry("tag", .string("0x" + hex16(t.tag.rawValue)))]
                    if let n = t.tag.name { o.append(Entry("name", .string(n))) }
                    o.append(Entry("length", .int(t.value.count)))
                    o.append(Entry("value", .hex(t.value)))
                    return .object(o)
                }))
        return e
    }

    static func content(
        _ ud: UserData, dataCoding: DataCoding, esmClass: ESMClass, tlvs: TLVList, options: Options
    ) -> [Entry] {
        var e: [Entry] = []
        if ud.hasHeader || ud.udhMalformed {
            var u: [Entry] = [Entry("malformed", .bool(ud.udhMalformed))]
            if ud.hasHeader {
                u.append(Entry("length", .int(ud.headerLength)))
                u.append(
                    Entry(
                        "elements",
                        .list(
                            ud.elements.map {
                                .object([Entry("iei", .int(Int($0.identifier))), Entry("data", .hex($0.data))])
                            })))
            }
            e.append(Entry("udh", .object(u)))
        }
        let concat: Concatenation? =
            ud.concatenation
            ?? tlvs.sar.map {
                Concatenation(kind: .sar, reference: $0.msgRefNum, total: $0.totalSegments, sequence: $0.segmentSeqnum)
            }
        if let c = concat {
            e.append(
                Entry(
                    "concatenation",
                    .object([
                        Entry("kind", .string(c.kind.rawValue)), Entry("reference", .int(Int(c.reference))),
                        Entry("total", .int(Int(c.total))), Entry("sequence", .int(Int(c.sequence))),
                    ])))
        }
        let decoded = TextDecoder.decode(userData: ud, dataCoding: dataCoding, options: options.text)
        e.append(Entry("encoding", .string(decoded.encoding.rawValue)))
        if options.includeText {
            e.append(Entry("text", decoded.isBinary ? .null : .string(decoded.text)))
        }
        e.append(Entry("text_invalid", .bool(decoded.hadInvalidInput)))
        if esmClass.isDeliveryReceipt, !decoded.isBinary, let r = DeliveryReceipt(decoded.text) {
            var o: [Entry] = []
            func opt(_ k: String, _ v: String?) { o.append(Entry(k, v.map { .string($0) } ?? .null)) }
            opt("id", r.id)
            opt("sub", r.sub)
            opt("dlvrd", r.dlvrd)
            opt("submit_date", r.submitDate)
            opt("done_date", r.doneDate)
            opt("stat", r.stat)
            opt("err", r.err)
            if options.includeText { opt("text", r.text) }
            e.append(Entry("receipt", .object(o)))
        }
        return e
    }
}
