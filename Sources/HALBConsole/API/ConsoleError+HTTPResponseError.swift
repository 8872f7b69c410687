import HALBCore
import HALBWire
import HTTPTypes
import Hummingbird

/// Every refusal of the console is an answer: its status, and an ``ErrorBody`` (with `WWW-Authenticate` on 401,
/// `Retry-After` on 429).
extension ConsoleError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: self.statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let issues = self.issues.map { ErrorBody.Issue(path: $0.path, message: $0.message) }
        var response = try ConsoleAPI.json(
            ErrorBody(error: self.description, issues: issues.isEmpty ? nil : issues),
            status: HTTPResponse.Status(code: self.statusCode)
        )
        if self.statusCode == 401 { response.headers[.wwwAuthenticate] = "Bearer realm=\"halb\"" }
        if let seconds = self.retryAfter { response.headers[.retryAfter] = "\(seconds)" }
        return response
    }
}
