public import AllotHTTP

/// Starts `server.run()` in a task and waits until its loops run. Tests then talk to it with
/// blocking sockets, which would starve the cooperative pool before `run()` got a thread.
public func startRunning(_ server: HTTPServer) async throws -> Task<Void, any Error> {
    let task = Task { try await server.run() }
    while !server.isRunning { try await Task.sleep(for: .milliseconds(1)) }
    return task
}
