/// A failure of an admin command, printed as `halb: <message>`.
public struct ClientError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
