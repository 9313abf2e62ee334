import Foundation
import Testing

/// "Acked means stored" by construction: ESME_ROK needs a `CommitProof`, and only code
/// that imports its SPI can make one. This holds the list of such files to the writer
/// (after COMMIT) and the probe (which stores nothing by design); a new one fails here
/// and has to be argued for in review.
@Suite struct AckDisciplineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func sources() -> [(path: String, text: String)] {
        let base = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        return files.sorted().compactMap { f in
            (try? String(contentsOf: base.appendingPathComponent(f), encoding: .utf8)).map { ("Sources/" + f, $0) }
        }
    }

    @Test func onlyTheWriterAndTheProbeCanMakeACommitProof() {
        let sources = Self.sources()
        #expect(sources.count > 20, "the sources were found")
        let spi = sources.filter { f in
            f.text.split(separator: "\n").contains { $0.hasPrefix("@_spi(CommitProof)") && $0.hasSuffix("import SMPPWire") }
        }.map(\.path)
        #expect(spi == ["Sources/BridgeApp/ProbeCommand.swift", "Sources/Store/BatchWriter.swift"])
        let makers = sources.filter { $0.text.contains("CommitProof()") }.map(\.path)
        #expect(makers == ["Sources/BridgeApp/ProbeCommand.swift", "Sources/Store/BatchWriter.swift"])
    }

    /// In the writer, the proof is made in one place: after `commit` returned, never in a catch.
    @Test func theWriterMakesItsProofAfterCommitOnly() throws {
        let writer = try #require(Self.sources().first { $0.path == "Sources/Store/BatchWriter.swift" }).text
        let lines = writer.split(separator: "\n", omittingEmptySubsequences: false)
        let made = lines.indices.filter { lines[$0].contains("CommitProof()") }
        #expect(made.count == 1)
        let commit = try #require(lines.indices.first { lines[$0].contains("let stored = try commit(remaining, conn)") })
        let firstCatch = try #require(lines.indices.first { $0 > commit && lines[$0].contains("} catch {") })
        #expect(made.allSatisfy { $0 > commit && $0 < firstCatch })
    }
}
