import HTTPTypes
import Hummingbird

/// Certificates.
extension ConsoleAPI {
    /// The TLS certificates kept for a site.
    static func addCertificateRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("sites/:site/certificates") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(try await store.certificates(site: try context.parameters.require("site")))
        }
        group.get("sites/:site/certificates/:name") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(
                try await store.certificate(
                    site: try context.parameters.require("site"),
                    name: try context.parameters.require("name")
                )
            )
        }
        group.put("sites/:site/certificates/:name") { request, context in
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let (info, created, version) = try await store.putCertificate(
                site: try context.parameters.require("site"),
                name: try context.parameters.require("name"),
                certificatePEM: try Self.field("certificate", in: body),
                privateKeyPEM: try Self.field("privateKey", in: body),
                actor: identity.user
            )
            var response = try Self.json(info, status: created ? .created : .ok)
            response.headers[.eTag] = "\"\(version)\""
            return response
        }
        group.delete("sites/:site/certificates/:name") { _, context in
            let identity = try context.requireAdmin()
            try await store.deleteCertificate(
                site: try context.parameters.require("site"),
                name: try context.parameters.require("name"),
                actor: identity.user
            )
            return Response(status: .noContent)
        }
    }
}
