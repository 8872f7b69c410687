import CompressNIO
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The console's web page: the files of `Sources/HALBConsole/Web/`, embedded in the binary (scripts/embed-web-page
/// writes them into WebPageFiles.swift), served from memory.
///
/// `index.html` answers `/`; every other file answers under `/ui/<hash>/`, where `<hash>` is a digest of all the
/// files, so a browser may keep them for a year and still never runs a page older than the console it talks to
/// (index.html, which names the prefix through its `%ASSETS%` placeholder, is revalidated every time). Each answer
/// carries a strict Content-Security-Policy and is gzipped when the browser accepts it.
public struct WebPage: Sendable {
    /// One file, ready to send.
    struct Asset: Sendable {
        var contentType: String
        var body: ByteBuffer
        /// `nil` when gzip would not make it smaller.
        var gzipped: ByteBuffer?
    }

    /// The policy every answer of the page carries: only this console's own scripts, styles and connections.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// `/ui/<hash>`.
    let prefix: String
    let index: Asset?
    /// By path relative to Web/.
    let assets: [String: Asset]

    /// The page built into this binary.
    public static let embedded = WebPage(
        files: WebPageFiles.files.map { file in (file.path, Array(Data(base64Encoded: file.base64) ?? Data())) }
    )

    init(files: [(path: String, contents: [UInt8])]) {
        var digest = SHA256()
        for file in files.sorted(by: { $0.path < $1.path }) {
            digest.update(data: Array(file.path.utf8) + [0])
            digest.update(data: Array("\(file.contents.count)".utf8) + [0])
            digest.update(data: file.contents)
        }
        let hash = digest.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
        let prefix = "/ui/\(hash)"
        self.prefix = prefix
        var index: Asset?
        var assets: [String: Asset] = [:]
        for file in files {
            if file.path == "index.html" {
                let html = String(decoding: file.contents, as: UTF8.self).replacingOccurrences(
                    of: "%ASSETS%",
                    with: prefix
                )
                index = Self.asset(path: file.path, contents: Array(html.utf8))
            } else {
                assets[file.path] = Self.asset(path: file.path, contents: file.contents)
            }
        }
        self.index = index
        self.assets = assets
    }

    private static func asset(path: String, contents: [UInt8]) -> Asset {
        let body = ByteBuffer(bytes: contents)
        var source = body
        let gzipped = try? source.compress(with: .gzip())
        return Asset(
            contentType: Self.contentType(of: path),
            body: body,
            gzipped: gzipped.flatMap { $0.readableBytes < body.readableBytes ? $0 : nil }
        )
    }

    static func contentType(of path: String) -> String {
        switch path.split(separator: ".").last.map({ $0.lowercased() }) {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "txt": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
    }

    /// Adds `GET /`, `GET /ui/<hash>/…` and `GET /favicon.ico` (no icon: an empty answer, not a 404 in the
    /// browser's log).
    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { request, _ in
            guard let index = self.index else { throw HTTPError(.notFound, message: "this console has no web page") }
            return Self.response(index, request: request, cache: "no-cache")
        }
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("/ui/:hash/**") { request, context in
            let hash = try context.parameters.require("hash")
            let path = context.parameters.getCatchAll().joined(separator: "/")
            guard "/ui/\(hash)" == self.prefix, let asset = self.assets[path] else {
                // An old page asking for files this console no longer has: the reload gets the new ones.
                throw HTTPError(.notFound, message: "no such file of the web page (reload the page)")
            }
            return Self.response(asset, request: request, cache: "public, max-age=31536000, immutable")
        }
    }

    static func response(_ asset: Asset, request: Request, cache: String) -> Response {
        var headers: HTTPFields = [
            .contentType: asset.contentType,
            .cacheControl: cache,
            .vary: "Accept-Encoding",
            .contentSecurityPolicy: Self.contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
            .xFrameOptions: "DENY",
        ]
        var body = asset.body
        if let gzipped = asset.gzipped, Self.acceptsGzip(request.headers[.acceptEncoding]) {
            headers[.contentEncoding] = "gzip"
            body = gzipped
        }
        headers[.contentLength] = "\(body.readableBytes)"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// Whether an `Accept-Encoding` value accepts gzip (`gzip`, `gzip;q=0.5`, `*`; not `gzip;q=0`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.lowercased().split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if quality > 0 { return true }
        }
        return false
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xCSRFToken = Self("X-CSRF-Token")!
}
