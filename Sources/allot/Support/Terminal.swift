import Foundation

/// Output to the terminal, and failures that end a command with a status and a message.
enum Terminal {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    static func print(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// A command failure: the message goes to standard error, the status is the exit code.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var status: Int32 = 1

    var description: String { message }

    init(message: String, status: Int32 = 1) {
        self.message = message
        self.status = status
    }

    init(_ message: String) {
        self.message = message
    }
}

