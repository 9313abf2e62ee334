import CLibPQ
public import Dispatch
#if canImport(Glibc)
    import Glibc
#endif

/// A libpq failure: what was being done and PostgreSQL's message. Never carries
/// the connection string (it may hold the password).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var message: String
    /// SQLSTATE, when the server sent one (e.g. "23505" unique violation).
    public var sqlState: String?
    /// The constraint a violation names (PG_DIAG_CONSTRAINT_NAME), when the server sent one.
    public var constraint: String? = nil
    public var description: String { "\(operation): \(message)\(sqlState.map { " [\($0)]" } ?? "")" }
    /// Connection-level trouble (the server went away): retry after reconnecting.
    /// Deadlock, serialization failure, statement timeout, lock timeout: the same
    /// statements may well succeed when tried again on the same connection.
    public var isTransient: Bool { ["40P01", "40001", "57014", "55P03"].contains(sqlState ?? "") }
    public var isConnectionFailure: Bool { sqlState == nil || sqlState!.hasPrefix("08") || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03" }
}

/// A text-format value for a parameter or a column.
public enum PostgresValue: Sendable, Hashable {
    case null
    case text(String)
    case bytes([UInt8])
    /// A value in PostgreSQL's binary wire form (a `BinaryArray`), sent with format 1:
    /// the server copies it in instead of parsing text.
    case binary([UInt8])

    /// Appends the text form plus its NUL (the binary form as is); false for NULL.
    func append(to out: inout [UInt8]) -> Bool {
        switch self {
        case .null: return false
        case .text(let s): out.append(contentsOf: s.utf8)
        case .bytes(let b): out.append(0x5C); out.append(0x78); appendHex(b, to: &out)
        case .binary(let b): out.append(contentsOf: b); return true
        }
        out.append(0)
        return true
    }

    var isBinary: Bool { if case .binary = self { true } else { false } }
}

/// A one-dimensional array in PostgreSQL's binary wire form (`array_send`): a header
/// (dimensions, null flag, element type), then each element as a 4-byte length and
/// its bytes. A batch column sent this way skips `array_in` and every element's text
/// input function on the server, and the hex encoding of bytea on both sides.
/// `array_recv` checks the element type against the statement's cast, so a column
/// built for the wrong type is refused rather than misread.
public struct BinaryArray: Sendable {
    /// Element type OIDs (pg_type.dat), the ones the writer sends.
    public struct ElementType: RawRepresentable, Sendable, Hashable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let bool = ElementType(rawValue: 16)
        public static let bytea = ElementType(rawValue: 17)
        public static let int8 = ElementType(rawValue: 20)
        public static let int2 = ElementType(rawValue: 21)
        public static let int4 = ElementType(rawValue: 23)
        public static let text = ElementType(rawValue: 25)
        public static let float4 = ElementType(rawValue: 700)
        public static let timestamptz = ElementType(rawValue: 1184)
        public static let uuid = ElementType(rawValue: 2950)
    }

    public let elementType: ElementType
    /// The wire form so far. The header's null flag and length are kept current on
    /// every append, so `value` hands this storage over without copying it.
    public private(set) var bytes: [UInt8]
    public private(set) var count = 0

    public init(_ elementType: ElementType, reservingCapacity n: Int = 0) {
        self.elementType = elementType
        bytes = []
        bytes.reserveCapacity(20 + n)
        // ndim 1, has-null flag, element type, then the one dimension: its length and lower bound 1.
        put32(1); put32(0); put32(elementType.rawValue); put32(0); put32(1)
    }

    @inline(__always) private mutating func put32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 24)); bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) private mutating func put64(_ v: UInt64) { put32(UInt32(truncatingIfNeeded: v >> 32)); put32(UInt32(truncatingIfNeeded: v)) }

    /// One more element: bump the length in the header, then write the element's own length.
    @inline(__always) private mutating func element(length: Int) {
        count += 1
        let n = UInt32(truncatingIfNeeded: count)
        bytes.withUnsafeMutableBufferPointer { b in
            b[12] = UInt8(truncatingIfNeeded: n >> 24); b[13] = UInt8(truncatingIfNeeded: n >> 16)
            b[14] = UInt8(truncatingIfNeeded: n >> 8); b[15] = UInt8(truncatingIfNeeded: n)
        }
        put32(UInt32(bitPattern: Int32(truncatingIfNeeded: length)))
    }

    public mutating func appendNull() { element(length: -1); bytes[7] = 1 }

    /// Raw element bytes (text as UTF-8, bytea as is).
    public mutating func append(raw b: UnsafeRawBufferPointer) {
        element(length: b.count)
        bytes.append(contentsOf: b)
    }
    public mutating func append(bytea b: [UInt8]) { b.withUnsafeBytes { append(raw: $0) } }
    /// Text as UTF-8. PostgreSQL text cannot hold NUL: a U+0000 is stored as U+FFFD.
    public mutating func append(_ s: String) {
        var s = s
        let clean: Bool = s.withUTF8 { u in
            guard let base = u.baseAddress, memchr(base, 0, u.count) != nil else {
                append(raw: UnsafeRawBufferPointer(u))
                return true
            }
            return false
        }
        if !clean {
            var out = String.UnicodeScalarView()
            for c in s.unicodeScalars { out.append(c.value == 0 ? "\u{FFFD}" : c) }
            append(String(out))
        }
    }
    public mutating func append(_ s: String?) { if let s { append(s) } else { appendNull() } }

    public mutating func append(int8 v: Int64) { element(length: 8); put64(UInt64(bitPattern: v)) }
    public mutating func append(int4 v: Int32) { element(length: 4); put32(UInt32(bitPattern: v)) }
    public mutating func append(int2 v: Int16) {
        element(length: 2)
        bytes.append(UInt8(truncatingIfNeeded: UInt16(bitPattern: v) >> 8)); bytes.append(UInt8(truncatingIfNeeded: v))
    }
    public mutating func append(bool v: Bool) { element(length: 1); bytes.append(v ? 1 : 0) }
    public mutating func append(float4 v: Float) { element(length: 4); put32(v.bitPattern) }
    /// 16 bytes, network order.
    public mutating func append(uuidHigh high: UInt64, low: UInt64) { element(length: 16); put64(high); put64(low) }
    /// Milliseconds since the Unix epoch, as PostgreSQL's microseconds since 2000-01-01.
    public mutating func append(timestampMillis ms: UInt64) {
        element(length: 8)
        put64(UInt64(bitPattern: (Int64(ms) - 946_684_800_000) * 1000))
    }

    public var value: PostgresValue { .binary(bytes) }
}

/// One statement of a pipeline: SQL text, or the name of a statement prepared on
/// this connection with `prepare` (parsed and planned once, not per batch).
public struct PostgresStatement: Sendable {
    public var sql: String
    public var params: [PostgresValue]
    public var isPrepared: Bool
    public static func sql(_ sql: String, _ params: [PostgresValue] = []) -> PostgresStatement {
        PostgresStatement(sql: sql, params: params, isPrepared: false)
    }
    public static func prepared(_ name: String, _ params: [PostgresValue]) -> PostgresStatement {
        PostgresStatement(sql: name, params: params, isPrepared: true)
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

func appendHex(_ b: [UInt8], to out: inout [UInt8]) {
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: b.count * 2))
    out.withUnsafeMutableBufferPointer { o in
        hexDigits.withUnsafeBufferPointer { d in
            b.withUnsafeBufferPointer { src in
                var j = start
                for x in src {
                    o[j] = d[Int(x >> 4)]
                    o[j + 1] = d[Int(x & 0xF)]
                    j += 2
                }
            }
        }
    }
}

/// One row of a result, read by column name (text; NULL as nil).
public struct PostgresRow: Sendable {
    /// The result's column names, shared by its rows.
    let columns: [String]
    let values: [String?]

    public init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    /// The value in the column named `name`: nil when NULL or when there is no such column.
    public subscript(_ name: String) -> String? {
        guard let i = columns.firstIndex(of: name), i < values.count else { return nil }
        return values[i]
    }

    /// The value as an integer; nil when NULL, absent or not a number.
    public func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
}

/// Rows of a result, as text (NULL as nil).
public struct PostgresRows: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    public var affected: Int

    /// The first row's value in the column named `name`: nil when NULL, when there is
    /// no such column, or no row. Results are read by name, never by position.
    public subscript(firstRow name: String) -> String? {
        guard let i = columns.firstIndex(of: name), let row = rows.first, i < row.count else { return nil }
        return row[i]
    }

    /// Each row, read by name.
    public var named: [PostgresRow] { rows.map { PostgresRow(columns: columns, values: $0) } }
}

/// One PostgreSQL connection through libpq: parameterized statements only,
/// pipeline mode for batches, single-row mode for streaming, LISTEN/NOTIFY.
///
/// Not thread-safe: one owner (the writer, or the lease sync) at a time.
public final class PostgresConnection: @unchecked Sendable {
    let conn: OpaquePointer

    /// Connects with a conninfo string or a postgres:// URL (sslmode and the rest as
    /// libpq understands them). `statementTimeout` (ms) is set for the session.
    public init(_ conninfo: String, applicationName: String = "smpp-bridge", statementTimeoutMillis: Int? = nil) throws {
        guard let c = PQconnectdb(conninfo) else { throw PostgresError(operation: "connect", message: "out of memory", sqlState: nil) }
        conn = c
        guard PQstatus(c) == CONNECTION_OK else {
            // deinit runs (every stored property is set) and calls PQfinish.
            throw PostgresError(operation: "connect", message: Self.message(c), sqlState: nil)
        }
        _ = try execute("SELECT set_config('application_name', $1, false)", [.text(applicationName)])
        if let t = statementTimeoutMillis {
            _ = try execute("SELECT set_config('statement_timeout', $1, false)", [.text(String(t))])
        }
    }

    deinit { PQfinish(conn) }

    static func message(_ c: OpaquePointer) -> String {
        trim(String(cString: PQerrorMessage(c)))
    }

    public var isHealthy: Bool { PQstatus(conn) == CONNECTION_OK }
    public var socket: Int32 { PQsocket(conn) }
    public var serverVersion: Int { Int(PQserverVersion(conn)) }
    /// The server this connection reached, as host:port: with a multi-host URL, the one libpq chose.
    public var server: String {
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)"
    }

    static func error(_ op: String, _ r: OpaquePointer?, _ c: OpaquePointer) -> PostgresError {
        let state = r.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        // The primary message only: DETAIL ("Failing row contains (…)") and the like quote
        // row values, numbers and codes among them, and errors end up in logs.
        let msg = r.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "M"))) }.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? message(c)
        var e = PostgresError(operation: op, message: trim(msg), sqlState: state)
        e.constraint = r.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "n"))) }.map { String(cString: $0) }
        return e
    }

    /// Runs one parameterized statement and returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ params: [PostgresValue] = []) throws -> PostgresRows {
        let r = withParams(params) { values, lengths, formats in
            PQexecParams(conn, sql, Int32(params.count), nil, values, lengths, formats, 0)
        }
        defer { PQclear(r) }
        return try Self.rows(r, conn, sql)
    }

    static func rows(_ r: OpaquePointer?, _ conn: OpaquePointer, _ sql: String) throws -> PostgresRows {
        let status = r.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_SINGLE_TUPLE else {
            throw error(String(sql.prefix(60)), r, conn)
        }
        guard let r else { return PostgresRows(columns: [], rows: [], affected: 0) }
        let nf = Int(PQnfields(r)), nt = Int(PQntuples(r))
        let cols = (0..<nf).map { String(cString: PQfname(r, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(nt)
        for i in 0..<nt {
            rows.append((0..<nf).map { j in
                PQgetisnull(r, Int32(i), Int32(j)) == 1 ? nil : String(cString: PQgetvalue(r, Int32(i), Int32(j)))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(r))) ?? 0
        return PostgresRows(columns: cols, rows: rows, affected: affected)
    }

    /// Runs a script of several statements (migrations only: no parameters, so
    /// nothing from outside may reach it).
    public func executeScript(_ sql: StaticString) throws {
        try executeScript(sql.description)
    }

    func executeScript(_ sql: String) throws {
        let r = PQexec(conn, sql)
        defer { PQclear(r) }
        _ = try Self.rows(r, conn, sql)
    }

    private var preparedNames: Set<String> = []

    /// Prepares a named statement on this connection, once (later calls are no-ops).
    public func prepare(_ name: String, _ sql: String) throws {
        guard !preparedNames.contains(name) else { return }
        let r = PQprepare(conn, name, sql, 0, nil)
        defer { PQclear(r) }
        _ = try Self.rows(r, conn, name)
        preparedNames.insert(name)
    }

    /// Sends every statement in pipeline mode (one round trip for the batch) and
    /// returns each result. The statements run in order; the first error fails the
    /// rest (as a transaction would). Wrap in BEGIN/COMMIT for atomicity.
    public func pipeline(_ statements: [(String, [PostgresValue])]) throws -> [PostgresRows] {
        try pipeline(statements.map { PostgresStatement.sql($0.0, $0.1) })
    }

    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresRows] {
        guard PQenterPipelineMode(conn) == 1 else { throw PostgresError(operation: "pipeline", message: Self.message(conn), sqlState: nil) }
        defer { _ = PQexitPipelineMode(conn) }
        for st in statements {
            let ok = withParams(st.params) { v, l, f in
                st.isPrepared
                    ? PQsendQueryPrepared(conn, st.sql, Int32(st.params.count), v, l, f, 0)
                    : PQsendQueryParams(conn, st.sql, Int32(st.params.count), nil, v, l, f, 0)
            }
            guard ok == 1 else { throw PostgresError(operation: "pipeline send", message: Self.message(conn), sqlState: nil) }
        }
        guard PQpipelineSync(conn) == 1 else { throw PostgresError(operation: "pipeline sync", message: Self.message(conn), sqlState: nil) }
        var out: [PostgresRows] = []
        var firstError: PostgresError?
        for st in statements {
            // Each statement yields its result then a NULL.
            let r = PQgetResult(conn)
            let status = r.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
            if status == PGRES_PIPELINE_ABORTED {
                if firstError == nil { firstError = PostgresError(operation: "pipeline", message: "aborted", sqlState: nil) }
            } else {
                do { out.append(try Self.rows(r, conn, st.sql)) } catch let e as PostgresError { if firstError == nil { firstError = e } }
            }
            PQclear(r)
            while let extra = PQgetResult(conn) { PQclear(extra) }
        }
        // The sync point.
        while let r = PQgetResult(conn) {
            let st = PQresultStatus(r)
            PQclear(r)
            if st == PGRES_PIPELINE_SYNC { break }
        }
        if let firstError { throw firstError }
        return out
    }

    /// Streams a query's rows one at a time (single-row mode): the whole result is
    /// never held in memory. `body` returns false to stop early.
    public func stream(_ sql: String, _ params: [PostgresValue] = [], _ body: (PostgresRow) throws -> Bool) throws {
        let ok = withParams(params) { v, l, f in PQsendQueryParams(conn, sql, Int32(params.count), nil, v, l, f, 0) }
        guard ok == 1 else { throw PostgresError(operation: "stream", message: Self.message(conn), sqlState: nil) }
        guard PQsetSingleRowMode(conn) == 1 else { throw PostgresError(operation: "single-row mode", message: Self.message(conn), sqlState: nil) }
        var failure: PostgresError?
        var stop = false
        var columns: [String]?
        while let r = PQgetResult(conn) {
            defer { PQclear(r) }
            let status = PQresultStatus(r)
            if status == PGRES_SINGLE_TUPLE, !stop, failure == nil {
                let nf = Int(PQnfields(r))
                let names = columns ?? (0..<nf).map { String(cString: PQfname(r, Int32($0))) }
                columns = names
                let values = (0..<nf).map { j in PQgetisnull(r, 0, Int32(j)) == 1 ? nil : String(cString: PQgetvalue(r, 0, Int32(j))) }
                let row = PostgresRow(columns: names, values: values)
                do { if try !body(row) { stop = true; _ = PQrequestCancel(conn) } } catch { failure = PostgresError(operation: "stream", message: "\(error)", sqlState: nil) }
            } else if status != PGRES_TUPLES_OK && status != PGRES_SINGLE_TUPLE && !stop {
                failure = Self.error("stream", r, conn)
            }
        }
        if let failure { throw failure }
    }

    /// LISTEN on a channel. Notifications are delivered by `notifications()`.
    public func listen(_ channel: String) throws {
        let ident = String(cString: PQescapeIdentifier(conn, channel, channel.utf8.count))
        _ = try execute("LISTEN \(ident)")
    }

    /// Reads pending input and returns the notifications that arrived (channel, payload).
    public func notifications() throws -> [(String, String)] {
        guard PQconsumeInput(conn) == 1 else { throw PostgresError(operation: "notify", message: Self.message(conn), sqlState: nil) }
        var out: [(String, String)] = []
        while let n = PQnotifies(conn) {
            out.append((String(cString: n.pointee.relname), String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }

    /// Calls `body` for notifications as they arrive, from a Dispatch read source on
    /// the connection's socket (no thread waits for them). Cancel the returned source to stop.
    public func watchNotifications(queue: DispatchQueue, _ body: @escaping @Sendable ([(String, String)]) -> Void,
                                   onFailure: @escaping @Sendable (PostgresError) -> Void) -> any DispatchSourceRead {
        let src = DispatchSource.makeReadSource(fileDescriptor: socket, queue: queue)
        src.setEventHandler { [self] in
            do {
                let n = try notifications()
                if !n.isEmpty { body(n) }
            } catch let e as PostgresError {
                src.cancel()
                onFailure(e)
            } catch {}
        }
        // The handlers hold the connection, so PQfinish (which closes the socket) can
        // only run after Dispatch has unregistered the descriptor, never under it.
        src.setCancelHandler { withExtendedLifetime(self) {} }
        src.resume()
        return src
    }

    /// Hands libpq the parameters (text format) as C strings laid out in one
    /// buffer: one allocation per statement, however many parameters it has.
    private func withParams<R>(_ params: [PostgresValue], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R) -> R {
        if params.isEmpty { return body(nil, nil, nil) }
        // All binary: no copy into one buffer; each parameter's own storage is passed.
        if params.allSatisfy(\.isBinary) { return withBinaryParams(params[...], [], [], body) }
        var buffer: [UInt8] = []
        var offsets: [Int] = [], lengths: [Int32] = []
        offsets.reserveCapacity(params.count)
        lengths.reserveCapacity(params.count)
        for p in params {
            let start = buffer.count
            offsets.append(p.append(to: &buffer) ? start : -1)
            lengths.append(Int32(buffer.count - start))  // read by libpq for binary ones only
        }
        let anyBinary = params.contains(where: \.isBinary)
        let formats: [Int32] = anyBinary ? params.map { $0.isBinary ? 1 : 0 } : []
        return buffer.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { chars in
                let pointers: [UnsafePointer<CChar>?] = offsets.map { $0 < 0 ? nil : chars.baseAddress! + $0 }
                return pointers.withUnsafeBufferPointer { p in
                    lengths.withUnsafeBufferPointer { l in
                        formats.withUnsafeBufferPointer { f in
                            body(p.baseAddress, anyBinary ? l.baseAddress : nil, anyBinary ? f.baseAddress : nil)
                        }
                    }
                }
            }
        }
    }

    /// Pins each binary parameter's bytes in turn, then calls `body` with them all.
    private func withBinaryParams<R>(_ rest: ArraySlice<PostgresValue>, _ pointers: [UnsafePointer<CChar>?], _ lengths: [Int32],
                                     _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R) -> R {
        guard let first = rest.first, case .binary(let b) = first else {
            let formats = [Int32](repeating: 1, count: pointers.count)
            return pointers.withUnsafeBufferPointer { p in
                lengths.withUnsafeBufferPointer { l in formats.withUnsafeBufferPointer { f in body(p.baseAddress, l.baseAddress, f.baseAddress) } }
            }
        }
        return b.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { c in
                withBinaryParams(rest.dropFirst(), pointers + [c.baseAddress], lengths + [Int32(c.count)], body)
            }
        }
    }
}

func trim(_ s: String) -> String {
    var t = Substring(s)
    while let f = t.first, f == " " || f == "\n" || f == "\t" { t.removeFirst() }
    while let l = t.last, l == " " || l == "\n" || l == "\t" { t.removeLast() }
    return String(t)
}

/// What a connection string says about TLS to the server, read the way libpq reads it
/// (`PQconninfoParse`, both the `key=value` and the `postgres://` form), without
/// connecting. Nothing here holds the password.
public struct PostgresTLSPolicy: Sendable, Equatable {
    /// The sslmode libpq will use (`PGSSLMODE` or libpq's default "prefer" when the string has none).
    public var sslMode: String
    /// Every host named (host, or hostaddr when no host); empty for the default Unix socket.
    public var hosts: [String]

    /// Only these make libpq check the server's certificate (verify-full also its name).
    public var verifiesServer: Bool { sslMode == "verify-full" || sslMode == "verify-ca" }

    /// Unix sockets and loopback addresses: no network between us and the server.
    public var isLocal: Bool {
        hosts.allSatisfy { h in
            h.isEmpty || h.hasPrefix("/") || h.hasPrefix("@") || h == "localhost" || h.hasPrefix("127.") || h == "::1"
        }
    }

    /// Nil when libpq cannot parse the string (the connection would fail with its own message).
    public init?(conninfo: String) {
        var err: UnsafeMutablePointer<CChar>?
        guard let opts = PQconninfoParse(conninfo, &err) else {
            if let err { PQfreemem(err) }
            return nil
        }
        defer { PQconninfoFree(opts) }
        var values: [String: String] = [:]
        var o = opts
        while let k = o.pointee.keyword {
            let key = String(cString: k)
            if let v = o.pointee.val, key == "sslmode" || key == "host" || key == "hostaddr" { values[key] = String(cString: v) }
            o += 1
        }
        sslMode = values["sslmode"] ?? getenv("PGSSLMODE").map { String(cString: $0) } ?? "prefer"
        let named = values["host"].flatMap { $0.isEmpty ? nil : $0 } ?? values["hostaddr"] ?? ""
        hosts = named.isEmpty ? [] : named.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }

    /// A warning for an operator, or nil: TLS that does not verify the server, over a network.
    public var warning: String? {
        guard !isLocal, !verifiesServer else { return nil }
        return "sslmode=\(sslMode) to \(hosts.joined(separator: ",")) does not verify the server's certificate: use sslmode=verify-full with sslrootcert"
    }
}
