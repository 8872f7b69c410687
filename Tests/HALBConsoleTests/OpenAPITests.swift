import Foundation
import HALBConsole
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import Yams

/// docs/openapi.yaml describes exactly the routes the console serves.
@Suite struct OpenAPITests {
    private static var document: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return ((try? Yams.load(yaml: text)) as? [String: Any]) ?? [:]
    }

    /// `GET /api/v1/sites/{site}` for each operation of the document.
    private var documented: Set<String> {
        let paths = Self.document["paths"] as? [String: Any] ?? [:]
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys
            where ["get", "put", "post", "delete", "patch"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The same for the router, its `:name` captures written as `{name}` (the list capture is `{list}` in the
    /// document, as it names gateways, devices or virtual servers).
    private var served: Set<String> {
        let router = ConsoleAPI.router(store: try! ConsoleStore.inMemory())
        return Set(
            router.routes.map { route in
                let path = "\(route.path)".split(separator: "/").map { component in
                    let name = component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
                    return name == "{collection}" ? "{list}" : name
                }.joined(separator: "/")
                return "\(route.method) /\(path)"
            }
        )
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsServed() {
        #expect(!self.documented.isEmpty, "docs/openapi.yaml could not be read")
        #expect(self.served.subtracting(self.documented).sorted() == [], "served but not documented")
        #expect(self.documented.subtracting(self.served).sorted() == [], "documented but not served")
    }

    @Test func everyRouteButHealthLoginAndEnrolmentAnswers401WithoutCredentials() async throws {
        let router = ConsoleAPI.router(store: try ConsoleStore.inMemory())
        let open: Set<String> = ["GET /healthz", "POST /api/v1/login", "POST /agent/v1/enrol"]
        let routes = router.routes.map { route in
            // Captures get sample values: `:site` → lab, `:collection` → gateways, `:version` → 1, others → x.
            let path = "\(route.path)".split(separator: "/").map { component -> String in
                switch component {
                case ":site": "lab"
                case ":collection": "gateways"
                case ":version": "1"
                case _ where component.hasPrefix(":"): "x"
                default: String(component)
                }
            }.joined(separator: "/")
            let template = "\(route.path)".split(separator: "/").joined(separator: "/")
            return (method: route.method, path: "/" + path, name: "\(route.method) /\(template)")
        }
        #expect(routes.count > 20)
        let app = Application(router: router)
        try await app.test(.router) { client in
            for route in routes where !open.contains(route.name) {
                for headers: HTTPFields in [[:], [.authorization: "Bearer halb_0011.bogus"]] {
                    try await client.execute(
                        uri: route.path,
                        method: route.method,
                        headers: headers,
                        body: ByteBuffer(string: "{}")
                    ) { response in
                        #expect(response.status == .unauthorized, "\(route.name) with \(headers): \(response.status)")
                    }
                }
            }
        }
    }

    @Test func theRoutesDoNotClash() throws {
        try ConsoleAPI.router(store: try ConsoleStore.inMemory()).validate()
    }

    @Test func everyOperationDocumentsItsErrorsAndEveryReferenceResolves() throws {
        let text = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml"),
            encoding: .utf8
        )
        let components = Self.document["components"] as? [String: Any] ?? [:]
        for match in text.matches(of: /\$ref: "#\/components\/(\w+)\/(\w+)"/) {
            let section = components[String(match.1)] as? [String: Any] ?? [:]
            #expect(section[String(match.2)] != nil, "unresolved \(match.0)")
        }
        let paths = Self.document["paths"] as? [String: Any] ?? [:]
        for (path, item) in paths where path.hasPrefix("/api/v1/") && path != "/api/v1/login" {
            for (method, operation) in item as? [String: Any] ?? [:] where method != "parameters" {
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                #expect(responses["401"] != nil, "\(method) \(path) does not document 401")
            }
        }
    }
}
