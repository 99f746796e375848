namespace MiniDocker.Runtime;

/// <summary>A user-facing failure: a one-line message and the exit code Docker would give
/// (125 runtime error, 126 cannot execute, 127 not found).</summary>
public class ContainerException(string message, int exitCode = ExitCodes.RuntimeError, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

public static class ExitCodes
{
    public const int RuntimeError = 125, CannotExecute = 126, NotFound = 127;
}
