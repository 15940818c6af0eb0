import Foundation
import HTTPTypes
import SwitchboardCore
import SwitchboardRouting
import Testing

/// Writes small MaxMind DB files (the format's search tree, data section and metadata) for the reader's tests.
struct MMDBWriter {
    var recordSize = 24
    var ipVersion = 6
    /// Networks (address bytes, prefix length over those bytes) and the country code each maps to.
    var networks: [(bytes: [UInt8], prefix: Int, country: String)] = []

    mutating func add(_ cidr: String) {
        let parts = cidr.split(separator: "/")
        let (country, rest) = (String(parts[1].split(separator: "=")[1]), parts[1].split(separator: "=")[0])
        let address = String(parts[0])
        var bytes: [UInt8]
        var prefix = Int(rest)!
        if address.contains(":") {
            var v6 = in6_addr()
            _ = inet_pton(AF_INET6, address, &v6)
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            bytes = address.split(separator: ".").map { UInt8($0)! }
            if ipVersion == 6 {
                bytes = [UInt8](repeating: 0, count: 12) + bytes
                prefix += 96
            }
        }
        networks.append((bytes, prefix, country))
    }

    static func map(_ pairs: [(String, [UInt8])]) -> [UInt8] {
        [UInt8(7 << 5 | pairs.count)] + pairs.flatMap { string($0.0) + $0.1 }
    }
    static func string(_ s: String) -> [UInt8] { [UInt8(2 << 5 | s.utf8.count)] + Array(s.utf8) }
    static func uint16(_ v: Int) -> [UInt8] { [UInt8(5 << 5 | 2), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func uint32(_ v: Int) -> [UInt8] { [UInt8(6 << 5 | 4), UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    func bytes() -> [UInt8] {
        // The tree: node 0 is the root; a record is a node index, a data offset, or nothing.
        enum Record { case empty, node(Int), data(Int) }
        var nodes: [[Record]] = [[.empty, .empty]]
        var data: [UInt8] = []
        for n in networks {
            let record = Self.map([("country", Self.map([("iso_code", Self.string(n.country))]))])
            let offset = data.count
            data += record
            var node = 0
            for depth in 0..<n.prefix {
                let bit = Int(n.bytes[depth / 8] >> (7 - UInt8(depth % 8))) & 1
                if depth == n.prefix - 1 {
                    nodes[node][bit] = .data(offset)
                } else if case .node(let next) = nodes[node][bit] {
                    node = next
                } else {
                    nodes.append([.empty, .empty])
                    nodes[node][bit] = .node(nodes.count - 1)
                    node = nodes.count - 1
                }
            }
        }
        let count = nodes.count
        func value(_ r: Record) -> Int {
            switch r {
            case .empty: count
            case .node(let i): i
            case .data(let o): count + 16 + o
            }
        }
        var tree: [UInt8] = []
        for node in nodes {
            let (l, r) = (value(node[0]), value(node[1]))
            switch recordSize {
            case 24: tree += [l >> 16, l >> 8, l, r >> 16, r >> 8, r].map { UInt8($0 & 0xFF) }
            case 28:
                let middle: Int = ((l >> 24) & 0x0F) << 4 | ((r >> 24) & 0x0F)
                let values: [Int] = [l >> 16, l >> 8, l, middle, r >> 16, r >> 8, r]
                tree += values.map { UInt8($0 & 0xFF) }
            default: tree += [l >> 24, l >> 16, l >> 8, l, r >> 24, r >> 16, r >> 8, r].map { UInt8($0 & 0xFF) }
            }
        }
        let metadata = Self.map([("node_count", Self.uint32(count)), ("record_size", Self.uint16(recordSize)),
                                 ("ip_version", Self.uint16(ipVersion)), ("database_type", Self.string("Test-Country"))])
        return tree + [UInt8](repeating: 0, count: 16) + data + MaxMindDB.metadataMarkerForTests + metadata
    }
}

extension MaxMindDB {
    static var metadataMarkerForTests: [UInt8] { [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8) }
}

@Suite struct GeoIPTests {
    static func writer(recordSize: Int, ipVersion: Int) -> MMDBWriter {
        var w = MMDBWriter(recordSize: recordSize, ipVersion: ipVersion)
        w.add("1.2.3.0/24=DE")
        w.add("8.8.0.0/16=US")
        w.add("203.0.113.7/32=JP")
        if ipVersion == 6 { w.add("2001:db8::/32=FR") }
        return w
    }

    @Test(arguments: [(24, 4), (24, 6), (28, 6), (32, 6), (32, 4)])
    func looksUpAddressesInEveryLayout(recordSize: Int, ipVersion: Int) throws {
        let db = try MaxMindDB(bytes: Self.writer(recordSize: recordSize, ipVersion: ipVersion).bytes())
        func country(_ ip: String) -> String? { db.lookup(ip)?["country"]?["iso_code"]?.string }
        #expect(db.databaseType == "Test-Country")
        #expect(country("1.2.3.4") == "DE" && country("1.2.3.255") == "DE" && country("1.2.4.1") == nil)
        #expect(country("8.8.8.8") == "US" && country("8.9.0.1") == nil)
        #expect(country("203.0.113.7") == "JP" && country("203.0.113.8") == nil)
        #expect(country("not an address") == nil && country("") == nil)
        if ipVersion == 6 {
            #expect(country("2001:db8::1") == "FR" && country("2001:db9::1") == nil)
        } else {
            #expect(country("2001:db8::1") == nil)
        }
    }

    @Test func refusesWhatIsNotADatabase() {
        #expect(throws: MaxMindDB.Invalid.self) { try MaxMindDB(bytes: Array("hello".utf8)) }
        var bytes = Self.writer(recordSize: 24, ipVersion: 6).bytes()
        bytes.removeFirst(200)      // the tree no longer fits before the data section
        #expect(throws: MaxMindDB.Invalid.self) { try MaxMindDB(bytes: bytes) }
        // A record whose data is garbled (a control byte of no known type) is no answer, not a crash.
        var raw = Self.writer(recordSize: 24, ipVersion: 4).bytes()
        let record = [UInt8(7 << 5 | 1)] + MMDBWriter.string("country")
        if let i = (0..<(raw.count - record.count)).first(where: { Array(raw[$0..<($0 + record.count)]) == record }) { raw[i] = 0x00; raw[i + 1] = 0xFF }
        let db = try? MaxMindDB(bytes: raw)
        #expect(db != nil && db?.lookup("1.2.3.4") == nil)
    }

    @Test func aRuleMatchesTheRegionGeoIPGives() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("geo-\(UUID().uuidString).mmdb").path
        try Data(Self.writer(recordSize: 28, ipVersion: 6).bytes()).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let yaml = """
            auth: { master_key: "sk-master", keys: [ { name: tester, key: "\(GatewayHarness.key)" } ] }
            providers: [ { name: sim, kind: mock, seed: 1 } ]
            models:
              - { name: eu-model, deployments: [ { provider: sim, model: e } ] }
              - { name: us-model, deployments: [ { provider: sim, model: u } ] }
            router:
              models: [auto]
              region_header: x-client-region
              geoip: { database: "\(path)", trust_forwarded_for: true }
              rules:
                - { name: europe, when: { model: auto, region: [DE, FR] }, route: { model: eu-model } }
                - { name: rest, when: { model: auto }, route: { model: us-model } }
            """
        try await withGateway(yaml) { (h: GatewayHarness) async throws in
            func served(_ headers: [String: String]) async throws -> String? {
                var fields = HTTPFields()
                for (k, v) in headers { fields[HTTPField.Name(k)!] = v }
                return try await h.post("/v1/chat/completions", #"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#, headers: fields)
                    .header("x-switchboard-model")
            }
            #expect(try await served(["x-forwarded-for": "1.2.3.4, 10.0.0.1"]) == "eu-model")
            #expect(try await served(["x-forwarded-for": "2001:db8::7"]) == "eu-model")
            #expect(try await served(["x-forwarded-for": "8.8.8.8"]) == "us-model")
            #expect(try await served([:]) == "us-model")
            // The trusted header wins over GeoIP.
            #expect(try await served(["x-forwarded-for": "8.8.8.8", "x-client-region": "FR"]) == "eu-model")
        }
    }
}
