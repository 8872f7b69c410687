import Foundation
import HALBCore
import Hummingbird
import NIOCore

/// Reading requests: bodies within limits, fields, versions and lists.
extension ConsoleAPI {
    /// The limits of a request body: 1 MiB, and the site's limits of depth, nodes and list lengths.
    static let bodyLimits = DocumentLimits(
        maximumBytes: Self.maximumBody,
        maximumDepth: DocumentLimits.site.maximumDepth,
        maximumNodes: DocumentLimits.site.maximumNodes,
        maximumItems: DocumentLimits.site.maximumItems
    )

    /// The request body as a configuration tree: JSON when the body says it is (`application/json` or
    /// `…+json`), else YAML (`application/yaml`, or no type), both within ``bodyLimits``.
    static func body(_ request: Request, _ context: ConsoleRequestContext) async throws -> ConfigNode {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maximumBody)
        } catch {
            throw ConsoleError.badRequest("the body is larger than \(Self.maximumBody) bytes")
        }
        let text = String(buffer: buffer)
        let json = Self.isJSON(request.headers[.contentType])
        do {
            return json
                ? try ConfigNode.parse(json: text, limits: Self.bodyLimits)
                : try ConfigNode.parse(yaml: text, limits: Self.bodyLimits)
        } catch {
            throw ConsoleError.badRequest("the body is not \(json ? "JSON" : "YAML"): \(error.description)")
        }
    }

    /// Whether a `Content-Type` names JSON: `application/json` or a `+json` type, parameters aside.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type =
            contentType.split(separator: ";", maxSplits: 1).first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    /// A required text field of a body.
    static func field(_ key: String, in body: ConfigNode) throws(ConsoleError) -> String {
        guard case .scalar(let text, _) = body[key], !text.isEmpty else {
            throw .invalidRequest([ConfigurationIssue(path: key, message: "required")])
        }
        return text
    }

    /// The version a change is based on: `If-Match: "7"` (or `7`).
    static func baseVersion(_ request: Request) throws(ConsoleError) -> Int {
        guard let value = request.headers[.ifMatch] else { throw .versionRequired }
        let trimmed = value.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/"))
        guard let version = Int(trimmed) else {
            throw .badRequest("If-Match \(value.prefix(40)) is not a site version such as \"7\"")
        }
        return version
    }

    /// The `:version` of the path.
    static func version(_ context: ConsoleRequestContext) throws -> Int {
        let text = try context.parameters.require("version")
        guard let version = Int(text) else {
            throw ConsoleError.badRequest("\(text.prefix(40)) is not a version number")
        }
        return version
    }

    /// The `:collection` of the path: gateways, devices or virtual-servers (else 404).
    static func collection(_ context: ConsoleRequestContext) throws -> SiteCollection {
        let text = try context.parameters.require("collection")
        guard let collection = SiteCollection(rawValue: text) else {
            throw ConsoleError.notFound(
                "no such list: \(text.prefix(40)) (gateways, devices, virtual-servers, certificates, versions, export)"
            )
        }
        return collection
    }
}

extension ConsoleAPI {
    /// The integer query parameter `name` (`nil` when absent), which must lie in `range`.
    static func integerParameter(
        _ name: String,
        in query: Parameters,
        range: ClosedRange<Int>
    ) throws(ConsoleError) -> Int? {
        guard let text = query.get(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .invalidRequest([
                ConfigurationIssue(
                    path: name,
                    message: "\(DisplayText.quoted(text, limit: 40)) is not a whole number from "
                        + "\(range.lowerBound) to \(range.upperBound)"
                )
            ])
        }
        return value
    }
}
