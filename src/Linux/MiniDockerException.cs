namespace MiniDocker.Linux;

/// <summary>
/// Every failure a user sees: one line of text and the exit code Docker gives for it (125 runtime error,
/// 126 cannot execute, 127 not found). Each subsystem derives its own type; the CLI's Program is the one place
/// that turns it into the printed line.
/// </summary>
public class MiniDockerException(string message, int exitCode = ExitCodes.RuntimeError, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

public static class ExitCodes
{
    public const int RuntimeError = 125, CannotExecute = 126, NotFound = 127;
}
