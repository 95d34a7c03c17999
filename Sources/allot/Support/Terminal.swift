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

/// A command failure: `error: MESSAGE` on standard error, and the exit status from the table.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var status: ExitStatus

    var description: String { message }

    init(message: String, status: ExitStatus) {
        self.message = message
        self.status = status
    }
}
