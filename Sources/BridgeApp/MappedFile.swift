#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only view of a whole file. Regular files are mapped (a 1 GB capture
/// costs no copy and no heap); pipes and stdin are read into memory.
final class InputBytes {
    private let base: UnsafeRawPointer?
    let count: Int
    private let mapped: Bool
    private var owned: [UInt8] = []

    enum Failure: Error, CustomStringConvertible {
        case open(String, Int32)
        var description: String {
            switch self {
            case .open(let path, let e): "cannot open \(path): \(String(cString: strerror(e)))"
            }
        }
    }

    init(path: String) throws {
        if path == "-" {
            owned = InputBytes.readAll(fd: 0)
            base = nil
            count = owned.count
            mapped = false
            return
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure.open(path, errno) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 {
            let size = Int(st.st_size)
            let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            if let p, p != MAP_FAILED {
                _ = madvise(p, size, Int32(MADV_SEQUENTIAL))
                base = UnsafeRawPointer(p)
                count = size
                mapped = true
                return
            }
        }
        owned = InputBytes.readAll(fd: fd)
        base = nil
        count = owned.count
        mapped = false
    }

    static func readAll(fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if mapped { return try body(UnsafeRawBufferPointer(start: base, count: count)) }
        return try owned.withUnsafeBytes(body)
    }

    deinit {
        if mapped, let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }
}
