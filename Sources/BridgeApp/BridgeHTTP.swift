import Dispatch
import Foundation
import Primitives
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The commands' requests to a running bridge's HTTP server (`top`, `tail`, `ready`,
/// `ctl`), through Foundation's URLSession: any host name or address family, chunked
/// and streamed bodies, timeouts.
enum BridgeHTTP {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// One request; its status and whole body.
    static func request(_ base: String, method: String = "GET", path: String, headers: [String: String] = [:],
                        timeout: Double = 5) throws -> (status: Int, body: Data) {
        let request = try makeRequest(base, method: method, path: path, headers: headers, timeout: timeout)
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<(Int, Data), any Error>>(.failure(Failure(description: "no answer")))
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            let r: Result<(Int, Data), any Error> = error.map { .failure(Self.explain($0, request)) }
                ?? .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
            result.withLock { $0 = r }
            done.signal()
        }
        task.resume()
        done.wait()
        let (status, body) = try result.withLock { $0 }.get()
        return (status, body)
    }

    /// Streams the body to `chunk` as it arrives, until `chunk` returns false or the server
    /// ends it. Returns the status.
    @discardableResult
    static func stream(_ base: String, path: String, timeout: Double, _ chunk: @escaping (Data) -> Bool) throws -> Int {
        let request = try makeRequest(base, method: "GET", path: path, headers: [:], timeout: timeout)
        let receiver = StreamReceiver(chunk)
        let session = URLSession(configuration: .ephemeral, delegate: receiver, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        session.dataTask(with: request).resume()
        receiver.done.wait()
        if let error = receiver.error { throw explain(error, request) }
        return receiver.status
    }

    static func makeRequest(_ base: String, method: String, path: String, headers: [String: String], timeout: Double) throws -> URLRequest {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        guard let url = URL(string: trimmed + path), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw Failure(description: "\(base): not an http:// address")
        }
        var r = URLRequest(url: url, timeoutInterval: timeout)
        r.httpMethod = method
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        return r
    }

    static func explain(_ error: any Error, _ request: URLRequest) -> Failure {
        let where_ = request.url.map { "\($0.host ?? "?"):\($0.port.map(String.init) ?? "80")" } ?? "?"
        if let e = error as? URLError {
            switch e.code {
            case .cannotConnectToHost, .cannotFindHost, .networkConnectionLost, .notConnectedToInternet:
                return Failure(description: "cannot reach the bridge at \(where_): \(e.localizedDescription)")
            case .timedOut:
                return Failure(description: "the bridge at \(where_) did not answer in time")
            default: break
            }
        }
        return Failure(description: "\(where_): \(error.localizedDescription)")
    }

    /// Hands each piece of a streamed body over as it arrives; on the session's delegate queue.
    private final class StreamReceiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let chunk: (Data) -> Bool
        let done = DispatchSemaphore(value: 0)
        var status = 0
        var error: (any Error)?
        private var finished = false

        init(_ chunk: @escaping (Data) -> Bool) { self.chunk = chunk }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard !finished else { return }
            if !chunk(data) {
                finish(nil)
                dataTask.cancel()
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            finish(error)
        }

        private func finish(_ e: (any Error)?) {
            guard !finished else { return }
            finished = true
            error = e
            done.signal()
        }
    }
}
