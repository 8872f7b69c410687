import Foundation
import HALBCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Writing answers: site documents, JSON values and text.
extension ConsoleAPI {
    /// A site document or item as JSON, with the site version as its `ETag`.
    static func document(_ node: ConfigNode, version: Int, status: HTTPResponse.Status = .ok) -> Response {
        var response = Self.text(node.json() + "\n", contentType: "application/json", status: status)
        response.headers[.eTag] = "\"\(version)\""
        return response
    }

    /// A `Codable` value as JSON, keys sorted.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8)))
        )
    }

    /// Text, of `contentType`.
    static func text(
        _ text: String,
        contentType: String = "text/plain; charset=utf-8",
        status: HTTPResponse.Status = .ok
    ) -> Response {
        Response(
            status: status,
            headers: [.contentType: contentType],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}
