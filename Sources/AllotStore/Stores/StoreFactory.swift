public import Logging

extension StoreLocation {
    /// The store at this location: a ``LocalStore`` for a folder, an ``S3Store`` for a bucket.
    /// - Parameters:
    ///   - credentials: for S3; nil sends anonymous requests.
    ///   - transport: for S3; one shared ``CurlTransport`` is best for many stores (it pools connections).
    public func open(
        credentials: AWSCredentials?, configuration: S3Configuration = S3Configuration(), transport: (any HTTPTransport)? = nil,
        logger: Logger
    ) -> any ObjectStore {
        switch self {
        case .local(let path):
            return LocalStore(root: path)
        case .s3(let location):
            return S3Store(location, credentials: credentials, configuration: configuration, transport: transport, logger: logger)
        }
    }
}
