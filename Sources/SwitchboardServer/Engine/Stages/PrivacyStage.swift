import NIOCore
import SwitchboardCore

/// Request stage: personal data and secrets in a request's texts (`guardrails.pii`). The first policy whose scope
/// matches the request decides: `block` refuses it (400 `pii_detected`, naming the kinds found, never the values),
/// `redact` replaces each value with its kind's placeholder, `pseudonymise` with numbered placeholders that
/// `PrivacyRestoreStage` puts back into the answer. Runs first, so routing rules, the request log and every upstream
/// see only the masked texts.
struct PrivacyStage: RequestStage {
    let policies: [PIIPolicy]
    let scanners: [PIIScanner]

    init(policies: [PIIPolicy]) {
        self.policies = policies
        scanners = policies.map(\.scanner)
    }

    func handle<API: ClientAPI>(_ call: inout Call<API>, _ exchange: inout Exchange) async -> RequestVerdict {
        guard let n = policies.firstIndex(where: { $0.scope.matches(model: call.model, key: call.identity.name, team: call.identity.team) }) else {
            return .pass
        }
        let policy = policies[n]
        var masker = PIIMasker(scanner: scanners[n], action: policy.action)
        let body = API.body(call.request)
        let masked = PIIBody.mask(body, roots: API.textRoots(call.request), &masker)
        guard !masker.found.isEmpty else { return .pass }
        let kinds = masker.kindsFound
        exchange.guardrails.append("pii=\(policy.action.rawValue):\(kinds.joined(separator: ","))")
        exchange.spans?.request.attributes["switchboard.guardrails"] = exchange.guardrails.joined(separator: ", ")
        call.logger.info("guardrail pii", metadata: ["policy": "\(policy.name)", "action": "\(policy.action.rawValue)",
                                                     "kinds": "\(kinds.joined(separator: ","))"])
        guard policy.action != .block, let masked else {
            // The request log keeps the request without the values either.
            var redactor = PIIMasker(scanner: scanners[n], action: .redact)
            keepForLog(PIIBody.mask(body, roots: API.textRoots(call.request), &redactor), &exchange)
            return .refuse(Self.blocked(policy, kinds))
        }
        do {
            call.request = try API.rebuilt(call.request, body: masked)
        } catch {
            return .refuse(error)
        }
        keepForLog(masked, &exchange)
        if policy.action == .pseudonymise { call.pseudonyms = masker.originals }
        return .pass
    }

    static func blocked(_ policy: PIIPolicy, _ kinds: [String]) -> GatewayError {
        GatewayError(.piiDetected, "The request contains personal data or secrets (\(kinds.joined(separator: ", "))) "
                     + "that the gateway's policy '\(policy.name)' does not let through.")
    }

    /// For requests outside the engine (`count_tokens`): the body masked under the policy that applies to it (a
    /// pseudonymised one is counted with its placeholders); throws when the policy blocks it.
    func masked(_ body: ByteBuffer, model: String, identity: Identity, roots: Set<String>) throws(GatewayError) -> ByteBuffer {
        guard let n = policies.firstIndex(where: { $0.scope.matches(model: model, key: identity.name, team: identity.team) }) else { return body }
        var masker = PIIMasker(scanner: scanners[n], action: policies[n].action)
        let masked = PIIBody.mask(body, roots: roots, &masker)
        if !masker.found.isEmpty, policies[n].action == .block { throw Self.blocked(policies[n], masker.kindsFound) }
        return masked ?? body
    }

    private func keepForLog(_ body: ByteBuffer?, _ exchange: inout Exchange) {
        if let limit = exchange.bodyLimit, let body { exchange.record.requestBody = Exchange.prefix(body, limit) }
    }
}

/// Response stage: puts pseudonymised values back into the answer — whole, or streamed with placeholders split
/// anywhere across chunks — so the client sees its own data. Last in order: nothing after it (the request log's body
/// capture included) sees the values.
struct PrivacyRestoreStage: ResponseStage {
    func start<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> (any ResponseFilter)? {
        guard let pseudonyms = call.pseudonyms, !pseudonyms.isEmpty, let format = API.answerFormat(call.request) else { return nil }
        return Restore(restorer: PlaceholderRestorer(originals: pseudonyms), stream: AnswerStream(format: format))
    }

    struct Restore: ResponseFilter {
        var restorer: PlaceholderRestorer
        var stream: AnswerStream
        /// Each channel's kind of text (JSON fragments are restored JSON-escaped).
        var places: [Int: TextPlace] = [:]

        mutating func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) -> ResponseVerdict {
            let restorer = self.restorer
            body = AnswerTexts.rewrite(body, stream.format) { text, _ in restorer.restore(text) }
            return .pass
        }

        mutating func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
            var restorer = self.restorer
            var places = self.places
            let format = stream.format
            bytes = stream.feed(bytes, rewrite: { text, place in
                places[place.channel] = place
                return restorer.feed(text, channel: place.channel, json: place.json)
            }, closing: { Self.flush(&restorer, places, choice: $0, format: format) })
            self.restorer = restorer
            self.places = places
            return .pass
        }

        func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange) {}

        mutating func finish(_ exchange: inout Exchange) async -> (bytes: ByteBuffer?, error: GatewayError?) {
            var restorer = self.restorer
            var places = self.places
            let format = stream.format
            var out = stream.finish(rewrite: { text, place in
                places[place.channel] = place
                return restorer.feed(text, channel: place.channel, json: place.json)
            }, closing: { Self.flush(&restorer, places, choice: $0, format: format) })
            out.writeString(stream.events(carrying: Self.flush(&restorer, places, choice: -1, format: format)))
            self.restorer = restorer
            return (out.readableBytes > 0 ? out : nil, nil)
        }

        /// The held text of the channels `choice` ends (-1: all), as it is: it was not a placeholder after all.
        static func flush(_ restorer: inout PlaceholderRestorer, _ places: [Int: TextPlace], choice: Int, format: AnswerFormat) -> [(TextPlace, String)] {
            restorer.heldChannels.compactMap { channel in
                let place = places[channel] ?? TextPlace(channel: channel, json: false)
                let owner = format == .openAIChat ? place.choice : place.channel
                guard choice < 0 || owner == choice else { return nil }
                return (place, restorer.flush(channel: channel))
            }
        }
    }
}
