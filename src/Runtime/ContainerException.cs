using MiniDocker.Linux;

namespace MiniDocker.Runtime;

/// <summary>A user-facing failure of the runtime: a one-line message and the exit code Docker would give.</summary>
public class ContainerException(string message, int exitCode = ExitCodes.RuntimeError, Exception? inner = null)
    : MiniDockerException(message, exitCode, inner);
