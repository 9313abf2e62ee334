/// A carrier's address rewriting, in Kannel's `unified-prefix` form, for carriers whose
/// numbers the eight built-in number plans do not cover: `"+44,0044,0;+,00"` is two
/// groups; in each, an address starting with one of the later prefixes has that prefix
/// replaced by the first (`-` or nothing: removed). The first match, group by group and
/// prefix by prefix, wins, as in Kannel, so order matters: `"+,00;+44,0"` reads 00 as
/// international before 0 as national. The result is then normalized as usual (`+44…` is `44…`).
public struct UnifiedPrefix: Hashable, Sendable, CustomStringConvertible {
    public struct Group: Hashable, Sendable {
        public var replacement: String
        public var prefixes: [String]
    }
    public let groups: [Group]

    /// Nil when `spec` is not groups of `replacement,prefix[,prefix…]` separated by `;`
    /// (each prefix non-empty, made of digits, `+` or `*`).
    public init?(_ spec: String) {
        var groups: [Group] = []
        for g in spec.split(separator: ";", omittingEmptySubsequences: false) {
            var items = g.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
            if items.first == "-" { items[0] = "" }
            guard items.count >= 2, items.dropFirst().allSatisfy({ !$0.isEmpty }),
                  items.allSatisfy({ $0.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2A } })
            else { return nil }
            groups.append(Group(replacement: items[0], prefixes: Array(items.dropFirst())))
        }
        guard !groups.isEmpty else { return nil }
        self.groups = groups
    }

    public func apply(_ address: String) -> String {
        for g in groups {
            for p in g.prefixes where address.hasPrefix(p) {
                return g.replacement + address.dropFirst(p.count)
            }
        }
        return address
    }

    public var description: String { groups.map { ([$0.replacement] + $0.prefixes).joined(separator: ",") }.joined(separator: ";") }
}
