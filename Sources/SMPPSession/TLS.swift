import COpenSSL
#if canImport(Glibc)
    import Glibc
#endif

/// TLS settings for one bind (or the simulator's listener).
public struct TLSConfig: Sendable, Hashable {
    /// CA bundle (PEM). nil: the system CA store.
    public var caFile: String?
    /// Name to verify the certificate against and to send as SNI. nil: the host connected to.
    public var serverName: String?
    /// Client certificate and key (PEM) for mutual TLS; for a server, its own certificate.
    public var certificateFile: String?
    public var keyFile: String?
    /// Verification off. Only by explicit configuration, and logged at every connect.
    public var insecure = false
    /// Server side: demand a client certificate signed by `caFile` (mutual TLS).
    public var requireClientCertificate = false

    public init(caFile: String? = nil, serverName: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, insecure: Bool = false,
                requireClientCertificate: Bool = false) {
        self.requireClientCertificate = requireClientCertificate
        self.caFile = caFile
        self.serverName = serverName
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.insecure = insecure
    }
}

public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// An OpenSSL context: TLS 1.2 minimum, no compression, certificate verification
/// on unless `insecure`.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let config: TLSConfig
    public let isServer: Bool

    public init(_ config: TLSConfig, server: Bool = false) throws {
        guard let c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError(message: "SSL_CTX_new: \(Self.lastError())")
        }
        ctx = c
        self.config = config
        isServer = server
        // Every setting that matters for security is checked: a context that silently
        // allowed TLS 1.0 or skipped name checks would pass every test against a good peer.
        guard shim_SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 else {
            SSL_CTX_free(c)
            throw TLSError(message: "cannot require TLS 1.2: \(Self.lastError())")
        }
        _ = SSL_CTX_set_options(c, shim_SSL_OP_NO_COMPRESSION() | shim_SSL_OP_IGNORE_UNEXPECTED_EOF())
        // The outbox array may move between SSL_write retries; partial writes are fine.
        _ = shim_SSL_CTX_set_mode(c, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        if !server {
            if config.insecure {
                SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nil)
            } else {
                SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nil)
                if let ca = config.caFile {
                    guard SSL_CTX_load_verify_locations(c, ca, nil) == 1 else {
                        throw TLSError(message: "cannot load CA file \(ca): \(Self.lastError())")
                    }
                } else if SSL_CTX_set_default_verify_paths(c) != 1 {
                    throw TLSError(message: "cannot load the system's CA certificates: \(Self.lastError())")
                }
            }
        }
        if server, config.requireClientCertificate {
            guard let ca = config.caFile, SSL_CTX_load_verify_locations(c, ca, nil) == 1 else {
                throw TLSError(message: "mutual TLS needs a CA file to verify clients: \(Self.lastError())")
            }
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        if let cert = config.certificateFile {
            guard SSL_CTX_use_certificate_chain_file(c, cert) == 1 else {
                throw TLSError(message: "cannot load certificate \(cert): \(Self.lastError())")
            }
            guard let key = config.keyFile, SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(c) == 1 else {
                throw TLSError(message: "cannot load the private key for \(cert): \(Self.lastError())")
            }
        }
    }

    deinit { SSL_CTX_free(ctx) }

    static func lastError() -> String {
        let e = ERR_get_error()
        guard e != 0 else { return "unknown error" }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(e, &buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// TLS over a non-blocking socket. Every call returns at once; "want read/write"
/// tells the connection which Dispatch source to wait on.
final class TLSChannel {
    enum IO {
        case done(Int)
        case wantRead
        case wantWrite
        case closed
        case failed(String)
    }

    let ssl: OpaquePointer
    private(set) var established = false
    let context: TLSContext

    init(context: TLSContext, fd: Int32, host: String) throws {
        guard let s = SSL_new(context.ctx) else { throw TLSError(message: "SSL_new: \(TLSContext.lastError())") }
        ssl = s
        self.context = context
        SSL_set_fd(s, fd)
        if context.isServer {
            SSL_set_accept_state(s)
        } else {
            SSL_set_connect_state(s)
            let name = context.config.serverName ?? host
            // An empty name would verify the chain and no name: any certificate from the CA would do.
            guard !name.isEmpty else {
                SSL_free(s)
                throw TLSError(message: "TLS server name is empty: set tls.server_name or host")
            }
            let isIP = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
            if !isIP, shim_SSL_set_tlsext_host_name(s, name) != 1 {
                SSL_free(s)
                throw TLSError(message: "cannot set SNI \(name): \(TLSContext.lastError())")
            }
            if !context.config.insecure {
                let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), name) : SSL_set1_host(s, name)
                guard ok == 1 else {
                    SSL_free(s)
                    throw TLSError(message: "cannot set the name to verify (\(name)): \(TLSContext.lastError())")
                }
            }
        }
    }

    deinit { SSL_free(ssl) }

    private func result(_ rc: Int32) -> IO {
        if rc > 0 { return .done(Int(rc)) }
        let err = SSL_get_error(ssl, rc)
        switch err {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        default:
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                return .failed("certificate verification failed: \(String(cString: X509_verify_cert_error_string(verify)))")
            }
            let detail = TLSContext.lastError()
            ERR_clear_error()
            if err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL, detail == "unknown error" {
                return established ? .closed : .failed("peer closed the connection during the TLS handshake")
            }
            return .failed("TLS error: \(detail)")
        }
    }

    func handshake() -> IO {
        let r = result(SSL_do_handshake(ssl))
        if case .done = r { established = true }
        return r
    }

    func read(_ buf: UnsafeMutableRawBufferPointer) -> IO {
        ERR_clear_error()
        return result(SSL_read(ssl, buf.baseAddress, Int32(min(buf.count, Int(Int32.max)))))
    }

    func write(_ buf: UnsafeRawBufferPointer) -> IO {
        ERR_clear_error()
        return result(SSL_write(ssl, buf.baseAddress, Int32(min(buf.count, Int(Int32.max)))))
    }

    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
}
