/// The body of every error answer: the reason, and for an invalid site every issue with its path.
struct ErrorBody: Encodable {
    struct Issue: Encodable {
        var path: String
        var message: String
    }

    var error: String
    var issues: [Issue]?
}
