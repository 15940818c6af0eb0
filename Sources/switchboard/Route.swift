import ArgumentParser
import Foundation
import HTTPTypes
import NIOCore
import SwitchboardCore
import SwitchboardServer

struct Route: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Routing rules from the command line.",
        subcommands: [Explain.self])

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Explain where a request would go and why, without sending it.",
            discussion: """
                Prints the routing rules tried (and the condition each failed on), the models each matching rule \
                weighed with their expected cost and why any was passed over, the decision, and the chosen model's \
                deployments. Deployments count as healthy (the running gateway's view is POST /admin/route/explain).
                """)

        @Option(help: "The gateway configuration (the embedded demo when not given).")
        var config: String?

        @Option(help: "The request body as a client would send it: a JSON file, or - for standard input.")
        var request: String

        @Option(help: "The endpoint it is for: chat, messages or embeddings.")
        var api: String = "chat"

        @Option(name: .customLong("key-name"), help: "Whose request it is: the name of a key (a configured key's models apply).")
        var keyName: String?

        @Option(name: .customLong("header"), help: "A request header, as 'name: value' (repeatable).")
        var headers: [String] = []

        @Flag(help: "Print the explanation as JSON.")
        var json = false

        func run() throws {
            let gateway = try loadConfig(path: config)
            guard let which = RouteExplainer.API(rawValue: api) else {
                throw ValidationError("unknown api \"\(api)\" (known: chat, messages, embeddings)")
            }
            var fields = HTTPFields()
            for h in headers {
                let parts = h.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let name = HTTPField.Name(parts[0].trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--header \"\(h)\": expected 'name: value'")
                }
                fields.append(HTTPField(name: name, value: parts[1].trimmingCharacters(in: .whitespaces)))
            }
            let data: Data
            do {
                data = request == "-" ? FileHandle.standardInput.readDataToEndOfFile() : Data(try ConfigLoader.readFile(request).utf8)
            } catch {
                complain("error: cannot read request file \"\(request)\": \(error.reason)")
                throw ExitCode(1)
            }
            let identity = keyName.map { name in
                gateway.auth.keys.first { $0.name == name }.map { Identity(name: $0.name, allowedModels: $0.models) } ?? Identity(name: name)
            } ?? Identity(name: "explain")
            do {
                let explanation = try RouteExplainer(config: gateway).explain(body: ByteBuffer(data: data), api: which, identity: identity, headers: fields)
                say(json ? explanation.jsonText : RouteExplainer.text(explanation))
            } catch {
                complain("error: \(error.message)")
                throw ExitCode(1)
            }
        }
    }
}
